// Pipeline triggers in-process on both backends: a schedule, a new dataset version (whose files the
// run's step reads), an alias move, a firing alert and a signed webhook each start exactly one run
// that records what started it; nothing fires for what existed when the pipeline was applied; a
// bad signature is refused; a bad trigger is reported with its line.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { parsePipeline } from '../../src/pipelines/spec/index.js';
import { AlertsSql } from '../../src/monitoring/alerts.sql.js';
import { testDatabases } from '../support/databases.js';
import { assertError, assertOk, call } from '../support/inject.js';
import { fixtureModel, registerModel } from '../support/models.js';
import { suitePlatform } from '../support/platform.js';

const P = '/api/capstan/pipelines';

async function registerDataset(app: FastifyInstance, name: string, csv: string): Promise<number> {
  const { upload_id } = assertOk(await call(app, 'POST', '/api/capstan/datasets/uploads', {}));
  assertOk(await call(app, 'PUT', `/api/capstan/datasets/uploads/${upload_id}/files/data.csv`, Buffer.from(csv)));
  return assertOk(await call(app, 'POST', '/api/capstan/datasets/register', { name, source: `upload:${upload_id}` })).dataset_version.version;
}

async function runsOf(app: FastifyInstance, pipeline: string): Promise<any[]> {
  return assertOk(await call(app, 'GET', `${P}/runs/list?pipeline=${pipeline}`)).runs;
}

