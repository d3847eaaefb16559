import { Empty, ErrorBox, Link, Loading, NameSearch } from '../components/ui.js';
import { allPages, fmtTime, nameContains, useData } from '../lib/data.js';
import { api } from '../lib/session.js';

export function ExperimentsPage({ query }: { query: URLSearchParams }) {
  const text = query.get('q') ?? '';
  const experiments = useData(() => allPages(async (token) => {
    const page = await api().searchExperiments({ max_results: 1000, page_token: token, filter: nameContains(text) });
    return { items: page.experiments, next: page.next_page_token };
  }), [text]);
  const list = experiments.data;
  return (
    <>
      <h1>Experiments</h1>
      <NameSearch label="Find experiments by name" value={text} />
      <ErrorBox error={experiments.error} />
      {!list ? (
        experiments.loading && <Loading what="experiments" />
      ) : list.length === 0 ? (
        <Empty title={text ? 'No experiment matches' : 'No experiments yet'}>
          <p>Log a run from Python with MLflow pointed at this server; its experiment appears here:</p>
          <pre>{`export MLFLOW_TRACKING_URI=${location.origin}
python -c "import mlflow; mlflow.set_experiment('first'); mlflow.start_run(); mlflow.log_metric('loss', 0.5)"`}</pre>
          <p>or run a pipeline (<code>capstan pipelines run pipeline.yaml</code>): each pipeline tracks its runs in <code>pipelines/NAME</code>.</p>
        </Empty>
      ) : (
        <table aria-label="Experiments">
          <thead>
            <tr><th>Name</th><th>ID</th><th>Created</th><th>Updated</th><th>Artifacts</th></tr>
          </thead>
          <tbody>
            {list.map((e) => (
              <tr>
                <td><Link to={`/experiments/${e.experiment_id}`}>{e.name}</Link></td>
                <td class="mono">{e.experiment_id}</td>
                <td>{fmtTime(e.creation_time)}</td>
                <td>{fmtTime(e.last_update_time)}</td>
                <td class="mono small">{e.artifact_location}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
