// Runs side by side: every chosen metric as one chart with the runs overlaid (over steps, wall time
// or time since each run started; log scale; smoothing), the parameters that differ, and for sweeps
// parallel coordinates of numeric parameters against a metric.
import { useMemo, useState } from 'preact/hooks';
import type { WireMetric, WireRun } from '../../../src/client/index.js';
import { LineChart, PALETTE } from '../components/chart.js';
import type { Series } from '../lib/downsample.js';
import { ErrorBox, Link, Loading, Empty } from '../components/ui.js';
import { fmtNumber, useData } from '../lib/data.js';
import { setQuery } from '../lib/router.js';
import { api } from '../lib/session.js';

const list = (v: string | null) => (v ? v.split(',').filter(Boolean) : []);
const nameOf = (r: WireRun) => r.info.run_name || r.info.run_id.slice(0, 8);

export function ComparePage({ query }: { query: URLSearchParams }) {
  const ids = list(query.get('runs'));
  const xKind = (['step', 'time', 'relative'].includes(query.get('x') ?? '') ? query.get('x') : 'step') as 'step' | 'time' | 'relative';
  const logY = query.get('log') === '1';
  const smoothing = Math.min(0.99, Math.max(0, Number(query.get('smooth') ?? 0) || 0));
  const runs = useData(() => Promise.all(ids.map((id) => api().getRun(id))), [ids.join(',')]);
  const metricKeys = useMemo(() => [...new Set((runs.data ?? []).flatMap((r) => (r.data.metrics ?? []).map((m) => m.key)))].sort(), [runs.data]);
  const chosen = query.has('metrics') ? list(query.get('metrics')).filter((k) => metricKeys.includes(k)) : metricKeys.slice(0, 4);

  if (ids.length === 0) {
    return <Empty title="Nothing to compare"><p>Select two or more runs in an experiment's run table and press Compare.</p></Empty>;
  }
  return (
    <>
      <h1>Compare {ids.length} runs</h1>
      <ErrorBox error={runs.error} />
      {!runs.data ? <Loading what="runs" /> : (
        <>
          <p>{runs.data.map((r, i) => <span style={{ marginRight: '12px' }}><span style={{ color: PALETTE[i % PALETTE.length] }}>●</span> <Link to={`/runs/${r.info.run_id}`}>{nameOf(r)}</Link></span>)}</p>
          <div class="row" role="group" aria-label="Chart options">
            <label>X axis{' '}
              <select value={xKind} onChange={(e) => setQuery({ x: (e.target as HTMLSelectElement).value })}>
                <option value="step">Step</option><option value="time">Wall time</option><option value="relative">Time since start</option>
              </select>
            </label>
            <label><input type="checkbox" checked={logY} onChange={() => setQuery({ log: logY ? null : '1' })} /> Log scale</label>
            <label>Smoothing{' '}
              <input type="range" min="0" max="0.99" step="0.01" value={smoothing} aria-valuetext={String(smoothing)} onChange={(e) => setQuery({ smooth: (e.target as HTMLInputElement).value === '0' ? null : (e.target as HTMLInputElement).value })} />
              {' '}{smoothing.toFixed(2)}
            </label>
          </div>
          <fieldset class="card">
            <legend>Metrics</legend>
            <div class="cols">
              {metricKeys.map((k) => (
                <label><input type="checkbox" checked={chosen.includes(k)} onChange={() => setQuery({ metrics: (chosen.includes(k) ? chosen.filter((c) => c !== k) : [...chosen, k]).join(',') || ',' })} /> {k}</label>
              ))}
            </div>
          </fieldset>
          <div class="grid2">
            {chosen.map((k) => <MetricChart key={k} metric={k} runs={runs.data!} xKind={xKind} logY={logY} smoothing={smoothing} />)}
          </div>
          <ParamsDiff runs={runs.data} onlyDiff={query.get('all') !== '1'} />
          <Parallel runs={runs.data} metric={query.get('pc') ?? chosen[0] ?? metricKeys[0]} metricKeys={metricKeys} />
        </>
      )}
    </>
  );
}

function MetricChart(props: { metric: string; runs: WireRun[]; xKind: 'step' | 'time' | 'relative'; logY: boolean; smoothing: number }) {
  const ids = props.runs.map((r) => r.info.run_id);
  // A sample of every series draws at once; the full histories replace it when they have arrived.
  const preview = useData(() => api().getMetricHistorySampled(ids, props.metric, 1000).then((m) => ids.map((id) => m.get(id) ?? [])), [props.metric, ids.join(',')]);
  const history = useData(() => Promise.all(ids.map((id) => api().getMetricHistory(id, props.metric).catch(() => [] as WireMetric[]))), [props.metric, ids.join(',')]);
  const points = history.data ?? preview.data;
  const series = useMemo<Series[]>(() => (points ?? []).map((list, i) => {
    const run = props.runs[i];
    const sorted = list.slice().sort((a, b) => (props.xKind === 'step' ? a.step - b.step || a.timestamp - b.timestamp : a.timestamp - b.timestamp));
    const x = new Float64Array(sorted.length);
    const y = new Float64Array(sorted.length);
    for (let j = 0; j < sorted.length; j++) {
      x[j] = props.xKind === 'step' ? sorted[j].step : props.xKind === 'time' ? sorted[j].timestamp / 1000 : (sorted[j].timestamp - run.info.start_time) / 1000;
      y[j] = Number(sorted[j].value);
    }
    return { label: nameOf(run), x, y };
  }), [points, props.xKind]);
  return (
    <div class="card">
      <ErrorBox error={history.error} />
      {!points ? <Loading what={props.metric} /> : (
        <LineChart title={props.metric} series={series} xKind={props.xKind} logY={props.logY} smoothing={props.smoothing} partial={history.data ? undefined : 'a sample; loading every point…'} />
      )}
    </div>
  );
}

