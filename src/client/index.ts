export { CapstanClient, CapstanError, type ClientOptions, type WireExperiment, type WireRun, type WireRunInfo, type WireMetric, type SearchRunsRequest, type WireGcReport } from './client.js';
export type { WireAccount, WireAuditEvent, WireAuditVerdict, WireProject, WireSecret, WireToken, NewTokenRequest } from './access.client.js';
export type {
  NewModelVersionRequest, RegistrySearchRequest, WireGateCheck, WireGateResult, WireModelCard, WireModelEvent, WireModelVersion, WireModelVersionDetail,
  WirePolicy, WireRegisteredModel, WireSigningKey, WireTensorSpec, WireVerifyReport,
} from './registry.client.js';
export {
  DATASET_ACCESS_LEVELS, DATASET_FORMATS, type DatasetAccessLevel, type DatasetFormat, type RegisterDatasetRequest, type WireColumnProfile, type WireDatasetVersion,
  type WireLineageGraph, type WireLineageNode,
} from './datasets.client.js';
export * from './serving.client.js';
export * from './monitoring.client.js';
export * from './pipelines.client.js';
