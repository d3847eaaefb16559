import { compact } from '../tracking/index.js';
import type { ModelEvent, ModelVersion, RegisteredModel } from './types.js';

const tagsToWire = (tags: { key: string; value: string }[]) => (tags.length ? tags.map((t) => ({ key: t.key, value: t.value })) : undefined);

/** MLflow's ModelVersion message; MLflow omits empty fields and sends the number as a string. */
export function modelVersionToWire(v: ModelVersion) {
  return compact({
    name: v.name,
    version: String(v.version),
    creation_timestamp: v.creationTime,
    last_updated_timestamp: v.lastUpdateTime,
    user_id: v.userId || undefined,
    current_stage: v.stage,
    description: v.description || undefined,
    source: v.source,
    run_id: v.runId || undefined,
    status: v.status,
    tags: tagsToWire(v.tags),
    run_link: v.runLink || undefined,
    aliases: v.aliases.length ? v.aliases : undefined,
  });
}

export function registeredModelToWire(m: RegisteredModel, latest: ModelVersion[] = []) {
  return compact({
    name: m.name,
    creation_timestamp: m.creationTime,
    last_updated_timestamp: m.lastUpdateTime,
    description: m.description || undefined,
    latest_versions: latest.length ? latest.map(modelVersionToWire) : undefined,
    tags: tagsToWire(m.tags),
    aliases: m.aliases.length ? m.aliases.map((a) => ({ alias: a.alias, version: String(a.version) })) : undefined,
  });
}

/** Capstan's full view of a version: MLflow's fields plus what governs it. */
export function versionDetailToWire(v: ModelVersion) {
  return {
    ...modelVersionToWire(v),
    semver: v.semver,
    storage_root: v.storageRoot,
    manifest: v.manifest,
    manifest_digest: v.manifestDigest,
    signing_key_id: v.signingKeyId,
    manifest_signature: v.manifestSignature,
    model_signature: v.signature,
    card: v.card,
    unsafe_files: v.unsafeFiles,
    code_version: v.codeVersion,
    logged_model_id: v.loggedModelId || undefined,
  };
}

export function eventToWire(e: ModelEvent) {
  return { event_id: e.eventId, version: e.version === null ? undefined : String(e.version), time: e.time, actor: e.actor, kind: e.kind, detail: e.detail };
}
