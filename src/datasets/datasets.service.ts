import { createHash, randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { checkArtifactPath, DATASET_UPLOADS_PREFIX } from '../artifacts/index.js';
import { AppError, invalidParam, notFound } from '../errors/index.js';
import { fileKey, listFiles, manifestDigest, parseRunsUri, runArtifactKey, sortManifest, storageKeyOf, type ManifestFile } from '../registry/index.js';
import type { BlobStore, S3Options } from '../store/blob/index.js';
import type { Db } from '../store/sql/index.js';
import type { DatasetInput, TrackingService } from '../tracking/index.js';
import { DatasetSql } from './datasets.sql.js';
import { ProfileBuilder, schemaOf, type DatasetFormat, type DatasetProfile } from './profile.js';
import { listS3Source } from './s3-source.js';
import { mlflowDigestOf, type AccessLevel, type DatasetVersion } from './types.js';

/** Profile types as MLflow names them: its `integer` and `float` are 32-bit, the profile's are 64-bit. */
const MLFLOW_COLUMN_TYPES: Record<string, string> = { integer: 'long', float: 'double', boolean: 'boolean', string: 'string' };

export const DATASETS_PREFIX = DATASET_UPLOADS_PREFIX;
const UPLOAD_ID = /^\d{13}-[0-9a-f-]{36}$/;

export interface RegisterRequest {
  name: string;
  /** `upload:<id>`, `runs:/<run>/<path>` or `mlflow-artifacts:/<path>` in the project. */
  source: string;
  description?: string;
  sensitive?: boolean;
  access?: AccessLevel;
  format?: DatasetFormat;
  header?: boolean;
  actor: string;
}

/** What a gate or the lineage graph knows of one input of a run. */
export interface RunDataset {
  name: string;
  digest: string;
  version: number | null;
  sensitive: boolean;
  access: string;
  rows: number;
  context: string;
}

function checkDatasetName(name: string): void {
  if (!/^[\w.-]{1,200}$/.test(name)) throw invalidParam(`Invalid dataset name '${name}': use letters, digits, '.', '_' and '-' (at most 200).`);
}

/** Dataset versions by content hash, with schema and profile computed while reading them once. */
export class DatasetService {
  readonly sql: DatasetSql;

  constructor(
    db: Db,
    private readonly blobs: BlobStore,
    private readonly tracking: TrackingService,
    /** How the server reads s3:// sources it did not write: its own S3 settings. */
    private readonly s3: S3Options = {},
    private readonly now: () => number = Date.now,
  ) {
    this.sql = new DatasetSql(db);
  }

  /** An upload id carries its creation time, so the garbage collector knows an abandoned upload's age. */
  newUpload(): string {
    return `${this.now()}-${randomUUID()}`;
  }

  private uploadRoot(projectId: number, uploadId: string): string {
    if (!UPLOAD_ID.test(uploadId)) throw invalidParam(`Invalid upload id '${uploadId.slice(0, 80)}': ask POST /api/capstan/datasets/uploads for one.`);
    return `${DATASETS_PREFIX}/${projectId}/${uploadId}`;
  }

  async upload(projectId: number, uploadId: string, path: string, body: Readable, sizeBytes?: number): Promise<void> {
    const rel = checkArtifactPath(path);
    if (rel === '') throw invalidParam('An uploaded dataset file needs a path.');
    await this.blobs.put(`${this.uploadRoot(projectId, uploadId)}/${rel}`, body, { sizeBytes });
  }

  private async rootOf(projectId: number, source: string): Promise<string> {
    if (source.startsWith('upload:')) return this.uploadRoot(projectId, source.slice('upload:'.length));
    const runs = parseRunsUri(source);
    const key = runs
      ? runArtifactKey((await this.tracking.getRun(runs.runId)).info.artifactUri, runs.path, 'dataset source')
      : storageKeyOf(source, 'dataset source');
    const experimentId = key.split('/')[0] ?? '';
    if ((await this.tracking.projectsOf('experiment', [experimentId])).get(experimentId) !== projectId) {
      throw invalidParam(`Invalid dataset source '${source}': it is not an artifact location of an experiment in this project.`);
    }
    return key;
  }

  /** Files in Capstan's own store: their hashes were recorded on upload and are checked on every read. */
  private async readStored(root: string, builder: ProfileBuilder): Promise<ManifestFile[]> {
    const files = sortManifest(await listFiles(this.blobs, root)).files;
    for (const f of files) await builder.addFile(f.path, (await this.blobs.get(fileKey(root, files, f.path))).body);
    return files;
  }

  /** Objects Capstan did not write: hashed as they are profiled, in one read. */
  private async readExternal(uri: string, builder: ProfileBuilder): Promise<ManifestFile[]> {
    const files: ManifestFile[] = [];
    for (const f of await listS3Source(uri, this.s3)) {
      const opened = await f.open();
      await builder.addFile(f.path, opened.body);
      files.push({ path: f.path, size: f.size, sha256: opened.sha256() });
    }
    return files;
  }

  /**
   * The text of one CSV file of a version in Capstan's store (the only one, or `path`), checked
   * against the sha256 its manifest recorded: what a model's reference profile is built from.
   */
  async readCsv(projectId: number, name: string, version: number, path?: string, maxBytes = 512 * 1024 * 1024): Promise<string> {
    const v = await this.get(projectId, name, version);
    if (v.source.startsWith('s3://')) throw invalidParam(`Dataset ${name} version ${version} lives in ${v.source}; build the profile from a copy in Capstan's store, or send the CSV.`);
    const csvs = v.files.filter((f) => /\.csv$/i.test(f.path));
    const file = path ? v.files.find((f) => f.path === path) : csvs.length === 1 ? csvs[0] : undefined;
    if (!file) throw invalidParam(path ? `Dataset ${name} version ${version} has no file '${path}'.` : `Dataset ${name} version ${version} has ${csvs.length} CSV files; name one with dataset_path (${csvs.map((f) => f.path).slice(0, 5).join(', ')}).`);
    if (file.size > maxBytes) throw invalidParam(`${file.path} is ${file.size} bytes; reference profiles read at most ${maxBytes}.`);
    const body = await this.blobs.get(fileKey(v.storageRoot, v.files, file.path));
    const chunks: Buffer[] = [];
    for await (const c of body.body) chunks.push(Buffer.from(c as Uint8Array));
    const bytes = Buffer.concat(chunks);
    if (createHash('sha256').update(bytes).digest('hex') !== file.sha256) throw new AppError('ARTIFACT_INTEGRITY_ERR', `${file.path} of dataset ${name} version ${version} no longer matches its manifest.`);
    return bytes.toString('utf8');
  }

  /** One stored file of a dataset version as a stream; the blob store checks its sha256 at the end of the read. */
  async openFile(projectId: number, name: string, version: number, path: string): Promise<Readable> {
    const v = await this.get(projectId, name, version);
    if (v.source.startsWith('s3://')) throw invalidParam(`Dataset ${name} version ${version} lives in ${v.source}; steps read it from there.`);
    if (!v.files.some((f) => f.path === path)) throw invalidParam(`Dataset ${name} version ${version} has no file '${path}'.`);
    return (await this.blobs.get(fileKey(v.storageRoot, v.files, path))).body;
  }

  /** Registers the files at the source; the same content under the same name is the same version. */
  async register(projectId: number, req: RegisterRequest): Promise<{ version: DatasetVersion; created: boolean }> {
    checkDatasetName(req.name);
    const external = req.source.startsWith('s3://');
    const root = external ? req.source : await this.rootOf(projectId, req.source);
    const builder = new ProfileBuilder({ format: req.format, header: req.header });
    const files = external ? await this.readExternal(root, builder) : await this.readStored(root, builder);
    if (files.length === 0) throw invalidParam(`Invalid dataset source '${req.source}': no files are stored there.`);
    const profile: DatasetProfile = builder.result();
    const result = await this.sql.insert({
      projectId, name: req.name, digest: manifestDigest({ files }), storageRoot: root, source: req.source, format: profile.format,
      sizeBytes: files.reduce((n, f) => n + f.size, 0), fileCount: files.length, rowCount: profile.rows, schema: schemaOf(profile), profile, files,
      description: req.description ?? '', sensitive: req.sensitive ?? false, access: req.access ?? 'internal', createdTime: this.now(), createdBy: req.actor,
    });
    // The same content again: the new upload is a duplicate of stored files and can go at once.
    if (!result.created && req.source.startsWith('upload:') && result.version.storageRoot !== root) await this.blobs.delete(`${root}/`);
    return result;
  }

  async get(projectId: number, name: string, version?: number): Promise<DatasetVersion> {
    checkDatasetName(name);
    const found = version === undefined ? await this.sql.latest(projectId, name) : await this.sql.get(projectId, name, version);
    if (!found) throw notFound(`Dataset ${name}${version === undefined ? '' : ` version ${version}`} not found.`);
    return found;
  }

  list(projectId: number, name?: string): Promise<DatasetVersion[]> {
    return this.sql.list(projectId, name, 10_000);
  }

  /** Records the dataset version as an input of the run, the way MLflow's log-inputs does. */
  async link(projectId: number, runId: string, name: string, version: number, context: string): Promise<DatasetVersion> {
    const dv = await this.get(projectId, name, version);
    if ((await this.tracking.projectsOf('run', [runId])).get(runId) !== projectId) throw invalidParam(`Run ${runId} is not in this project; link datasets to runs of the same project.`);
    const input: DatasetInput = {
      tags: context ? [{ key: 'mlflow.data.context', value: context }] : [],
      dataset: {
        name: dv.name, digest: mlflowDigestOf(dv.digest), sourceType: 'capstan',
        source: JSON.stringify({ uri: `capstan-dataset:/${dv.name}@${dv.version}` }),
        schema: JSON.stringify({ mlflow_colspec: dv.schema.map((c) => ({ name: c.name, type: MLFLOW_COLUMN_TYPES[c.type] ?? 'string' })) }),
        profile: JSON.stringify({ num_rows: dv.rowCount }),
      },
    };
    await this.tracking.logInputs(runId, [input]);
    return dv;
  }

  /** The run's inputs, each matched to a registered dataset version where name and digest agree. */
  async runDatasets(projectId: number, runId: string): Promise<RunDataset[]> {
    const run = await this.tracking.getRun(runId);
    const inputs = run.inputs.datasetInputs;
    const known = await this.sql.byNames(projectId, [...new Set(inputs.map((i) => i.dataset.name))]);
    return inputs.map((i) => {
      const dv = known.find((k) => k.name === i.dataset.name && mlflowDigestOf(k.digest) === i.dataset.digest);
      const context = i.tags.find((t) => t.key === 'mlflow.data.context')?.value ?? '';
      return dv
        ? { name: dv.name, digest: dv.digest, version: dv.version, sensitive: dv.sensitive, access: dv.access, rows: dv.rowCount, context }
        : { name: i.dataset.name, digest: i.dataset.digest, version: null, sensitive: false, access: '', rows: 0, context };
    });
  }

  async pinHolder(key: string): Promise<string | null> {
    if (key === '') return null;
    const root = await this.sql.pinnedAt(key);
    return root === undefined ? null : `a dataset version (files at '${root}')`;
  }
}
