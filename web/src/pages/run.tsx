// One run: what it was given (params, inputs), what it measured (metrics, charted over steps), its
// tags, artifacts with previews, and for a pipeline step, its log.
import { useMemo, useState } from 'preact/hooks';
import type { WireRun } from '../../../src/client/index.js';
import { LineChart } from '../components/chart.js';
import { LogView } from '../components/logs.js';
import { Badge, ErrorBox, KeyValues, Link, Loading, Tabs } from '../components/ui.js';
import { fmtBytes, fmtDuration, fmtNumber, fmtTime, useData } from '../lib/data.js';
import { setQuery } from '../lib/router.js';
import { api } from '../lib/session.js';

const tagOf = (run: WireRun, key: string) => run.data.tags?.find((t) => t.key === key)?.value;

export function RunPage({ params, query }: { params: Record<string, string>; query: URLSearchParams }) {
  const id = params.id;
  const run = useData(() => api().getRun(id), [id], 5000);
  const r = run.data;
  const pipelineRun = r && tagOf(r, 'capstan.pipeline_run');
  const step = r && tagOf(r, 'capstan.step');
  const tabs = ['Overview', 'Metrics', 'Artifacts', ...(pipelineRun && step ? ['Logs'] : [])];
  const tab = tabs.includes(query.get('tab') ?? '') ? query.get('tab')! : 'Overview';
  if (!r) return <>{run.error ? <ErrorBox error={run.error} /> : <Loading what="run" />}</>;
  const info = r.info;
  const parent = tagOf(r, 'mlflow.parentRunId');
  return (
    <>
      <p class="muted small">
        <Link to={`/experiments/${info.experiment_id}`}>Experiment {info.experiment_id}</Link>
        {parent ? <> · child of <Link to={`/runs/${parent}`}>{parent.slice(0, 8)}</Link></> : null}
        {pipelineRun ? <> · step {step} of <Link to={`/pipelines/runs/${pipelineRun}`}>pipeline run {pipelineRun.slice(0, 8)}</Link></> : null}
      </p>
      <div class="row">
        <h1 style={{ margin: 0 }}>{info.run_name || info.run_id}</h1>
        <Badge value={info.status} />
      </div>
      <Tabs tabs={tabs} current={tab} onChange={(t) => setQuery({ tab: t === 'Overview' ? null : t })} />
      <ErrorBox error={run.error} />
      {tab === 'Overview' ? <Overview run={r} /> : tab === 'Metrics' ? <Metrics run={r} /> : tab === 'Artifacts' ? <Artifacts run={r} dir={query.get('dir') ?? ''} path={query.get('file') ?? ''} /> : <LogView runId={pipelineRun!} step={step} />}
    </>
  );
}

function Overview({ run }: { run: WireRun }) {
  const info = run.info;
  const inputs = (run.inputs as { dataset_inputs?: { dataset: { name: string; digest: string; source_type?: string }; tags?: { key: string; value: string }[] }[] } | undefined)?.dataset_inputs ?? [];
  const tags = (run.data.tags ?? []).filter((t) => !t.key.startsWith('mlflow.') || ['mlflow.source.name', 'mlflow.user', 'mlflow.note.content'].includes(t.key));
  return (
    <div class="grid2">
      <section class="card">
        <h2>Run</h2>
        <KeyValues rows={[
          ['ID', <code>{info.run_id}</code>],
          ['User', info.user_id],
          ['Started', fmtTime(info.start_time)],
          ['Duration', fmtDuration(info.end_time ? info.end_time - info.start_time : Date.now() - info.start_time)],
          ['Artifacts', <code>{info.artifact_uri}</code>],
        ]} />
        <h2>Inputs</h2>
        <KeyValues
          empty="No dataset recorded as input (log one with mlflow.log_input or capstan datasets link)."
          rows={inputs.map((d) => [d.dataset.name, <span><code>{d.dataset.digest}</code> {d.tags?.map((t) => <Badge value={`${t.key}=${t.value}`} kind="tag" />)}</span>])}
        />
      </section>
      <section class="card">
        <h2>Parameters</h2>
        <KeyValues rows={(run.data.params ?? []).map((p) => [p.key, <code>{p.value}</code>])} empty="No parameters." />
        <h2>Metrics (latest)</h2>
        <KeyValues rows={(run.data.metrics ?? []).map((m) => [m.key, `${fmtNumber(m.value)} (step ${m.step})`])} empty="No metrics." />
        <h2>Tags</h2>
        <KeyValues rows={tags.map((t) => [t.key, t.value])} empty="No tags." />
      </section>
    </div>
  );
}

