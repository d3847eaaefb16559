import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../../errors/index.js';
import { ExpressionError, evaluate, evaluateCondition, parseExpression, referencedPaths, tryEvaluate, type Expr } from './expr.js';

const ctx = {
  params: { mode: 'full', lr: 0.01, tags: ['a', 'b'] },
  steps: {
    evaluate: { status: 'succeeded', metrics: { f1: 0.93, auc: 0.97 }, outputs: { model: 's3://m/1' } },
    train: { status: 'succeeded', metrics: { loss: [0.4, 0.2] }, outputs: {} },
  },
};

const run = (src: string, vars: object = ctx) => evaluate(parseExpression(src), vars);

/** Asserts that `fn` throws an ExpressionError at `column` whose reason matches `reason`. */
function fails(fn: () => unknown, column: number, reason: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ExpressionError, `expected an ExpressionError, got ${String(err)}`);
    assert.ok(err instanceof AppError);
    assert.equal(err.code, 'INVALID_PARAMETER_VALUE');
    assert.match(err.reason, reason);
    assert.equal(err.column, column, `column of: ${err.message}`);
    return true;
  });
}

/** The tree with positions left out, to compare shapes. */
function shape(e: Expr): unknown {
  switch (e.kind) {
    case 'literal': return e.value;
    case 'ident': return e.name;
    case 'member': return ['.', shape(e.object), e.name];
    case 'index': return ['[]', shape(e.object), shape(e.index)];
    case 'unary': return [e.op, shape(e.operand)];
    case 'binary': return [e.op, shape(e.left), shape(e.right)];
    case 'list': return ['list', ...e.items.map(shape)];
  }
}

describe('parseExpression', () => {
  it('reads literals, with string escapes in both quotes', () => {
    assert.equal(run('42'), 42);
    assert.equal(run('1.5e2'), 150);
    assert.equal(run('.5'), 0.5);
    assert.equal(run('"a\\"b\\n\\u0041"'), 'a"b\nA');
    assert.equal(run("'it\\'s'"), "it's");
    assert.equal(run('true'), true);
    assert.equal(run('null'), null);
    assert.deepEqual(run('[1, "x", [true]]'), [1, 'x', [true]]);
    assert.deepEqual(run('[]'), []);
  });

  it('binds operators by precedence and associates left', () => {
    assert.deepEqual(shape(parseExpression('a || b && c')), ['||', 'a', ['&&', 'b', 'c']]);
    assert.deepEqual(shape(parseExpression('a == 1 + 2 * 3')), ['==', 'a', ['+', 1, ['*', 2, 3]]]);
    assert.deepEqual(shape(parseExpression('10 - 4 - 3')), ['-', ['-', 10, 4], 3]);
    assert.deepEqual(shape(parseExpression('!a.b && -x[0] < 2')), ['&&', ['!', ['.', 'a', 'b']], ['<', ['-', ['[]', 'x', 0]], 2]]);
    assert.deepEqual(shape(parseExpression('(a || b) && c')), ['&&', ['||', 'a', 'b'], 'c']);
    assert.deepEqual(shape(parseExpression('"x" in ["x", "y"]')), ['in', 'x', ['list', 'x', 'y']]);
    assert.equal(run('2 + 3 * 4'), 14);
    assert.equal(run('(2 + 3) * 4'), 20);
    assert.equal(run('10 - 4 - 3'), 3);
    assert.equal(run('7 % 4 * 2'), 6);
    assert.equal(run('-2 * -3'), 6);
  });

  it('reports syntax errors with their column', () => {
    fails(() => parseExpression('a >= '), 6, /expected a value .*found the end/);
    fails(() => parseExpression('a = 1'), 3, /did you mean '=='/);
    fails(() => parseExpression('a & b'), 3, /did you mean '&&'/);
    fails(() => parseExpression('(a || b'), 8, /expected '\)'/);
    fails(() => parseExpression('"open'), 1, /string is not closed/);
    fails(() => parseExpression('"bad \\q"'), 6, /unknown escape '\\q'/);
    fails(() => parseExpression('a b'), 3, /unexpected 'b' after a complete expression/);
    fails(() => parseExpression('a.'), 3, /expected a field name/);
    fails(() => parseExpression('   '), 1, /empty/);
    fails(() => parseExpression('1 # 2'), 3, /unexpected character '#'/);
    fails(() => parseExpression(`${'('.repeat(100)}1${')'.repeat(100)}`), 65, /nests more than 64/);
    fails(() => parseExpression('x'.repeat(5000)), 4097, /longer than 4096/);
  });
});

