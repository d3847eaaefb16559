import type { KeyValue } from '../tracking/index.js';

/** MLflow's deprecated but still used stages; `Deleted_Internal` marks a soft-deleted version. */
export const STAGES = ['None', 'Staging', 'Production', 'Archived'] as const;
export type Stage = (typeof STAGES)[number];
export const DELETED_STAGE = 'Deleted_Internal';

export const BUMPS = ['major', 'minor', 'patch'] as const;
export type Bump = (typeof BUMPS)[number];

export interface RegisteredModel {
  modelId: number;
  projectId: number;
  name: string;
  description: string;
  creationTime: number;
  lastUpdateTime: number;
  tags: KeyValue[];
  aliases: { alias: string; version: number }[];
}

/** One file of a model version, as hashed when it was registered. */
export interface ManifestFile {
  path: string;
  size: number;
  sha256: string;
}

export interface Manifest {
  files: ManifestFile[];
}

export type { TensorSpec } from './onnx-graph.js';
export type { ModelSignature } from './model-signature.js';
import type { ModelSignature } from './model-signature.js';

/** What a team writes down about a model version; every field is free text. */
export interface ModelCard {
  description: string;
  intended_use: string;
  training_data: string;
  metrics_summary: string;
  limitations: string;
  fairness: string;
}

export const CARD_FIELDS = ['description', 'intended_use', 'training_data', 'metrics_summary', 'limitations', 'fairness'] as const;

export interface ModelVersion {
  modelId: number;
  name: string;
  version: number;
  semver: string;
  description: string;
  source: string;
  storageRoot: string;
  runId: string;
  runLink: string;
  userId: string;
  stage: Stage | typeof DELETED_STAGE;
  /** PENDING_REGISTRATION while its files are listed, hashed and signed (pinned already). */
  status: 'READY' | 'PENDING_REGISTRATION';
  creationTime: number;
  lastUpdateTime: number;
  manifest: Manifest;
  manifestDigest: string;
  signingKeyId: string;
  manifestSignature: string;
  signature: ModelSignature | null;
  signatureReason?: string;
  card: ModelCard;
  unsafeFiles: { path: string; reason: string }[];
  codeVersion: string;
  loggedModelId: string;
  tags: KeyValue[];
  aliases: string[];
}

export interface ModelEvent {
  eventId: number;
  version: number | null;
  time: number;
  actor: string;
  kind: string;
  detail: Record<string, unknown>;
}
