// The MLflow tracking API through Fastify's inject (no socket): good input on both prefixes, a matrix
// of bad input, request ids and the body limit.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { assertError, assertOk, call, UUID } from '../support/inject.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';

const PREFIXES = ['/api/2.0/mlflow', '/ajax-api/2.0/mlflow'] as const;
const API = PREFIXES[0];
const PROXY = '/api/2.0/mlflow-artifacts/artifacts';
const UNKNOWN_RUN = 'f'.repeat(32);

describe('MLflow tracking routes', () => {
  let tp: TestPlatform;
  let app: FastifyInstance;
  before(async () => {
    tp = await startTestPlatform();
    app = tp.app;
  });
  after(() => tp.close());

  for (const P of PREFIXES) {
    describe(`good input under ${P}`, () => {
      const name = `exp ${P}`;
      let expId = '';
      let runId = '';
      let otherRunId = '';

      it('experiments: create, get, get-by-name, search (POST and GET), rename, tags', async () => {
        expId = assertOk(await call(app, 'POST', `${P}/experiments/create`, { name, tags: [{ key: 'team', value: 'ml' }] })).experiment_id;
        assert.match(expId, /^[1-9]\d*$/);
        const { experiment } = assertOk(await call(app, 'GET', `${P}/experiments/get?experiment_id=${expId}`));
        assert.equal(experiment.experiment_id, expId);
        assert.equal(experiment.name, name);
        assert.equal(experiment.artifact_location, `mlflow-artifacts:/${expId}`);
        assert.equal(experiment.lifecycle_stage, 'active');
        assert.ok(Number.isInteger(experiment.creation_time) && Number.isInteger(experiment.last_update_time));
        assert.deepEqual(experiment.tags, [{ key: 'team', value: 'ml' }]);
        const byName = assertOk(await call(app, 'GET', `${P}/experiments/get-by-name?experiment_name=${encodeURIComponent(name)}`));
        assert.deepEqual(byName.experiment, experiment);

        const filter = `name = '${name}'`;
        const posted = assertOk(await call(app, 'POST', `${P}/experiments/search`, { max_results: 10, filter }));
        assert.deepEqual(posted.experiments.map((e: any) => e.experiment_id), [expId]);
        const got = assertOk(await call(app, 'GET', `${P}/experiments/search?max_results=10&filter=${encodeURIComponent(filter)}`));
        assert.deepEqual(got, posted);
        const byTag = assertOk(await call(app, 'POST', `${P}/experiments/search`, { max_results: 10, filter: "tags.team = 'ml'" }));
        assert.ok(byTag.experiments.some((e: any) => e.experiment_id === expId));

        assert.deepEqual(assertOk(await call(app, 'POST', `${P}/experiments/update`, { experiment_id: expId, new_name: `${name} v2` })), {});
        assert.deepEqual(assertOk(await call(app, 'POST', `${P}/experiments/set-experiment-tag`, { experiment_id: expId, key: 'stage', value: 'dev' })), {});
        assert.deepEqual(assertOk(await call(app, 'POST', `${P}/experiments/delete-experiment-tag`, { experiment_id: expId, key: 'team' })), {});
        const renamed = assertOk(await call(app, 'GET', `${P}/experiments/get?experiment_id=${expId}`)).experiment;
        assert.equal(renamed.name, `${name} v2`);
        assert.deepEqual(renamed.tags, [{ key: 'stage', value: 'dev' }]);
      });

      it('experiments: search pages with tokens, delete and restore', async () => {
        const first = assertOk(await call(app, 'POST', `${P}/experiments/search`, { max_results: 1, view_type: 'ALL' }));
        assert.equal(first.experiments.length, 1);
        assert.equal(typeof first.next_page_token, 'string');
        const second = assertOk(await call(app, 'POST', `${P}/experiments/search`, { max_results: 1, view_type: 'ALL', page_token: first.next_page_token }));
        assert.notEqual(second.experiments[0].experiment_id, first.experiments[0].experiment_id);

        assert.deepEqual(assertOk(await call(app, 'POST', `${P}/experiments/delete`, { experiment_id: expId })), {});
        assert.equal(assertOk(await call(app, 'GET', `${P}/experiments/get?experiment_id=${expId}`)).experiment.lifecycle_stage, 'deleted');
        const ids = async (view: string) =>
          (assertOk(await call(app, 'GET', `${P}/experiments/search?max_results=1000&view_type=${view}`)).experiments ?? []).map((e: any) => e.experiment_id);
        assert.ok(!(await ids('ACTIVE_ONLY')).includes(expId));
        assert.ok((await ids('DELETED_ONLY')).includes(expId));
        assert.deepEqual(assertOk(await call(app, 'POST', `${P}/experiments/restore`, { experiment_id: expId })), {});
        assert.ok((await ids('ACTIVE_ONLY')).includes(expId));
      });

      it('runs: create and get (by run_id and run_uuid)', async () => {
        const created = assertOk(
          await call(app, 'POST', `${P}/runs/create`, { experiment_id: expId, run_name: 'first', start_time: 1000, tags: [{ key: 'mlflow.user', value: 'ana' }] }),
        ).run;
        runId = created.info.run_id;
        assert.match(runId, /^[0-9a-f]{32}$/);
        assert.equal(created.info.run_uuid, runId);
        assert.equal(created.info.run_name, 'first');
        assert.equal(created.info.experiment_id, expId);
        assert.equal(created.info.user_id, 'ana');
        assert.equal(created.info.status, 'RUNNING');
        assert.equal(created.info.start_time, 1000);
        assert.equal(created.info.lifecycle_stage, 'active');
        assert.equal(created.info.artifact_uri, `mlflow-artifacts:/${expId}/${runId}/artifacts`);
        assert.deepEqual(created.data.tags?.find((t: any) => t.key === 'mlflow.runName'), { key: 'mlflow.runName', value: 'first' });
        assert.deepEqual(assertOk(await call(app, 'GET', `${P}/runs/get?run_id=${runId}`)).run, created);
        assert.deepEqual(assertOk(await call(app, 'GET', `${P}/runs/get?run_uuid=${runId}`)).run, created);
        otherRunId = assertOk(await call(app, 'POST', `${P}/runs/create`, { experiment_id: expId, start_time: 2000 })).run.info.run_id;
      });

      it('runs: log-metric (finite and non-finite), log-parameter, set-tag, delete-tag, log-batch', async () => {
        const metric = (value: unknown, step: number) => call(app, 'POST', `${P}/runs/log-metric`, { run_id: runId, key: 'loss', value, timestamp: 10 + step, step });
        for (const [i, v] of [0.5, 'NaN', 'Infinity', '-Infinity'].entries()) assert.deepEqual(assertOk(await metric(v, i)), {});
        assert.deepEqual(assertOk(await call(app, 'POST', `${P}/runs/log-parameter`, { run_id: runId, key: 'lr', value: '0.1' })), {});
        assertOk(await call(app, 'POST', `${P}/runs/log-parameter`, { run_uuid: runId, key: 'lr', value: '0.1' }));
        assert.deepEqual(assertOk(await call(app, 'POST', `${P}/runs/set-tag`, { run_id: runId, key: 'note', value: 'hi' })), {});
        assert.deepEqual(assertOk(await call(app, 'POST', `${P}/runs/set-tag`, { run_id: runId, key: 'gone', value: 'x' })), {});
        assert.deepEqual(assertOk(await call(app, 'POST', `${P}/runs/delete-tag`, { run_id: runId, key: 'gone' })), {});
        const batch = {
          run_id: runId,
          metrics: [
            { key: 'acc', value: 0.9, timestamp: 20, step: 0 },
            { key: 'acc', value: 0.95, timestamp: 21, step: 1 },
          ],
          params: [{ key: 'batch_size', value: '32' }],
          tags: [{ key: 'phase', value: 'train' }],
        };
        assert.deepEqual(assertOk(await call(app, 'POST', `${P}/runs/log-batch`, batch)), {});
        assertOk(await call(app, 'POST', `${P}/runs/log-batch`, { run_id: otherRunId, metrics: [{ key: 'acc', value: 0.5, timestamp: 1, step: 0 }] }));

        const { data } = assertOk(await call(app, 'GET', `${P}/runs/get?run_id=${runId}`)).run;
        const latest = Object.fromEntries(data.metrics.map((m: any) => [m.key, m]));
        assert.deepEqual(latest.acc, { key: 'acc', value: 0.95, timestamp: 21, step: 1 });
        assert.deepEqual(latest.loss, { key: 'loss', value: '-Infinity', timestamp: 13, step: 3 });
        assert.deepEqual(
          data.params.sort((a: any, b: any) => a.key.localeCompare(b.key)),
          [{ key: 'batch_size', value: '32' }, { key: 'lr', value: '0.1' }],
        );
        const tags = Object.fromEntries(data.tags.map((t: any) => [t.key, t.value]));
        assert.equal(tags.note, 'hi');
        assert.equal(tags.phase, 'train');
        assert.equal(tags.gone, undefined);
      });

      it('runs: log-model, log-inputs, update', async () => {
        const model = { artifact_path: 'model', flavors: { python_function: {} }, run_id: runId };
        assert.deepEqual(assertOk(await call(app, 'POST', `${P}/runs/log-model`, { run_id: runId, model_json: JSON.stringify(model) })), {});
        const dataset = { name: 'iris', digest: 'abc123', source_type: 'local', source: '{"uri": "/data/iris.csv"}' };
        const datasets = [{ tags: [{ key: 'mlflow.data.context', value: 'train' }], dataset }];
        assert.deepEqual(assertOk(await call(app, 'POST', `${P}/runs/log-inputs`, { run_id: runId, datasets })), {});
        const updated = assertOk(await call(app, 'POST', `${P}/runs/update`, { run_id: runId, status: 'FINISHED', end_time: 5000, run_name: 'renamed' }));
        assert.equal(updated.run_info.status, 'FINISHED');
        assert.equal(updated.run_info.end_time, 5000);
        assert.equal(updated.run_info.run_name, 'renamed');

        const { run } = assertOk(await call(app, 'GET', `${P}/runs/get?run_id=${runId}`));
        const history = JSON.parse(run.data.tags.find((t: any) => t.key === 'mlflow.log-model.history').value);
        assert.deepEqual(history, [model]);
        assert.deepEqual(run.inputs.dataset_inputs, datasets);
      });

      it('runs: search by metric, param, tag and attribute; order_by; page tokens', async () => {
        const search = async (body: Record<string, unknown>) => assertOk(await call(app, 'POST', `${P}/runs/search`, { experiment_ids: [expId], ...body }));
        const ids = (page: any) => (page.runs ?? []).map((r: any) => r.info.run_id);
        assert.deepEqual(ids(await search({ filter: 'metrics.acc > 0.9' })), [runId]);
        assert.deepEqual(ids(await search({ filter: "params.batch_size = '32' AND tags.phase = 'train'" })), [runId]);
        assert.deepEqual(ids(await search({ filter: "attributes.run_name = 'renamed'" })), [runId]);
        assert.deepEqual(ids(await search({ filter: "datasets.name = 'iris'" })), [runId]);
        assert.deepEqual(ids(await search({ order_by: ['metrics.acc ASC'] })), [otherRunId, runId]);
        assert.deepEqual(ids(await search({})), [otherRunId, runId], 'default order is start_time DESC');
        const page1 = await search({ max_results: 1 });
        assert.deepEqual(ids(page1), [otherRunId]);
        const page2 = await search({ max_results: 1, page_token: page1.next_page_token });
        assert.deepEqual(ids(page2), [runId]);
      });

      it('metrics: get-history (whole and paged) and get-history-bulk-interval', async () => {
        const all = assertOk(await call(app, 'GET', `${P}/metrics/get-history?run_id=${runId}&metric_key=loss`));
        assert.deepEqual(all.metrics.map((m: any) => m.value), [0.5, 'NaN', 'Infinity', '-Infinity']);
        assert.equal(all.next_page_token, undefined);
        const first = assertOk(await call(app, 'GET', `${P}/metrics/get-history?run_id=${runId}&metric_key=loss&max_results=3`));
        assert.equal(first.metrics.length, 3);
        const rest = assertOk(await call(app, 'GET', `${P}/metrics/get-history?run_uuid=${runId}&metric_key=loss&max_results=3&page_token=${encodeURIComponent(first.next_page_token)}`));
        assert.deepEqual([...first.metrics, ...rest.metrics], all.metrics);
        assert.equal(rest.next_page_token, undefined);

        for (const query of [`get-history-bulk-interval?run_ids=${runId}&run_ids=${otherRunId}`, `get-history-bulk?run_id=${runId}&run_id=${otherRunId}`]) {
          const bulk = assertOk(await call(app, 'GET', `${P}/metrics/${query}&metric_key=acc`));
          const byRun = (id: string) => bulk.metrics.filter((m: any) => m.run_id === id).map((m: any) => [m.key, m.step, m.value]);
          assert.deepEqual(byRun(runId), [['acc', 0, 0.9], ['acc', 1, 0.95]], query);
          assert.deepEqual(byRun(otherRunId), [['acc', 0, 0.5]], query);
        }
      });

      it('artifacts/list lists a run\'s artifacts uploaded through the proxy', async () => {
        const root = `${expId}/${runId}/artifacts`;
        assertOk(await call(app, 'PUT', `${PROXY}/${root}/model/MLmodel`, 'flavors: {}\n'));
        assertOk(await call(app, 'PUT', `${PROXY}/${root}/notes.txt`, 'hello'));
        const top = assertOk(await call(app, 'GET', `${P}/artifacts/list?run_id=${runId}`));
        assert.equal(top.root_uri, `mlflow-artifacts:/${root}`);
        assert.deepEqual(top.files, [
          { path: 'model', is_dir: true },
          { path: 'notes.txt', is_dir: false, file_size: 5 },
        ]);
        const model = assertOk(await call(app, 'GET', `${P}/artifacts/list?run_id=${runId}&path=model`));
        assert.deepEqual(model.files, [{ path: 'model/MLmodel', is_dir: false, file_size: 12 }]);
        const empty = assertOk(await call(app, 'GET', `${P}/artifacts/list?run_id=${otherRunId}`));
        assert.deepEqual(empty, { root_uri: `mlflow-artifacts:/${expId}/${otherRunId}/artifacts` });
      });

      it('runs: delete and restore', async () => {
        assert.deepEqual(assertOk(await call(app, 'POST', `${P}/runs/delete`, { run_id: otherRunId })), {});
        assert.equal(assertOk(await call(app, 'GET', `${P}/runs/get?run_id=${otherRunId}`)).run.info.lifecycle_stage, 'deleted');
        const view = async (v: string) => (assertOk(await call(app, 'POST', `${P}/runs/search`, { experiment_ids: [expId], run_view_type: v })).runs ?? []).map((r: any) => r.info.run_id);
        assert.deepEqual(await view('ACTIVE_ONLY'), [runId]);
        assert.deepEqual(await view('DELETED_ONLY'), [otherRunId]);
        assert.deepEqual(assertOk(await call(app, 'POST', `${P}/runs/restore`, { run_id: otherRunId })), {});
        assert.deepEqual((await view('ALL')).sort(), [otherRunId, runId].sort());
      });
    });
  }

  describe('bad input', () => {
    let runId = '';
    before(async () => {
      runId = assertOk(await call(app, 'POST', `${API}/runs/create`, { experiment_id: '0' })).run.info.run_id;
    });

    it('rejects malformed JSON with BAD_REQUEST', async () => {
      for (const text of ['{"name": ', '{name: 1}', "{'name': 'x'}", '{"name": "x"} trailing']) {
        assertError(await call(app, 'POST', `${API}/experiments/create`, text, { 'content-type': 'application/json' }), 'BAD_REQUEST', 'Malformed JSON body');
      }
    });

    it('rejects a body that is not a JSON object', async () => {
      for (const text of ['[1, 2]', '[]', '42', 'true', '"just text"']) {
        assertError(await call(app, 'POST', `${API}/runs/log-metric`, text, { 'content-type': 'application/json' }), 'INVALID_PARAMETER_VALUE', 'expected a JSON object');
      }
    });

    it('rejects wrong types and names the field', async () => {
      const cases: [string, Record<string, unknown>, string][] = [
        ['/experiments/create', { name: { nested: true } }, "'name'"],
        ['/experiments/create', { name: 'x', tags: 'team=ml' }, "'tags'"],
        ['/experiments/create', { name: 'x', tags: [{ key: 5, value: 'v' }] }, "'tags[0].key'"],
        ['/runs/log-metric', { run_id: runId, key: 'm', value: 1, timestamp: 'soon' }, "'timestamp'"],
        ['/runs/log-metric', { run_id: runId, key: 'm', value: 1, timestamp: 1, step: 1.5 }, "'step'"],
        ['/runs/log-metric', { run_id: runId, key: 'm', value: 'high', timestamp: 1 }, "'value'"],
        ['/runs/log-metric', { run_id: runId, key: 'm', value: [1], timestamp: 1 }, "'value'"],
        ['/runs/log-metric', { run_id: 12345, key: 'm', value: 1, timestamp: 1 }, "'run_id'"],
        ['/runs/log-batch', { run_id: runId, metrics: { key: 'm' } }, "'metrics'"],
        ['/runs/log-batch', { run_id: runId, metrics: [{ key: 'm', value: 1, timestamp: '1e3' }] }, "'metrics[0].timestamp'"],
        ['/runs/update', { run_id: runId, status: 'DONE' }, "'status'"],
        ['/runs/search', { experiment_ids: [0] }, "'experiment_ids[0]'"],
        ['/runs/search', { max_results: 'ten' }, "'max_results'"],
        ['/experiments/search', { max_results: 10, view_type: 'EVERYTHING' }, "'view_type'"],
      ];
      for (const [path, body, field] of cases) assertError(await call(app, 'POST', `${API}${path}`, body), 'INVALID_PARAMETER_VALUE', field);
      assertError(await call(app, 'GET', `${API}/experiments/search?max_results=abc`), 'INVALID_PARAMETER_VALUE', "'max_results'");
      assertError(await call(app, 'GET', `${API}/metrics/get-history?run_id=${runId}&metric_key=m&max_results=1.5`), 'INVALID_PARAMETER_VALUE', "'max_results'");
    });

    it('rejects NUL characters in text fields on every backend', async () => {
      assertError(await call(app, 'POST', `${API}/experiments/create`, { name: 'a\u0000b' }), 'INVALID_PARAMETER_VALUE', "'name'");
      assertError(await call(app, 'GET', `${API}/runs/get?run_id=%00`), 'INVALID_PARAMETER_VALUE', "'run_id'");
      assertError(await call(app, 'POST', `${API}/runs/search`, { experiment_ids: ['0\u0000'] }), 'INVALID_PARAMETER_VALUE', "'experiment_ids[0]'");
      const tags = [{ key: 'k', value: 'v\u0000' }];
      assertError(await call(app, 'POST', `${API}/runs/log-batch`, { run_id: runId, tags }), 'INVALID_PARAMETER_VALUE', "'tags[0].value'");
    });

    it('takes int64 fields as JSON numbers or decimal strings (proto3 JSON)', async () => {
      assertOk(await call(app, 'POST', `${API}/runs/log-metric`, { run_id: runId, key: 'm', value: '1.5', timestamp: '1700000000000', step: '7' }));
      const { metrics } = assertOk(await call(app, 'GET', `${API}/metrics/get-history?run_id=${runId}&metric_key=m`));
      assert.deepEqual(metrics, [{ key: 'm', value: 1.5, timestamp: 1700000000000, step: 7 }]);
    });

    it('names the missing required field', async () => {
      const missing = (field: string) => `Missing value for required parameter '${field}'`;
      assertError(await call(app, 'GET', `${API}/runs/get`), 'INVALID_PARAMETER_VALUE', missing('run_id'));
      assertError(await call(app, 'POST', `${API}/runs/log-metric`, { key: 'm', value: 1, timestamp: 1 }), 'INVALID_PARAMETER_VALUE', missing('run_id'));
      assertError(await call(app, 'POST', `${API}/runs/update`, {}), 'INVALID_PARAMETER_VALUE', missing('run_id'));
      assertError(await call(app, 'POST', `${API}/experiments/create`, {}), 'INVALID_PARAMETER_VALUE', missing('name'));
      assertError(await call(app, 'POST', `${API}/experiments/create`, 'null', { 'content-type': 'application/json' }), 'INVALID_PARAMETER_VALUE', missing('name'));
      assertError(await call(app, 'POST', `${API}/experiments/update`, { experiment_id: '0' }), 'INVALID_PARAMETER_VALUE', missing('new_name'));
      assertError(await call(app, 'GET', `${API}/experiments/get`), 'INVALID_PARAMETER_VALUE', missing('experiment_id'));
      assertError(await call(app, 'GET', `${API}/experiments/get-by-name`), 'INVALID_PARAMETER_VALUE', missing('experiment_name'));
      assertError(await call(app, 'POST', `${API}/runs/log-metric`, { run_id: runId, value: 1, timestamp: 1 }), 'INVALID_PARAMETER_VALUE', missing('key'));
      assertError(await call(app, 'POST', `${API}/runs/log-metric`, { run_id: runId, key: 'm', timestamp: 1 }), 'INVALID_PARAMETER_VALUE', missing('value'));
      assertError(await call(app, 'GET', `${API}/metrics/get-history?run_id=${runId}`), 'INVALID_PARAMETER_VALUE', missing('metric_key'));
      assertError(
        await call(app, 'POST', `${API}/runs/log-batch`, { run_id: runId, metrics: [{ key: 'm', value: 1 }] }),
        'INVALID_PARAMETER_VALUE',
        missing('metrics[0].timestamp'),
      );
      assertError(await call(app, 'POST', `${API}/runs/log-model`, { run_id: runId }), 'INVALID_PARAMETER_VALUE', missing('model_json'));
    });

    it('answers RESOURCE_DOES_NOT_EXIST (404) for unknown runs and experiments', async () => {
      const posts: [string, Record<string, unknown>][] = [
        ['/runs/update', { status: 'FINISHED' }],
        ['/runs/delete', {}],
        ['/runs/restore', {}],
        ['/runs/log-metric', { key: 'm', value: 1, timestamp: 1 }],
        ['/runs/log-parameter', { key: 'p', value: 'v' }],
        ['/runs/set-tag', { key: 't', value: 'v' }],
        ['/runs/delete-tag', { key: 't' }],
        ['/runs/log-batch', { metrics: [{ key: 'm', value: 1, timestamp: 1 }] }],
        ['/runs/log-model', { model_json: '{}' }],
        ['/runs/log-inputs', { datasets: [] }],
      ];
      for (const [path, body] of posts) assertError(await call(app, 'POST', `${API}${path}`, { run_id: UNKNOWN_RUN, ...body }), 'RESOURCE_DOES_NOT_EXIST', UNKNOWN_RUN);
      for (const query of [`runs/get?run_id=${UNKNOWN_RUN}`, `metrics/get-history?run_id=${UNKNOWN_RUN}&metric_key=m`, `artifacts/list?run_id=${UNKNOWN_RUN}`, `metrics/get-history-bulk-interval?run_ids=${UNKNOWN_RUN}&metric_key=m`]) {
        assertError(await call(app, 'GET', `${API}/${query}`), 'RESOURCE_DOES_NOT_EXIST', UNKNOWN_RUN);
      }
      assertError(await call(app, 'GET', `${API}/experiments/get?experiment_id=987654`), 'RESOURCE_DOES_NOT_EXIST');
      assertError(await call(app, 'GET', `${API}/experiments/get-by-name?experiment_name=nobody`), 'RESOURCE_DOES_NOT_EXIST');
      assertError(await call(app, 'POST', `${API}/experiments/update`, { experiment_id: '987654', new_name: 'x' }), 'RESOURCE_DOES_NOT_EXIST');
      assertError(await call(app, 'POST', `${API}/experiments/delete`, { experiment_id: '987654' }), 'RESOURCE_DOES_NOT_EXIST');
      assertError(await call(app, 'POST', `${API}/runs/create`, { experiment_id: '987654' }), 'RESOURCE_DOES_NOT_EXIST');
      assertError(await call(app, 'POST', `${API}/runs/delete-tag`, { run_id: runId, key: 'never-set' }), 'RESOURCE_DOES_NOT_EXIST');
    });

    it('rejects invalid filter strings with the position of the problem', async () => {
      const cases: [string, Record<string, unknown>][] = [
        ['/runs/search', { experiment_ids: ['0'], filter: 'metrics.acc >> 1' }],
        ['/runs/search', { experiment_ids: ['0'], filter: "metrics.acc > 1 OR params.p = 'x'" }],
        ['/runs/search', { experiment_ids: ['0'], filter: "params.p = 'unterminated" }],
        ['/runs/search', { experiment_ids: ['0'], filter: 'bogus.key = 1' }],
        ['/experiments/search', { max_results: 10, filter: "name === 'x'" }],
      ];
      for (const [path, body] of cases) assertError(await call(app, 'POST', `${API}${path}`, body), 'INVALID_PARAMETER_VALUE', /at position \d+/);
      assertError(await call(app, 'GET', `${API}/experiments/search?max_results=10&filter=${encodeURIComponent('tags.x LIKE')}`), 'INVALID_PARAMETER_VALUE', /at position \d+/);
      assertError(await call(app, 'POST', `${API}/runs/search`, { experiment_ids: ['0'], order_by: ['metrics.acc DOWN'] }), 'INVALID_PARAMETER_VALUE', /at position \d+/);
    });

    it('rejects page tokens this server did not issue', async () => {
      const forged = Buffer.from(JSON.stringify({ offset: -5 })).toString('base64');
      for (const token of ['garbage!!', 'e30=', forged, Buffer.from('not json').toString('base64')]) {
        assertError(await call(app, 'POST', `${API}/runs/search`, { experiment_ids: ['0'], page_token: token }), 'INVALID_PARAMETER_VALUE', 'page token');
        assertError(await call(app, 'POST', `${API}/experiments/search`, { max_results: 5, page_token: token }), 'INVALID_PARAMETER_VALUE', 'page token');
        const q = new URLSearchParams({ run_id: runId, metric_key: 'm', max_results: '5', page_token: token });
        assertError(await call(app, 'GET', `${API}/metrics/get-history?${q}`), 'INVALID_PARAMETER_VALUE', 'page token');
      }
    });

    it('accepts the strings NaN and ±Infinity for metric values but not for timestamps or steps', async () => {
      for (const value of ['NaN', 'Infinity', '-Infinity']) {
        assertOk(await call(app, 'POST', `${API}/runs/log-metric`, { run_id: runId, key: 'nonfinite', value, timestamp: 1, step: 0 }));
        assertOk(await call(app, 'POST', `${API}/runs/log-batch`, { run_id: runId, metrics: [{ key: 'nonfinite_batch', value, timestamp: 1, step: 0 }] }));
      }
      const { metrics } = assertOk(await call(app, 'GET', `${API}/metrics/get-history?run_id=${runId}&metric_key=nonfinite`));
      assert.deepEqual(metrics.map((m: any) => m.value).sort(), ['-Infinity', 'Infinity', 'NaN']);
      for (const timestamp of ['NaN', 'Infinity', 1.5]) {
        assertError(await call(app, 'POST', `${API}/runs/log-metric`, { run_id: runId, key: 'm', value: 1, timestamp }), 'INVALID_PARAMETER_VALUE', "'timestamp'");
      }
      assertError(await call(app, 'POST', `${API}/runs/log-metric`, { run_id: runId, key: 'm', value: 1, timestamp: 1, step: 'NaN' }), 'INVALID_PARAMETER_VALUE', "'step'");
    });

    it('decodes a double-encoded body (a JSON string holding JSON)', async () => {
      const name = 'double encoded';
      const created = assertOk(await call(app, 'POST', `${API}/experiments/create`, JSON.stringify(JSON.stringify({ name })), { 'content-type': 'application/json' }));
      assert.equal(assertOk(await call(app, 'GET', `${API}/experiments/get?experiment_id=${created.experiment_id}`)).experiment.name, name);
      const batch = JSON.stringify({ run_id: runId, metrics: [{ key: 'dbl', value: 3, timestamp: 1, step: 0 }] });
      assertOk(await call(app, 'POST', `${API}/runs/log-batch`, JSON.stringify(batch), { 'content-type': 'application/json' }));
      assert.equal(assertOk(await call(app, 'GET', `${API}/metrics/get-history?run_id=${runId}&metric_key=dbl`)).metrics[0].value, 3);
    });

    it('reads JSON bodies sent without a JSON content type', async () => {
      const created = await call(app, 'POST', `${API}/experiments/create`, JSON.stringify({ name: 'sent as text' }), { 'content-type': 'text/plain' });
      assert.match(assertOk(created).experiment_id, /^\d+$/);
    });

    it('reads repeated query keys: lists for repeated fields, the last value for scalars', async () => {
      const otherRun = assertOk(await call(app, 'POST', `${API}/runs/create`, { experiment_id: '0' })).run.info.run_id;
      for (const id of [runId, otherRun]) assertOk(await call(app, 'POST', `${API}/runs/log-metric`, { run_id: id, key: 'rep', value: 1, timestamp: 1 }));
      const bulk = assertOk(await call(app, 'GET', `${API}/metrics/get-history-bulk-interval?run_ids=${runId}&run_ids=${otherRun}&metric_key=rep`));
      assert.deepEqual(bulk.metrics.map((m: any) => m.run_id).sort(), [runId, otherRun].sort());
      const one = assertOk(await call(app, 'GET', `${API}/experiments/search?max_results=50&max_results=1&view_type=ALL`));
      assert.equal(one.experiments.length, 1);
      const ordered = assertOk(await call(app, 'GET', `${API}/experiments/search?max_results=100&order_by=name%20ASC&order_by=experiment_id%20DESC`));
      const names = ordered.experiments.map((e: any) => e.name);
      assert.deepEqual(names, [...names].sort());
      assertError(await call(app, 'GET', `${API}/experiments/search?max_results=100&order_by=name&order_by=name%20DESC`), 'INVALID_PARAMETER_VALUE');
      const run = assertOk(await call(app, 'GET', `${API}/runs/get?run_id=${runId}&run_id=${runId}`));
      assert.equal(run.run.info.run_id, runId);
    });

    it('answers an undecodable URL path with BAD_REQUEST', async () => {
      assertError(await call(app, 'GET', `${PROXY}/bad%zzescape`), 'BAD_REQUEST', 'not a valid url component');
      assertError(await call(app, 'PUT', `${PROXY}/%E0%A4%A`, 'x'), 'BAD_REQUEST');
    });

    it('answers unknown routes and wrong methods with JSON errors', async () => {
      assertError(await call(app, 'GET', '/api/2.0/mlflow/no-such-thing'), 'ENDPOINT_NOT_FOUND', '/api/2.0/mlflow/no-such-thing');
      assertError(await call(app, 'POST', '/nowhere?x=1', {}), 'ENDPOINT_NOT_FOUND');
      assertError(await call(app, 'GET', '/api/2.0/mlflow/traces'), 'ENDPOINT_NOT_FOUND');
      const wrongMethod = await call(app, 'GET', `${API}/runs/create`);
      assert.ok(wrongMethod.status === 404 || wrongMethod.status === 405, wrongMethod.text);
      assertError(wrongMethod, 'ENDPOINT_NOT_FOUND');
    });

    it('echoes a caller\'s X-Request-Id, and makes one otherwise', async () => {
      const given = 'trace-abc.123:x';
      const ok = await call(app, 'GET', `${API}/runs/get?run_id=${runId}`, undefined, { 'x-request-id': given });
      assert.equal(ok.headers['x-request-id'], given);
      const failed = await call(app, 'GET', `${API}/runs/get?run_id=${UNKNOWN_RUN}`, undefined, { 'x-request-id': given });
      assert.equal(failed.body.request_id, given);
      assert.equal(failed.headers['x-request-id'], given);
      const made = await call(app, 'GET', `${API}/runs/get?run_id=${runId}`);
      assert.match(String(made.headers['x-request-id']), UUID);
      const unsafe = await call(app, 'GET', '/nowhere', undefined, { 'x-request-id': 'has spaces <and> markup' });
      assert.match(unsafe.body.request_id, UUID);
      assert.match(String(unsafe.headers['x-request-id']), UUID);
    });
  });
});

