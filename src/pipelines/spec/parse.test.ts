import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { AppError } from '../../errors/index.js';
import { assertValidPipeline, formatPipelineErrors, parsePipeline } from './parse.js';
import type { PipelineError } from './types.js';

const EXAMPLE = readFileSync(new URL('./examples/training.yaml', import.meta.url), 'utf8');

/** `line:column path` of each error, the shape most assertions below compare. */
const where = (errors: readonly PipelineError[]) => errors.map((e) => `${e.line}:${e.column} ${e.path}`);

function errorsOf(text: string): PipelineError[] {
  const { pipeline, errors } = parsePipeline(text);
  assert.equal(pipeline, null, 'an invalid file must not give a pipeline');
  return errors;
}

describe('parsePipeline: the full example', () => {
  const { pipeline, errors } = parsePipeline(EXAMPLE, 'training.yaml');

  it('has no errors', () => {
    assert.deepEqual(errors, []);
    assert.ok(pipeline);
    assert.equal(pipeline.name, 'cancer-classifier');
    assert.equal(pipeline.file, 'training.yaml');
    assert.deepEqual(pipeline.steps.map((s) => s.name), ['ingest', 'validate', 'train', 'evaluate', 'gate', 'register', 'deploy']);
  });

  it('reads params with their types, defaults and rules', () => {
    const [lr, epochs, mode, flag] = pipeline!.params;
    assert.deepEqual(lr, { name: 'lr', type: 'number', default: 0.01, enum: null, min: 0.0001, max: 1, description: 'Learning rate.', line: 5, column: 3 });
    assert.deepEqual([epochs.type, epochs.default, epochs.min, epochs.max], ['integer', 10, 1, null]);
    assert.deepEqual([mode.enum, mode.default], [['fast', 'full'], 'full']);
    assert.deepEqual([flag.type, flag.default], ['boolean', false]);
  });

  it('reads every step key into its typed form', () => {
    const step = (name: string) => pipeline!.steps.find((s) => s.name === name)!;
    const train = step('train');
    assert.deepEqual(train.run, { kind: 'shell', command: 'python train.py --lr ${{ params.lr }} --epochs ${{ params.epochs }}' });
    assert.equal(train.image, 'ghcr.io/example/trainer:1.4');
    assert.deepEqual(train.matrix, { axes: [{ param: 'lr', values: [0.001, 0.01, 0.1] }], maxParallel: 2 });
    assert.deepEqual(train.resources, { cpuMillis: 4000, memoryBytes: 8 * 2 ** 30, gpu: 1, nodeLabels: { pool: 'gpu' } });
    assert.deepEqual(train.env, { OMP_NUM_THREADS: '4', MODE: '${{ params.mode }}' });
    assert.equal(train.timeoutSeconds, 7200);
    assert.deepEqual(train.inputs, { table: { kind: 'step', step: 'ingest', field: 'outputs', name: 'table' } });
    assert.deepEqual(train.outputs, { artifacts: { model: 'out/model.onnx' }, metrics: ['loss'] });
    assert.deepEqual(step('validate').run, { kind: 'argv', argv: ['python', 'validate.py', '--table', '${{ steps.ingest.outputs.table }}'] });
    assert.deepEqual(step('validate').retry, { count: 2, backoffSeconds: 5, onExitCodes: [75] });
    assert.deepEqual(step('ingest').cache, { enabled: true, ttlSeconds: 7 * 86_400 });
    assert.equal(step('ingest').timeoutSeconds, 1800);
    assert.deepEqual(step('evaluate').resources, { cpuMillis: 500, memoryBytes: 512 * 2 ** 20, gpu: 0, nodeLabels: {} });
    assert.deepEqual(step('evaluate').inputs.reference, { kind: 'dataset', name: 'cancer', version: 'latest' });
    assert.equal(step('gate').when?.source, 'steps.evaluate.metrics.f1 >= 0.9 && params.mode == "full"');
    assert.deepEqual(step('deploy').needs, ['register']);
    assert.deepEqual(step('deploy').retry, { count: 3, backoffSeconds: 10, onExitCodes: [] });
    assert.deepEqual(step('deploy').cache, { enabled: false, ttlSeconds: null });
    assert.equal(step('deploy').timeoutSeconds, 600);
    assert.deepEqual(step('register').secrets, ['CAPSTAN_TOKEN']);
  });

  it('records every reference with the line and column where it is written', () => {
    const sites = (name: string) => pipeline!.steps.find((s) => s.name === name)!.references.map((r) => `${r.line}:${r.column} ${r.field} ${r.text}`);
    assert.deepEqual(sites('ingest'), ['18:38 run datasets.cancer@3']);
    assert.deepEqual(sites('validate'), ['25:46 run steps.ingest.outputs.table']);
    assert.deepEqual(sites('gate'), ['59:11 when steps.evaluate.metrics.f1', '59:47 when params.mode']);
    assert.deepEqual(sites('deploy'), ['70:12 needs register']);
  });
});

