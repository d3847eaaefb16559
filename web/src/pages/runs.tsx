// The runs of one experiment: a virtual table that pages in more runs as it scrolls, filtered and
// sorted by the server (MLflow's filter grammar), with a column chooser. Filter, order, columns and
// the selection are all in the URL.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { WireRun } from '../../../src/client/index.js';
import { Badge, Empty, ErrorBox, Link, Loading } from '../components/ui.js';
import { VTable, type Column } from '../components/vtable.js';
import { fmtDuration, fmtNumber, fmtTime, useData } from '../lib/data.js';
import { navigate, setQuery } from '../lib/router.js';
import { api } from '../lib/session.js';

const PAGE = 500;
const list = (v: string | null) => (v ? v.split(',').filter(Boolean) : []);

interface Flat {
  id: string;
  run: WireRun;
  values: Map<string, string | number>;
}

function flatten(run: WireRun): Flat {
  const values = new Map<string, string | number>();
  for (const m of run.data.metrics ?? []) values.set(`metrics.${m.key}`, typeof m.value === 'number' ? m.value : Number(m.value));
  for (const p of run.data.params ?? []) values.set(`params.${p.key}`, p.value);
  for (const t of run.data.tags ?? []) if (!t.key.startsWith('mlflow.')) values.set(`tags.${t.key}`, t.value);
  return { id: run.info.run_id, run, values };
}

/** `metrics.f1` → MLflow's quoted form when the key needs it. */
const orderKey = (col: string) => {
  const [kind, ...rest] = col.split('.');
  const key = rest.join('.');
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? col : `${kind}.\`${key}\``;
};

