// The model registry through HTTP on the embedded default: MLflow's API, manifests, signing,
// verification against tampering, pinned files and promotion gates.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { assertError, assertOk, call } from '../support/inject.js';
import { testDatabases } from '../support/databases.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';

const API = '/api/2.0/mlflow';
const PROXY = '/api/2.0/mlflow-artifacts/artifacts';
const CAPSTAN = '/api/capstan/registry';
const FIXTURES = new URL('../fixtures/onnx/', import.meta.url);
const mlp = readFileSync(new URL('tabular_mlp.onnx', FIXTURES));
const mlpSidecar = JSON.parse(readFileSync(new URL('tabular_mlp.json', FIXTURES), 'utf8'));


for (const { db, skip } of await testDatabases()) {
  /** The platform on a fresh database of this backend; the test removes it afterwards. */
  const startOn = async (): Promise<TestPlatform> => {
    const created = await db.create();
    const started = await startTestPlatform({ 'store.database_uri': created.uri });
    return { ...started, close: async () => (await started.close(), await created.drop()) };
  };

  describe(`model registry over HTTP (${db.name})`, { skip }, () => {
    let tp: TestPlatform;
    let app: FastifyInstance;
    let runId: string;
    let experimentId: string;
    before(async () => {
      tp = await startOn();
      app = tp.app;
      experimentId = assertOk(await call(app, 'POST', `${API}/experiments/create`, { name: 'fraud' })).experiment_id;
      const run = assertOk(await call(app, 'POST', `${API}/runs/create`, { experiment_id: experimentId, tags: [{ key: 'mlflow.source.git.commit', value: 'abc123' }] })).run;
      runId = run.info.run_id;
      assertOk(await call(app, 'POST', `${API}/runs/log-metric`, { run_id: runId, key: 'accuracy', value: 0.85, timestamp: 1, step: 0 }));
      const root = `${PROXY}/${experimentId}/${runId}/artifacts/model`;
      assertOk(await call(app, 'PUT', `${root}/model.onnx`, mlp));
      assertOk(await call(app, 'PUT', `${root}/MLmodel`, 'flavors:\n  onnx:\n    data: model.onnx\n'));
    });
    after(() => tp?.close());

    it('registers a run model as version 1 with manifest, signature and semver', async () => {
      const model = assertOk(await call(app, 'POST', `${API}/registered-models/create`, { name: 'fraud-detector', tags: [{ key: 'team', value: 'risk' }] })).registered_model;
      assert.equal(model.name, 'fraud-detector');
      assertError(await call(app, 'POST', `${API}/registered-models/create`, { name: 'fraud-detector' }), 'RESOURCE_ALREADY_EXISTS');
      const v = assertOk(await call(app, 'POST', `${API}/model-versions/create`, { name: 'fraud-detector', source: `runs:/${runId}/model`, run_id: runId })).model_version;
      assert.equal(v.version, '1');
      assert.equal(v.current_stage, 'None');
      assert.equal(v.status, 'READY');
      const detail = assertOk(await call(app, 'GET', `${CAPSTAN}/model-versions/get?name=fraud-detector&version=1`)).model_version;
      assert.equal(detail.semver, '0.1.0');
      assert.equal(detail.code_version, 'abc123');
      assert.deepEqual(detail.manifest.files.map((f: any) => f.path), ['MLmodel', 'model.onnx']);
      assert.equal(detail.manifest.files[1].sha256, mlpSidecar.sha256);
      assert.match(detail.manifest_digest, /^sha256:[0-9a-f]{64}$/);
      assert.deepEqual(detail.model_signature.inputs, mlpSidecar.inputs);
      assert.deepEqual(detail.model_signature.outputs, mlpSidecar.outputs);
      assert.deepEqual(detail.unsafe_files, []);
      const uri = assertOk(await call(app, 'GET', `${API}/model-versions/get-download-uri?name=fraud-detector&version=1`));
      assert.equal(uri.artifact_uri, `mlflow-artifacts:/${experimentId}/${runId}/artifacts/model`);
    });

    it('gives concurrent registrations distinct, gapless version numbers and semvers', async () => {
      assertOk(await call(app, 'POST', `${API}/registered-models/create`, { name: 'concurrent' }));
      const own = assertOk(await call(app, 'POST', `${API}/runs/create`, { experiment_id: experimentId })).run.info.run_id;
      assertOk(await call(app, 'PUT', `${PROXY}/${experimentId}/${own}/artifacts/model/model.onnx`, mlp));
      const answers = await Promise.all(Array.from({ length: 12 }, () => call(app, 'POST', `${API}/model-versions/create`, { name: 'concurrent', source: `runs:/${own}/model`, run_id: own })));
      const numbers = answers.map((a) => Number(assertOk(a).model_version.version)).sort((x, y) => x - y);
      assert.deepEqual(numbers, Array.from({ length: 12 }, (_, i) => i + 1));
      const semvers = new Set<string>();
      for (const n of numbers) semvers.add(assertOk(await call(app, 'GET', `${CAPSTAN}/model-versions/get?name=concurrent&version=${n}`)).model_version.semver);
      assert.equal(semvers.size, 12);
    });

    it('refuses an upload that was still streaming when its folder was registered', async () => {
      const run = assertOk(await call(app, 'POST', `${API}/runs/create`, { experiment_id: experimentId })).run.info.run_id;
      const model = `${PROXY}/${experimentId}/${run}/artifacts/model`;
      assertOk(await call(app, 'PUT', `${model}/model.onnx`, mlp));
      const slow = new PassThrough();
      const late = app.inject({ method: 'PUT', url: `${model}/late.bin`, payload: slow, headers: { 'content-type': 'application/octet-stream' } });
      slow.write(Buffer.alloc(64 * 1024, 1));
      await new Promise((r) => setTimeout(r, 50));
      assertOk(await call(app, 'POST', `${API}/registered-models/create`, { name: 'raced' }));
      assertOk(await call(app, 'POST', `${API}/model-versions/create`, { name: 'raced', source: `runs:/${run}/model` }));
      slow.end(Buffer.alloc(64 * 1024, 2));
      const res = await late;
      assert.equal(res.statusCode, 409, res.body);
      assert.equal(JSON.parse(res.body).error_code, 'ARTIFACT_PINNED');
      const detail = assertOk(await call(app, 'GET', `${CAPSTAN}/model-versions/get?name=raced&version=1`)).model_version;
      assert.deepEqual([detail.status, detail.manifest.files.map((f: any) => f.path)], ['READY', ['model.onnx']]);
      assert.equal(assertOk(await call(app, 'POST', `${CAPSTAN}/model-versions/verify`, { name: 'raced', version: '1' })).report.verified, true);
    });

    it('refuses sources, runs and logged models of another project, and folders that are not one model', async () => {
      assertOk(await call(app, 'POST', '/api/capstan/projects', { name: 'other' }));
      const other = { 'x-capstan-project': 'other' };
      const otherExp = assertOk(await call(app, 'POST', `${API}/experiments/create`, { name: 'theirs' }, other)).experiment_id;
      const otherRun = assertOk(await call(app, 'POST', `${API}/runs/create`, { experiment_id: otherExp }, other)).run.info.run_id;
      assertOk(await call(app, 'PUT', `${PROXY}/${otherExp}/${otherRun}/artifacts/model/model.onnx`, mlp, other));
      assertOk(await call(app, 'POST', `${API}/registered-models/create`, { name: 'guarded' }));
      const create = (body: Record<string, unknown>) => call(app, 'POST', `${API}/model-versions/create`, { name: 'guarded', ...body });
      assertError(await create({ source: `runs:/${otherRun}/model` }), 'INVALID_PARAMETER_VALUE', 'not in this project');
      assertError(await create({ source: `runs:/${runId}/model`, run_id: otherRun }), 'INVALID_PARAMETER_VALUE', `is not the source's run`);
      assertError(await create({ source: `mlflow-artifacts:/${experimentId}/${runId}/artifacts/model`, run_id: otherRun }), 'INVALID_PARAMETER_VALUE', "must be a run's artifacts");
      assertError(await create({ source: `mlflow-artifacts:/${experimentId}` }), 'INVALID_PARAMETER_VALUE', "must be a run's artifacts");
      assertError(await create({ source: `runs:/${runId}/../${otherRun}` }), 'INVALID_PARAMETER_VALUE');
      const theirModel = assertOk(await call(app, 'POST', `${API}/logged-models`, { experiment_id: otherExp, name: 'm' }, other)).model.info.model_id;
      assertError(await create({ source: `models:/${theirModel}` }), 'INVALID_PARAMETER_VALUE', 'not in this project');
      assertError(await call(app, 'POST', `${API}/runs/outputs`, { run_id: runId, models: [{ model_id: theirModel, step: 0 }] }), 'INVALID_PARAMETER_VALUE');
      assertError(await call(app, 'POST', `${API}/logged-models`, { experiment_id: experimentId, source_run_id: otherRun }), 'INVALID_PARAMETER_VALUE');
      // A normalised runs:/ path works as MLflow's does.
      const mine = assertOk(await call(app, 'POST', `${API}/runs/create`, { experiment_id: experimentId })).run.info.run_id;
      assertOk(await call(app, 'PUT', `${PROXY}/${experimentId}/${mine}/artifacts/model/model.onnx`, mlp));
      const v = assertOk(await create({ source: `runs:/${mine}/./model/` })).model_version;
      assert.equal(v.version, '1');
    });

    it('refuses to overwrite or delete registered files through the proxy', async () => {
      const root = `${PROXY}/${experimentId}/${runId}/artifacts/model`;
      assertError(await call(app, 'PUT', `${root}/model.onnx`, Buffer.from('evil')), 'ARTIFACT_PINNED');
      assertError(await call(app, 'PUT', `${root}/extra.txt`, Buffer.from('x')), 'ARTIFACT_PINNED');
      assertError(await call(app, 'DELETE', `${PROXY}/${experimentId}/${runId}`), 'ARTIFACT_PINNED');
      assertOk(await call(app, 'PUT', `${PROXY}/${experimentId}/${runId}/artifacts/notes.txt`, Buffer.from('fine')));
      // A multipart upload into the pinned files is refused when it completes, and the server lives on.
      const mpu = '/api/2.0/mlflow-artifacts/mpu';
      const created = assertOk(await call(app, 'POST', `${mpu}/create/${experimentId}/${runId}/artifacts/model`, { path: 'model.onnx', num_parts: 1 }));
      const partUrl = new URL(created.credentials[0].url);
      assertOk(await call(app, 'PUT', `${partUrl.pathname}${partUrl.search}`, Buffer.from('evil')));
      assertError(await call(app, 'POST', `${mpu}/complete/${experimentId}/${runId}/artifacts/model`, { path: 'model.onnx', upload_id: created.upload_id, parts: [{ part_number: 1 }] }), 'ARTIFACT_PINNED');
      assertOk(await call(app, 'GET', `${API}/registered-models/get?name=fraud-detector`));
    });

    it('verifies the version, and refuses a tampered blob', async () => {
      const ok = assertOk(await call(app, 'POST', `${CAPSTAN}/model-versions/verify`, { name: 'fraud-detector', version: '1' })).report;
      assert.equal(ok.verified, true, JSON.stringify(ok));
      const file = join(tp.dataDir, 'artifacts', experimentId, runId, 'artifacts', 'model', 'model.onnx');
      const original = readFileSync(file);
      const tampered = Buffer.from(original);
      tampered[100] ^= 0xff;
      writeFileSync(file, tampered);
      try {
        const bad = assertOk(await call(app, 'POST', `${CAPSTAN}/model-versions/verify`, { name: 'fraud-detector', version: '1' })).report;
        assert.equal(bad.verified, false);
        assert.deepEqual(bad.problems.map((p: any) => [p.path, p.problem]), [['model.onnx', 'sha256']]);
        assert.equal(bad.signature_valid, true);
      } finally {
        writeFileSync(file, original);
      }
    });

    it('refuses a tampered manifest and a forged signature', async () => {
      const row = await tp.platform.db.get<{ manifest: string; manifest_signature: string }>(
        "SELECT v.manifest, v.manifest_signature FROM model_versions v JOIN registered_models m ON m.model_id = v.model_id WHERE m.name = 'fraud-detector' AND v.version = 1",
      );
      const manifest = JSON.parse(row!.manifest);
      const forged = { files: manifest.files.map((f: any) => (f.path === 'model.onnx' ? { ...f, sha256: 'ab'.repeat(32) } : f)) };
      const tamper = (column: string, value: string) =>
        tp.platform.db.run(`UPDATE model_versions SET ${column} = ? WHERE version = 1 AND model_id = (SELECT model_id FROM registered_models WHERE name = 'fraud-detector')`, [value]);
      const verify = async () => assertOk(await call(app, 'POST', `${CAPSTAN}/model-versions/verify`, { name: 'fraud-detector', version: '1' })).report;
      try {
        await tamper('manifest', JSON.stringify(forged));
        const bad = await verify();
        assert.deepEqual([bad.verified, bad.manifest_intact, bad.signature_valid], [false, false, true]);
        assert.deepEqual(bad.problems.map((p: any) => [p.path, p.problem]), [['model.onnx', 'sha256']]);
      } finally {
        await tamper('manifest', row!.manifest);
      }
      try {
        const sig = Buffer.from(row!.manifest_signature, 'base64');
        sig[0] ^= 1;
        await tamper('manifest_signature', sig.toString('base64'));
        const bad = await verify();
        assert.deepEqual([bad.verified, bad.manifest_intact, bad.signature_valid], [false, true, false]);
      } finally {
        await tamper('manifest_signature', row!.manifest_signature);
      }
      assert.equal((await verify()).verified, true);
    });

    it('sets, reads and deletes aliases; unknown alias is INVALID_PARAMETER_VALUE', async () => {
      assertOk(await call(app, 'POST', `${API}/registered-models/alias`, { name: 'fraud-detector', alias: 'champion', version: '1' }));
      const v = assertOk(await call(app, 'GET', `${API}/registered-models/alias?name=fraud-detector&alias=champion`)).model_version;
      assert.equal(v.version, '1');
      assert.deepEqual(v.aliases, ['champion']);
      assertError(await call(app, 'GET', `${API}/registered-models/alias?name=fraud-detector&alias=nope`), 'INVALID_PARAMETER_VALUE');
      assertError(await call(app, 'POST', `${API}/registered-models/alias`, { name: 'fraud-detector', alias: 'v2', version: '1' }), 'INVALID_PARAMETER_VALUE');
      assertOk(await call(app, 'DELETE', `${API}/registered-models/alias`, { name: 'fraud-detector', alias: 'champion' }));
      assertOk(await call(app, 'DELETE', `${API}/registered-models/alias`, { name: 'fraud-detector', alias: 'champion' }));
    });

    it('denies a gated promotion naming the rule and its inputs, records it, and lets an admin override', async () => {
      const policy = 'gates:\n  - name: production-ready\n    protects:\n      aliases: [champion]\n      stages: [Production]\n    rules:\n      - name: accuracy\n        expr: metrics.accuracy >= 0.9\n';
      assertOk(await call(app, 'PUT', `${CAPSTAN}/policy`, { text: policy }));
      const denied = await call(app, 'POST', `${API}/registered-models/alias`, { name: 'fraud-detector', alias: 'champion', version: '1' });
      assertError(denied, 'POLICY_DENIED', /accuracy/);
      assert.match(denied.body.message, /0\.85/);
      assertError(await call(app, 'POST', `${API}/model-versions/transition-stage`, { name: 'fraud-detector', version: '1', stage: 'production', archive_existing_versions: false }), 'POLICY_DENIED');
      const staged = assertOk(await call(app, 'POST', `${API}/model-versions/transition-stage`, { name: 'fraud-detector', version: '1', stage: 'staging', archive_existing_versions: false })).model_version;
      assert.equal(staged.current_stage, 'Staging');
      assertOk(await call(app, 'POST', `${API}/registered-models/alias`, { name: 'fraud-detector', alias: 'champion', version: '1', override_reason: 'hotfix approved by risk' }));
      const events = assertOk(await call(app, 'GET', `${CAPSTAN}/models/history?name=fraud-detector`)).events;
      assert.deepEqual(events.map((e: any) => e.kind), ['model_created', 'version_created', 'alias_set', 'alias_deleted', 'promotion_denied', 'promotion_denied', 'stage_changed', 'alias_set']);
      assert.equal(events.at(-1).detail.override_reason, 'hotfix approved by risk');
      // The audit log has the denial (refused, with the rule) and the override (with its reason).
      const audit: any[] = [];
      for await (const e of tp.platform.audit.events()) audit.push(e);
      const aliasEvents = audit.filter((e) => e.action === 'POST /api/2.0/mlflow/registered-models/alias');
      assert.deepEqual(aliasEvents.map((e) => e.outcome), ['ok', 'denied', 'ok']);
      assert.match(aliasEvents[1].summary, /POLICY_DENIED.*accuracy/);
      assert.match(aliasEvents[2].summary, /hotfix approved by risk/);
    });

    it('searches models and versions with MLflow filters and pages', async () => {
      for (let i = 0; i < 3; i++) assertOk(await call(app, 'POST', `${API}/registered-models/create`, { name: `search-${i}` }));
      const page1 = assertOk(await call(app, 'GET', `${API}/registered-models/search?filter=${encodeURIComponent("name LIKE 'search-%'")}&max_results=2`));
      assert.deepEqual(page1.registered_models.map((m: any) => m.name), ['search-0', 'search-1']);
      const page2 = assertOk(await call(app, 'GET', `${API}/registered-models/search?filter=${encodeURIComponent("name LIKE 'search-%'")}&max_results=2&page_token=${page1.next_page_token}`));
      assert.deepEqual(page2.registered_models.map((m: any) => m.name), ['search-2']);
      assert.equal(page2.next_page_token, undefined);
      const byTag = assertOk(await call(app, 'GET', `${API}/registered-models/search?filter=${encodeURIComponent("tags.team = 'risk'")}`));
      assert.deepEqual(byTag.registered_models.map((m: any) => m.name), ['fraud-detector']);
      const versions = assertOk(await call(app, 'GET', `${API}/model-versions/search?filter=${encodeURIComponent(`run_id = '${runId}'`)}`));
      assert.deepEqual(versions.model_versions.map((v: any) => [v.name, v.version]), [['fraud-detector', '1']]);
      assertError(await call(app, 'GET', `${API}/model-versions/search?filter=${encodeURIComponent('metrics.x > 1')}`), 'INVALID_PARAMETER_VALUE');
      assertOk(await call(app, 'POST', `${API}/model-versions/set-tag`, { name: 'fraud-detector', version: '1', key: 'validated', value: 'yes' }));
      const tagged = assertOk(await call(app, 'GET', `${API}/model-versions/search?filter=${encodeURIComponent("tags.validated = 'yes' AND name = 'fraud-detector'")}`));
      assert.deepEqual(tagged.model_versions.map((v: any) => [v.version, v.tags]), [['1', [{ key: 'validated', value: 'yes' }]]]);
      const none = assertOk(await call(app, 'GET', `${API}/model-versions/search?filter=${encodeURIComponent("tags.validated = 'no'")}`));
      assert.deepEqual(none.model_versions ?? [], []);
    });
  });

  describe(`datasets and lineage over HTTP (${db.name})`, { skip }, () => {
    let tp: TestPlatform;
    let app: FastifyInstance;
    const iris = readFileSync(new URL('../fixtures/datasets/iris.csv', import.meta.url));
    before(async () => {
      tp = await startOn();
      app = tp.app;
    });
    after(() => tp?.close());

    const upload = async (files: Record<string, Buffer>) => {
      const { upload_id } = assertOk(await call(app, 'POST', '/api/capstan/datasets/uploads', {}));
      for (const [path, bytes] of Object.entries(files)) assertOk(await call(app, 'PUT', `/api/capstan/datasets/uploads/${upload_id}/files/${path}`, bytes));
      return upload_id as string;
    };

    it('registers by content hash with schema and profile; the same content is the same version', async () => {
      const first = assertOk(await call(app, 'POST', '/api/capstan/datasets/register', { name: 'iris', source: `upload:${await upload({ 'iris.csv': iris })}`, sensitive: true, access: 'public' }));
      assert.equal(first.created, true);
      assert.equal(first.dataset_version.version, 1);
      assert.equal(first.dataset_version.row_count, 150);
      assert.equal(first.dataset_version.schema.length, 5);
      assert.match(first.dataset_version.digest, /^sha256:[0-9a-f]{64}$/);
      const again = assertOk(await call(app, 'POST', '/api/capstan/datasets/register', { name: 'iris', source: `upload:${await upload({ 'iris.csv': iris })}` }));
      assert.equal(again.created, false);
      assert.equal(again.dataset_version.version, 1);
      const changed = assertOk(await call(app, 'POST', '/api/capstan/datasets/register', { name: 'iris', source: `upload:${await upload({ 'iris.csv': iris.subarray(0, iris.lastIndexOf('\n', iris.length - 2) + 1) })}` }));
      assert.equal(changed.dataset_version.version, 2);
      assert.equal(changed.dataset_version.row_count, 149);
    });

    it('numbers concurrent registrations of one name consecutively', async () => {
      const uploads = await Promise.all(Array.from({ length: 8 }, (_, i) => upload({ 'd.csv': Buffer.from(`x\n${i}\n`) })));
      const answers = await Promise.all(uploads.map((id) => call(app, 'POST', '/api/capstan/datasets/register', { name: 'busy', source: `upload:${id}` })));
      assert.deepEqual(answers.map((a) => assertOk(a).dataset_version.version).sort((x: number, y: number) => x - y), [1, 2, 3, 4, 5, 6, 7, 8]);
    });

    it('walks lineage from a model back to its dataset, and forward again; gates see the dataset', async () => {
      const exp = assertOk(await call(app, 'POST', `${API}/experiments/create`, { name: 'lineage' })).experiment_id;
      const runId = assertOk(await call(app, 'POST', `${API}/runs/create`, { experiment_id: exp })).run.info.run_id;
      assertOk(await call(app, 'POST', '/api/capstan/datasets/link', { run_id: runId, name: 'iris', version: 1, context: 'training' }));
      assertOk(await call(app, 'PUT', `${PROXY}/${exp}/${runId}/artifacts/model/model.onnx`, mlp));
      assertOk(await call(app, 'POST', `${API}/registered-models/create`, { name: 'iris-clf' }));
      assertOk(await call(app, 'POST', `${API}/model-versions/create`, { name: 'iris-clf', source: `runs:/${runId}/model`, run_id: runId }));
      assertOk(await call(app, 'POST', `${API}/registered-models/alias`, { name: 'iris-clf', alias: 'champion', version: '1' }));
      const back = assertOk(await call(app, 'GET', `/api/capstan/lineage/model?uri=${encodeURIComponent('models:/iris-clf@champion')}`)).graph;
      assert.deepEqual(back.nodes.map((n: any) => n.id).sort(), ['dataset:iris@1', 'model:iris-clf/1', `run:${runId}`].sort());
      assert.deepEqual(back.edges.map((e: any) => [e.from, e.to, e.kind]).sort(), [['dataset:iris@1', `run:${runId}`, 'input_of'], [`run:${runId}`, 'model:iris-clf/1', 'produced']].sort());
      const forward = assertOk(await call(app, 'GET', '/api/capstan/lineage/dataset?name=iris&version=1&format=mermaid')).mermaid;
      assert.match(forward, /^flowchart LR/);
      assert.match(forward, /iris-clf v1/);
      const policy = 'gates:\n  - name: data\n    protects: { aliases: [prod] }\n    rules:\n      - name: no-public-sensitive\n        expr: \'!datasets.exists(d, d.sensitive && d.access == "public")\'\n';
      assertOk(await call(app, 'PUT', '/api/capstan/registry/policy', { text: policy }));
      assertError(await call(app, 'POST', `${API}/registered-models/alias`, { name: 'iris-clf', alias: 'prod', version: '1' }), 'POLICY_DENIED', /no-public-sensitive/);
    });
  });

  describe(`MLflow 3.x logged models (${db.name})`, { skip }, () => {
    let tp: TestPlatform;
    let app: FastifyInstance;
    before(async () => {
      tp = await startOn();
      app = tp.app;
    });
    after(() => tp?.close());

    it('creates, uploads, finalizes, searches and registers a logged model as log_model does', async () => {
      const exp = assertOk(await call(app, 'POST', `${API}/experiments/create`, { name: 'three' })).experiment_id;
      const runId = assertOk(await call(app, 'POST', `${API}/runs/create`, { experiment_id: exp })).run.info.run_id;
      const created = assertOk(await call(app, 'POST', `${API}/logged-models`, { experiment_id: exp, name: 'model', source_run_id: runId, params: [{ key: 'lr', value: '0.1' }] })).model;
      const id = created.info.model_id;
      assert.match(id, /^m-[0-9a-f]{32}$/);
      assert.equal(created.info.status, 'LOGGED_MODEL_PENDING');
      assert.equal(created.info.artifact_uri, `mlflow-artifacts:/${exp}/models/${id}/artifacts`);
      assert.deepEqual(created.data.params, [{ key: 'lr', value: '0.1' }]);
      assertOk(await call(app, 'POST', `${API}/runs/outputs`, { run_id: runId, models: [{ model_id: id, step: 0 }] }));
      assertOk(await call(app, 'PUT', `${PROXY}/${exp}/models/${id}/artifacts/model.onnx`, mlp));
      const ready = assertOk(await call(app, 'PATCH', `${API}/logged-models/${id}`, { model_id: id, status: 'LOGGED_MODEL_READY' })).model;
      assert.equal(ready.info.status, 'LOGGED_MODEL_READY');
      const listing = assertOk(await call(app, 'GET', `${API}/logged-models/${id}/artifacts/directories`));
      assert.deepEqual(listing.files, [{ path: 'model.onnx', is_dir: false, file_size: mlp.length }]);
      const found = assertOk(await call(app, 'POST', `${API}/logged-models/search`, { experiment_ids: [exp], filter: `name = 'model' AND source_run_id = '${runId}'` }));
      assert.deepEqual(found.models.map((m: any) => m.info.model_id), [id]);
      assertOk(await call(app, 'POST', `${API}/registered-models/create`, { name: 'three' }));
      const v = assertOk(await call(app, 'POST', `${API}/model-versions/create`, { name: 'three', source: `models:/${id}`, model_id: id })).model_version;
      assert.equal(v.run_id, runId);
      const detail = assertOk(await call(app, 'GET', `/api/capstan/registry/model-versions/get?name=three&version=1`)).model_version;
      assert.equal(detail.logged_model_id, id);
      assert.deepEqual(detail.manifest.files.map((f: any) => f.path), ['model.onnx']);
      assertError(await call(app, 'GET', `${API}/logged-models/m-00000000000000000000000000000000`), 'RESOURCE_DOES_NOT_EXIST');
    });
  });

  describe(`retention and garbage collection over HTTP (${db.name})`, { skip }, () => {
    let tp: TestPlatform;
    let app: FastifyInstance;
    before(async () => {
      tp = await startOn();
      app = tp.app;
    });
    after(() => tp?.close());

    const allKeys = async (): Promise<string[]> => {
      const keys: string[] = [];
      const walk = async (dir: string): Promise<void> => {
        for (const e of await tp.platform.blobs.list(dir)) {
          const key = dir ? `${dir}/${e.name}` : e.name;
          if (e.isDir) await walk(key);
          else keys.push(key);
        }
      };
      await walk('');
      return keys.sort();
    };

    it('deletes versions past keep_last, then removes every unreferenced file and keeps every referenced one', async () => {
      const exp = assertOk(await call(app, 'POST', `${API}/experiments/create`, { name: 'gc' })).experiment_id;
      const runs: string[] = [];
      for (let i = 0; i < 3; i++) {
        const runId = assertOk(await call(app, 'POST', `${API}/runs/create`, { experiment_id: exp })).run.info.run_id;
        runs.push(runId);
        assertOk(await call(app, 'PUT', `${PROXY}/${exp}/${runId}/artifacts/model/model.onnx`, mlp));
      }
      assertOk(await call(app, 'POST', `${API}/registered-models/create`, { name: 'kept' }));
      for (const runId of runs) assertOk(await call(app, 'POST', `${API}/model-versions/create`, { name: 'kept', source: `runs:/${runId}/model`, run_id: runId }));
      assertOk(await call(app, 'POST', `${API}/registered-models/alias`, { name: 'kept', alias: 'champion', version: '1' }));
      // A deleted run whose files only a model version still holds.
      assertOk(await call(app, 'POST', `${API}/runs/delete`, { run_id: runs[2] }));
      // Orphans: a run folder with no run, an experiment folder with no experiment, an abandoned dataset upload.
      assertOk(await call(app, 'PUT', `${PROXY}/${exp}/${'f'.repeat(32)}/artifacts/stray.txt`, Buffer.from('stray')));
      await tp.platform.blobs.put('999/'.concat('e'.repeat(32), '/artifacts/x.bin'), (await import('node:stream')).Readable.from([Buffer.from('x')]));
      const { upload_id } = assertOk(await call(app, 'POST', '/api/capstan/datasets/uploads', {}));
      assertOk(await call(app, 'PUT', `/api/capstan/datasets/uploads/${upload_id}/files/a.csv`, Buffer.from('a\n1\n')));
      assertOk(await call(app, 'PUT', '/api/capstan/registry/policy', { text: 'retention:\n  keep_last: 1\n' }));

      const before = await allKeys();
      const preview = assertOk(await call(app, 'POST', '/api/capstan/admin/gc', { dry_run: true, grace_hours: 0, purge_deleted_runs_older_than_days: 0 }));
      assert.deepEqual(preview.retention.map((r: any) => [r.name, r.version]), [['kept', 2]]);
      assert.deepEqual(await allKeys(), before, 'a dry run changes nothing');
      const done = assertOk(await call(app, 'POST', '/api/capstan/admin/gc', { grace_hours: 0, purge_deleted_runs_older_than_days: 0 }));
      assert.deepEqual(done.removed.map((r: any) => r.prefix).sort(), preview.removed.map((r: any) => r.prefix).sort());
      const removedPrefixes = done.removed.map((r: any) => r.prefix).sort();
      assert.deepEqual(removedPrefixes, [`${exp}/${'f'.repeat(32)}`, '999', `_capstan_datasets/1/${upload_id}`].sort());
      const after = await allKeys();
      // Every run that exists keeps its files, including the deleted run whose files version 3 holds.
      for (const runId of runs) assert.ok(after.includes(`${exp}/${runId}/artifacts/model/model.onnx`), runId);
      assert.deepEqual(after, before.filter((k) => !removedPrefixes.some((p: string) => k === p || k.startsWith(`${p}/`))));
      const versions = assertOk(await call(app, 'GET', `${API}/model-versions/search?filter=${encodeURIComponent("name = 'kept'")}`)).model_versions;
      assert.deepEqual(versions.map((v: any) => v.version).sort(), ['1', '3']);
    });
  });
}
