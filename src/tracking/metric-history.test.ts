import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { migrate, openDb, type Db } from '../store/sql/index.js';
import { testDatabases } from '../../test/support/databases.js';
import { defaultArtifactLocation, SqlTrackingStore, TrackingService } from './index.js';

type Wire = { key: string; value: number | string; timestamp: number; step: number };

/** History as the route answers it, following page tokens. */
async function fetchAll(svc: TrackingService, runId: string, key: string, pageSize?: number): Promise<{ points: Wire[]; pages: number }> {
  const points: Wire[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const page = await svc.getMetricHistoryJson(runId, key, pageSize, token);
    points.push(...(page.json ? (JSON.parse(`[${page.json}]`) as Wire[]) : []));
    token = page.nextPageToken;
    pages++;
  } while (token);
  return { points, pages };
}

const metric = (key: string, step: number, value: number, timestamp = 1000 + step) => ({ key, step, value, timestamp });

for (const { db: backend, skip } of await testDatabases()) {
  describe(`metric history JSON (${backend.name})`, { skip }, () => {
    let db: Db;
    let svc: TrackingService;
    let drop: () => Promise<void>;
    before(async () => {
      const created = await backend.create();
      drop = created.drop;
      db = openDb(created.uri);
      await migrate(db);
      const store = new SqlTrackingStore(db);
      await store.ensureDefaultExperiment(defaultArtifactLocation, Date.now());
      svc = new TrackingService(store, { truncateLongValues: true });
    });
    after(async () => {
      await db.close();
      await drop();
    });

    it('answers in-order chunks from the cache the first read fills, identically', async () => {
      const run = await svc.createRun({ tags: [] });
      for (let b = 0; b < 3; b++) {
        await svc.logBatch(run.info.runId, { metrics: Array.from({ length: 4 }, (_, i) => metric('loss', b * 4 + i, (b * 4 + i) / 10)), params: [], tags: [] });
      }
      const first = await fetchAll(svc, run.info.runId, 'loss');
      const cached = await db.all<{ wire_json: string | null }>('SELECT wire_json FROM metric_chunks');
      assert.ok(cached.every((c) => c.wire_json !== null), 'every whole chunk was cached');
      const second = await fetchAll(svc, run.info.runId, 'loss');
      assert.deepEqual(second, first);
      assert.deepEqual(first.points.map((p) => p.step), Array.from({ length: 12 }, (_, i) => i));
      assert.equal(first.points[3]!.value, 0.3);
    });

    it('pages across chunk boundaries without losing or repeating a point', async () => {
      const run = await svc.createRun({ tags: [] });
      for (let b = 0; b < 5; b++) {
        await svc.logBatch(run.info.runId, { metrics: Array.from({ length: 7 }, (_, i) => metric('acc', b * 7 + i, b * 7 + i)), params: [], tags: [] });
      }
      for (const size of [1, 3, 7, 10, 35, 50]) {
        const { points, pages } = await fetchAll(svc, run.info.runId, 'acc', size);
        assert.deepEqual(points.map((p) => p.step), Array.from({ length: 35 }, (_, i) => i), `page size ${size}`);
        assert.equal(pages, Math.ceil(35 / size), `pages for size ${size}`);
      }
    });

    it('merges out-of-order writes and drops exact repeats (client retries)', async () => {
      const run = await svc.createRun({ tags: [] });
      const late = [metric('f1', 5, 0.5), metric('f1', 6, NaN), metric('f1', 7, Infinity)];
      await svc.logBatch(run.info.runId, { metrics: late, params: [], tags: [] });
      await svc.logBatch(run.info.runId, { metrics: [metric('f1', 1, 0.1), metric('f1', 9, 0.9)], params: [], tags: [] });
      await svc.logBatch(run.info.runId, { metrics: late, params: [], tags: [] });
      const { points } = await fetchAll(svc, run.info.runId, 'f1');
      assert.deepEqual(points.map((p) => [p.step, p.value]), [[1, 0.1], [5, 0.5], [6, 'NaN'], [7, 'Infinity'], [9, 0.9]]);
      const paged = await fetchAll(svc, run.info.runId, 'f1', 2);
      assert.deepEqual(paged.points, points);
    });

    it('answers an empty history for an unknown key', async () => {
      const run = await svc.createRun({ tags: [] });
      assert.deepEqual(await svc.getMetricHistoryJson(run.info.runId, 'nothing'), { json: '', nextPageToken: undefined });
    });
  });
}
