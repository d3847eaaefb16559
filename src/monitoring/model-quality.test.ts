// Model-quality metrics against test/fixtures/quality/quality_expected.json (written by
// make_quality_expected.py and checked there against scikit-learn) and by hand.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  classificationQuality,
  regressionQuality,
  rocAuc,
  type ClassLabel,
  type ClassificationQuality,
  type RegressionQuality,
} from './model-quality.js';

interface ClassificationCase {
  name: string;
  actual: ClassLabel[];
  predicted: ClassLabel[];
  scores?: number[];
  positive_label?: ClassLabel;
  expected: ClassificationQuality;
}

interface RegressionCase {
  name: string;
  actual: number[];
  predicted: number[];
  expected: RegressionQuality;
}

const FIXTURE = new URL('../../test/fixtures/quality/quality_expected.json', import.meta.url);
const fixture = JSON.parse(readFileSync(FIXTURE, 'utf8')) as {
  relative_tolerance: number;
  classification: ClassificationCase[];
  regression: RegressionCase[];
};
const REL = 1e-12;

/** Numbers within 1e-12 relative (exactly when 0), everything else deeply equal. */
function assertClose(got: unknown, exp: unknown, path: string): void {
  if (typeof exp === 'number') {
    assert.equal(typeof got, 'number', `${path}: got ${String(got)}`);
    const ok = exp === 0 ? got === 0 : Math.abs((got as number) - exp) <= REL * Math.abs(exp);
    assert.ok(ok, `${path}: got ${String(got)}, expected ${exp}`);
  } else if (Array.isArray(exp)) {
    assert.ok(Array.isArray(got) && got.length === exp.length, `${path}: length differs`);
    exp.forEach((e, i) => assertClose((got as unknown[])[i], e, `${path}[${i}]`));
  } else if (exp !== null && typeof exp === 'object') {
    assert.deepEqual(Object.keys(got as object).sort(), Object.keys(exp).sort(), `${path}: keys`);
    for (const [k, e] of Object.entries(exp)) assertClose((got as Record<string, unknown>)[k], e, `${path}.${k}`);
  } else {
    assert.equal(got, exp, path);
  }
}

describe('model quality against scikit-learn-checked fixtures', () => {
  it('uses the tolerance the generator checked against', () => {
    assert.equal(fixture.relative_tolerance, REL);
    assert.ok(fixture.classification.length >= 8 && fixture.regression.length >= 4);
  });

  for (const c of fixture.classification) {
    it(`classification: ${c.name}`, () => {
      const got = classificationQuality({
        actual: c.actual,
        predicted: c.predicted,
        scores: c.scores,
        positiveLabel: c.positive_label,
      });
      assertClose(got, c.expected, c.name);
    });
  }

  for (const c of fixture.regression) {
    it(`regression: ${c.name}`, () => {
      assertClose(regressionQuality({ actual: c.actual, predicted: c.predicted }), c.expected, c.name);
    });
  }
});

describe('model quality by hand', () => {
  it('binary: confusion matrix, scores, AUC with tied scores', () => {
    const q = classificationQuality({
      actual: ['no', 'no', 'yes', 'yes', 'yes'],
      predicted: ['no', 'yes', 'yes', 'yes', 'no'],
      scores: [0.2, 0.6, 0.6, 0.9, 0.1],
    });
    assert.deepEqual(q.labels, ['no', 'yes']);
    assert.equal(q.positive_label, 'yes');
    assert.deepEqual(q.confusion_matrix, [
      [1, 1],
      [1, 2],
    ]);
    assert.equal(q.accuracy, 3 / 5);
    assert.equal(q.precision, 2 / 3);
    assert.equal(q.recall, 2 / 3);
    assert.equal(q.f1, 2 / 3);
    // pairs (pos, neg): 0.6>0.2, 0.6=0.6 (½), 0.9>0.2, 0.9>0.6, 0.1<both → 3.5 of 6
    assert.equal(q.roc_auc, 3.5 / 6);
    assert.equal(rocAuc([true, false], [0.5, 0.5]), 0.5);
  });

  it('multiclass: macro average over every class seen, zero when a class is never predicted', () => {
    const q = classificationQuality({ actual: [1, 2, 3, 3], predicted: [1, 2, 2, 3] });
    assert.equal(q.average, 'macro');
    assert.equal(q.positive_label, null);
    assert.deepEqual(
      q.per_class.map((c) => [c.label, c.precision, c.recall, c.support]),
      [
        [1, 1, 1, 1],
        [2, 0.5, 1, 1],
        [3, 1, 0.5, 2],
      ],
    );
    assert.equal(q.precision, 2.5 / 3);
    assert.equal(q.roc_auc, null);
    const missing = classificationQuality({ actual: ['a', 'b', 'c'], predicted: ['a', 'a', 'a'] });
    assert.deepEqual(
      missing.per_class.map((c) => c.precision),
      [1 / 3, 0, 0],
    );
  });

  it('sorts numbers numerically and strings by code point', () => {
    assert.deepEqual(classificationQuality({ actual: [10, 9, 100], predicted: [9, 9, 9] }).labels, [9, 10, 100]);
    assert.deepEqual(classificationQuality({ actual: ['b', 'B', 'é'], predicted: ['b', 'b', 'b'] }).labels, ['B', 'b', 'é']);
  });

  it('log loss clips probabilities of exactly 0 and 1, and is null for logits', () => {
    const q = classificationQuality({ actual: [1, 0], predicted: [0, 1], scores: [0, 1] });
    assert.equal(q.log_loss, -Math.log(Number.EPSILON));
    assert.equal(classificationQuality({ actual: [1, 0], predicted: [1, 0], scores: [2.5, -1] }).log_loss, null);
  });

  it('handles no rows and rejects malformed input', () => {
    const empty = classificationQuality({ actual: [], predicted: [] });
    assert.equal(empty.count, 0);
    assert.equal(empty.accuracy, null);
    assert.equal(empty.f1, null);
    assert.throws(() => classificationQuality({ actual: [1, 0], predicted: [1] }), /1 values for 2 rows/);
    assert.throws(() => classificationQuality({ actual: [1, '0'], predicted: [1, 0] }), /not a mix/);
    assert.throws(() => classificationQuality({ actual: [1], predicted: [1], scores: [Number.NaN] }), /not a finite/);
  });

  it('regression: MAPE skips zero targets, R² is null for a constant target or no rows', () => {
    const q = regressionQuality({ actual: [0, 2, 4], predicted: [1, 1, 5] });
    assert.equal(q.count, 3);
    assert.equal(q.mae, 1);
    assert.equal(q.rmse, 1);
    assert.equal(q.mape, (0.5 + 0.25) / 2);
    assert.equal(q.mape_skipped_zero_targets, 1);
    assert.equal(q.r2, 1 - 3 / 8);
    assert.equal(regressionQuality({ actual: [2, 2], predicted: [2, 2] }).r2, null);
    assert.equal(regressionQuality({ actual: [0, 0], predicted: [1, 1] }).mape, null);
    const empty = regressionQuality({ actual: [], predicted: [] });
    assert.deepEqual(empty, { count: 0, mae: null, rmse: null, mape: null, mape_skipped_zero_targets: 0, r2: null });
    assert.throws(() => regressionQuality({ actual: [Infinity], predicted: [1] }), /not a finite/);
  });
});
