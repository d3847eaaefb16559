import { AppError, invalidParam } from '../errors/index.js';
import { pageSize, type Fields } from '../server/fields.js';
import { defineRoute, type RouteContext, type RouteDef } from '../server/route.js';
import { parsePipeline } from './spec/index.js';
import { edges } from './spec/graph.js';
import type { PipelinesService } from './pipelines.service.js';
import type { PipelineRunRow, StepRow } from './types.js';
import type { WorkerInfo } from './workers/queue.js';

type Input = Record<string, any>;
const BASE = '/api/capstan/pipelines';
const RUN_ID: Fields = { run_id: { type: 'string', required: true, doc: 'The pipeline run.' } };
const pid = (ctx: RouteContext) => ctx.project.projectId;
const onPipeline = (action: 'read' | 'write' | 'delete', id?: (i: Input) => unknown) => ({
  action, resource: (i: Input, ctx: RouteContext) => {
    const name = id?.(i);
    return { kind: 'pipeline' as const, id: typeof name === 'string' ? name : undefined, projectId: ctx.project.projectId };
  },
});
const principalIdOf = (ctx: RouteContext) => (/^[0-9]+$/.test(ctx.principal.id) ? Number(ctx.principal.id) : null);
const MAX_WAIT_MS = 20_000;

export const runToWire = (r: PipelineRunRow) => ({
  run_id: r.runId, pipeline: r.pipeline, status: r.status, params: r.params, trigger: r.trigger, runner: r.runner, use_cache: r.useCache,
  mlflow_run_id: r.mlflowRunId, created_by: r.createdBy, created_time: r.createdTime, started_time: r.startedTime, finished_time: r.finishedTime, message: r.message,
});

export const stepToWire = (s: StepRow) => ({
  idx: s.idx, step: s.step, instance: s.instance, status: s.status, attempts: s.attempts, mlflow_run_id: s.mlflowRunId, cache_key: s.cacheKey,
  cached_from: s.cachedFrom || null, exit_code: s.exitCode, message: s.message, metrics: s.metrics, started_time: s.startedTime, finished_time: s.finishedTime,
  outputs: Object.fromEntries(Object.entries(s.outputs).map(([k, o]) => [k, { run_id: o.runId, artifact_path: o.artifactPath, files: o.files.map((f) => f.path), is_dir: o.isDir }])),
});

/** The file's steps and dependency edges, for drawing it; its triggers, with secrets left out. */
export function graphOf(source: string) {
  const { pipeline } = parsePipeline(source);
  if (!pipeline) return { steps: [], edges: [], triggers: [] };
  return {
    steps: pipeline.steps.map((st) => ({ name: st.name, when: st.when?.source ?? null })),
    edges: edges(pipeline),
    triggers: pipeline.triggers.map(({ line: _l, column: _c, ...t }) => (t.kind === 'webhook' ? { kind: t.kind, params: t.params } : t)),
  };
}

/** `{lr: 0.1}` or `["lr=0.1"]` from the request, as the text overrides the params are coerced from. */
function overrides(value: unknown): Record<string, string> | string[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value.map(String);
  if (typeof value === 'object') return Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
  throw invalidParam("'params' must be an object of name → value or a list of NAME=VALUE strings.");
}

const MAX_WEBHOOK_BYTES = 1024 * 1024;

