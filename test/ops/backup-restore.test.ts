// `capstan backup` of a live server and `capstan restore` into an empty store, on SQLite and on
// PostgreSQL: the restored server has every run, metric, artifact byte, model version (its
// signature verified) and account, and its audit chain verifies; a second backup of the restored
// database is identical table by table. Also: a damaged backup and a database in use are refused
// without writing anything.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CapstanClient } from '../../src/client/index.js';
import { testDatabases } from '../support/databases.js';
import { fixtureModel } from '../support/models.js';
import { runCli, startServer, type ServerProcess } from '../support/server-process.js';

const PASSWORD = 'backup-test-password-1';
const upload = (bytes: Buffer) => (async function* () { yield bytes; })();

for (const { db, skip } of await testDatabases()) {
  describe(`ops: backup and restore (${db.name})`, { skip, timeout: 180_000 }, () => {
    const dirs: string[] = [];
    const drops: (() => Promise<void>)[] = [];
    const tmp = (name: string) => {
      const d = mkdtempSync(join(tmpdir(), `capstan-${name}-`));
      dirs.push(d);
      return d;
    };
    const fresh = async () => {
      const created = await db.create();
      drops.push(created.drop);
      return created.uri;
    };
    let source: { dataDir: string; uri: string; env: Record<string, string> };
    let server: ServerProcess;
    let client: CapstanClient;
    let runIds: string[] = [];
    const artifact = Buffer.from('epoch,loss\n1,0.5\n2,0.25\n');
    let backupDir: string;

    before(async () => {
      const dataDir = tmp('src');
      const uri = await fresh();
      source = { dataDir, uri, env: { CAPSTAN_STORE_DATABASE_URI: uri, CAPSTAN_AUTH_MODE: 'on', CAPSTAN_AUTH_BOOTSTRAP_OWNER: 'root', CAPSTAN_AUTH_BOOTSTRAP_PASSWORD: PASSWORD } };
      server = await startServer({ dataDir, env: source.env });
      client = new CapstanClient({ url: server.url, token: (await new CapstanClient({ url: server.url }).login('root', PASSWORD)).token });
      const exp = await client.createExperiment('backed-up');
      for (let i = 0; i < 3; i++) {
        const run = await client.createRun(exp, `run-${i}`);
        await client.logBatch(run.info.run_id, {
          params: [{ key: 'i', value: String(i) }],
          metrics: Array.from({ length: 50 }, (_, s) => ({ key: 'loss', value: 1 / (s + 1 + i), timestamp: 1_700_000_000_000 + s, step: s })),
          tags: [{ key: 'team', value: 'ml' }],
        });
        runIds.push(run.info.run_id);
      }
      const root = (await client.getRun(runIds[0])).info.artifact_uri.replace(/^mlflow-artifacts:\/+/, '');
      await client.uploadArtifact(`${root}/curves/loss.csv`, upload(artifact), artifact.length);
      const { bytes } = fixtureModel('tabular_mlp');
      await client.uploadArtifact(`${root}/model/model.onnx`, upload(bytes), bytes.length);
      await client.createRegisteredModel('scorer');
      await client.createModelVersion({ name: 'scorer', source: `runs:/${runIds[0]}/model`, run_id: runIds[0] });
      await client.setAlias('scorer', 'champion', 1);
      await client.createAccount({ name: 'vera', password: PASSWORD });
      // The backup is taken while the server runs.
      backupDir = join(tmp('backup'), 'b');
      const r = await runCli(['backup', backupDir, '--artifacts', '--data', dataDir], { CAPSTAN_STORE_DATABASE_URI: uri });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /backup of \d+ tables and 2 artifact files written/);
    });

    after(async () => {
      await server?.stop();
      for (const d of drops) await d();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    });

    it('restores into an empty store a server with every run, artifact, version, account and a valid audit chain', async () => {
      const dataDir = tmp('dst');
      const uri = await fresh();
      const env = { CAPSTAN_STORE_DATABASE_URI: uri };
      const r = await runCli(['restore', backupDir, '--data', dataDir, '--json'], env);
      assert.equal(r.code, 0, r.stderr);
      const report = JSON.parse(r.stdout);
      assert.deepEqual(report.artifacts, { copied: 2, present: 0, missing: [] });
      // Restored, then backed up again: every table is byte for byte what was backed up.
      const again = join(tmp('again'), 'b');
      assert.equal((await runCli(['backup', again, '--data', dataDir], env)).code, 0);
      const first = JSON.parse(readFileSync(join(backupDir, 'manifest.json'), 'utf8'));
      const second = JSON.parse(readFileSync(join(again, 'manifest.json'), 'utf8'));
      assert.deepEqual(second.tables, first.tables);
      assert.equal(second.artifacts.list_sha256, first.artifacts.list_sha256);
      // The key that signed the manifests is the installation's own: it goes with the data directory.
      copyFileSync(join(source.dataDir, 'registry-signing.pem'), join(dataDir, 'registry-signing.pem'));
      const restored = await startServer({ dataDir, env: { ...env, CAPSTAN_AUTH_MODE: 'on' } });
      try {
        const c = new CapstanClient({ url: restored.url, token: (await new CapstanClient({ url: restored.url }).login('root', PASSWORD)).token });
        for (const id of runIds) {
          const [before, now] = [await client.getRun(id), await c.getRun(id)];
          assert.deepEqual(now.data, before.data);
          assert.deepEqual(await c.getMetricHistory(id, 'loss'), await client.getMetricHistory(id, 'loss'));
        }
        const root = (await c.getRun(runIds[0])).info.artifact_uri;
        const read = await c.readArtifact(root, 'curves/loss.csv');
        assert.deepEqual(Buffer.from(read!.bytes), artifact);
        const report = await c.verifyModelVersion('scorer', 1);
        assert.equal(report.verified, true, JSON.stringify(report));
        assert.equal((await c.resolveModel('models:/scorer@champion')).version, '1');
        assert.equal((await new CapstanClient({ url: restored.url }).login('vera', PASSWORD)).token.startsWith('capstan_'), true);
        const verdict = await c.auditVerify();
        assert.equal(verdict.ok, true, JSON.stringify(verdict));
        assert.ok(verdict.events >= first.tables.find((t: any) => t.name === 'audit_events').rows);
        // New ids continue after the restored ones.
        const exp = await c.createExperiment('after-restore');
        assert.ok(Number(exp) > Number((await c.getExperimentByName('backed-up')).experiment_id));
      } finally {
        await restored.stop();
      }
    });

    it('refuses a damaged backup and a database in use, and writes nothing', async () => {
      const damaged = join(tmp('damaged'), 'b');
      const copy = await runCli(['backup', damaged, '--data', source.dataDir], { CAPSTAN_STORE_DATABASE_URI: source.uri });
      assert.equal(copy.code, 0, copy.stderr);
      const file = join(damaged, 'tables', 'runs.ndjson');
      writeFileSync(file, readFileSync(file, 'utf8').replace('run-1', 'run-X'));
      const uri = await fresh();
      const dataDir = tmp('dst2');
      const r = await runCli(['restore', damaged, '--data', dataDir], { CAPSTAN_STORE_DATABASE_URI: uri });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /runs\.ndjson does not match the sha256 in manifest\.json/);
      // Nothing was written: the same database takes the intact backup afterwards.
      const ok = await runCli(['restore', backupDir, '--data', dataDir], { CAPSTAN_STORE_DATABASE_URI: uri });
      assert.equal(ok.code, 0, ok.stderr);
      // ...and refuses a second restore on top of it.
      const twice = await runCli(['restore', backupDir, '--data', dataDir], { CAPSTAN_STORE_DATABASE_URI: uri });
      assert.equal(twice.code, 1);
      assert.match(twice.stderr, /in use/);
      const notEmpty = await runCli(['backup', backupDir, '--data', dataDir], { CAPSTAN_STORE_DATABASE_URI: uri });
      assert.equal(notEmpty.code, 1);
      assert.match(notEmpty.stderr, /not empty/);
    });
  });
}
