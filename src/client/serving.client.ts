/**
 * The serving part of the typed client: deployments (/api/capstan/deployments/...) and V2
 * inference. CapstanClient extends this class and supplies the transport.
 */
import { DatasetsClient } from './datasets.client.js';

const DEPLOYMENTS = '/api/capstan/deployments';

export interface WireLiveTarget {
  name: string;
  model: string;
  version: string;
  state: 'loading' | 'ready' | 'draining' | 'unloaded' | 'failed';
  reason?: string;
  weight?: number;
  sample?: number;
  queue_depth: number;
  breaker: 'closed' | 'open' | 'half-open';
  stats: { inferenceCount: number; executionCount: number; success: number; fail: number; queueMs: number; computeMs: number; lastInference: number };
}

export interface WireDeployment {
  name: string;
  revision: number;
  /** The deployment document in its file form. */
  spec: Record<string, any>;
  rollout: { status: string; step: number; stepStartedAt: number; lastDecision: { at: number; verdict: string; reasons: string[]; observed: Record<string, unknown> } | null };
  created_time: number;
  updated_time: number;
  updated_by: string;
  /** What the answering replica serves; null before it has loaded the deployment. */
  live: { revision: number; targets: WireLiveTarget[]; shadows: WireLiveTarget[]; problems: string[] } | null;
}

export interface WireDeploymentEvent {
  event_id: number;
  time: number;
  actor: string;
  kind: string;
  detail: Record<string, unknown>;
}

export interface V2Tensor {
  name: string;
  datatype: string;
  shape: number[];
  data: unknown[];
}

export interface V2Response {
  model_name: string;
  model_version?: string;
  id?: string;
  outputs: V2Tensor[];
}

export abstract class ServingClient extends DatasetsClient {
  /** Creates or replaces a deployment from its YAML text; answers once its versions are loaded. */
  async applyDeployment(yaml: string): Promise<WireDeployment> {
    return (await this.call<{ deployment: WireDeployment }>('POST', `${DEPLOYMENTS}/apply`, { yaml })).deployment;
  }

  async listDeployments(): Promise<WireDeployment[]> {
    return (await this.call<{ deployments: WireDeployment[] }>('GET', `${DEPLOYMENTS}/list`)).deployments;
  }

  async getDeployment(name: string): Promise<WireDeployment> {
    return (await this.call<{ deployment: WireDeployment }>('GET', `${DEPLOYMENTS}/get`, undefined, { name })).deployment;
  }

  async deploymentEvents(name: string, maxResults?: number): Promise<WireDeploymentEvent[]> {
    return (await this.call<{ events: WireDeploymentEvent[] }>('GET', `${DEPLOYMENTS}/events`, undefined, { name, max_results: maxResults?.toString() })).events;
  }

  /** `traffic`: `{stable: 90, canary: 10}`; targets not named keep their weight. */
  async setTraffic(name: string, traffic: Record<string, number>): Promise<WireDeployment> {
    return (await this.call<{ deployment: WireDeployment }>('POST', `${DEPLOYMENTS}/set-traffic`, { name, traffic })).deployment;
  }

  async rollbackDeployment(name: string): Promise<WireDeployment> {
    return (await this.call<{ deployment: WireDeployment }>('POST', `${DEPLOYMENTS}/rollback`, { name })).deployment;
  }

  async promoteDeployment(name: string): Promise<WireDeployment> {
    return (await this.call<{ deployment: WireDeployment }>('POST', `${DEPLOYMENTS}/promote`, { name })).deployment;
  }

  async deleteDeployment(name: string): Promise<void> {
    await this.call('DELETE', `${DEPLOYMENTS}/delete`, undefined, { name });
  }

  async recentPredictions(name: string, maxResults?: number, requestId?: string): Promise<Record<string, unknown>[]> {
    return (await this.call<{ predictions: Record<string, unknown>[] }>('GET', `${DEPLOYMENTS}/predictions`, undefined, { name, max_results: maxResults?.toString(), request_id: requestId })).predictions;
  }

  /** V2 inference with JSON tensors (64-bit integers beyond 2^53 need the binary form or a raw request). */
  async infer(deployment: string, inputs: V2Tensor[], opts: { version?: string; id?: string; outputs?: string[] } = {}): Promise<V2Response> {
    const path = `/v2/models/${encodeURIComponent(deployment)}${opts.version ? `/versions/${encodeURIComponent(opts.version)}` : ''}/infer`;
    return this.call('POST', path, { id: opts.id, inputs, outputs: opts.outputs?.map((name) => ({ name })) });
  }
}
