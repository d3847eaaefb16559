import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { AppError } from '../../errors/index.js';
import { evaluateCondition, parseExpression } from './expr.js';
import { combineResults, conditionContext, expandMatrix, instanceParams, matrixSize, MAX_MATRIX_INSTANCES } from './matrix.js';
import { assertValidPipeline } from './parse.js';
import { renderTemplate, resolveReference } from './refs.js';
import type { Matrix, StepResult } from './types.js';

const EXAMPLE = readFileSync(new URL('./examples/training.yaml', import.meta.url), 'utf8');
const step = (matrix: Matrix | null) => ({ name: 'train', matrix });
const done = (outputs: Record<string, unknown>, metrics: Record<string, unknown>, status: StepResult['status'] = 'succeeded'): StepResult => ({ status, outputs, metrics });

describe('expandMatrix', () => {
  it('gives one instance per combination, first axis slowest, values in listed order', () => {
    const instances = expandMatrix(step({ axes: [{ param: 'lr', values: [0.01, 0.1] }, { param: 'depth', values: [3, 5, 7] }], maxParallel: null }));
    assert.deepEqual(instances.map((i) => i.name), [
      'train[lr=0.01,depth=3]', 'train[lr=0.01,depth=5]', 'train[lr=0.01,depth=7]',
      'train[lr=0.1,depth=3]', 'train[lr=0.1,depth=5]', 'train[lr=0.1,depth=7]',
    ]);
    assert.deepEqual(instances[4], { name: 'train[lr=0.1,depth=5]', step: 'train', index: 4, values: { lr: 0.1, depth: 5 } });
    assert.deepEqual(instanceParams({ lr: 0.5, depth: 1, mode: 'full' }, instances[4]), { lr: 0.1, depth: 5, mode: 'full' });
  });

  it('quotes string values that would make the name ambiguous', () => {
    const names = expandMatrix(step({ axes: [{ param: 'mode', values: ['fast', 'a,b', ''] }, { param: 'flag', values: [true] }], maxParallel: 1 })).map((i) => i.name);
    assert.deepEqual(names, ['train[mode=fast,flag=true]', 'train[mode="a,b",flag=true]', 'train[mode="",flag=true]']);
  });

  it('gives a step without a matrix one instance under its own name', () => {
    assert.deepEqual(expandMatrix(step(null)), [{ name: 'train', step: 'train', index: 0, values: {} }]);
    assert.equal(matrixSize(step(null)), 1);
  });

  it('refuses more instances than the cap, saying how many and why', () => {
    const values = (n: number) => Array.from({ length: n }, (_, i) => i);
    const big = step({ axes: [{ param: 'a', values: values(16) }, { param: 'b', values: values(17) }], maxParallel: null });
    assert.equal(MAX_MATRIX_INSTANCES, 256);
    assert.throws(() => expandMatrix(big), (err: unknown) => {
      assert.ok(err instanceof AppError);
      assert.equal(err.code, 'INVALID_PARAMETER_VALUE');
      assert.equal(err.message, "Step 'train' fans out into 272 instances (16 a × 17 b); at most 256 are allowed. List fewer values or split the step.");
      return true;
    });
    assert.equal(expandMatrix(big, 300).length, 272);
    assert.throws(() => expandMatrix(step({ axes: [{ param: 'a', values: values(3) }], maxParallel: null }), 2), /fans out into 3 instances/);
  });
});

describe('combineResults', () => {
  const train = step({ axes: [{ param: 'lr', values: [0.01, 0.1, 1] }], maxParallel: null });

  it('turns each output and metric of a matrix step into the list of its instances', () => {
    const combined = combineResults(train, [done({ model: 'm1' }, { loss: 0.3 }), done({ model: 'm2' }, { loss: 0.2 }), done({}, { loss: 0.9, extra: 1 })]);
    assert.deepEqual(combined, { status: 'succeeded', outputs: { model: ['m1', 'm2', null] }, metrics: { loss: [0.3, 0.2, 0.9], extra: [null, null, 1] } });
  });

  it('fails if any instance failed and is skipped only if all were', () => {
    assert.equal(combineResults(train, [done({}, {}), done({}, {}, 'failed'), done({}, {}, 'skipped')]).status, 'failed');
    assert.equal(combineResults(train, [done({}, {}, 'skipped'), done({}, {}, 'skipped'), done({}, {}, 'skipped')]).status, 'skipped');
  });

  it('passes a plain step through and checks the number of results', () => {
    const r = done({ model: 'm' }, { f1: 0.9 });
    assert.equal(combineResults(step(null), [r]), r);
    assert.throws(() => combineResults(train, [r]), /runs as 3 instances; got 1 result/);
  });
});

describe('downstream of a matrix step', () => {
  const pipeline = assertValidPipeline(EXAMPLE);
  const instances = expandMatrix(pipeline.steps.find((s) => s.name === 'train')!);
  const ctx = conditionContext(pipeline, { lr: 0.01, epochs: 10, mode: 'full', flag: false }, {
    ingest: [done({ table: 's3://a/table.parquet' }, {})],
    train: instances.map((i) => done({ model: `s3://a/${i.name}/model.onnx` }, { loss: i.values.lr })),
    evaluate: [done({ best: 's3://a/best.onnx' }, { f1: 0.93, auc: 0.97 })],
  });

  it('receives the list of every instance output, in expansion order', () => {
    assert.deepEqual(instances.map((i) => i.name), ['train[lr=0.001]', 'train[lr=0.01]', 'train[lr=0.1]']);
    const evaluate = pipeline.steps.find((s) => s.name === 'evaluate')!;
    assert.deepEqual(resolveReference(evaluate.inputs.models, ctx), ['s3://a/train[lr=0.001]/model.onnx', 's3://a/train[lr=0.01]/model.onnx', 's3://a/train[lr=0.1]/model.onnx']);
    assert.deepEqual(resolveReference(evaluate.inputs.reference, ctx, { 'cancer@latest': '/data/cancer/7' }), '/data/cancer/7');
  });

  it('lets conditions read the lists and the plain steps alike', () => {
    const gate = pipeline.steps.find((s) => s.name === 'gate')!;
    assert.equal(evaluateCondition(gate.when!.ast, ctx), true);
    assert.equal(evaluateCondition(parseExpression('steps.train.metrics.loss[2] == 0.1 && 0.01 in steps.train.metrics.loss'), ctx), true);
    assert.equal(evaluateCondition(gate.when!.ast, { ...ctx, params: { ...ctx.params, mode: 'fast' } }), false);
  });

  it('fills references into command lines', () => {
    assert.equal(renderTemplate('python train.py --lr ${{ params.lr }} --in ${{steps.ingest.outputs.table}}', ctx), 'python train.py --lr 0.01 --in s3://a/table.parquet');
    assert.equal(renderTemplate('echo ${{ steps.train.metrics.loss }}', ctx), 'echo [0.001,0.01,0.1]');
    assert.throws(() => renderTemplate('${{ steps.register.outputs.receipt }}', ctx), /steps\.register has no value/);
    assert.throws(() => renderTemplate('${{ params.lr', ctx), /has no closing/);
  });
});
