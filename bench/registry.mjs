#!/usr/bin/env node
// Model-registry benchmark. This bench starts its own servers (`capstan up` in a child process on a
// temporary data directory, stopped and started again around the seeding) and reports, each beside
// its baseline from the same run:
//   - register_100mb: registering a version of a 100 MiB model from a local file (streamed upload
//     through the artifact proxy + model-versions/create) in MB/s, against copying the same file on
//     the same disk; also create alone and verify (re-hash);
//   - search_100k: p50/p95 of model-version and registered-model searches over 100,000 versions
//     seeded straight into SQLite, against the 50 ms target, with each query's plan; and a small
//     artifact PUT before and after seeding (the proxy checks that no version pins the path).
// One JSON object goes to stdout; progress and first errors to stderr.
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { createClient, log, percentile, round } from './lib/load.mjs';
import { startServer } from './lib/server.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(pathToFileURL(path.join(ROOT, 'dist/src', p)).href);
const MLFLOW = '/api/2.0/mlflow';
const ARTIFACTS = '/api/2.0/mlflow-artifacts/artifacts';
const CAPSTAN_REGISTRY = '/api/capstan/registry';
const FIGURES = ['register', 'search'];
const TARGET_RATIO = 0.8;
const TARGET_P50_MS = 50;
const UPLOAD_CHUNK_BYTES = 1 << 20; // the client reads the model file in 1 MiB chunks
const REQUEST_TIMEOUT_MS = 600_000;
const WARMUP_REQUESTS = 10;
const SQL_ONLY_REPEATS = 50;
const PUT_SMALL_REQUESTS = 50;
const MODEL_NAME = 'bench-model';
const PROJECT_ID = 1; // the default project, created by migration 2
// What the service asks the store for when max_results is absent (registry.service.ts): the page
// size plus one row, to know whether there is a next page.
const DEFAULT_PAGE = { model_versions: 10_000, registered_models: 100 };

const MLMODEL = `artifact_path: model
flavors:
  python_function:
    loader_module: mlflow.pytorch
    python_version: 3.11.7
  pytorch:
    model_data: data
    pytorch_version: 2.1.0
mlflow_version: 2.9.2
signature:
  inputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 784]}, "name": "input"}]'
  outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 10]}, "name": "logits"}]'
  params: null
`;

const USAGE = `usage: node bench/registry.mjs [options]   (or: npm run -s bench -- registry [options])
  --only LIST        comma-separated subset of ${FIGURES.join(',')} (default: all)
  --runs N           registrations of the model, each beside a local copy (default 5)
  --size-mib N       size of the model's weight file in MiB (default 100)
  --models N         registered models seeded for search (default 1000)
  --versions N       versions per seeded model (default 100)
  --requests N       timed requests per search query (default 200)
  --keep             keep the data directory and print where it is
Exit status: 0 done, 1 a figure failed (see its "error" field), 2 bad usage.`;

function usageError(message) {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

function positive(name, text) {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) usageError(`--${name} must be a positive integer, got '${text}'`);
  return value;
}

function parseOptions(argv) {
  const str = (fallback) => ({ type: 'string', default: fallback });
  let values;
  try {
    ({ values } = parseArgs({ args: argv, strict: true, options: {
      only: str(FIGURES.join(',')), runs: str('5'), 'size-mib': str('100'), models: str('1000'), versions: str('100'),
      requests: str('200'), keep: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' },
    } }));
  } catch (err) {
    usageError(err.message);
  }
  if (values.help) { process.stdout.write(`${USAGE}\n`); process.exit(0); }
  const only = values.only.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = only.filter((name) => !FIGURES.includes(name));
  if (unknown.length || !only.length) usageError(`--only takes ${FIGURES.join(', ')}; got '${values.only}'`);
  const models = positive('models', values.models);
  if (models > 10_000) usageError('--models must be at most 10000 (names are model-0000 to model-9999)');
  return {
    only, runs: positive('runs', values.runs), sizeBytes: positive('size-mib', values['size-mib']) * 2 ** 20,
    models, versions: positive('versions', values.versions), requests: positive('requests', values.requests), keep: values.keep,
  };
}

const median = (xs) => percentile(xs, 50);
const mbPerS = (bytes, ms) => round(bytes / 1e6 / (ms / 1000));

