// Evaluate: takes every candidate the train step made (one per learning rate), keeps the one with
// the best validation AUC, and measures it on the held-out test rows by running its ONNX file with
// onnxruntime — the same runtime that serves it. Also per-slice metrics (tumours with a mean radius
// below and above the median) as a fairness check, and a model card for the registry.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { binaryMetrics, parseNumericCsv, sliceMetrics } from 'capstan/ml';
import { flags, report } from './common.mjs';

const f = flags(['data', 'models', 'scores', 'out']);
const list = (v) => (v.trim().startsWith('[') ? JSON.parse(v) : [v]);
const dirs = list(f.models);
const scores = list(f.scores).map(Number);
const best = scores.reduce((b, s, i) => (s > scores[b] ? i : b), 0);
console.log(`candidates: ${dirs.map((d, i) => `#${i} val_auc=${scores[i]}`).join(', ')}; keeping #${best}`);

const table = parseNumericCsv(readFileSync(f.data, 'utf8'));
const { test } = JSON.parse(readFileSync(join(dirs[best], 'split.json'), 'utf8'));
const features = table.columns.length - 1;
const rows = test.map((i) => table.rows[i]);
const session = await ort.InferenceSession.create(join(dirs[best], 'model.onnx'));
const input = new ort.Tensor('float32', Float32Array.from(rows.flatMap((r) => r.slice(0, features))), [rows.length, features]);
const out = await session.run({ input });
const probs = out.probabilities.data;
const p1 = rows.map((_, i) => probs[2 * i + 1]);
const predicted = Array.from(out.label.data, Number);
const labels = rows.map((r) => r[features]);
const overall = binaryMetrics(labels, predicted, p1);

const radius = table.columns.indexOf('mean_radius');
const radii = rows.map((r) => r[radius]).sort((a, b) => a - b);
const median = radii[Math.floor(radii.length / 2)];
const slices = sliceMetrics(labels, predicted, p1, (i) => (rows[i][radius] < median ? 'mean_radius<median' : 'mean_radius>=median'));

mkdirSync(f.out, { recursive: true });
copyFileSync(join(dirs[best], 'model.onnx'), join(f.out, 'model.onnx'));
const evaluation = { candidate: best, test_rows: rows.length, ...overall, slices: slices.slices, worst_slice_f1: slices.worstF1, slice_f1_gap: slices.f1Gap };
writeFileSync(join(f.out, 'eval.json'), JSON.stringify(evaluation, null, 2));
const pct = (v) => `${(100 * v).toFixed(1)}%`;
writeFileSync(join(f.out, 'card.json'), JSON.stringify({
  description: 'Logistic regression on 30 cell-nucleus measurements (standardization inside the ONNX graph).',
  intended_use: 'An example of Capstan pipelines: ranking fine-needle aspirate measurements for review. Not for clinical use.',
  training_data: `Breast Cancer Wisconsin (Diagnostic), UCI (CC BY 4.0): 569 rows; ${table.rows.length - rows.length} for training, ${rows.length} held out (seed ${JSON.parse(readFileSync(join(dirs[best], 'split.json'), 'utf8')).seed}).`,
  metrics_summary: `Held-out: accuracy ${pct(overall.accuracy)}, F1 ${pct(overall.f1)}, ROC AUC ${overall.roc_auc.toFixed(3)} (class 1 = benign).`,
  limitations: 'One small dataset from one institution; the classes are imbalanced (63% benign); no calibration check.',
  fairness: Object.entries(slices.slices).map(([k, m]) => `${k}: F1 ${pct(m.f1)} on ${m.rows} rows`).join('; ') + `; gap ${pct(slices.f1Gap)}.`,
}, null, 2));
console.log(`test rows ${rows.length}: accuracy ${overall.accuracy.toFixed(4)}, F1 ${overall.f1.toFixed(4)}, ROC AUC ${overall.roc_auc.toFixed(4)}, worst slice F1 ${slices.worstF1.toFixed(4)}`);
report({ accuracy: overall.accuracy, f1: overall.f1, roc_auc: overall.roc_auc, worst_slice_f1: slices.worstF1, slice_f1_gap: slices.f1Gap });
await session.release();
