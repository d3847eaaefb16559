/**
 * The model registry part of the typed client: MLflow's registered-model and model-version API
 * (/api/2.0/mlflow/...) and Capstan's governance routes (/api/capstan/registry/...). CapstanClient
 * extends this class and supplies the transport.
 */
type Query = Record<string, string | string[] | undefined>;
type KeyValue = { key: string; value: string };

/** MLflow's ModelVersion message: empty fields are omitted and the number is a string. */
export interface WireModelVersion {
  name: string;
  version: string;
  creation_timestamp: number;
  last_updated_timestamp: number;
  user_id?: string;
  current_stage: string;
  description?: string;
  source: string;
  run_id?: string;
  status: string;
  tags?: KeyValue[];
  run_link?: string;
  aliases?: string[];
}

export interface WireRegisteredModel {
  name: string;
  creation_timestamp: number;
  last_updated_timestamp: number;
  description?: string;
  /** The newest version in each stage. */
  latest_versions?: WireModelVersion[];
  tags?: KeyValue[];
  aliases?: { alias: string; version: string }[];
}

export interface WireModelCard {
  description: string;
  intended_use: string;
  training_data: string;
  metrics_summary: string;
  limitations: string;
  fairness: string;
}

export interface WireTensorSpec {
  name: string;
  datatype: string | null;
  onnx_type: string | null;
  shape: number[];
  symbolic_dims: (string | null)[];
}

/** Capstan's full view of a version: MLflow's fields plus what governs it. */
export interface WireModelVersionDetail extends WireModelVersion {
  semver: string;
  storage_root: string;
  manifest: { files: { path: string; size: number; sha256: string }[] };
  manifest_digest: string;
  signing_key_id: string;
  manifest_signature: string;
  model_signature: { source: string; file: string; inputs: WireTensorSpec[]; outputs: WireTensorSpec[]; flavors?: string[] } | null;
  card: WireModelCard;
  unsafe_files: { path: string; reason: string }[];
  code_version: string;
  logged_model_id?: string;
}

/** The server sends this report with camelCase keys, unlike the rest of the API. */
export interface WireVerifyReport {
  name: string;
  version: string;
  verified: boolean;
  manifest_digest: string;
  key_id: string;
  manifest_intact: boolean;
  signature_valid: boolean;
  problems: { path: string; problem: 'missing' | 'size' | 'sha256' | 'unexpected'; expected?: string | number; actual?: string | number }[];
}

export interface WireModelEvent {
  event_id: number;
  version?: string;
  time: number;
  actor: string;
  kind: string;
  detail: Record<string, unknown>;
}

/** `text` is '' and the rest absent when the project has no policy. */
export interface WirePolicy {
  text: string;
  updated_time?: number;
  updated_by?: string;
  gates?: { name: string; protects: { aliases: string[]; stages: string[] }; rules: string[] }[];
}

export interface WireGateResult {
  gate: string;
  rule: string;
  expr: string;
  passed: boolean;
  message?: string;
  error?: string;
  /** The value of every input the expression reads; null where the input has no such key. */
  inputs: Record<string, unknown>;
}

export interface WireGateCheck {
  /** Names of the gates protecting the alias or stage; empty when none does. */
  gates: string[];
  allowed: boolean;
  results: WireGateResult[];
  /** Everything the rules could read about the version. */
  input: Record<string, unknown>;
}

export interface WireSigningKey {
  key_id: string;
  /** Base64 of the DER (SPKI) public key. */
  public_key: string;
  created_time: number;
  retired_time?: number;
  current: boolean;
}

export interface NewModelVersionRequest {
  name: string;
  /** runs:/<run_id>/<path>, mlflow-artifacts:/<path> or models:/<name>/<version>. */
  source: string;
  run_id?: string;
  description?: string;
  tags?: KeyValue[];
  /** Which part of the semantic version to raise; the server's default is minor. */
  bump?: 'major' | 'minor' | 'patch';
  /** An explicit semantic version, above every earlier one. */
  semver?: string;
  card?: Partial<WireModelCard>;
  /** The code's git commit; the server defaults to the run's mlflow.source.git.commit tag. */
  code_version?: string;
}

export interface RegistrySearchRequest {
  filter?: string;
  max_results?: number;
  order_by?: string[];
  page_token?: string;
}

/** A request body sent as raw bytes from a stream, never held whole in memory. */
export class UploadBody {
  constructor(readonly stream: AsyncIterable<Uint8Array>, readonly sizeBytes: number) {}
}

const MLFLOW = '/api/2.0/mlflow';
const REGISTRY = '/api/capstan/registry';
const ARTIFACTS = '/api/2.0/mlflow-artifacts/artifacts';

export abstract class RegistryClient {
  /** Sends one request (JSON, or raw bytes for an UploadBody) and returns the decoded JSON answer. */
  protected abstract call<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T>;

  async createRegisteredModel(name: string, options: { description?: string; tags?: KeyValue[] } = {}): Promise<WireRegisteredModel> {
    return (await this.call<{ registered_model: WireRegisteredModel }>('POST', `${MLFLOW}/registered-models/create`, { name, ...options })).registered_model;
  }

