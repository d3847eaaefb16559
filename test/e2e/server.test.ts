// The real process: `capstan up`, its operational endpoints and log, the CLI against it, shutdown, and
// two processes sharing one PostgreSQL schema.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testDatabases } from '../support/databases.js';
import { freePort, httpRequest, runCli, startServer, type ServerProcess } from '../support/server-process.js';

const API = '/api/2.0/mlflow';
const SECRET_TOKEN = 'secret-token-123';

const request = httpRequest;

const METRIC_NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const COMMENT_LINE = new RegExp(`^# (HELP ${METRIC_NAME} .*|TYPE ${METRIC_NAME} (counter|gauge|histogram|summary|untyped))$`);
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\["\\\\n])*"';
const SAMPLE_LINE = new RegExp(`^(${METRIC_NAME})(\\{(?:${LABEL})(?:,${LABEL})*,?\\})? (-?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][-+]?\\d+)?|NaN|[-+]Inf)(?: -?\\d+)?$`);

/** Parses Prometheus text exposition, failing on any line that is not a comment or a sample. */
function parseExposition(text: string): { name: string; labels: string; value: string }[] {
  const samples: { name: string; labels: string; value: string }[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || COMMENT_LINE.test(line)) continue;
    const m = SAMPLE_LINE.exec(line);
    assert.ok(m, `not Prometheus text format: ${JSON.stringify(line)}`);
    samples.push({ name: m[1]!, labels: m[2] ?? '', value: m[3]! });
  }
  return samples;
}

/** MLflow RPCs (spec §3, §4 and §7) that a Capstan server may or may not answer yet. */
const MLFLOW_RPCS: [string, string][] = [
  ...['create', 'update', 'delete', 'restore', 'set-experiment-tag', 'delete-experiment-tag', 'search'].map((p): [string, string] => ['POST', `/experiments/${p}`]),
  ...['get', 'get-by-name', 'search'].map((p): [string, string] => ['GET', `/experiments/${p}`]),
  ...['create', 'update', 'delete', 'restore', 'log-metric', 'log-parameter', 'set-tag', 'delete-tag', 'log-batch', 'log-model', 'log-inputs', 'search', 'outputs'].map((p): [string, string] => ['POST', `/runs/${p}`]),
  ...['runs/get', 'metrics/get-history', 'metrics/get-history-bulk', 'metrics/get-history-bulk-interval', 'artifacts/list', 'registered-models/get', 'registered-models/search', 'model-versions/get'].map((p): [string, string] => ['GET', `/${p}`]),
  ...['artifacts/presigned-upload-url', 'registered-models/create', 'model-versions/create', 'logged-models', 'experiments/search-datasets'].map((p): [string, string] => ['POST', `/${p}`]),
  ['DELETE', '/registered-models/delete'],
];

/** Every route a client might call: the MLflow RPCs under both prefixes, the artifact proxy, operations. */
const CANDIDATES: [string, string][] = [
  ...MLFLOW_RPCS.flatMap(([method, path]): [string, string][] => ['/api/2.0/mlflow', '/ajax-api/2.0/mlflow'].map((prefix) => [method, prefix + path])),
  ...['/api/2.0/mlflow-artifacts', '/ajax-api/2.0/mlflow-artifacts'].flatMap((prefix): [string, string][] => [
    ['GET', `${prefix}/artifacts`],
    ['PUT', `${prefix}/artifacts/{path}`],
    ['GET', `${prefix}/artifacts/{path}`],
    ['DELETE', `${prefix}/artifacts/{path}`],
    ['POST', `${prefix}/mpu/create/{path}`],
    ['GET', `${prefix}/presigned/{path}`],
  ]),
  ...['/health', '/healthz', '/readyz', '/metrics', '/version', '/api/3.0/mlflow/server-info', '/api/openapi.json', '/docs', '/graphql', '/get-artifact'].map((p): [string, string] => ['GET', p]),
];