const BAD = `name: bad pipeline
descripton: typo
params:
  lr: {type: float, default: 0.1}
  epochs: {type: integer, default: 0.5, min: 1}
  mode: {type: string, enum: [fast, full], default: slow}
steps:
  prep:
    run: python prep.py \${{ params.missing }}
    outputs:
      artifacts: {table: /abs/table.csv}
  train:
    run: [python, 3]
    needs: [prep, ghost]
    retry: {count: -1, backoff: 3}
    timeout: 10 minutes
    resources: {cpu: lots, memory: 4GB, gpu: 1.5}
    secrets: [api_key]
    matrix: {depth: [1, 2]}
    cache: {enabled: yes}
  eval:
    when: steps.train.metrics.f1 >= 0.9 &&
    run: echo \${{ steps.train.outputs.modl }}
    inputs:
      model: steps.train.outputs.model
  loop_a:
    needs: [loop_b]
    run: a
  loop_b:
    run: b \${{ steps.loop_a.outputs.x }}
  me:
    needs: [me]
`;

describe('parsePipeline: a bad file', () => {
  const errors = errorsOf(BAD);

  it('reports every problem at once, in file order, each at its line and column', () => {
    assert.deepEqual(where(errors), [
      '1:7 name',
      '2:1 ',
      '4:14 params.lr.type',
      '5:36 params.epochs.default',
      '6:53 params.mode.default',
      '9:29 steps.prep.run',
      '11:26 steps.prep.outputs.artifacts.table',
      '13:19 steps.train.run[1]',
      '14:19 steps.train.needs[1]',
      '15:20 steps.train.retry.count',
      '15:24 steps.train.retry',
      '16:14 steps.train.timeout',
      '17:22 steps.train.resources.cpu',
      '17:36 steps.train.resources.memory',
      '17:46 steps.train.resources.gpu',
      '18:15 steps.train.secrets[0]',
      '19:14 steps.train.matrix.depth',
      '20:22 steps.train.cache.enabled',
      '22:43 steps.eval.when',
      '23:19 steps.eval.run',
      '25:14 steps.eval.inputs.model',
      '26:3 steps.loop_a',
      '30:16 steps.loop_b.run',
      '31:3 steps.me.run',
      '32:13 steps.me.needs[0]',
    ]);
  });

  it('says what is accepted in each message', () => {
    const message = (path: string) => errors.find((e) => e.path === path)?.message ?? '';
    assert.match(errors[1].message, /unknown key 'descripton' \(known: name, description, params, steps, triggers\)\. Did you mean 'description'\?/);
    assert.match(message('params.lr.type'), /one of string, number, integer, boolean; got "float"/);
    assert.match(message('params.mode.default'), /must be one of fast, full; got "slow"/);
    assert.match(message('steps.prep.run'), /params\.missing is not a declared param \(declared: lr, epochs, mode\)/);
    assert.match(message('steps.train.needs[1]'), /unknown step 'ghost' \(steps: prep, train, eval, loop_a, loop_b, me\)/);
    assert.match(message('steps.train.retry'), /unknown key 'backoff' \(known: count, backoff_seconds, on_exit_codes\)/);
    assert.match(message('steps.train.timeout'), /a duration such as 90s, 30m, 2h/);
    assert.match(message('steps.train.matrix.depth'), /'depth' is not a declared param/);
    assert.match(message('steps.eval.when'), /invalid condition: expected a value/);
    assert.match(message('steps.eval.run'), /step 'train' does not declare output 'modl'/);
    assert.match(message('steps.eval.inputs.model'), /must be one reference/);
    assert.match(message('steps.loop_a'), /loop_a → loop_b → loop_a/);
    assert.match(message('steps.me.run'), /is required/);
    assert.match(message('steps.me.needs[0]'), /step 'me' lists itself in needs/);
  });

  it('is thrown as one INVALID_PARAMETER_VALUE listing file:line:col: path: message', () => {
    assert.throws(() => assertValidPipeline(BAD, 'pipelines/bad.yaml'), (err: unknown) => {
      assert.ok(err instanceof AppError);
      assert.equal(err.code, 'INVALID_PARAMETER_VALUE');
      const lines = err.message.split('\n');
      assert.equal(lines[0], `pipelines/bad.yaml is not a valid pipeline (${errors.length} problems):`);
      assert.equal(lines.length, errors.length + 1);
      assert.match(lines[1], /^pipelines\/bad\.yaml:1:7: name: must be a name/);
      assert.match(lines[2], /^pipelines\/bad\.yaml:2:1: unknown key 'descripton'/);
      assert.deepEqual(err.details?.errors, errors);
      return true;
    });
    assert.equal(assertValidPipeline(EXAMPLE).name, 'cancer-classifier');
  });
});

