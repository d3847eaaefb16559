// Pipelines: files describing ML workflows, and their runs on this machine, Kubernetes or workers.
export { createPipelines, stepServerUrl, type Pipelines, type PipelinesDeps } from './pipelines.wiring.js';
export { PipelinesService } from './pipelines.service.js';
export { PipelinesSql } from './pipelines.sql.js';
export type { PipelineRunRow, StepRow, RunStatus } from './types.js';
