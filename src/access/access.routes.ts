import { AppError, invalidParam } from '../errors/index.js';
import type { Fields } from '../server/fields.js';
import { defineRoute, type RouteAccess, type RouteContext, type RouteDef } from '../server/route.js';
import type { AccessService } from './access.service.js';
import type { AuditLog } from './audit.js';
import type { OidcLogin } from './oidc-login.js';
import { ROLES, SCOPES, type Action, type Role, type Scope } from './authorize.js';
import type { SecretStore } from './secrets.js';
import type { Account, Project, TokenInfo } from './types.js';

const API = '/api/capstan';
type Input = Record<string, any>;

const SERVER = { kind: 'server', projectId: null } as const;
const onServer = (action: Action): RouteAccess<Input> => ({ action, resource: () => SERVER, serverWide: true });
/** A project named in the path, resolved so authorize() sees its id. */
const onProject = (svc: AccessService, action: Action, kind: 'project' | 'member' | 'secret' = 'project'): RouteAccess<Input> => ({
  action,
  resource: async (i) => {
    const p = await svc.project(i.project);
    return { kind, id: kind === 'project' ? p.name : `${p.name}/${i.account ?? i.name ?? ''}`.replace(/\/$/, ''), projectId: p.projectId };
  },
});

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const projectToWire = (p: Project & { role?: Role }) => ({ name: p.name, description: p.description, created_at: iso(p.createdTime), ...(p.role ? { role: p.role } : {}) });
const accountToWire = (a: Account) => ({ name: a.name, kind: a.kind, is_owner: a.isOwner, disabled: a.disabled, created_at: iso(a.createdTime), locked_until: a.lockedUntil > Date.now() ? iso(a.lockedUntil) : null });
const tokenToWire = (t: TokenInfo, projects: Map<number, string>) => ({
  token_id: String(t.tokenId),
  name: t.name,
  kind: t.kind,
  account: t.principalName,
  scopes: t.scopes,
  project: t.projectId === null ? null : (projects.get(t.projectId) ?? String(t.projectId)),
  created_at: iso(t.createdTime),
  expires_at: iso(t.expiresAt),
  revoked_at: iso(t.revokedAt),
  last_used_at: iso(t.lastUsedAt),
});

const TOKEN_FIELDS: Fields = {
  name: { type: 'string', required: true, doc: 'What the token is for, e.g. "ci-nightly".' },
  scopes: { type: 'string[]', required: true, doc: `Any of ${SCOPES.join(', ')}; each grants its action plus read.` },
  project: { type: 'string', doc: 'Restrict the token to this project.' },
  expires_in_days: { type: 'int', doc: 'Days until the token stops working; omit for no expiry.' },
  account: { type: 'string', doc: 'Create it for this (robot) account instead of the caller.' },
};

