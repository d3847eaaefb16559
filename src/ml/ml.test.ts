// The ML helpers: a classifier trained on the breast-cancer data, exported to ONNX and run with
// onnxruntime — its probabilities equal the TypeScript model's — and metrics that agree with
// hand-worked cases (and with scikit-learn where python3 has it).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { binaryMetrics, logisticToOnnx, parseNumericCsv, predictProba, rocAuc, sliceMetrics, trainLogistic, trainTestSplit } from './index.js';

const CSV = join(import.meta.dirname, '..', '..', 'examples', 'tabular-classifier', 'data', 'breast_cancer.csv');

function cancer() {
  const t = parseNumericCsv(readFileSync(CSV, 'utf8'));
  const x = t.rows.map((r) => r.slice(0, -1));
  const y = t.rows.map((r) => r[r.length - 1]);
  return { features: t.columns.slice(0, -1), x, y };
}

const python = (code: string): string | null => {
  const r = spawnSync('/usr/bin/python3', ['-c', code], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout : null;
};

describe('ml helpers', () => {
  it('trains on the cancer data, exports ONNX that onnxruntime runs to the same probabilities', async () => {
    const { features, x, y } = cancer();
    assert.equal(x.length, 569);
    const split = trainTestSplit(x.length, 0.2, 42);
    assert.equal(split.test.length, 114);
    const model = trainLogistic(split.train.map((i) => x[i]), split.train.map((i) => y[i]), { features, classes: ['malignant', 'benign'] });
    const testX = split.test.map((i) => x[i]);
    const testY = split.test.map((i) => y[i]);
    const p = predictProba(model, testX);
    const m = binaryMetrics(testY, p.map((v) => (v >= 0.5 ? 1 : 0)), p);
    assert.ok(m.accuracy >= 0.93, `accuracy ${m.accuracy}`);
    assert.ok(m.roc_auc! >= 0.97, `auc ${m.roc_auc}`);

    const bytes = logisticToOnnx(model, '1.0');
    const session = await InferenceSession.create(bytes);
    assert.deepEqual(session.inputNames, ['input']);
    assert.deepEqual(session.outputNames, ['probabilities', 'label']);
    const out = await session.run({ input: new Tensor('float32', Float32Array.from(testX.flat()), [testX.length, features.length]) });
    const probs = out.probabilities.data as Float32Array;
    const labels = out.label.data as BigInt64Array;
    for (let i = 0; i < testX.length; i++) {
      assert.ok(Math.abs(probs[2 * i + 1] - p[i]) < 1e-5, `row ${i}: ${probs[2 * i + 1]} vs ${p[i]}`);
      assert.ok(Math.abs(probs[2 * i] + probs[2 * i + 1] - 1) < 1e-6);
      assert.equal(Number(labels[i]), probs[2 * i + 1] > probs[2 * i] ? 1 : 0);
    }
    await session.release();

    // The file passes ONNX's own checker where python3 has the onnx package.
    const dir = mkdtempSync(join(tmpdir(), 'capstan-onnx-'));
    try {
      writeFileSync(join(dir, 'm.onnx'), bytes);
      const checked = python(`import onnx; m = onnx.load(${JSON.stringify(join(dir, 'm.onnx'))}); onnx.checker.check_model(m, full_check=True); print(m.opset_import[0].version, {p.key: p.value for p in m.metadata_props}['model'])`);
      if (checked === null) console.log('# python3 with onnx not available: ONNX checker cross-check skipped');
      else assert.equal(checked.trim(), '17 logistic_regression');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('computes metrics as scikit-learn does, ties in ROC AUC at half weight', () => {
    assert.equal(rocAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 0.75);
    assert.equal(rocAuc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]), 0.5);
    assert.equal(rocAuc([1, 1], [0.2, 0.3]), null);
    const m = binaryMetrics([1, 1, 0, 0, 1], [1, 0, 0, 1, 1]);
    assert.deepEqual(m.confusion, { tn: 1, fp: 1, fn: 1, tp: 2 });
    assert.equal(m.precision, 2 / 3);
    assert.equal(m.recall, 2 / 3);
    assert.equal(m.f1, 2 / 3);
    assert.equal(binaryMetrics([0, 0], [0, 0]).f1, 0);
    const s = sliceMetrics([1, 1, 0, 0], [1, 0, 0, 0], [0.9, 0.4, 0.1, 0.2], (i) => (i < 2 ? 'a' : 'b'));
    assert.deepEqual(Object.keys(s.slices), ['a', 'b']);
    assert.equal(s.worstF1, 0);
    assert.equal(s.f1Gap, 2 / 3);
    const labels = [0, 1, 1, 0, 1, 0, 1, 1, 0, 0];
    const scores = [0.1, 0.8, 0.6, 0.6, 0.3, 0.2, 0.9, 0.6, 0.7, 0.05];
    const sk = python(`from sklearn.metrics import roc_auc_score, f1_score; y=${JSON.stringify(labels)}; s=${JSON.stringify(scores)}; print(repr(roc_auc_score(y, s)), repr(f1_score(y, [int(v >= 0.5) for v in s])))`);
    if (sk === null) console.log('# python3 with scikit-learn not available: cross-check skipped');
    else {
      const [auc, f1] = sk.trim().split(' ').map(Number);
      assert.equal(rocAuc(labels, scores), auc);
      assert.equal(binaryMetrics(labels, scores.map((v) => (v >= 0.5 ? 1 : 0))).f1, f1);
    }
  });

  it('reads numeric CSV and refuses a bad value with its line and column', () => {
    assert.deepEqual(parseNumericCsv('a,b\n1,2\n3,4\n'), { columns: ['a', 'b'], rows: [[1, 2], [3, 4]] });
    assert.throws(() => parseNumericCsv('a,b\n1,x\n'), /line 2, column b: "x" is not a number/);
    assert.throws(() => parseNumericCsv('a,b\n1\n'), /line 2: 1 values, the header has 2/);
    assert.throws(() => trainLogistic([[1], [2]], [1, 1], { features: ['a'], classes: ['n', 'y'] }), /only one class/);
  });
});
