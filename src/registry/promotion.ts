import { AppError, invalidParam, notFound } from '../errors/index.js';
import { outsideAudit } from '../access/index.js';
import type { Db } from '../store/sql/index.js';
import type { TrackingService } from '../tracking/index.js';
import { denialMessage, evaluateGates, gatesFor, type GateInput, type GateReport } from './gates.js';
import type { PolicyService } from './policy.service.js';
import { canonicalStage, type RegistryService } from './registry.service.js';
import type { ModelVersion, RegisteredModel, Stage, TensorSpec } from './types.js';

/** Who asks for a promotion, and whether they may override a denial (project admins). */
export interface Promoter {
  actor: string;
  mayOverride: boolean;
  overrideReason?: string;
}

/** Dataset facts a gate can see, by run: the dataset versions the run used as inputs. */
export type RunDatasets = (projectId: number, runId: string) => Promise<GateInput['datasets']>;

const RESERVED_ALIAS = /^v\d+$/i;

export function checkAlias(alias: string): void {
  if (typeof alias !== 'string' || !/^[\w-]{1,255}$/.test(alias)) throw invalidParam(`Invalid alias name '${alias}': use letters, digits, '_' and '-' (at most 255).`);
  if (alias.toLowerCase() === 'latest' || RESERVED_ALIAS.test(alias)) throw invalidParam(`Invalid alias name '${alias}': 'latest' and 'v<number>' are reserved.`);
}

const toRecord = (list: { key: string; value: string }[]) => Object.fromEntries(list.map((t) => [t.key, t.value]));

/**
 * Alias and stage changes: each runs the gates the project's policy sets on that alias or stage.
 * A denial is recorded in the model's history (and the audit log, by the error's code) and refused
 * with POLICY_DENIED, unless an admin overrides it with a reason, which is recorded too.
 */
export class PromotionService {
  constructor(
    private readonly db: Db,
    private readonly registry: RegistryService,
    private readonly policies: PolicyService,
    private readonly tracking: TrackingService,
    private readonly runDatasets: RunDatasets,
    private readonly now: () => number = Date.now,
  ) {}

  async gateInput(projectId: number, model: RegisteredModel, v: ModelVersion): Promise<GateInput> {
    const run = v.runId && v.runId !== 'REDACTED-RUN-ID' ? await this.tracking.getRun(v.runId).catch(() => undefined) : undefined;
    const tensors = (list: TensorSpec[]) => list.map((t) => ({ name: t.name, datatype: t.datatype ?? '', shape: t.shape }));
    return {
      version: {
        name: v.name, version: v.version, semver: v.semver, source: v.source, run_id: v.runId, unsafe_format: v.unsafeFiles.length > 0,
        unsafe_files: v.unsafeFiles.map((f) => f.path), signed: v.manifestSignature !== '', description: v.description, stage: v.stage, aliases: v.aliases,
      },
      metrics: Object.fromEntries((run?.data.metrics ?? []).map((m) => [m.key, m.value])),
      params: toRecord(run?.data.params ?? []),
      tags: toRecord(v.tags),
      model_tags: toRecord(model.tags),
      card: v.card,
      datasets: run ? await this.runDatasets(projectId, run.info.runId) : [],
      signature: { inputs: tensors(v.signature?.inputs ?? []), outputs: tensors(v.signature?.outputs ?? []) },
    };
  }

  /** Runs the gates protecting `target`; returns the report when allowed (or overridden), else throws. */
  private async checkGates(projectId: number, model: RegisteredModel, v: ModelVersion, target: { alias?: string; stage?: string }, who: Promoter): Promise<GateReport | null> {
    const policy = await this.policies.current(projectId);
    const gates = policy ? gatesFor(policy.gates, target) : [];
    if (gates.length === 0) return null;
    const report = evaluateGates(gates, await this.gateInput(projectId, model, v));
    if (report.allowed) return report;
    const failed = report.results.filter((r) => !r.passed);
    if (who.overrideReason !== undefined) {
      if (!who.mayOverride) throw new AppError('PERMISSION_DENIED', 'Only a project admin may override a promotion gate.');
      if (who.overrideReason.trim() === '') throw invalidParam('override_reason must say why the gates are overridden.');
      return report;
    }
    // The denial is history even though the request fails, so it commits apart from the request.
    await outsideAudit(() => this.registry.models.addEvent(this.db, model.modelId, v.version, who.actor, 'promotion_denied', { target, failed }, this.now()));
    throw new AppError('POLICY_DENIED', denialMessage(report), { details: { target, results: failed } });
  }

  async setAlias(projectId: number, name: string, alias: string, version: string, who: Promoter): Promise<GateReport | null> {
    checkAlias(alias);
    const model = await this.registry.model(projectId, name);
    const v = await this.registry.version(projectId, name, version);
    const report = await this.checkGates(projectId, model, v, { alias }, who);
    const previous = model.aliases.find((a) => a.alias === alias)?.version ?? null;
    const now = this.now();
    await this.db.transaction(async (tx) => {
      if (!(await this.registry.versions.holdLive(tx, model.modelId, v.version, now))) throw notFound(`Model Version (name=${name}, version=${v.version}) not found`);
      await this.registry.models.setAlias(tx, model.modelId, alias, v.version);
      await this.registry.models.addEvent(tx, model.modelId, v.version, who.actor, 'alias_set', {
        alias, previous_version: previous, ...(report ? { gates: report.results.length } : {}),
        ...(report && !report.allowed ? { override_reason: who.overrideReason, failed: report.results.filter((r) => !r.passed) } : {}),
      }, now);
    });
    return report;
  }

  async deleteAlias(projectId: number, name: string, alias: string, actor: string): Promise<void> {
    const model = await this.registry.model(projectId, name);
    const previous = model.aliases.find((a) => a.alias === alias)?.version;
    if (previous === undefined) return;
    await this.db.transaction(async (tx) => {
      await this.registry.models.deleteAlias(tx, model.modelId, alias);
      await this.registry.models.addEvent(tx, model.modelId, previous, actor, 'alias_deleted', { alias }, this.now());
    });
  }

  async transitionStage(projectId: number, name: string, version: string, stageText: string, archiveExisting: boolean, who: Promoter): Promise<ModelVersion> {
    const stage = canonicalStage(stageText);
    if (archiveExisting && stage !== 'Staging' && stage !== 'Production') throw invalidParam(`archive_existing_versions is only allowed for Staging and Production, not ${stage}.`);
    const model = await this.registry.model(projectId, name);
    const v = await this.registry.version(projectId, name, version);
    const report = await this.checkGates(projectId, model, v, { stage }, who);
    const now = this.now();
    await this.db.transaction(async (tx) => {
      const archived = archiveExisting ? await this.registry.versions.othersInStage(tx, model.modelId, v.version, stage) : [];
      if (!(await this.registry.versions.setStage(tx, model.modelId, v.version, stage, now))) throw notFound(`Model Version (name=${name}, version=${v.version}) not found`);
      for (const other of archived) await this.registry.versions.setStage(tx, model.modelId, other, 'Archived' as Stage, now);
      await this.registry.models.addEvent(tx, model.modelId, v.version, who.actor, 'stage_changed', {
        from: v.stage, to: stage, archived,
        ...(report && !report.allowed ? { override_reason: who.overrideReason, failed: report.results.filter((r) => !r.passed) } : {}),
      }, now);
    });
    return this.registry.version(projectId, name, version);
  }
}
