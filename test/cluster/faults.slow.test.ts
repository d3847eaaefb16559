// Faults injected under a running Capstan, each through a TCP proxy standing in front of the real
// service (test/support/fault-proxy.ts): PostgreSQL dropping every connection (a restart), Redis
// gone, the S3 endpoint accepting connections and then saying nothing. Each must give clear errors
// (never a 500 or a hang), lose no acknowledged write, and recover by itself when the fault clears.
// Slow: run by `npm run test:slow`.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CapstanClient, CapstanError } from '../../src/client/index.js';
import { testDatabases } from '../support/databases.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { fixtureModel } from '../support/models.js';
import { startS3Server } from '../support/s3-server.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

const postgres = (await testDatabases()).find((d) => d.db.name === 'postgres')!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const upload = (bytes: Buffer) => (async function* () { yield bytes; })();
const failure = (p: Promise<unknown>) => p.then(() => null, (e: CapstanError) => e);

describe('faults: a service under Capstan fails and comes back', { timeout: 240_000 }, () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const f of cleanup.reverse()) await f();
  });
  const serve = async (env: Record<string, string>): Promise<{ server: ServerProcess; c: CapstanClient }> => {
    const dir = mkdtempSync(join(tmpdir(), 'capstan-fault-'));
    const server = await startServer({ dataDir: dir, env });
    cleanup.push(async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    return { server, c: new CapstanClient({ url: server.url }) };
  };
  const proxyTo = async (port: number): Promise<FaultProxy> => {
    const p = await startFaultProxy(port);
    cleanup.push(() => p.close());
    return p;
  };

  it('PostgreSQL restarting: 503 STORE_UNAVAILABLE and not ready while it is away, every acknowledged write kept, back by itself', { skip: postgres.skip }, async () => {
    const created = await postgres.db.create();
    cleanup.push(() => created.drop());
    const pg = await proxyTo(5432);
    const { server, c } = await serve({ CAPSTAN_STORE_DATABASE_URI: created.uri.replace('127.0.0.1:5432', `127.0.0.1:${pg.port}`) });
    const run = (await c.createRun(await c.createExperiment('pg'), 'r')).info.run_id;
    const acked: number[] = [];
    const log = async (step: number) => {
      await c.logBatch(run, { metrics: [{ key: 'x', value: step, timestamp: step, step }] });
      acked.push(step);
    };
    for (let s = 0; s < 20; s++) await log(s);
    pg.cut();
    const t0 = Date.now();
    const err = await failure(log(100));
    assert.equal(err?.status, 503);
    assert.equal(err?.errorCode, 'STORE_UNAVAILABLE');
    assert.ok(Date.now() - t0 < 10_000, 'the error took too long');
    const ready = await fetch(`${server.url}/readyz`);
    assert.equal(ready.status, 503);
    assert.equal(((await ready.json()) as { error_code: string }).error_code, 'STORE_UNAVAILABLE');
    pg.restore();
    let back = false;
    for (let i = 0; i < 100 && !back; i++) {
      back = (await failure(log(200 + i))) === null;
      if (!back) await sleep(100);
    }
    assert.ok(back, 'writes did not resume after PostgreSQL came back');
    assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
    const steps = new Set((await c.getMetricHistory(run, 'x')).map((m) => m.step));
    for (const s of acked) assert.ok(steps.has(s), `acknowledged step ${s} is missing`);
    assert.ok(!server.stdout().includes('"status":500'), 'a request got a 500');
  });

  it('Redis gone: inference goes on with per-replica rate limits and a warning, and shared limits resume', async () => {
    const redis = await proxyTo(6379);
    const { server, c } = await serve({ CAPSTAN_REDIS_URL: `redis://127.0.0.1:${redis.port}/12` });
    const run = (await c.createRun(await c.createExperiment('m'), 'm')).info.run_id;
    const root = (await c.getRun(run)).info.artifact_uri.replace(/^mlflow-artifacts:\/+/, '');
    const { bytes, sidecar } = fixtureModel('tabular_mlp');
    await c.uploadArtifact(`${root}/model/model.onnx`, upload(bytes), bytes.length);
    await c.createRegisteredModel('s');
    await c.createModelVersion({ name: 's', source: `runs:/${run}/model`, run_id: run });
    await c.applyDeployment('name: s\nmodel: s\ntargets:\n  a: {version: 1}\nlimits: {rate_per_second: 1000, burst: 1000}\n');
    const tensor = { name: 'input', ...sidecar.examples[0].inputs.input };
    await c.infer('s', [tensor]);
    redis.cut();
    for (let i = 0; i < 5; i++) assert.equal((await c.infer('s', [tensor])).outputs.length, 1);
    await server.waitForLog((l) => String(l.msg).includes('Redis unavailable; rate limits fall back to this process'));
    redis.restore();
    await sleep(1500);
    for (let i = 0; i < 5; i++) assert.equal((await c.infer('s', [tensor])).outputs.length, 1);
  });

  it('S3 stalled: uploads fail with STORE_UNAVAILABLE after the timeout instead of hanging, and work again after', async () => {
    const s3 = await startS3Server('stall');
    cleanup.push(() => s3.close());
    const proxy = await proxyTo(Number(new URL(s3.endpoint).port));
    const { c } = await serve({
      CAPSTAN_STORE_ARTIFACTS_URI: `s3://${s3.bucket}/x`, CAPSTAN_S3_ENDPOINT: `http://127.0.0.1:${proxy.port}`, CAPSTAN_S3_FORCE_PATH_STYLE: 'true',
      CAPSTAN_S3_ACCESS_KEY_ID: s3.accessKeyId, CAPSTAN_S3_SECRET_ACCESS_KEY: s3.secretAccessKey, CAPSTAN_S3_TIMEOUT_MS: '1500',
    });
    const run = (await c.createRun(await c.createExperiment('s3'), 'r')).info.run_id;
    const root = (await c.getRun(run)).info.artifact_uri.replace(/^mlflow-artifacts:\/+/, '');
    const body = Buffer.from('kept');
    await c.uploadArtifact(`${root}/before.txt`, upload(body), body.length);
    proxy.stall();
    const t0 = Date.now();
    const err = await failure(c.uploadArtifact(`${root}/during.txt`, upload(body), body.length));
    assert.equal(err?.errorCode, 'STORE_UNAVAILABLE', String(err));
    assert.ok(Date.now() - t0 < 20_000, `took ${Date.now() - t0} ms`);
    proxy.restore();
    await c.uploadArtifact(`${root}/after.txt`, upload(body), body.length);
    const read = await c.readArtifact(`mlflow-artifacts:/${root}`, 'before.txt');
    assert.deepEqual(Buffer.from(read!.bytes), body);
  });
});
