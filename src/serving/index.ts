export { createServing, type Serving, type ServingDeps } from './serving.wiring.js';
export { parseDeploymentSpec, deploymentDocument, type DeploymentSpec } from './deployment-spec.js';
export type { StoredDeployment, DeploymentEvent, RolloutState } from './deployment-types.js';
