import type { ManifestFile } from '../registry/index.js';
import type { DatasetProfile } from './profile.js';

/** How widely a dataset may be shared; gates can forbid promoting models trained on sensitive public data. */
export const ACCESS_LEVELS = ['public', 'internal', 'restricted'] as const;
export type AccessLevel = (typeof ACCESS_LEVELS)[number];

export interface DatasetVersion {
  id: number;
  projectId: number;
  name: string;
  version: number;
  /** sha256 over the manifest (each file's path, size and sha256): the content's identity. */
  digest: string;
  storageRoot: string;
  source: string;
  format: string;
  sizeBytes: number;
  fileCount: number;
  rowCount: number;
  schema: { name: string; type: string }[];
  profile: DatasetProfile;
  files: ManifestFile[];
  description: string;
  sensitive: boolean;
  access: AccessLevel;
  createdTime: number;
  createdBy: string;
}

/** MLflow dataset digests are at most 36 characters; Capstan's are longer, so MLflow sees a prefix. */
export const MLFLOW_DIGEST_LENGTH = 32;
export const mlflowDigestOf = (digest: string) => digest.replace(/^sha256:/, '').slice(0, MLFLOW_DIGEST_LENGTH);
