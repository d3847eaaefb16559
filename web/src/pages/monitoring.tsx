// Monitoring: monitors with drift per feature (reference against current distributions), quality
// and drift over time, SLOs with their error budget; alerts with their history and silences; cost
// per deployment and version against the budget.
import { useMemo } from 'preact/hooks';
import type { WireMonitorRun } from '../../../src/client/index.js';
import { LineChart, PALETTE } from '../components/chart.js';
import { Badge, Empty, ErrorBox, KeyValues, Loading, Tabs } from '../components/ui.js';
import { fmtNumber, fmtTime, useData } from '../lib/data.js';
import { setQuery } from '../lib/router.js';
import { api, can } from '../lib/session.js';

type R = Record<string, any>;
const TABS = ['Monitors', 'Alerts', 'Cost'];

export function MonitoringPage({ query }: { query: URLSearchParams }) {
  const tab = TABS.includes(query.get('tab') ?? '') ? query.get('tab')! : 'Monitors';
  return (
    <>
      <h1>Monitoring</h1>
      <Tabs tabs={TABS} current={tab} onChange={(t) => setQuery({ tab: t === 'Monitors' ? null : t, monitor: null, alert: null, feature: null })} />
      {tab === 'Monitors' ? <Monitors query={query} /> : tab === 'Alerts' ? <Alerts query={query} /> : <Cost />}
    </>
  );
}

