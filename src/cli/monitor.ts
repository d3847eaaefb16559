import { readFile, writeFile } from 'node:fs/promises';
import type { CapstanClient, WireFinding } from '../client/index.js';
import { fail, printRows } from './output.js';
import { clientFor, parseCommand, REMOTE_OPTIONS } from './remote.js';

const USAGE = `capstan monitor <verb> [--url URL] [--json]
  apply -f monitor.yaml                 (create or replace a monitor)
  list | get NAME | delete NAME
  run NAME                              (run now over its window; prints the findings)
  runs NAME [--max N]
  report NAME [--run ID] [--html FILE]  (the latest run's report; --html writes the page)
  report DEPLOYMENT --window 24h [--html FILE]  (a report over recent traffic, without a monitor)
  profile MODEL VERSION --csv FILE [--label-column COL] [--types a=numerical,b=categorical] [--predict]
  profile MODEL VERSION --dataset NAME --dataset-version N [--dataset-path FILE] [--label-column COL] [--predict]
  profile MODEL VERSION --deployment NAME [--window 24h]
  feedback DEPLOYMENT --file labels.json  ([{"request_id": "...", "label": 1}, ...])
  alerts [--status firing|resolved] | alert ID
  silence LABEL=VALUE[,LABEL=~REGEX] --duration 2h --comment TEXT | silences | unsilence ID
  channel NAME --kind webhook|slack --url URL [--min-severity P2] [--secret NAME] | channels
  cost [--days N] | idle [--days N] | budget [AMOUNT|none]`;

const OPTIONS = {
  ...REMOTE_OPTIONS, file: { type: 'string', short: 'f' }, max: { type: 'string' }, run: { type: 'string' }, html: { type: 'string' },
  csv: { type: 'string' }, 'label-column': { type: 'string' }, types: { type: 'string' }, deployment: { type: 'string' }, window: { type: 'string' },
  status: { type: 'string' }, duration: { type: 'string' }, comment: { type: 'string' }, kind: { type: 'string' }, 'min-severity': { type: 'string' },
  secret: { type: 'string' }, days: { type: 'string' }, predict: { type: 'boolean' }, dataset: { type: 'string' }, 'dataset-version': { type: 'string' }, 'dataset-path': { type: 'string' },
} as const;

type Values = Record<string, any>;
const iso = (ms: number) => new Date(ms).toISOString();

function one(rest: string[], what = 'NAME'): string {
  if (rest.length !== 1) fail(`expected ${what}\nusage: ${USAGE}`);
  return rest[0];
}

async function text(file: string | undefined, flag: string): Promise<string> {
  if (!file) fail(`${flag} FILE is required\nusage: ${USAGE}`);
  return readFile(file, 'utf8').catch((err: Error) => fail(`cannot read ${file}: ${err.message}`));
}

function findings(list: WireFinding[], json: boolean): void {
  printRows(list.map((f) => ({ severity: f.severity, rule: f.rule, summary: f.summary })), ['severity', 'rule', 'summary'], json, list);
}

/** `deployment=fraud,rule=~slo:.*` → matchers (`=~` a regular expression, `!=` a negation). */
export function parseMatchers(spec: string): { label: string; value: string; is_regex: boolean; is_equal: boolean }[] {
  return spec.split(',').filter(Boolean).map((p) => {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(=~|!~|!=|=)(.*)$/.exec(p);
    if (!m) fail(`'${p}' is not LABEL=VALUE, LABEL=~REGEX, LABEL!=VALUE or LABEL!~REGEX`);
    return { label: m[1], value: m[3], is_regex: m[2].endsWith('~'), is_equal: !m[2].startsWith('!') };
  });
}

