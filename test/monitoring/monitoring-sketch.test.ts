// The constant-memory path of monitors: with monitoring.exact_max_rows below the window and the
// reference, a run compares sketches (exact decile counts, KLL quantiles, frequency tables) and
// still tells reference-like traffic from shifted traffic. SQLite only: the store is not what is tested.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { assertError, assertOk, call } from '../support/inject.js';
import { fixtureModel, registerModel } from '../support/models.js';
import { cancerCsv, cancerTraffic } from '../support/monitoring.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';
import { MonitoringSql } from '../../src/monitoring/monitoring.sql.js';

const MON = '/api/capstan/monitors';

describe('monitors in sketch mode', () => {
  let tp: TestPlatform;
  let app: FastifyInstance;
  const run = async () => assertOk(await call(app, 'POST', `${MON}/run`, { name: 'sketchy' })).run;

  before(async () => {
    tp = await startTestPlatform({ 'monitoring.exact_max_rows': 50 });
    app = tp.app;
    await registerModel(app, 'm', fixtureModel('tabular_mlp').bytes);
    assertOk(await call(app, 'POST', '/api/capstan/deployments/apply', { spec: { name: 'd', model: 'm', targets: { stable: { version: 1 } }, prediction_log: { sample_rate: 1 } } }));
    // The training data as a registered dataset version: the profile reads its one CSV file.
    const { upload_id } = assertOk(await call(app, 'POST', '/api/capstan/datasets/uploads', {}));
    assertOk(await call(app, 'PUT', `/api/capstan/datasets/uploads/${upload_id}/files/train.csv`, Buffer.from(cancerCsv)));
    assertOk(await call(app, 'POST', '/api/capstan/datasets/register', { name: 'cancer-train', source: `upload:${upload_id}` }));
    assertError(await call(app, 'POST', `${MON}/profiles/create`, { model: 'm', version: 1, dataset: 'cancer-train' }), 'INVALID_PARAMETER_VALUE', /dataset_version/);
    const p = assertOk(await call(app, 'POST', `${MON}/profiles/create`, { model: 'm', version: 1, dataset: 'cancer-train', dataset_version: 1, label_column: 'label', predict: true })).profile;
    assert.deepEqual(p.source, { kind: 'dataset', dataset: 'cancer-train', dataset_version: 1, label_column: 'label', predictions: true });
    assert.equal(p.rows, 569);
    assert.equal(p.exact, false, '569 rows are more than exact_max_rows: only the sketches are kept');
    assertOk(await call(app, 'POST', `${MON}/apply`, { spec: { name: 'sketchy', deployment: 'd', schedule_seconds: 3600, window: { duration: '1h', max_rows: 200, min_rows: 50 } } }));
  });
  after(async () => tp?.close());

  it('finds nothing in reference-like traffic and drift in shifted traffic', async () => {
    await cancerTraffic(app, 'd', 0, 200, 1, 'sketch');
    const calm = await run();
    assert.equal(calm.mode, 'sketch');
    assert.deepEqual(calm.findings.filter((f: any) => f.rule.endsWith('_drift')), [], JSON.stringify(calm.findings));
    await cancerTraffic(app, 'd', 200, 200, 1.6, 'sketch');
    const shifted = await run();
    assert.equal(shifted.mode, 'sketch');
    assert.ok(shifted.findings.some((f: any) => f.rule === 'feature_drift'), JSON.stringify(shifted.findings));
    const report = assertOk(await call(app, 'GET', `${MON}/report?name=sketchy`)).report;
    const f0 = report.drift.statistics.columns.find((c: any) => c.name === 'f0');
    assert.equal(f0.drift.binned_q10.cur_counts.reduce((a: number, b: number) => a + b, 0), 200, 'the current side is counted exactly');
    assert.equal(report.drift.columns.length, 32);
    const page = await call(app, 'GET', `${MON}/report?name=sketchy&format=html`);
    assert.match(page.text, /Sketch statistics/);
  });

  it('prunes logged predictions and runs older than the retention', async () => {
    const sql = new MonitoringSql(tp.platform.db);
    const count = async (table: string) => Number((await tp.platform.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`))!.n);
    const logs = await count('prediction_logs');
    const runs = await count('monitor_runs');
    assert.ok(logs > 0 && runs > 0);
    await sql.prune(Date.now() - 3_600_000);
    assert.equal(await count('prediction_logs'), logs, 'nothing is older than an hour yet');
    await sql.prune(Date.now() + 120_000);
    assert.equal(await count('prediction_logs'), 0);
    assert.equal(await count('monitor_runs'), 0);
    assert.equal(await count('serving_minutes'), 0);
  });
});
