import type { NewTokenRequest, WireAccount, WireAuditEvent, WireAuditVerdict, WireProject, WireSecret, WireToken } from './access.client.js';
import { PipelinesClient } from './pipelines.client.js';
import { UploadBody } from './registry.client.js';

/** Typed HTTP client for Capstan's API, used by the CLI and by users' TypeScript code. */
export interface ClientOptions {
  url: string;
  /** An API or session token (or an OIDC JWT), sent as a Bearer credential. */
  token?: string;
  /** The project requests act in (X-Capstan-Project); the server's default project when absent. */
  project?: string;
  fetch?: typeof fetch;
}

const API = '/api/capstan';
const seg = encodeURIComponent;

export class CapstanError extends Error {
  constructor(readonly status: number, readonly errorCode: string, message: string, readonly requestId?: string) {
    super(`${errorCode}: ${message}`);
    this.name = 'CapstanError';
  }
}

export interface WireExperiment {
  experiment_id: string;
  name: string;
  artifact_location: string;
  lifecycle_stage: string;
  creation_time: number;
  last_update_time: number;
  tags?: { key: string; value: string }[];
}

export interface WireRunInfo {
  run_id: string;
  run_name: string;
  experiment_id: string;
  user_id: string;
  status: string;
  start_time: number;
  end_time?: number;
  artifact_uri: string;
  lifecycle_stage: string;
}

export interface WireMetric {
  key: string;
  value: number | string;
  timestamp: number;
  step: number;
}

export interface WireRun {
  info: WireRunInfo;
  data: { metrics?: WireMetric[]; params?: { key: string; value: string }[]; tags?: { key: string; value: string }[] };
  inputs?: unknown;
}

export interface SearchRunsRequest {
  experiment_ids: string[];
  filter?: string;
  order_by?: string[];
  max_results?: number;
  page_token?: string;
  run_view_type?: 'ACTIVE_ONLY' | 'DELETED_ONLY' | 'ALL';
}

/** What POST /api/capstan/admin/gc did, or in a dry run would do. */
export interface WireGcReport {
  dry_run: boolean;
  /** Model versions the projects' retention rules soft-deleted. */
  retention: { project_id: number; name: string; version: number; reason: string }[];
  removed: { prefix: string; reason: string; files: number; bytes: number }[];
  /** Prefixes a removal rule matched but that were kept, and why. */
  skipped: { prefix: string; reason: string }[];
  /** Units examined and left in place. */
  kept: number;
  bytes_removed: number;
}

export class CapstanClient extends PipelinesClient {
  private readonly base: string;
  private readonly doFetch: typeof fetch;

  constructor(private readonly options: ClientOptions) {
    super();
    this.base = options.url.replace(/\/+$/, '');
    // Called unbound: a browser's fetch throws when called as a method of another object.
    this.doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  }