describe('evaluate', () => {
  it('reads the context by member access and index', () => {
    assert.equal(run('steps.evaluate.metrics.f1'), 0.93);
    assert.equal(run('steps["evaluate"].metrics["auc"]'), 0.97);
    assert.equal(run('steps.train.metrics.loss[1]'), 0.2);
    assert.equal(run('steps.evaluate.metrics.f1 >= 0.9 && params.mode == "full"'), true);
    assert.equal(run('steps.evaluate.status == "succeeded"'), true);
  });

  it('compares and combines by type', () => {
    assert.equal(run('"abc" < "abd"'), true);
    assert.equal(run('"a" + "b"'), 'ab');
    assert.deepEqual(run('[1] + [2]'), [1, 2]);
    assert.equal(run('1 == "1"'), false);
    assert.equal(run('[1, [2]] == [1, [2]]'), true);
    assert.equal(run('null == null'), true);
    assert.equal(run('1 != 2'), true);
    assert.equal(run('7 / 2'), 3.5);
  });

  it('looks up `in` in lists and map keys', () => {
    assert.equal(run('params.mode in ["fast", "full"]'), true);
    assert.equal(run('"b" in params.tags'), true);
    assert.equal(run('"f1" in steps.evaluate.metrics'), true);
    assert.equal(run('"recall" in steps.evaluate.metrics'), false);
    assert.equal(run('"constructor" in steps.evaluate.metrics'), false);
  });

  it('short-circuits && and || without evaluating the right side', () => {
    assert.equal(run('false && steps.nope.metrics.x > 1'), false);
    assert.equal(run('true || 1 / 0 == 1'), true);
    assert.equal(run('"f2" in steps.evaluate.metrics && steps.evaluate.metrics.f2 > 0.5'), false);
    fails(() => run('true && steps.nope.metrics.x > 1'), 15, /no field 'nope' in steps/);
  });

  it('reports evaluation errors with the column instead of throwing TypeErrors', () => {
    fails(() => run('"a" < 1'), 5, /cannot compare string "a" with number 1 using '<'/);
    fails(() => run('steps.evaluate.metrics.f2 > 0.5'), 24, /no field 'f2' in steps\.evaluate\.metrics \(fields: f1, auc\)/);
    fails(() => run('unknown.x'), 1, /unknown name 'unknown' \(known: params, steps\)/);
    fails(() => run('params.mode.x'), 13, /cannot read field 'x' of params\.mode: it is a string/);
    fails(() => run('1 && true'), 3, /'&&' needs true or false on its left; got number 1/);
    fails(() => run('!1'), 1, /'!' needs true or false/);
    fails(() => run('-"a"'), 1, /'-' needs a number/);
    fails(() => run('1 + "a"'), 3, /'\+' needs two numbers, two strings or two lists/);
    fails(() => run('1 % 0'), 3, /division by zero/);
    fails(() => run('params.tags[5]'), 13, /index 5 is out of range/);
    fails(() => run('params.tags["x"]'), 13, /list index must be an integer/);
    fails(() => run('1 in 2'), 3, /needs a list or map on its right/);
    fails(() => run('1e308 * 10'), 7, /too large/);
  });

  it('never reaches into prototypes or unsupported values', () => {
    fails(() => run('params.constructor'), 8, /no field 'constructor'/);
    fails(() => run('params["__proto__"]'), 8, /no field '__proto__'/);
    fails(() => run('f', { f: () => 1 }), 1, /unsupported type \(function\)/);
    fails(() => run('toString'), 1, /unknown name 'toString'/);
  });

  it('requires a condition to be true or false', () => {
    assert.equal(evaluateCondition(parseExpression('1 < 2'), ctx), true);
    fails(() => evaluateCondition(parseExpression('1 + 2'), ctx), 1, /must be true or false; it gives number 3/);
    const bad = tryEvaluate(parseExpression('params.nope'), ctx);
    assert.equal(bad.ok, false);
    assert.ok(!bad.ok && bad.error.column === 8);
    assert.deepEqual(tryEvaluate(parseExpression('params.lr > 0'), ctx), { ok: true, value: true });
  });
});

describe('referencedPaths', () => {
  it('lists each variable path once with its column, following literal indexes', () => {
    const paths = referencedPaths(parseExpression('steps.evaluate.metrics.f1 >= 0.9 && params["mode"] == "full" || steps.train.status in ["failed"]'));
    assert.deepEqual(paths.map((p) => [p.path, p.column]), [['steps.evaluate.metrics.f1', 1], ['params.mode', 37], ['steps.train.status', 65]]);
  });

  it('stops a path at a computed index and reads the index too', () => {
    const paths = referencedPaths(parseExpression('steps.train.metrics[params.metric] > 1 && "x" in steps.prep.outputs'));
    assert.deepEqual(paths.map((p) => p.path), ['steps.train.metrics', 'params.metric', 'steps.prep.outputs']);
    assert.deepEqual(referencedPaths(parseExpression('[a.b, -c, (d)]')).map((p) => p.path), ['a.b', 'c', 'd']);
  });
});
