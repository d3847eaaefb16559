// Model quality over a window: the rows whose ground truth arrived through the feedback API,
// paired with what the model answered.
import { classificationQuality, regressionQuality } from './model-quality.js';
import type { Finding } from './monitor-checks.js';
import type { ModelQualityCheck } from './monitor-spec.js';
import type { Cell, WindowTable } from './window.js';

/** Labelled rows kept per run (the newest); quality over more is a sample of the newest this many. */
export const MAX_PAIRS = 1_000_000;

/** Collects (label, prediction[, score]) pairs page by page; only labelled rows are kept, up to MAX_PAIRS. */
export class LabelledPairs {
  private readonly actual: (string | number)[] = [];
  private readonly predicted: (string | number)[] = [];
  private readonly scores: number[] = [];
  private scored = true;
  private predictionColumn: string | null = null;

  constructor(private readonly check: ModelQualityCheck) {}

  add(t: WindowTable, feedback: Map<string, unknown>): void {
    if (feedback.size === 0) return;
    const predictions = t.columns.filter((c) => c.role === 'prediction');
    const classification = this.check.task === 'classification';
    const label = classification
      ? predictions.find((c) => c.kind === 'categorical' && /(^|\.)label$/.test(c.name)) ?? predictions.find((c) => c.kind === 'categorical')
      : predictions.find((c) => c.kind === 'numerical');
    if (!label) return;
    this.predictionColumn = label.name;
    const score = classification ? predictions.find((c) => c.name === `${label.name}[1]`) ?? predictions.find((c) => c.kind === 'numerical' && c.name.endsWith('[1]')) : undefined;
    for (let r = 0; r < t.rows && this.actual.length < MAX_PAIRS; r++) {
      const fb = feedback.get(t.requestIds[r]);
      if (fb === undefined) continue;
      const truth = Array.isArray(fb) ? fb[t.rowInRequest[r]] : fb;
      const guess: Cell = label.values[r];
      if (truth === null || truth === undefined || guess === null) continue;
      if (classification) {
        this.actual.push(String(truth));
        this.predicted.push(String(guess));
        const s = score?.values[r];
        if (typeof s === 'number') this.scores.push(s);
        else this.scored = false;
      } else {
        const y = Number(truth);
        if (!Number.isFinite(y) || typeof guess !== 'number') continue;
        this.actual.push(y);
        this.predicted.push(guess);
      }
    }
  }

  result(): { finding: Finding | null; section: Record<string, unknown> } {
    const c = this.check;
    const n = this.actual.length;
    if (n < c.minLabels) return { finding: null, section: { labelled_rows: n, min_labels: c.minLabels, evaluated: false, reason: `only ${n} labelled rows in the window (min_labels ${c.minLabels})` } };
    const metrics: Record<string, number | null> = c.task === 'classification'
      ? pick(classificationQuality({ actual: this.actual, predicted: this.predicted, positiveLabel: c.positiveLabel, scores: this.scored && this.scores.length === n ? this.scores : undefined }), ['accuracy', 'precision', 'recall', 'f1', 'roc_auc', 'log_loss'])
      : pick(regressionQuality({ actual: this.actual as number[], predicted: this.predicted as number[] }), ['mae', 'rmse', 'mape', 'r2']);
    const broken: { metric: string; text: string }[] = [];
    for (const [k, min] of Object.entries(c.min)) if (metrics[k] != null && metrics[k]! < min) broken.push({ metric: k, text: `${k} ${fmt(metrics[k])} < ${min}` });
    for (const [k, max] of Object.entries(c.max)) if (metrics[k] != null && metrics[k]! > max) broken.push({ metric: k, text: `${k} ${fmt(metrics[k])} > ${max}` });
    const section = { labelled_rows: n, evaluated: true, task: c.task, prediction_column: this.predictionColumn, metrics };
    return {
      section,
      finding: broken.length ? { rule: 'model_quality', severity: c.severity, value: metrics[broken[0].metric], summary: `Model quality on ${n} labelled rows: ${broken.map((b) => b.text).join(', ')}` } : null,
    };
  }
}

const fmt = (v: number | null | undefined) => (v == null ? 'n/a' : v.toPrecision(4));

function pick(q: object, keys: string[]): Record<string, number | null> {
  const o = q as Record<string, unknown>;
  return Object.fromEntries(keys.map((k) => [k, typeof o[k] === 'number' ? (o[k] as number) : null]));
}
