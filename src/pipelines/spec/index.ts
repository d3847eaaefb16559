// Pipeline files: reading, checking and planning them, with no I/O and no state.
export type * from './types.js';
export { parsePipeline, assertValidPipeline, formatPipelineErrors, PIPELINE_KEYS, PARAM_KEYS, PARAM_TYPES, MAX_STEPS } from './parse.js';
export { STEP_KEYS, OUTPUTS_KEYS, RETRY_KEYS, RESOURCES_KEYS, CACHE_KEYS, MATRIX_OPTIONS } from './step.js';
export { dependencies, edges, cycles, validateGraph, topologicalOrder, mermaid, type Edge, type GraphCheckOptions } from './graph.js';
export { parseExpression, referencedPaths, evaluate, evaluateCondition, tryEvaluate, typeName, ExpressionError, MAX_EXPRESSION_LENGTH, type Expr, type BinaryOp, type Value, type ReferencedPath } from './expr.js';
export { expandMatrix, matrixSize, matrixTooLarge, instanceName, instanceParams, combineResults, conditionContext, MAX_MATRIX_INSTANCES, type MatrixInstance } from './matrix.js';
export { coerceParam, parseOverride, resolveParams, fitsParam, expectedValue, type ParamRule } from './params.js';
export { parseReference, scanTemplate, resolveReference, renderTemplate, REFERENCE_PATTERN, type TemplateReference, type DatasetValues } from './refs.js';
export { parseDuration, parseCpu, parseMemory, DURATION_PATTERN, CPU_PATTERN, MEMORY_PATTERN } from './units.js';
export { readTriggers, TRIGGER_KINDS, TRIGGER_KEYS, SEVERITIES, type TriggerSpec } from './triggers.js';