function ParamsDiff({ runs, onlyDiff }: { runs: WireRun[]; onlyDiff: boolean }) {
  const keys = [...new Set(runs.flatMap((r) => (r.data.params ?? []).map((p) => p.key)))].sort();
  const value = (r: WireRun, k: string) => r.data.params?.find((p) => p.key === k)?.value;
  const differs = (k: string) => new Set(runs.map((r) => value(r, k) ?? '∅')).size > 1;
  const shown = onlyDiff ? keys.filter(differs) : keys;
  return (
    <section>
      <div class="row">
        <h2>Parameters</h2>
        <label><input type="checkbox" checked={onlyDiff} onChange={() => setQuery({ all: onlyDiff ? '1' : null })} /> Only those that differ</label>
      </div>
      {shown.length === 0 ? <p class="muted">{keys.length ? 'All parameters are equal.' : 'No parameters.'}</p> : (
        <div style={{ overflow: 'auto' }}>
          <table aria-label="Parameter differences">
            <thead><tr><th>Parameter</th>{runs.map((r) => <th>{nameOf(r)}</th>)}</tr></thead>
            <tbody>{shown.map((k) => <tr class={differs(k) ? 'diff' : ''}><th scope="row">{k}</th>{runs.map((r) => <td class="mono">{value(r, k) ?? '—'}</td>)}</tr>)}</tbody>
          </table>
        </div>
      )}
    </section>
  );
}

/** Parallel coordinates: one vertical axis per numeric parameter and one for the metric; one line per run. */
function Parallel({ runs, metric, metricKeys }: { runs: WireRun[]; metric: string | undefined; metricKeys: string[] }) {
  const [hover, setHover] = useState<number | null>(null);
  const numeric = [...new Set(runs.flatMap((r) => (r.data.params ?? []).map((p) => p.key)))].filter((k) => runs.every((r) => {
    const v = r.data.params?.find((p) => p.key === k)?.value;
    return v !== undefined && v.trim() !== '' && Number.isFinite(Number(v));
  }) && new Set(runs.map((r) => r.data.params!.find((p) => p.key === k)!.value)).size > 1).sort();
  if (!metric || numeric.length === 0 || runs.length < 2) return null;
  const axes = [...numeric.map((k) => ({ key: k, get: (r: WireRun) => Number(r.data.params!.find((p) => p.key === k)!.value) })), { key: metric, get: (r: WireRun) => Number(r.data.metrics?.find((m) => m.key === metric)?.value ?? NaN) }];
  const W = Math.max(480, axes.length * 150);
  const H = 260;
  const pad = 30;
  const xOf = (i: number) => pad + (i * (W - 2 * pad)) / (axes.length - 1);
  const scales = axes.map((a) => {
    const vs = runs.map(a.get).filter(Number.isFinite);
    const lo = Math.min(...vs);
    const hi = Math.max(...vs);
    return (v: number) => (Number.isFinite(v) ? H - pad - ((v - lo) / (hi - lo || 1)) * (H - 2 * pad) : NaN);
  });
  return (
    <section>
      <div class="row">
        <h2>Parallel coordinates</h2>
        <label>Metric{' '}
          <select value={metric} onChange={(e) => setQuery({ pc: (e.target as HTMLSelectElement).value })}>{metricKeys.map((k) => <option value={k}>{k}</option>)}</select>
        </label>
      </div>
      <svg viewBox={`0 0 ${W} ${H}`} width={W} height={H} role="img" aria-label={`Parallel coordinates of ${numeric.join(', ')} against ${metric}`} style={{ maxWidth: '100%' }}>
        {axes.map((a, i) => (
          <g>
            <line x1={xOf(i)} x2={xOf(i)} y1={pad} y2={H - pad} stroke="currentColor" opacity="0.4" />
            <text x={xOf(i)} y={pad - 10} text-anchor="middle" font-size="12" fill="currentColor">{a.key}</text>
          </g>
        ))}
        {runs.map((r, j) => {
          const pts = axes.map((a, i) => [xOf(i), scales[i](a.get(r))]).filter(([, y]) => Number.isFinite(y));
          return (
            <polyline points={pts.map((p) => p.join(',')).join(' ')} fill="none" stroke={PALETTE[j % PALETTE.length]} stroke-width={hover === j ? 3 : 1.5} opacity={hover === null || hover === j ? 1 : 0.3} onMouseEnter={() => setHover(j)} onMouseLeave={() => setHover(null)}>
              <title>{`${nameOf(r)}: ${axes.map((a) => `${a.key}=${fmtNumber(a.get(r))}`).join(', ')}`}</title>
            </polyline>
          );
        })}
      </svg>
    </section>
  );
}
