export {
  authorize, whyDenied, minimumRole, roleIn, strongerRole, ANONYMOUS, LOCAL_ADMIN, ACTIONS, ROLES, SCOPES,
  type Action, type Principal, type Resource, type Role, type Scope,
} from './authorize.js';
export { AccessSql } from './access.sql.js';
export { AccessService, DEFAULT_PROJECT, type ProjectRef, type NewToken } from './access.service.js';
export { Authenticator, credentialsOf, type Credentials, type LockoutPolicy } from './authenticate.js';
export { AuditLog, auditedDb, runAudited, noteAuditBefore, outsideAudit, type AuditRecord } from './audit.js';
export { verifyChain, hashEvent, GENESIS_HASH, type AuditEvent, type ChainVerdict } from './audit-chain.js';
export { KeyRing } from './secret-cipher.js';
export { SecretStore, type SecretInfo } from './secrets.js';
export { OidcVerifier, parseGroupRules } from './oidc.js';
export { OidcLogin } from './oidc-login.js';
export { accessRoutes } from './access.routes.js';
export type { Account, Membership, Project, TokenInfo } from './types.js';
export { UrlSigner } from './url-signer.js';