const VERBS: Record<string, (client: CapstanClient, rest: string[], v: Values) => Promise<void>> = {
  apply: async (client, _rest, v) => {
    const m = await client.applyMonitor(await text(v.file, '-f'));
    process.stdout.write(v.json ? `${JSON.stringify(m, null, 2)}\n` : `applied monitor ${m.name} (deployment ${m.spec.deployment})\n`);
  },
  list: async (client, _rest, v) => {
    const all = await client.listMonitors();
    printRows(all.map((m) => ({ name: m.name, deployment: m.spec.deployment, next_run: iso(m.next_run_time), updated_by: m.updated_by })), ['name', 'deployment', 'next_run', 'updated_by'], v.json, all);
  },
  get: async (client, rest) => {
    process.stdout.write(`${JSON.stringify(await client.getMonitor(one(rest)), null, 2)}\n`);
  },
  delete: async (client, rest) => {
    await client.deleteMonitor(one(rest));
    process.stdout.write(`deleted monitor ${rest[0]}\n`);
  },
  run: async (client, rest, v) => {
    const r = await client.runMonitor(one(rest));
    if (v.json) return void process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    process.stdout.write(`${r.status}: ${r.rows} rows (${r.mode}) from ${iso(r.window_start)} to ${iso(r.window_end)}\n`);
    findings(r.findings ?? [], false);
  },
  runs: async (client, rest, v) => {
    const runs = await client.monitorRuns(one(rest), v.max ? Number(v.max) : undefined);
    printRows(runs.map((r) => ({ run: r.run_id, window_end: iso(r.window_end), rows: r.rows, mode: r.mode, status: r.status, findings: (r.summary?.findings ?? []).map((f) => f.rule).join(' ') })), ['run', 'window_end', 'rows', 'mode', 'status', 'findings'], v.json, runs);
  },
  report: async (client, rest, v) => {
    const name = one(rest);
    const runId = v.run ? Number(v.run) : undefined;
    // With --window NAME is a deployment: a one-off report over its recent traffic.
    const fetchReport = (format: 'json' | 'html') => (v.window ? client.deploymentReport(name, v.window, format) : client.monitorReport(name, { runId, format }));
    if (v.html) {
      await writeFile(v.html, (await fetchReport('html')).text ?? '');
      return void process.stdout.write(`wrote ${v.html}\n`);
    }
    const r = (await fetchReport('json')) as { run_id?: number; report?: Record<string, any> };
    if (v.json) return void process.stdout.write(`${JSON.stringify(r.report, null, 2)}\n`);
    const rep = r.report ?? {};
    process.stdout.write(`${r.run_id ? `run ${r.run_id}` : name}: ${rep.status}, ${rep.window?.rows} rows (${rep.mode}), ${iso(rep.window?.start)} – ${iso(rep.window?.end)}\n`);
    findings(rep.findings ?? [], false);
  },
  profile: async (client, rest, v) => {
    if (rest.length !== 2 || !/^\d+$/.test(rest[1])) fail(`expected MODEL VERSION\nusage: ${USAGE}`);
    const p = await client.createProfile({
      model: rest[0], version: Number(rest[1]), csv: v.csv ? await text(v.csv, '--csv') : undefined,
      dataset: v.dataset, dataset_version: v['dataset-version'] ? Number(v['dataset-version']) : undefined, dataset_path: v['dataset-path'],
      label_column: v['label-column'], types: v.types, predict: v.predict === true ? true : undefined, deployment: v.deployment, window: v.window,
    });
    process.stdout.write(v.json ? `${JSON.stringify(p, null, 2)}\n` : `profiled ${p.model} v${p.version}: ${p.rows} rows, ${p.columns.length} columns${p.exact ? ' (kept for exact statistics)' : ' (sketches only)'}\n`);
  },
  feedback: async (client, rest, v) => {
    const labels = JSON.parse(await text(v.file, '--file'));
    process.stdout.write(`stored ${await client.sendFeedback(one(rest, 'DEPLOYMENT'), labels)} labels\n`);
  },
  alerts: async (client, _rest, v) => {
    const all = await client.listAlerts(v.status);
    printRows(all.map((a) => ({ id: a.alert_id, status: a.status, severity: a.severity, rule: a.rule, monitor: a.labels.monitor ?? a.labels.budget ?? '', summary: a.summary })), ['id', 'status', 'severity', 'rule', 'monitor', 'summary'], v.json, all);
  },
  alert: async (client, rest) => {
    process.stdout.write(`${JSON.stringify(await client.getAlert(Number(one(rest, 'ID'))), null, 2)}\n`);
  },
  silence: async (client, rest, v) => {
    if (!v.duration || !v.comment) fail(`silence needs --duration and --comment\nusage: ${USAGE}`);
    process.stdout.write(`silence ${await client.createSilence(parseMatchers(one(rest, 'MATCHERS')), v.duration, v.comment)} created\n`);
  },
  silences: async (client, _rest, v) => {
    const all = await client.listSilences();
    printRows(all.map((s) => ({ id: s.silence_id, active: s.active, ends: iso(Number(s.ends_time)), by: s.created_by, matchers: JSON.stringify(s.matchers), comment: s.comment })), ['id', 'active', 'ends', 'by', 'matchers', 'comment'], v.json, all);
  },
  unsilence: async (client, rest) => {
    await client.expireSilence(Number(one(rest, 'ID')));
    process.stdout.write(`silence ${rest[0]} expired\n`);
  },
  channel: async (client, rest, v) => {
    if (!v.kind || !v.url) fail(`channel needs --kind and --url\nusage: ${USAGE}`);
    await client.putChannel({ name: one(rest), kind: v.kind, url: v.url, min_severity: v['min-severity'], secret_name: v.secret });
    process.stdout.write(`channel ${rest[0]} saved\n`);
  },
  channels: async (client, _rest, v) => {
    const all = await client.listChannels();
    printRows(all, ['name', 'kind', 'url', 'min_severity', 'secret_name'], v.json, all);
  },
  cost: async (client, _rest, v) => {
    const start = v.days ? Date.now() - Number(v.days) * 86_400_000 : undefined;
    const c = await client.costReport(start);
    if (v.json) return void process.stdout.write(`${JSON.stringify(c, null, 2)}\n`);
    process.stdout.write(`cost ${iso(c.from)} – ${iso(c.to)}: ${c.total} ${c.currency}\n`);
    printRows(c.lines, ['deployment', 'model', 'version', 'requests', 'cpu_seconds', 'cost', 'cost_per_1k_predictions', 'owner', 'cost_center'], false);
  },
  idle: async (client, _rest, v) => {
    const all = await client.idleDeployments(v.days ? Number(v.days) : undefined);
    printRows(all.map((d) => ({ ...d, last_request: d.last_request_time ? iso(d.last_request_time) : 'never' })), ['name', 'idle_days', 'last_request', 'owner', 'cost_center'], v.json, all);
  },
  budget: async (client, rest, v) => {
    const amount = rest[0] === undefined || rest[0] === 'none' ? null : Number(rest[0]);
    if (amount !== null && !(Number.isFinite(amount) && amount > 0)) fail(`budget takes a positive amount or 'none'; got '${rest[0]}'`);
    const b = rest.length ? await client.setBudget(amount) : await client.getBudget();
    process.stdout.write(v.json ? `${JSON.stringify(b, null, 2)}\n` : `budget ${b.monthly_limit ?? 'none'} ${b.currency}; this month ${b.month_to_date}${b.used_fraction != null ? ` (${(b.used_fraction * 100).toFixed(1)}%)` : ''}\n`);
  },
};

export async function monitorCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseCommand(argv, OPTIONS, USAGE);
  const [verb, ...rest] = positionals;
  const run = verb === undefined ? undefined : VERBS[verb];
  if (!run) fail(`unknown monitor verb '${verb ?? ''}'\nusage: ${USAGE}`);
  await run(clientFor(values), rest, values);
}