describe('request body limit', () => {
  let tp: TestPlatform;
  before(async () => {
    tp = await startTestPlatform({ 'server.max_body_bytes': 1024 });
  });
  after(() => tp.close());

  it('answers 413 PAYLOAD_TOO_LARGE for a JSON body over server.max_body_bytes', async () => {
    const runId = assertOk(await call(tp.app, 'POST', `${API}/runs/create`, { experiment_id: '0' })).run.info.run_id;
    const metrics = Array.from({ length: 40 }, (_, i) => ({ key: `metric_${i}`, value: i, timestamp: 1, step: 0 }));
    assertError(await call(tp.app, 'POST', `${API}/runs/log-batch`, { run_id: runId, metrics }), 'PAYLOAD_TOO_LARGE');
    assertOk(await call(tp.app, 'POST', `${API}/runs/log-batch`, { run_id: runId, metrics: metrics.slice(0, 5) }));
  });

  it('does not apply the limit to streamed artifact uploads', async () => {
    const bytes = randomBytes(64 * 1024);
    assertOk(await call(tp.app, 'PUT', `${PROXY}/big/blob.bin`, bytes));
    const res = await tp.app.inject({ method: 'GET', url: `${PROXY}/big/blob.bin` });
    assert.ok(res.rawPayload.equals(bytes));
  });
});
