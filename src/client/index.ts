export { CapstanClient, CapstanError, type ClientOptions, type WireExperiment, type WireRun, type WireRunInfo, type WireMetric, type SearchRunsRequest } from './client.js';
export type { WireAccount, WireAuditEvent, WireAuditVerdict, WireProject, WireSecret, WireToken, NewTokenRequest } from './access.client.js';
export type {
  NewModelVersionRequest, RegistrySearchRequest, WireGateCheck, WireGateResult, WireModelCard, WireModelEvent, WireModelVersion, WireModelVersionDetail,
  WirePolicy, WireRegisteredModel, WireSigningKey, WireTensorSpec, WireVerifyReport,
} from './registry.client.js';