/** Waits until the pipeline has `count` runs and all of them have ended. */
async function settle(app: FastifyInstance, pipeline: string, count: number): Promise<any[]> {
  for (let i = 0; i < 400; i++) {
    const runs = await runsOf(app, pipeline);
    if (runs.length >= count && runs.every((r) => !['queued', 'running'].includes(r.status))) return runs;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${pipeline}: ${count} runs did not finish`);
}

describe('trigger declarations', () => {
  it('reads each kind and reports a bad one with its line', () => {
    const ok = parsePipeline('name: t\nparams:\n  mode: {type: string, default: full}\nsteps:\n  a:\n    run: echo\ntriggers:\n  - schedule: "0 3 * * 1-5"\n    timezone: Europe/Berlin\n  - dataset: cancer\n  - model_alias: cancer@champion\n  - alert: {monitor: watch, min_severity: P2}\n  - webhook: {secret: HOOK_SECRET}\n    params: {mode: fast}\n');
    assert.deepEqual(ok.errors, []);
    assert.deepEqual(ok.pipeline!.triggers.map((t) => t.kind), ['schedule', 'dataset', 'alias', 'alert', 'webhook']);
    assert.deepEqual(ok.pipeline!.triggers[4].params, { mode: 'fast' });
    const bad = parsePipeline('name: t\nsteps:\n  a:\n    run: echo\ntriggers:\n  - schedule: "61 * * * *"\n  - dataset: x\n    model_alias: m@a\n  - webhook: {}\n  - alert: {min_severity: P9}\n  - dataset: y\n    params: {nope: 1}\n');
    assert.deepEqual(bad.errors.map((e) => [e.line, e.path]), [[6, 'triggers[0].schedule'], [7, 'triggers[1]'], [9, 'triggers[2].webhook'], [10, 'triggers[3].alert.min_severity'], [12, 'triggers[4].params.nope']]);
    assert.match(bad.errors[0].message, /minute/);
  });
});

for (const { db, skip } of await testDatabases()) {
  describe(`pipeline triggers (${db.name})`, { skip }, () => {
    const suite = suitePlatform(db, { 'pipelines.tick_ms': 50, 'secrets.key': 'k1:' + Buffer.alloc(32, 7).toString('base64') });

    it('starts a run on a new dataset version, and its step reads that version', async () => {
      await registerDataset(suite.app, 'events', 'x,y\n1,2\n');
      assertOk(await call(suite.app, 'POST', `${P}/apply`, { yaml: 'name: on-data\nsteps:\n  count:\n    run: "wc -l < ${{ datasets.events@latest }}/data.csv | tr -d \' \' | sed \'s/^/::metric lines=/\'"\n    outputs: {metrics: [lines]}\ntriggers:\n  - dataset: events\n' }));
      await new Promise((r) => setTimeout(r, 200));
      assert.equal((await runsOf(suite.app, 'on-data')).length, 0, 'the version that existed at apply time starts nothing');
      const v2 = await registerDataset(suite.app, 'events', 'x,y\n1,2\n3,4\n5,6\n');
      const runs = await settle(suite.app, 'on-data', 1);
      assert.equal(runs.length, 1);
      assert.deepEqual(runs[0].trigger, { kind: 'dataset', detail: { dataset: 'events', version: v2 } });
      assert.equal(runs[0].status, 'succeeded');
      const view = assertOk(await call(suite.app, 'GET', `${P}/runs/get?run_id=${runs[0].run_id}`));
      assert.deepEqual(view.steps[0].metrics, { lines: 4 });
    });

    it('starts a run when an alias moves, and on a schedule tick — one run each', async () => {
      await registerModel(suite.app, 'cancer', fixtureModel('tabular_mlp').bytes);
      await registerModel(suite.app, 'cancer', fixtureModel('tabular_mlp').bytes);
      assertOk(await call(suite.app, 'POST', '/api/2.0/mlflow/registered-models/alias', { name: 'cancer', alias: 'champion', version: '1' }));
      assertOk(await call(suite.app, 'POST', `${P}/apply`, { yaml: 'name: on-alias\nsteps:\n  a:\n    run: echo moved\n    cache: false\ntriggers:\n  - model_alias: cancer@champion\n  - schedule: "@hourly"\n' }));
      assertOk(await call(suite.app, 'POST', '/api/2.0/mlflow/registered-models/alias', { name: 'cancer', alias: 'champion', version: '2' }));
      let runs = await settle(suite.app, 'on-alias', 1);
      assert.equal(runs.length, 1);
      assert.deepEqual(runs[0].trigger, { kind: 'alias', detail: { model: 'cancer', alias: 'champion', version: 2, previous: 1 } });
      // An hour later the schedule is due: two replicas' ticks at once still start one run.
      const triggers = suite.tp.platform.pipelines.service.triggers!;
      const later = Date.now() + 3_600_000 + 1000;
      await Promise.all([triggers.tick(later), triggers.tick(later)]);
      runs = await settle(suite.app, 'on-alias', 2);
      assert.equal(runs.length, 2);
      assert.equal(runs[0].trigger.kind, 'schedule');
      assert.equal(runs[0].trigger.detail.cron, '@hourly');
    });

    it('starts a retraining run when a matching alert fires', async () => {
      assertOk(await call(suite.app, 'POST', `${P}/apply`, { yaml: 'name: retrain\nsteps:\n  a:\n    run: echo retrain\n    cache: false\ntriggers:\n  - alert: {monitor: watch, min_severity: P2}\n' }));
      const alerts = new AlertsSql(suite.tp.platform.db);
      const fire = (fingerprint: string, severity: string, monitor: string) => suite.tp.platform.db.transaction((tx) => alerts.saveAlert(tx, {
        projectId: 1, fingerprint, rule: 'feature_drift', severity, labels: { monitor, rule: 'feature_drift' }, summary: `drift on ${monitor}`, status: 'firing', state: {}, updatedTime: Date.now(),
      } as never, { kind: 'firing', detail: {} }));
      await fire('fp-other', 'P1', 'other-monitor');
      await fire('fp-low', 'P3', 'watch');
      await new Promise((r) => setTimeout(r, 300));
      assert.equal((await runsOf(suite.app, 'retrain')).length, 0, 'other monitors and lower severities start nothing');
      await fire('fp-hit', 'P2', 'watch');
      const runs = await settle(suite.app, 'retrain', 1);
      assert.equal(runs.length, 1);
      assert.equal(runs[0].trigger.kind, 'alert');
      assert.equal(runs[0].trigger.detail.monitor, 'watch');
      assert.equal(runs[0].trigger.detail.severity, 'P2');
    });

    it('starts a run from a signed webhook with params, and refuses a bad signature', async () => {
      const secret = 'hook-secret-value-42';
      assertOk(await call(suite.app, 'PUT', '/api/capstan/projects/default/secrets/HOOK_SECRET', { value: secret }));
      assertOk(await call(suite.app, 'POST', `${P}/apply`, { yaml: 'name: hooked\nparams:\n  who: {type: string, default: nobody}\nsteps:\n  a:\n    run: echo hello ${{ params.who }} $HOOK_SECRET\n    secrets: [HOOK_SECRET]\n    cache: false\ntriggers:\n  - webhook: {secret: HOOK_SECRET}\n' }));
      const body = Buffer.from(JSON.stringify({ params: { who: 'ci' } }));
      const sign = (b: Buffer, key: string) => `sha256=${createHmac('sha256', key).update(b).digest('hex')}`;
      assertError(await call(suite.app, 'POST', `${P}/webhook/default/hooked`, body, { 'x-capstan-signature': sign(body, 'wrong') }), 'UNAUTHENTICATED', /signature/);
      assertError(await call(suite.app, 'POST', `${P}/webhook/default/hooked`, body), 'UNAUTHENTICATED');
      assertError(await call(suite.app, 'POST', `${P}/webhook/default/nope`, body, { 'x-capstan-signature': sign(body, secret) }), 'RESOURCE_DOES_NOT_EXIST');
      const ok = assertOk(await call(suite.app, 'POST', `${P}/webhook/default/hooked`, body, { 'x-hub-signature-256': sign(body, secret) }));
      assert.deepEqual(ok.run.params, { who: 'ci' });
      assert.equal(ok.run.trigger.kind, 'webhook');
      const runs = await settle(suite.app, 'hooked', 1);
      assert.equal(runs.length, 1);
      const logs = assertOk(await call(suite.app, 'GET', `${P}/runs/logs?run_id=${runs[0].run_id}`));
      // The step had the secret in its environment; the stored log has it masked.
      assert.ok(logs.lines.some((l: any) => l.line === 'hello ci [redacted]'), JSON.stringify(logs.lines));
      assert.ok(!JSON.stringify(logs).includes(secret));
    });
  });
}