describe('parsePipeline: smaller cases', () => {
  const steps = (body: string, params = '') => `name: p\n${params}steps:\n${body}`;

  it('reports YAML syntax errors with their line, and nothing else', () => {
    const errors = errorsOf('name: p\nsteps:\n  a: {run: [x, y}\n  b: {run: z}\n');
    assert.ok(errors.length >= 1);
    assert.equal(errors[0].line, 3);
    assert.ok(errors.every((e) => e.message.startsWith('YAML syntax error') && e.path === ''), JSON.stringify(errors));
    assert.match(formatPipelineErrors(errors, 'f.yaml'), /^f\.yaml:3:\d+: YAML syntax error/);
  });

  it('rejects an empty file, a file that is not a mapping, and a missing name or steps', () => {
    assert.deepEqual(where(errorsOf('')), ['1:1 ']);
    assert.match(errorsOf('- a\n')[0].message, /must be a mapping with name, description, params, steps and triggers; got a list/);
    assert.deepEqual(where(errorsOf('description: x\n')), ['1:1 name', '1:1 steps']);
    assert.deepEqual(where(errorsOf('name: p\nsteps: {}\n')), ['2:1 steps']);
  });

  it('reports a key given twice at its second occurrence', () => {
    assert.deepEqual(where(errorsOf(steps('  a: {run: x}\n  a: {run: y}\n'))), ['4:3 steps.a']);
  });

  it('places references inside quoted and block strings exactly', () => {
    const text = steps(`  a:\n    run: |\n      echo one\n      echo \${{ params.nope }}\n  b:\n    run: "go \${{ steps.zz.outputs.x }}"\n`);
    assert.deepEqual(where(errorsOf(text)), ['6:16 steps.a.run', '8:18 steps.b.run']);
  });

  it('accepts a condition wrapped in ${{ }} and checks its names', () => {
    const ok = parsePipeline(steps('  a: {run: x, outputs: {metrics: [f1]}}\n  b: {run: y, when: "${{ steps.a.metrics.f1 > 0.5 }}"}\n'));
    assert.deepEqual(ok.errors, []);
    assert.equal(ok.pipeline!.steps[1].when?.source, 'steps.a.metrics.f1 > 0.5');
    const bad = errorsOf(steps('  a: {run: x}\n  b: {run: y, when: "env.X == 1 || steps.a.logs == 2 || steps.a.metrics.f9 > 1 || steps"}\n'));
    assert.deepEqual(bad.map((e) => `${e.column} ${e.message}`), [
      "22 unknown name 'env'; a condition reads params.NAME, steps.STEP.metrics.NAME, steps.STEP.outputs.NAME or steps.STEP.status.",
      "36 steps.a has no field 'logs' (known: metrics, outputs, status).",
      "57 step 'a' does not declare metric 'f9' (its outputs.metrics: none).",
      '83 name a step: params.NAME, steps.STEP.metrics.NAME, steps.STEP.outputs.NAME or steps.STEP.status.',
    ]);
  });

  it('requires inputs to be exactly one reference', () => {
    const errors = errorsOf(steps('  a: {run: x, inputs: {one: "${{ params.p }} and ${{ params.p }}", two: 3, three: "${{ nope }}"}}\n', 'params: {p: {type: string, default: x}}\n'));
    assert.deepEqual(errors.map((e) => e.path), ['steps.a.inputs.one', 'steps.a.inputs.two', 'steps.a.inputs.three']);
    assert.match(errors[2].message, /'\$\{\{ nope \}\}' is not a reference; use params\.NAME/);
  });

  it('checks matrix values against the param type and caps the fan-out', () => {
    const params = 'params: {lr: {type: number, default: 0.1}, depth: {type: integer, default: 1}, mode: {type: string, enum: [a, b]}}\n';
    const typed = errorsOf(steps('  t:\n    run: x\n    matrix: {lr: [0.1, fast, 0.1], depth: [1.5], mode: [c], max_parallel: 0}\n', params));
    assert.deepEqual(typed.map((e) => `${e.path}: ${e.message}`), [
      'steps.t.matrix.lr[1]: must be a number (the type of param \'lr\'); got "fast".',
      'steps.t.matrix.lr[2]: 0.1 is listed twice.',
      "steps.t.matrix.depth[0]: must be an integer (the type of param 'depth'); got 1.5.",
      "steps.t.matrix.mode[0]: must be one of a, b (the type of param 'mode'); got \"c\".",
      'steps.t.matrix.max_parallel: must be an integer from 1 to 256; got 0.',
    ]);
    const values = (n: number) => `[${Array.from({ length: n }, (_, i) => i + 1).join(', ')}]`;
    const big = errorsOf(steps(`  t:\n    run: x\n    matrix: {lr: ${values(20)}, depth: ${values(13)}}\n`, params));
    assert.deepEqual(where(big), ['6:13 steps.t.matrix']);
    assert.match(big[0].message, /fans out into 260 instances \(20 lr × 13 depth\); at most 256/);
  });

  it('checks param declarations', () => {
    const errors = errorsOf(steps('  a: {run: x}\n', 'params:\n  a: {type: boolean, enum: [true]}\n  b: {type: string, min: 1}\n  c: {type: number, min: 5, max: 1}\n  d: {default: 1}\n  e-f: {type: string}\n  g:\n'));
    assert.deepEqual(errors.map((e) => `${e.path}: ${e.message}`), [
      'params.a.enum: does not apply to boolean params.',
      'params.b.min: applies only to number and integer params, not string.',
      'params.c.min: must not be greater than max (1).',
      'params.d.type: is required: one of string, number, integer, boolean.',
      "params[\"e-f\"]: param name 'e-f' must be a name of letters, digits and '_' that does not start with a digit (at most 64).",
      "params.g: must be a mapping with a type (string, number, integer, boolean), as in '{type: number, default: 0.01}'.",
      'params.g.type: is required: one of string, number, integer, boolean.',
    ]);
  });

  it('checks the remaining step keys', () => {
    const errors = errorsOf(steps([
      '  a:',
      '    run: []',
      '    image: "my image"',
      '    outputs: {artifacts: {m: ../up.bin}, metrics: [f1, f1], logs: x}',
      '    env: {1BAD: x, GOOD: [1]}',
      '    secrets: [TOKEN, TOKEN]',
      '    retry: {on_exit_codes: [0, 3, 3]}',
      '    cache: {ttl: 0s}',
      '    resources: {node_labels: {pool: {a: 1}}}',
      '',
    ].join('\n')));
    assert.deepEqual(errors.map((e) => e.path), [
      'steps.a.run', 'steps.a.image', 'steps.a.outputs.artifacts.m', 'steps.a.outputs.metrics[1]', 'steps.a.outputs',
      'steps.a.env["1BAD"]', 'steps.a.env.GOOD', 'steps.a.secrets[1]', 'steps.a.retry.on_exit_codes[0]', 'steps.a.retry.on_exit_codes[2]',
      'steps.a.cache.ttl', 'steps.a.resources.node_labels.pool',
    ]);
  });

  it('reports a step that is not a mapping once', () => {
    assert.deepEqual(errorsOf(steps('  a: run x\n  b:\n  c: {run: " "}\n  d: {run: x, image: ""}\n')).map((e) => `${e.line}:${e.column} ${e.path}: ${e.message}`), [
      '3:6 steps.a: must be a mapping with at least \'run\'; got "run x".',
      "4:3 steps.b: must be a mapping with at least 'run'; got nothing.",
      '5:12 steps.c.run: must be a command line or a list of argv strings; got " ".',
      "6:22 steps.d.image: must not be empty; give a container image reference such as 'python:3.12-slim'.",
    ]);
  });

  it('rejects a secret that is also an env variable', () => {
    const errors = errorsOf(steps('  a: {run: x, env: {TOKEN: x}, secrets: [TOKEN]}\n'));
    assert.match(errors[0].message, /'TOKEN' is both a secret and an env variable/);
  });
});
