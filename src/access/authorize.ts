import { AppError } from '../errors/index.js';

/** What a route does, declared next to it. `deploy` changes what serves traffic; `admin` manages members, tokens and settings. */
export const ACTIONS = ['read', 'write', 'deploy', 'delete', 'admin'] as const;
export type Action = (typeof ACTIONS)[number];

/** Project roles, weakest first; each grants its own actions and those of the roles before it. */
export const ROLES = ['viewer', 'editor', 'deployer', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Token scopes: each grants its own action plus read; `admin` grants everything. */
export const SCOPES = ['read', 'write', 'deploy', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

const ROLE_ACTIONS: Record<Role, readonly Action[]> = {
  viewer: ['read'],
  editor: ['read', 'write'],
  deployer: ['read', 'write', 'deploy'],
  admin: ACTIONS,
};

const SCOPE_ACTIONS: Record<Scope, readonly Action[]> = {
  read: ['read'],
  write: ['read', 'write'],
  deploy: ['read', 'deploy'],
  admin: ACTIONS,
};

/** The weakest role allowed to perform `action`; what docs/access.md lists per route. */
export function minimumRole(action: Action): Role {
  return ROLES.find((r) => ROLE_ACTIONS[r].includes(action))!;
}

export const strongerRole = (a: Role, b: Role): Role => (ROLES.indexOf(a) >= ROLES.indexOf(b) ? a : b);

export const PRINCIPAL_KINDS = ['local', 'anonymous', 'user', 'robot', 'oidc'] as const;
export type PrincipalKind = (typeof PRINCIPAL_KINDS)[number];

/** Who is asking, as resolved from the request's credentials. Immutable; cached per credential for a short time. */
export interface Principal {
  id: string;
  name: string;
  kind: PrincipalKind;
  /** Server-wide owner: every project, users, audit. */
  isOwner: boolean;
  /** Role per project id; the key '*' applies to every project (OIDC group rules). */
  roles: ReadonlyMap<number | '*', Role>;
  /** Scopes of the API token used; null for credentials that carry the principal's full rights (password, OIDC). */
  scopes: readonly Scope[] | null;
  /** The one project an API token is restricted to, if any. */
  tokenProjectId: number | null;
  tokenId: string | null;
}

/**
 * What a route acts on. `projectId` null means the server itself (users, projects list, audit):
 * only owners act there. A route acting on several objects returns several resources.
 */
export interface Resource {
  kind: 'server' | 'project' | 'experiment' | 'run' | 'artifact' | 'token' | 'secret' | 'member' | 'model' | 'dataset' | 'policy' | 'deployment' | 'monitor' | 'pipeline';
  projectId: number | null;
  id?: string;
}

/** The principal of public routes (probes, sign-in) while authentication is on. It holds no rights. */
export const ANONYMOUS: Principal = Object.freeze({
  id: 'anonymous',
  name: 'anonymous',
  kind: 'anonymous',
  isOwner: false,
  roles: new Map(),
  scopes: [],
  tokenProjectId: null,
  tokenId: null,
});

/** The principal of every request while authentication is off (the embedded, loopback default). */
export const LOCAL_ADMIN: Principal = Object.freeze({
  id: 'local-admin',
  name: 'local-admin',
  kind: 'local',
  isOwner: true,
  roles: new Map(),
  scopes: null,
  tokenProjectId: null,
  tokenId: null,
});

function denial(principal: Principal, action: Action, resource: Resource, why: string): AppError {
  const target = `${resource.kind}${resource.id ? ` '${resource.id}'` : ''}`;
  return new AppError('PERMISSION_DENIED', `${principal.kind} '${principal.name}' may not ${action} ${target}: ${why}.`, {
    details: { action, resource: resource.kind, ...(resource.id ? { id: resource.id } : {}) },
  });
}

/** The reason `principal` may not do `action` on `resource`, or null when it may. */
export function whyDenied(principal: Principal, action: Action, resource: Resource): string | null {
  if (principal.scopes && !principal.scopes.some((s) => SCOPE_ACTIONS[s].includes(action))) {
    return `the token's scopes (${principal.scopes.join(', ')}) do not include ${action}`;
  }
  if (principal.tokenProjectId !== null && resource.projectId !== principal.tokenProjectId) {
    return 'the token is restricted to another project';
  }
  if (principal.isOwner) return null;
  if (resource.projectId === null) return 'only a server owner may do this';
  const role = principal.roles.get(resource.projectId) ?? principal.roles.get('*');
  if (!role) return 'not a member of the project';
  return ROLE_ACTIONS[role].includes(action) ? null : `role ${role} does not allow ${action}`;
}

/**
 * The one permission check. Every route calls it through the server's route wiring (routes cannot be
 * registered without declaring their action and resource). Throws PERMISSION_DENIED.
 */
export function authorize(principal: Principal, action: Action, resources: Resource | readonly Resource[]): void {
  for (const resource of Array.isArray(resources) ? resources : [resources as Resource]) {
    const why = whyDenied(principal, action, resource);
    if (why) throw denial(principal, action, resource, why);
  }
}

/** The role a principal holds in a project (owner counts as admin), or null. */
export function roleIn(principal: Principal, projectId: number): Role | null {
  if (principal.isOwner) return 'admin';
  return principal.roles.get(projectId) ?? principal.roles.get('*') ?? null;
}
