#!/usr/bin/env node
// A monitor run over a large logged window, the server's own path: `npm run -s bench -- monitoring-run
// [--rows 1000000] [--batch 10] [--database sqlite|postgres]`. Runs the built code (npx tsc -p
// tsconfig.json first) in this process against a fresh SQLite file (or the local PostgreSQL test
// database with --database postgres): writes `rows` logged predictions of 30 features in requests
// of `batch` rows (seeded normals; the second half shifted), stores a reference profile of 20,000
// rows, then times one monitor run in sketch mode — pages read from the database, JSON decoded,
// profiles built — and samples the RSS. Prints one JSON document; progress on stderr.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist', 'src');
const log = (line) => process.stderr.write(`[bench] ${line}\n`);
const { values } = parseArgs({ options: { rows: { type: 'string', default: '1000000' }, batch: { type: 'string', default: '10' }, database: { type: 'string', default: 'sqlite' }, url: { type: 'string' } } });
if (!existsSync(path.join(DIST, 'monitoring', 'monitor-run.js'))) {
  process.stderr.write('dist/ is missing: build first with npx tsc -p tsconfig.json\n');
  process.exit(2);
}
const load = (p) => import(path.join(DIST, p));
const { openDb, migrate } = await load('store/sql/index.js');
const { MonitoringSql } = await load('monitoring/monitoring.sql.js');
const { UsageSql } = await load('monitoring/usage.sql.js');
const { runMonitor } = await load('monitoring/monitor-run.js');
const { parseMonitorSpec } = await load('monitoring/monitor-spec.js');
const { profileOf } = await load('monitoring/reference.js');
const { sketchCompare } = await load('monitoring/sketch-compare.js');
const { uniformSource, fillNormals } = await load('monitoring/seeded.js');

const ROWS = Number(values.rows);
const BATCH = Number(values.batch);
const FEATURES = 30;
const dir = mkdtempSync(path.join(os.tmpdir(), 'capstan-bench-monitor-'));
let uri = `sqlite://${path.join(dir, 'bench.db')}`;
const pgName = `capstan_bench_${process.pid}`;
/** Runs one statement on the local PostgreSQL server's maintenance database. */
async function pgAdmin(statement) {
  const pg = (await import('pg')).default;
  const admin = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
  await admin.connect();
  try {
    await admin.query(statement);
  } finally {
    await admin.end();
  }
}
if (values.database === 'postgres') {
  await pgAdmin(`CREATE DATABASE ${pgName}`);
  uri = `postgres://postgres@127.0.0.1:5432/${pgName}`;
}
const db = openDb(uri);
await migrate(db);
const sql = new MonitoringSql(db);
const uniform = uniformSource(42);
const names = Array.from({ length: FEATURES }, (_, i) => `f${i}`);

// Reference: 20,000 rows of N(0, 1) per feature, kept as sketches only (as for a large training set).
const refRows = 20_000;
const refColumns = names.map((name) => ({ name, kind: 'numerical', role: 'feature', values: Array.from(fillNormals(new Float64Array(refRows), uniform)) }));
await sql.putProfile({ projectId: 1, model: 'm', version: 1, source: { kind: 'bench' }, rowCount: refRows, profile: { ...profileOf(refColumns, refRows), sketch: sketchCompare.profile(refColumns) }, sample: null, createdTime: Date.now(), createdBy: 'bench' });

log(`writing ${ROWS} logged rows in requests of ${BATCH}`);
const started = Date.now();
const now = Date.now();
const requests = Math.ceil(ROWS / BATCH);
const row = new Float64Array(BATCH * FEATURES);
for (let done = 0; done < requests; ) {
  const page = [];
  for (let i = 0; i < 2000 && done < requests; i++, done++) {
    fillNormals(row, uniform, done >= requests / 2 ? 1 : 0);
    const inputs = JSON.stringify([{ name: 'input', datatype: 'FP32', shape: [BATCH, FEATURES], data: Array.from(row, (v) => Math.fround(v)) }]);
    const outputs = JSON.stringify([{ name: 'score', datatype: 'FP32', shape: [BATCH, 1], data: Array.from({ length: BATCH }, () => uniform()) }]);
    page.push([1, 'd', 'm', '1', 'target:stable', `r${done}`, now - 60_000 + Math.floor((done / requests) * 50_000), 1.5, inputs, outputs]);
  }
  await db.transaction((tx) => tx.runMany('INSERT INTO prediction_logs (project_id, deployment, model, version, role, request_id, time, latency_ms, inputs, outputs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)', page));
  if (done % 20_000 === 0) log(`  ${done * BATCH} rows`);
}
const writeSeconds = (Date.now() - started) / 1000;

const spec = parseMonitorSpec({ name: 'bench', deployment: 'd', reference: { model: 'm', version: 1 }, window: { duration: '1h', max_rows: ROWS }, checks: { feature_drift: true, data_quality: true } });
let peak = 0;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
const rssBefore = process.memoryUsage().rss;
const t0 = performance.now();
const cpu0 = process.cpuUsage();
const outcome = await runMonitor({ projectId: 1, spec, now, servedVersion: () => null, sql, usage: new UsageSql(db), exactMaxRows: 10_000 });
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
clearInterval(sampler);
peak = Math.max(peak, process.memoryUsage().rss);
await db.close();
rmSync(dir, { recursive: true, force: true });
if (values.database === 'postgres') await pgAdmin(`DROP DATABASE ${pgName}`);
const drift = outcome.report.drift;
process.stdout.write(`${JSON.stringify({
  bench: 'monitoring-run', date: new Date().toISOString(), database: values.database,
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model.split(' ').slice(0, 2).join(' '), node: process.version },
  rows: outcome.rows, requests, features: FEATURES, write_seconds: Number(writeSeconds.toFixed(1)),
  run_seconds: Number(seconds.toFixed(2)), rows_per_second: Math.round(outcome.rows / seconds), cpu_seconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(2)),
  mode: outcome.mode, status: outcome.status, feature_drift_share: drift.feature_drift_share,
  rss_before_mib: Math.round(rssBefore / 2 ** 20), peak_rss_mib: Math.round(peak / 2 ** 20),
}, null, 2)}\n`);
