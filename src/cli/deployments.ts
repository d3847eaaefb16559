import { readFile } from 'node:fs/promises';
import type { CapstanClient, WireDeployment } from '../client/index.js';
import { fail, printRows } from './output.js';
import { clientFor, parseCommand, REMOTE_OPTIONS } from './remote.js';

const USAGE = `capstan deployments <verb> [--url URL] [--json]
  list
  get NAME                              (document, rollout state, live targets)
  set-traffic NAME TARGET=PERCENT ...   (e.g. stable=90 canary=10; pauses a rollout)
  rollback NAME | promote NAME
  events NAME                           (traffic changes, rollout steps and decisions)
  predictions NAME [--max N] [--request-id ID]
  delete NAME`;

const DEPLOY_USAGE = 'capstan deploy -f deployment.yaml [--url URL] [--json]';

const OPTIONS = { ...REMOTE_OPTIONS, max: { type: 'string' }, 'request-id': { type: 'string' } } as const;

const iso = (ms: number) => new Date(ms).toISOString();

function show(d: WireDeployment, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(d, null, 2)}\n`);
    return;
  }
  const r = d.rollout;
  process.stdout.write(`deployment ${d.name}  revision ${d.revision}  updated ${iso(d.updated_time)} by ${d.updated_by}\n`);
  if (r.status !== 'none') {
    process.stdout.write(`rollout ${r.status} at step ${r.step + 1}/${d.spec.rollout?.steps?.length ?? '?'}`);
    if (r.lastDecision) process.stdout.write(`; last decision ${r.lastDecision.verdict} at ${iso(r.lastDecision.at)}${r.lastDecision.reasons.length ? `: ${r.lastDecision.reasons.join('; ')}` : ''}`);
    process.stdout.write('\n');
  }
  const rows = [...(d.live?.targets ?? []), ...(d.live?.shadows ?? [])].map((t) => ({
    target: t.name, model: t.model, version: t.version, weight: t.weight ?? `shadow ${Math.round((t.sample ?? 0) * 100)}%`, state: t.reason ? `${t.state}: ${t.reason}` : t.state,
    breaker: t.breaker, queue: t.queue_depth, requests: t.stats.success + t.stats.fail, errors: t.stats.fail,
  }));
  printRows(rows, ['target', 'model', 'version', 'weight', 'state', 'breaker', 'queue', 'requests', 'errors'], false);
  for (const p of d.live?.problems ?? []) process.stdout.write(`problem: ${p}\n`);
}

function one(rest: string[], what = 'NAME'): string {
  if (rest.length !== 1) fail(`expected ${what}\nusage: ${USAGE}`);
  return rest[0];
}

/** `stable=90 canary=10` (or one comma-separated argument) → weights. */
export function parseTraffic(args: string[]): Record<string, number> {
  const pairs = args.flatMap((a) => a.split(',')).filter(Boolean);
  if (pairs.length === 0) fail(`set-traffic needs TARGET=PERCENT pairs, e.g. stable=90 canary=10\nusage: ${USAGE}`);
  return Object.fromEntries(pairs.map((p) => {
    const m = /^([^=]+)=(\d{1,3})$/.exec(p);
    if (!m) fail(`'${p}' is not TARGET=PERCENT (e.g. canary=10)`);
    return [m[1], Number(m[2])];
  }));
}

const VERBS: Record<string, (client: CapstanClient, rest: string[], values: Record<string, any>) => Promise<void>> = {
  list: async (client, _rest, values) => {
    const all = await client.listDeployments();
    const rows = all.map((d) => ({
      name: d.name, revision: d.revision, rollout: d.rollout.status,
      traffic: Object.entries(d.spec.targets ?? {}).map(([n, t]) => `${n}=${(t as { weight: number }).weight}`),
      ready: (d.live?.targets ?? []).filter((t) => t.state === 'ready').length + '/' + (d.live?.targets.length ?? 0),
    }));
    printRows(rows, ['name', 'revision', 'traffic', 'rollout', 'ready'], values.json, all);
  },
  get: async (client, rest, values) => show(await client.getDeployment(one(rest)), values.json),
  'set-traffic': async (client, rest, values) => {
    if (rest.length < 2) fail(`usage: ${USAGE}`);
    show(await client.setTraffic(rest[0], parseTraffic(rest.slice(1))), values.json);
  },
  rollback: async (client, rest, values) => show(await client.rollbackDeployment(one(rest)), values.json),
  promote: async (client, rest, values) => show(await client.promoteDeployment(one(rest)), values.json),
  delete: async (client, rest) => {
    await client.deleteDeployment(one(rest));
    process.stdout.write(`deleted deployment ${rest[0]}\n`);
  },
  events: async (client, rest, values) => {
    const events = await client.deploymentEvents(one(rest));
    printRows(events.map((e) => ({ time: iso(e.time), actor: e.actor, kind: e.kind, detail: JSON.stringify(e.detail) })), ['time', 'actor', 'kind', 'detail'], values.json, events);
  },
  predictions: async (client, rest, values) => {
    const rows = await client.recentPredictions(one(rest), values.max ? Number(values.max) : undefined, values['request-id']);
    printRows(rows.map((r) => ({ time: iso(Number(r.time)), request_id: r.request_id, role: r.role, version: r.version, latency_ms: Number(r.latency_ms).toFixed(2) })), ['time', 'request_id', 'role', 'version', 'latency_ms'], values.json, rows);
  },
};

export async function deploymentsCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseCommand(argv, OPTIONS, USAGE);
  const [verb, ...rest] = positionals;
  const run = verb === undefined ? undefined : VERBS[verb];
  if (!run) fail(`unknown deployments verb '${verb ?? ''}'\nusage: ${USAGE}`);
  await run(clientFor(values), rest, values);
}

/** `capstan deploy -f FILE`: create or replace a deployment from its YAML file. */
export async function deployCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseCommand(argv, { ...REMOTE_OPTIONS, file: { type: 'string', short: 'f' } }, DEPLOY_USAGE);
  if (!values.file || positionals.length) fail(`usage: ${DEPLOY_USAGE}`);
  const text = await readFile(values.file, 'utf8').catch((err: Error) => fail(`cannot read ${values.file}: ${err.message}`));
  show(await clientFor(values).applyDeployment(text), values.json);
}
