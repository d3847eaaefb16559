import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { AppError } from '../errors/index.js';
import { secretValues } from '../observability/secret-values.js';
import type { RouteDef } from '../server/route.js';
import type { BlobStore } from '../store/blob/index.js';
import type { Db } from '../store/sql/index.js';
import type { TrackingService } from '../tracking/index.js';
import { pipelineRoutes } from './pipelines.routes.js';
import { PipelinesService } from './pipelines.service.js';
import { PipelinesSql } from './pipelines.sql.js';
import { BlobTransfer } from './run/blob-transfer.js';
import { Slots } from './run/engine.js';
import { LocalRunner } from './run/local-runner.js';
import type { ResolvedDataset } from './run/prepare.js';
import type { StepRunner } from './run/task.js';
import type { Pipeline } from './spec/index.js';
import { PipelineTracking } from './tracked.js';
import { Triggers, type TriggerSources } from './triggers/triggers.js';
import { StepQueue } from './workers/queue.js';
import { WorkersRunner } from './workers/runner.js';
import type { PipelineRunRow } from './types.js';

export interface PipelinesDeps {
  config: Config;
  db: Db;
  logger: Logger;
  blobs: BlobStore;
  tracking: TrackingService;
  projectName(projectId: number): Promise<string>;
  secrets(projectId: number, names: readonly string[]): Promise<Record<string, string>>;
  dataset(projectId: number, name: string, version: number | undefined): Promise<{ version: number; digest: string; files: Array<{ path: string; sha256: string }> }>;
  openDatasetFile(projectId: number, name: string, version: number, file: string): Promise<Readable>;
  /** A token for a run's steps (null with authentication off). */
  mintToken(principalId: number, projectId: number, name: string, ttlMs: number): Promise<{ value: string; tokenId: number } | null>;
  revokeToken(tokenId: number): Promise<void>;
  /** What triggers watch: datasets, aliases, alerts; and the secrets webhooks are signed with. */
  triggerSources: TriggerSources;
  projectId(name: string): Promise<number>;
  /** Runners other than local, by kind, made on first use. */
  extraRunners?: Partial<Record<'kubernetes' | 'workers', () => StepRunner>>;
}

export interface Pipelines {
  routes: RouteDef[];
  service: PipelinesService;
  start(): void;
  close(): Promise<void>;
}

const TOKEN_TTL_MS = 7 * 86_400_000;
/** bin/capstan.js of this installation (this file is dist/src/pipelines/ or src/pipelines/). */
const CLI_ENTRY = [resolve(dirname(fileURLToPath(import.meta.url)), '../../../bin/capstan.js'), resolve(dirname(fileURLToPath(import.meta.url)), '../../bin/capstan.js')].find((p) => existsSync(p));

/** The address steps use to call back: pipelines.public_url, monitoring.public_url, or the bind address. */
export function stepServerUrl(config: Config): string {
  const host = ['0.0.0.0', '::', ''].includes(config['server.host']) ? '127.0.0.1' : config['server.host'];
  return (config['pipelines.public_url'] || config['monitoring.public_url'] || `http://${host.includes(':') ? `[${host}]` : host}:${config['server.port']}`).replace(/\/+$/, '');
}

/** The Kubernetes client is loaded on the first step it runs: it costs most of a second at start-up. */
function lazyKubernetesRunner(config: Config): StepRunner {
  let runner: Promise<StepRunner> | null = null;
  const load = () => (runner ??= (async () => {
    const { KubernetesRunner, loadKubeConfig } = await import('./kubernetes/runner.js');
    const kc = loadKubeConfig({ file: config['pipelines.kubeconfig'] || undefined });
    return new KubernetesRunner(kc, {
      namespace: config['pipelines.kubernetes_namespace'], defaultImage: config['pipelines.kubernetes_image'], launcherImage: config['pipelines.kubernetes_launcher_image'],
      serviceAccount: config['pipelines.kubernetes_service_account'] || undefined, ttlSecondsAfterFinished: 3600,
    });
  })());
  return {
    kind: 'kubernetes',
    runAttempt: async (task, hooks) => (await load()).runAttempt(task, hooks),
    close: async () => {
      if (runner) await (await runner).close();
    },
  };
}