  async getRegisteredModel(name: string): Promise<WireRegisteredModel> {
    return (await this.call<{ registered_model: WireRegisteredModel }>('GET', `${MLFLOW}/registered-models/get`, undefined, { name })).registered_model;
  }

  /** One page; follow `next_page_token` for the rest. */
  async searchRegisteredModels(req: RegistrySearchRequest = {}) {
    return this.call<{ registered_models?: WireRegisteredModel[]; next_page_token?: string }>('POST', `${MLFLOW}/registered-models/search`, req);
  }

  async deleteRegisteredModel(name: string): Promise<void> {
    await this.call('DELETE', `${MLFLOW}/registered-models/delete`, { name });
  }

  async createModelVersion(req: NewModelVersionRequest): Promise<WireModelVersion> {
    return (await this.call<{ model_version: WireModelVersion }>('POST', `${MLFLOW}/model-versions/create`, req)).model_version;
  }

  /** One page of MLflow's version view; follow `next_page_token` for the rest. */
  async searchModelVersions(req: RegistrySearchRequest = {}) {
    return this.call<{ model_versions?: WireModelVersion[]; next_page_token?: string }>('POST', `${MLFLOW}/model-versions/search`, req);
  }

  /** Capstan's full view: semver, manifest, signing key, model signature and card. */
  async getModelVersion(name: string, version: string | number): Promise<WireModelVersionDetail> {
    const query = { name, version: String(version) };
    return (await this.call<{ model_version: WireModelVersionDetail }>('GET', `${REGISTRY}/model-versions/get`, undefined, query)).model_version;
  }

  /** models:/name/3, models:/name@alias or models:/name/Production. */
  async resolveModel(uri: string): Promise<WireModelVersionDetail> {
    return (await this.call<{ model_version: WireModelVersionDetail }>('GET', `${REGISTRY}/model-versions/resolve`, undefined, { uri })).model_version;
  }

  /** Re-hashes the version's stored files and checks the manifest digest and its signature. */
  async verifyModelVersion(name: string, version: string | number): Promise<WireVerifyReport> {
    return (await this.call<{ report: WireVerifyReport }>('POST', `${REGISTRY}/model-versions/verify`, { name, version: String(version) })).report;
  }

  /** Runs the gates protecting the alias; with `overrideReason` a project admin goes past failed ones. */
  async setAlias(name: string, alias: string, version: string | number, overrideReason?: string): Promise<void> {
    await this.call('POST', `${MLFLOW}/registered-models/alias`, { name, alias, version: String(version), override_reason: overrideReason });
  }

  /** Deleting an alias that does not exist is not an error. */
  async deleteAlias(name: string, alias: string): Promise<void> {
    await this.call('DELETE', `${MLFLOW}/registered-models/alias`, { name, alias });
  }

  async transitionStage(
    name: string, version: string | number, stage: string, options: { archiveExisting?: boolean; overrideReason?: string } = {},
  ): Promise<WireModelVersion> {
    const body = { name, version: String(version), stage, archive_existing_versions: options.archiveExisting ?? false, override_reason: options.overrideReason };
    return (await this.call<{ model_version: WireModelVersion }>('POST', `${MLFLOW}/model-versions/transition-stage`, body)).model_version;
  }

  /** Changes the given card fields and keeps the others. */
  async updateModelCard(name: string, version: string | number, card: Partial<WireModelCard>): Promise<WireModelVersionDetail> {
    const body = { name, version: String(version), card };
    return (await this.call<{ model_version: WireModelVersionDetail }>('PATCH', `${REGISTRY}/model-versions/card`, body)).model_version;
  }

  /** Events in order, after `after` (an event_id); at most `max_results` (server default 1000). */
  async modelHistory(name: string, page: { after?: number; max_results?: number } = {}): Promise<WireModelEvent[]> {
    const query = { name, after: page.after?.toString(), max_results: page.max_results?.toString() };
    return (await this.call<{ events: WireModelEvent[] }>('GET', `${REGISTRY}/models/history`, undefined, query)).events;
  }

  async getPolicy(): Promise<WirePolicy> {
    return this.call('GET', `${REGISTRY}/policy`);
  }

  /** Replaces the project's policy; the server validates and compiles it first. */
  async putPolicy(text: string): Promise<{ updated_time: number; gates: string[] }> {
    return this.call('PUT', `${REGISTRY}/policy`, { text });
  }

  /** Evaluates the gates protecting an alias or a stage for a version, changing nothing. */
  async checkGates(name: string, version: string | number, target: { alias?: string; stage?: string }): Promise<WireGateCheck> {
    return this.call('POST', `${REGISTRY}/gates/check`, { name, version: String(version), ...target });
  }

  async listSigningKeys(): Promise<{ current_key_id: string; public_key_pem: string; keys: WireSigningKey[] }> {
    return this.call('GET', `${REGISTRY}/keys`);
  }

  /** Streams one file to the artifact proxy at `path` (`<experiment>/<run>/artifacts/...`). */
  async uploadArtifact(path: string, stream: AsyncIterable<Uint8Array>, sizeBytes: number): Promise<void> {
    const encoded = path.split('/').map(encodeURIComponent).join('/');
    await this.call('PUT', `${ARTIFACTS}/${encoded}`, new UploadBody(stream, sizeBytes));
  }
}
