import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { CapstanClient, WirePipelineRun, WirePipelineStep } from '../client/index.js';
import { fail, printRows } from './output.js';
import { clientFor, parseCommand, REMOTE_OPTIONS } from './remote.js';

const USAGE = `capstan pipelines <verb>
  validate FILE [--json]       (every problem at once, each with its line; exit 1 when there are any)
  graph FILE --mermaid         (the steps and their dependencies as a Mermaid flowchart)
  order FILE                   (the order steps can run in, one per line)
 on a server [--url URL] [--json]:
  run FILE|NAME [-p name=value ...] [--no-cache] [--detach]
                               (start a run and follow its logs to the end; exit 1 unless it succeeds)
  apply FILE | list | delete NAME
  runs [--pipeline NAME] [--status S] | status RUN
  logs RUN [-f] [--step STEP]  (-f follows until the run ends)
  cancel RUN | retry RUN       (retry re-runs a failed or cancelled run from its failed steps)
  workers                      (capstan worker processes heartbeating now, with their labels)
  cache-clear`;

const LOCAL_VERBS = new Set(['validate', 'graph', 'order']);
const OPTIONS = {
  ...REMOTE_OPTIONS, param: { type: 'string', short: 'p', multiple: true }, 'no-cache': { type: 'boolean' }, detach: { type: 'boolean' },
  follow: { type: 'boolean', short: 'f' }, step: { type: 'string' }, pipeline: { type: 'string' }, status: { type: 'string' },
} as const;
const FINISHED = new Set(['succeeded', 'failed', 'cancelled']);
const iso = (ms: number | null) => (ms === null ? '' : new Date(ms).toISOString());

/** Prints a run's log lines from `after` on; with follow, until the run has ended. Returns the final status. */
async function printLogs(client: CapstanClient, runId: string, follow: boolean, step?: string): Promise<WirePipelineRun['status']> {
  let after = 0;
  for (;;) {
    const page = await client.pipelineRunLogs(runId, { after, step, wait_ms: follow ? 10_000 : 0, max_results: 5000 });
    for (const l of page.lines) {
      const line = `${l.step}${l.attempt > 1 ? `#${l.attempt}` : ''} | ${l.stream === 'system' ? '» ' : ''}${l.line}\n`;
      (l.stream === 'stderr' ? process.stderr : process.stdout).write(line);
    }
    after = page.next_after;
    if (page.lines.length > 0) continue;
    if (!follow || FINISHED.has(page.status)) return page.status;
  }
}

function printSteps(steps: WirePipelineStep[]): void {
  const rows = steps.map((s) => ({
    step: s.instance, status: s.cached_from ? 'cached' : s.status, attempts: s.attempts,
    metrics: Object.entries(s.metrics).map(([k, v]) => `${k}=${v}`).join(' '), note: s.message === 'cached' ? '' : s.message,
  }));
  printRows(rows, ['step', 'status', 'attempts', 'metrics', 'note'], false, steps);
}

