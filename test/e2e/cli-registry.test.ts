// The model registry from the command line against a real server process on the embedded SQLite
// default: a local model directory uploaded through the artifact proxy and registered, verified,
// refused an alias by a promotion gate until an admin overrides it with a reason, its history,
// and the signing key rotated on the server machine with earlier versions still verifying.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CapstanClient } from '../../src/client/index.js';
import { runCli, startServer, type ServerProcess } from '../support/server-process.js';

const FIXTURE = new URL('../fixtures/onnx/tabular_mlp.onnx', import.meta.url);
const sidecar = JSON.parse(readFileSync(new URL('../fixtures/onnx/tabular_mlp.json', import.meta.url), 'utf8'));
const LABELS = 'benign\nmalignant\n';
const MODEL = 'fraud-mlp';
const OVERRIDE_REASON = 'approved for shadow traffic by the risk board';
const POLICY = `gates:
  - name: champion-quality
    protects:
      aliases: [champion]
    rules:
      - name: accuracy
        expr: metrics.accuracy >= 0.9
        message: accuracy must reach 0.9
`;

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** The manifest the server should record for the model directory, and its digest, computed here. */
function expectedManifest() {
  const files = [
    { path: 'extra/labels.txt', size: Buffer.byteLength(LABELS), sha256: sha256(LABELS) },
    { path: 'tabular_mlp.onnx', size: sidecar.bytes as number, sha256: sidecar.sha256 as string },
  ];
  const lines = files.map((f) => `${f.sha256} ${f.size} ${f.path}\n`).join('');
  return { files, digest: `sha256:${sha256(`capstan-manifest-v1\n${lines}`)}` };
}

/** `ed25519:` and 16 hex digits of the sha256 of the DER public key, from the server's key file. */
function keyIdOfFile(file: string): string {
  const der = createPublicKey(createPrivateKey(readFileSync(file, 'utf8'))).export({ format: 'der', type: 'spki' });
  return `ed25519:${sha256(der).slice(0, 16)}`;
}

const fields = (line: string | undefined) => (line ?? '').trim().split(/\s+/);