export function accessRoutes(svc: AccessService, secrets: SecretStore, audit: AuditLog, sso: OidcLogin | null = null): RouteDef[] {
  const projectNames = () => svc.projectNames();
  return [
    defineRoute({
      method: 'POST', path: `${API}/auth/login`, tag: 'access', summary: 'Exchange a username and password for a session token (repeated failures lock the account)',
      fields: { username: { type: 'string', required: true }, password: { type: 'string', required: true, sensitive: true } },
      access: { public: 'this is how a principal without a token signs in; failures are audited and count towards lockout' },
      handler: async (i) => {
        const { value, info } = await svc.login(i.username, i.password);
        return { token: value, expires_at: iso(info.expiresAt) };
      },
    }),
    defineRoute({
      method: 'GET', path: `${API}/auth/providers`, tag: 'access', summary: 'How to sign in: password, and the OIDC provider for single sign-on when one is set up',
      access: { public: 'the sign-in page reads it before anyone is signed in; it names only the provider and the public client id' },
      handler: async () => ({ password: true, oidc: sso ? await sso.provider() : null }),
    }),
    defineRoute({
      method: 'POST', path: `${API}/auth/oidc/callback`, tag: 'access', summary: "Finish single sign-on: exchange the provider's code (with its PKCE verifier) for a token the API accepts",
      fields: {
        code: { type: 'string', required: true, sensitive: true, doc: 'The code the provider sent to /ui/oidc/callback.' },
        code_verifier: { type: 'string', required: true, sensitive: true, doc: 'The PKCE verifier whose S256 challenge went with the authorization request.' },
        redirect_uri: { type: 'string', required: true, doc: 'The redirect URI of the authorization request.' },
      },
      access: { public: 'this is how a browser without a token finishes signing in; the provider checks the code, the verifier and the redirect URI, and Capstan verifies the token it returns' },
      handler: async (i) => {
        if (!sso) throw new AppError('INVALID_STATE', 'Single sign-on is not set up on this server (auth.oidc_issuer and auth.oidc_client_id).');
        return sso.exchange(i.code, i.code_verifier, i.redirect_uri);
      },
    }),
    defineRoute({
      method: 'GET', path: `${API}/auth/whoami`, tag: 'access', summary: 'The signed-in principal, its roles and the token in use',
      access: { signedIn: 'every principal may see itself' },
      handler: async (_i, ctx: RouteContext) => {
        const p = ctx.principal;
        const projects = await svc.visibleProjects(p);
        return { name: p.name, kind: p.kind, is_owner: p.isOwner, scopes: p.scopes, token_id: p.tokenId, project: ctx.project.name, projects: projects.map((x) => ({ name: x.name, role: x.role })) };
      },
    }),
    defineRoute({
      method: 'GET', path: `${API}/projects`, tag: 'access', summary: 'Projects the principal is a member of (all, for owners)',
      access: { signedIn: 'the list is filtered to the projects the principal belongs to' },
      handler: async (_i, ctx) => ({ projects: (await svc.visibleProjects(ctx.principal)).map(projectToWire) }),
    }),
    defineRoute({
      method: 'POST', path: `${API}/projects`, tag: 'access', summary: 'Create a project',
      fields: { name: { type: 'string', required: true }, description: { type: 'string' } },
      access: onServer('admin'),
      handler: async (i) => ({ project: projectToWire(await svc.createProject(i.name, i.description ?? '')) }),
    }),
    defineRoute({
      method: 'GET', path: `${API}/projects/:project`, tag: 'access', summary: 'One project with its members',
      access: onProject(svc, 'read'),
      handler: async (i) => {
        const ref = await svc.project(i.project);
        const members = await svc.members(ref);
        return { project: { name: ref.name }, members: members.map((m) => ({ account: m.principalName, role: m.role })) };
      },
    }),
    defineRoute({
      method: 'DELETE', path: `${API}/projects/:project`, tag: 'access', summary: 'Delete an empty project (its members, tokens and secrets go with it)',
      access: onServer('delete'),
      handler: async (i) => (await svc.deleteProject(await svc.project(i.project)), {}),
    }),
    defineRoute({
      method: 'PUT', path: `${API}/projects/:project/members/:account`, tag: 'access', summary: 'Add a member or change its role',
      fields: { role: { type: 'string', required: true, enum: ROLES } },
      access: onProject(svc, 'admin', 'member'),
      handler: async (i) => {
        const before = await svc.setMember(await svc.project(i.project), i.account, i.role as Role);
        return { account: i.account, role: i.role, previous_role: before };
      },
    }),
    defineRoute({
      method: 'DELETE', path: `${API}/projects/:project/members/:account`, tag: 'access', summary: 'Remove a member',
      access: onProject(svc, 'admin', 'member'),
      handler: async (i) => (await svc.removeMember(await svc.project(i.project), i.account), {}),
    }),
    defineRoute({
      method: 'GET', path: `${API}/accounts`, tag: 'access', summary: 'Every account (users, robots, OIDC identities)',
      access: onServer('admin'),
      handler: async () => ({ accounts: (await svc.listAccounts()).map(accountToWire) }),
    }),
    defineRoute({
      method: 'POST', path: `${API}/accounts`, tag: 'access', summary: 'Create a user (with a password) or a robot account (tokens only)',
      fields: { name: { type: 'string', required: true }, kind: { type: 'string', enum: ['user', 'robot'] }, password: { type: 'string', sensitive: true }, is_owner: { type: 'bool' } },
      access: onServer('admin'),
      handler: async (i) => ({ account: accountToWire(await svc.createAccount({ name: i.name, kind: i.kind ?? 'user', password: i.password ?? null, isOwner: i.is_owner ?? false })) }),
    }),
    defineRoute({
      method: 'PATCH', path: `${API}/accounts/:account`, tag: 'access', summary: 'Set a password, disable or enable, grant or drop owner',
      fields: { password: { type: 'string', sensitive: true }, disabled: { type: 'bool' }, is_owner: { type: 'bool' } },
      access: onServer('admin'),
      handler: async (i) => ({ account: accountToWire(await svc.updateAccount(i.account, { password: i.password, disabled: i.disabled, isOwner: i.is_owner })) }),
    }),
    defineRoute({
      method: 'POST', path: `${API}/tokens`, tag: 'access', summary: 'Create an API token; its value is in this response only',
      fields: TOKEN_FIELDS,
      access: { signedIn: 'a token never exceeds its creator: the service refuses scopes, projects and accounts beyond the caller' },
      handler: async (i, ctx) => {
        const { value, info } = await svc.createToken(ctx.principal, { name: i.name, scopes: i.scopes as Scope[], project: i.project ?? null, expiresInDays: i.expires_in_days ?? null, forAccount: i.account ?? null });
        return { token: value, info: tokenToWire(info, await projectNames()) };
      },
    }),
    defineRoute({
      method: 'GET', path: `${API}/tokens`, tag: 'access', summary: "The caller's tokens (owners: all; project admins: their projects' robot tokens)",
      access: { signedIn: 'the list is filtered to tokens the caller owns or administers' },
      handler: async (_i, ctx) => {
        const names = await projectNames();
        return { tokens: (await svc.listTokens(ctx.principal)).map((t) => tokenToWire(t, names)) };
      },
    }),
    defineRoute({
      method: 'DELETE', path: `${API}/tokens/:token_id`, tag: 'access', summary: 'Revoke a token (effective on every replica within auth.cache_ms)',
      access: { signedIn: "the service lets only the token's account, its project's admins and owners revoke it" },
      handler: async (i, ctx) => {
        if (!/^\d{1,15}$/.test(i.token_id)) throw invalidParam(`Invalid token id '${String(i.token_id).slice(0, 40)}'.`);
        await svc.revokeToken(ctx.principal, Number(i.token_id));
        return {};
      },
    }),
    defineRoute({
      method: 'GET', path: `${API}/projects/:project/secrets`, tag: 'access', summary: "Names and metadata of a project's secrets (never values)",
      access: onProject(svc, 'admin', 'secret'),
      handler: async (i) => {
        const list = await secrets.list((await svc.project(i.project)).projectId);
        return { secrets: list.map((s) => ({ name: s.name, key_id: s.keyId, created_at: iso(s.createdTime), updated_at: iso(s.updatedTime), updated_by: s.updatedBy })) };
      },
    }),
    defineRoute({
      method: 'PUT', path: `${API}/projects/:project/secrets/:name`, tag: 'access', summary: 'Set a secret (sealed with AES-256-GCM; the value is never returned)',
      fields: { value: { type: 'string', required: true, sensitive: true } },
      access: onProject(svc, 'admin', 'secret'),
      handler: async (i, ctx) => (await secrets.set((await svc.project(i.project)).projectId, i.name, i.value, ctx.principal.name), {}),
    }),
    defineRoute({
      method: 'DELETE', path: `${API}/projects/:project/secrets/:name`, tag: 'access', summary: 'Delete a secret',
      access: onProject(svc, 'admin', 'secret'),
      handler: async (i) => (await secrets.delete((await svc.project(i.project)).projectId, i.name), {}),
    }),
    defineRoute({
      method: 'GET', path: `${API}/audit/events`, tag: 'access', summary: 'Audit events in order, from after_seq and no older than since (ISO time)',
      fields: { since: { type: 'string' }, after_seq: { type: 'int' }, max_results: { type: 'int', doc: 'At most 10000; default 1000.' } },
      access: onServer('admin'),
      handler: async (i) => {
        const sinceMs = i.since === undefined ? 0 : Date.parse(i.since);
        if (Number.isNaN(sinceMs)) throw invalidParam(`Invalid value for 'since': '${String(i.since).slice(0, 40)}' is not an ISO-8601 time.`);
        const limit = Math.min(Math.max(i.max_results ?? 1000, 1), 10_000);
        const events = [];
        for await (const e of audit.events({ sinceMs, afterSeq: i.after_seq })) {
          events.push(e);
          if (events.length >= limit) break;
        }
        return { events, next_after_seq: events.length === limit ? events[events.length - 1]!.seq : null };
      },
    }),
    defineRoute({
      method: 'GET', path: `${API}/audit/verify`, tag: 'access', summary: 'Recompute the audit hash chain; names the first altered, removed or reordered event',
      access: onServer('admin'),
      handler: async () => audit.verify(),
    }),
  ];
}
