#!/usr/bin/env node
// Streaming column profiles: `node bench/monitoring-streaming.mjs [--rows 10000000] [--columns 100]
// [--ref-rows 1000000] [--chunk 10000] [--k 200] [--partitions 2]`. Runs the built code (npx tsc -p
// tsconfig.json first) in this process, no server (a --url from the bench launcher is ignored).
// Seeded data is generated chunk by chunk and never held whole: a reference profile, then the
// current rows spread over `partitions` profiles that are merged, serialised and compared with the
// reference. Prints one JSON document; progress on stderr.
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist', 'src', 'monitoring', 'sketch');
const log = (line) => process.stderr.write(`[bench] ${line}\n`);

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '10000000' },
    columns: { type: 'string', default: '100' },
    'ref-rows': { type: 'string', default: '1000000' },
    chunk: { type: 'string', default: '10000' },
    k: { type: 'string', default: '200' },
    partitions: { type: 'string', default: '2' },
    url: { type: 'string' },
  },
});
if (!existsSync(path.join(DIST, 'index.js'))) {
  process.stderr.write('dist/ is missing: build first with npx tsc -p tsconfig.json\n');
  process.exit(2);
}
const { TableProfile, sketchDrift } = await import(path.join(DIST, 'index.js'));
const { fillNormals, uniformSource } = await import(path.join(DIST, '..', 'seeded.js'));

const ROWS = Number(values.rows);
const COLUMNS = Number(values.columns);
const REF_ROWS = Number(values['ref-rows']);
const CHUNK = Number(values.chunk);
const K = Number(values.k);
const PARTITIONS = Number(values.partitions);
const TARGET_MIB = 256;
const MIB = 2 ** 20;

/**
 * Column c: every fifth column is categorical (vocabularies of 5, 60 or 5000 values, the last beyond
 * the 1000 tracked), the others normal (some around 1e6). Every seventh column shifts in the current data.
 */
function columnPlan(c) {
  const shifted = c % 7 === 3;
  if (c % 5 === 4) {
    const size = [5, 60, 5000][c % 3];
    return { name: `cat${c}`, kind: 'categorical', vocabulary: Array.from({ length: size }, (_, i) => `v${i}`), shifted };
  }
  const mean = c % 11 === 0 ? 1e6 : c % 3;
  return { name: `num${c}`, kind: 'numerical', mean, sd: 1 + (c % 4), shifted, nanEvery: c % 2 === 0 ? 97 : 0 };
}

/** A reusable chunk generator for one side; each column draws from its own seeded stream. */
function chunkSource(plans, seedBase, current) {
  const uniforms = plans.map((_, c) => uniformSource(seedBase + 7919 * c));
  const buffers = plans.map((p) => (p.kind === 'numerical' ? new Float64Array(CHUNK) : new Array(CHUNK).fill(null)));
  let row = 0;
  return (n) => {
    plans.forEach((p, c) => {
      const u = uniforms[c];
      const shift = current && p.shifted;
      if (p.kind === 'numerical') {
        const out = buffers[c];
        fillNormals(out, u, p.mean + (shift ? 0.25 * p.sd : 0), p.sd, 0, n);
        if (p.nanEvery) for (let i = (p.nanEvery - (row % p.nanEvery)) % p.nanEvery; i < n; i += p.nanEvery) out[i] = NaN;
        if (c % 10 === 1 && n > 0) out[0] = Infinity;
      } else {
        const out = buffers[c];
        const v = p.vocabulary;
        const bias = shift ? 0.5 : 1;
        for (let i = 0; i < n; i++) out[i] = u() < 0.02 ? null : v[Math.floor(v.length * Math.pow(u(), bias) * u())];
      }
    });
    row += n;
    return n === CHUNK ? buffers : buffers.map((b) => b.slice(0, n));
  };
}

let peakRss = process.memoryUsage.rss();
const sampleRss = () => {
  const rss = process.memoryUsage.rss();
  if (rss > peakRss) peakRss = rss;
};

