// Deployments on both backends: weights, header and sticky routing, shadows that are logged but never
// returned, hot swaps under load that fail nothing, load shedding and rate limits, a broken canary
// rolled back automatically with zero failed stable requests, and a healthy one promoted.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { testDatabases } from '../support/databases.js';
import { assertError, assertOk, call } from '../support/inject.js';
import { fixtureModel, registerModel } from '../support/models.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';

const DEPLOYMENTS = '/api/capstan/deployments';
const mlp = fixtureModel('tabular_mlp');
const row = mlp.sidecar.examples[0].inputs.input.data.slice(0, 30);
const request = { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 30], data: row }] };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const got = await check();
    if (got !== undefined) return got;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

for (const { db, skip } of await testDatabases()) {
  describe(`deployments (${db.name})`, { skip }, () => {
    let tp: TestPlatform;
    let app: FastifyInstance;
    let drop: () => Promise<void>;
    const v: Record<string, string> = {};
    const apply = async (spec: Record<string, unknown>) => assertOk(await call(app, 'POST', `${DEPLOYMENTS}/apply`, { spec })).deployment;
    const infer = (name: string, headers: Record<string, string> = {}) => call(app, 'POST', `/v2/models/${name}/infer`, request, headers);

    before(async () => {
      const created = await db.create();
      drop = created.drop;
      tp = await startTestPlatform({ 'store.database_uri': created.uri, 'serving.canary_tick_ms': 100, 'serving.breaker_failures': 1000 });
      app = tp.app;
      v.mlp1 = await registerModel(app, 'mlp', mlp.bytes);
      v.mlp2 = await registerModel(app, 'mlp', mlp.bytes);
      v.forest = await registerModel(app, 'forest', fixtureModel('tree_ensemble').bytes);
      v.broken = await registerModel(app, 'mlp', fixtureModel('broken_canary').bytes);
    });
    after(async () => {
      await tp?.close();
      await drop?.();
    });

    it('routes by weight, by a forcing header and by a sticky key, and reports the target', async () => {
      const d = await apply({
        name: 'ab', targets: { a: { model: 'mlp', version: 1, weight: 50 }, b: { model: 'forest', version: 1, weight: 50 } },
        routing: { sticky_header: 'x-user' },
      });
      assert.deepEqual(d.live.targets.map((t: any) => [t.name, t.state, t.weight]), [['a', 'ready', 50], ['b', 'ready', 50]]);
      const forced = await infer('ab', { 'x-capstan-target': 'b' });
      assert.equal(forced.headers['x-capstan-target'], 'b');
      assert.deepEqual(assertOk(forced).outputs.map((o: any) => o.name), ['label', 'probabilities']);
      assertError(await infer('ab', { 'x-capstan-target': 'zzz' }), 'MODEL_INPUT_INVALID', /zzz/);
      const seen = new Set<string>();
      for (let i = 0; i < 60; i++) seen.add(String((await infer('ab', { 'x-user': `user-${i}` })).headers['x-capstan-target']));
      assert.deepEqual([...seen].sort(), ['a', 'b']);
      for (const user of ['alice', 'bob', 'carol']) {
        const first = (await infer('ab', { 'x-user': user })).headers['x-capstan-target'];
        for (let i = 0; i < 5; i++) assert.equal((await infer('ab', { 'x-user': user })).headers['x-capstan-target'], first, user);
      }
      const moved = assertOk(await call(app, 'POST', `${DEPLOYMENTS}/set-traffic`, { name: 'ab', traffic: 'a=0,b=100' })).deployment;
      assert.deepEqual(moved.live.targets.map((t: any) => t.weight), [0, 100]);
      for (let i = 0; i < 10; i++) assert.equal((await infer('ab')).headers['x-capstan-target'], 'b');
      assertError(await call(app, 'POST', `${DEPLOYMENTS}/set-traffic`, { name: 'ab', traffic: { a: 20, b: 20 } }), 'INVALID_PARAMETER_VALUE', /add up to 100/);
      const events = assertOk(await call(app, 'GET', `${DEPLOYMENTS}/events?name=ab`)).events;
      assert.deepEqual(events.map((e: any) => e.kind), ['created', 'traffic_set']);
      // Keeping only the newest version would delete mlp 1 and 2, but 'ab' routes to mlp 1: retention keeps it.
      assertOk(await call(app, 'PUT', '/api/capstan/registry/policy', { text: 'retention:\n  keep_last: 1\n' }));
      const plan = assertOk(await call(app, 'POST', '/api/capstan/admin/gc', { dry_run: true }));
      const planned = plan.retention.filter((r: any) => r.name === 'mlp').map((r: any) => r.version);
      assert.deepEqual(planned, [2], JSON.stringify(plan.retention));
      assertOk(await call(app, 'PUT', '/api/capstan/registry/policy', { text: 'retention:\n  keep_last: 1000\n' }));
      const lineage = assertOk(await call(app, 'GET', '/api/capstan/lineage/model?uri=models:/forest/1')).graph;
      assert.ok(lineage.nodes.some((n: any) => n.id === 'deployment:ab' && n.kind === 'deployment'), JSON.stringify(lineage));
      assert.ok(lineage.edges.some((e: any) => e.from === 'model:forest/1' && e.to === 'deployment:ab' && e.kind === 'serves' && e.attributes.weight === 100));
    });

    it('copies traffic to a shadow whose answers are logged and never returned', async () => {
      await apply({ name: 'shadowed', model: 'mlp', targets: { live: { version: 1 } }, shadows: { next: { model: 'forest', version: 1 } }, prediction_log: { sample_rate: 1 } });
      const res = await infer('shadowed', { 'x-request-id': 'shadow-req-1' });
      assert.deepEqual(assertOk(res).outputs.map((o: any) => o.name), ['probabilities']);
      const logged = await until('the shadow answer in the log', async () => {
        const rows = assertOk(await call(app, 'GET', `${DEPLOYMENTS}/predictions?name=shadowed&request_id=shadow-req-1`)).predictions;
        return rows.length === 2 ? rows : undefined;
      });
      const roles = logged.map((r: any) => r.role).sort();
      assert.deepEqual(roles, ['shadow:next', 'target:live']);
      const shadow = logged.find((r: any) => r.role === 'shadow:next');
      assert.deepEqual(shadow.outputs.map((o: any) => o.name), ['label', 'probabilities']);
      assert.deepEqual(shadow.inputs[0].shape, [1, 30]);
    });

    it('swaps versions and weights under load without failing or dropping a request', async () => {
      await apply({ name: 'swap', model: 'mlp', targets: { stable: { version: 1, weight: 100 }, canary: { version: 2, weight: 0 } } });
      let stop = false;
      const statuses: number[] = [];
      const load = async () => {
        while (!stop) statuses.push((await infer('swap')).status);
      };
      const clients = Array.from({ length: 6 }, load);
      for (const traffic of ['stable=50,canary=50', 'stable=0,canary=100', 'stable=100,canary=0']) {
        assertOk(await call(app, 'POST', `${DEPLOYMENTS}/set-traffic`, { name: 'swap', traffic }));
        await sleep(50);
      }
      await apply({ name: 'swap', model: 'mlp', targets: { stable: { version: 2, weight: 100 } }, batching: { max_batch_size: 8 } });
      await sleep(50);
      await apply({ name: 'swap', model: 'mlp', targets: { stable: { version: 1, weight: 100 } } });
      await sleep(50);
      stop = true;
      await Promise.all(clients);
      assert.ok(statuses.length > 50, `only ${statuses.length} requests`);
      assert.deepEqual([...new Set(statuses)], [200]);
      const d = assertOk(await call(app, 'GET', `${DEPLOYMENTS}/get?name=swap`)).deployment;
      assert.deepEqual(d.live.targets.map((t: any) => [t.version, t.state]), [[v.mlp1, 'ready']]);
    });

    it('sheds load with 429 and Retry-After when the queue is full, and enforces the deployment rate', async () => {
      await apply({ name: 'tiny', model: 'mlp', targets: { stable: { version: 1 } }, batching: { max_batch_size: 1 }, limits: { max_queue: 1 } });
      const answers = await Promise.all(Array.from({ length: 100 }, () => infer('tiny')));
      const shed = answers.filter((a) => a.status === 429);
      assert.ok(shed.length > 0 && answers.some((a) => a.status === 200), answers.map((a) => a.status).join(','));
      for (const a of shed) {
        assertError(a, 'MODEL_OVERLOADED', /queue is full/);
        assert.equal(a.headers['retry-after'], '1');
      }
      assertOk(await infer('tiny'));
      await apply({ name: 'limited', model: 'mlp', targets: { stable: { version: 1 } }, limits: { rate_per_second: 1, burst: 2 } });
      const limited = [await infer('limited'), await infer('limited'), await infer('limited')];
      assert.deepEqual(limited.map((a) => a.status), [200, 200, 429]);
      assertError(limited[2], 'REQUEST_LIMIT_EXCEEDED', /per second/);
    });

    it('rolls a broken canary back automatically, with no failed request on stable', async () => {
      await apply({
        name: 'rollout', model: 'mlp', targets: { stable: { version: 1, weight: 100 }, canary: { version: Number(v.broken), weight: 0 } },
        rollout: { steps: [50, 100], interval_seconds: 30, window_seconds: 60, slo: { max_error_rate: 0.05, min_requests: 5 } },
      });
      const failures: string[] = [];
      let ok = 0;
      const rolledBack = await until('the automatic rollback', async () => {
        const answers = await Promise.all(Array.from({ length: 4 }, () => infer('rollout')));
        for (const a of answers) {
          if (a.status === 200) ok++;
          else failures.push(a.body.error_code);
        }
        const d = assertOk(await call(app, 'GET', `${DEPLOYMENTS}/get?name=rollout`)).deployment;
        // Rolled back in the database and in this replica's routing table.
        return d.rollout.status === 'rolled_back' && d.live?.revision === d.revision ? d : undefined;
      });
      // Every failure is the canary's own inference error: stable traffic never failed.
      assert.ok(failures.length > 0 && ok > 0);
      assert.deepEqual([...new Set(failures)], ['MODEL_INFERENCE_ERR']);
      assert.deepEqual(Object.fromEntries(Object.entries(rolledBack.spec.targets).map(([k, t]: [string, any]) => [k, t.weight])), { stable: 100, canary: 0 });
      assert.match(rolledBack.rollout.lastDecision.reasons.join(' '), /canary error rate 1\.000 > 0\.050/);
      const after = await Promise.all(Array.from({ length: 30 }, () => infer('rollout')));
      assert.deepEqual([...new Set(after.map((a) => a.status))], [200]);
      const events = assertOk(await call(app, 'GET', `${DEPLOYMENTS}/events?name=rollout`)).events;
      const rollback = events.find((e: any) => e.kind === 'rolled_back');
      assert.equal(rollback.actor, 'canary-controller');
      const audit = assertOk(await call(app, 'GET', '/api/capstan/audit/events?action=deployment.rolled_back'));
      assert.ok(JSON.stringify(audit).includes('deployment.rolled_back'), JSON.stringify(audit).slice(0, 500));
    });

    it('steps a healthy canary up and promotes it', async () => {
      await apply({
        name: 'promote', model: 'mlp', targets: { stable: { version: 1, weight: 100 }, canary: { version: 2, weight: 0 } },
        rollout: { steps: [50, 100], interval_seconds: 1, window_seconds: 30, slo: { max_error_rate: 0.01, max_latency_p95_ms: 5000, min_requests: 5 } },
      });
      const done = await until('the promotion', async () => {
        const answers = await Promise.all(Array.from({ length: 4 }, () => infer('promote')));
        assert.deepEqual([...new Set(answers.map((a) => a.status))], [200]);
        const d = assertOk(await call(app, 'GET', `${DEPLOYMENTS}/get?name=promote`)).deployment;
        return d.rollout.status === 'succeeded' ? d : undefined;
      });
      assert.equal(done.spec.targets.stable.version, v.mlp2);
      assert.equal(done.spec.targets.stable.weight, 100);
      const kinds = assertOk(await call(app, 'GET', `${DEPLOYMENTS}/events?name=promote`)).events.map((e: any) => e.kind);
      assert.deepEqual(kinds, ['created', 'rollout_step', 'promoted']);
    });

    it('refuses a bad deployment document naming the key, and deletes a deployment', async () => {
      assertError(await call(app, 'POST', `${DEPLOYMENTS}/apply`, { spec: { name: 'x', model: 'mlp', targets: { a: { version: 1, weight: 60 }, b: { version: 2, weight: 60 } } } }), 'INVALID_PARAMETER_VALUE', /add up to 100/);
      assertError(await call(app, 'POST', `${DEPLOYMENTS}/apply`, { spec: { name: 'x', model: 'mlp', targets: { a: { version: 1 } }, batching: { max_batch: 4 } } }), 'INVALID_PARAMETER_VALUE', /'max_batch'/);
      assertError(await call(app, 'POST', `${DEPLOYMENTS}/apply`, { yaml: 'name: x\ntargets: [' }), 'INVALID_PARAMETER_VALUE', /YAML/);
      const missing = await apply({ name: 'missing-version', model: 'mlp', targets: { a: { version: 99 } } });
      assert.equal(missing.live.targets[0].state, 'failed');
      assert.match(missing.live.problems[0], /99/);
      assertError(await infer('missing-version'), 'MODEL_NOT_READY', /failed/);
      assertOk(await call(app, 'DELETE', `${DEPLOYMENTS}/delete?name=missing-version`));
      assertError(await infer('missing-version'), 'RESOURCE_DOES_NOT_EXIST', /missing-version/);
    });
  });
}