/** Streams a local file to the artifact proxy with its length declared, as MLflow clients do. */
function putFile(url, key, file, sizeBytes) {
  const target = new URL(`${url}${ARTIFACTS}/${key}`);
  return new Promise((resolve, reject) => {
    const req = http.request({
      hostname: target.hostname, port: target.port, path: target.pathname, method: 'PUT', timeout: REQUEST_TIMEOUT_MS,
      headers: { 'content-type': 'application/octet-stream', 'content-length': sizeBytes },
    }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode === 200) resolve(); else reject(new Error(`PUT ${key}: HTTP ${res.statusCode}: ${text.slice(0, 300)}`));
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`PUT ${key}: no response within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    pipeline(createReadStream(file, { highWaterMark: UPLOAD_CHUNK_BYTES }), req).catch(reject);
  });
}

async function writeRandomFile(file, sizeBytes) {
  const handle = await open(file, 'w');
  try {
    for (let written = 0; written < sizeBytes;) {
      const chunk = randomBytes(Math.min(8 * 2 ** 20, sizeBytes - written));
      await handle.write(chunk);
      written += chunk.length;
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function time(fn) {
  const t = performance.now();
  const value = await fn();
  return { ms: performance.now() - t, value };
}

/** The run's artifact root as a blob key: `<experiment>/<run>/artifacts`. */
function artifactKey(run) {
  const uri = run.info.artifact_uri;
  const m = /^mlflow-artifacts:\/+(.*)$/.exec(uri);
  if (!m) throw new Error(`run ${run.info.run_id} has artifact_uri '${uri}', not on the artifact proxy`);
  return m[1].replace(/\/+$/, '');
}

// ---------------------------------------------------------------------------------------------
// register_100mb

async function benchRegister(ctx) {
  const { runs, sizeBytes } = ctx.opts;
  const { client, workDir } = ctx;
  const weights = path.join(workDir, 'model.bin');
  const mlmodel = path.join(workDir, 'MLmodel');
  log(`register: writing a ${sizeBytes / 2 ** 20} MiB random weight file to ${workDir}`);
  await writeRandomFile(weights, sizeBytes);
  await writeFile(mlmodel, MLMODEL);
  const mlmodelBytes = Buffer.byteLength(MLMODEL);
  const totalBytes = sizeBytes + mlmodelBytes;
  const name = `bench-registry-${Date.now().toString(36)}`;
  const { experiment_id: experimentId } = await client.call('POST', `${MLFLOW}/experiments/create`, { name });
  await client.call('POST', `${MLFLOW}/registered-models/create`, { name: MODEL_NAME });

  const rounds = [];
  for (let r = 0; r < runs; r++) {
    // Baselines first: the same bytes copied to a new path on the same disk, plain and then durable
    // (the artifact store fsyncs each file before it answers).
    const copy = path.join(workDir, `copy-${r}.bin`);
    const plain = await time(() => copyFile(weights, copy));
    await rm(copy);
    const durable = await time(async () => {
      await copyFile(weights, copy);
      const handle = await open(copy, 'r+');
      try { await handle.sync(); } finally { await handle.close(); }
    });
    await rm(copy);

    const { run } = await client.call('POST', `${MLFLOW}/runs/create`, { experiment_id: experimentId, run_name: `register-${r}`, start_time: Date.now() });
    const runId = run.info.run_id;
    const root = `${artifactKey(run)}/model`;
    const t0 = performance.now();
    await putFile(ctx.url, `${root}/data/model.bin`, weights, sizeBytes);
    await putFile(ctx.url, `${root}/MLmodel`, mlmodel, mlmodelBytes);
    const uploaded = performance.now();
    const { model_version: mv } = await client.call('POST', `${MLFLOW}/model-versions/create`, { name: MODEL_NAME, source: `runs:/${runId}/model`, run_id: runId });
    const done = performance.now();
    const verify = await time(() => client.call('POST', `${CAPSTAN_REGISTRY}/model-versions/verify`, { name: MODEL_NAME, version: mv.version }));
    const report = verify.value.report;
    if (!report?.verified) throw new Error(`version ${mv.version} did not verify: ${JSON.stringify(report)}`);
    const detail = await client.call('GET', `${CAPSTAN_REGISTRY}/model-versions/get?${new URLSearchParams({ name: MODEL_NAME, version: mv.version })}`);
    const files = detail.model_version.manifest?.files ?? [];
    if (files.length !== 2 || !detail.model_version.model_signature) {
      throw new Error(`version ${mv.version}: expected 2 manifest files and a signature, got ${files.length} files, signature ${JSON.stringify(detail.model_version.model_signature)}`);
    }
    const figures = {
      version: mv.version,
      register_ms: round(done - t0), register_mb_per_s: mbPerS(totalBytes, done - t0),
      upload_ms: round(uploaded - t0), create_ms: round(done - uploaded),
      copy_ms: round(plain.ms), copy_mb_per_s: mbPerS(sizeBytes, plain.ms),
      copy_fsync_ms: round(durable.ms), copy_fsync_mb_per_s: mbPerS(sizeBytes, durable.ms),
      verify_ms: round(verify.ms), verify_mb_per_s: mbPerS(totalBytes, verify.ms),
    };
    figures.ratio_vs_copy = round(figures.register_mb_per_s / figures.copy_mb_per_s, 2);
    rounds.push(figures);
    log(`register ${r + 1}/${runs}: ${figures.register_mb_per_s} MB/s (upload ${figures.upload_ms} ms, create ${figures.create_ms} ms), ` +
      `copy ${figures.copy_mb_per_s} MB/s, copy+fsync ${figures.copy_fsync_mb_per_s} MB/s, verify ${figures.verify_ms} ms`);
  }
  await rm(weights);
  const med = (key) => median(rounds.map((x) => x[key]));
  const registerRate = med('register_mb_per_s');
  const ratio = round(registerRate / med('copy_mb_per_s'), 2);
  return {
    register_100mb: {
      file_bytes: sizeBytes, mlmodel_bytes: mlmodelBytes, runs, mb: '10^6 bytes', client_chunk_bytes: UPLOAD_CHUNK_BYTES,
      register_mb_per_s: registerRate, copy_mb_per_s: med('copy_mb_per_s'),
      ratio_vs_copy: ratio, target_ratio: TARGET_RATIO, meets_target: ratio >= TARGET_RATIO,
      copy_fsync_mb_per_s: med('copy_fsync_mb_per_s'), ratio_vs_copy_fsync: round(registerRate / med('copy_fsync_mb_per_s'), 2),
      register_ms: med('register_ms'), upload_ms: med('upload_ms'), create_ms: med('create_ms'),
      verify_ms: med('verify_ms'), verify_mb_per_s: med('verify_mb_per_s'),
      rounds,
    },
  };
}

// A 1 KiB artifact PUT: the proxy first checks that no registered version pins the path.
async function putSmallP50(ctx, runKey) {
  const file = path.join(ctx.workDir, 'small.txt');
  await writeFile(file, 'x'.repeat(1024));
  const times = [];
  for (let i = 0; i < PUT_SMALL_REQUESTS + WARMUP_REQUESTS; i++) {
    const t = await time(() => putFile(ctx.url, `${runKey}/small/file-${i}.txt`, file, 1024));
    if (i >= WARMUP_REQUESTS) times.push(t.ms);
  }
  return { requests: PUT_SMALL_REQUESTS, p50_ms: median(times), p95_ms: percentile(times, 95) };
}

// ---------------------------------------------------------------------------------------------
// search_100k

const modelName = (m) => `model-${String(m).padStart(4, '0')}`;
// Version tags of the i-th version overall (model m, version v: i = m * versions + v - 1).
const TEAMS = 10;
const versionTags = (i) => ({ team: `t${i % TEAMS}`, stage: ['x', 'y', 'z'][i % 3], framework: ['sklearn', 'pytorch', 'onnx', 'xgboost'][i % 4] });
function stageOf(v, versions) {
  if (v === versions) return 'Production';
  if (v === versions - 1) return 'Staging';
  if (v > versions - 5) return 'Archived';
  return 'None';
}

/** Inserts models × versions rows (with tags) in one transaction; the server must be stopped. */
function seed(dbFile, models, versions) {
  const db = new Database(dbFile);
  try {
    db.pragma('journal_mode = WAL');
    const base = Number(db.prepare('SELECT COALESCE(MAX(model_id), 0) AS n FROM registered_models').get().n);
    const insModel = db.prepare('INSERT INTO registered_models (model_id, project_id, name, description, creation_time, last_update_time, next_version) VALUES (?, ?, ?, ?, ?, ?, ?)');
    const insModelTag = db.prepare('INSERT INTO registered_model_tags (model_id, key, value) VALUES (?, ?, ?)');
    const insVersion = db.prepare(`INSERT INTO model_versions (model_id, version, semver, description, source, storage_root, run_id, run_link, user_id, stage,
      status, creation_time, last_update_time, manifest, manifest_digest, signing_key_id, manifest_signature, model_signature, card, unsafe_files, code_version,
      logged_model_id) VALUES (${Array(22).fill('?').join(', ')})`);
    const insVersionTag = db.prepare('INSERT INTO model_version_tags (model_id, version, key, value) VALUES (?, ?, ?, ?)');
    const card = JSON.stringify({ description: '', intended_use: '', training_data: '', metrics_summary: '', limitations: '', fairness: '' });
    const t0 = Date.now() - models * versions * 1000;
    db.transaction(() => {
      for (let m = 0; m < models; m++) {
        const modelId = base + m + 1;
        const created = t0 + m * versions * 1000;
        insModel.run(modelId, PROJECT_ID, modelName(m), `Seeded model ${m}`, created, created + versions * 1000, versions + 1);
        insModelTag.run(modelId, 'team', `t${m % TEAMS}`);
        insModelTag.run(modelId, 'owner', `owner-${m % 37}`);
        for (let v = 1; v <= versions; v++) {
          const i = m * versions + v - 1;
          const runId = i.toString(16).padStart(32, '0');
          const time_ = t0 + i * 1000;
          insVersion.run(modelId, v, `${Math.floor((v - 1) / 10) + 1}.${(v - 1) % 10}.0`, '', `runs:/${runId}/model`, `0/${runId}/artifacts/model`,
            runId, '', 'bench', stageOf(v, versions), 'READY', time_, time_, '{"files":[]}', runId + runId, 'bench-key', 'bench-signature',
            null, card, '[]', '', '');
          for (const [key, value] of Object.entries(versionTags(i))) insVersionTag.run(modelId, v, key, value);
        }
      }
    })();
    return { base };
  } finally {
    db.close();
  }
}

/** The SQL the server runs for a search, captured from its own store classes over a recording Db. */
async function capturedSql(run) {
  const { sqliteDialect } = await dist('store/sql/dialect.js');
  const seen = [];
  const db = {
    dialect: sqliteDialect,
    all: async (sql, params = []) => { seen.push({ sql, params }); return []; },
    get: async (sql, params = []) => { seen.push({ sql, params }); return undefined; },
    run: async () => ({ changes: 0 }),
  };
  await run(db);
  return seen;
}

function explain(db, { sql, params }) {
  return db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params).map((row) => row.detail);
}

function sqlOnlyP50(db, { sql, params }) {
  const stmt = db.prepare(sql);
  const times = [];
  for (let i = 0; i < SQL_ONLY_REPEATS; i++) {
    const t = performance.now();
    stmt.all(...params);
    times.push(performance.now() - t);
  }
  return median(times);
}

async function timeQuery(ctx, path_, requests, check) {
  const times = [];
  let first;
  for (let i = 0; i < WARMUP_REQUESTS + requests; i++) {
    const t = performance.now();
    const body = await ctx.client.call('GET', path_);
    const ms = performance.now() - t;
    first ??= body;
    if (i >= WARMUP_REQUESTS) times.push(ms);
  }
  const problem = check(first);
  return {
    requests, p50_ms: median(times), p95_ms: percentile(times, 95), min_ms: percentile(times, 0), max_ms: round(Math.max(...times)),
    ...(problem ? { error: problem } : {}), first,
  };
}

async function benchSearch(ctx) {
  const { models, versions, requests } = ctx.opts;
  const total = models * versions;
  const { VersionSql } = await dist('registry/versions.sql.js');
  const { ModelSql } = await dist('registry/models.sql.js');
  const { parseFilter, parseOrderBy } = await dist('tracking/index.js');
  const { ancestorsOf } = await dist('registry/registration.js');

  const runKey = await ctx.scratchRunKey();
  const putBefore = await putSmallP50(ctx, runKey);
  log(`search: stopping the server to seed ${models} models x ${versions} versions into SQLite`);
  await ctx.server.stop();
  const dbFile = path.join(ctx.dataDir, 'capstan.db');
  const seeded = await time(() => seed(dbFile, models, versions));
  log(`search: seeded ${total} versions in ${round(seeded.ms / 1000, 1)} s`);
  ctx.server = await startServer(ctx.dataDir);
  ctx.url = ctx.server.url;
  ctx.client.close();
  ctx.client = createClient(ctx.url, 1);
  const putAfter = await putSmallP50(ctx, runKey);

  const target = Math.min(421, models - 1);
  const named = modelName(target);
  const prefix = modelName(Math.min(400, models - 1)).slice(0, -2); // model-04
  const matchingPrefix = Array.from({ length: models }, (_, m) => modelName(m)).filter((n) => n.startsWith(prefix));
  const xInTarget = Array.from({ length: versions }, (_, k) => target * versions + k).filter((i) => versionTags(i).stage === 'x').length;
  const teamMatches = Array.from({ length: total }, (_, i) => i).filter((i) => versionTags(i).team === 't7').length;
  const queries = {
    versions_by_name: {
      entity: 'model_versions', filter: `name='${named}'`, expected: versions,
      check: (mvs) => mvs.every((v) => v.name === named) && mvs[0]?.version === String(versions),
    },
    versions_by_tag: {
      entity: 'model_versions', filter: "tags.team='t7'", maxResults: 100, expected: Math.min(100, teamMatches), matching: teamMatches,
      check: (mvs) => mvs.every((v) => v.tags?.some((t) => t.key === 'team' && t.value === 't7')),
    },
    versions_by_name_and_tag: {
      entity: 'model_versions', filter: `name='${named}' AND tags.stage='x'`, expected: xInTarget,
      check: (mvs) => mvs.every((v) => v.name === named && v.tags?.some((t) => t.key === 'stage' && t.value === 'x')),
    },
    // Not a target query: the worst case for a tag filter, where no version matches.
    versions_by_absent_tag: {
      entity: 'model_versions', filter: "tags.team='t-none'", maxResults: 100, expected: 0, extra: true,
      check: () => true,
    },
    models_by_name_like: {
      entity: 'registered_models', filter: `name LIKE '${prefix}%'`, expected: Math.min(DEFAULT_PAGE.registered_models, matchingPrefix.length), matching: matchingPrefix.length,
      check: (rms) => rms.every((m) => m.name.startsWith(prefix) && (versions < 2 || m.latest_versions?.length)),
    },
  };

  const reader = new Database(dbFile, { readonly: true });
  reader.pragma('case_sensitive_like = ON'); // as the server's connection has it: LIKE may use the name index
  const results = {};
  let pinCheck;
  try {
    const key = `${runKey}/small/file-0.txt`;
    pinCheck = (await capturedSql((db) => new VersionSql(db).pinnedAt(key, ancestorsOf(key)))).map((s) => ({
      sql: s.sql.replace(/\s+/g, ' ').trim(), sql_only_p50_ms: sqlOnlyP50(reader, s), plan: explain(reader, s),
    }));
    for (const [name, q] of Object.entries(queries)) {
      const params = new URLSearchParams({ filter: q.filter });
      if (q.maxResults) params.set('max_results', String(q.maxResults));
      const route = q.entity === 'model_versions' ? 'model-versions' : 'registered-models';
      log(`${name}: ${requests} sequential GET ${route}/search?${params}`);
      const timed = await timeQuery(ctx, `${MLFLOW}/${route}/search?${params}`, requests, (body) => {
        const items = body[q.entity] ?? [];
        if (items.length !== q.expected) return `returned ${items.length} ${q.entity}, expected ${q.expected}`;
        return q.check(items) ? undefined : 'a result does not match the filter or order';
      });
      const items = timed.first[q.entity] ?? [];
      delete timed.first;
      // The statements behind the request, from the server's own SQL builders.
      const limit = (q.maxResults ?? DEFAULT_PAGE[q.entity]) + 1;
      const statements = q.entity === 'model_versions'
        ? await capturedSql((db) => new VersionSql(db).search(PROJECT_ID, parseFilter(q.filter, 'model_version'), parseOrderBy([], 'model_version'), 0, limit))
        : await capturedSql((db) => new ModelSql(db).search(PROJECT_ID, parseFilter(q.filter, 'registered_model'), parseOrderBy([], 'registered_model'), 0, limit));
      if (q.entity === 'registered_models') {
        const ids = reader.prepare(`SELECT model_id FROM registered_models WHERE project_id = ? AND name IN (${items.map(() => '?').join(', ') || "''"})`)
          .all(PROJECT_ID, ...items.map((m) => m.name)).map((r) => Number(r.model_id));
        statements.push(...await capturedSql((db) => new VersionSql(db).latestPerStage(ids)));
      }
      const plans = statements.map((s) => ({
        sql: s.sql.replace(/\s+/g, ' ').trim(), sql_only_p50_ms: sqlOnlyP50(reader, s), plan: explain(reader, s),
      }));
      results[name] = {
        filter: q.filter, ...(q.maxResults ? { max_results: q.maxResults } : {}), returned: items.length, ...(q.matching ? { matching: q.matching } : {}),
        ...timed, ...(q.extra ? { extra: true } : { meets_target: timed.p50_ms !== null && timed.p50_ms <= TARGET_P50_MS }), statements: plans,
      };
      log(`${name}: p50 ${timed.p50_ms} ms, p95 ${timed.p95_ms} ms, ${items.length} returned`);
    }
  } finally {
    reader.close();
  }
  return {
    search_100k: {
      models, versions_per_model: versions, model_versions: total, version_tags: total * Object.keys(versionTags(0)).length,
      seed_seconds: round(seeded.ms / 1000, 2), target_p50_ms: TARGET_P50_MS, ...results,
      put_1kib_artifact: { before_seed: putBefore, after_seed: putAfter, pin_check: pinCheck },
    },
  };
}

// ---------------------------------------------------------------------------------------------

// The load average is part of the record: other work on the machine moves every figure here.
function machine() {
  const cpus = os.cpus();
  return {
    cpus: cpus.length, model: cpus[0]?.model?.trim() ?? 'unknown', mem_gib: round(os.totalmem() / 2 ** 30),
    node: process.version, platform: `${os.platform()} ${os.release()}`, loadavg_1m_start: round(os.loadavg()[0], 2),
  };
}

const BENCHES = { register: benchRegister, search: benchSearch };
const FIGURE_KEYS = { register: 'register_100mb', search: 'search_100k' };

async function main() {
  const opts = parseOptions(process.argv.slice(2));
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'capstan-bench-registry-'));
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'capstan-bench-registry-files-'));
  const report = { bench: 'registry', date: new Date().toISOString(), machine: machine(), results: {} };
  const ctx = { opts, dataDir, workDir };
  try {
    ctx.server = await startServer(dataDir);
    ctx.url = ctx.server.url;
    ctx.client = createClient(ctx.url, 1);
    let scratch;
    ctx.scratchRunKey = async () => {
      if (!scratch) {
        const { experiment_id: id } = await ctx.client.call('POST', `${MLFLOW}/experiments/create`, { name: `bench-registry-scratch-${Date.now().toString(36)}` });
        const { run } = await ctx.client.call('POST', `${MLFLOW}/runs/create`, { experiment_id: id, start_time: Date.now() });
        scratch = artifactKey(run);
      }
      return scratch;
    };
    for (const name of opts.only) {
      try {
        Object.assign(report.results, await BENCHES[name](ctx));
      } catch (err) {
        log(`${FIGURE_KEYS[name]}: failed: ${err.stack ?? err.message}`);
        report.results[FIGURE_KEYS[name]] = { error: err.message };
      }
    }
  } finally {
    ctx.client?.close();
    await ctx.server?.stop();
    await rm(workDir, { recursive: true, force: true });
    if (opts.keep) log(`kept the data directory ${dataDir}`);
    else await rm(dataDir, { recursive: true, force: true });
  }
  report.machine.loadavg_1m_end = round(os.loadavg()[0], 2);
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  process.exitCode = Object.values(report.results).some((r) => r.error || Object.values(r).some((x) => x?.error)) ? 1 : 0;
}

await main();
