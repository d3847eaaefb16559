import type { Readable } from 'node:stream';
import type { BlobStore } from '../store/blob/index.js';
import { UPLOADS_PREFIX } from './artifacts.service.js';

/** Where dataset uploads are staged: `<prefix>/<project_id>/<created-ms>-<uuid>/...` (the datasets domain writes them). */
export const DATASET_UPLOADS_PREFIX = '_capstan_datasets';
export const DEFAULT_GC_GRACE_MS = 24 * 60 * 60 * 1000;

const EXPERIMENT_ID = /^\d+$/;
/** Run ids as MLflow and Capstan make them (uuid4 hex). Anything else under an experiment is left alone. */
const RUN_ID = /^[0-9a-f]{32}$/;
const DATASET_UPLOAD_ID = /^(\d{13})-[0-9a-f-]{36}$/;
const LOGGED_MODELS_DIR = 'models';
/** A multipart manifest is a few hundred bytes; anything far larger is not one we wrote. */
const MAX_MANIFEST_BYTES = 64 * 1024;

const PINNED = 'holds files of a live registered model version or dataset version';
const LIVE_MODEL_INSIDE = 'a logged model stored here still exists (its experiment keeps artifacts under this id)';
const LIVE_RUN_INSIDE = 'the experiment does not exist but a run stored under it does';
const NO_MANIFEST = 'multipart upload without a readable manifest; its age is unknown';

/**
 * What the collector asks of the metadata stores. Each answer must reflect committed state: a record
 * created before its files are uploaded (experiments, runs, logged models, versions) is what makes
 * collecting while clients are writing safe.
 */
export interface GcReferences {
  /** True for any experiment still recorded, including soft-deleted ones. */
  experimentExists(id: string): Promise<boolean>;
  /** `deletedTime` is set for a soft-deleted run, null for a live one. */
  run(id: string): Promise<{ exists: boolean; deletedTime: number | null }>;
  loggedModelExists(experimentId: string, modelId: string): Promise<boolean>;
  /** True when a live model or dataset version's storage root is at, above or below `key`. */
  isPinned(key: string): Promise<boolean>;
  /** True when some dataset version's storage root is exactly `root`. */
  datasetRootExists(root: string): Promise<boolean>;
}

export interface GcOptions {
  /** Report what would go without removing anything. */
  dryRun: boolean;
  /** Uploads (multipart and dataset) younger than this are in flight and kept. Default 24h. */
  graceMs?: number;
  /** Remove artifacts of runs deleted longer ago than this; undefined keeps deleted runs' files. */
  purgeDeletedRunsOlderThanMs?: number;
  now?: number;
  /** Called once per prefix as it is removed (in a dry run: as it would be). */
  onRemove?: (prefix: string) => void;
}

export interface GcRemoval {
  prefix: string;
  reason: string;
  files: number;
  bytes: number;
}

export interface GcReport {
  dryRun: boolean;
  /** In the order the store lists them; a dry run lists what a real run at the same moment removes. */
  removed: GcRemoval[];
  /** Prefixes that met a removal rule but were kept anyway, and why. */
  skipped: { prefix: string; reason: string }[];
  /** Units examined and left in place: runs, logged models, uploads, unknown entries, skipped prefixes. */
  kept: number;
  bytesRemoved: number;
}

/**
 * Removes artifact-store files nothing refers to any more. The store is walked by its layout:
 * `<experiment>/<run>/...`, `<experiment>/models/<logged model>/...`, multipart uploads and dataset
 * uploads. A top-level entry, or an entry under an experiment, that fits none of these is kept:
 * the collector never deletes what it does not understand. Each prefix is checked against the pins
 * just before it is removed, so a version registered from those files during a long walk still
 * keeps them; only one registration landing between that check and the delete could lose its files.
 */
export async function collectGarbage(blobs: BlobStore, refs: GcReferences, opts: GcOptions): Promise<GcReport> {
  const collector = new Collector(blobs, refs, opts);
  await collector.walkRoot();
  return collector.report;
}

class Collector {
  readonly report: GcReport;
  private readonly now: number;
  private readonly graceMs: number;

  constructor(
    private readonly blobs: BlobStore,
    private readonly refs: GcReferences,
    private readonly opts: GcOptions,
  ) {
    this.report = { dryRun: opts.dryRun, removed: [], skipped: [], kept: 0, bytesRemoved: 0 };
    this.now = opts.now ?? Date.now();
    this.graceMs = opts.graceMs ?? DEFAULT_GC_GRACE_MS;
  }

  async walkRoot(): Promise<void> {
    for (const entry of await this.blobs.list('')) {
      if (!entry.isDir) this.keep();
      else if (entry.name === UPLOADS_PREFIX) await this.walkMultipartUploads();
      else if (entry.name === DATASET_UPLOADS_PREFIX) await this.walkDatasetUploads();
      else if (EXPERIMENT_ID.test(entry.name)) await this.walkExperiment(entry.name);
      else this.keep();
    }
  }

  private async walkExperiment(experimentId: string): Promise<void> {
    if (!(await this.refs.experimentExists(experimentId))) return this.removeOrphanExperiment(experimentId);
    for (const entry of await this.blobs.list(experimentId)) {
      const prefix = `${experimentId}/${entry.name}`;
      if (entry.isDir && entry.name === LOGGED_MODELS_DIR) await this.walkLoggedModels(experimentId);
      else if (entry.isDir && RUN_ID.test(entry.name)) await this.checkRun(prefix, entry.name);
      else this.keep();
    }
  }

