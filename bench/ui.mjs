#!/usr/bin/env node
// Web UI benchmark in Debian's Chromium (playwright-core): `npm run -s bench -- ui [--runs 100000]
// [--series 10] [--points 100000]`.
//   bundle        gzipped size of what the first page loads (index.html's script, styles, preloads)
//   runs_page     a project with --runs runs in one experiment: from navigation to the first rows of
//                 the runs table drawn (the page is usable then; later rows page in as it scrolls)
//   chart         --series runs × --points steps of one metric on the compare page: the chart's own
//                 render time (downsampling + drawing), the time from navigation to the first drawing
//                 (a sample of each series) and to the chart of every point, fetching them included
// Targets from the issue: first page ≤ 300 KB gzipped, runs page ≤ 1.5 s, a 1M-point chart ≤ 500 ms.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const WEB = path.join(ROOT, 'dist', 'web');
const CHROMIUM = process.env.CAPSTAN_CHROMIUM ?? '/usr/bin/chromium';
const log = (line) => process.stderr.write(`[bench] ${line}\n`);
const { values } = parseArgs({ options: { url: { type: 'string' }, token: { type: 'string' }, runs: { type: 'string', default: '100000' }, series: { type: 'string', default: '10' }, points: { type: 'string', default: '100000' } } });
if (!values.url) {
  process.stderr.write('usage: node bench/ui.mjs --url URL [--runs N] [--series N] [--points N] [--token T]\n');
  process.exit(2);
}
if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium`);
if (!existsSync(path.join(WEB, 'index.html'))) throw new Error('the UI is not built: npm run build');
const BASE = values.url.replace(/\/+$/, '');
const headers = { 'content-type': 'application/json', ...(values.token ? { authorization: `Bearer ${values.token}` } : {}) };

async function api(method, p, body) {
  const res = await fetch(BASE + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Runs `fn(i)` for i < n with `width` in flight. */
async function pool(n, width, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < n) await fn(next++);
  }));
}

function bundle() {
  const html = readFileSync(path.join(WEB, 'index.html'), 'utf8');
  const files = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+)"/g)].map((m) => m[1]);
  let gz = gzipSync(html).length;
  for (const f of files) gz += gzipSync(readFileSync(path.join(WEB, f)), { level: 9 }).length;
  return { files: files.length, gzip_kb: Math.round(gz / 102.4) / 10 };
}

async function seedRuns(n) {
  const { experiment_id: id } = await api('POST', '/api/2.0/mlflow/experiments/create', { name: `ui-bench-runs-${Date.now()}` });
  const t0 = Date.now();
  await pool(n, 16, async (i) => {
    const { run } = await api('POST', '/api/2.0/mlflow/runs/create', { experiment_id: id, run_name: `run-${i}`, start_time: t0 + i });
    await api('POST', '/api/2.0/mlflow/runs/log-batch', {
      run_id: run.info.run_id,
      params: [{ key: 'lr', value: String(10 ** -(1 + (i % 4))) }, { key: 'depth', value: String(2 + (i % 7)) }],
      metrics: [{ key: 'f1', value: Math.random(), timestamp: t0, step: 0 }, { key: 'loss', value: Math.random(), timestamp: t0, step: 0 }],
    });
    if (i % 10000 === 9999) log(`${i + 1} runs`);
  });
  return id;
}

async function seedSeries(series, points) {
  const { experiment_id: id } = await api('POST', '/api/2.0/mlflow/experiments/create', { name: `ui-bench-chart-${Date.now()}` });
  const ids = [];
  for (let s = 0; s < series; s++) ids.push((await api('POST', '/api/2.0/mlflow/runs/create', { experiment_id: id, run_name: `series-${s}` })).run.info.run_id);
  const t0 = Date.now();
  await pool(series * Math.ceil(points / 1000), 8, async (k) => {
    const s = k % series;
    const from = Math.floor(k / series) * 1000;
    const metrics = [];
    for (let step = from; step < Math.min(points, from + 1000); step++) metrics.push({ key: 'loss', value: (1 + s) / (1 + step / 1000) + 0.05 * Math.sin(step / 50), timestamp: t0 + step, step });
    await api('POST', '/api/2.0/mlflow/runs/log-batch', { run_id: ids[s], metrics });
  });
  return ids;
}

const runs = Number(values.runs);
const series = Number(values.series);
const points = Number(values.points);
log(`seeding ${runs} runs`);
let t = Date.now();
const runsExperiment = await seedRuns(runs);
log(`seeded in ${((Date.now() - t) / 1000).toFixed(1)} s; seeding ${series} × ${points} points`);
t = Date.now();
const seriesRuns = await seedSeries(series, points);
log(`seeded in ${((Date.now() - t) / 1000).toFixed(1)} s`);

const { chromium } = await import('playwright-core');
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  if (values.token) await page.addInitScript((token) => sessionStorage.setItem('capstan.token', token), values.token);
  // Warm the HTTP cache of the static files as a returning user has it; each figure is the worst of
  // 3 loads (all three are printed), the navigation times the best.
  await page.goto(`${BASE}/ui/experiments`);
  await page.getByRole('heading', { name: 'Experiments' }).waitFor();
  const runsPage = [];
  for (let i = 0; i < 3; i++) {
    await page.goto(`${BASE}/ui/experiments/${runsExperiment}`);
    await page.locator('.vt-row').first().waitFor();
    runsPage.push(await page.evaluate(() => performance.now()));
  }
  const chart = [];
  const total = [];
  const preview = [];
  for (let i = 0; i < 3; i++) {
    await page.goto(`${BASE}/ui/compare?runs=${seriesRuns.join(',')}&metrics=loss`);
    const el = page.locator('[data-chart="loss"][data-full="1"]');
    await page.locator('[data-chart="loss"][data-render-ms]').waitFor({ timeout: 120_000 });
    preview.push(await page.evaluate(() => performance.now()));
    await el.waitFor({ timeout: 120_000 });
    total.push(await page.evaluate(() => performance.now()));
    chart.push(Number(await el.getAttribute('data-render-ms')));
    if (Number(await el.getAttribute('data-points')) !== series * points) throw new Error(`the chart drew ${await el.getAttribute('data-points')} points, expected ${series * points}`);
  }
  const b = bundle();
  const best = (xs) => Math.round(Math.min(...xs));
  const worst = (xs) => Math.round(Math.max(...xs));
  console.log(JSON.stringify({
    bench: 'ui',
    bundle: { ...b, target_kb: 300, ratio: Math.round((b.gzip_kb / 300) * 100) / 100 },
    runs_page: { runs, first_rows_ms: worst(runsPage), first_rows_ms_each: runsPage.map(Math.round), target_ms: 1500, ratio: Math.round((worst(runsPage) / 1500) * 100) / 100 },
    chart: { series, points_per_series: points, render_ms: worst(chart), render_ms_each: chart.map(Math.round), target_ms: 500, ratio: Math.round((worst(chart) / 500) * 100) / 100, navigation_to_first_drawing_ms: best(preview), navigation_to_drawn_ms: best(total) },
  }, null, 2));
} finally {
  await browser.close();
}
