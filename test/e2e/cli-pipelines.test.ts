// `capstan pipelines validate | graph | order` on files, with no server: a valid pipeline, and a bad
// one whose every problem is reported at once with its line.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../support/server-process.js';

const EXAMPLE = 'src/pipelines/spec/examples/training.yaml';
const BAD = `name: bad
steps:
  a: {run: x, needs: [b]}
  b: {run: y, needs: [a], retry: {count: -1}}
  c: {run: "echo \${{ steps.zz.outputs.m }}", colour: red}
`;

describe('capstan pipelines', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'capstan-cli-pipelines-'));
    writeFileSync(join(dir, 'bad.yaml'), BAD);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts a valid file, draws it and orders its steps', async () => {
    const ok = await runCli(['pipelines', 'validate', EXAMPLE]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /pipeline \S+ is valid \(\d+ steps\)/);
    const graph = await runCli(['pipelines', 'graph', EXAMPLE, '--mermaid']);
    assert.equal(graph.code, 0, graph.stderr);
    assert.match(graph.stdout, /^flowchart TD\n/);
    assert.match(graph.stdout, /-->/);
    const order = (await runCli(['pipelines', 'order', EXAMPLE])).stdout.trim().split('\n');
    assert.ok(order.indexOf('train') < order.indexOf('evaluate'), order.join(' '));
  });

  it('reports every problem of a bad file with its line, and exits 1', async () => {
    const file = join(dir, 'bad.yaml');
    const r = await runCli(['pipelines', 'validate', file]);
    assert.equal(r.code, 1);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.at(-1), '4 problems');
    assert.match(r.stderr, new RegExp(`${file}:3:\\d+: steps\\.a: .*cycle: a → b → a`));
    assert.match(r.stderr, new RegExp(`${file}:4:\\d+: steps\\.b\\.retry\\.count: `));
    assert.match(r.stderr, /unknown step 'zz'/);
    assert.match(r.stderr, /unknown key 'colour'/);
    const json = JSON.parse((await runCli(['pipelines', 'validate', file, '--json'])).stdout);
    assert.equal(json.valid, false);
    assert.equal(json.errors.length, 4);
    const graph = await runCli(['pipelines', 'graph', file, '--mermaid']);
    assert.equal(graph.code, 1);
  });
});
