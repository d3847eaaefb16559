import { AppError } from '../errors/index.js';

export const ACTIONS = ['read', 'write', 'delete', 'admin'] as const;
export type Action = (typeof ACTIONS)[number];

export const PRINCIPAL_KINDS = ['local', 'user', 'robot'] as const;

export interface Principal {
  id: string;
  kind: (typeof PRINCIPAL_KINDS)[number];
  isAdmin: boolean;
  /** Actions granted on every resource (roles and project scoping arrive with access control). */
  grants: readonly Action[];
}

export interface Resource {
  kind: 'server' | 'experiment' | 'run' | 'artifact';
  id?: string;
}

/** The principal of every request while authentication is off (the embedded, loopback default). */
export const LOCAL_ADMIN: Principal = Object.freeze({ id: 'local-admin', kind: 'local', isAdmin: true, grants: ACTIONS });

/**
 * The one permission check. Every route calls it through the server's route wiring (routes cannot be
 * registered without declaring their action and resource). Throws PERMISSION_DENIED.
 */
export function authorize(principal: Principal, action: Action, resource: Resource): void {
  if (principal.isAdmin || principal.grants.includes(action)) return;
  throw new AppError('PERMISSION_DENIED', `${principal.kind} '${principal.id}' may not ${action} ${resource.kind}${resource.id ? ` '${resource.id}'` : ''}.`);
}
