import type { AuditLog } from '../access/index.js';
import { AppError, invalidParam, notFound } from '../errors/index.js';
import type { Db, SqlExecutor } from '../store/sql/index.js';
import { parseDeploymentSpec, specToDocument, type DeploymentSpec } from './deployment-spec.js';
import { NO_ROLLOUT, type DeploymentEvent, type RolloutState, type StoredDeployment } from './deployment-types.js';
import type { DeploymentsSql } from './deployments.sql.js';

export interface Actor {
  name: string;
  /** Set when a controller, not a request, makes the change: the change is audited here then. */
  system?: boolean;
}

/**
 * Deployment changes: apply a file, set traffic, roll back, promote, delete. Each change writes a
 * new revision, an event in the deployment's history and (for controller decisions, which have no
 * request) an audit event, in one transaction. A change computed from a stale read is refused and
 * retried by the caller, so two replicas' controllers cannot both step one rollout.
 */
export class DeploymentService {
  constructor(
    private readonly db: Db,
    private readonly sql: DeploymentsSql,
    private readonly audit: AuditLog,
    private readonly now: () => number = Date.now,
  ) {}

  async get(projectId: number, name: string): Promise<StoredDeployment> {
    const d = await this.sql.get(projectId, name);
    if (!d) throw notFound(`No deployment named '${name}' in this project.`);
    return d;
  }

  list(projectId: number): Promise<StoredDeployment[]> {
    return this.sql.list(projectId);
  }

  async events(projectId: number, name: string, limit?: number): Promise<DeploymentEvent[]> {
    return this.sql.events((await this.get(projectId, name)).deploymentId, limit);
  }

  /** Creates or replaces a deployment from its document; a rollout section starts a rollout at its first step. */
  async apply(projectId: number, document: unknown, actor: Actor): Promise<StoredDeployment> {
    const spec = parseDeploymentSpec(document);
    const now = this.now();
    const rollout: RolloutState = spec.rollout ? { status: 'progressing', step: 0, stepStartedAt: now, lastDecision: null } : NO_ROLLOUT;
    if (spec.rollout) setCanaryWeight(spec, spec.rollout.steps[0]);
    const doc = specToDocument(spec);
    await this.db.transaction(async (tx) => {
      const existing = await this.sql.get(projectId, spec.name, tx);
      if (existing) {
        if (!(await this.sql.update(tx, existing.deploymentId, existing.revision, doc, rollout, actor.name, now))) throw conflict(spec.name);
        await this.event(tx, existing.deploymentId, projectId, spec.name, actor, 'applied', { revision: existing.revision + 1, traffic: traffic(spec), rollout: rollout.status });
      } else {
        await this.sql.insert(tx, projectId, spec.name, doc, rollout, actor.name, now);
        const created = (await this.sql.get(projectId, spec.name, tx))!;
        await this.event(tx, created.deploymentId, projectId, spec.name, actor, 'created', { revision: 1, traffic: traffic(spec), rollout: rollout.status });
      }
    });
    return this.get(projectId, spec.name);
  }

  /** New weights for named targets (the rest keep theirs); a rollout in progress is paused by it. */
  async setTraffic(projectId: number, name: string, weights: Record<string, number>, actor: Actor): Promise<StoredDeployment> {
    return this.change(projectId, name, actor, 'traffic_set', (spec, rollout) => {
      for (const [target, weight] of Object.entries(weights)) {
        const t = spec.targets.find((x) => x.name === target);
        if (!t) throw invalidParam(`Deployment ${name} has no target '${target}' (it has ${spec.targets.map((x) => x.name).join(', ')}).`);
        if (!Number.isInteger(weight) || weight < 0 || weight > 100) throw invalidParam(`Weight of '${target}' must be an integer from 0 to 100; got ${weight}.`);
        t.weight = weight;
      }
      const total = spec.targets.reduce((n, t) => n + t.weight, 0);
      if (total !== 100) throw invalidParam(`Weights must add up to 100; they add up to ${total} (${spec.targets.map((t) => `${t.name}=${t.weight}`).join(', ')}).`);
      const paused = rollout.status === 'progressing';
      return { rollout: paused ? { ...rollout, status: 'paused' } : rollout, detail: { traffic: traffic(spec), ...(paused ? { rollout: 'paused' } : {}) } };
    });
  }

  /** All traffic back to the stable target; the canary keeps 0 % until the next apply. */
  async rollback(projectId: number, name: string, actor: Actor, reasons: string[] = [], observed: Record<string, unknown> = {}): Promise<StoredDeployment> {
    return this.change(projectId, name, actor, 'rolled_back', (spec, rollout) => {
      const r = requireRollout(spec, name);
      setCanaryWeight(spec, 0);
      const decision = { at: this.now(), verdict: 'fail', reasons, observed };
      return { rollout: { ...rollout, status: 'rolled_back', lastDecision: reasons.length ? decision : rollout.lastDecision }, detail: { canary: r.canary, traffic: traffic(spec), reasons, observed } };
    });
  }