describe('capstan up as a real process', () => {
  let server: ServerProcess;
  let dataDir: string;
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'capstan-e2e-'));
    // The most verbose level, so the check that credentials never reach the log covers every log line.
    server = await startServer({ dataDir, env: { CAPSTAN_LOG_LEVEL: 'trace' } });
  });
  after(async () => {
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers the health and readiness probes', async () => {
    const health = await request(server.url, 'GET', '/health');
    assert.equal(health.status, 200);
    assert.equal(health.text, 'OK');
    assert.match(health.headers.get('content-type') ?? '', /^text\/plain/);
    assert.deepEqual((await request(server.url, 'GET', '/healthz')).json, { status: 'ok' });
    const ready = await request(server.url, 'GET', '/readyz');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.json, { status: 'ready' });
    const version = await request(server.url, 'GET', '/version');
    assert.match(version.text, /^\d+\.\d+\.\d+/);
  });

  it('exposes valid Prometheus metrics with a histogram per route template', async () => {
    const created = await request(server.url, 'POST', `${API}/runs/create`, { experiment_id: '0' }, { authorization: `Bearer ${SECRET_TOKEN}` });
    assert.equal(created.status, 200);
    await request(server.url, 'GET', `${API}/runs/get?run_id=${'0'.repeat(32)}`, undefined, { authorization: `Bearer ${SECRET_TOKEN}` });
    const res = await request(server.url, 'GET', '/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    assert.match(res.text, /^# TYPE capstan_http_request_duration_seconds histogram$/m);
    const samples = parseExposition(res.text);
    const buckets = samples.filter((s) => s.name === 'capstan_http_request_duration_seconds_bucket' && s.labels.includes('route="/api/2.0/mlflow/runs/create"'));
    assert.ok(buckets.length > 1, 'no duration buckets for runs/create');
    assert.ok(buckets.every((b) => /method="POST"/.test(b.labels) && /status="200"/.test(b.labels) && /le="/.test(b.labels)));
    assert.equal(buckets.find((b) => b.labels.includes('le="+Inf"'))?.value, '1');
    const notFound = samples.find((s) => s.name === 'capstan_http_requests_total' && s.labels.includes('route="/api/2.0/mlflow/runs/get"') && s.labels.includes('status="404"'));
    assert.equal(notFound?.value, '1');
    assert.ok(samples.some((s) => s.name.startsWith('capstan_process_')), 'process metrics missing');
  });

  it('serves an OpenAPI 3.1 document listing exactly the routes it answers, and /docs as HTML', async () => {
    const doc = (await request(server.url, 'GET', '/api/openapi.json')).json;
    assert.equal(doc.openapi, '3.1.0');
    assert.equal(typeof doc.info.version, 'string');
    const documented = new Set<string>();
    for (const [path, item] of Object.entries<Record<string, unknown>>(doc.paths)) for (const method of Object.keys(item)) documented.add(`${method.toUpperCase()} ${path}`);
    const probe = async (method: string, path: string) => {
      const url = path.replace(/\{path\}/g, 'probe/file.txt').replace(/\{(\w+)\}/g, 'probe');
      const res = await request(server.url, method, url, method === 'GET' || method === 'DELETE' ? undefined : {});
      return res.status < 500 && !(res.status === 404 && res.json?.error_code === 'ENDPOINT_NOT_FOUND');
    };
    for (const op of documented) {
      const [method, path] = op.split(' ') as [string, string];
      assert.ok(await probe(method, path), `documented but not answered: ${op}`);
    }
    for (const [method, path] of CANDIDATES) {
      if (await probe(method, path)) assert.ok(documented.has(`${method} ${path}`), `answered but not documented: ${method} ${path}`);
    }
    for (const [method, path] of [['GET', '/health'], ['POST', `${API}/runs/log-batch`], ['POST', '/ajax-api/2.0/mlflow/runs/search'], ['PUT', '/api/2.0/mlflow-artifacts/artifacts/{path}']]) {
      assert.ok(documented.has(`${method} ${path}`), `${method} ${path} missing from the document`);
    }
    const docs = await request(server.url, 'GET', '/docs');
    assert.equal(docs.status, 200);
    assert.match(docs.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(docs.text, /^<!doctype html>/i);
    assert.ok(docs.text.includes('/api/openapi.json'));
  });

  it('writes a JSON access log with request_id, route, status and duration_ms, never the bearer token', async () => {
    const given = 'e2e-log-check-1';
    await request(server.url, 'POST', `${API}/experiments/search`, { max_results: 5 }, { authorization: `Bearer ${SECRET_TOKEN}`, 'x-request-id': given });
    await request(server.url, 'GET', '/no/such/route', undefined, { authorization: `Bearer ${SECRET_TOKEN}` });
    const line = await server.waitForLog((l) => l.request_id === given && l.msg === 'request');
    await server.waitForLog((l) => l.msg === 'request' && l.route === 'unmatched');
    const lines = server.logLines();
    assert.equal(line.route, `${API}/experiments/search`);
    assert.equal(line.status, 200);
    assert.equal(typeof line.duration_ms, 'number');
    assert.equal(line.method, 'POST');
    const created = lines.find((l) => l.msg === 'request' && l.route === `${API}/runs/create`);
    assert.ok(created && typeof created.request_id === 'string' && created.status === 200);
    assert.ok(lines.some((l) => l.msg === 'request' && l.route === 'unmatched' && l.status === 404));
    assert.ok(!server.stdout().includes(SECRET_TOKEN) && !server.stderr().includes(SECRET_TOKEN), 'the bearer token reached the log');
  });

  it('drives experiments and runs through the CLI', async () => {
    const url = server.url;
    const made = await runCli(['experiments', 'create', 'cli-exp', '--url', url, '--json']);
    assert.equal(made.code, 0, made.stderr);
    const { experiment_id: expId } = JSON.parse(made.stdout);
    assert.match(expId, /^\d+$/);
    const table = await runCli(['experiments', 'create', 'cli-exp-2', '--url', url]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^EXPERIMENT_ID\s+NAME\n\d+\s+cli-exp-2\n$/);

    const listed = await runCli(['experiments', 'list', '--url', url, '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(JSON.parse(listed.stdout).map((e: any) => e.name).sort(), ['Default', 'cli-exp', 'cli-exp-2']);
    const byId = await runCli(['experiments', 'get', expId, '--url', url, '--json']);
    assert.equal(JSON.parse(byId.stdout).name, 'cli-exp');
    const byName = await runCli(['experiments', 'get', 'cli-exp'], { CAPSTAN_URL: url });
    assert.equal(byName.code, 0, byName.stderr);
    assert.match(byName.stdout, new RegExp(`^EXPERIMENT_ID .*\\n${expId}\\s+cli-exp\\s+active\\s+mlflow-artifacts:/${expId}\\s`));

    const run = (await request(url, 'POST', `${API}/runs/create`, { experiment_id: expId, run_name: 'cli-run' })).json.run.info.run_id;
    await request(url, 'POST', `${API}/runs/log-batch`, { run_id: run, metrics: [{ key: 'acc', value: 0.8, timestamp: 1, step: 0 }] });
    const other = (await request(url, 'POST', `${API}/runs/create`, { experiment_id: expId, run_name: 'other' })).json.run.info.run_id;

    const runs = await runCli(['runs', 'list', '--experiment', expId, '--url', url, '--json']);
    assert.equal(runs.code, 0, runs.stderr);
    assert.deepEqual(JSON.parse(runs.stdout).runs.map((r: any) => r.info.run_id).sort(), [run, other].sort());
    const searched = await runCli(['runs', 'search', '--experiment', expId, '--filter', 'metrics.acc > 0.5', '--url', url, '--json']);
    assert.equal(searched.code, 0, searched.stderr);
    assert.deepEqual(JSON.parse(searched.stdout).runs.map((r: any) => r.info.run_id), [run]);
    const got = await runCli(['runs', 'get', run, '--url', url, '--json']);
    assert.equal(got.code, 0, got.stderr);
    assert.deepEqual(JSON.parse(got.stdout).data.metrics, [{ key: 'acc', value: 0.8, timestamp: 1, step: 0 }]);
    const text = await runCli(['runs', 'get', run, '--url', url]);
    assert.match(text.stdout, new RegExp(`${run}\\s+cli-run\\s+RUNNING\\s+\\S+\\s+acc=0.8`));

    const missing = await runCli(['runs', 'get', 'f'.repeat(32), '--url', url]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /RESOURCE_DOES_NOT_EXIST/);
    const badFilter = await runCli(['runs', 'search', '--experiment', expId, '--filter', 'metrics.acc >> 1', '--url', url]);
    assert.equal(badFilter.code, 1);
    assert.match(badFilter.stderr, /INVALID_PARAMETER_VALUE.*position/);
  });

  it('refuses a second server on a port in use with a one-line error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'capstan-e2e-busy-'));
    try {
      const res = await runCli(['up', '--host', '127.0.0.1', '--port', String(server.port), '--data', dir]);
      assert.equal(res.code, 1);
      assert.match(res.stderr, /^capstan: CONFIG_INVALID: cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/m);
      assert.doesNotMatch(res.stderr, /\n\s+at /);
      assert.doesNotMatch(res.stderr, /Deprecation/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops cleanly on SIGTERM with exit code 0', async () => {
    assert.equal(await server.stop(), 0);
    assert.ok(server.logLines().some((l) => l.msg === 'shutting down' && l.signal === 'SIGTERM'));
    assert.equal(server.stderr(), '', 'the server wrote to stderr');
  });
});

describe('capstan CLI without a server', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'capstan-config-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('--print masks secrets, including passwords inside database URIs', async () => {
    const env = { CAPSTAN_S3_SECRET_ACCESS_KEY: 'hunter2-s3-secret', CAPSTAN_STORE_DATABASE_URI: 'postgresql://app:db-password-9@db:5432/capstan' };
    for (const args of [['config', '--print'], ['config', '--print', '--json']]) {
      const res = await runCli(args, env);
      assert.equal(res.code, 0, res.stderr);
      assert.ok(!res.stdout.includes('hunter2-s3-secret') && !res.stdout.includes('db-password-9'), res.stdout);
      assert.match(res.stdout, /s3\.secret_access_key"?: "\*{8}"/);
      assert.ok(res.stdout.includes('postgresql://app:********@db:5432/capstan'));
    }
  });

  it('shows the file, environment and flags in order of precedence', async () => {
    const file = join(dir, 'ok.yaml');
    writeFileSync(file, 'server:\n  port: 7001\nlog:\n  level: warn\n');
    const res = await runCli(['config', '--print', '--json', '--config', file, '--port', '7002'], { CAPSTAN_LOG_LEVEL: 'error' });
    assert.equal(res.code, 0, res.stderr);
    const shown = JSON.parse(res.stdout);
    assert.equal(shown['server.port'], 7002);
    assert.equal(shown['log.level'], 'error');
  });

  it('rejects an unknown key in a config file, naming it', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'server:\n  port: 7001\n  max_body_byte: 10\n');
    const res = await runCli(['config', '--print', '--config', file]);
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /unknown key 'server\.max_body_byte'/);
  });

  it('rejects an unknown CAPSTAN_* variable, naming it, in config and up', async () => {
    const res = await runCli(['config', '--print'], { CAPSTAN_SERVER_PORTT: '1' });
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /CAPSTAN_SERVER_PORTT/);
    const up = await runCli(['up', '--port', '0', '--data', dir], { CAPSTAN_LOG_LEVLE: 'debug' });
    assert.notEqual(up.code, 0);
    assert.match(up.stderr, /CAPSTAN_LOG_LEVLE/);
  });

  it('says a server cannot be reached, without a stack trace', async () => {
    const res = await runCli(['experiments', 'list', '--url', `http://127.0.0.1:${await freePort()}`]);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /^capstan: cannot reach the server: .*ECONNREFUSED/);
    assert.doesNotMatch(res.stderr, /\n\s+at /);
  });
});

