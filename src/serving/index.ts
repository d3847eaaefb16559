export { createServing, executionProviders, type Serving, type ServingDeps } from './serving.wiring.js';
export { parseDeploymentSpec, type DeploymentSpec } from './deployment-spec.js';
export { deploymentDocument } from './deployment-yaml.js';
export type { StoredDeployment, DeploymentEvent, RolloutState } from './deployment-types.js';
export { LATENCY_BOUNDS_MS, SERVER_FAULTS } from './usage-meter.js';
