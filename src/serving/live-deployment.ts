import { createHash } from 'node:crypto';
import { AppError } from '../errors/index.js';
import { SlidingWindow } from './canary-analysis.js';
import type { DeploymentSpec, ShadowSpec, TargetSpec } from './deployment-spec.js';
import type { RolloutState } from './deployment-types.js';
import type { ServedModel } from './served-model.js';

export interface LiveTarget {
  spec: TargetSpec | ShadowSpec;
  /** The version number the spec's version or alias resolved to. */
  version: number;
  model: ServedModel;
}

/** What one replica routes by; replaced whole on every change (a hot swap is one assignment). */
export interface RoutingTable {
  revision: number;
  spec: DeploymentSpec;
  rollout: RolloutState;
  targets: (LiveTarget & { spec: TargetSpec })[];
  shadows: (LiveTarget & { spec: ShadowSpec })[];
  /** Problems of the last change (a version that failed to load), shown by `deployments get`. */
  problems: string[];
}

/** A hash of the sticky key in [0, 100): the same key always lands in the same weight band. */
function stickyPoint(key: string): number {
  return createHash('sha1').update(key).digest().readUInt32BE(0) % 10_000 / 100;
}

const canServe = (t: LiveTarget) => t.model.isReady && t.model.breaker.state !== 'open';

/** One deployment as this replica serves it: the routing table and the canary windows. */
export class LiveDeployment {
  readonly windows = new Map<string, SlidingWindow>();

  constructor(
    readonly projectId: number,
    readonly deploymentId: number,
    public table: RoutingTable,
  ) {}

  get name(): string {
    return this.table.spec.name;
  }

  window(target: string, windowMs: number): SlidingWindow {
    let w = this.windows.get(target);
    if (!w) this.windows.set(target, (w = new SlidingWindow({ windowMs })));
    return w;
  }

  /**
   * The target for one request. A routing header naming a target forces it; otherwise a sticky key
   * (or a random number) falls in one target's weight band. A target that cannot answer (not ready,
   * breaker open) hands its share to the heaviest target that can, so a broken canary costs no
   * request that stable could serve.
   */
  pick(header: (name: string) => string | undefined, version?: string): LiveTarget & { spec: TargetSpec } {
    const { targets, spec } = this.table;
    if (version !== undefined) return this.pinned(version);
    const forced = spec.routeHeader ? header(spec.routeHeader) : undefined;
    if (forced) {
      const t = targets.find((x) => x.spec.name === forced);
      if (!t) throw new AppError('MODEL_INPUT_INVALID', `Header ${spec.routeHeader} names target '${forced}'; deployment ${spec.name} has ${targets.map((x) => x.spec.name).join(', ')}.`);
      return t;
    }
    const key = spec.stickyHeader ? header(spec.stickyHeader) : undefined;
    const point = key ? stickyPoint(key) : Math.random() * 100;
    let acc = 0;
    let chosen = targets[targets.length - 1];
    for (const t of targets) {
      acc += t.spec.weight;
      if (point < acc) {
        chosen = t;
        break;
      }
    }
    if (canServe(chosen)) return chosen;
    const fallback = targets.filter(canServe).sort((a, b) => b.spec.weight - a.spec.weight)[0];
    return fallback ?? chosen;
  }

  /** `/versions/{v}`: a version this deployment routes to (or shadows), chosen explicitly. */
  private pinned(version: string): LiveTarget & { spec: TargetSpec } {
    const t = [...this.table.targets, ...this.table.shadows].find((x) => String(x.version) === version);
    if (!t) {
      const known = [...new Set([...this.table.targets, ...this.table.shadows].map((x) => x.version))].join(', ');
      throw new AppError('RESOURCE_DOES_NOT_EXIST', `Deployment ${this.name} does not serve version ${version} (it serves ${known}).`);
    }
    return t as LiveTarget & { spec: TargetSpec };
  }

  /** Shadows that get a copy of this request (each by its sample share). */
  shadowsFor(): (LiveTarget & { spec: ShadowSpec })[] {
    return this.table.shadows.filter((s) => s.model.isReady && (s.spec.sample >= 1 || Math.random() < s.spec.sample));
  }

  models(): ServedModel[] {
    return [...this.table.targets, ...this.table.shadows].map((t) => t.model);
  }
}