describe('two processes on one PostgreSQL schema', async () => {
  const pg = (await testDatabases()).find((b) => b.db.name === 'postgres')!;
  let servers: ServerProcess[] = [];
  const dirs: string[] = [];
  let drop: (() => Promise<void>) | undefined;
  before(async () => {
    if (pg.skip) return;
    const db = await pg.db.create();
    drop = db.drop;
    const env = { CAPSTAN_STORE_DATABASE_URI: db.uri };
    // Started together, so both run migrations and create the Default experiment at once.
    servers = await Promise.all(
      [0, 1].map(() => {
        const dataDir = mkdtempSync(join(tmpdir(), 'capstan-pg2-'));
        dirs.push(dataDir);
        return startServer({ dataDir, env });
      }),
    );
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    await drop?.();
  });

  it('sees through one process what was written through the other', { skip: pg.skip }, async () => {
    const [a, b] = servers as [ServerProcess, ServerProcess];
    const expId = (await request(a.url, 'POST', `${API}/experiments/create`, { name: 'shared' })).json.experiment_id;
    const seen = await request(b.url, 'GET', `${API}/experiments/get-by-name?experiment_name=shared`);
    assert.equal(seen.json.experiment.experiment_id, expId);
    const runId = (await request(a.url, 'POST', `${API}/runs/create`, { experiment_id: expId })).json.run.info.run_id;
    const logged = await request(b.url, 'POST', `${API}/runs/log-batch`, { run_id: runId, metrics: [{ key: 'loss', value: 0.25, timestamp: 1, step: 3 }], params: [{ key: 'p', value: '1' }] });
    assert.equal(logged.status, 200, logged.text);
    const run = (await request(a.url, 'GET', `${API}/runs/get?run_id=${runId}`)).json.run;
    assert.deepEqual(run.data.metrics, [{ key: 'loss', value: 0.25, timestamp: 1, step: 3 }]);
    assert.deepEqual(run.data.params, [{ key: 'p', value: '1' }]);
    const defaults = await request(b.url, 'POST', `${API}/experiments/search`, { max_results: 100, filter: "name = 'Default'" });
    assert.equal(defaults.json.experiments.length, 1, 'the Default experiment was created twice');
  });

  it('lets exactly one of two concurrent creates of the same name succeed', { skip: pg.skip }, async () => {
    const [a, b] = servers as [ServerProcess, ServerProcess];
    for (let i = 0; i < 10; i++) {
      const name = `race-${i}`;
      const answers = await Promise.all([a, b].map((s) => request(s.url, 'POST', `${API}/experiments/create`, { name })));
      const won = answers.filter((r) => r.status === 200);
      const lost = answers.filter((r) => r.status !== 200);
      assert.equal(won.length, 1, `${name}: ${answers.map((r) => `${r.status} ${r.text}`).join(' | ')}`);
      assert.equal(lost[0]!.status, 400, lost[0]!.text);
      assert.equal(lost[0]!.json.error_code, 'RESOURCE_ALREADY_EXISTS');
      const listed = await request(b.url, 'POST', `${API}/experiments/search`, { max_results: 10, filter: `name = '${name}'` });
      assert.deepEqual(listed.json.experiments.map((e: any) => e.experiment_id), [won[0]!.json.experiment_id]);
    }
  });
});
