import { AppError, invalidParam, notFound } from '../errors/index.js';
import type { BlobStore } from '../store/blob/index.js';
import type { Db } from '../store/sql/index.js';
import {
  checkLength, decodePageToken, encodePageToken, parseFilter, parseOrderBy, validateKey, validateMaxResults,
  type KeyValue, type LoggedModel, type Page, type TrackingService,
} from '../tracking/index.js';
import { compareManifest, manifestDigest, sortManifest, type ManifestProblem } from './manifest.js';
import { extractSignature } from './model-signature.js';
import { modelNotFound, ModelSql } from './models.sql.js';
import { fileKey, hashFiles, listFiles, parseRunsUri, readBlob, storageKeyOf } from './registration.js';
import { planRetention } from './retention.js';
import type { RetentionRules } from './policy.service.js';
import { nextSemver } from './semver.js';
import type { SigningKeys } from './signing.js';
import { CARD_FIELDS, STAGES, type Bump, type ModelCard, type ModelEvent, type ModelVersion, type RegisteredModel, type Stage } from './types.js';
import { scanUnsafe, UNSAFE_HEAD_BYTES } from './unsafe-format.js';
import { VersionSql } from './versions.sql.js';

export interface SearchRequest {
  filter?: string;
  maxResults?: number;
  orderBy?: string[];
  pageToken?: string;
}

export interface NewVersionRequest {
  name: string;
  source: string;
  runId?: string;
  runLink?: string;
  description?: string;
  tags: KeyValue[];
  bump?: Bump;
  semver?: string;
  card?: Partial<ModelCard>;
  codeVersion?: string;
  loggedModelId?: string;
  actor: string;
}

export interface VerifyReport {
  name: string;
  version: number;
  verified: boolean;
  manifestDigest: string;
  keyId: string;
  /** The manifest as stored hashes to the digest that was signed. */
  manifestIntact: boolean;
  signatureValid: boolean;
  problems: ManifestProblem[];
}

const MAX_TAG_KEY = 250;
const MAX_TAG_VALUE = 5000;
const MAX_SIGNATURE_FILE_BYTES = 1 << 30;

export function emptyCard(description = ''): ModelCard {
  return { description, intended_use: '', training_data: '', metrics_summary: '', limitations: '', fairness: '' };
}

export function checkCard(card: Partial<ModelCard> | undefined): Partial<ModelCard> {
  for (const key of Object.keys(card ?? {})) {
    if (!(CARD_FIELDS as readonly string[]).includes(key)) throw invalidParam(`Unknown model card field '${key}'; the fields are ${CARD_FIELDS.join(', ')}.`);
    checkLength(`card.${key}`, (card as Record<string, string>)[key], 100_000);
  }
  return card ?? {};
}

export function parseVersionNumber(version: string | number): number {
  const text = String(version);
  if (!/^\d{1,15}$/.test(text) || Number(text) < 1) throw invalidParam(`Invalid model version '${text}': expected a positive integer.`);
  return Number(text);
}

export function canonicalStage(stage: string): Stage {
  const found = STAGES.find((s) => s.toLowerCase() === stage.toLowerCase());
  if (!found) throw invalidParam(`Invalid Model Version stage: ${stage}. Value must be one of ${STAGES.join(', ')}.`);
  return found;
}

const versionNotFound = (name: string, version: number | string) => notFound(`Model Version (name=${name}, version=${version}) not found`);

function checkName(name: string): void {
  if (typeof name !== 'string' || name.trim() === '') throw invalidParam('Registered model name cannot be empty.');
  if (name.length > 256 || /[\u0000-\u001f]/.test(name)) throw invalidParam('Invalid registered model name: at most 256 characters and no control characters.');
}

function checkTag(tag: KeyValue): void {
  validateKey('tag', tag.key);
  checkLength('key', tag.key, MAX_TAG_KEY);
  checkLength('value', tag.value, MAX_TAG_VALUE);
}

/** Registered models and their versions with MLflow's rules, plus manifests, signing and verification. */
export class RegistryService {
  readonly models: ModelSql;
  readonly versions: VersionSql;

  constructor(
    private readonly db: Db,
    private readonly blobs: BlobStore,
    readonly keys: SigningKeys,
    private readonly tracking: TrackingService,
    private readonly loggedModel: (modelId: string) => Promise<LoggedModel>,
    private readonly now: () => number = Date.now,
  ) {
    this.models = new ModelSql(db);
    this.versions = new VersionSql(db);
  }

