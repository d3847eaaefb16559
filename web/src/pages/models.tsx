// The registry: models, their versions (semver, aliases, stages), a version's card, signature,
// manifest and its verification, the gates protecting its aliases, the history, and the lineage
// from datasets through runs to versions and deployments.
import { Dag } from '../components/dag.js';
import { Badge, Empty, ErrorBox, KeyValues, Link, Loading, NameSearch, Tabs } from '../components/ui.js';
import { allPages, fmtBytes, fmtTime, nameContains, useData } from '../lib/data.js';
import { navigate, setQuery } from '../lib/router.js';
import { api } from '../lib/session.js';

export function ModelsPage({ query }: { query: URLSearchParams }) {
  const text = query.get('q') ?? '';
  const models = useData(() => allPages(async (token) => {
    const page = await api().searchRegisteredModels({ max_results: 1000, page_token: token, filter: nameContains(text) });
    return { items: page.registered_models, next: page.next_page_token };
  }), [text]);
  return (
    <>
      <h1>Models</h1>
      <NameSearch label="Find models by name" value={text} />
      <ErrorBox error={models.error} />
      {!models.data ? <Loading what="models" /> : models.data.length === 0 ? (
        <Empty title={text ? 'No model matches' : 'No registered models yet'}>
          <p>Register a model from a run with MLflow (<code>mlflow.register_model("runs:/RUN_ID/model", "NAME")</code>) or from files:</p>
          <pre>capstan models register NAME ./model.onnx</pre>
        </Empty>
      ) : (
        <table aria-label="Registered models">
          <thead><tr><th>Name</th><th>Latest version</th><th>Aliases</th><th>Updated</th><th>Description</th></tr></thead>
          <tbody>
            {models.data.map((m) => {
              const latest = (m.latest_versions ?? []).reduce((a, v) => (Number(v.version) > Number(a) ? v.version : a), '');
              return (
                <tr>
                  <td><Link to={`/models/${encodeURIComponent(m.name)}`}>{m.name}</Link></td>
                  <td>{latest ? `v${latest}` : '—'}</td>
                  <td>{(m.aliases ?? []).map((a) => <Badge value={`@${a.alias} → v${a.version}`} kind="alias" />)}</td>
                  <td>{fmtTime(m.last_updated_timestamp)}</td>
                  <td class="muted">{m.description}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </>
  );
}

export function ModelPage({ params, query }: { params: Record<string, string>; query: URLSearchParams }) {
  const name = params.name;
  const model = useData(() => api().getRegisteredModel(name), [name]);
  const versions = useData(async () => {
    const all = await allPages(async (token) => {
      const page = await api().searchModelVersions({ filter: `name = '${name.replace(/'/g, "''")}'`, max_results: 1000, page_token: token });
      return { items: page.model_versions, next: page.next_page_token };
    });
    return all.sort((a, b) => Number(b.version) - Number(a.version));
  }, [name]);
  const selected = query.get('v') ?? versions.data?.[0]?.version;
  const tab = query.get('tab') ?? 'Version';
  return (
    <>
      <p class="muted small"><Link to="/models">Models</Link></p>
      <h1>{name}</h1>
      {model.data?.description ? <p>{model.data.description}</p> : null}
      <ErrorBox error={model.error ?? versions.error} />
      {!versions.data ? <Loading what="versions" /> : versions.data.length === 0 ? <Empty title="No versions yet"><pre>{`capstan models register ${name} ./model.onnx`}</pre></Empty> : (
        <>
          <table aria-label="Versions">
            <thead><tr><th>Version</th><th>Aliases</th><th>Stage</th><th>Status</th><th>Created</th><th>By</th><th>Run</th></tr></thead>
            <tbody>
              {versions.data.map((v) => (
                <tr class={v.version === selected ? 'selected' : ''}>
                  <td><a href="#" aria-current={v.version === selected} onClick={(e) => (e.preventDefault(), setQuery({ v: v.version }))}>v{v.version}</a></td>
                  <td>{(v.aliases ?? []).map((a) => <Badge value={`@${a}`} kind="alias" />)}</td>
                  <td>{v.current_stage !== 'None' ? <Badge value={v.current_stage} /> : ''}</td>
                  <td><Badge value={v.status} kind={v.status === 'READY' ? 'ok' : v.status} /></td>
                  <td>{fmtTime(v.creation_timestamp)}</td>
                  <td>{v.user_id}</td>
                  <td>{v.run_id ? <Link to={`/runs/${v.run_id}`}>{v.run_id.slice(0, 8)}</Link> : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <Tabs tabs={['Version', 'Lineage', 'History']} current={tab} onChange={(t) => setQuery({ tab: t === 'Version' ? null : t })} />
          {selected && tab === 'Version' ? <VersionDetail name={name} version={selected} /> : null}
          {selected && tab === 'Lineage' ? <Lineage name={name} version={selected} /> : null}
          {tab === 'History' ? <History name={name} /> : null}
        </>
      )}
    </>
  );
}

function VersionDetail({ name, version }: { name: string; version: string }) {
  const detail = useData(() => api().getModelVersion(name, version), [name, version]);
  const verify = useData(() => api().verifyModelVersion(name, version), [name, version]);
  const policy = useData(() => api().getPolicy().catch(() => null), []);
  const d = detail.data;
  if (!d) return detail.error ? <ErrorBox error={detail.error} /> : <Loading what="version" />;
  const card = d.card;
  const v = verify.data;
  return (
    <div class="grid2">
      <section class="card">
        <h2>v{d.version} <span class="muted">({d.semver})</span></h2>
        <KeyValues rows={[
          ['Signature status', v ? <span data-verified={v.verified ? 'yes' : 'no'}><Badge value={v.verified ? 'verified' : 'failed'} /> {v.verified ? `manifest ${d.manifest_digest.slice(0, 16)}… signed by ${v.key_id}` : v.problems.map((p) => `${p.path}: ${p.problem}`).join('; ') || (v.signature_valid ? 'manifest changed' : 'signature does not match')}</span> : verify.error ? <ErrorBox error={verify.error} /> : 'checking…'],
          ['Source', <code>{d.source}</code>],
          ['Code version', d.code_version || '—'],
          ['Storage', <code>{d.storage_root}</code>],
          ...(d.unsafe_files.length ? [['Unsafe files', d.unsafe_files.map((f) => `${f.path} (${f.reason})`).join(', ')] as [string, string]] : []),
        ]} />
        <h2>Model card</h2>
        <KeyValues rows={(Object.entries(card) as [string, string][]).filter(([, t]) => t).map(([k, t]) => [k.replace(/_/g, ' '), t])} empty="The card is empty: capstan models card NAME VERSION --set description=… fills it." />
      </section>
      <section class="card">
        <h2>Signature</h2>
        {d.model_signature ? (
          <table aria-label="Model signature">
            <thead><tr><th></th><th>Name</th><th>Type</th><th>Shape</th></tr></thead>
            <tbody>
              {d.model_signature.inputs.map((t) => <tr><td>input</td><td>{t.name}</td><td>{t.datatype ?? t.onnx_type}</td><td class="mono">[{t.shape.map((s, i) => (s < 0 ? t.symbolic_dims[i] ?? '?' : s)).join(', ')}]</td></tr>)}
              {d.model_signature.outputs.map((t) => <tr><td>output</td><td>{t.name}</td><td>{t.datatype ?? t.onnx_type}</td><td class="mono">[{t.shape.map((s, i) => (s < 0 ? t.symbolic_dims[i] ?? '?' : s)).join(', ')}]</td></tr>)}
            </tbody>
          </table>
        ) : <p class="muted">No signature recorded.</p>}
        <h2>Manifest</h2>
        <table aria-label="Manifest">
          <thead><tr><th>File</th><th>Size</th><th>SHA-256</th></tr></thead>
          <tbody>{d.manifest.files.map((f) => <tr><td class="mono">{f.path}</td><td>{fmtBytes(f.size)}</td><td class="mono small">{f.sha256.slice(0, 16)}…</td></tr>)}</tbody>
        </table>
        {policy.data?.gates?.length ? <Gates name={name} version={version} aliases={[...new Set(policy.data.gates.flatMap((g) => g.protects.aliases))]} /> : null}
      </section>
    </div>
  );
}

function Gates({ name, version, aliases }: { name: string; version: string; aliases: string[] }) {
  const checks = useData(() => Promise.all(aliases.map(async (alias) => ({ alias, check: await api().checkGates(name, version, { alias }) }))), [name, version, aliases.join(',')]);
  return (
    <>
      <h2>Gates</h2>
      <ErrorBox error={checks.error} />
      {checks.data?.map(({ alias, check }) => (
        <div>
          <p><strong>@{alias}</strong> <Badge value={check.allowed ? 'passes' : 'blocked'} kind={check.allowed ? 'ok' : 'failed'} /></p>
          <ul>{check.results.map((r) => <li><Badge value={r.passed ? 'ok' : 'failed'} /> {r.gate}/{r.rule}: <code>{r.expr}</code> {r.message ?? r.error ?? ''}</li>)}</ul>
        </div>
      ))}
    </>
  );
}

function Lineage({ name, version }: { name: string; version: string }) {
  const graph = useData(() => api().modelLineage(`models:/${name}/${version}`), [name, version]);
  const g = graph.data;
  const open = (id: string) => {
    const node = g?.nodes.find((n) => n.id === id);
    if (!node) return;
    if (id.startsWith('run:')) navigate(`/runs/${id.slice(4)}`);
    else if (id.startsWith('model:')) {
      const [m, v] = id.slice(6).split('/');
      navigate(`/models/${encodeURIComponent(m)}?v=${v}&tab=Lineage`);
    } else if (node.kind === 'deployment') navigate(`/deployments/${encodeURIComponent(node.label)}`);
    else if (node.kind === 'pipeline_run' && typeof node.attributes.run_id === 'string') navigate(`/pipelines/runs/${node.attributes.run_id}`);
  };
  return (
    <section class="card" aria-label="Lineage">
      <ErrorBox error={graph.error} />
      {!g ? <Loading what="lineage" /> : (
        <>
          <Dag label={`Lineage of ${name} v${version}`} nodes={g.nodes.map((n) => ({ id: n.id, label: n.label, sub: n.kind.replace('_', ' '), cls: n.kind }))} edges={g.edges} onOpen={open} selected={g.root} />
          {g.notes.length ? <ul class="muted small">{g.notes.map((n) => <li>{n}</li>)}</ul> : null}
        </>
      )}
    </section>
  );
}

function History({ name }: { name: string }) {
  const events = useData(() => api().modelHistory(name, { max_results: 1000 }), [name]);
  return (
    <>
      <ErrorBox error={events.error} />
      {!events.data ? <Loading what="history" /> : (
        <table aria-label="History">
          <thead><tr><th>Time</th><th>Version</th><th>Event</th><th>By</th><th>Detail</th></tr></thead>
          <tbody>{events.data.slice().reverse().map((e) => <tr><td>{fmtTime(e.time)}</td><td>{e.version ? `v${e.version}` : ''}</td><td>{e.kind}</td><td>{e.actor}</td><td class="mono small">{JSON.stringify(e.detail)}</td></tr>)}</tbody>
        </table>
      )}
    </>
  );
}
