// Datasets, lineage and garbage collection from the command line against a real server process on
// the embedded default: a local directory registered as a dataset version (twice, the same version),
// its profile, a run that reads it and produces a model, the lineage both ways (tree and Mermaid),
// and `capstan gc` finding, removing and then no longer finding a stray artifact folder.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CapstanClient } from '../../src/client/index.js';
import { runCli, startServer, type ServerProcess } from '../support/server-process.js';

const IRIS = readFileSync(new URL('../fixtures/datasets/iris.csv', import.meta.url));
const MODEL = 'iris-clf';
const RUN_NAME = 'train-iris';
const WEIGHTS = 'w1=0.25\nw2=-1.5\n';
const STRAY = 'left behind by a crashed client';
const STRAY_RUN = '0123456789abcdef0123456789abcdef';

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
/** The manifest digest the server computes: one `<sha256> <size> <path>` line per file. */
const digestOf = (files: { path: string; data: Buffer | string }[]) =>
  `sha256:${sha256(`capstan-manifest-v1\n${files.map((f) => `${sha256(f.data)} ${Buffer.byteLength(f.data)} ${f.path}\n`).join('')}`)}`;
const fields = (line: string | undefined) => (line ?? '').trim().split(/\s+/);

describe('datasets, lineage and gc from the command line', () => {
  let dataDir: string;
  let home: string;
  let datasetDir: string;
  let modelDir: string;
  let server: ServerProcess;
  let client: CapstanClient;
  let experimentId: string;
  let runId: string;
  let modelDigest: string;
  const digest = digestOf([{ path: 'data/iris.csv', data: IRIS }]);
  const cli = (...args: string[]) => runCli(args, { XDG_CONFIG_HOME: home, CAPSTAN_URL: server.url });
  const ok = async (...args: string[]) => {
    const result = await cli(...args);
    assert.equal(result.code, 0, result.stderr);
    return result;
  };
  const json = async (...args: string[]) => JSON.parse((await ok(...args, '--json')).stdout);

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'capstan-cli-datasets-'));
    home = mkdtempSync(join(tmpdir(), 'capstan-cli-home-'));
    datasetDir = mkdtempSync(join(tmpdir(), 'capstan-cli-dataset-'));
    mkdirSync(join(datasetDir, 'data'));
    copyFileSync(new URL('../fixtures/datasets/iris.csv', import.meta.url), join(datasetDir, 'data', 'iris.csv'));
    modelDir = mkdtempSync(join(tmpdir(), 'capstan-cli-model-'));
    writeFileSync(join(modelDir, 'weights.txt'), WEIGHTS);
    server = await startServer({ dataDir });
    client = new CapstanClient({ url: server.url });
  });
  after(async () => {
    await server?.stop();
    for (const dir of [dataDir, home, datasetDir, modelDir]) rmSync(dir, { recursive: true, force: true });
  });

  it('registers a local directory as version 1, uploading every file with its relative path', async () => {
    const registered = await ok('datasets', 'register', 'iris', datasetDir);
    assert.equal(registered.stderr, `uploaded 1 file (${IRIS.length} bytes)\n`);
    const lines = registered.stdout.trimEnd().split('\n');
    assert.deepEqual(fields(lines[0]), ['NAME', 'VERSION', 'DIGEST', 'ROWS', 'COLUMNS', 'STATUS']);
    assert.deepEqual(fields(lines[1]), ['iris', '1', digest, '150', '5', 'new']);
    assert.equal(lines.length, 2);

    const v = await json('datasets', 'get', 'iris@1');
    assert.deepEqual(v.files, [{ path: 'data/iris.csv', size: IRIS.length, sha256: sha256(IRIS) }]);
    assert.match(v.source, /^upload:\d{13}-[0-9a-f-]{36}$/);
    assert.deepEqual([v.format, v.row_count, v.file_count, v.size_bytes, v.access, v.sensitive], ['csv', 150, 1, IRIS.length, 'internal', false]);
  });

  it('registers the same content again as the same version, not a new one', async () => {
    const again = await ok('datasets', 'register', 'iris', datasetDir);
    assert.deepEqual(fields(again.stdout.trimEnd().split('\n')[1]), ['iris', '1', digest, '150', '5', 'existing']);
    const result = await json('datasets', 'register', 'iris', datasetDir);
    assert.equal(result.created, false);
    assert.equal(result.dataset_version.version, 1);

    const listed = await ok('datasets', 'list');
    const lines = listed.stdout.trimEnd().split('\n');
    assert.deepEqual(fields(lines[0]), ['NAME', 'VERSION', 'ROWS', 'COLUMNS', 'FORMAT', 'BYTES', 'ACCESS', 'SENSITIVE', 'CREATED', 'DIGEST']);
    assert.deepEqual(fields(lines[1]).filter((_, i) => i !== 8), ['iris', '1', '150', '5', 'csv', String(IRIS.length), 'internal', 'no', digest]);
    assert.equal(lines.length, 2);
    assert.deepEqual(await json('datasets', 'list', 'no-such-dataset'), []);
  });

  it('shows the schema and the profile of every column', async () => {
    const v = await json('datasets', 'get', 'iris');
    // scikit-learn's first line (150,4,class names) is the header, so the columns carry those names.
    assert.deepEqual(v.schema, [
      { name: '150', type: 'float' }, { name: '4', type: 'float' }, { name: 'setosa', type: 'float' }, { name: 'versicolor', type: 'float' }, { name: 'virginica', type: 'integer' },
    ]);
    assert.equal(v.profile.rows, 150);
    const label = v.profile.columns[4];
    assert.deepEqual([label.min, label.max, label.distinct, label.missing], [0, 2, 3, 0]);
    // A running mean (Welford) lands within rounding of the exact 1.
    assert.ok(Math.abs(label.mean - 1) < 1e-12, String(label.mean));
    assert.deepEqual(label.top, [{ value: '0', count: 50 }, { value: '1', count: 50 }, { value: '2', count: 50 }]);

    const shown = await ok('datasets', 'get', 'iris@1');
    const [head, table] = shown.stdout.split('\n\n');
    assert.deepEqual(head!.split('\n').slice(0, 10), [
      'name:         iris',
      'version:      1',
      `digest:       ${digest}`,
      `source:       ${v.source}`,
      'format:       csv',
      'rows:         150',
      `files:        1 (${IRIS.length} bytes) data/iris.csv`,
      'access:       internal',
      'sensitive:    no',
      'description:',
    ]);
    assert.equal(table, [
      'COLUMN      TYPE     MISSING  MIN  MAX  MEAN     STD       DISTINCT  TOP',
      '150         float    0%       4.3  7.9  5.84333  0.828066  35',
      '4           float    0%       2    4.4  3.05733  0.435866  23',
      'setosa      float    0%       1    6.9  3.758    1.7653    43',
      'versicolor  float    0%       0.1  2.5  1.19933  0.762238  22',
      'virginica   integer  0%       0    2    1        0.819232  3         0 (50), 1 (50), 2 (50)',
      '',
    ].join('\n'));

    const missing = await cli('datasets', 'get', 'iris@2');
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'capstan: RESOURCE_DOES_NOT_EXIST: Dataset iris version 2 not found.\n');
  });

  it('links the dataset version to a run as its training input', async () => {
    experimentId = await client.createExperiment('iris-training');
    runId = (await client.createRun(experimentId, RUN_NAME)).info.run_id;
    const linked = await ok('datasets', 'link', runId, 'iris@1', '--context', 'training');
    assert.equal(linked.stdout, `linked iris version 1 to run ${runId} as training\n`);
    const inputs = (await client.getRun(runId)).inputs as { dataset_inputs: { dataset: Record<string, string>; tags: unknown }[] };
    assert.equal(inputs.dataset_inputs.length, 1);
    const [input] = inputs.dataset_inputs;
    assert.deepEqual([input!.dataset.name, input!.dataset.digest, input!.dataset.source], ['iris', digest.slice('sha256:'.length, 39), '{"uri":"capstan-dataset:/iris@1"}']);
    assert.deepEqual(input!.tags, [{ key: 'mlflow.data.context', value: 'training' }]);

    const unversioned = await cli('datasets', 'link', runId, 'iris');
    assert.equal(unversioned.code, 2);
    assert.equal(unversioned.stderr, "capstan: 'iris' needs a version: NAME@VERSION\n");
  });

  it('registers a model from the run and makes it the champion', async () => {
    const registered = await ok('models', 'register', MODEL, modelDir, '--run', runId);
    assert.equal(registered.stderr, `uploaded 1 file (${WEIGHTS.length} bytes) to run ${runId}\n`);
    modelDigest = digestOf([{ path: 'weights.txt', data: WEIGHTS }]);
    assert.deepEqual(fields(registered.stdout.trimEnd().split('\n')[1]).slice(0, 4), [MODEL, '1', '0.1.0', modelDigest]);
    await ok('models', 'alias', MODEL, 'champion', '1');
  });

  it('prints the model lineage as the server\'s Mermaid flowchart', async () => {
    const expected = [
      'flowchart LR',
      `  n0[["${MODEL} v1 (0.1.0)"]]`,
      `  n1("${RUN_NAME}")`,
      '  n2[("iris v1")]',
      '  n2 -->|input_of| n1',
      '  n1 -->|produced| n0',
      '',
    ].join('\n');
    const mermaid = await ok('lineage', 'model', `${MODEL}@champion`, '--mermaid');
    assert.equal(mermaid.stdout, expected);
    const res = await fetch(`${server.url}/api/capstan/lineage/model?uri=${encodeURIComponent(`models:/${MODEL}@champion`)}&format=mermaid`);
    assert.equal(((await res.json()) as { mermaid: string }).mermaid, mermaid.stdout);
    // The same version by number, and as a full URI.
    assert.equal((await ok('lineage', 'model', `${MODEL}/1`, '--mermaid')).stdout, expected);
    assert.equal((await ok('lineage', 'model', `models:/${MODEL}@champion`, '--mermaid')).stdout, expected);
  });

  it('prints the lineage of the model and of the dataset as trees', async () => {
    const run = `run ${RUN_NAME}  run_id=${runId} experiment_id=${experimentId} status=RUNNING`;
    const model = `model version ${MODEL} v1 (0.1.0)  stage=None aliases=champion manifest_digest=${modelDigest}`;
    const dataset = `dataset version iris v1  digest=${digest} rows=150 sensitive=false access=internal`;
    const ofModel = await ok('lineage', 'model', `${MODEL}@champion`);
    assert.equal(ofModel.stdout, [model, `└─ produced by ${run}`, `   └─ reads ${dataset} context=training`, ''].join('\n'));

    const ofDataset = await ok('lineage', 'dataset', 'iris@1');
    assert.equal(ofDataset.stdout, [dataset, `└─ input of ${run}`, `   └─ produced ${model}`, ''].join('\n'));

    const graph = await json('lineage', 'dataset', 'iris@1');
    assert.equal(graph.root, 'dataset:iris@1');
    assert.deepEqual(graph.nodes.map((n: { id: string; kind: string }) => [n.id, n.kind]), [
      ['dataset:iris@1', 'dataset_version'], [`run:${runId}`, 'run'], [`model:${MODEL}/1`, 'model_version'],
    ]);
    assert.deepEqual(graph.edges, [
      { from: 'dataset:iris@1', to: `run:${runId}`, kind: 'input_of' },
      { from: `run:${runId}`, to: `model:${MODEL}/1`, kind: 'produced' },
    ]);
  });

  it('finds nothing to collect while everything stored is referenced', async () => {
    const dry = await ok('gc', '--dry-run');
    assert.equal(dry.stdout, 'nothing to remove\n\ndry run: would remove 0 prefixes, 0 files, 0 bytes (0 B); kept 2\n');
    const report = await json('gc', '--dry-run');
    assert.deepEqual(report, { dry_run: true, retention: [], removed: [], skipped: [], kept: 2, bytes_removed: 0 });
  });

  it('lists a stray folder of a run that does not exist, removes it, then finds nothing', async () => {
    const prefix = `${experimentId}/${STRAY_RUN}`;
    const put = await fetch(`${server.url}/api/2.0/mlflow-artifacts/artifacts/${prefix}/artifacts/x.txt`, { method: 'PUT', body: STRAY });
    assert.equal(put.status, 200, await put.text());
    const stored = join(dataDir, 'artifacts', experimentId, STRAY_RUN);
    assert.ok(existsSync(join(stored, 'artifacts', 'x.txt')));
    const bytes = Buffer.byteLength(STRAY);
    const table = (verb: string) => [
      verb,
      `PREFIX                              FILES  BYTES  SIZE  REASON`,
      `${prefix.padEnd(34)}  1      ${String(bytes).padEnd(5)}  ${bytes} B  orphan: the run does not exist`,
      '',
    ].join('\n');

    const dry = await ok('gc', '--dry-run');
    assert.equal(dry.stdout, `${table('would remove:')}\ndry run: would remove 1 prefix, 1 file, ${bytes} bytes (${bytes} B); kept 2\n`);
    assert.ok(existsSync(stored), 'a dry run removes nothing');

    const removed = await ok('gc');
    assert.equal(removed.stdout, `${table('removed:')}\nremoved 1 prefix, 1 file, ${bytes} bytes (${bytes} B); kept 2\n`);
    assert.equal(existsSync(stored), false);
    assert.equal(readFileSync(join(dataDir, 'artifacts', experimentId, runId, 'artifacts', 'model', 'weights.txt'), 'utf8'), WEIGHTS);

    const after = await json('gc', '--dry-run');
    assert.deepEqual(after, { dry_run: true, retention: [], removed: [], skipped: [], kept: 2, bytes_removed: 0 });
    assert.equal((await ok('lineage', 'model', `${MODEL}@champion`, '--mermaid')).stdout.includes('iris v1'), true);
  });
});
