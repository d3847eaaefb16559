export * from './types.js';
export { DatasetService, DATASETS_PREFIX, type RunDataset } from './datasets.service.js';
export { datasetRoutes } from './datasets.routes.js';
export { Lineage, lineageMermaid, type LineageGraph } from './lineage.js';
export { ProfileBuilder, type DatasetProfile } from './profile.js';