export function RunsPage({ params, query }: { params: Record<string, string>; query: URLSearchParams }) {
  const id = params.id;
  const filter = query.get('filter') ?? '';
  const order = query.get('order') ?? '';
  const selected = useMemo(() => new Set(list(query.get('sel'))), [query.get('sel')]);
  const [draft, setDraft] = useState(filter);
  const [showCols, setShowCols] = useState(false);
  const experiment = useData(() => api().getExperiment(id), [id]);
  const [rows, setRows] = useState<Flat[]>([]);
  const [error, setError] = useState<Error | null>(null);
  const [done, setDone] = useState(false);
  const paging = useRef<{ token?: string; busy: boolean; gen: number }>({ busy: false, gen: 0 });

  const loadMore = async (reset = false) => {
    const state = paging.current;
    if (reset) {
      state.gen++;
      state.token = undefined;
      state.busy = false;
    } else if (state.busy || done) return;
    const gen = state.gen;
    state.busy = true;
    try {
      const [field, dir] = order.split(' ');
      const page = await api().searchRuns({
        experiment_ids: [id], filter: filter || undefined, max_results: PAGE, page_token: state.token,
        order_by: field ? [`${orderKey(field)} ${dir === 'ASC' ? 'ASC' : 'DESC'}`] : undefined,
      });
      if (gen !== state.gen) return;
      const got = (page.runs ?? []).map(flatten);
      setRows((old) => (reset ? got : old.concat(got)));
      state.token = page.next_page_token;
      setDone(!page.next_page_token);
      setError(null);
    } catch (e) {
      if (gen === state.gen) setError(e as Error);
    } finally {
      if (gen === state.gen) state.busy = false;
    }
  };
  useEffect(() => {
    setRows([]);
    setDone(false);
    void loadMore(true);
  }, [id, filter, order]);

  // Every key seen so far, for the column chooser; the default columns are the first metrics and params.
  const keys = useMemo(() => {
    const all = new Set<string>();
    for (const r of rows.slice(0, 2000)) for (const k of r.values.keys()) all.add(k);
    return [...all].sort((a, b) => (a.split('.')[0] === b.split('.')[0] ? a.localeCompare(b) : a.startsWith('metrics') ? -1 : b.startsWith('metrics') ? 1 : a.localeCompare(b)));
  }, [rows.length > 0 ? rows[0].id : '', rows.length > 2000 ? 2000 : rows.length]);
  const chosen = query.has('cols') ? list(query.get('cols')) : [...keys.filter((k) => k.startsWith('metrics.')).slice(0, 6), ...keys.filter((k) => k.startsWith('params.')).slice(0, 6)];

  const toggle = (runId: string) => {
    const next = new Set(selected);
    if (next.has(runId)) next.delete(runId);
    else next.add(runId);
    setQuery({ sel: [...next].join(',') });
  };
  const sortBy = (key: string) => {
    const [field, dir] = order.split(' ');
    setQuery({ order: `${key} ${field === key && dir === 'DESC' ? 'ASC' : 'DESC'}` });
  };
  const columns: Column<Flat>[] = [
    {
      key: 'select', label: '', width: 34,
      render: (r) => <input type="checkbox" aria-label={`Select run ${r.run.info.run_name || r.id}`} checked={selected.has(r.id)} onChange={() => toggle(r.id)} />,
    },
    { key: 'attributes.run_name', label: 'Run', width: 220, sortable: true, render: (r) => <Link to={`/runs/${r.id}`}>{r.run.info.run_name || r.id.slice(0, 8)}</Link> },
    { key: 'attributes.status', label: 'Status', width: 100, sortable: true, render: (r) => <Badge value={r.run.info.status} /> },
    { key: 'attributes.start_time', label: 'Started', width: 170, sortable: true, render: (r) => fmtTime(r.run.info.start_time) },
    { key: 'duration', label: 'Duration', width: 100, render: (r) => fmtDuration(r.run.info.end_time ? r.run.info.end_time - r.run.info.start_time : null) },
    { key: 'attributes.user_id', label: 'User', width: 110, render: (r) => r.run.info.user_id },
    ...chosen.map((k) => ({ key: k, label: k.replace(/^(metrics|params|tags)\./, ''), width: 120, sortable: true, render: (r: Flat) => <span title={`${k} = ${r.values.get(k) ?? ''}`}>{fmtNumber(r.values.get(k))}</span> })),
  ];
  const [sortField, sortDir] = order.split(' ');
  return (
    <>
      <div class="row">
        <h1 style={{ margin: 0 }}>{experiment.data?.name ?? 'Experiment'}</h1>
        <span class="muted">{rows.length.toLocaleString()}{done ? '' : '+'} runs</span>
        <span class="spacer" />
        <button class="primary" disabled={selected.size < 2} onClick={() => navigate(`/compare?runs=${[...selected].join(',')}`)}>
          Compare {selected.size > 0 ? selected.size : ''} runs
        </button>
      </div>
      <form class="row" role="search" onSubmit={(e) => (e.preventDefault(), setQuery({ filter: draft.trim() }))}>
        <input type="search" class="wide" style={{ flex: 1 }} aria-label="Filter runs" placeholder="metrics.f1 > 0.9 and params.model = 'tree' and attributes.status = 'FINISHED'" value={draft} onInput={(e) => setDraft((e.target as HTMLInputElement).value)} />
        <button type="submit">Filter</button>
        {filter ? <button type="button" onClick={() => (setDraft(''), setQuery({ filter: null }))}>Clear</button> : null}
        <button type="button" aria-expanded={showCols} onClick={() => setShowCols((v) => !v)}>Columns ({chosen.length})</button>
      </form>
      {showCols ? (
        <fieldset class="card">
          <legend>Columns</legend>
          <div class="cols">
            {keys.map((k) => (
              <label>
                <input type="checkbox" checked={chosen.includes(k)} onChange={() => setQuery({ cols: (chosen.includes(k) ? chosen.filter((c) => c !== k) : [...chosen, k]).join(',') || ',' })} /> {k}
              </label>
            ))}
          </div>
        </fieldset>
      ) : null}
      <ErrorBox error={error ?? experiment.error} />
      {rows.length === 0 && done && !error ? (
        <Empty title={filter ? 'No run matches this filter' : 'No runs in this experiment yet'}>
          {filter ? (
            <p>The filter uses MLflow's grammar: <code>metrics.NAME &gt; 0.5</code>, <code>params.NAME = 'x'</code>, <code>tags.NAME LIKE '%x%'</code>, <code>attributes.status = 'FAILED'</code>, joined with <code>and</code>.</p>
          ) : (
            <pre>{`export MLFLOW_TRACKING_URI=${location.origin}
python -c "import mlflow; mlflow.set_experiment('${experiment.data?.name ?? 'NAME'}'); mlflow.start_run(); mlflow.log_metric('loss', 0.5)"`}</pre>
          )}
        </Empty>
      ) : rows.length === 0 && !error ? (
        <Loading what="runs" />
      ) : (
        <VTable
          label="Runs"
          rows={rows}
          columns={columns}
          rowKey={(r) => r.id}
          selected={selected}
          sort={sortField ? { key: sortField, asc: sortDir === 'ASC' } : null}
          onSort={sortBy}
          onNeedMore={() => void loadMore()}
        />
      )}
    </>
  );
}
