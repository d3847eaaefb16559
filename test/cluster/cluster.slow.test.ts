// Three replicas on one PostgreSQL, one S3-compatible store and one Redis, behind a round-robin
// proxy (test/cluster/harness.ts). Slow: run by `npm run test:slow`.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CapstanClient, CapstanError } from '../../src/client/index.js';
import { testDatabases } from '../support/databases.js';
import { fixtureModel } from '../support/models.js';
import { OWNER, PASSWORD, startCluster, type Cluster } from './harness.js';

const postgres = (await testDatabases()).find((d) => d.db.name === 'postgres')!;
const upload = (bytes: Buffer) => (async function* () { yield bytes; })();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Clients each logging one metric point after another through `c` until stopped: what was acknowledged, and the statuses of what failed. */
function loggingLoad(make: () => CapstanClient, runIds: string[]) {
  const acked = runIds.map(() => new Set<number>());
  const refused: number[] = [];
  let stop = false;
  const load = runIds.map(async (id, i) => {
    for (let step = 0; !stop; step++) {
      try {
        await make().logBatch(id, { metrics: [{ key: 'x', value: step, timestamp: 1_700_000_000_000 + step, step }] });
        acked[i].add(step);
      } catch (err) {
        refused.push((err as CapstanError).status);
      }
    }
  });
  return {
    acked,
    refused,
    async stop() {
      stop = true;
      await Promise.all(load);
    },
    /** Every acknowledged point is in the run's history. */
    async check(c: CapstanClient) {
      for (const [i, id] of runIds.entries()) {
        const steps = new Set((await c.getMetricHistory(id, 'x')).map((m) => m.step));
        for (const s of acked[i]) assert.ok(steps.has(s), `acknowledged step ${s} of run ${id} is missing`);
      }
    },
  };
}

