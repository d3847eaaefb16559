import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDatabases } from '../../test/support/databases.js';
import { AppError, type ErrorCode } from '../errors/index.js';
import { insertRows, migrate, openDb, type Db } from '../store/sql/index.js';
import { defaultArtifactLocation, TrackingService, type SearchRequest } from './tracking.service.js';
import { SqlTrackingStore } from './tracking.sql.js';
import type { DatasetInput, KeyValue, Metric, Run } from './types.js';

/**
 * MLflow's tracking semantics (endpoints, search grammar, lifecycle) checked through TrackingService
 * over SqlTrackingStore, once per SQL dialect. One database per dialect is shared by all tests;
 * every test works in experiments and runs of its own.
 */
async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof AppError, `expected an AppError ${code}, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

const kv = (key: string, value: string): KeyValue => ({ key, value });
const metric = (key: string, value: number, step = 0, timestamp = 1000): Metric => ({ key, value, step, timestamp });
const tagsOf = (run: Run) => Object.fromEntries(run.data.tags.map((t) => [t.key, t.value]));
const paramsOf = (run: Run) => Object.fromEntries(run.data.params.map((p) => [p.key, p.value]));
const latestOf = (run: Run) => Object.fromEntries(run.data.metrics.map((m) => [m.key, [m.step, m.timestamp, m.value]]));
const dataset = (name: string, digest: string): DatasetInput['dataset'] => ({ name, digest, sourceType: 'local', source: `{"uri": "/data/${name}"}` });

for (const { db: backend, skip } of await testDatabases()) {
  describe(backend.name, { skip }, () => {
    let db: Db;
    let drop: () => Promise<void>;
    let svc: TrackingService;
    let clock = 1_700_000_000_000;
    let seq = 0;
    const unique = (prefix: string) => `${prefix}-${++seq}`;

    before(async () => {
      const created = await backend.create();
      drop = created.drop;
      db = openDb(created.uri, { poolSize: 4 });
      await migrate(db);
      const store = new SqlTrackingStore(db);
      await store.ensureDefaultExperiment(defaultArtifactLocation, Date.now());
      await store.ensureDefaultExperiment(defaultArtifactLocation, Date.now());
      svc = new TrackingService(store, { truncateLongValues: true, now: () => ++clock });
    });
    after(async () => {
      await db.close();
      await drop();
    });

    const newExperiment = (tags: KeyValue[] = []) => svc.createExperiment(1, unique('exp'), undefined, tags);
    async function newRun(experimentId?: string, extra: { runName?: string; startTime?: number; tags?: KeyValue[] } = {}): Promise<string> {
      const run = await svc.createRun({ experimentId: experimentId ?? (await newExperiment()), tags: extra.tags ?? [], runName: extra.runName, startTime: extra.startTime });
      return run.info.runId;
    }
    async function history(runId: string, key: string, maxResults?: number, pageToken?: string): Promise<{ points: number[][]; next?: string }> {
      const { series, nextPageToken } = await svc.getMetricHistory(runId, key, maxResults, pageToken);
      return { points: Array.from(series.steps, (step, i) => [step, series.timestamps[i]!, series.values[i]!]), next: nextPageToken };
    }
    const searchRunIds = async (experimentIds: string[], req: SearchRequest = {}) => {
      const page = await svc.searchRuns({ experimentIds, ...req });
      return { ids: page.items.map((r) => r.info.runId), next: page.nextPageToken };
    };

    describe('experiments', () => {
      test('the Default experiment exists once with id 0', async () => {
        const e = await svc.getExperiment('0');
        assert.deepEqual([e.name, e.artifactLocation, e.lifecycleStage, e.tags], ['Default', 'mlflow-artifacts:/0', 'active', []]);
        assert.equal((await svc.getExperimentByName(1, 'Default')).experimentId, '0');
        const all = await svc.searchExperiments(1, { maxResults: 10, filter: "name = 'Default'", viewType: 'ALL' });
        assert.deepEqual(all.items.map((x) => x.experimentId), ['0']);
      });

      test('create, get and get-by-name', async () => {
        const name = unique('Exp');
        const id = await svc.createExperiment(1, name, undefined, [kv('b', '2'), kv('a', '1')]);
        assert.match(id, /^[1-9]\d*$/);
        const e = await svc.getExperiment(id);
        assert.deepEqual(e, {
          experimentId: id, name, artifactLocation: `mlflow-artifacts:/${id}`, lifecycleStage: 'active',
          creationTime: clock, lastUpdateTime: clock, tags: [kv('a', '1'), kv('b', '2')],
        });
        assert.deepEqual(await svc.getExperimentByName(1, name), e);
        const custom = await svc.createExperiment(1, unique('exp'), 's3://bucket/x', []);
        assert.equal((await svc.getExperiment(custom)).artifactLocation, 's3://bucket/x');
        await rejectsWith(svc.getExperiment('987654'), 'RESOURCE_DOES_NOT_EXIST');
        await rejectsWith(svc.getExperiment('not-an-id'), 'RESOURCE_DOES_NOT_EXIST');
        await rejectsWith(svc.getExperimentByName(1, name.toUpperCase()), 'RESOURCE_DOES_NOT_EXIST');
        await rejectsWith(svc.createExperiment(1, '  ', undefined, []), 'INVALID_PARAMETER_VALUE');
      });

      test('a duplicate name, also of a deleted experiment, is RESOURCE_ALREADY_EXISTS', async () => {
        const name = unique('dup');
        const id = await svc.createExperiment(1, name, undefined, []);
        await rejectsWith(svc.createExperiment(1, name, undefined, []), 'RESOURCE_ALREADY_EXISTS', new RegExp(name));
        await svc.setExperimentDeleted(id, true);
        await rejectsWith(svc.createExperiment(1, name, undefined, [kv('t', 'v')]), 'RESOURCE_ALREADY_EXISTS');
        assert.equal((await svc.getExperimentByName(1, name)).lifecycleStage, 'deleted');
      });

      test('rename', async () => {
        const [a, b] = [await newExperiment(), await newExperiment()];
        const oldName = (await svc.getExperiment(a)).name;
        const newName = unique('renamed');
        await svc.renameExperiment(a, newName);
        const e = await svc.getExperiment(a);
        assert.deepEqual([e.name, e.lastUpdateTime > e.creationTime], [newName, true]);
        await rejectsWith(svc.getExperimentByName(1, oldName), 'RESOURCE_DOES_NOT_EXIST');
        await rejectsWith(svc.renameExperiment(b, newName), 'RESOURCE_ALREADY_EXISTS');
        await svc.setExperimentDeleted(b, true);
        await rejectsWith(svc.renameExperiment(b, unique('x')), 'INVALID_STATE');
      });

      test('delete cascades to its runs; restore brings them back', async () => {
        const id = await newExperiment();
        const [r1, r2] = [await newRun(id), await newRun(id)];
        await svc.setExperimentDeleted(id, true);
        assert.equal((await svc.getExperiment(id)).lifecycleStage, 'deleted');
        for (const r of [r1, r2]) assert.equal((await svc.getRun(r)).info.lifecycleStage, 'deleted');
        await rejectsWith(svc.setExperimentDeleted(id, true), 'INVALID_PARAMETER_VALUE');
        await rejectsWith(svc.createRun({ experimentId: id, tags: [] }), 'INVALID_PARAMETER_VALUE');
        await rejectsWith(svc.logMetric(r1, metric('m', 1)), 'INVALID_PARAMETER_VALUE');
        assert.deepEqual((await searchRunIds([id], { viewType: 'DELETED_ONLY' })).ids.sort(), [r1, r2].sort());
        await svc.setExperimentDeleted(id, false);
        assert.equal((await svc.getExperiment(id)).lifecycleStage, 'active');
        for (const r of [r1, r2]) assert.equal((await svc.getRun(r)).info.lifecycleStage, 'active');
        await rejectsWith(svc.setExperimentDeleted('0', true), 'INVALID_PARAMETER_VALUE');
      });

      test('tags: set upserts, delete removes, a missing tag is RESOURCE_DOES_NOT_EXIST', async () => {
        const id = await newExperiment([kv('k', 'v1')]);
        await svc.setExperimentTag(id, kv('k', 'v2'));
        await svc.setExperimentTag(id, kv('note', 'x'.repeat(6000)));
        const e = await svc.getExperiment(id);
        assert.deepEqual(e.tags, [kv('k', 'v2'), kv('note', 'x'.repeat(5000))]);
        assert.equal(e.lastUpdateTime, clock);
        await svc.deleteExperimentTag(id, 'k');
        assert.deepEqual((await svc.getExperiment(id)).tags.map((t) => t.key), ['note']);
        await rejectsWith(svc.deleteExperimentTag(id, 'k'), 'RESOURCE_DOES_NOT_EXIST');
        await rejectsWith(svc.setExperimentTag(id, kv('bad key!', 'v')), 'INVALID_PARAMETER_VALUE');
        await svc.setExperimentDeleted(id, true);
        await rejectsWith(svc.setExperimentTag(id, kv('k', 'v')), 'INVALID_PARAMETER_VALUE');
      });
    });

    describe('search experiments', () => {
      const p = `srch${process.pid}`;
      const ids: Record<string, string> = {};
      before(async () => {
        for (const [name, team] of [['b', 'nlp'], ['a', 'cv'], ['d', 'nlp'], ['c', 'nlp'], ['e', 'cv']] as const) {
          ids[name] = await svc.createExperiment(1, `${p}-${name}`, undefined, [kv('team', team)]);
        }
        await svc.setExperimentDeleted(ids.e!, true);
      });
      const names = async (req: SearchRequest) => {
        const page = await svc.searchExperiments(1, { maxResults: 100, ...req });
        return { names: page.items.map((e) => e.name.slice(p.length + 1)), next: page.nextPageToken };
      };

      test('filters on name (LIKE case-sensitive, ILIKE not) and tags', async () => {
        assert.deepEqual((await names({ filter: `name LIKE '${p}-%'` })).names, ['c', 'd', 'a', 'b']);
        assert.deepEqual((await names({ filter: `name LIKE '${p.toUpperCase()}-%'` })).names, []);
        assert.deepEqual((await names({ filter: `name ILIKE '${p.toUpperCase()}-%'` })).names, ['c', 'd', 'a', 'b']);
        assert.deepEqual((await names({ filter: `name = '${p}-d'` })).names, ['d']);
        assert.deepEqual((await names({ filter: `name LIKE '${p}-%' AND tags.team = 'nlp'` })).names, ['c', 'd', 'b']);
        assert.deepEqual((await names({ filter: `name LIKE '${p}-%' AND tags.team != 'nlp'` })).names, ['a']);
        await rejectsWith(svc.searchExperiments(1, { maxResults: 10, filter: 'metrics.x > 1' }), 'INVALID_PARAMETER_VALUE');
        await rejectsWith(svc.searchExperiments(1, {}), 'INVALID_PARAMETER_VALUE');
      });

      test('order_by and view types', async () => {
        const filter = `name LIKE '${p}-%'`;
        assert.deepEqual((await names({ filter, orderBy: ['name'] })).names, ['a', 'b', 'c', 'd']);
        assert.deepEqual((await names({ filter, orderBy: ['name DESC'] })).names, ['d', 'c', 'b', 'a']);
        assert.deepEqual((await names({ filter, orderBy: ['creation_time ASC'] })).names, ['b', 'a', 'd', 'c']);
        assert.deepEqual((await names({ filter, viewType: 'DELETED_ONLY' })).names, ['e']);
        assert.deepEqual((await names({ filter, viewType: 'ALL', orderBy: ['name'] })).names, ['a', 'b', 'c', 'd', 'e']);
        await rejectsWith(svc.searchExperiments(1, { maxResults: 10, orderBy: ['tags.team'] }), 'INVALID_PARAMETER_VALUE');
      });

      test('pages with tokens; the last page has no token', async () => {
        const filter = `name LIKE '${p}-%'`;
        const seen: string[] = [];
        let token: string | undefined;
        const tokens: boolean[] = [];
        do {
          const page = await names({ filter, viewType: 'ALL', orderBy: ['name'], maxResults: 2, pageToken: token });
          seen.push(...page.names);
          tokens.push(page.next !== undefined);
          token = page.next;
        } while (token);
        assert.deepEqual(seen, ['a', 'b', 'c', 'd', 'e']);
        assert.deepEqual(tokens, [true, true, false]);
        const first = await names({ filter, orderBy: ['name'], maxResults: 2 });
        const second = await names({ filter, orderBy: ['name'], maxResults: 2, pageToken: first.next });
        assert.deepEqual([first.names, second.names, second.next], [['a', 'b'], ['c', 'd'], undefined]);
        await rejectsWith(svc.searchExperiments(1, { maxResults: 2, pageToken: 'garbage' }), 'INVALID_PARAMETER_VALUE');
      });
    });

    describe('runs', () => {
      test('create: name mirrored into mlflow.runName, artifact_uri under the experiment, RUNNING', async () => {
        const exp = await newExperiment();
        const run = await svc.createRun({ experimentId: exp, runName: 'my-run', startTime: 1234, userId: 'ann', tags: [kv('team', 'a')] });
        assert.match(run.info.runId, /^[0-9a-f]{32}$/);
        assert.deepEqual(run.info, {
          runId: run.info.runId, runName: 'my-run', experimentId: exp, userId: 'ann', status: 'RUNNING', startTime: 1234,
          endTime: null, artifactUri: `mlflow-artifacts:/${exp}/${run.info.runId}/artifacts`, lifecycleStage: 'active',
        });
        assert.deepEqual(run.data, { metrics: [], params: [], tags: [kv('mlflow.runName', 'my-run'), kv('team', 'a')] });
        assert.deepEqual(await svc.getRun(run.info.runId), run);
        const fromTag = await svc.createRun({ experimentId: exp, tags: [kv('mlflow.runName', 'tagged')] });
        assert.equal(fromTag.info.runName, 'tagged');
        await rejectsWith(svc.createRun({ experimentId: exp, runName: 'x', tags: [kv('mlflow.runName', 'y')] }), 'INVALID_PARAMETER_VALUE');
        await rejectsWith(svc.getRun('0'.repeat(32)), 'RESOURCE_DOES_NOT_EXIST');
      });

      test('create without a name invents one; without an experiment uses Default', async () => {
        const run = await svc.createRun({ tags: [] });
        assert.match(run.info.runName, /^[a-z]+-[a-z]+-\d{1,3}$/);
        assert.deepEqual(tagsOf(run), { 'mlflow.runName': run.info.runName });
        assert.equal(run.info.experimentId, '0');
        assert.equal(run.info.artifactUri, `mlflow-artifacts:/0/${run.info.runId}/artifacts`);
        assert.equal(run.info.startTime, clock);
      });

      test('update status, end_time and name', async () => {
        const id = await newRun();
        const info = await svc.updateRun(id, { status: 'FINISHED', endTime: 99 });
        assert.deepEqual([info.status, info.endTime, info.runName], ['FINISHED', 99, (await svc.getRun(id)).info.runName]);
        const renamed = await svc.updateRun(id, { runName: 'new-name' });
        assert.deepEqual([renamed.runName, renamed.status, renamed.endTime], ['new-name', 'FINISHED', 99]);
        assert.equal(tagsOf(await svc.getRun(id))['mlflow.runName'], 'new-name');
        await svc.setTag(id, kv('mlflow.runName', 'via-tag'));
        assert.equal((await svc.getRun(id)).info.runName, 'via-tag');
        await svc.logMetric(id, metric('after-finish', 1));
      });

      test('delete and restore; a deleted run rejects every write', async () => {
        const id = await newRun();
        await svc.setRunDeleted(id, true);
        const run = await svc.getRun(id);
        assert.equal(run.info.lifecycleStage, 'deleted');
        const writes = [
          () => svc.logMetric(id, metric('m', 1)),
          () => svc.logParam(id, kv('p', '1')),
          () => svc.setTag(id, kv('t', '1')),
          () => svc.logBatch(id, { metrics: [metric('m', 1)], params: [], tags: [] }),
          () => svc.logInputs(id, [{ tags: [], dataset: dataset('d', 'x') }]),
          () => svc.updateRun(id, { status: 'KILLED' }),
          () => svc.deleteTag(id, 'mlflow.runName'),
        ];
        for (const write of writes) await rejectsWith(write(), 'INVALID_PARAMETER_VALUE', /must be in the 'active' state/);
        assert.deepEqual((await svc.getRun(id)).data, run.data);
        await svc.setRunDeleted(id, false);
        await svc.logMetric(id, metric('m', 1));
        assert.equal((await svc.getRun(id)).info.lifecycleStage, 'active');
      });

      test('run tags: upsert, delete, missing tag is RESOURCE_DOES_NOT_EXIST', async () => {
        const id = await newRun(undefined, { runName: 'r' });
        await svc.setTag(id, kv('t', '1'));
        await svc.setTag(id, kv('t', '2'));
        await svc.setTag(id, kv('long', 'y'.repeat(5001)));
        assert.deepEqual(tagsOf(await svc.getRun(id)), { long: 'y'.repeat(5000), 'mlflow.runName': 'r', t: '2' });
        await svc.deleteTag(id, 't');
        await rejectsWith(svc.deleteTag(id, 't'), 'RESOURCE_DOES_NOT_EXIST');
        assert.deepEqual(Object.keys(tagsOf(await svc.getRun(id))), ['long', 'mlflow.runName']);
      });
    });

    describe('logging', () => {
      test('a batch with a changed param value writes nothing', async () => {
        const id = await newRun(undefined, { runName: 'atomic' });
        await svc.logParam(id, kv('lr', '0.1'));
        await rejectsWith(
          svc.logBatch(id, { metrics: [metric('acc', 0.5), metric('loss', 1, 1)], params: [kv('new', 'x'), kv('lr', '0.2')], tags: [kv('t', 'v'), kv('mlflow.runName', 'changed')] }),
          'INVALID_PARAMETER_VALUE',
          /Changing param values is not allowed.*lr/,
        );
        const run = await svc.getRun(id);
        assert.deepEqual(run.data, { metrics: [], params: [kv('lr', '0.1')], tags: [kv('mlflow.runName', 'atomic')] });
        assert.equal(run.info.runName, 'atomic');
        assert.deepEqual((await history(id, 'acc')).points, []);
      });

      test('params are write-once; the same value again is accepted; long values are truncated', async () => {
        const id = await newRun();
        await svc.logParam(id, kv('p', 'v'));
        await svc.logParam(id, kv('p', 'v'));
        await svc.logBatch(id, { metrics: [], params: [kv('p', 'v'), kv('q', 'z'.repeat(6001))], tags: [] });
        await rejectsWith(svc.logParam(id, kv('p', 'w')), 'INVALID_PARAMETER_VALUE');
        await rejectsWith(svc.logBatch(id, { metrics: [], params: [kv('r', '1'), kv('r', '1')], tags: [] }), 'INVALID_PARAMETER_VALUE', /Duplicate param key/);
        assert.deepEqual(paramsOf(await svc.getRun(id)), { p: 'v', q: 'z'.repeat(6000) });
      });

      test('duplicate tag keys in one batch: the last value wins', async () => {
        const id = await newRun();
        await svc.logBatch(id, { metrics: [], params: [], tags: [kv('t', '1'), kv('u', 'x'), kv('t', '2')] });
        assert.deepEqual([tagsOf(await svc.getRun(id)).t, tagsOf(await svc.getRun(id)).u], ['2', 'x']);
      });

      test('an exact repeat of a metric point is stored once; other points at the same step are kept', async () => {
        const id = await newRun();
        const points = [metric('m', 1, 0, 10), metric('m', 1, 0, 10), metric('m', 2, 0, 10), metric('m', 1, 0, 11), metric('m', 1, 1, 10)];
        await svc.logBatch(id, { metrics: points, params: [], tags: [] });
        await svc.logBatch(id, { metrics: points.slice(0, 2), params: [], tags: [] });
        await svc.logMetric(id, metric('m', 2, 0, 10));
        assert.deepEqual((await history(id, 'm')).points, [[0, 10, 1], [0, 10, 2], [0, 11, 1], [1, 10, 1]]);
      });

      test('the latest metric is the highest (step, timestamp, value), within and across batches', async () => {
        const id = await newRun();
        await svc.logBatch(id, { metrics: [metric('a', 1, 5, 100), metric('a', 9, 3, 900), metric('b', 1, 2, 50), metric('b', 3, 2, 50), metric('b', 2, 2, 50)], params: [], tags: [] });
        assert.deepEqual(latestOf(await svc.getRun(id)), { a: [5, 100, 1], b: [2, 50, 3] });
        await svc.logMetric(id, metric('a', 0.5, 5, 99));
        await svc.logMetric(id, metric('a', 7, 4, 5000));
        await svc.logMetric(id, metric('b', -1, 2, 51));
        assert.deepEqual(latestOf(await svc.getRun(id)), { a: [5, 100, 1], b: [2, 51, -1] });
        await svc.logMetric(id, metric('a', 0.25, 5, 100));
        await svc.logMetric(id, metric('a', 2, 5, 100));
        assert.deepEqual(latestOf(await svc.getRun(id)), { a: [5, 100, 2], b: [2, 51, -1] });
        await svc.logMetric(id, metric('a', -3, 6, 1));
        assert.deepEqual(latestOf(await svc.getRun(id)).a, [6, 1, -3]);
      });

      test('NaN and ±Infinity round-trip through history and the latest value', async () => {
        const id = await newRun();
        await svc.logBatch(id, { metrics: [metric('nan', NaN), metric('pinf', Infinity), metric('ninf', -Infinity), metric('mix', 1, 0), metric('mix', NaN, 1), metric('mix', Infinity, 2), metric('mix', -Infinity, 3)], params: [], tags: [] });
        assert.deepEqual(latestOf(await svc.getRun(id)), { mix: [3, 1000, -Infinity], nan: [0, 1000, NaN], ninf: [0, 1000, -Infinity], pinf: [0, 1000, Infinity] });
        assert.deepEqual((await history(id, 'mix')).points, [[0, 1000, 1], [1, 1000, NaN], [2, 1000, Infinity], [3, 1000, -Infinity]]);
        assert.deepEqual((await history(id, 'nan')).points, [[0, 1000, NaN]]);
        await svc.logMetric(id, metric('nan', NaN));
        assert.deepEqual((await history(id, 'nan')).points, [[0, 1000, NaN]]);
        await svc.logMetric(id, metric('pinf', 5, 0, 1001));
        assert.deepEqual(latestOf(await svc.getRun(id)).pinf, [0, 1001, 5]);
      });

      test('history is ordered by (step, timestamp, value) and pages with tokens', async () => {
        const id = await newRun();
        await svc.logBatch(id, { metrics: [metric('h', 5, 3, 1), metric('h', 1, 0, 2), metric('h', 2, 1, 1)], params: [], tags: [] });
        await svc.logBatch(id, { metrics: [metric('h', 4, 2, 1), metric('h', 0, 0, 1), metric('h', 3, 1, 1), metric('h', 6, 4, 1)], params: [], tags: [] });
        const all = [[0, 1, 0], [0, 2, 1], [1, 1, 2], [1, 1, 3], [2, 1, 4], [3, 1, 5], [4, 1, 6]];
        assert.deepEqual(await history(id, 'h'), { points: all, next: undefined });
        const pages: number[][][] = [];
        let token: string | undefined;
        do {
          const page = await history(id, 'h', 3, token);
          pages.push(page.points);
          token = page.next;
        } while (token);
        assert.deepEqual(pages, [all.slice(0, 3), all.slice(3, 6), all.slice(6)]);
        const exact = await history(id, 'h', 7);
        assert.deepEqual(exact, { points: all, next: undefined });
        assert.deepEqual(await history(id, 'missing'), { points: [], next: undefined });
        await rejectsWith(svc.getMetricHistory('f'.repeat(32), 'h'), 'RESOURCE_DOES_NOT_EXIST');
      });

      test('sampled history caps the points per run and keeps the first and last', async () => {
        const [a, b] = [await newRun(), await newRun()];
        const points = Array.from({ length: 1000 }, (_, i) => metric('s', i / 10, i, 1000 + i));
        await svc.logBatch(a, { metrics: points, params: [], tags: [] });
        await svc.logBatch(b, { metrics: points.slice(0, 5), params: [], tags: [] });
        const sampled = await svc.getMetricHistoryBulkInterval({ runIds: [a, b], key: 's', maxResults: 10 });
        const ofA = sampled.filter((m) => m.runId === a);
        assert.equal(ofA.length, 10);
        assert.deepEqual([ofA[0]!.step, ofA.at(-1)!.step], [0, 999]);
        assert.ok(ofA.every((m, i) => i === 0 || m.step > ofA[i - 1]!.step));
        assert.deepEqual(ofA[1], { key: 's', value: 11.1, timestamp: 1111, step: 111, runId: a });
        assert.deepEqual(sampled.filter((m) => m.runId === b).map((m) => m.step), [0, 1, 2, 3, 4]);
        const ranged = await svc.getMetricHistoryBulkInterval({ runIds: [a], key: 's', startStep: 100, endStep: 200, maxResults: 5 });
        assert.deepEqual(ranged.map((m) => m.step), [100, 125, 150, 175, 200]);
        const one = await svc.getMetricHistoryBulkInterval({ runIds: [a], key: 's', maxResults: 1 });
        // As MLflow: even with max_results 1 the first and the last step are both kept.
        assert.deepEqual(one.map((m) => [m.step, m.value]), [[0, 0], [999, 99.9]]);
        await rejectsWith(svc.getMetricHistoryBulkInterval({ runIds: [a], key: 's', maxResults: 2501 }), 'INVALID_PARAMETER_VALUE');
        await rejectsWith(svc.getMetricHistoryBulkInterval({ runIds: [], key: 's' }), 'INVALID_PARAMETER_VALUE');
      });

      test('limits and key rules', async () => {
        const id = await newRun(undefined, { runName: 'lim' });
        const many = Array.from({ length: 1001 }, (_, i) => metric('m', i, i));
        await rejectsWith(svc.logBatch(id, { metrics: many, params: [], tags: [] }), 'INVALID_PARAMETER_VALUE', /at most 1000 metrics/);
        await rejectsWith(svc.logBatch(id, { metrics: [], params: Array.from({ length: 101 }, (_, i) => kv(`p${i}`, '1')), tags: [] }), 'INVALID_PARAMETER_VALUE');
        for (const key of ['bad!key', 'tab\tkey', 'a/../b', '..', '/abs', '']) {
          await rejectsWith(svc.logMetric(id, metric(key, 1)), 'INVALID_PARAMETER_VALUE');
          await rejectsWith(svc.logParam(id, kv(key, '1')), 'INVALID_PARAMETER_VALUE');
          await rejectsWith(svc.setTag(id, kv(key, '1')), 'INVALID_PARAMETER_VALUE');
        }
        await rejectsWith(svc.logMetric(id, metric('k'.repeat(251), 1)), 'INVALID_PARAMETER_VALUE');
        // MLflow's pattern uses Python's Unicode-aware \w: letters of any script are fine.
        await svc.logBatch(id, { metrics: [metric('précision/точность', 1)], params: [kv('学习率', '0.1')], tags: [kv('ταυτότητα', 'x')] });
        await rejectsWith(svc.logBatch(id, { metrics: many.slice(0, 1000), params: [], tags: [kv('t', 'v')] }), 'INVALID_PARAMETER_VALUE', /in total/);
        await svc.logBatch(id, { metrics: many.slice(0, 1000), params: [], tags: [] });
        await svc.setTag(id, kv('ok/key-1.a b:c', 'v'));
        const run = await svc.getRun(id);
        assert.deepEqual([paramsOf(run), tagsOf(run)], [{ 学习率: '0.1' }, { 'mlflow.runName': 'lim', 'ok/key-1.a b:c': 'v', ταυτότητα: 'x' }]);
        assert.deepEqual(latestOf(run)['précision/точность'], [0, 1000, 1]);
        assert.equal((await history(id, 'm')).points.length, 1000);
      });

      test('log-inputs round-trips datasets and tags and is idempotent', async () => {
        const exp = await newExperiment();
        const [a, b] = [await newRun(exp), await newRun(exp)];
        const train: DatasetInput = { tags: [kv('mlflow.data.context', 'training')], dataset: { ...dataset('train', 'd1'), schema: '{"cols": 3}', profile: '{"rows": 10}' } };
        const evalSet: DatasetInput = { tags: [], dataset: dataset('eval', 'd2') };
        await svc.logInputs(a, [train, evalSet]);
        await svc.logInputs(a, [train, { ...train, tags: [kv('extra', '0'), kv('mlflow.data.context', 'training'), kv('extra', '1')] }]);
        await svc.logInputs(b, [train]);
        const inputsA = (await svc.getRun(a)).inputs.datasetInputs;
        assert.deepEqual(inputsA, [
          { tags: [kv('extra', '1'), kv('mlflow.data.context', 'training')], dataset: train.dataset },
          { tags: [], dataset: { ...evalSet.dataset, schema: undefined, profile: undefined } },
        ]);
        assert.deepEqual((await svc.getRun(b)).inputs.datasetInputs, [train]);
        await rejectsWith(svc.logInputs(a, [{ tags: [], dataset: dataset('x', 'd'.repeat(37)) }]), 'INVALID_PARAMETER_VALUE');
      });
    });

    describe('search runs', () => {
      let exp: string;
      const r: Record<string, string> = {};
      before(async () => {
        exp = await newExperiment();
        const spec: [string, string, number, Metric[], KeyValue[], KeyValue[], DatasetInput[]][] = [
          ['r1', 'alpha-1', 1000, [metric('acc', 0.9), metric('loss', 0.3)], [kv('lr', '0.1'), kv('opt', 'adam')], [kv('team', 'nlp')], [{ tags: [kv('mlflow.data.context', 'training')], dataset: dataset('train-ds', 'aaa') }]],
          ['r2', 'alpha-2', 2000, [metric('acc', 0.7)], [kv('lr', '0.01'), kv('opt', 'sgd')], [kv('team', 'NLP')], [{ tags: [kv('mlflow.data.context', 'eval')], dataset: dataset('eval-ds', 'bbb') }]],
          ['r3', 'Beta', 3000, [metric('loss', 0.5)], [kv('lr', '0.1')], [kv('team', 'cv')], []],
          ['r4', 'gamma', 4000, [metric('acc', 0.95)], [], [], []],
          ['r5', 'deleted', 5000, [metric('acc', 0.99)], [], [], []],
          ['r6', 'nan-run', 6000, [metric('acc', NaN)], [], [], []],
        ];
        for (const [key, runName, startTime, metrics, params, tags, inputs] of spec) {
          r[key] = await newRun(exp, { runName, startTime });
          await svc.logBatch(r[key]!, { metrics, params, tags });
          if (inputs.length) await svc.logInputs(r[key]!, inputs);
        }
        await svc.updateRun(r.r1!, { status: 'FINISHED', endTime: 1500 });
        await svc.updateRun(r.r3!, { status: 'FAILED', endTime: 3500 });
        await svc.setRunDeleted(r.r5!, true);
      });
      const found = async (filter: string, orderBy?: string[]) => {
        const { ids } = await searchRunIds([exp], { filter, orderBy });
        return ids.map((id) => Object.keys(r).find((k) => r[k] === id));
      };

      test('metric clauses compare the latest value; runs without the metric never match', async () => {
        assert.deepEqual(await found('metrics.acc > 0.8'), ['r4', 'r1']);
        assert.deepEqual(await found('metrics.acc <= 0.9'), ['r2', 'r1']);
        assert.deepEqual(await found('metrics.loss = 0.3'), ['r1']);
        assert.deepEqual(await found('metrics.loss != 0.3'), ['r3']);
        assert.deepEqual(await found('metrics.acc >= 0.7 AND metrics.loss < 1'), ['r1']);
      });

      test('param and tag clauses; LIKE is case-sensitive, ILIKE is not', async () => {
        assert.deepEqual(await found("params.lr = '0.1'"), ['r3', 'r1']);
        assert.deepEqual(await found("params.opt LIKE 'a%'"), ['r1']);
        assert.deepEqual(await found("params.opt != 'adam'"), ['r2']);
        assert.deepEqual(await found("tags.team = 'nlp'"), ['r1']);
        assert.deepEqual(await found("tags.team LIKE 'n%'"), ['r1']);
        assert.deepEqual(await found("tags.team LIKE 'NL_'"), ['r2']);
        assert.deepEqual(await found("tags.team ILIKE 'n%'"), ['r2', 'r1']);
        assert.deepEqual(await found("tags.`team` IS NULL"), ['r6', 'r4']);
        assert.deepEqual(await found("params.lr = '0.1' AND tags.team = 'cv'"), ['r3']);
      });

      test('attribute clauses: run_name, status, start_time, run_id IN', async () => {
        assert.deepEqual(await found("attributes.run_name = 'alpha-1'"), ['r1']);
        assert.deepEqual(await found("run_name LIKE 'alpha%'"), ['r2', 'r1']);
        assert.deepEqual(await found("attributes.run_name LIKE 'beta'"), []);
        assert.deepEqual(await found("attributes.run_name ILIKE 'beta'"), ['r3']);
        assert.deepEqual(await found("attributes.status = 'RUNNING'"), ['r6', 'r4', 'r2']);
        assert.deepEqual(await found("status != 'RUNNING'"), ['r3', 'r1']);
        assert.deepEqual(await found('attributes.start_time > 2500'), ['r6', 'r4', 'r3']);
        assert.deepEqual(await found('attributes.start_time <= 2000 AND attributes.end_time = 1500'), ['r1']);
        assert.deepEqual(await found('attributes.start_time > 2999.5 AND attributes.start_time < 1e20'), ['r6', 'r4', 'r3']);
        assert.deepEqual(await found('metrics.acc < 1e300 AND metrics.acc > 0.75'), ['r4', 'r1']);
        assert.deepEqual(await found(`attributes.run_id IN ('${r.r1}', '${r.r3}', '${r.r5}')`), ['r3', 'r1']);
        assert.deepEqual(await found(`attributes.run_id NOT IN ('${r.r1}', '${r.r3}')`), ['r6', 'r4', 'r2']);
      });

      test('dataset clauses', async () => {
        assert.deepEqual(await found("datasets.name = 'train-ds'"), ['r1']);
        assert.deepEqual(await found("datasets.name LIKE '%-ds'"), ['r2', 'r1']);
        assert.deepEqual(await found("datasets.digest IN ('bbb')"), ['r2']);
        assert.deepEqual(await found("datasets.context = 'training'"), ['r1']);
      });

      test('order_by a metric: values first, then NaN, then runs without it, in both directions', async () => {
        assert.deepEqual(await found('', ['metrics.acc DESC']), ['r4', 'r1', 'r2', 'r6', 'r3']);
        assert.deepEqual(await found('', ['metrics.acc ASC']), ['r2', 'r1', 'r4', 'r6', 'r3']);
        assert.deepEqual(await found('', ['metrics.loss']), ['r1', 'r3', 'r6', 'r4', 'r2']);
        assert.deepEqual(await found('', ['metrics.acc DESC', 'attributes.start_time ASC']), ['r4', 'r1', 'r2', 'r6', 'r3']);
        assert.deepEqual(await found('', ['metrics.acc ASC', 'run_name DESC']), ['r2', 'r1', 'r4', 'r6', 'r3']);
        assert.deepEqual(await found('', ['params.lr DESC', 'attributes.start_time ASC']), ['r1', 'r3', 'r2', 'r4', 'r6']);
        assert.deepEqual(await found('', ['start_time ASC']), ['r1', 'r2', 'r3', 'r4', 'r6']);
        assert.deepEqual(await found(''), ['r6', 'r4', 'r3', 'r2', 'r1']);
        await rejectsWith(svc.searchRuns({ experimentIds: [exp], orderBy: ['metrics.acc', 'metrics.acc DESC'] }), 'INVALID_PARAMETER_VALUE');
      });

      test('paging: a token whenever the page is full, offsets continue where the last page ended', async () => {
        const pages: { ids: string[]; next?: string }[] = [];
        let token: string | undefined;
        do {
          const page = await searchRunIds([exp], { maxResults: 2, pageToken: token });
          pages.push(page);
          token = page.next;
        } while (token);
        const names = (ids: string[]) => ids.map((id) => Object.keys(r).find((k) => r[k] === id));
        assert.deepEqual(pages.map((p) => names(p.ids)), [['r6', 'r4'], ['r3', 'r2'], ['r1']]);
        const full = await searchRunIds([exp], { filter: "status = 'RUNNING'", maxResults: 3 });
        assert.deepEqual([names(full.ids), full.next !== undefined], [['r6', 'r4', 'r2'], true]);
        const rest = await searchRunIds([exp], { filter: "status = 'RUNNING'", maxResults: 3, pageToken: full.next });
        assert.deepEqual(rest, { ids: [], next: undefined });
        await rejectsWith(svc.searchRuns({ experimentIds: [exp], maxResults: 50001 }), 'INVALID_PARAMETER_VALUE');
        await rejectsWith(svc.searchRuns({ experimentIds: [exp], pageToken: 'nope' }), 'INVALID_PARAMETER_VALUE');
      });

      test('a page of more runs than one statement can bind parameters loads completely', async () => {
        // Inserted directly: creating 33 000 runs one by one through the service would take minutes.
        const big = await newExperiment();
        const n = 33_000;
        const rows = Array.from({ length: n }, (_, i) => [`${'b'.repeat(24)}${String(i).padStart(8, '0')}`, Number(big), `run-${i}`, 'u', 'RUNNING', i, 'active', `mlflow-artifacts:/${big}/${i}/artifacts`]);
        await db.transaction((tx) => insertRows(tx, 'INSERT INTO runs (run_uuid, experiment_id, name, user_id, status, start_time, lifecycle_stage, artifact_uri)', 8, rows));
        const last = `${'b'.repeat(24)}${String(n - 1).padStart(8, '0')}`;
        await svc.setTag(last, kv('mark', 'newest'));
        const page = await svc.searchRuns({ experimentIds: [big], maxResults: 50_000 });
        assert.equal(page.items.length, n);
        assert.equal(page.nextPageToken, undefined);
        assert.deepEqual([page.items[0]!.info.runName, page.items[0]!.data.tags], ['run-32999', [kv('mark', 'newest')]]);
        assert.deepEqual([page.items.at(-1)!.info.runName, page.items.at(-1)!.data.tags], ['run-0', []]);
      });

      test('view types and several experiments', async () => {
        assert.deepEqual((await searchRunIds([exp], { viewType: 'DELETED_ONLY' })).ids, [r.r5]);
        assert.deepEqual((await searchRunIds([exp], { viewType: 'ALL' })).ids, [r.r6, r.r5, r.r4, r.r3, r.r2, r.r1]);
        const other = await newExperiment();
        const o = await newRun(other, { startTime: 3500 });
        assert.deepEqual((await searchRunIds([exp, other], { filter: 'attributes.start_time >= 3000' })).ids, [r.r6, r.r4, o, r.r3]);
        await rejectsWith(svc.searchRuns({ experimentIds: [exp], filter: 'metrics.acc > 1 OR metrics.acc < 0' }), 'INVALID_PARAMETER_VALUE');
        // An id that cannot name an experiment matches no run, on every dialect.
        assert.deepEqual((await searchRunIds(['not-a-number', other])).ids, [o]);
        assert.deepEqual((await searchRunIds(['1.5'])).ids, []);
      });
    });
  });
}
