// Who is signed in, in which project, and the typed client acting for them. The token is kept in
// sessionStorage (gone when the tab closes); the project in the URL-independent localStorage.
import { useEffect, useState } from 'preact/hooks';
import { CapstanClient, CapstanError } from '../../../src/client/index.js';

export type Action = 'read' | 'write' | 'deploy' | 'delete' | 'admin';
export type Role = 'viewer' | 'editor' | 'deployer' | 'admin';

export interface Principal {
  name: string;
  kind: string;
  is_owner: boolean;
  scopes: string[] | null;
  project: string;
  projects: { name: string; role: Role }[];
}

const ROLE_ACTIONS: Record<Role, Action[]> = {
  viewer: ['read'],
  editor: ['read', 'write'],
  deployer: ['read', 'write', 'deploy'],
  admin: ['read', 'write', 'deploy', 'delete', 'admin'],
};
const SCOPE_ACTIONS: Record<string, Action[]> = { read: ['read'], write: ['read', 'write'], deploy: ['read', 'deploy'], admin: ROLE_ACTIONS.admin };

interface State {
  token: string | null;
  project: string;
  principal: Principal | null;
  /** null until whoami has answered once. */
  checked: boolean;
}

const state: State = {
  token: sessionStorage.getItem('capstan.token'),
  project: localStorage.getItem('capstan.project') ?? 'default',
  principal: null,
  checked: false,
};
const listeners = new Set<() => void>();
const emit = () => listeners.forEach((l) => l());

let client = makeClient();
function makeClient(): CapstanClient {
  const token = state.token;
  // A session that ends (expired, revoked) sends the user back to the sign-in page.
  const watched: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    if (res.status === 401 && token && token === state.token) queueMicrotask(signOut);
    return res;
  };
  return new CapstanClient({ url: location.origin, token: token ?? undefined, project: state.project, fetch: watched });
}

export const api = (): CapstanClient => client;

/** Raw GET through the same credentials, for API routes the typed client has no method for. */
export async function apiGet<T>(path: string, query: Record<string, string | number | undefined> = {}): Promise<T> {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
  const res = await fetch(url, { headers: headers() });
  const text = await res.text();
  const body = text && (res.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : { text };
  if (!res.ok) throw new CapstanError(res.status, body.error_code ?? 'INTERNAL_ERROR', body.message ?? text);
  return body as T;
}

export function headers(): Record<string, string> {
  const h: Record<string, string> = { 'x-capstan-project': state.project };
  if (state.token) h.authorization = `Bearer ${state.token}`;
  return h;
}

export async function refreshPrincipal(): Promise<void> {
  const asked = client;
  try {
    const who = (await asked.whoami()) as unknown as Principal;
    if (asked === client) state.principal = who;
  } catch (err) {
    // An answer for credentials that have since changed (a sign-in finished meanwhile) is stale.
    if (asked !== client) return;
    state.principal = null;
    if (!(err instanceof CapstanError && err.status === 401)) throw err;
  } finally {
    if (asked === client) {
      state.checked = true;
      emit();
    }
  }
}

export async function signIn(username: string, password: string): Promise<void> {
  const { token } = await new CapstanClient({ url: location.origin }).login(username, password);
  setToken(token);
  await refreshPrincipal();
}

export function setToken(token: string | null): void {
  state.token = token;
  if (token) sessionStorage.setItem('capstan.token', token);
  else sessionStorage.removeItem('capstan.token');
  client = makeClient();
}

export function signOut(): void {
  setToken(null);
  state.principal = null;
  emit();
}

export function setProject(name: string): void {
  state.project = name;
  localStorage.setItem('capstan.project', name);
  client = makeClient();
  emit();
}

/** Whether the signed-in principal may perform `action` in the current project (what the server will decide). */
export function can(action: Action): boolean {
  const p = state.principal;
  if (!p) return false;
  let allowed: Action[] = p.is_owner ? ROLE_ACTIONS.admin : ROLE_ACTIONS[p.projects.find((x) => x.name === state.project)?.role ?? 'viewer'] ?? [];
  if (!p.is_owner && !p.projects.some((x) => x.name === state.project)) allowed = [];
  if (p.scopes) allowed = allowed.filter((a) => p.scopes!.some((s) => SCOPE_ACTIONS[s]?.includes(a)));
  return allowed.includes(action);
}

export function useSession(): State {
  const [, tick] = useState(0);
  useEffect(() => {
    const l = () => tick((n) => n + 1);
    listeners.add(l);
    return () => void listeners.delete(l);
  }, []);
  return state;
}
