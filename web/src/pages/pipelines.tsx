// Pipelines: the applied files with their triggers and DAG, recent runs, and one run drawn as its
// DAG with live step states, durations and cache hits, its streaming log, and retry / cancel.
import { useState } from 'preact/hooks';
import type { WirePipelineGraph, WirePipelineRun, WirePipelineStep } from '../../../src/client/index.js';
import { Dag } from '../components/dag.js';
import { LogView } from '../components/logs.js';
import { Badge, Confirm, Empty, ErrorBox, KeyValues, Link, Loading } from '../components/ui.js';
import { fmtDuration, fmtNumber, fmtTime, useData } from '../lib/data.js';
import { navigate, setQuery } from '../lib/router.js';
import { api, can } from '../lib/session.js';

const ACTIVE = ['queued', 'running'];
const duration = (start: number | null, end: number | null) => (start ? fmtDuration((end ?? Date.now()) - start) : '—');

function triggerText(t: { kind: string; [k: string]: unknown }): string {
  if (t.kind === 'schedule') return `schedule ${t.cron}${t.timeZone ? ` (${t.timeZone})` : ''}`;
  if (t.kind === 'dataset') return `new version of dataset ${t.dataset}`;
  if (t.kind === 'alias') return `alias @${t.alias} of ${t.model} moves`;
  if (t.kind === 'alert') return `alert${t.monitor ? ` from ${t.monitor}` : ''} at ${t.minSeverity} or worse`;
  return t.kind === 'webhook' ? 'signed webhook' : t.kind;
}

