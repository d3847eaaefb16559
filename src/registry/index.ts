export * from './types.js';
export { RegistryService, type VerifyReport, type NewVersionRequest } from './registry.service.js';
export { PromotionService, type RunDatasets } from './promotion.js';
export { PolicyService, type RetentionRules } from './policy.service.js';
export { SigningKeys, type SigningKeySource } from './signing.js';
export { registryRoutes } from './registry.routes.js';
export { governanceRoutes } from './governance.routes.js';
export { manifestDigest } from './manifest.js';