  /** What holds the files at `key`, for the artifact proxy's pin check; null when nothing does. */
  async pinHolder(key: string): Promise<string | null> {
    if (key === '') return null;
    const root = await this.versions.pinnedAt(key);
    return root === undefined ? null : `a registered model version (files at '${root}')`;
  }

  async createModel(projectId: number, name: string, description: string, tags: KeyValue[], actor: string): Promise<RegisteredModel> {
    checkName(name);
    tags.forEach(checkTag);
    const now = this.now();
    const modelId = await this.models.create(projectId, name, description, tags, now);
    await this.models.addEvent(this.db, modelId, null, actor, 'model_created', { name }, now);
    return (await this.models.get(projectId, name))!;
  }

  async model(projectId: number, name: string): Promise<RegisteredModel> {
    checkName(name);
    const model = await this.models.get(projectId, name);
    if (!model) throw modelNotFound(name);
    return model;
  }

  async renameModel(projectId: number, name: string, newName: string, actor: string): Promise<RegisteredModel> {
    checkName(newName);
    const model = await this.model(projectId, name);
    const now = this.now();
    await this.models.rename(model.modelId, newName, now);
    await this.models.addEvent(this.db, model.modelId, null, actor, 'model_renamed', { from: name, to: newName }, now);
    return this.model(projectId, newName);
  }

  async updateModel(projectId: number, name: string, description: string): Promise<RegisteredModel> {
    const model = await this.model(projectId, name);
    await this.models.setDescription(model.modelId, description, this.now());
    return this.model(projectId, name);
  }

  async deleteModel(projectId: number, name: string, actor: string): Promise<void> {
    const model = await this.model(projectId, name);
    await this.models.delete(model.modelId);
    await this.models.addEvent(this.db, model.modelId, null, actor, 'model_deleted', { name }, this.now());
  }

  async searchModels(projectId: number, req: SearchRequest): Promise<Page<RegisteredModel>> {
    const limit = validateMaxResults(req.maxResults, 100, 1000);
    const offset = decodePageToken(req.pageToken);
    const found = await this.models.search(projectId, parseFilter(req.filter, 'registered_model'), parseOrderBy(req.orderBy, 'registered_model'), offset, limit + 1);
    return { items: found.slice(0, limit), nextPageToken: found.length > limit ? encodePageToken(offset + limit) : undefined };
  }

  async setModelTag(projectId: number, name: string, tag: KeyValue): Promise<void> {
    checkTag(tag);
    await this.models.setTag((await this.model(projectId, name)).modelId, tag, this.now());
  }

  async deleteModelTag(projectId: number, name: string, key: string): Promise<void> {
    // Deleting a tag that is not there is a no-op, as in MLflow.
    await this.models.deleteTag((await this.model(projectId, name)).modelId, key);
  }

  /** The newest live version in each stage: all stages, or the ones asked for. */
  async latestVersions(projectId: number, name: string, stages?: string[]): Promise<ModelVersion[]> {
    const model = await this.model(projectId, name);
    const all = await this.versions.latestPerStage([model.modelId]);
    if (!stages?.length) return all;
    const wanted = new Set(stages.map(canonicalStage));
    return all.filter((v) => wanted.has(v.stage as Stage));
  }

  async latestVersionsOf(models: RegisteredModel[]): Promise<Map<number, ModelVersion[]>> {
    const byModel = new Map<number, ModelVersion[]>();
    for (const v of await this.versions.latestPerStage(models.map((m) => m.modelId))) byModel.set(v.modelId, [...(byModel.get(v.modelId) ?? []), v]);
    return byModel;
  }

  async version(projectId: number, name: string, version: string | number): Promise<ModelVersion> {
    const n = parseVersionNumber(version);
    checkName(name);
    const model = await this.models.get(projectId, name);
    const found = model && (await this.versions.get(model.modelId, n));
    if (!found) throw versionNotFound(name, n);
    return found;
  }

  async versionByAlias(projectId: number, name: string, alias: string): Promise<ModelVersion> {
    checkName(name);
    // MLflow looks the (model, alias) pair up directly: an unknown model is an unknown alias.
    const model = await this.models.get(projectId, name);
    if (!model) throw invalidParam(`Registered model alias ${alias} not found.`);
    if (alias === 'latest') {
      const all = await this.versions.listOfModel(model.modelId);
      if (all.length === 0) throw invalidParam(`Registered model ${name} has no versions.`);
      return all[all.length - 1]!;
    }
    const n = await this.models.aliasVersion(model.modelId, alias);
    const found = n === undefined ? undefined : await this.versions.get(model.modelId, n);
    if (!found) throw invalidParam(`Registered model alias ${alias} not found.`);
    return found;
  }

