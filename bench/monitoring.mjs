#!/usr/bin/env node
// Drift statistics speed: `npm run -s bench -- monitoring [--only ks_1m,report] [--rows 100000] [--columns 100]`.
// Runs the built code (npx tsc -p tsconfig.json first) in this process, no server. Where
// /usr/bin/python3 has SciPy, the same data goes through scipy.stats.ks_2samp in the same run and
// the ratio is reported. Prints one JSON document; progress on stderr.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist', 'src', 'monitoring', 'stats');
const log = (line) => process.stderr.write(`[bench] ${line}\n`);

// `npm run bench` passes the --url of the server it starts; the statistics run in-process and ignore it.
const { values } = parseArgs({ options: { only: { type: 'string' }, rows: { type: 'string', default: '100000' }, columns: { type: 'string', default: '100' }, url: { type: 'string' } } });
const only = new Set((values.only ?? 'ks_1m,report').split(','));
if (!existsSync(path.join(DIST, 'ks.js'))) {
  process.stderr.write('dist/ is missing: build first with npx tsc -p tsconfig.json\n');
  process.exit(2);
}
const { ks2samp } = await import(path.join(DIST, 'ks.js'));
const { parseCsv } = await import(path.join(DIST, 'csv.js'));
const { driftReport } = await import(path.join(DIST, 'report.js'));

/** Seeded normal samples (mulberry32 + Box–Muller): the same data on every run. */
function normals(n, seed, mean = 0, sd = 1) {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - uniform()));
    const th = 2 * Math.PI * uniform();
    out[i] = mean + sd * r * Math.cos(th);
    if (i + 1 < n) out[i + 1] = mean + sd * r * Math.sin(th);
  }
  return out;
}

const seconds = (ms) => Math.round(ms) / 1000;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const time = (fn, runs = 3) => median(Array.from({ length: runs }, () => { const t = performance.now(); fn(); return performance.now() - t; }));

function scipyKs(dir, ref, cur) {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import scipy'], { stdio: 'ignore' });
  } catch {
    return null;
  }
  writeFileSync(path.join(dir, 'ref.f64'), Buffer.from(ref.buffer));
  writeFileSync(path.join(dir, 'cur.f64'), Buffer.from(cur.buffer));
  const script = `import numpy as np, time, json
from scipy.stats import ks_2samp
r=np.fromfile('${path.join(dir, 'ref.f64')}'); c=np.fromfile('${path.join(dir, 'cur.f64')}')
ts=[]
for _ in range(3):
    t=time.perf_counter(); res=ks_2samp(r,c); ts.append(time.perf_counter()-t)
ts.sort(); print(json.dumps({'ms': ts[1]*1000, 'pvalue': float(res.pvalue), 'statistic': float(res.statistic)}))`;
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', script], { encoding: 'utf8' }));
}

/**
 * The CSV text, built as one flat string like a file read from disk. (Appending the final line break
 * with a template literal would make a two-part rope that V8 flattens — copying 100+ MB — on the
 * first character read, inside the timed parse.)
 */
function csvOf(columns, rows, seed, shift) {
  const cols = Array.from({ length: columns }, (_, c) => normals(rows, seed + c, c % 7 === 0 ? shift : 0));
  const lines = [Array.from({ length: columns }, (_, c) => `f${c}`).join(',')];
  for (let r = 0; r < rows; r++) lines.push(cols.map((col) => col[r].toPrecision(8)).join(','));
  lines.push('');
  return lines.join('\n');
}

const results = {};
const dir = mkdtempSync(path.join(os.tmpdir(), 'capstan-bench-monitoring-'));
try {
  if (only.has('ks_1m')) {
    const ref = normals(1_000_000, 1);
    const cur = normals(1_000_000, 2, 0.002);
    let res;
    const ms = time(() => (res = ks2samp(ref, cur)));
    const scipy = scipyKs(dir, ref, cur);
    results.ks_1m = {
      what: 'two-sample KS, 1M vs 1M normal values (SciPy p-value: kstwo asymptotic branch)', ms: Math.round(ms), statistic: res.statistic, pvalue: res.pvalue, pvalue_branch: res.pvalue_branch,
      scipy_ms: scipy ? Math.round(scipy.ms) : null, scipy_pvalue: scipy?.pvalue ?? null, speedup_vs_scipy: scipy ? Math.round((scipy.ms / ms) * 10) / 10 : null,
      target: 'speedup >= 3', meets_target: scipy ? scipy.ms / ms >= 3 : null,
    };
    log(`ks_1m: ${Math.round(ms)} ms${scipy ? `, SciPy ${Math.round(scipy.ms)} ms` : ''}`);
  }
  if (only.has('report')) {
    const columns = Number(values.columns);
    const rows = Number(values.rows);
    log(`report: generating ${columns} columns x ${rows} rows twice`);
    const refText = csvOf(columns, rows, 1000, 0);
    const curText = csvOf(columns, rows, 5000, 0.05);
    const heap0 = process.memoryUsage().rss;
    const t0 = performance.now();
    const ref = parseCsv(refText, 'reference');
    const cur = parseCsv(curText, 'current');
    const t1 = performance.now();
    const report = driftReport(ref, cur);
    const t2 = performance.now();
    const rss = process.memoryUsage().rss;
    results.report = {
      what: `full drift and quality report (every statistic of the spec) on ${columns} numerical columns x ${rows} rows, reference vs current`,
      parse_ms: Math.round(t1 - t0), statistics_ms: Math.round(t2 - t1), total_ms: Math.round(t2 - t0),
      parse_seconds: seconds(t1 - t0), stats_seconds: seconds(t2 - t1), total_seconds: seconds(t2 - t0),
      columns_drifted: report.dataset.evidently.n_drifted, rss_mib: Math.round(rss / 2 ** 20), rss_growth_mib: Math.round((rss - heap0) / 2 ** 20),
      target: 'total <= 3000 ms', meets_target: t2 - t0 <= 3000,
    };
    log(`report: parse ${Math.round(t1 - t0)} ms, statistics ${Math.round(t2 - t1)} ms`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(`${JSON.stringify({ bench: 'monitoring', date: new Date().toISOString(), machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version }, results }, null, 2)}\n`);