/** Feeds `rows` generated rows chunk by chunk, round-robin over `profiles`; wall and profiling seconds. */
function stream(profiles, source, rows, label) {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let profiling = 0;
  let nextReport = 0.05;
  for (let done = 0, i = 0; done < rows; i++) {
    const n = Math.min(CHUNK, rows - done);
    const batch = source(n);
    const t = performance.now();
    profiles[i % profiles.length].addColumns(batch);
    profiling += performance.now() - t;
    done += n;
    sampleRss();
    if (done / rows >= nextReport) {
      log(`${label}: ${Math.round((100 * done) / rows)} % (${done} rows, ${((performance.now() - t0) / 1000).toFixed(1)} s, rss ${Math.round(process.memoryUsage.rss() / MIB)} MiB)`);
      nextReport += 0.05;
    }
  }
  const cpu = process.cpuUsage(cpu0);
  return { seconds: (performance.now() - t0) / 1000, profiling: profiling / 1000, cpu: (cpu.user + cpu.system) / 1e6 };
}

const plans = Array.from({ length: COLUMNS }, (_, c) => columnPlan(c));
const schema = plans.map(({ name, kind }) => ({ name, kind }));

const reference = new TableProfile(schema, { k: K, seed: 1 });
const refRun = stream([reference], chunkSource(plans, 1000, false), REF_ROWS, 'reference');

const parts = Array.from({ length: PARTITIONS }, (_, p) => TableProfile.likeReference(reference, { seed: 100 + p }));
const { seconds, profiling, cpu } = stream(parts, chunkSource(plans, 5000, true), ROWS, 'current');

let t = performance.now();
const current = parts.slice(1).reduce((acc, p) => acc.merge(p), parts[0]);
const mergeMs = performance.now() - t;
sampleRss();

t = performance.now();
const text = JSON.stringify(current);
const restored = TableProfile.fromJSON(JSON.parse(text));
const jsonMs = performance.now() - t;
sampleRss();

t = performance.now();
const report = sketchDrift(reference, restored);
const driftMs = performance.now() - t;
sampleRss();

const drifted = new Set(report.columns.filter((c) => !('skipped' in c.drift) && c.drift.decision.auto_drift_detected).map((c) => c.name));
const shifted = plans.filter((p) => p.shifted).map((p) => p.name);
const exactBins = report.columns.filter((c) => c.kind === 'numerical' && !('skipped' in c.drift) && c.drift.binned_q10.cur_counts_source === 'exact').length;
const peakMib = Math.round((peakRss / MIB) * 10) / 10;
const result = {
  bench: 'monitoring-streaming',
  date: new Date().toISOString(),
  machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version, load_average_1m: Math.round(os.loadavg()[0] * 100) / 100 },
  rows: ROWS,
  columns: COLUMNS,
  numerical_columns: plans.filter((p) => p.kind === 'numerical').length,
  categorical_columns: plans.filter((p) => p.kind === 'categorical').length,
  chunk_rows: CHUNK,
  k: K,
  partitions: PARTITIONS,
  seconds: Math.round(seconds * 100) / 100,
  rows_per_second: Math.round(ROWS / seconds),
  cells_per_second: Math.round((ROWS * COLUMNS) / seconds),
  // CPU time of this process over the same span: the machine may be shared.
  cpu_seconds: Math.round(cpu * 100) / 100,
  rows_per_cpu_second: Math.round(ROWS / cpu),
  // Of `seconds`, the time inside addColumns (the rest generates the data).
  profiling_seconds: Math.round(profiling * 100) / 100,
  profiling_rows_per_second: Math.round(ROWS / profiling),
  reference: { rows: REF_ROWS, seconds: Math.round(refRun.seconds * 100) / 100, cpu_seconds: Math.round(refRun.cpu * 100) / 100, profiling_seconds: Math.round(refRun.profiling * 100) / 100 },
  merge_ms: Math.round(mergeMs),
  profile_json_bytes: text.length,
  json_round_trip_ms: Math.round(jsonMs),
  drift_ms: Math.round(driftMs),
  drift: {
    ...report.dataset,
    shifted_columns: shifted.length,
    shifted_detected: shifted.filter((name) => drifted.has(name)).length,
    unshifted_flagged: [...drifted].filter((name) => !shifted.includes(name)).length,
    numerical_columns_with_exact_current_bins: exactBins,
  },
  peak_rss_mib: peakMib,
  target: TARGET_MIB,
  pass: peakMib <= TARGET_MIB,
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