export function createPipelines(deps: PipelinesDeps): Pipelines {
  const { config, logger } = deps;
  const sql = new PipelinesSql(deps.db);
  const tracking = new PipelineTracking(deps.tracking, deps.blobs);
  const transfer = new BlobTransfer({ blobs: deps.blobs, runRoot: (id) => tracking.runRoot(id), openDatasetFile: deps.openDatasetFile });
  const runners = new Map<string, StepRunner>();
  runners.set('local', new LocalRunner({
    workRoot: resolve(config['pipelines.work_dir'] || resolve(config.data_dir, 'pipeline-work')), transfer,
    inheritEnv: config['pipelines.inherit_env'].split(',').map((s) => s.trim()).filter(Boolean), keepWorkDirs: config['pipelines.keep_work_dirs'],
    cliEntry: CLI_ENTRY,
  }));
  let stepQueue: StepQueue | null = null;
  const queue = () => (stepQueue ??= new StepQueue(config['pipelines.redis_url']));
  const makers: PipelinesDeps['extraRunners'] = {
    workers: () => new WorkersRunner(queue(), logger),
    kubernetes: () => lazyKubernetesRunner(config),
    ...deps.extraRunners,
  };
  const runnerFor = (kind: string): StepRunner => {
    let r = runners.get(kind);
    if (!r) {
      const make = makers[kind as 'kubernetes' | 'workers'];
      if (!make) throw new AppError('CONFIG_INVALID', `The ${kind} pipeline runner is not available on this server.`, { details: { key: 'pipelines.runner' } });
      r = make();
      runners.set(kind, r);
    }
    return r;
  };
  const tokens = new Map<string, { value: string; tokenId: number }>();
  const url = stepServerUrl(config);

  const runEnv = async (run: PipelineRunRow): Promise<Record<string, string>> => {
    const env: Record<string, string> = {
      MLFLOW_TRACKING_URI: url, CAPSTAN_URL: url, CAPSTAN_PROJECT: await deps.projectName(run.projectId),
      CAPSTAN_PIPELINE: run.pipeline, CAPSTAN_PIPELINE_RUN_ID: run.runId, MLFLOW_EXPERIMENT_NAME: `pipelines/${run.pipeline}`,
    };
    const sourceDir = (run.trigger.detail as { source_dir?: unknown } | null)?.source_dir;
    if (typeof sourceDir === 'string') env.CAPSTAN_PIPELINE_DIR = sourceDir;
    if (run.principalId !== null) {
      let token = tokens.get(run.runId);
      if (!token) {
        const minted = await deps.mintToken(run.principalId, run.projectId, `pipeline run ${run.runId}`, TOKEN_TTL_MS);
        if (minted) {
          secretValues.add(minted.value);
          tokens.set(run.runId, (token = minted));
          // A replica that executed the run before and died left its token: this one replaces it.
          const previous = await sql.setRunToken(run.runId, minted.tokenId);
          if (previous !== null && previous !== minted.tokenId) await deps.revokeToken(previous).catch(() => undefined);
        }
      }
      if (token) Object.assign(env, { MLFLOW_TRACKING_TOKEN: token.value, CAPSTAN_TOKEN: token.value });
    }
    return env;
  };

  const resolveDatasets = async (projectId: number, pipeline: Pipeline): Promise<Map<string, ResolvedDataset>> => {
    const out = new Map<string, ResolvedDataset>();
    for (const step of pipeline.steps) {
      for (const site of step.references) {
        const t = site.target;
        const ref = t.kind === 'dataset' ? `${t.name}@${t.version}` : null;
        if (t.kind !== 'dataset' || out.has(ref!)) continue;
        const d = await deps.dataset(projectId, t.name, t.version === 'latest' ? undefined : t.version);
        out.set(ref!, { name: t.name, version: d.version, digest: d.digest, files: d.files.map((f) => ({ path: f.path, sha256: f.sha256 })) });
      }
    }
    return out;
  };

  const service = new PipelinesService(sql, {
    sql, logger, tracking, tracked: tracking, replica: `${hostname()}:${process.pid}`,
    leaseMs: config['pipelines.lease_seconds'] * 1000, tickMs: config['pipelines.tick_ms'], maxRuns: config['pipelines.max_runs'],
    slots: new Slots(config['pipelines.max_parallel']), defaultRunner: config['pipelines.runner'], runners: ['local', ...Object.keys(makers)],
    runner: runnerFor, secrets: deps.secrets, runEnv, resolveDatasets,
    release: async (run) => {
      tokens.delete(run.runId);
      const tokenId = await sql.setRunToken(run.runId, null);
      if (tokenId !== null) await deps.revokeToken(tokenId);
    },
  });
  service.triggers = new Triggers(sql, deps.triggerSources, async (t) => {
    const p = await service.pipeline(t.projectId, t.pipeline);
    return service.submit({ projectId: t.projectId, pipeline: t.pipeline, params: t.params, useCache: true, trigger: t.trigger, createdBy: p.updatedBy, principalId: p.principalId });
  }, logger);
  return {
    routes: pipelineRoutes(service, deps.projectId, async () => (config['pipelines.runner'] === 'workers' ? queue().workers() : null)),
    service,
    start: () => service.start(),
    close: async () => {
      await service.stop();
      for (const r of runners.values()) await r.close();
    },
  };
}
