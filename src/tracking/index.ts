export * from './types.js';
export { TrackingService, defaultArtifactLocation, type TrackingOptions, type SearchRequest } from './tracking.service.js';
export { SqlTrackingStore } from './tracking.sql.js';
export type { TrackingStore } from './tracking.store.js';
export { trackingRoutes } from './tracking.routes.js';
export { onRuns, onExperiments, inProject, runIdsOf } from './resources.js';
