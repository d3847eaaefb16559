// Two Capstan platforms on one PostgreSQL, one artifact store and one Redis, as replicas behind a
// balancer: a traffic change made on one is served by the other within 2 s, and a deployment's rate
// limit holds across both. Needs PostgreSQL and Redis; skipped with the reason when either is
// missing, and a failure on CI (CI=true).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { testDatabases } from '../support/databases.js';
import { assertOk, call } from '../support/inject.js';
import { fixtureModel, registerModel } from '../support/models.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';
import { REDIS_URL, redisUnreachable } from '../support/redis.js';

const postgres = (await testDatabases()).find((b) => b.db.name === 'postgres')!;
const noRedis = await redisUnreachable();
if (noRedis && process.env.CI === 'true') throw new Error(`${noRedis}; CI requires it`);
const skip = postgres.skip || noRedis || false;

/** In-process requests can resolve without ever reaching the timer phase; polling loops yield to it. */
const tick = () => new Promise((r) => setTimeout(r, 20));

const row = fixtureModel('tabular_mlp').sidecar.examples[0].inputs.input.data.slice(0, 30);
const request = { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 30], data: row }] };

describe('replicas on one PostgreSQL and one Redis', { skip }, () => {
  let a: TestPlatform;
  let b: TestPlatform;
  let drop: () => Promise<void>;
  let artifacts: string;
  // Each run uses its own Redis database keys: the deployment names below are unique per run.
  const tag = randomBytes(4).toString('hex');

  before(async () => {
    const created = await postgres.db.create();
    drop = created.drop;
    artifacts = mkdtempSync(join(tmpdir(), 'capstan-replicas-'));
    const settings = { 'store.database_uri': created.uri, 'store.artifacts_uri': `file://${artifacts}`, 'redis.url': REDIS_URL, 'serving.poll_ms': 200 };
    a = await startTestPlatform(settings);
    b = await startTestPlatform(settings);
    await registerModel(a.app, 'mlp', fixtureModel('tabular_mlp').bytes);
    await registerModel(a.app, 'forest', fixtureModel('tree_ensemble').bytes);
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await drop?.();
    rmSync(artifacts, { recursive: true, force: true });
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`capstan:rl:*${tag}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  it('serves a traffic change made on one replica from the other within 2 s', async () => {
    const name = `swap-${tag}`;
    assertOk(await call(a.app, 'POST', '/api/capstan/deployments/apply', { spec: { name, targets: { m: { model: 'mlp', version: 1, weight: 100 }, f: { model: 'forest', version: 1, weight: 0 } } } }));
    const servedBy = async (app: TestPlatform['app']) => (await call(app, 'POST', `/v2/models/${name}/infer`, request)).headers['x-capstan-target'];
    const deadline = Date.now() + 2000;
    while ((await servedBy(b.app)) !== 'm') {
      assert.ok(Date.now() < deadline, 'replica b never served the new deployment');
      await tick();
    }
    assertOk(await call(a.app, 'POST', '/api/capstan/deployments/set-traffic', { name, traffic: { m: 0, f: 100 } }));
    const changed = Date.now();
    while ((await servedBy(b.app)) !== 'f') {
      assert.ok(Date.now() - changed < 2000, 'replica b still routes to the old target after 2 s');
      await tick();
    }
    for (let i = 0; i < 10; i++) assert.equal(await servedBy(b.app), 'f');
  });

  it('holds a deployment rate limit across replicas through Redis', async () => {
    const name = `limited-${tag}`;
    assertOk(await call(a.app, 'POST', '/api/capstan/deployments/apply', { spec: { name, model: 'mlp', targets: { m: { version: 1 } }, limits: { rate_per_second: 1, burst: 4 } } }));
    const deadline = Date.now() + 2000;
    for (;;) {
      const ready = await call(b.app, 'GET', `/v2/models/${name}/ready`);
      if (ready.status === 200) break;
      assert.ok(Date.now() < deadline, `replica b never loaded the deployment: ${ready.text}`);
      await tick();
    }
    // b's readiness check spent nothing; the burst of 4 is shared: 4 answers in all, then 429 on both.
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push((await call(a.app, 'POST', `/v2/models/${name}/infer`, request)).status, (await call(b.app, 'POST', `/v2/models/${name}/infer`, request)).status);
    assert.equal(answers.filter((s) => s === 200).length, 4, answers.join(','));
    assert.deepEqual(answers.slice(4), [429, 429]);
  });
});