  /** `models:/name/3`, `models:/name@champion` or `models:/name/Production`. */
  async resolveModelUri(projectId: number, uri: string): Promise<ModelVersion> {
    const m = /^models:\/([^/@]+)(?:@([\w-]+)|\/([^/]+))\/?$/.exec(uri);
    if (!m) throw invalidParam(`Invalid model URI '${uri}': expected models:/<name>/<version>, models:/<name>@<alias> or models:/<name>/<stage>.`);
    const [, name, alias, ref] = m as unknown as [string, string, string | undefined, string | undefined];
    if (alias !== undefined) return this.versionByAlias(projectId, name, alias);
    if (/^\d+$/.test(ref!)) return this.version(projectId, name, ref!);
    const [latest] = await this.latestVersions(projectId, name, [ref!]);
    if (!latest) throw notFound(`No version of ${name} is in stage ${canonicalStage(ref!)}.`);
    return latest;
  }

  async searchVersions(projectId: number, req: SearchRequest): Promise<Page<ModelVersion>> {
    const limit = validateMaxResults(req.maxResults, 10_000, 200_000);
    const offset = decodePageToken(req.pageToken);
    const found = await this.versions.search(projectId, parseFilter(req.filter, 'model_version'), parseOrderBy(req.orderBy, 'model_version'), offset, limit + 1);
    return { items: found.slice(0, limit), nextPageToken: found.length > limit ? encodePageToken(offset + limit) : undefined };
  }

  /**
   * Where a source's files are, and the run and logged model behind them; each checked to lie in the
   * request's project. The files must be a run's artifacts or a logged model's: a version may pin
   * one model, never a whole experiment's folder.
   */
  private async resolveSource(projectId: number, req: NewVersionRequest): Promise<{ root: string; runId?: string; loggedModelId?: string }> {
    const source = req.source;
    const inProject = async (kind: 'experiment' | 'run', id: string, what: string) => {
      if ((await this.tracking.projectsOf(kind, [id])).get(id) !== projectId) throw invalidParam(`Invalid model version source '${source}': ${what} is not in this project.`);
    };
    const loggedInSource = /^models:\/(m-[0-9a-f]{32})\/?$/.exec(source)?.[1];
    const loggedModelId = loggedInSource ?? (req.loggedModelId || undefined);
    const logged = loggedModelId ? await this.loggedModel(loggedModelId) : undefined;
    if (logged) await inProject('experiment', logged.experimentId, `logged model ${logged.modelId}`);
    let runId = req.runId;
    let root: string;
    if (loggedInSource) {
      root = storageKeyOf(logged!.artifactLocation);
      runId ??= logged!.sourceRunId || undefined;
    } else if (source.startsWith('models:/')) {
      const v = await this.resolveModelUri(projectId, source);
      return { root: v.storageRoot, runId: req.runId ?? (v.runId || undefined), loggedModelId };
    } else {
      const runs = parseRunsUri(source);
      if (runs && runId && runId !== runs.runId) throw invalidParam(`Invalid model version source '${source}': run_id ${runId} is not the source's run ${runs.runId}.`);
      runId ??= runs?.runId;
      if (!runId) {
        // mlflow-artifacts:/<exp>/<run>/artifacts/...: the run is named by the path.
        const [, second, third] = storageKeyOf(source).split('/');
        if (third === 'artifacts' && second) runId = second;
      }
      const runRoot = runId ? storageKeyOf((await this.tracking.getRun(runId)).info.artifactUri) : undefined;
      root = runs ? [runRoot!, runs.path].filter((p) => p !== '').join('/') : storageKeyOf(source);
      if (!runRoot || (root !== runRoot && !root.startsWith(`${runRoot}/`))) {
        throw invalidParam(`Invalid model version source '${source}': the files must be a run's artifacts (runs:/<run_id>/<path>) or a logged model's (models:/<model_id>).`);
      }
    }
    await inProject('experiment', root.split('/')[0] ?? '', 'its experiment');
    if (runId) await inProject('run', runId, `run ${runId}`);
    return { root, runId, loggedModelId };
  }

