// Deployments: the traffic split and its targets, canary progress and decisions, a traffic editor
// that asks for confirmation, live throughput / error / latency charts from the counters each
// target reports, recent events and a sample of recent predictions.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { WireDeployment } from '../../../src/client/index.js';
import { LineChart, PALETTE } from '../components/chart.js';
import { Badge, Confirm, Empty, ErrorBox, KeyValues, Link, Loading } from '../components/ui.js';
import { fmtNumber, fmtTime, useData } from '../lib/data.js';
import { api, can } from '../lib/session.js';

type Targets = Record<string, { model?: string; version: number | string; weight?: number }>;
const targetsOf = (d: WireDeployment): Targets => (d.spec.targets ?? {}) as Targets;
const splitText = (split: Record<string, number>) => Object.entries(split).map(([k, w]) => `${k} ${w}%`).join(' · ');

export function DeploymentsPage() {
  const list = useData(() => api().listDeployments(), [], 5000);
  return (
    <>
      <h1>Deployments</h1>
      <ErrorBox error={list.error} />
      {!list.data ? <Loading what="deployments" /> : list.data.length === 0 ? (
        <Empty title="No deployments yet">
          <p>Serve a registered model version: write its deployment file and apply it.</p>
          <pre>{`printf 'name: fraud\\nmodel: fraud\\ntargets:\\n  stable: {version: 1}\\n' > fraud.yaml
capstan deploy -f fraud.yaml`}</pre>
        </Empty>
      ) : (
        <table aria-label="Deployments">
          <thead><tr><th>Name</th><th>Model</th><th>Traffic</th><th>Rollout</th><th>State</th><th>Updated</th></tr></thead>
          <tbody>
            {list.data.map((d) => (
              <tr>
                <td><Link to={`/deployments/${encodeURIComponent(d.name)}`}>{d.name}</Link></td>
                <td>{Object.values(targetsOf(d)).map((t) => `${t.model ?? d.spec.model} v${t.version}`).join(', ')}</td>
                <td>{splitText(Object.fromEntries(Object.entries(targetsOf(d)).map(([k, t]) => [k, t.weight ?? 0])))}</td>
                <td>{d.spec.rollout ? <Badge value={d.rollout.status} /> : '—'}</td>
                <td>{d.live?.problems.length ? <Badge value="problem" kind="failed" /> : d.live ? <Badge value="ready" /> : <Badge value="loading" />}</td>
                <td>{fmtTime(d.updated_time)} by {d.updated_by}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

interface Sample {
  t: number;
  count: number;
  fail: number;
  ms: number;
}

export function DeploymentPage({ params }: { params: Record<string, string> }) {
  const name = params.name;
  const dep = useData(() => api().getDeployment(name), [name], 2000);
  const events = useData(() => api().deploymentEvents(name, 50), [name, dep.data?.revision], 0);
  const predictions = useData(() => api().recentPredictions(name, 20), [name], 10_000);
  const samples = useRef<Sample[]>([]);
  const [tick, setTick] = useState(0);
  const d = dep.data;
  // Every answer adds a sample of the counters summed over targets; the charts show differences.
  useEffect(() => {
    if (!d?.live) return;
    const all = [...d.live.targets, ...d.live.shadows];
    const s = { t: Date.now(), count: 0, fail: 0, ms: 0 };
    for (const x of all) {
      s.count += x.stats.success + x.stats.fail;
      s.fail += x.stats.fail;
      s.ms += x.stats.queueMs + x.stats.computeMs;
    }
    samples.current = [...samples.current.slice(-150), s];
    setTick((n) => n + 1);
  }, [d]);
  const series = useMemo(() => {
    const s = samples.current;
    const x: number[] = [];
    const rps: number[] = [];
    const err: number[] = [];
    const lat: number[] = [];
    for (let i = 1; i < s.length; i++) {
      const dt = (s[i].t - s[i - 1].t) / 1000;
      const dc = s[i].count - s[i - 1].count;
      if (dt <= 0 || dc < 0) continue; // a restarted replica resets its counters
      x.push(s[i].t / 1000);
      rps.push(dc / dt);
      err.push(dc ? ((s[i].fail - s[i - 1].fail) / dc) * 100 : 0);
      lat.push(dc ? (s[i].ms - s[i - 1].ms) / dc : NaN);
    }
    return { x, rps, err, lat };
  }, [tick]);

  if (!d) return dep.error ? <ErrorBox error={dep.error} /> : <Loading what="deployment" />;
  const targets = targetsOf(d);
  const split = Object.fromEntries(Object.entries(targets).map(([k, t]) => [k, t.weight ?? 0]));
  const live = new Map((d.live?.targets ?? []).map((t) => [t.name, t]));
  const rollout = d.spec.rollout as { canary?: string; stable?: string; steps?: number[] } | undefined;
  return (
    <>
      <p class="muted small"><Link to="/deployments">Deployments</Link></p>
      <div class="row">
        <h1 style={{ margin: 0 }}>{d.name}</h1>
        <span class="muted">revision {d.revision}</span>
      </div>
      <ErrorBox error={dep.error} />
      {d.live?.problems.length ? <div class="error">{d.live.problems.join('; ')}</div> : null}
      <h2>Traffic</h2>
      <div class="bar" role="img" aria-label={`Traffic split: ${splitText(split)}`}>
        {Object.entries(split).filter(([, w]) => w > 0).map(([k, w], i) => <span style={{ width: `${w}%`, background: PALETTE[i % PALETTE.length] }}>{k} {w}%</span>)}
      </div>
      <table aria-label="Targets">
        <thead><tr><th>Target</th><th>Model</th><th>Version</th><th>Weight</th><th>State</th><th>Queue</th><th>Breaker</th><th>Served</th><th>Failed</th></tr></thead>
        <tbody>
          {Object.entries(targets).map(([k, t]) => {
            const l = live.get(k);
            return (
              <tr>
                <td>{k}</td>
                <td><Link to={`/models/${encodeURIComponent(t.model ?? d.spec.model)}?v=${l?.version ?? t.version}`}>{t.model ?? d.spec.model}</Link></td>
                <td>v{l?.version ?? t.version}</td>
                <td>{t.weight ?? 0}%</td>
                <td>{l ? <Badge value={l.state} /> : '—'}{l?.reason ? <span class="small muted"> {l.reason}</span> : null}</td>
                <td>{l?.queue_depth ?? '—'}</td>
                <td>{l ? <Badge value={l.breaker} kind={l.breaker === 'closed' ? 'ok' : 'failed'} /> : '—'}</td>
                <td>{l?.stats.success ?? 0}</td>
                <td>{l?.stats.fail ?? 0}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {rollout ? (
        <>
          <h2>Canary rollout</h2>
          <KeyValues rows={[
            ['Status', <Badge value={d.rollout.status} />],
            ['Step', `${d.rollout.step + 1} of ${rollout.steps?.length ?? '?'} (${rollout.canary} at ${rollout.steps?.[d.rollout.step] ?? '?'}%) since ${fmtTime(d.rollout.stepStartedAt)}`],
            ['Last decision', d.rollout.lastDecision ? <span><Badge value={d.rollout.lastDecision.verdict} /> {fmtTime(d.rollout.lastDecision.at)}: {d.rollout.lastDecision.reasons.join('; ')}</span> : 'none yet'],
          ]} />
        </>
      ) : null}
      {can('deploy') ? <TrafficEditor name={d.name} split={split} onChanged={dep.reload} rollout={!!rollout} /> : <p class="muted">Your role in this project cannot change traffic.</p>}
      <h2>Live</h2>
      {series.x.length < 2 ? <p class="muted">Collecting samples (every 2 s while this page is open)…</p> : (
        <div class="grid2">
          <div class="card"><LineChart title="Throughput (requests/s)" xKind="time" height={180} series={[{ label: 'req/s', x: series.x, y: series.rps }]} /></div>
          <div class="card"><LineChart title="Errors (%)" xKind="time" height={180} series={[{ label: 'errors %', x: series.x, y: series.err }]} /></div>
          <div class="card"><LineChart title="Mean latency (ms, queue + compute)" xKind="time" height={180} series={[{ label: 'ms', x: series.x, y: series.lat }]} /></div>
        </div>
      )}
      <div class="grid2">
        <section>
          <h2>Events</h2>
          <ErrorBox error={events.error} />
          <table aria-label="Events">
            <tbody>{(events.data ?? []).map((e) => <tr><td>{fmtTime(e.time)}</td><td>{e.kind}</td><td>{e.actor}</td><td class="mono small">{JSON.stringify(e.detail).slice(0, 200)}</td></tr>)}</tbody>
          </table>
        </section>
        <section>
          <h2>Recent predictions</h2>
          <ErrorBox error={predictions.error} />
          {predictions.data?.length === 0 ? <p class="muted">None logged: set <code>prediction_log: {'{sample_rate: 0.01}'}</code> in the deployment to keep a sample.</p> : (
            <table aria-label="Recent predictions">
              <thead><tr><th>Time</th><th>Version</th><th>Latency</th><th>Inputs → outputs</th></tr></thead>
              <tbody>{(predictions.data ?? []).map((p) => <tr><td>{fmtTime(p.time as number)}</td><td>v{String(p.version)}</td><td>{fmtNumber(p.latency_ms)} ms</td><td class="mono small">{JSON.stringify(p.inputs).slice(0, 120)} → {JSON.stringify(p.outputs).slice(0, 120)}</td></tr>)}</tbody>
            </table>
          )}
        </section>
      </div>
    </>
  );
}

function TrafficEditor(props: { name: string; split: Record<string, number>; rollout: boolean; onChanged(): void }) {
  const [draft, setDraft] = useState<Record<string, string>>(() => Object.fromEntries(Object.entries(props.split).map(([k, w]) => [k, String(w)])));
  const [confirming, setConfirming] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const values = Object.fromEntries(Object.entries(draft).map(([k, v]) => [k, Number(v)]));
  const total = Object.values(values).reduce((a, b) => a + b, 0);
  const invalid = Object.values(values).some((v) => !Number.isInteger(v) || v < 0 || v > 100) ? 'Each weight is a whole number from 0 to 100.' : total !== 100 ? `The weights add up to ${total}, not 100.` : null;
  const unchanged = Object.entries(values).every(([k, v]) => props.split[k] === v);
  return (
    <section>
      <h2>Change traffic</h2>
      <div class="row">
        {Object.keys(props.split).map((k) => (
          <label>{k}{' '}
            <input type="number" min="0" max="100" step="1" style={{ width: '80px' }} aria-label={`Traffic for ${k}`} value={draft[k]} onInput={(e) => (setDone(null), setDraft({ ...draft, [k]: (e.target as HTMLInputElement).value }))} /> %
          </label>
        ))}
        <button class="primary" disabled={!!invalid || unchanged} onClick={() => setConfirming(true)}>Change traffic</button>
      </div>
      {invalid ? <p class="error" role="status">{invalid}</p> : null}
      {done ? <p class="muted" role="status">{done}</p> : null}
      {confirming ? (
        <Confirm
          title={`Change traffic of ${props.name}?`}
          confirmLabel="Change traffic"
          onCancel={() => setConfirming(false)}
          onConfirm={async () => {
            await api().setTraffic(props.name, values);
            setConfirming(false);
            setDone(`Traffic is now ${splitText(values)}.`);
            props.onChanged();
          }}
        >
          <p>From <strong>{splitText(props.split)}</strong></p>
          <p>to <strong>{splitText(values)}</strong>.</p>
          {props.rollout ? <p class="muted">This pauses the canary rollout.</p> : null}
        </Confirm>
      ) : null}
    </section>
  );
}