describe('cluster: three replicas behind a load balancer', { skip: postgres.skip, timeout: 300_000 }, () => {
  let cluster: Cluster;
  let token: string;
  const client = (url = cluster.url) => new CapstanClient({ url, token });
  let modelRun = '';

  before(async () => {
    cluster = await startCluster(postgres.db, { replicas: 3 });
    token = (await new CapstanClient({ url: cluster.url }).login(OWNER, PASSWORD)).token;
    const c = client();
    const exp = await c.createExperiment('models');
    modelRun = (await c.createRun(exp, 'model')).info.run_id;
    const root = (await c.getRun(modelRun)).info.artifact_uri.replace(/^mlflow-artifacts:\/+/, '');
    const { bytes } = fixtureModel('tabular_mlp');
    await c.uploadArtifact(`${root}/model/model.onnx`, upload(bytes), bytes.length);
  });
  after(async () => {
    await cluster?.stop();
  });

  it('loses and duplicates nothing when many clients log through all replicas at once', async () => {
    const c = client();
    const exp = await c.createExperiment('concurrent');
    const runs = await Promise.all(Array.from({ length: 6 }, (_, i) => c.createRun(exp, `r${i}`)));
    await Promise.all(runs.map(async (run) => {
      const id = run.info.run_id;
      for (let b = 0; b < 40; b++) {
        const metrics = Array.from({ length: 25 }, (_, k) => ({ key: 'loss', value: b * 25 + k, timestamp: 1_700_000_000_000 + b * 25 + k, step: b * 25 + k }));
        await client().logBatch(id, { metrics, params: [{ key: `p${b}`, value: String(b) }] });
      }
    }));
    for (const run of runs) {
      const history = await c.getMetricHistory(run.info.run_id, 'loss');
      assert.equal(history.length, 1000);
      assert.deepEqual(new Set(history.map((m) => m.step)).size, 1000);
      assert.equal((await c.getRun(run.info.run_id)).data.params?.length, 40);
    }
  });

  it('hands out each model version number once under concurrent registration', async () => {
    const c = client();
    await c.createRegisteredModel('contended');
    const made = await Promise.all(Array.from({ length: 24 }, () => client().createModelVersion({ name: 'contended', source: `runs:/${modelRun}/model`, run_id: modelRun })));
    assert.deepEqual(made.map((v) => Number(v.version)).sort((a, b) => a - b), Array.from({ length: 24 }, (_, i) => i + 1));
  });

  it('serves a traffic change made on one replica from every replica within 2 s, and shares rate limits through Redis', async () => {
    const c = client();
    await c.createRegisteredModel('scorer');
    await c.createModelVersion({ name: 'scorer', source: `runs:/${modelRun}/model`, run_id: modelRun });
    await c.createModelVersion({ name: 'scorer', source: `runs:/${modelRun}/model`, run_id: modelRun });
    await client(cluster.replicas[0].url).applyDeployment('name: scorer\nmodel: scorer\ntargets:\n  stable: {version: 1, weight: 100}\n  canary: {version: 2, weight: 0}\nlimits: {rate_per_second: 1, burst: 5}\n');
    const changed = await client(cluster.replicas[1].url).setTraffic('scorer', { stable: 50, canary: 50 });
    const t0 = Date.now();
    const seen = await Promise.all(cluster.replicas.map(async (r) => {
      for (;;) {
        const d = await client(r.url).getDeployment('scorer');
        if (d.live?.revision === changed.revision && d.live.targets.every((t) => t.state === 'ready')) return Date.now() - t0;
        if (Date.now() - t0 > 10_000) throw new Error(`replica ${r.url} still serves revision ${d.live?.revision}`);
        await sleep(50);
      }
    }));
    assert.ok(Math.max(...seen) <= 2000, `replicas served the change after ${seen.join(', ')} ms`);
    // 5 requests of burst and 1 per second, shared: three replicas do not make it 15.
    const { sidecar } = fixtureModel('tabular_mlp');
    const tensor = { name: 'input', ...sidecar.examples[0].inputs.input };
    const answers = await Promise.all(Array.from({ length: 30 }, () => client().infer('scorer', [tensor]).then(() => 200, (e: CapstanError) => e.status)));
    const ok = answers.filter((s) => s === 200).length;
    assert.ok(ok >= 5 && ok <= 7, `${ok} of 30 answered (${answers.join(',')})`);
    assert.ok(answers.every((s) => s === 200 || s === 429));
  });

  it('keeps one valid audit chain, whichever replica wrote', async () => {
    const verdicts = await Promise.all(cluster.replicas.map((r) => client(r.url).auditVerify()));
    for (const v of verdicts) assert.equal(v.ok, true, JSON.stringify(v));
    const heads = verdicts.map((v) => (v.ok ? `${v.headSeq}:${v.headHash}` : ''));
    assert.equal(new Set(heads).size, 1, heads.join(' '));
  });

  it('fails only the requests in flight on a replica killed mid-load, and keeps every acknowledged write', async () => {
    const c = client();
    const exp = await c.createExperiment('kill');
    const runs = await Promise.all(Array.from({ length: 4 }, (_, i) => c.createRun(exp, `k${i}`)));
    const before = cluster.failedInFlight();
    const load = loggingLoad(client, runs.map((r) => r.info.run_id));
    await sleep(1000);
    cluster.replicas[2].child.kill('SIGKILL');
    await sleep(1500);
    await load.stop();
    // Each client has one request in flight at a time: at most one failure each, a 502 from the proxy.
    assert.ok(load.refused.length <= runs.length, `${load.refused.length} failures`);
    assert.ok(load.refused.every((s) => s === 502), load.refused.join(','));
    assert.equal(load.refused.length, cluster.failedInFlight() - before);
    await load.check(c);
    for (const a of load.acked) assert.ok(a.size > 20, `only ${a.size} writes went through`);
  });

  it('drains and exits within 10 s on SIGTERM under load, and loses no acknowledged write', async () => {
    const c = client();
    const exp = await c.createExperiment('drain');
    const runs = await Promise.all(Array.from({ length: 4 }, (_, i) => c.createRun(exp, `d${i}`)));
    const load = loggingLoad(client, runs.map((r) => r.info.run_id));
    await sleep(800);
    const draining = cluster.replicas[0];
    const t0 = Date.now();
    const code = await draining.stop(15_000);
    const seconds = (Date.now() - t0) / 1000;
    await sleep(500);
    await load.stop();
    assert.equal(code, 0, draining.stderr().slice(-2000));
    assert.ok(seconds <= 10, `took ${seconds} s to exit`);
    // A draining replica answers what it had and refuses new work with 503, which a client may retry elsewhere.
    assert.ok(load.refused.every((s) => s === 503 || s === 502), `refusals: ${load.refused.join(',')}`);
    await load.check(c);
  });
});
