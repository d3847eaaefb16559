export { ArtifactService, checkArtifactPath, proxiedRoot, type ArtifactFile } from './artifacts.service.js';
export { artifactRoutes } from './artifacts.routes.js';
export { MultipartUploads, UPLOADS_PREFIX, type CompletedPart } from './multipart.js';
export { multipartRoutes } from './multipart.routes.js';
export { artifactAccess } from './artifacts.routes.js';
export { withPins, type PinCheck } from './pins.js';