  /**
   * Registers the files at `source` as the model's next version: lists them with their recorded
   * hashes, reads the signature from the ONNX graph or MLmodel file, flags pickle-based files, and
   * signs the manifest digest. The files stay where they are, pinned: nothing may change them now.
   */
  async createVersion(projectId: number, req: NewVersionRequest): Promise<ModelVersion> {
    const model = await this.model(projectId, req.name);
    req.tags.forEach(checkTag);
    const card = checkCard(req.card);
    const { root, runId, loggedModelId } = await this.resolveSource(projectId, req);
    if (!(await this.blobs.head(root)) && (await this.blobs.list(root)).length === 0) {
      throw invalidParam(`Invalid model version source '${req.source}': no files are stored there.`);
    }
    const run = runId ? await this.tracking.getRun(runId) : undefined;
    const codeVersion = req.codeVersion ?? run?.data.tags.find((t) => t.key === 'mlflow.source.git.commit')?.value ?? '';
    const now = this.now();
    // Pin first, read after: from this commit on no upload can land under `root`, so the files
    // listed, hashed and signed below are the files the version keeps.
    const { n, semver } = await this.db.transaction(async (tx) => {
      const n = await this.versions.allocate(tx, model.modelId, now);
      const semver = nextSemver(await this.versions.semvers(tx, model.modelId), req.bump, req.semver);
      await this.versions.insert(tx, n, {
        modelId: model.modelId, semver, description: req.description ?? '', source: req.source, storageRoot: root, runId: runId ?? '',
        runLink: req.runLink ?? '', userId: req.actor, stage: 'None', status: 'PENDING_REGISTRATION', creationTime: now, lastUpdateTime: now,
        manifest: { files: [] }, manifestDigest: '', signingKeyId: '', manifestSignature: '', signature: null,
        card: { ...emptyCard(req.description ?? ''), ...card }, unsafeFiles: [], codeVersion, loggedModelId: loggedModelId ?? '',
      }, req.tags);
      return { n, semver };
    });
    try {
      await this.completeRegistration(model.modelId, n, semver, root, req);
    } catch (err) {
      // The number stays spent, as for any deleted version; the files are unpinned again.
      await this.db.transaction(async (tx) => {
        await this.versions.softDelete(tx, model.modelId, n, this.now());
        await this.models.addEvent(tx, model.modelId, n, req.actor, 'version_failed', { semver, source: req.source, error: (err as Error).message }, this.now());
      });
      throw err;
    }
    return this.version(projectId, req.name, n);
  }

  /** Lists, hashes, reads the signature of and signs a pinned version's files; marks it READY. */
  private async completeRegistration(modelId: number, version: number, semver: string, root: string, req: NewVersionRequest): Promise<void> {
    const files = await listFiles(this.blobs, root);
    if (files.length === 0) throw invalidParam(`Invalid model version source '${req.source}': no files are stored there.`);
    const manifest = sortManifest(files);
    const digest = manifestDigest(manifest);
    const sizes = files.map((f) => ({ path: f.path, sizeBytes: f.size }));
    const signed = await this.keys.sign(digest);
    const signature = await extractSignature(sizes.filter((f) => f.sizeBytes <= MAX_SIGNATURE_FILE_BYTES), (path) => readBlob(this.blobs, fileKey(root, files, path)));
    const unsafeFiles = await scanUnsafe(sizes, (path) => {
      const f = files.find((x) => x.path === path)!;
      return f.size === 0 ? Promise.resolve(Buffer.alloc(0)) : readBlob(this.blobs, fileKey(root, files, path), { start: 0, end: Math.min(f.size, UNSAFE_HEAD_BYTES) - 1 });
    });
    const now = this.now();
    await this.db.transaction(async (tx) => {
      await this.versions.complete(tx, modelId, version, { manifest, manifestDigest: digest, signingKeyId: signed.keyId, manifestSignature: signed.signature, signature: signature.signature, unsafeFiles }, now);
      await this.models.addEvent(tx, modelId, version, req.actor, 'version_created', {
        semver, source: req.source, manifest_digest: digest, key_id: signed.keyId, files: files.length, unsafe_files: unsafeFiles.length,
        signature: signature.signature ? signature.signature.source : `none: ${signature.reason ?? 'unknown'}`,
      }, now);
    });
  }

  async updateVersion(projectId: number, name: string, version: string, description: string): Promise<ModelVersion> {
    const v = await this.version(projectId, name, version);
    await this.versions.setDescription(v.modelId, v.version, description, this.now());
    return this.version(projectId, name, version);
  }

