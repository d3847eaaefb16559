// A binary logistic-regression classifier for tabular data: features standardized, the model
// trained by gradient descent with mljs' ml-logistic-regression (an intercept as a column of ones),
// exported to ONNX with standard operators only, so Capstan serves it like any other model.
import { Matrix } from 'ml-matrix';
import LogisticRegression from 'ml-logistic-regression';
import { encodeOnnx } from './onnx-writer.js';

export interface TrainOptions {
  /** Gradient steps (full batch). */
  steps?: number;
  learningRate?: number;
}

export interface LogisticModel {
  features: string[];
  classes: [string, string];
  mean: number[];
  std: number[];
  /** Weight per standardized feature for the log-odds of class 1, then the intercept. */
  weights: number[];
  intercept: number;
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** Column means and standard deviations (a constant column gets 1, so it scales to 0). */
export function standardizer(rows: readonly number[][]): { mean: number[]; std: number[] } {
  const d = rows[0]?.length ?? 0;
  const mean = new Array<number>(d).fill(0);
  const std = new Array<number>(d).fill(0);
  for (const r of rows) for (let j = 0; j < d; j++) mean[j] += r[j] / rows.length;
  for (const r of rows) for (let j = 0; j < d; j++) std[j] += (r[j] - mean[j]) ** 2 / rows.length;
  return { mean, std: std.map((v) => (v > 0 ? Math.sqrt(v) : 1)) };
}

export function trainLogistic(rows: readonly number[][], labels: readonly number[], names: { features: string[]; classes: [string, string] }, opts: TrainOptions = {}): LogisticModel {
  if (rows.length === 0 || rows.length !== labels.length) throw new Error(`need as many labels as rows (got ${rows.length} rows, ${labels.length} labels)`);
  if (labels.some((y) => y !== 0 && y !== 1)) throw new Error('labels must be 0 or 1');
  if (new Set(labels).size < 2) throw new Error('the training rows hold only one class');
  const { mean, std } = standardizer(rows);
  const x = new Matrix(rows.map((r) => [...r.map((v, j) => (v - mean[j]) / std[j]), 1]));
  const lr = new LogisticRegression({ numSteps: opts.steps ?? 2000, learningRate: opts.learningRate ?? 5e-4 });
  lr.train(x, Matrix.columnVector([...labels]));
  // One-vs-all: classifier 1 scores "not class 1", so class 1's log-odds are the negated weights.
  const w = (lr.classifiers[1].weights as Matrix).to1DArray().map((v) => -v);
  return { features: names.features, classes: names.classes, mean, std, weights: w.slice(0, -1), intercept: w[w.length - 1] };
}

/** P(class 1) for each row. */
export function predictProba(m: LogisticModel, rows: readonly number[][]): number[] {
  return rows.map((r) => sigmoid(r.reduce((s, v, j) => s + ((v - m.mean[j]) / m.std[j]) * m.weights[j], m.intercept)));
}

/**
 * The model as ONNX (opset 17): `input` float [N, F] → `probabilities` float [N, 2] (class 0, class 1)
 * and `label` int64 [N]. Standardization is inside the graph, so it takes raw features.
 */
export function logisticToOnnx(m: LogisticModel, version = ''): Buffer {
  const f = m.features.length;
  return encodeOnnx({
    graphName: 'logistic_regression',
    producer: { name: 'capstan', version },
    initializers: [
      { name: 'mean', type: 'FLOAT', dims: [f], values: m.mean },
      { name: 'std', type: 'FLOAT', dims: [f], values: m.std },
      { name: 'weights', type: 'FLOAT', dims: [f, 1], values: m.weights },
      { name: 'intercept', type: 'FLOAT', dims: [1], values: [m.intercept] },
      { name: 'one', type: 'FLOAT', dims: [1], values: [1] },
    ],
    nodes: [
      { op: 'Sub', inputs: ['input', 'mean'], outputs: ['centered'] },
      { op: 'Div', inputs: ['centered', 'std'], outputs: ['scaled'] },
      { op: 'MatMul', inputs: ['scaled', 'weights'], outputs: ['product'] },
      { op: 'Add', inputs: ['product', 'intercept'], outputs: ['logit'] },
      { op: 'Sigmoid', inputs: ['logit'], outputs: ['p1'] },
      { op: 'Sub', inputs: ['one', 'p1'], outputs: ['p0'] },
      { op: 'Concat', inputs: ['p0', 'p1'], outputs: ['probabilities'], attributes: { axis: 1 } },
      { op: 'ArgMax', inputs: ['probabilities'], outputs: ['label'], attributes: { axis: 1, keepdims: 0 } },
    ],
    inputs: [{ name: 'input', type: 'FLOAT', shape: ['N', f] }],
    outputs: [
      { name: 'probabilities', type: 'FLOAT', shape: ['N', 2] },
      { name: 'label', type: 'INT64', shape: ['N'] },
    ],
    metadata: { features: JSON.stringify(m.features), classes: JSON.stringify(m.classes), model: 'logistic_regression' },
  });
}
