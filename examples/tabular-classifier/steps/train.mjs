// Train: a logistic-regression classifier (mljs' gradient descent, standardized features) on the
// training split, exported to ONNX with Capstan's writer. The held-out test rows are kept aside
// for evaluate; a validation slice of the training rows scores this candidate. Params and metrics
// go to the step's MLflow run; val_auc is reported only that way.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { binaryMetrics, logisticToOnnx, parseNumericCsv, predictProba, trainLogistic, trainTestSplit } from 'capstan/ml';
import { flags, mlflowLog, report } from './common.mjs';

const f = flags(['data', 'out', 'lr', 'steps', 'seed']);
const seed = Number(f.seed ?? 42);
const table = parseNumericCsv(readFileSync(f.data, 'utf8'));
const x = table.rows.map((r) => r.slice(0, -1));
const y = table.rows.map((r) => r[r.length - 1]);
const { train, test } = trainTestSplit(x.length, 0.2, seed);
// A validation slice of the training rows picks between candidates without touching the test rows.
const inner = trainTestSplit(train.length, 0.2, seed + 1);
const fit = inner.train.map((i) => train[i]);
const val = inner.test.map((i) => train[i]);
const options = { learningRate: Number(f.lr ?? 5e-4), steps: Number(f.steps ?? 2000) };
const model = trainLogistic(fit.map((i) => x[i]), fit.map((i) => y[i]), { features: table.columns.slice(0, -1), classes: ['malignant', 'benign'] }, options);
const score = (idx) => {
  const p = predictProba(model, idx.map((i) => x[i]));
  return binaryMetrics(idx.map((i) => y[i]), p.map((v) => (v >= 0.5 ? 1 : 0)), p);
};
const trained = score(fit);
const validated = score(val);
mkdirSync(f.out, { recursive: true });
writeFileSync(join(f.out, 'model.onnx'), logisticToOnnx(model));
writeFileSync(join(f.out, 'split.json'), JSON.stringify({ seed, test }));
writeFileSync(join(f.out, 'model.json'), JSON.stringify(model));
console.log(`trained on ${fit.length} rows (lr ${options.learningRate}, ${options.steps} steps): train accuracy ${trained.accuracy.toFixed(4)}, validation AUC ${validated.roc_auc.toFixed(4)}`);
await mlflowLog({ params: { learning_rate: options.learningRate, steps: options.steps, seed, model: 'logistic_regression' }, metrics: { train_accuracy: trained.accuracy, val_accuracy: validated.accuracy, val_auc: validated.roc_auc } });
report({ train_accuracy: trained.accuracy });