  async setCard(projectId: number, name: string, version: string, card: Partial<ModelCard>, actor: string): Promise<ModelVersion> {
    const v = await this.version(projectId, name, version);
    const merged = { ...v.card, ...checkCard(card) };
    const now = this.now();
    await this.db.transaction(async (tx) => {
      await this.versions.setCard(tx, v.modelId, v.version, JSON.stringify(merged), now);
      await this.models.addEvent(tx, v.modelId, v.version, actor, 'card_updated', { fields: Object.keys(card) }, now);
    });
    return this.version(projectId, name, version);
  }

  async deleteVersion(projectId: number, name: string, version: string, actor: string): Promise<void> {
    const v = await this.version(projectId, name, version);
    const now = this.now();
    await this.db.transaction(async (tx) => {
      if (!(await this.versions.softDelete(tx, v.modelId, v.version, now))) throw versionNotFound(name, v.version);
      await this.models.addEvent(tx, v.modelId, v.version, actor, 'version_deleted', { semver: v.semver, aliases: v.aliases }, now);
    });
  }

  async setVersionTag(projectId: number, name: string, version: string, tag: KeyValue): Promise<void> {
    checkTag(tag);
    const v = await this.version(projectId, name, version);
    await this.versions.setTag(v.modelId, v.version, tag);
  }

  async deleteVersionTag(projectId: number, name: string, version: string, key: string): Promise<void> {
    const v = await this.version(projectId, name, version);
    await this.versions.deleteTag(v.modelId, v.version, key);
  }

  /**
   * Applies a project's retention rules: soft-deletes the versions the plan names (never an aliased
   * one), which unpins their files for the garbage collector. `deployed` says which versions serve.
   */
  async applyRetention(projectId: number, rules: RetentionRules, dryRun: boolean, deployed: (name: string, version: number) => boolean = () => false): Promise<{ name: string; version: number; reason: string }[]> {
    const planned: { name: string; version: number; reason: string }[] = [];
    const now = this.now();
    for (const model of await this.models.search(projectId, [], [], 0, 1_000_000)) {
      const versions = await this.versions.listOfModel(model.modelId);
      const plan = planRetention(versions.map((v) => ({ version: v.version, stage: v.stage, aliases: v.aliases, lastUpdateTime: v.lastUpdateTime, deployed: deployed(model.name, v.version) })), rules, now);
      for (const p of plan) {
        planned.push({ name: model.name, ...p });
        if (dryRun) continue;
        await this.db.transaction(async (tx) => {
          if (await this.versions.softDelete(tx, model.modelId, p.version, now, { unlessHeld: true })) {
            await this.models.addEvent(tx, model.modelId, p.version, 'retention', 'version_deleted', { reason: p.reason }, now);
          }
        });
      }
    }
    return planned;
  }

  async history(projectId: number, name: string, afterId = 0, limit = 1000): Promise<ModelEvent[]> {
    return this.models.events((await this.model(projectId, name)).modelId, afterId, limit);
  }

  /** Recomputes every file's digest and the manifest digest, and checks the signature over it. */
  async verify(projectId: number, name: string, version: string): Promise<VerifyReport> {
    const v = await this.version(projectId, name, version);
    return this.verifyVersion(v);
  }

  async verifyVersion(v: ModelVersion): Promise<VerifyReport> {
    const manifestIntact = manifestDigest(v.manifest) === v.manifestDigest;
    const signatureValid = await this.keys.verify(v.signingKeyId, v.manifestDigest, v.manifestSignature);
    const problems = compareManifest(v.manifest, await hashFiles(this.blobs, v.storageRoot, v.manifest.files));
    return {
      name: v.name, version: v.version, verified: manifestIntact && signatureValid && problems.length === 0,
      manifestDigest: v.manifestDigest, keyId: v.signingKeyId, manifestIntact, signatureValid, problems,
    };
  }

  /** For loaders: the version's verified report, or ARTIFACT_INTEGRITY_ERR naming what is wrong. */
  async requireVerified(v: ModelVersion): Promise<VerifyReport> {
    const report = await this.verifyVersion(v);
    if (report.verified) return report;
    const why = [!report.manifestIntact && 'the manifest does not hash to the signed digest', !report.signatureValid && 'the signature does not verify',
      ...report.problems.map((p) => `${p.path}: ${p.problem.replace(/\.$/, '')}`)].filter(Boolean).join('; ');
    throw new AppError('ARTIFACT_INTEGRITY_ERR', `Model ${v.name} version ${v.version} failed verification: ${why}.`, { details: { ...report } });
  }
}
