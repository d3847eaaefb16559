/**
 * The datasets part of the typed client: uploading and registering dataset versions, reading them
 * with their profiles, linking them to runs (/api/capstan/datasets/...), and the lineage graph of
 * models and datasets (/api/capstan/lineage/...). CapstanClient extends this class and supplies the
 * transport.
 */
import { RegistryClient, UploadBody } from './registry.client.js';

export const DATASET_ACCESS_LEVELS = ['public', 'internal', 'restricted'] as const;
export type DatasetAccessLevel = (typeof DATASET_ACCESS_LEVELS)[number];
export const DATASET_FORMATS = ['csv', 'tsv', 'jsonl'] as const;
export type DatasetFormat = (typeof DATASET_FORMATS)[number];

export interface WireColumnProfile {
  name: string;
  type: 'integer' | 'float' | 'boolean' | 'string' | 'empty';
  /** Non-missing values. */
  count: number;
  missing: number;
  /** missing / rows. */
  missing_share: number;
  /** An estimate when distinct_exact is false. */
  distinct: number;
  distinct_exact: boolean;
  /** min, max and mean for numeric columns; std when there are at least two values. */
  min?: number;
  max?: number;
  mean?: number;
  std?: number;
  /** Most frequent values first, for string, boolean and low-cardinality integer columns. */
  top?: { value: string; count: number }[];
}

export interface WireDatasetVersion {
  name: string;
  version: number;
  /** sha256 over the manifest of files: the content's identity. */
  digest: string;
  source: string;
  storage_root: string;
  format: string;
  size_bytes: number;
  file_count: number;
  row_count: number;
  schema: { name: string; type: string }[];
  description: string;
  sensitive: boolean;
  access: DatasetAccessLevel;
  created_time: number;
  created_by: string;
  /** Present when one version is read, absent in lists. */
  profile?: { format: string; rows: number; columns: WireColumnProfile[] };
  files?: { path: string; size: number; sha256: string }[];
}

export interface RegisterDatasetRequest {
  name: string;
  /** upload:<id>, runs:/<run_id>/<path>, mlflow-artifacts:/<path> or s3://<bucket>/<prefix> (admins only). */
  source: string;
  description?: string;
  sensitive?: boolean;
  access?: DatasetAccessLevel;
  /** Taken from the files' extensions when absent. */
  format?: DatasetFormat;
  /** CSV/TSV: whether the first line names the columns (the server's default is true). */
  header?: boolean;
}

export interface WireLineageNode {
  /** `model:<name>/<version>`, `run:<run_id>`, `dataset:<name>@<version>` or `dataset:<name>#<digest>`. */
  id: string;
  kind: 'dataset_version' | 'dataset' | 'run' | 'pipeline_run' | 'model_version' | 'deployment';
  label: string;
  attributes: Record<string, unknown>;
}

export interface WireLineageGraph {
  /** The id of the node asked about. */
  root: string;
  nodes: WireLineageNode[];
  edges: { from: string; to: string; kind: 'input_of' | 'produced' | 'child_of' | 'serves'; attributes?: Record<string, unknown> }[];
  /** What the graph cannot show yet. */
  notes: string[];
}

type Query = Record<string, string | string[] | undefined>;
const DATASETS = '/api/capstan/datasets';
const LINEAGE = '/api/capstan/lineage';

export abstract class DatasetsClient extends RegistryClient {
  /** Starts an upload; its files then go to uploadDatasetFile and the whole to registerDataset as `upload:<id>`. */
  async startDatasetUpload(): Promise<string> {
    return (await this.call<{ upload_id: string }>('POST', `${DATASETS}/uploads`)).upload_id;
  }

  /** Streams one file of an upload; `path` is '/'-separated below the dataset's root. */
  async uploadDatasetFile(uploadId: string, path: string, stream: AsyncIterable<Uint8Array>, sizeBytes: number): Promise<void> {
    const encoded = path.split('/').map(encodeURIComponent).join('/');
    await this.call('PUT', `${DATASETS}/uploads/${encodeURIComponent(uploadId)}/files/${encoded}`, new UploadBody(stream, sizeBytes));
  }

  /** Idempotent by content: the same files under the same name give the existing version and `created: false`. */
  async registerDataset(req: RegisterDatasetRequest): Promise<{ dataset_version: WireDatasetVersion; created: boolean }> {
    return this.call('POST', `${DATASETS}/register`, req);
  }

  /** One version with its profile and files; the latest when `version` is absent. */
  async getDataset(name: string, version?: number): Promise<WireDatasetVersion> {
    const query: Query = { name, version: version?.toString() };
    return (await this.call<{ dataset_version: WireDatasetVersion }>('GET', `${DATASETS}/get`, undefined, query)).dataset_version;
  }

  /** Every version in the project, or of one name, without profiles. */
  async listDatasets(name?: string): Promise<WireDatasetVersion[]> {
    return (await this.call<{ dataset_versions: WireDatasetVersion[] }>('GET', `${DATASETS}/list`, undefined, { name })).dataset_versions;
  }

  /** Records the version as an input of the run (MLflow's log-inputs); `context` is e.g. training. */
  async linkDataset(runId: string, name: string, version: number, context?: string): Promise<WireDatasetVersion> {
    const body = { run_id: runId, name, version, context };
    return (await this.call<{ dataset_version: WireDatasetVersion }>('POST', `${DATASETS}/link`, body)).dataset_version;
  }

  /** Back from a model version (models:/name/3, models:/name@alias) to its run, parent runs and datasets. */
  async modelLineage(uri: string): Promise<WireLineageGraph> {
    return (await this.call<{ graph: WireLineageGraph }>('GET', `${LINEAGE}/model`, undefined, { uri, format: 'json' })).graph;
  }

  /** The same graph as a Mermaid flowchart. */
  async modelLineageMermaid(uri: string): Promise<string> {
    return (await this.call<{ mermaid: string }>('GET', `${LINEAGE}/model`, undefined, { uri, format: 'mermaid' })).mermaid;
  }

  /** Forward from a dataset version to the runs that read it and the model versions they produced. */
  async datasetLineage(name: string, version: number): Promise<WireLineageGraph> {
    const query = { name, version: String(version), format: 'json' };
    return (await this.call<{ graph: WireLineageGraph }>('GET', `${LINEAGE}/dataset`, undefined, query)).graph;
  }

  async datasetLineageMermaid(name: string, version: number): Promise<string> {
    const query = { name, version: String(version), format: 'mermaid' };
    return (await this.call<{ mermaid: string }>('GET', `${LINEAGE}/dataset`, undefined, query)).mermaid;
  }
}
