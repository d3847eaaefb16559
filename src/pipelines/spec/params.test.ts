import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../../errors/index.js';
import { coerceParam, parseOverride, resolveParams } from './params.js';
import type { ParamSpec } from './types.js';

const param = (name: string, rest: Partial<ParamSpec>): ParamSpec => ({ name, type: 'string', default: null, enum: null, min: null, max: null, description: '', line: 1, column: 1, ...rest });
const PARAMS = [
  param('lr', { type: 'number', default: 0.01, min: 0, max: 1 }),
  param('epochs', { type: 'integer', default: 10, min: 1 }),
  param('mode', { type: 'string', enum: ['fast', 'full'] }),
  param('flag', { type: 'boolean', default: false }),
  param('note', { type: 'string', default: '' }),
];
const spec = (name: string) => PARAMS.find((p) => p.name === name)!;

function invalid(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof AppError, String(err));
    assert.equal(err.code, 'INVALID_PARAMETER_VALUE');
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

describe('coerceParam', () => {
  it('turns text into the declared type', () => {
    assert.equal(coerceParam(spec('lr'), '0.02'), 0.02);
    assert.equal(coerceParam(spec('lr'), '1e-3'), 0.001);
    assert.equal(coerceParam(spec('lr'), ' .5 '), 0.5);
    assert.equal(coerceParam(spec('epochs'), '+20'), 20);
    assert.equal(coerceParam(spec('flag'), 'TRUE'), true);
    assert.equal(coerceParam(spec('flag'), 'false'), false);
    assert.equal(coerceParam(spec('mode'), 'full'), 'full');
    assert.equal(coerceParam(spec('note'), ' 12 '), ' 12 ');
  });

  it('names the param and what it accepts when the text does not fit', () => {
    invalid(() => coerceParam(spec('lr'), 'fast'), `Param 'lr' must be a number from 0 to 1; got "fast".`);
    invalid(() => coerceParam(spec('lr'), '2'), `Param 'lr' must be a number from 0 to 1; got "2".`);
    invalid(() => coerceParam(spec('epochs'), '1.5'), `Param 'epochs' must be an integer of at least 1; got "1.5".`);
    invalid(() => coerceParam(spec('epochs'), '0'), `Param 'epochs' must be an integer of at least 1; got "0".`);
    invalid(() => coerceParam(spec('epochs'), '99999999999999999999'), /must be an integer/);
    invalid(() => coerceParam(spec('mode'), 'slow'), `Param 'mode' must be one of fast, full; got "slow".`);
    invalid(() => coerceParam(spec('flag'), 'yes'), `Param 'flag' must be true or false; got "yes".`);
    invalid(() => coerceParam(param('cap', { type: 'number', max: 5 }), 'Infinity'), `Param 'cap' must be a number of at most 5; got "Infinity".`);
    invalid(() => coerceParam(spec('lr'), ''), /must be a number/);
  });
});

describe('parseOverride', () => {
  it('splits at the first =', () => {
    assert.deepEqual(parseOverride('lr=0.02'), { name: 'lr', text: '0.02' });
    assert.deepEqual(parseOverride('query=a=b'), { name: 'query', text: 'a=b' });
    assert.deepEqual(parseOverride('note='), { name: 'note', text: '' });
  });

  it('refuses text that is not NAME=VALUE', () => {
    invalid(() => parseOverride('lr'), 'A param override must look like NAME=VALUE (as in lr=0.02); got "lr".');
    invalid(() => parseOverride('=1'), /NAME=VALUE/);
    invalid(() => parseOverride('my-param=1'), /NAME=VALUE/);
  });
});

describe('resolveParams', () => {
  it('starts from the defaults and applies overrides, from -p strings or a map', () => {
    assert.deepEqual(resolveParams(PARAMS, ['mode=fast']), { lr: 0.01, epochs: 10, mode: 'fast', flag: false, note: '' });
    assert.deepEqual(resolveParams(PARAMS, ['lr=0.5', 'mode=full', 'flag=true']), { lr: 0.5, epochs: 10, mode: 'full', flag: true, note: '' });
    assert.deepEqual(resolveParams(PARAMS, { mode: 'full', epochs: '3' }), { lr: 0.01, epochs: 3, mode: 'full', flag: false, note: '' });
  });

  it('reports every problem at once', () => {
    invalid(() => resolveParams(PARAMS, ['lr=x', 'lr=0.1', 'depth=3', 'oops', 'epochs=0']), [
      'Invalid params:',
      "  - A param override must look like NAME=VALUE (as in lr=0.02); got \"oops\".",
      '  - Param \'lr\' must be a number from 0 to 1; got "x".',
      "  - Param 'lr' is given twice.",
      "  - Unknown param 'depth' (declared: lr, epochs, mode, flag, note).",
      '  - Param \'epochs\' must be an integer of at least 1; got "0".',
      "  - Param 'mode' has no default; give it a value (mode=...), one of fast, full.",
    ].join('\n'));
  });

  it('requires params that have no default', () => {
    invalid(() => resolveParams(PARAMS), "Param 'mode' has no default; give it a value (mode=...), one of fast, full.");
  });
});