  /**
   * An experiment created with its own artifact_location can keep its runs under another experiment's
   * id, so a directory whose experiment is gone is kept while any run stored in it is still recorded.
   */
  private async removeOrphanExperiment(experimentId: string): Promise<void> {
    for (const entry of await this.blobs.list(experimentId)) {
      if (entry.isDir && RUN_ID.test(entry.name) && (await this.refs.run(entry.name)).exists) {
        return this.skip(experimentId, LIVE_RUN_INSIDE);
      }
      if (entry.isDir && entry.name === LOGGED_MODELS_DIR) {
        for (const model of await this.blobs.list(`${experimentId}/${LOGGED_MODELS_DIR}`)) {
          if (model.isDir && (await this.refs.loggedModelExists(experimentId, model.name))) return this.skip(experimentId, LIVE_MODEL_INSIDE);
        }
      }
    }
    await this.remove(experimentId, 'orphan: the experiment does not exist');
  }

  private async checkRun(prefix: string, runId: string): Promise<void> {
    const run = await this.refs.run(runId);
    const purgeMs = this.opts.purgeDeletedRunsOlderThanMs;
    if (!run.exists) return this.remove(prefix, 'orphan: the run does not exist');
    if (run.deletedTime !== null && purgeMs !== undefined && this.now - run.deletedTime > purgeMs) {
      return this.remove(prefix, `the run was deleted more than ${purgeMs} ms ago`);
    }
    this.keep();
  }

  private async walkLoggedModels(experimentId: string): Promise<void> {
    const parent = `${experimentId}/${LOGGED_MODELS_DIR}`;
    for (const entry of await this.blobs.list(parent)) {
      const prefix = `${parent}/${entry.name}`;
      if (entry.isDir && !(await this.refs.loggedModelExists(experimentId, entry.name))) {
        await this.remove(prefix, 'orphan: the logged model does not exist');
      } else {
        this.keep();
      }
    }
  }

  private async walkMultipartUploads(): Promise<void> {
    for (const entry of await this.blobs.list(UPLOADS_PREFIX)) {
      const prefix = `${UPLOADS_PREFIX}/${entry.name}`;
      if (!entry.isDir) {
        this.keep();
        continue;
      }
      const createdAt = await this.manifestCreatedAt(prefix);
      if (createdAt === undefined) this.skip(prefix, NO_MANIFEST);
      else if (this.now - createdAt > this.graceMs) await this.remove(prefix, 'abandoned multipart upload older than the grace period');
      else this.keep();
    }
  }

  private async walkDatasetUploads(): Promise<void> {
    for (const project of await this.blobs.list(DATASET_UPLOADS_PREFIX)) {
      const projectPrefix = `${DATASET_UPLOADS_PREFIX}/${project.name}`;
      if (!project.isDir) {
        this.keep();
        continue;
      }
      for (const upload of await this.blobs.list(projectPrefix)) {
        const prefix = `${projectPrefix}/${upload.name}`;
        const createdMs = upload.isDir ? DATASET_UPLOAD_ID.exec(upload.name)?.[1] : undefined;
        const isStale = createdMs !== undefined && this.now - Number(createdMs) > this.graceMs;
        if (isStale && !(await this.refs.datasetRootExists(prefix))) {
          await this.remove(prefix, 'dataset upload older than the grace period that no dataset version uses');
        } else {
          this.keep();
        }
      }
    }
  }

  /** The upload's `createdAt` from its manifest, or undefined when there is no usable manifest. */
  private async manifestCreatedAt(prefix: string): Promise<number | undefined> {
    const key = `${prefix}/manifest.json`;
    try {
      const info = await this.blobs.head(key);
      if (!info || info.sizeBytes > MAX_MANIFEST_BYTES) return undefined;
      const manifest = JSON.parse(await readText((await this.blobs.get(key)).body)) as { createdAt?: unknown };
      return typeof manifest.createdAt === 'number' && Number.isFinite(manifest.createdAt) ? manifest.createdAt : undefined;
    } catch {
      // A manifest being written this instant, or a damaged one: either way its age is unknown, so keep it.
      return undefined;
    }
  }

  private async remove(prefix: string, reason: string): Promise<void> {
    if (await this.refs.isPinned(prefix)) return this.skip(prefix, PINNED);
    const { files, bytes } = await measure(this.blobs, prefix);
    if (!this.opts.dryRun) await this.blobs.delete(`${prefix}/`);
    this.report.removed.push({ prefix, reason, files, bytes });
    this.report.bytesRemoved += bytes;
    this.opts.onRemove?.(prefix);
  }

  private skip(prefix: string, reason: string): void {
    this.report.skipped.push({ prefix, reason });
    this.keep();
  }

  private keep(): void {
    this.report.kept += 1;
  }
}

/** Files and bytes below `prefix`, from the listings (which carry sizes on every backend). */
async function measure(blobs: BlobStore, prefix: string): Promise<{ files: number; bytes: number }> {
  const total = { files: 0, bytes: 0 };
  for (const entry of await blobs.list(prefix)) {
    const key = `${prefix}/${entry.name}`;
    if (entry.isDir) {
      const below = await measure(blobs, key);
      total.files += below.files;
      total.bytes += below.bytes;
    } else {
      total.files += 1;
      total.bytes += entry.sizeBytes ?? (await blobs.head(key))?.sizeBytes ?? 0;
    }
  }
  return total;
}

async function readText(body: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