describe('model registry from the command line', () => {
  let dataDir: string;
  let home: string;
  let modelDir: string;
  let policyFile: string;
  let server: ServerProcess;
  let runId: string;
  let firstKeyId: string;
  const manifest = expectedManifest();
  const keyFile = () => join(dataDir, 'registry-signing.pem');
  const cli = (...args: string[]) => runCli(args, { XDG_CONFIG_HOME: home, CAPSTAN_URL: server.url });
  const json = async (...args: string[]) => {
    const result = await cli(...args, '--json');
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout);
  };

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'capstan-cli-registry-'));
    home = mkdtempSync(join(tmpdir(), 'capstan-cli-home-'));
    modelDir = mkdtempSync(join(tmpdir(), 'capstan-cli-model-'));
    copyFileSync(FIXTURE, join(modelDir, 'tabular_mlp.onnx'));
    mkdirSync(join(modelDir, 'extra'));
    writeFileSync(join(modelDir, 'extra', 'labels.txt'), LABELS);
    policyFile = join(home, 'policy.yaml');
    writeFileSync(policyFile, POLICY);
    server = await startServer({ dataDir });
  });
  after(async () => {
    await server?.stop();
    for (const dir of [dataDir, home, modelDir]) rmSync(dir, { recursive: true, force: true });
  });

  it('registers a local model directory, uploading it as artifacts of a new run', async () => {
    const registered = await cli('models', 'register', MODEL, modelDir);
    assert.equal(registered.code, 0, registered.stderr);
    const upload = /^uploaded 2 files \((\d+) bytes\) to run ([0-9a-f]{32})\n$/.exec(registered.stderr);
    assert.ok(upload, registered.stderr);
    assert.equal(Number(upload[1]), sidecar.bytes + Buffer.byteLength(LABELS));
    runId = upload[2]!;
    firstKeyId = keyIdOfFile(keyFile());
    const lines = registered.stdout.trimEnd().split('\n');
    assert.deepEqual(fields(lines[0]), ['NAME', 'VERSION', 'SEMVER', 'MANIFEST_DIGEST', 'SIGNING_KEY_ID']);
    assert.deepEqual(fields(lines[1]), [MODEL, '1', '0.1.0', manifest.digest, firstKeyId]);
    assert.equal(lines.length, 2);

    const run = await json('runs', 'get', runId);
    assert.equal(run.info.status, 'FINISHED');
    assert.equal(run.info.experiment_id, '0');
  });

  it('shows the version with its semver, manifest, signature and key', async () => {
    const got = await json('models', 'get', MODEL);
    assert.equal(got.registered_model.name, MODEL);
    assert.equal(got.model_versions.length, 1);
    const v = got.model_versions[0];
    assert.equal(v.version, '1');
    assert.equal(v.semver, '0.1.0');
    assert.equal(v.current_stage, 'None');
    assert.equal(v.source, `runs:/${runId}/model`);
    assert.equal(v.run_id, runId);
    assert.equal(v.signing_key_id, firstKeyId);
    assert.equal(v.manifest_digest, manifest.digest);
    assert.deepEqual(v.manifest.files, manifest.files);
    assert.deepEqual(v.model_signature.inputs, sidecar.inputs);
    assert.deepEqual(v.model_signature.outputs, sidecar.outputs);
    assert.deepEqual(v.unsafe_files, []);

    const text = await cli('models', 'get', MODEL);
    const lines = text.stdout.trimEnd().split('\n');
    assert.equal(lines[0], `name:         ${MODEL}`);
    assert.deepEqual(fields(lines[5]), ['VERSION', 'SEMVER', 'STAGE', 'ALIASES', 'SIGNING_KEY_ID', 'CREATED']);
    assert.deepEqual(fields(lines[6]), ['1', '0.1.0', 'None', firstKeyId, new Date(v.creation_timestamp).toISOString()]);

    const versions = await json('models', 'versions', MODEL);
    assert.deepEqual(versions.map((x: { version: string; semver: string }) => [x.version, x.semver]), [['1', '0.1.0']]);
    const listed = await json('models', 'list');
    assert.deepEqual(listed.map((m: { name: string }) => m.name), [MODEL]);
  });

  it('verifies the stored files against the signed manifest', async () => {
    const verified = await cli('models', 'verify', MODEL, '1');
    assert.equal(verified.code, 0, verified.stderr);
    assert.equal(verified.stdout, `verified ${MODEL} version 1: ${manifest.digest} signed by ${firstKeyId}\n`);
  });

  it('refuses the champion alias while a gate fails, naming the rule', async () => {
    const set = await cli('models', 'policy', 'set', policyFile);
    assert.equal(set.code, 0, set.stderr);
    assert.equal(set.stdout, 'policy set with gates: champion-quality\n');
    const shown = await cli('models', 'policy', 'show');
    assert.equal(shown.stdout, POLICY);
    await new CapstanClient({ url: server.url }).logBatch(runId, { metrics: [{ key: 'accuracy', value: 0.85, timestamp: Date.now(), step: 0 }] });

    const check = await cli('models', 'gates', 'check', MODEL, '1', '--alias', 'champion', '--json');
    assert.equal(check.code, 1);
    const report = JSON.parse(check.stdout);
    assert.deepEqual(report.gates, ['champion-quality']);
    assert.equal(report.allowed, false);
    assert.deepEqual(report.results.map((r: Record<string, unknown>) => [r.rule, r.passed, r.inputs]), [['accuracy', false, { 'metrics.accuracy': 0.85 }]]);

    const refused = await cli('models', 'alias', MODEL, 'champion', '1');
    assert.equal(refused.code, 1);
    assert.equal(
      refused.stderr,
      "capstan: POLICY_DENIED: Gate 'champion-quality' denied: rule 'accuracy' (metrics.accuracy >= 0.9) failed with metrics.accuracy=0.85 — accuracy must reach 0.9.\n",
    );
    assert.equal((await json('models', 'get', MODEL)).registered_model.aliases, undefined);
  });

  it('lets an admin override the gate with a reason', async () => {
    const overridden = await cli('models', 'alias', MODEL, 'champion', '1', '--override-reason', OVERRIDE_REASON);
    assert.equal(overridden.code, 0, overridden.stderr);
    const got = await json('models', 'get', MODEL);
    assert.deepEqual(got.registered_model.aliases, [{ alias: 'champion', version: '1' }]);
    assert.deepEqual(got.model_versions[0].aliases, ['champion']);
  });

  it('updates the model card and moves the version to Staging', async () => {
    const card = await json('models', 'card', MODEL, '1', '--set', 'intended_use=scoring card payments', '--set', 'limitations=tabular inputs only');
    assert.deepEqual(card, {
      description: '', intended_use: 'scoring card payments', training_data: '', metrics_summary: '', limitations: 'tabular inputs only', fairness: '',
    });
    const staged = await json('models', 'stage', MODEL, '1', 'staging');
    assert.equal(staged.current_stage, 'Staging');
  });

  it('lists every event of the model in its history', async () => {
    const events = await json('models', 'history', MODEL);
    assert.deepEqual(events.map((e: Record<string, unknown>) => [e.kind, e.version, e.actor]), [
      ['model_created', undefined, 'local-admin'],
      ['version_created', '1', 'local-admin'],
      ['promotion_denied', '1', 'local-admin'],
      ['alias_set', '1', 'local-admin'],
      ['card_updated', '1', 'local-admin'],
      ['stage_changed', '1', 'local-admin'],
    ]);
    assert.equal(events[1].detail.manifest_digest, manifest.digest);
    assert.equal(events[1].detail.key_id, firstKeyId);
    assert.deepEqual(events[2].detail.target, { alias: 'champion' });
    assert.equal(events[3].detail.override_reason, OVERRIDE_REASON);
    assert.deepEqual(events[3].detail.failed.map((r: { rule: string }) => r.rule), ['accuracy']);

    const text = await cli('models', 'history', MODEL);
    const lines = text.stdout.trimEnd().split('\n');
    assert.deepEqual(fields(lines[0]), ['TIME', 'ACTOR', 'KIND', 'VERSION', 'DETAILS']);
    assert.equal(lines.length, 7);
    const aliasLine = lines[4]!;
    assert.ok(aliasLine.startsWith(`${new Date(events[3].time).toISOString()}  local-admin  alias_set`), aliasLine);
    assert.ok(aliasLine.endsWith(`alias=champion gates=1 override_reason=${JSON.stringify(OVERRIDE_REASON)} failed=accuracy`), aliasLine);
  });

  it('shows the signing key that models get reported', async () => {
    const pem = createPublicKey(createPrivateKey(readFileSync(keyFile(), 'utf8'))).export({ format: 'pem', type: 'spki' }) as string;
    const shown = await cli('keys', 'show');
    assert.equal(shown.code, 0, shown.stderr);
    const [head, table] = shown.stdout.split('\n\n');
    assert.equal(head, `current key: ${firstKeyId}\n${pem.trimEnd()}`);
    const rows = table!.trimEnd().split('\n');
    assert.deepEqual(fields(rows[0]), ['KEY_ID', 'CURRENT', 'CREATED', 'RETIRED']);
    assert.deepEqual(fields(rows[1]).slice(0, 2), [firstKeyId, 'yes']);
    assert.equal(rows.length, 2);
  });

  it('rotates the key on the server machine; new versions are signed with the new key and old versions still verify', async () => {
    const rotated = await runCli(['keys', 'rotate', '--data', dataDir], { XDG_CONFIG_HOME: home });
    assert.equal(rotated.code, 0, rotated.stderr);
    const newKeyId = keyIdOfFile(keyFile());
    assert.notEqual(newKeyId, firstKeyId);
    assert.equal(rotated.stdout, `retired ${firstKeyId}; new signing key ${newKeyId} (servers using this key file sign with it from their next registration)\n`);
    assert.equal(keyIdOfFile(`${keyFile()}.${firstKeyId.replace(':', '-')}.retired`), firstKeyId);

    await server.stop();
    server = await startServer({ dataDir });
    const verified = await cli('models', 'verify', MODEL, '1');
    assert.equal(verified.code, 0, verified.stdout);
    assert.equal(verified.stdout, `verified ${MODEL} version 1: ${manifest.digest} signed by ${firstKeyId}\n`);

    const keys = await json('keys', 'show');
    assert.equal(keys.current_key_id, newKeyId);
    assert.deepEqual(keys.keys.map((k: Record<string, unknown>) => [k.key_id, k.current, typeof k.retired_time]), [
      [firstKeyId, false, 'number'],
      [newKeyId, true, 'undefined'],
    ]);

    const second = await json('models', 'register', MODEL, modelDir);
    assert.deepEqual([second.version, second.semver, second.signing_key_id, second.manifest_digest], ['2', '0.2.0', newKeyId, manifest.digest]);
    assert.equal((await cli('models', 'verify', MODEL, '2')).code, 0);
  });

  it('fails verification and names the changed file when a stored file no longer matches', async () => {
    const stored = join(dataDir, 'artifacts', '0', runId, 'artifacts', 'model', 'extra', 'labels.txt');
    assert.ok(existsSync(stored), stored);
    writeFileSync(stored, LABELS.toUpperCase()); // same size, other bytes
    const verified = await cli('models', 'verify', MODEL, '1');
    assert.equal(verified.code, 1);
    const key = `0/${runId}/artifacts/model/extra/labels.txt`;
    assert.equal(
      verified.stdout,
      `NOT verified ${MODEL} version 1:\n  extra/labels.txt: sha256 (expected ${sha256(LABELS)}, found unreadable: blob '${key}' failed verification: sha256 mismatch)\n`,
    );
  });
});