  /** The canary's version becomes the stable target's, with all traffic; the rollout ends. */
  async promote(projectId: number, name: string, actor: Actor, observed: Record<string, unknown> = {}): Promise<StoredDeployment> {
    return this.change(projectId, name, actor, 'promoted', (spec, rollout) => {
      const r = requireRollout(spec, name);
      const canary = spec.targets.find((t) => t.name === r.canary)!;
      const stable = spec.targets.find((t) => t.name === r.stable)!;
      const from = `${stable.model}/${stable.version}`;
      Object.assign(stable, { model: canary.model, version: canary.version });
      setCanaryWeight(spec, 0);
      return { rollout: { ...rollout, status: 'succeeded', lastDecision: { at: this.now(), verdict: 'pass', reasons: [], observed } }, detail: { from, to: `${stable.model}/${stable.version}`, traffic: traffic(spec) } };
    });
  }

  /** Moves a progressing rollout to its next step (called by the controller when the window passes). */
  async step(projectId: number, name: string, expectedRevision: number, observed: Record<string, unknown>): Promise<StoredDeployment | null> {
    try {
      return await this.change(projectId, name, { name: 'canary-controller', system: true }, 'rollout_step', (spec, rollout, revision) => {
        if (revision !== expectedRevision || rollout.status !== 'progressing') throw conflict(name);
        const r = requireRollout(spec, name);
        const next = rollout.step + 1;
        setCanaryWeight(spec, r.steps[next]);
        return { rollout: { ...rollout, step: next, stepStartedAt: this.now(), lastDecision: { at: this.now(), verdict: 'pass', reasons: [], observed } }, detail: { step: next, canary_weight: r.steps[next], observed } };
      });
    } catch (err) {
      if (err instanceof AppError && err.code === 'INVALID_STATE') return null;
      throw err;
    }
  }

  async remove(projectId: number, name: string): Promise<void> {
    const d = await this.get(projectId, name);
    await this.db.transaction((tx) => this.sql.remove(tx, d.deploymentId));
  }

  private async change(
    projectId: number, name: string, actor: Actor, kind: string,
    edit: (spec: DeploymentSpec, rollout: RolloutState, revision: number) => { rollout: RolloutState; detail: Record<string, unknown> },
  ): Promise<StoredDeployment> {
    await this.db.transaction(async (tx) => {
      const d = await this.sql.get(projectId, name, tx);
      if (!d) throw notFound(`No deployment named '${name}' in this project.`);
      const spec = parseDeploymentSpec(d.spec);
      const { rollout, detail } = edit(spec, d.rollout, d.revision);
      if (!(await this.sql.update(tx, d.deploymentId, d.revision, specToDocument(spec), rollout, actor.name, this.now()))) throw conflict(name);
      await this.event(tx, d.deploymentId, projectId, name, actor, kind, { revision: d.revision + 1, ...detail });
    });
    return this.get(projectId, name);
  }

  private async event(tx: SqlExecutor, id: number, projectId: number, name: string, actor: Actor, kind: string, detail: Record<string, unknown>): Promise<void> {
    await this.sql.addEvent(tx, id, actor.name, kind, detail, this.now());
    if (actor.system) {
      await this.audit.append(tx, {
        actor: actor.name, token_id: null, action: `deployment.${kind}`, resource: `deployment ${name}`, project: String(projectId),
        outcome: 'ok', summary: JSON.stringify(detail), request_id: null, client_ip: null,
      });
    }
  }
}

function conflict(name: string): AppError {
  return new AppError('INVALID_STATE', `Deployment ${name} changed while this change was being made; read it again and retry.`);
}

function requireRollout(spec: DeploymentSpec, name: string) {
  if (!spec.rollout) throw invalidParam(`Deployment ${name} has no rollout section (rollout: {canary, stable, steps, slo}).`);
  return spec.rollout;
}

/** Gives the rollout's canary `weight` and its stable target the rest; other targets keep theirs. */
function setCanaryWeight(spec: DeploymentSpec, weight: number): void {
  const r = spec.rollout!;
  const others = spec.targets.filter((t) => t.name !== r.canary && t.name !== r.stable).reduce((n, t) => n + t.weight, 0);
  const canaryWeight = Math.min(weight, 100 - others);
  spec.targets.find((t) => t.name === r.canary)!.weight = canaryWeight;
  spec.targets.find((t) => t.name === r.stable)!.weight = 100 - others - canaryWeight;
}

const traffic = (spec: DeploymentSpec) => Object.fromEntries(spec.targets.map((t) => [t.name, t.weight]));