async function readBody(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of stream) {
    size += (c as Buffer).length;
    if (size > MAX_WEBHOOK_BYTES) throw new AppError('PAYLOAD_TOO_LARGE', `A webhook body is limited to ${MAX_WEBHOOK_BYTES} bytes.`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

export function pipelineRoutes(svc: PipelinesService, projectId: (name: string) => Promise<number>, workers: () => Promise<WorkerInfo[] | null>): RouteDef[] {
  return [
    defineRoute({
      method: 'GET', path: `${BASE}/workers`, tag: 'pipelines', summary: 'The capstan worker processes heartbeating now: labels, last heartbeat, the step each runs (none unless pipelines.runner is workers)',
      access: onPipeline('read'),
      handler: async () => {
        // With another runner there is no queue to look at: no workers.
        const list = (await workers()) ?? [];
        return { workers: list.map((w) => ({ id: w.id, labels: w.labels, last_seen_time: w.lastSeenMs, task: w.task ? { task_id: w.task.taskId, attempt: w.task.attempt } : null })) };
      },
    }),
    defineRoute({
      method: 'POST', path: `${BASE}/webhook/:project/:name`, tag: 'pipelines', rawBody: true,
      summary: "Start a run of an applied pipeline from a signed webhook (X-Capstan-Signature: sha256=HMAC of the body under the trigger's secret); a JSON body may carry params",
      access: { public: "the request is signed with the pipeline's webhook secret, which the trigger checks before starting anything; senders (CI systems, Git hosts) hold no Capstan token" },
      handler: async (_i, ctx) => {
        const params = ctx.request.params as Record<string, string>;
        const body = await readBody(ctx.request.raw);
        const headers = ctx.request.headers;
        const signature = (headers['x-capstan-signature'] ?? headers['x-hub-signature-256']) as string | undefined;
        if (!svc.triggers) throw new AppError('INVALID_STATE', 'Triggers are not running on this server.');
        const run = (await svc.triggers.webhook(await projectId(params.project!), params.name!, body, signature)) as PipelineRunRow;
        return { run: runToWire(run) };
      },
    }),
    defineRoute({
      method: 'POST', path: `${BASE}/validate`, tag: 'pipelines', summary: 'Check a pipeline file: every problem with its line and column (nothing stored)',
      fields: { yaml: { type: 'string', required: true, doc: 'The pipeline file.' }, file: { type: 'string', doc: 'Its name, for messages.' } },
      access: onPipeline('read'),
      handler: async (i) => {
        const { pipeline, errors } = parsePipeline(i.yaml, i.file ?? 'pipeline.yaml');
        return { valid: pipeline !== null, name: pipeline?.name ?? null, errors };
      },
    }),
    defineRoute({
      method: 'POST', path: `${BASE}/apply`, tag: 'pipelines', summary: 'Store a pipeline by its name (replacing the previous file), with its triggers',
      fields: { yaml: { type: 'string', required: true, doc: 'The pipeline file.' } },
      access: onPipeline('write', (i) => /^name:\s*(\S+)/m.exec(String(i.yaml ?? ''))?.[1]),
      handler: async (i, ctx) => {
        const p = await svc.apply(pid(ctx), i.yaml, ctx.principal.name, principalIdOf(ctx));
        return { pipeline: { name: p.name, steps: p.steps.map((s) => s.name), params: p.params.map((x) => x.name) } };
      },
    }),
    defineRoute({
      method: 'GET', path: `${BASE}/list`, tag: 'pipelines', summary: "The project's applied pipelines", access: onPipeline('read'),
      handler: async (_i, ctx) => ({ pipelines: (await svc.sql.listPipelines(pid(ctx))).map((p) => ({ name: p.name, updated_time: p.updatedTime, updated_by: p.updatedBy })) }),
    }),
    defineRoute({
      method: 'GET', path: `${BASE}/get`, tag: 'pipelines', summary: 'An applied pipeline: its file', fields: { name: { type: 'string', required: true } },
      access: onPipeline('read', (i) => i.name),
      handler: async (i, ctx) => {
        const p = await svc.pipeline(pid(ctx), i.name);
        return { pipeline: { name: p.name, source: p.source, updated_time: p.updatedTime, updated_by: p.updatedBy, ...graphOf(p.source) } };
      },
    }),
    defineRoute({
      method: 'DELETE', path: `${BASE}/delete`, tag: 'pipelines', summary: 'Delete an applied pipeline and its triggers (its runs stay)', fields: { name: { type: 'string', required: true } },
      access: onPipeline('delete', (i) => i.name),
      handler: async (i, ctx) => {
        await svc.pipeline(pid(ctx), i.name);
        await svc.sql.deletePipeline(pid(ctx), i.name);
        return {};
      },
    }),
    defineRoute({
      method: 'POST', path: `${BASE}/runs/create`, tag: 'pipelines', summary: 'Start a pipeline run from a file or an applied pipeline',
      fields: {
        yaml: { type: 'string', doc: 'The pipeline file to run.' },
        pipeline: { type: 'string', doc: 'Or the name of an applied pipeline.' },
        params: { type: 'any', doc: 'Param values: {"lr": 0.01} or ["lr=0.01"]; each is checked against its declared type.' },
        cache: { type: 'bool', doc: 'Reuse cached step results (default true); false runs every step.' },
        source_dir: { type: 'string', doc: "The directory holding the pipeline file on the sender's machine; steps get it as CAPSTAN_PIPELINE_DIR (meaningful where they run on that machine)." },
      },
      access: onPipeline('write', (i) => i.pipeline ?? /^name:\s*(\S+)/m.exec(String(i.yaml ?? ''))?.[1]),
      handler: async (i, ctx) => {
        if ((i.yaml === undefined) === (i.pipeline === undefined)) throw invalidParam("Send exactly one of 'yaml' (a pipeline file) or 'pipeline' (an applied pipeline's name).");
        const run = await svc.submit({
          projectId: pid(ctx), source: i.yaml, pipeline: i.pipeline, params: overrides(i.params), useCache: i.cache ?? true,
          trigger: { kind: 'manual', detail: { by: ctx.principal.name, ...(i.source_dir ? { source_dir: String(i.source_dir) } : {}) } }, createdBy: ctx.principal.name, principalId: principalIdOf(ctx),
        });
        return { run: runToWire(run) };
      },
    }),
    defineRoute({
      method: 'GET', path: `${BASE}/runs/list`, tag: 'pipelines', summary: 'Pipeline runs, newest first',
      fields: { pipeline: { type: 'string' }, status: { type: 'string', enum: ['queued', 'running', 'succeeded', 'failed', 'cancelled'] }, max_results: { type: 'int' }, before: { type: 'int', doc: 'Only runs created before this time (ms), for paging.' } },
      access: onPipeline('read', (i) => i.pipeline),
      handler: async (i, ctx) => ({ runs: (await svc.sql.listRuns(pid(ctx), { pipeline: i.pipeline, status: i.status, limit: pageSize(i.max_results, 50, 1000), before: i.before })).map(runToWire) }),
    }),
    defineRoute({
      method: 'GET', path: `${BASE}/runs/get`, tag: 'pipelines', summary: 'A pipeline run with every step instance: status, attempts, metrics, outputs, why it was skipped or failed',
      fields: RUN_ID, access: onPipeline('read'),
      handler: async (i, ctx) => {
        const v = await svc.view(pid(ctx), i.run_id);
        const { steps, edges } = graphOf(v.run.source);
        return { run: runToWire(v.run), steps: v.steps.map(stepToWire), graph: { steps, edges } };
      },
    }),
    defineRoute({
      method: 'GET', path: `${BASE}/runs/logs`, tag: 'pipelines', summary: "A run's log lines after a position; with wait_ms, waits for new lines while the run is active (follow)",
      fields: { ...RUN_ID, after: { type: 'int', doc: 'The last log_id already read (0 to start).' }, step: { type: 'string', doc: 'Only this step (a step or instance name).' }, max_results: { type: 'int' }, wait_ms: { type: 'int', doc: `Wait up to this long (at most ${MAX_WAIT_MS}) for lines when there are none yet.` } },
      access: onPipeline('read'),
      handler: async (i, ctx) => {
        const until = Date.now() + Math.min(Math.max(0, i.wait_ms ?? 0), MAX_WAIT_MS);
        const f = { after: i.after ?? 0, step: i.step, limit: pageSize(i.max_results, 1000, 10_000) };
        let page = await svc.logs(pid(ctx), i.run_id, f);
        while (page.lines.length === 0 && (page.status === 'queued' || page.status === 'running') && Date.now() < until) {
          await new Promise((r) => setTimeout(r, 100));
          page = await svc.logs(pid(ctx), i.run_id, f);
        }
        return {
          lines: page.lines.map((l) => ({ log_id: l.logId, step: l.step, attempt: l.attempt, time: l.time, stream: l.stream, line: l.line })),
          next_after: page.lines.length ? page.lines[page.lines.length - 1].logId : f.after, status: page.status,
        };
      },
    }),
    defineRoute({
      method: 'POST', path: `${BASE}/runs/cancel`, tag: 'pipelines', summary: 'Cancel a run: its running steps are killed, nothing else starts', fields: RUN_ID, access: onPipeline('write'),
      handler: async (i, ctx) => ({ run: runToWire(await svc.cancel(pid(ctx), i.run_id)) }),
    }),
    defineRoute({
      method: 'POST', path: `${BASE}/runs/retry`, tag: 'pipelines', summary: 'Run a failed or cancelled run again from its failed steps (succeeded steps keep their results)', fields: RUN_ID, access: onPipeline('write'),
      handler: async (i, ctx) => ({ run: runToWire(await svc.retry(pid(ctx), i.run_id)) }),
    }),
    defineRoute({
      method: 'POST', path: `${BASE}/cache/clear`, tag: 'pipelines', summary: "Forget the project's cached step results (the next runs execute every step)", access: onPipeline('delete'),
      handler: async (_i, ctx) => ({ deleted: await svc.sql.clearCache(pid(ctx)) }),
    }),
  ];
}