  protected override async call<T>(method: string, path: string, body?: unknown, query?: Record<string, string | string[] | undefined>): Promise<T> {
    const url = new URL(this.base + path);
    for (const [k, v] of Object.entries(query ?? {})) {
      for (const item of Array.isArray(v) ? v : v === undefined ? [] : [v]) url.searchParams.append(k, item);
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    const upload = body instanceof UploadBody ? body : undefined;
    if (upload) headers['content-length'] = String(upload.sizeBytes);
    if (body !== undefined) headers['content-type'] = upload ? 'application/octet-stream' : 'application/json';
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    if (this.options.project) headers['x-capstan-project'] = this.options.project;
    // fetch takes a streamed body only with duplex 'half': all of it is sent before the answer is read.
    // (Node's fetch takes an async iterable body; the cast lets the client also compile for browsers.)
    const res = await this.doFetch(url, upload
      ? ({ method, headers, body: upload.stream, duplex: 'half' } as unknown as RequestInit)
      : { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    // HTML and CSV answers (monitor reports, window data) come back as { text }.
    const json = (res.headers.get('content-type') ?? 'application/json').includes('json');
    const parsed = !text ? {} : json ? (JSON.parse(text) as Record<string, unknown>) : { text };
    if (!res.ok) {
      throw new CapstanError(res.status, String(parsed.error_code ?? 'INTERNAL_ERROR'), String(parsed.message ?? text), parsed.request_id as string | undefined);
    }
    return parsed as T;
  }

  private mlflow<T>(method: string, path: string, body?: unknown, query?: Record<string, string | string[] | undefined>): Promise<T> {
    return this.call<T>(method, `/api/2.0/mlflow${path}`, body, query);
  }

  async createExperiment(name: string, tags: { key: string; value: string }[] = []): Promise<string> {
    return (await this.mlflow<{ experiment_id: string }>('POST', '/experiments/create', { name, tags })).experiment_id;
  }

  async getExperiment(id: string): Promise<WireExperiment> {
    return (await this.mlflow<{ experiment: WireExperiment }>('GET', '/experiments/get', undefined, { experiment_id: id })).experiment;
  }

  async getExperimentByName(name: string): Promise<WireExperiment> {
    return (await this.mlflow<{ experiment: WireExperiment }>('GET', '/experiments/get-by-name', undefined, { experiment_name: name })).experiment;
  }

  async searchExperiments(req: { filter?: string; max_results?: number; page_token?: string; view_type?: string } = {}) {
    return this.mlflow<{ experiments?: WireExperiment[]; next_page_token?: string }>('POST', '/experiments/search', { max_results: 1000, ...req });
  }

  async createRun(experimentId: string, runName?: string, tags: { key: string; value: string }[] = []): Promise<WireRun> {
    return (await this.mlflow<{ run: WireRun }>('POST', '/runs/create', { experiment_id: experimentId, run_name: runName, start_time: Date.now(), tags })).run;
  }

  async getRun(runId: string): Promise<WireRun> {
    return (await this.mlflow<{ run: WireRun }>('GET', '/runs/get', undefined, { run_id: runId })).run;
  }

  async logBatch(runId: string, batch: { metrics?: WireMetric[]; params?: { key: string; value: string }[]; tags?: { key: string; value: string }[] }): Promise<void> {
    await this.mlflow('POST', '/runs/log-batch', { run_id: runId, ...batch });
  }

  async updateRun(runId: string, change: { status?: string; end_time?: number; run_name?: string }): Promise<WireRunInfo> {
    return (await this.mlflow<{ run_info: WireRunInfo }>('POST', '/runs/update', { run_id: runId, ...change })).run_info;
  }

  async searchRuns(req: SearchRunsRequest) {
    return this.mlflow<{ runs?: WireRun[]; next_page_token?: string }>('POST', '/runs/search', req);
  }

  async getMetricHistory(runId: string, key: string): Promise<WireMetric[]> {
    const out: WireMetric[] = [];
    let token: string | undefined;
    do {
      const page = await this.mlflow<{ metrics?: WireMetric[]; next_page_token?: string }>('GET', '/metrics/get-history', undefined, {
        run_id: runId, metric_key: key, max_results: '25000', page_token: token,
      });
      out.push(...(page.metrics ?? []));
      token = page.next_page_token;
    } while (token);
    return out;
  }

  /** One directory level of a run's artifacts (`path` relative to the run's artifact root). */
  async listArtifacts(runId: string, path = ''): Promise<{ root_uri: string; files: { path: string; is_dir: boolean; file_size?: number }[] }> {
    const out = await this.mlflow<{ root_uri: string; files?: { path: string; is_dir: boolean; file_size?: number }[] }>('GET', '/artifacts/list', undefined, { run_id: runId, path: path || undefined });
    return { root_uri: out.root_uri, files: out.files ?? [] };
  }

  /**
   * The first `maxBytes` of a run's artifact file, read through the artifact proxy; null when the
   * run's artifacts are not served by it (an artifact root outside mlflow-artifacts:/).
   */
  async readArtifact(rootUri: string, path: string, maxBytes = 1 << 20): Promise<{ bytes: Uint8Array; total: number; contentType: string } | null> {
    const m = /^mlflow-artifacts:\/*(.*)$/.exec(rootUri);
    if (!m) return null;
    const rel = [m[1].replace(/\/+$/, ''), path].filter(Boolean).join('/').split('/').map(seg).join('/');
    const headers: Record<string, string> = { range: `bytes=0-${maxBytes - 1}` };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    if (this.options.project) headers['x-capstan-project'] = this.options.project;
    const res = await this.doFetch(`${this.base}/api/2.0/mlflow-artifacts/artifacts/${rel}`, { headers });
    if (!res.ok) {
      const text = await res.text();
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        body = { message: text };
      }
      throw new CapstanError(res.status, String(body.error_code ?? 'INTERNAL_ERROR'), String(body.message ?? text));
    }
    const bytes = new Uint8Array(await res.arrayBuffer());
    const total = Number(/\/(\d+)$/.exec(res.headers.get('content-range') ?? '')?.[1] ?? bytes.length);
    return { bytes, total, contentType: res.headers.get('content-type') ?? 'application/octet-stream' };
  }

  /**
   * At most `maxResults` (≤ 2500) points per run of one metric, spread over its steps: enough to draw
   * long series at once while their full history loads.
   */
  async getMetricHistorySampled(runIds: string[], key: string, maxResults = 1000): Promise<Map<string, WireMetric[]>> {
    const out = new Map<string, WireMetric[]>(runIds.map((id) => [id, []]));
    for (let i = 0; i < runIds.length; i += 100) {
      const page = await this.mlflow<{ metrics?: (WireMetric & { run_id: string })[] }>('GET', '/metrics/get-history-bulk-interval', undefined, {
        run_ids: runIds.slice(i, i + 100), metric_key: key, max_results: String(maxResults),
      });
      for (const m of page.metrics ?? []) out.get(m.run_id)?.push(m);
    }
    return out;
  }

  async login(username: string, password: string): Promise<{ token: string; expires_at: string }> {
    return this.call('POST', `${API}/auth/login`, { username, password });
  }

  /** How this server lets people sign in: password, and an OIDC provider for single sign-on. */
  async authProviders(): Promise<{ password: boolean; oidc: { issuer: string; client_id: string; authorization_endpoint: string; scopes: string } | null }> {
    return this.call('GET', `${API}/auth/providers`);
  }

  /** Finishes single sign-on: the provider's code and the PKCE verifier, for a token the API accepts. */
  async finishOidcSignIn(code: string, codeVerifier: string, redirectUri: string): Promise<{ token: string; expires_at: string; name: string }> {
    return this.call('POST', `${API}/auth/oidc/callback`, { code, code_verifier: codeVerifier, redirect_uri: redirectUri });
  }

  async whoami() {
    return this.call<{ name: string; kind: string; is_owner: boolean; scopes: string[] | null; token_id: string | null; project: string; projects: { name: string; role: string }[] }>('GET', `${API}/auth/whoami`);
  }

  async listProjects(): Promise<WireProject[]> {
    return (await this.call<{ projects: WireProject[] }>('GET', `${API}/projects`)).projects;
  }

  async createProject(name: string, description = ''): Promise<WireProject> {
    return (await this.call<{ project: WireProject }>('POST', `${API}/projects`, { name, description })).project;
  }

  async deleteProject(name: string): Promise<void> {
    await this.call('DELETE', `${API}/projects/${seg(name)}`);
  }

  async listMembers(project: string): Promise<{ account: string; role: string }[]> {
    return (await this.call<{ members: { account: string; role: string }[] }>('GET', `${API}/projects/${seg(project)}`)).members;
  }

  async setMember(project: string, account: string, role: string): Promise<{ previous_role: string | null }> {
    return this.call('PUT', `${API}/projects/${seg(project)}/members/${seg(account)}`, { role });
  }

  async removeMember(project: string, account: string): Promise<void> {
    await this.call('DELETE', `${API}/projects/${seg(project)}/members/${seg(account)}`);
  }

  async listAccounts(): Promise<WireAccount[]> {
    return (await this.call<{ accounts: WireAccount[] }>('GET', `${API}/accounts`)).accounts;
  }

  async createAccount(req: { name: string; kind?: 'user' | 'robot'; password?: string; is_owner?: boolean }): Promise<WireAccount> {
    return (await this.call<{ account: WireAccount }>('POST', `${API}/accounts`, req)).account;
  }

  async updateAccount(name: string, change: { password?: string; disabled?: boolean; is_owner?: boolean }): Promise<WireAccount> {
    return (await this.call<{ account: WireAccount }>('PATCH', `${API}/accounts/${seg(name)}`, change)).account;
  }

  /** The token's value is in this response only. */
  async createToken(req: NewTokenRequest): Promise<{ token: string; info: WireToken }> {
    return this.call('POST', `${API}/tokens`, req);
  }

  async listTokens(): Promise<WireToken[]> {
    return (await this.call<{ tokens: WireToken[] }>('GET', `${API}/tokens`)).tokens;
  }

  async revokeToken(tokenId: string): Promise<void> {
    await this.call('DELETE', `${API}/tokens/${seg(tokenId)}`);
  }

  async listSecrets(project: string): Promise<WireSecret[]> {
    return (await this.call<{ secrets: WireSecret[] }>('GET', `${API}/projects/${seg(project)}/secrets`)).secrets;
  }

  async setSecret(project: string, name: string, value: string): Promise<void> {
    await this.call('PUT', `${API}/projects/${seg(project)}/secrets/${seg(name)}`, { value });
  }

  async deleteSecret(project: string, name: string): Promise<void> {
    await this.call('DELETE', `${API}/projects/${seg(project)}/secrets/${seg(name)}`);
  }

  /** One page of audit events after `afterSeq`. */
  async auditEvents(req: { since?: string; after_seq?: number; max_results?: number } = {}) {
    const query = { since: req.since, after_seq: req.after_seq?.toString(), max_results: req.max_results?.toString() };
    return this.call<{ events: WireAuditEvent[]; next_after_seq: number | null }>('GET', `${API}/audit/events`, undefined, query);
  }

  async auditVerify(): Promise<WireAuditVerdict> {
    return this.call('GET', `${API}/audit/verify`);
  }

  /** Retention, then removal of unreferenced artifact files; owners only. */
  async collectGarbage(req: { dry_run?: boolean; grace_hours?: number; purge_deleted_runs_older_than_days?: number } = {}): Promise<WireGcReport> {
    return this.call('POST', `${API}/admin/gc`, req);
  }

  async health(): Promise<boolean> {
    const res = await this.doFetch(`${this.base}/health`);
    return res.ok && (await res.text()) === 'OK';
  }
}
