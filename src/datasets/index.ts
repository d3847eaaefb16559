export * from './types.js';
export { DatasetService, DATASETS_PREFIX, type RunDataset } from './datasets.service.js';
export { datasetRoutes } from './datasets.routes.js';
export { Lineage, lineageMermaid, type LineageGraph, type DeploymentRef, type DeploymentsOf } from './lineage.js';
export { ProfileBuilder, type DatasetProfile } from './profile.js';
