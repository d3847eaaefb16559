// Small ML helpers for pipeline steps and examples: a logistic-regression classifier exported to
// ONNX, classification metrics, and numeric CSV tables. Imported as `capstan/ml`.
export { encodeOnnx, TensorType, type OnnxModel, type OnnxNode, type Tensor, type ValueInfo } from './onnx-writer.js';
export { trainLogistic, predictProba, logisticToOnnx, standardizer, type LogisticModel, type TrainOptions } from './logistic.js';
export { binaryMetrics, rocAuc, sliceMetrics, type BinaryMetrics } from './metrics.js';
export { parseNumericCsv, trainTestSplit, type Table } from './tabular.js';