export function PipelinesPage({ query }: { query: URLSearchParams }) {
  const selected = query.get('pipeline') ?? '';
  const pipelines = useData(() => api().listPipelines(), []);
  const runs = useData(() => api().listPipelineRuns({ pipeline: selected || undefined, max_results: 100 }), [selected], 3000);
  return (
    <>
      <h1>Pipelines</h1>
      <ErrorBox error={pipelines.error ?? runs.error} />
      {!pipelines.data ? <Loading what="pipelines" /> : pipelines.data.length === 0 && runs.data?.length === 0 ? (
        <Empty title="No pipelines yet">
          <p>Describe the steps in a <code>pipeline.yaml</code> (see the example in <code>examples/tabular-classifier</code>), then:</p>
          <pre>{`capstan pipelines apply pipeline.yaml     # keep it here, with its triggers
capstan pipelines run pipeline.yaml --follow`}</pre>
        </Empty>
      ) : (
        <div class="grid2">
          <section class="card">
            <h2>Applied pipelines</h2>
            {pipelines.data.length === 0 ? <p class="muted">None applied; runs started from a file still show on the right.</p> : (
              <table aria-label="Pipelines">
                <thead><tr><th>Name</th><th>Updated</th><th>By</th></tr></thead>
                <tbody>
                  {pipelines.data.map((p) => (
                    <tr class={p.name === selected ? 'selected' : ''}>
                      <td><a href="#" aria-current={p.name === selected} onClick={(e) => (e.preventDefault(), setQuery({ pipeline: p.name === selected ? null : p.name }))}>{p.name}</a></td>
                      <td>{fmtTime(p.updated_time)}</td>
                      <td>{p.updated_by}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
            {selected ? <PipelineDetail name={selected} /> : null}
          </section>
          <section class="card">
            <h2>Recent runs{selected ? ` of ${selected}` : ''}</h2>
            {!runs.data ? <Loading what="runs" /> : runs.data.length === 0 ? <p class="muted">No runs yet.</p> : (
              <table aria-label="Pipeline runs">
                <thead><tr><th>Run</th><th>Pipeline</th><th>Status</th><th>Trigger</th><th>Started</th><th>Duration</th></tr></thead>
                <tbody>
                  {runs.data.map((r) => (
                    <tr>
                      <td><Link to={`/pipelines/runs/${r.run_id}`}>{r.run_id.slice(0, 8)}</Link></td>
                      <td>{r.pipeline}</td>
                      <td><Badge value={r.status} /></td>
                      <td>{r.trigger.kind}</td>
                      <td>{fmtTime(r.started_time ?? r.created_time)}</td>
                      <td>{duration(r.started_time, r.finished_time)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
        </div>
      )}
    </>
  );
}

function PipelineDetail({ name }: { name: string }) {
  const p = useData(() => api().getPipeline(name), [name]);
  const [starting, setStarting] = useState(false);
  if (!p.data) return p.error ? <ErrorBox error={p.error} /> : <Loading />;
  return (
    <>
      <h3>{name}</h3>
      <Dag label={`Steps of ${name}`} nodes={p.data.steps.map((s) => ({ id: s.name, label: s.name, sub: s.when ? `when ${s.when}` : undefined }))} edges={p.data.edges} />
      <h3>Triggers</h3>
      {p.data.triggers.length === 0 ? <p class="muted">None: runs start from the CLI, the API or this page.</p> : <ul>{p.data.triggers.map((t) => <li>{triggerText(t)}</li>)}</ul>}
      {can('write') ? <button class="primary" onClick={() => setStarting(true)}>Run {name}</button> : null}
      {starting ? (
        <Confirm title={`Run ${name}?`} confirmLabel="Run" onCancel={() => setStarting(false)} onConfirm={async () => {
          const run = await api().startPipelineRun({ pipeline: name });
          navigate(`/pipelines/runs/${run.run_id}`);
        }}>
          <p>Starts a run of the applied file with its default params.</p>
        </Confirm>
      ) : null}
      <details><summary>File</summary><pre>{p.data.source}</pre></details>
    </>
  );
}

/** One status for a step from its instances (a matrix step has several). */
function stepState(instances: WirePipelineStep[]): string {
  const s = instances.map((i) => i.status);
  if (s.includes('running')) return 'running';
  if (s.includes('failed')) return 'failed';
  if (s.includes('pending')) return s.some((x) => x !== 'pending') ? 'running' : 'pending';
  if (s.includes('cancelled')) return 'cancelled';
  if (s.every((x) => x === 'skipped')) return 'skipped';
  return instances.every((i) => i.cached_from) ? 'cached' : 'succeeded';
}

export function PipelineRunPage({ params, query }: { params: Record<string, string>; query: URLSearchParams }) {
  const id = params.id;
  const [active, setActive] = useState(true);
  const view = useData(async () => {
    const v = await api().getPipelineRun(id);
    setActive(ACTIVE.includes(v.run.status));
    return v;
  }, [id], active ? 1500 : 0);
  const [confirm, setConfirm] = useState<'cancel' | 'retry' | null>(null);
  const step = query.get('step') ?? '';
  const v = view.data;
  if (!v) return view.error ? <ErrorBox error={view.error} /> : <Loading what="pipeline run" />;
  const run = v.run;
  return (
    <>
      <p class="muted small"><Link to="/pipelines">Pipelines</Link> · <Link to={`/runs/${run.mlflow_run_id}`}>tracked run</Link></p>
      <div class="row">
        <h1 style={{ margin: 0 }}>{run.pipeline} <span class="muted mono small">{run.run_id}</span></h1>
        <span data-run-status={run.status}><Badge value={run.status} /></span>
        <span class="spacer" />
        {can('write') && ACTIVE.includes(run.status) ? <button class="danger" onClick={() => setConfirm('cancel')}>Cancel run</button> : null}
        {can('write') && ['failed', 'cancelled'].includes(run.status) ? <button class="primary" onClick={() => setConfirm('retry')}>Retry failed steps</button> : null}
      </div>
      {run.message ? <p class={run.status === 'failed' ? 'error' : 'muted'}>{run.message}</p> : null}
      <ErrorBox error={view.error} />
      <KeyValues rows={[
        ['Trigger', run.trigger.kind],
        ['Runner', run.runner],
        ['Cache', run.use_cache ? 'on' : 'off'],
        ['Started', `${fmtTime(run.started_time ?? run.created_time)} by ${run.created_by}`],
        ['Duration', duration(run.started_time, run.finished_time)],
        ['Params', <code>{JSON.stringify(run.params)}</code>],
      ]} />
      <RunDag graph={v.graph} steps={v.steps} selected={step} />
      <StepTable steps={v.steps.filter((s) => !step || s.step === step)} />
      <h2>Log{step ? ` of ${step}` : ''}</h2>
      <LogView runId={run.run_id} step={step || undefined} />
      {confirm ? (
        <Confirm
          title={confirm === 'cancel' ? 'Cancel this run?' : 'Retry the failed steps?'}
          confirmLabel={confirm === 'cancel' ? 'Cancel run' : 'Retry'}
          onCancel={() => setConfirm(null)}
          onConfirm={async () => {
            const next = confirm === 'cancel' ? await api().cancelPipelineRun(run.run_id) : await api().retryPipelineRun(run.run_id);
            setConfirm(null);
            if (next.run_id !== run.run_id) navigate(`/pipelines/runs/${next.run_id}`);
            else (setActive(true), view.reload());
          }}
        >
          <p>{confirm === 'cancel' ? 'Running steps are stopped and the rest are not started.' : 'Steps that succeeded keep their results; failed and skipped steps run again.'}</p>
        </Confirm>
      ) : null}
    </>
  );
}

function RunDag({ graph, steps, selected }: { graph: WirePipelineGraph; steps: WirePipelineStep[]; selected: string }) {
  const byStep = new Map<string, WirePipelineStep[]>();
  for (const s of steps) byStep.set(s.step, [...(byStep.get(s.step) ?? []), s]);
  const nodes = graph.steps.map((g) => {
    const inst = byStep.get(g.name) ?? [];
    const state = inst.length ? stepState(inst) : 'pending';
    const started = Math.min(...inst.map((i) => i.started_time ?? Infinity));
    const ended = inst.every((i) => i.finished_time) ? Math.max(...inst.map((i) => i.finished_time ?? 0)) : null;
    const sub = `${state}${Number.isFinite(started) ? ` · ${duration(started, ended)}` : ''}${inst.length > 1 ? ` · ${inst.length}×` : ''}`;
    return { id: g.name, label: g.name, sub, cls: state };
  });
  return <Dag label="Steps" nodes={nodes} edges={graph.edges} selected={selected || undefined} onOpen={(id) => setQuery({ step: id === selected ? null : id })} />;
}

function StepTable({ steps }: { steps: WirePipelineStep[] }) {
  return (
    <table aria-label="Step instances">
      <thead><tr><th>Instance</th><th>Status</th><th>Attempts</th><th>Duration</th><th>Cache</th><th>Metrics</th><th>Message</th></tr></thead>
      <tbody>
        {steps.map((s) => (
          <tr>
            <td>{s.mlflow_run_id ? <Link to={`/runs/${s.mlflow_run_id}`}>{s.instance}</Link> : s.instance}</td>
            <td><Badge value={s.status} /></td>
            <td>{s.attempts}</td>
            <td>{duration(s.started_time, s.finished_time)}</td>
            <td>{s.cached_from ? <Badge value="cached" /> : ''}</td>
            <td class="small">{Object.entries(s.metrics).map(([k, m]) => `${k}=${fmtNumber(m)}`).join(', ')}</td>
            <td class="small">{s.message}{s.exit_code !== null && s.status === 'failed' ? ` (exit ${s.exit_code})` : ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