function Metrics({ run }: { run: WireRun }) {
  const keys = (run.data.metrics ?? []).map((m) => m.key).sort();
  const [logY, setLogY] = useState(false);
  const history = useData(async () => Promise.all(keys.map(async (k) => ({ key: k, points: await api().getMetricHistory(run.info.run_id, k) }))), [run.info.run_id, keys.join(',')]);
  const charts = useMemo(
    () => (history.data ?? []).map(({ key, points }) => {
      const sorted = points.slice().sort((a, b) => a.step - b.step || a.timestamp - b.timestamp);
      return { key, series: [{ label: key, x: sorted.map((p) => p.step), y: sorted.map((p) => Number(p.value)) }] };
    }),
    [history.data],
  );
  if (keys.length === 0) return <p class="muted">This run logged no metrics.</p>;
  return (
    <>
      <label class="row"><input type="checkbox" checked={logY} onChange={() => setLogY((v) => !v)} /> Log scale</label>
      <ErrorBox error={history.error} />
      {!history.data ? <Loading what="metric history" /> : (
        <div class="grid2">{charts.map((c) => <div class="card"><LineChart title={c.key} series={c.series} logY={logY} /></div>)}</div>
      )}
    </>
  );
}

function Artifacts({ run, dir, path }: { run: WireRun; dir: string; path: string }) {
  const listing = useData(() => api().listArtifacts(run.info.run_id, dir), [run.info.run_id, dir]);
  const file = listing.data?.files.find((f) => f.path === path && !f.is_dir);
  const up = dir.split('/').slice(0, -1).join('/');
  return (
    <div class="grid2">
      <section class="card">
        <p class="mono small">/{dir}</p>
        <ErrorBox error={listing.error} />
        <ul class="files">
          {dir ? <li><a href="#" onClick={(e) => (e.preventDefault(), setQuery({ dir: up || null, file: null }))}>..</a></li> : null}
          {listing.data?.files.length === 0 ? <li class="muted">No artifacts here.</li> : null}
          {listing.data?.files.map((f) => (
            <li>
              <a href="#" aria-current={f.path === path} onClick={(e) => (e.preventDefault(), setQuery(f.is_dir ? { dir: f.path, file: null } : { file: f.path }))}>
                {f.is_dir ? '📁 ' : ''}{f.path.split('/').pop()}
              </a>{' '}
              <span class="muted small">{fmtBytes(f.file_size)}</span>
            </li>
          ))}
        </ul>
      </section>
      <section class="card">{file ? <Preview root={listing.data!.root_uri} path={file.path} /> : <p class="muted">Select a file to preview it.</p>}</section>
    </div>
  );
}

const IMAGE = /\.(png|jpe?g|gif|webp|svg)$/i;
const TEXT = /\.(txt|log|md|py|ya?ml|json|csv|tsv|mlmodel|toml|ini|cfg|sh|js|ts|html|xml)$|(^|\/)MLmodel$/i;

function Preview({ root, path }: { root: string; path: string }) {
  const content = useData(() => api().readArtifact(root, path, IMAGE.test(path) ? 8 << 20 : 512 << 10), [root, path]);
  const c = content.data;
  if (content.error) return <ErrorBox error={content.error} />;
  if (content.data === null) return <p class="muted">This run's artifacts are stored outside Capstan's artifact proxy ({root}); no preview.</p>;
  if (!c) return <Loading />;
  const name = path.split('/').pop()!;
  const truncated = c.total > c.bytes.length ? <p class="muted small">Showing the first {fmtBytes(c.bytes.length)} of {fmtBytes(c.total)}.</p> : null;
  if (IMAGE.test(path)) {
    let bin = '';
    for (let i = 0; i < c.bytes.length; i += 0x8000) bin += String.fromCharCode(...c.bytes.subarray(i, i + 0x8000));
    const type = /\.svg$/i.test(path) ? 'image/svg+xml' : `image/${path.split('.').pop()!.toLowerCase().replace('jpg', 'jpeg')}`;
    return <><h3>{name}</h3><img alt={name} style={{ maxWidth: '100%' }} src={`data:${type};base64,${btoa(bin)}`} /></>;
  }
  const text = new TextDecoder('utf-8', { fatal: false }).decode(c.bytes);
  if (/\.(csv|tsv)$/i.test(path)) {
    const sep = /\.tsv$/i.test(path) ? '\t' : ',';
    const rows = text.split(/\r?\n/).filter(Boolean).slice(0, 51).map((l) => l.split(sep));
    return (
      <>
        <h3>{name}</h3>
        <p class="muted small">First {Math.max(0, rows.length - 1)} rows.</p>
        <div style={{ overflow: 'auto' }}>
          <table><thead><tr>{rows[0]?.map((h) => <th>{h}</th>)}</tr></thead><tbody>{rows.slice(1).map((r) => <tr>{r.map((v) => <td>{v}</td>)}</tr>)}</tbody></table>
        </div>
      </>
    );
  }
  if (/\.json$/i.test(path)) {
    let pretty = text;
    try {
      pretty = JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      /* shown as it is */
    }
    return <><h3>{name}</h3>{truncated}<pre>{pretty}</pre></>;
  }
  if (TEXT.test(path) || !c.bytes.slice(0, 1024).includes(0)) return <><h3>{name}</h3>{truncated}<pre>{text}</pre></>;
  return <><h3>{name}</h3><p class="muted">A binary file of {fmtBytes(c.total)}; no preview.</p></>;
}