const REMOTE: Record<string, (client: CapstanClient, rest: string[], v: Record<string, any>) => Promise<void>> = {
  run: async (client, rest, v) => {
    if (rest.length !== 1) fail(`expected FILE or NAME\nusage: ${USAGE}`);
    const target = rest[0];
    const yaml = /\.ya?ml$/i.test(target) ? await readFile(target, 'utf8').catch((err: Error) => fail(`cannot read ${target}: ${err.message}`)) : undefined;
    const run = await client.startPipelineRun({ ...(yaml === undefined ? { pipeline: target } : { yaml, source_dir: dirname(resolve(target)) }), params: v.param ?? [], cache: !v['no-cache'] });
    if (v.detach || v.json) {
      process.stdout.write(v.json ? `${JSON.stringify(run, null, 2)}\n` : `${run.run_id}\n`);
      return;
    }
    process.stderr.write(`pipeline run ${run.run_id} (${run.pipeline}) started; MLflow run ${run.mlflow_run_id}\n`);
    const status = await printLogs(client, run.run_id, true);
    const { run: done, steps } = await client.getPipelineRun(run.run_id);
    process.stdout.write('\n');
    printSteps(steps);
    process.stdout.write(`\nrun ${done.run_id} ${status}${done.message ? `: ${done.message}` : ''}\n`);
    if (status !== 'succeeded') process.exitCode = 1;
  },
  apply: async (client, rest) => {
    if (rest.length !== 1) fail(`expected FILE\nusage: ${USAGE}`);
    const p = await client.applyPipeline(await readFile(rest[0], 'utf8').catch((err: Error) => fail(`cannot read ${rest[0]}: ${err.message}`)));
    process.stdout.write(`applied pipeline ${p.name} (${p.steps.length} steps)\n`);
  },
  list: async (client, _rest, v) => {
    const list = await client.listPipelines();
    printRows(list.map((p) => ({ name: p.name, updated: iso(p.updated_time), by: p.updated_by })), ['name', 'updated', 'by'], v.json, list);
  },
  delete: async (client, rest) => {
    if (rest.length !== 1) fail(`expected NAME\nusage: ${USAGE}`);
    await client.deletePipeline(rest[0]);
    process.stdout.write(`deleted pipeline ${rest[0]}\n`);
  },
  runs: async (client, _rest, v) => {
    const runs = await client.listPipelineRuns({ pipeline: v.pipeline, status: v.status });
    printRows(runs.map((r) => ({ run: r.run_id, pipeline: r.pipeline, status: r.status, trigger: r.trigger.kind, created: iso(r.created_time), message: r.message })),
      ['run', 'pipeline', 'status', 'trigger', 'created', 'message'], v.json, runs);
  },
  status: async (client, rest, v) => {
    if (rest.length !== 1) fail(`expected RUN\nusage: ${USAGE}`);
    const view = await client.getPipelineRun(rest[0]);
    if (v.json) {
      process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
      return;
    }
    process.stdout.write(`run ${view.run.run_id} of ${view.run.pipeline}: ${view.run.status}${view.run.message ? ` (${view.run.message})` : ''}\n\n`);
    printSteps(view.steps);
  },
  logs: async (client, rest, v) => {
    if (rest.length !== 1) fail(`expected RUN\nusage: ${USAGE}`);
    await printLogs(client, rest[0], Boolean(v.follow), v.step);
  },
  cancel: async (client, rest) => {
    if (rest.length !== 1) fail(`expected RUN\nusage: ${USAGE}`);
    const r = await client.cancelPipelineRun(rest[0]);
    process.stdout.write(`run ${r.run_id}: ${r.status === 'cancelled' ? 'cancelled' : 'cancelling'}\n`);
  },
  retry: async (client, rest) => {
    if (rest.length !== 1) fail(`expected RUN\nusage: ${USAGE}`);
    const r = await client.retryPipelineRun(rest[0]);
    process.stdout.write(`run ${r.run_id} queued again from its failed steps\n`);
  },
  workers: async (client, _rest, v) => {
    const list = await client.pipelineWorkers();
    printRows(list.map((w) => ({ worker: w.id, labels: Object.entries(w.labels).map(([k, x]) => `${k}=${x}`).join(','), seen: iso(w.last_seen_time), step: w.task?.task_id ?? '' })), ['worker', 'labels', 'seen', 'step'], v.json, list);
  },
  'cache-clear': async (client) => {
    process.stdout.write(`forgot ${await client.clearPipelineCache()} cached step results\n`);
  },
};

async function load(file: string | undefined) {
  if (!file) fail(`expected FILE\nusage: ${USAGE}`);
  const text = await readFile(file, 'utf8').catch((err: Error) => fail(`cannot read ${file}: ${err.message}`));
  const spec = await import('../pipelines/spec/index.js');
  return { spec, file, ...spec.parsePipeline(text, file) };
}

/** `capstan pipelines`: checks and draws pipeline files without a server; runs them on one. */
export async function pipelinesCommand(argv: string[]): Promise<void> {
  const verb0 = argv.find((a) => !a.startsWith('-'));
  if (verb0 !== undefined && !LOCAL_VERBS.has(verb0)) {
    const { values: v, positionals: [verb, ...rest] } = parseCommand(argv, OPTIONS, USAGE);
    const run = REMOTE[verb];
    if (!run) fail(`unknown pipelines verb '${verb}'\nusage: ${USAGE}`);
    return run(clientFor(v), rest, v);
  }
  const { values, positionals } = (() => {
    try {
      return parseArgs({ args: argv, allowPositionals: true, options: { json: { type: 'boolean' }, mermaid: { type: 'boolean' } } });
    } catch (err) {
      return fail(`${(err as Error).message}\nusage: ${USAGE}`);
    }
  })();
  const [verb, file, ...extra] = positionals;
  if (extra.length) fail(`unexpected ${extra.join(' ')}\nusage: ${USAGE}`);
  if (verb !== 'validate' && verb !== 'graph' && verb !== 'order') fail(`unknown pipelines verb '${verb ?? ''}'\nusage: ${USAGE}`);
  const { spec, pipeline, errors } = await load(file);
  if (verb === 'validate') {
    if (values.json) process.stdout.write(`${JSON.stringify({ valid: errors.length === 0, errors }, null, 2)}\n`);
    else if (errors.length) process.stderr.write(`${spec.formatPipelineErrors(errors, file!)}\n${errors.length} problem${errors.length === 1 ? '' : 's'}\n`);
    else process.stdout.write(`${file}: pipeline ${pipeline!.name} is valid (${pipeline!.steps.length} steps)\n`);
    if (errors.length) process.exitCode = 1;
    return;
  }
  if (!pipeline) {
    process.stderr.write(`${spec.formatPipelineErrors(errors, file!)}\n`);
    process.exitCode = 1;
    return;
  }
  if (verb === 'graph') {
    if (!values.mermaid) fail(`graph prints Mermaid: add --mermaid\nusage: ${USAGE}`);
    process.stdout.write(`${spec.mermaid(pipeline)}\n`);
    return;
  }
  process.stdout.write(`${spec.topologicalOrder(pipeline).join('\n')}\n`);
}
