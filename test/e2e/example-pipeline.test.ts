// The example the README leads with, run as a user runs it: `capstan pipelines run
// examples/tabular-classifier/pipeline.yaml` against a server. It must train, pass its gate,
// register a signed model version and deploy it; the deployment answers V2 inference; a second
// run reuses the cached steps and rolls the new version out as a canary.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpRequest, ROOT, runCli, startServer, type ServerProcess } from '../support/server-process.js';

const PIPELINE = join(ROOT, 'examples', 'tabular-classifier', 'pipeline.yaml');

describe('examples/tabular-classifier', () => {
  let dir: string;
  let server: ServerProcess;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'capstan-example-'));
    server = await startServer({ dataDir: join(dir, 'data') });
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('trains, gates, registers and deploys; the second run is cached and goes out as a canary', async () => {
    const first = await runCli(['pipelines', 'run', PIPELINE, '--url', server.url]);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    const f1 = Number(/evaluate\s+succeeded\s+1\s+accuracy=\S+ f1=(\S+)/.exec(first.stdout)?.[1]);
    assert.ok(f1 >= 0.9, first.stdout);
    assert.match(first.stdout, /register\s+succeeded\s+1\s+version=1/);
    assert.match(first.stdout, /deployed cancer-classifier version 1 as cancer/);

    const row = readFileSync(join(ROOT, 'examples', 'tabular-classifier', 'data', 'breast_cancer.csv'), 'utf8').split('\n')[1].split(',').slice(0, 30).map(Number);
    const inferred = await httpRequest(server.url, 'POST', '/v2/models/cancer/infer', { inputs: [{ name: 'input', shape: [1, 30], datatype: 'FP32', data: row }] });
    assert.equal(inferred.status, 200, JSON.stringify(inferred.json));
    assert.deepEqual(inferred.json.outputs.find((o: any) => o.name === 'label').data, [0]); // the first row is malignant
    const verified = await runCli(['models', 'verify', 'cancer-classifier', '1', '--url', server.url]);
    assert.equal(verified.code, 0, verified.stdout);

    const second = await runCli(['pipelines', 'run', PIPELINE, '--url', server.url]);
    assert.equal(second.code, 0, second.stdout + second.stderr);
    assert.match(second.stdout, /train\[lr=0\.0005\]\s+cached/);
    assert.match(second.stdout, /canary: cancer-classifier version 2 next to stable version 1/);
  });
});

describe('examples/tabular-classifier-python', () => {
  it('is a valid pipeline whose Python steps parse', async () => {
    const dir = join(ROOT, 'examples', 'tabular-classifier-python');
    const checked = await runCli(['pipelines', 'validate', join(dir, 'pipeline.yaml')]);
    assert.equal(checked.code, 0, checked.stderr);
    for (const f of readdirSync(join(dir, 'steps')).filter((n) => n.endsWith('.py'))) {
      const r = spawnSync('/usr/bin/python3', ['-c', 'import ast, sys; ast.parse(open(sys.argv[1]).read())', join(dir, 'steps', f)], { encoding: 'utf8' });
      if (r.error) return void console.log('# python3 not available: the Python steps were not parsed');
      assert.equal(r.status, 0, `${f}: ${r.stderr}`);
    }
  });
});
