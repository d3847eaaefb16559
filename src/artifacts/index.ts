export { ArtifactService, checkArtifactPath, proxiedRoot, type ArtifactFile } from './artifacts.service.js';
export { artifactRoutes } from './artifacts.routes.js';
