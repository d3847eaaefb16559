import { createHash } from 'node:crypto';
import { AppError, notFound } from '../errors/index.js';
import { fileKey, readBlob, type ModelVersion, type RegistryService } from '../registry/index.js';
import type { BlobStore } from '../store/blob/index.js';

export interface LoadableModel {
  version: ModelVersion;
  /** The verified bytes of the version's ONNX file. */
  bytes: Uint8Array;
  path: string;
  sha256: string;
}

/** The ONNX file of a version: the only one, or `model.onnx` (MLflow's onnx flavour) among several. */
export function onnxFileOf(v: ModelVersion): string {
  const onnx = v.manifest.files.filter((f) => f.path.toLowerCase().endsWith('.onnx'));
  if (onnx.length === 1) return onnx[0].path;
  const flavour = onnx.find((f) => f.path === 'model.onnx' || f.path.endsWith('/model.onnx'));
  if (flavour) return flavour.path;
  if (onnx.length === 0) throw new AppError('INVALID_PARAMETER_VALUE', `Model ${v.name} version ${v.version} has no .onnx file; Capstan serves ONNX models.`);
  throw new AppError('INVALID_PARAMETER_VALUE', `Model ${v.name} version ${v.version} has ${onnx.length} .onnx files (${onnx.map((f) => f.path).join(', ')}); name one model.onnx.`);
}

/**
 * Loads what serving may run: the version's manifest digest and signature are verified first
 * (requireVerified re-reads every file), then the ONNX file is read once more and its hash checked
 * against the signed manifest, so the bytes handed to the runtime are the ones that were signed.
 */
export class ModelSource {
  constructor(
    private readonly registry: RegistryService,
    private readonly blobs: BlobStore,
  ) {}

  /** `version` is a number or `@alias`. */
  async resolve(projectId: number, model: string, version: string): Promise<ModelVersion> {
    const v = version.startsWith('@') ? await this.registry.versionByAlias(projectId, model, version.slice(1)) : await this.registry.version(projectId, model, version);
    if (v.stage === 'Deleted_Internal') throw notFound(`Model ${model} version ${v.version} is deleted.`);
    if (v.status !== 'READY') throw new AppError('MODEL_NOT_READY', `Model ${model} version ${v.version} is still being registered.`, { details: { retry_after_seconds: 1 } });
    return v;
  }

  async load(v: ModelVersion): Promise<LoadableModel> {
    const path = onnxFileOf(v);
    await this.registry.requireVerified(v);
    const entry = v.manifest.files.find((f) => f.path === path)!;
    const bytes = await readBlob(this.blobs, fileKey(v.storageRoot, v.manifest.files, path));
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (sha256 !== entry.sha256) {
      throw new AppError('ARTIFACT_INTEGRITY_ERR', `Model ${v.name} version ${v.version}: ${path} changed after verification (sha256 ${sha256}, signed ${entry.sha256}).`);
    }
    return { version: v, bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path, sha256 };
  }
}