function Monitors({ query }: { query: URLSearchParams }) {
  const monitors = useData(() => api().listMonitors(), []);
  const selected = query.get('monitor') ?? monitors.data?.[0]?.name;
  if (!monitors.data) return monitors.error ? <ErrorBox error={monitors.error} /> : <Loading what="monitors" />;
  if (monitors.data.length === 0) {
    return (
      <Empty title="No monitors yet">
        <p>Give a deployment's model version a reference profile, then a monitor that compares live traffic with it on a schedule:</p>
        <pre>{`capstan monitor profile MODEL VERSION --csv train.csv --label-column label
printf 'name: watch\\ndeployment: DEPLOYMENT\\nwindow: {duration: 1h, min_rows: 100}\\n' > watch.yaml
capstan monitor apply -f watch.yaml`}</pre>
      </Empty>
    );
  }
  return (
    <>
      <table aria-label="Monitors">
        <thead><tr><th>Monitor</th><th>Deployment</th><th>Schedule</th><th>Next run</th><th>Updated</th></tr></thead>
        <tbody>
          {monitors.data.map((m) => (
            <tr class={m.name === selected ? 'selected' : ''}>
              <td><a href="#" aria-current={m.name === selected} onClick={(e) => (e.preventDefault(), setQuery({ monitor: m.name, feature: null }))}>{m.name}</a></td>
              <td>{m.spec.deployment}</td>
              <td>{m.spec.schedule_seconds ? `every ${m.spec.schedule_seconds} s` : ''}</td>
              <td>{fmtTime(m.next_run_time)}</td>
              <td>{fmtTime(m.updated_time)} by {m.updated_by}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {selected ? <MonitorDetail name={selected} feature={query.get('feature')} /> : null}
    </>
  );
}

function MonitorDetail({ name, feature }: { name: string; feature: string | null }) {
  const runs = useData(() => api().monitorRuns(name, 200), [name]);
  const report = useData(() => api().monitorReport(name).then((r) => r as unknown as { run_id: number; report: R }).catch((e) => (e.errorCode === 'RESOURCE_DOES_NOT_EXIST' ? null : Promise.reject(e))), [name]);
  const over = useMemo(() => overTime(runs.data ?? []), [runs.data]);
  const r = report.data?.report;
  return (
    <section>
      <div class="row">
        <h2>{name}</h2>
        {can('write') ? <button onClick={async () => { await api().runMonitor(name); runs.reload(); report.reload(); }}>Run now</button> : null}
      </div>
      <ErrorBox error={runs.error ?? report.error} />
      {report.data === null ? <p class="muted">This monitor has not run yet.</p> : !r ? <Loading what="report" /> : (
        <>
          <p>
            Window {fmtTime(r.window?.start)} – {fmtTime(r.window?.end)}, {fmtNumber(r.window?.rows)} rows, <Badge value={runs.data?.[0]?.status ?? r.status} kind={(runs.data?.[0]?.status ?? r.status) === 'ok' ? 'ok' : 'warning'} />
            {r.reference ? <> · reference {r.reference.model} v{r.reference.version}</> : null}
          </p>
          {(r.findings ?? []).length ? <ul>{r.findings.map((f: R) => <li><Badge value={f.severity} kind={f.severity === 'P1' ? 'critical' : 'warning'} /> {f.summary}</li>)}</ul> : <p class="muted">No findings in the latest run.</p>}
          <Drift report={r} feature={feature} />
          <div class="grid2">
            <section>
              <h3>SLOs</h3>
              {(r.slos ?? []).length === 0 ? <p class="muted">No SLOs declared.</p> : (
                <table aria-label="SLOs">
                  <thead><tr><th>SLO</th><th>Objective</th><th>SLI</th><th>Error budget left</th></tr></thead>
                  <tbody>{r.slos.map((s: R) => <tr><td>{s.name}</td><td>{fmtNumber(s.budget?.objective)}</td><td>{fmtNumber(s.budget?.sli)}</td><td><Budget fraction={s.budget?.budget_remaining_fraction} /></td></tr>)}</tbody>
                </table>
              )}
            </section>
            <section>
              <h3>Latency</h3>
              <KeyValues rows={[['Requests', fmtNumber(r.latency?.requests)], ['Server errors', fmtNumber(r.latency?.errors)], ['p50 / p95 / p99', `${fmtNumber(r.latency?.p50)} / ${fmtNumber(r.latency?.p95)} / ${fmtNumber(r.latency?.p99)} ms`]]} />
            </section>
          </div>
        </>
      )}
      {over.x.length > 1 ? (
        <div class="grid2">
          <div class="card"><LineChart title="Share of features drifted" xKind="time" height={180} series={[{ label: 'features', x: over.x, y: over.drift }]} /></div>
          {over.quality.length ? <div class="card"><LineChart title="Model quality (delayed labels)" xKind="time" height={180} series={over.quality} /></div> : null}
        </div>
      ) : null}
    </section>
  );
}

function overTime(runs: WireMonitorRun[]) {
  const sorted = runs.slice().sort((a, b) => a.window_end - b.window_end);
  const x = sorted.map((r) => r.window_end / 1000);
  const summary = (r: WireMonitorRun) => ((r as unknown as { summary?: R }).summary ?? {}) as R;
  const drift = sorted.map((r) => Number(summary(r).feature_drift_share ?? NaN));
  const keys = [...new Set(sorted.flatMap((r) => Object.keys(summary(r).model_quality ?? {})))].filter((k) => sorted.some((r) => typeof summary(r).model_quality?.[k] === 'number'));
  const quality = keys.map((k) => ({ label: k, x, y: sorted.map((r) => Number(summary(r).model_quality?.[k] ?? NaN)) }));
  return { x, drift, quality };
}

function Budget({ fraction }: { fraction: number | undefined }) {
  if (typeof fraction !== 'number') return <>—</>;
  const pct = Math.max(0, Math.min(1, fraction)) * 100;
  return (
    <span title={`${(fraction * 100).toFixed(1)}%`}>
      <span class="bar" style={{ display: 'inline-flex', width: '120px', height: '12px', verticalAlign: 'middle' }}><span style={{ width: `${pct}%`, background: pct < 25 ? 'var(--bad)' : 'var(--ok)' }} /></span>{' '}
      {(fraction * 100).toFixed(1)}%
    </span>
  );
}

function Drift({ report, feature }: { report: R; feature: string | null }) {
  const columns = (report.drift?.columns ?? []) as R[];
  const stats = new Map(((report.drift?.statistics?.columns ?? []) as R[]).map((c) => [c.name, c]));
  if (columns.length === 0) return <section><h3>Drift</h3><p class="muted">No drift check in this run (no reference profile, or too few rows).</p></section>;
  const chosen = feature ?? columns.find((c) => c.drifted)?.name ?? columns[0].name;
  return (
    <section>
      <h3>Drift per feature</h3>
      <div class="grid2">
      <div style={{ maxHeight: '520px', overflow: 'auto' }}>
      <table aria-label="Drift per feature">
        <thead><tr><th>Column</th><th>Method</th><th>Score</th><th>Effect</th><th></th></tr></thead>
        <tbody>
          {columns.map((c) => (
            <tr class={c.name === chosen ? 'selected' : ''}>
              <td><a href="#" aria-current={c.name === chosen} onClick={(e) => (e.preventDefault(), setQuery({ feature: c.name }))}>{c.name}</a>{c.role === 'prediction' ? <span class="muted small"> prediction</span> : null}</td>
              <td>{c.method ?? c.skipped ?? ''}</td>
              <td>{fmtNumber(c.score)}</td>
              <td>{fmtNumber(c.effect)}</td>
              <td>{c.drifted ? <Badge value="drifted" kind="failed" /> : c.test_drift ? <Badge value="test only" kind="warning" /> : <Badge value="ok" />}</td>
            </tr>
          ))}
        </tbody>
      </table>
      </div>
      <Distribution name={chosen} column={stats.get(chosen)} />
      </div>
    </section>
  );
}

/** Reference against current as paired bars of the share of rows per bin: numerical columns in the
 * reference's decile bins (the bins PSI is computed on), categorical ones per value. */
function Distribution({ name, column }: { name: string; column: R | undefined }) {
  const d = (column?.drift ?? {}) as R;
  let labels: string[];
  let ref: number[];
  let cur: number[];
  let what: string;
  const fmtEdge = (v: number) => fmtNumber(v);
  if (d.binned_q10?.ref_counts) {
    const e = d.binned_q10.edges as number[];
    ref = d.binned_q10.ref_counts;
    cur = d.binned_q10.cur_counts;
    labels = ref.map((_, i) => (i === 0 ? `≤ ${fmtEdge(e[0])}` : i === e.length ? `> ${fmtEdge(e[e.length - 1])}` : `${fmtEdge(e[i - 1])} – ${fmtEdge(e[i])}`));
    what = "share of rows in the reference's decile bins";
  } else if (d.categories && d.ref_counts && d.cur_counts) {
    labels = d.categories;
    ref = d.ref_counts;
    cur = d.cur_counts;
    what = 'share of rows per value';
  } else {
    return <p class="muted small">{column ? `No distribution for ${name}${d.skipped ? ` (${d.skipped})` : ' (more than 60 values)'}.` : `No distribution kept for ${name} in this run.`}</p>;
  }
  const refTotal = ref.reduce((a, b) => a + b, 0) || 1;
  const curTotal = cur.reduce((a, b) => a + b, 0) || 1;
  const rows = labels.slice(0, 30).map((label, i) => ({ label, r: ref[i] / refTotal, c: cur[i] / curTotal }));
  const max = Math.max(0.01, ...rows.flatMap((x) => [x.r, x.c]));
  const W = 520;
  const h = 16;
  const left = 130;
  return (
    <figure>
      <figcaption><strong>{name}</strong>: {what}, <span style={{ color: PALETTE[0] }}>reference</span> and <span style={{ color: PALETTE[1] }}>current</span></figcaption>
      <svg viewBox={`0 0 ${W} ${rows.length * (2 * h + 4) + 4}`} width={W} role="img" aria-label={`Reference and current distribution of ${name}`} style={{ maxWidth: '100%' }}>
        {rows.map((x, i) => (
          <g transform={`translate(0,${i * (2 * h + 4)})`}>
            <text x={left - 6} y={h + 2} font-size="11" text-anchor="end" fill="currentColor">{x.label.length > 20 ? `${x.label.slice(0, 19)}…` : x.label}</text>
            <rect x={left} y="2" height={h - 2} width={(x.r / max) * (W - left - 70)} fill={PALETTE[0]}><title>{`reference ${(x.r * 100).toFixed(1)}%`}</title></rect>
            <rect x={left} y={h} height={h - 2} width={(x.c / max) * (W - left - 70)} fill={PALETTE[1]}><title>{`current ${(x.c * 100).toFixed(1)}%`}</title></rect>
            <text x={left + (Math.max(x.r, x.c) / max) * (W - left - 70) + 4} y={h + 2} font-size="10" fill="currentColor" opacity="0.7">{(x.r * 100).toFixed(0)}% / {(x.c * 100).toFixed(0)}%</text>
          </g>
        ))}
      </svg>
    </figure>
  );
}

function Alerts({ query }: { query: URLSearchParams }) {
  const alerts = useData(() => api().listAlerts(), [], 10_000);
  const silences = useData(() => api().listSilences(), []);
  const selected = Number(query.get('alert') ?? NaN);
  return (
    <>
      <ErrorBox error={alerts.error ?? silences.error} />
      {!alerts.data ? <Loading what="alerts" /> : alerts.data.length === 0 ? (
        <Empty title="No alerts">
          <p>Alerts come from monitors' findings (drift, data quality, model quality, SLO burn rates). Route them to a webhook or Slack with <code>capstan monitor channel NAME --kind slack --url URL</code>.</p>
        </Empty>
      ) : (
        <table aria-label="Alerts">
          <thead><tr><th>Status</th><th>Severity</th><th>Rule</th><th>Labels</th><th>Summary</th><th>Updated</th></tr></thead>
          <tbody>
            {alerts.data.map((a) => (
              <tr class={a.alert_id === selected ? 'selected' : ''}>
                <td><Badge value={a.status} /></td>
                <td><Badge value={a.severity} kind={a.severity === 'P1' ? 'critical' : 'warning'} /></td>
                <td><a href="#" onClick={(e) => (e.preventDefault(), setQuery({ alert: String(a.alert_id) }))}>{a.rule}</a></td>
                <td class="small">{Object.entries(a.labels).map(([k, v]) => `${k}=${v}`).join(', ')}</td>
                <td>{a.summary}</td>
                <td>{fmtTime(a.updated_time)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {Number.isFinite(selected) ? <AlertHistory id={selected} /> : null}
      <h2>Silences</h2>
      {(silences.data ?? []).length === 0 ? <p class="muted">None.</p> : (
        <table aria-label="Silences">
          <tbody>{silences.data!.map((s) => <tr><td>{s.active ? <Badge value="active" kind="warning" /> : <Badge value="expired" kind="tag" />}</td><td class="mono small">{JSON.stringify(s.matchers)}</td><td>{String(s.comment ?? '')}</td><td>{fmtTime(s.starts_time as number)} – {fmtTime(s.ends_time as number)}</td><td>{String(s.created_by ?? '')}</td></tr>)}</tbody>
        </table>
      )}
    </>
  );
}

function AlertHistory({ id }: { id: number }) {
  const a = useData(() => api().getAlert(id), [id]);
  if (!a.data) return a.error ? <ErrorBox error={a.error} /> : <Loading />;
  const events = (a.data as unknown as { events?: R[] }).events ?? [];
  return (
    <section class="card">
      <h3>History of {a.data.alert.rule}</h3>
      <table aria-label="Alert history">
        <tbody>{events.map((e) => <tr><td>{fmtTime(e.time)}</td><td><Badge value={e.kind} /></td><td class="mono small">{JSON.stringify(e.detail).slice(0, 300)}</td></tr>)}</tbody>
      </table>
    </section>
  );
}

function Cost() {
  const report = useData(() => api().costReport(), []);
  const budget = useData(() => api().getBudget(), []);
  const idle = useData(() => api().idleDeployments(7), []);
  const r = report.data;
  return (
    <>
      <ErrorBox error={report.error ?? budget.error ?? idle.error} />
      {!r ? <Loading what="cost" /> : (
        <>
          <p>From {fmtTime(r.from)} to {fmtTime(r.to)}: <strong>{fmtNumber(r.total)} {r.currency}</strong> (CPU hour {fmtNumber(r.rate_card?.cpu_hour)}, GPU hour {fmtNumber(r.rate_card?.gpu_hour)}).</p>
          {budget.data ? <p>Monthly budget: {budget.data.monthly_limit === null || budget.data.monthly_limit === undefined ? 'none set' : `${fmtNumber(budget.data.monthly_limit)} ${r.currency}, ${fmtNumber(budget.data.month_to_date)} spent this month (${fmtNumber((budget.data.used_fraction ?? 0) * 100)}%)`}</p> : null}
          <table aria-label="Cost per deployment and version">
            <thead><tr><th>Deployment</th><th>Model</th><th>Version</th><th>Requests</th><th>Errors</th><th>CPU s</th><th>GPU s</th><th>Cost</th><th>Per 1k predictions</th></tr></thead>
            <tbody>{(r.lines ?? []).map((l: R) => <tr><td>{l.deployment}</td><td>{l.model}</td><td>v{l.version}</td><td>{l.requests}</td><td>{l.errors}</td><td>{fmtNumber(l.cpu_seconds)}</td><td>{fmtNumber(l.gpu_seconds)}</td><td>{fmtNumber(l.cost)}</td><td>{fmtNumber(l.cost_per_1k_predictions)}</td></tr>)}</tbody>
          </table>
          {(r.lines ?? []).length === 0 ? <p class="muted">No served requests in this period.</p> : null}
        </>
      )}
      <h2>Idle deployments (7 days)</h2>
      {(idle.data ?? []).length === 0 ? <p class="muted">None.</p> : <ul>{idle.data!.map((d) => <li>{d.name}: {d.last_request_time ? `last request ${fmtTime(d.last_request_time)}` : 'never called'} ({d.idle_days} days){d.owner ? `, owner ${d.owner}` : ''}</li>)}</ul>}
    </>
  );
}
