export { ArtifactService, checkArtifactPath, proxiedRoot, type ArtifactFile } from './artifacts.service.js';
export { artifactRoutes } from './artifacts.routes.js';
export { MultipartUploads, UPLOADS_PREFIX, type CompletedPart } from './multipart.js';
export { multipartRoutes } from './multipart.routes.js';
export { artifactAccess } from './artifacts.routes.js';
export { withPins, type PinCheck } from './pins.js';
export { collectGarbage, DATASET_UPLOADS_PREFIX, DEFAULT_GC_GRACE_MS, type GcOptions, type GcReferences, type GcRemoval, type GcReport } from './gc.js';
