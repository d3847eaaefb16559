import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AppError } from '../errors/index.js';
import { needsLosslessParse, parseJsonLossless } from './json-lossless.js';

function assertMalformed(text: string, position: number, reason: RegExp): void {
  assert.throws(
    () => parseJsonLossless(text),
    (error: unknown) => {
      assert.ok(error instanceof AppError);
      assert.equal(error.code, 'BAD_REQUEST');
      assert.ok(error.message.startsWith(`Malformed JSON body at position ${position}: `), error.message);
      assert.match(error.message, reason);
      return true;
    },
  );
}

describe('parseJsonLossless', () => {
  test('integers beyond 2^53 come back as exact bigints', () => {
    const doc = parseJsonLossless('[-9223372036854775808, 9223372036854775807, 18446744073709551615, 9007199254740992, -9007199254740992]');
    assert.deepEqual(doc, [-9223372036854775808n, 9223372036854775807n, 18446744073709551615n, 9007199254740992n, -9007199254740992n]);
  });

  test('safe integers, fractions and exponents stay numbers', () => {
    const doc = parseJsonLossless('[9007199254740991, -9007199254740991, 12345678901234567.5, 1e300, 1E+2, 2e-3, 0, -0, 0.1]') as number[];
    assert.deepEqual(doc, [9007199254740991, -9007199254740991, 12345678901234567.5, 1e300, 100, 0.002, 0, -0, 0.1]);
    assert.ok(Object.is(doc[7], -0));
  });

  test('strings with escapes, unicode and surrogate pairs', () => {
    const text = String.raw`["a\"b\\c\/d\b\f\n\r\t", "\u00e9\uD83D\uDE00", "plain ünïcode 😀", "", "\ud800"]`;
    assert.deepEqual(parseJsonLossless(text), JSON.parse(text));
  });

  test('objects: nesting, duplicate keys (last wins) and __proto__ as an own property', () => {
    const text = '{"a": {"b": [1, {"c": null}]}, "d": true, "d": false, "__proto__": {"polluted": 1}, "2": "x", "1": "y"}';
    const doc = parseJsonLossless(text) as Record<string, unknown>;
    assert.deepEqual(doc, JSON.parse(text));
    assert.deepEqual(Object.keys(doc), Object.keys(JSON.parse(text) as object));
    assert.equal(Object.getPrototypeOf(doc), Object.prototype);
    assert.ok(Object.hasOwn(doc, '__proto__'));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test('whitespace around values is allowed', () => {
    assert.deepEqual(parseJsonLossless(' \t\r\n{ "a" : [ 1 , 2 ] }\n '), { a: [1, 2] });
  });

  test('malformed documents fail with the position', () => {
    assertMalformed('[1,]', 3, /unexpected character "]"/);
    assertMalformed('{"a":1,}', 7, /unexpected character "}"/);
    assertMalformed('[1 // c\n]', 3, /unexpected character "\/"/);
    assertMalformed('01', 1, /unexpected character "1"/);
    assertMalformed('[1', 2, /unexpected end of input/);
    assertMalformed('', 0, /unexpected end of input/);
    assertMalformed('"abc', 4, /unterminated string/);
    assertMalformed('"a\nb"', 2, /control character/);
    assertMalformed('"\\x"', 2, /invalid escape/);
    assertMalformed('"\\u12G4"', 5, /invalid \\u escape/);
    assertMalformed('tru', 0, /expected true/);
    assertMalformed('-', 1, /unexpected end of input/);
    assertMalformed('1.', 2, /unexpected end of input/);
    assertMalformed('1e+', 3, /unexpected end of input/);
    assertMalformed('{"a" 1}', 5, /unexpected character "1"/);
    assertMalformed('{1: 2}', 1, /unexpected character "1"/);
    assertMalformed('NaN', 0, /unexpected character "N"/);
    assertMalformed('1 2', 2, /unexpected character "2"/);
    assertMalformed('\uFEFF1', 0, /unexpected character/);
  });

  test('deep nesting is refused without overflowing the stack', () => {
    assert.deepEqual(parseJsonLossless('['.repeat(512) + ']'.repeat(512)), JSON.parse('['.repeat(512) + ']'.repeat(512)));
    assertMalformed('['.repeat(513) + ']'.repeat(513), 512, /nesting deeper than 512 levels/);
    assertMalformed('{"a":'.repeat(100_000), 2560, /nesting deeper than 512 levels/);
    assertMalformed('['.repeat(1_000_000), 512, /nesting deeper than 512 levels/);
  });

  test('agrees with JSON.parse on arbitrary documents (property)', () => {
    const scalar = fc.oneof(
      fc.constant(null),
      fc.boolean(),
      fc.maxSafeInteger(),
      // Integral doubles past 2^53 print as long integer literals, which are meant to parse differently.
      fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Number.isInteger(d) || Number.isSafeInteger(d)),
      fc.string({ unit: 'grapheme' }),
      fc.string({ unit: 'binary' }),
    );
    const value = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, tie('array'), tie('object')),
      array: fc.array(tie('node'), { maxLength: 5 }),
      object: fc.dictionary(fc.string(), tie('node'), { maxKeys: 5 }),
    })).node;
    const indent = fc.constantFrom(undefined, 0, 2, '\t');
    fc.assert(
      fc.property(value, indent, (v, space) => {
        const text = JSON.stringify(v, null, space);
        assert.deepEqual(parseJsonLossless(text), JSON.parse(text));
      }),
      { numRuns: 500 },
    );
  });

  test('rejects what JSON.parse rejects (property over mangled documents)', () => {
    fc.assert(
      fc.property(fc.json(), fc.nat(), fc.constantFrom('', ',', ']', '}', '"', ':', '\\', 'x', ' 1'), (text, at, junk) => {
        const cut = at % (text.length + 1);
        const mangled = text.slice(0, cut) + junk + text.slice(cut);
        fc.pre(!needsLosslessParse(mangled));
        let expected: unknown;
        try {
          expected = JSON.parse(mangled);
        } catch {
          assert.throws(() => parseJsonLossless(mangled), (e: unknown) => e instanceof AppError && e.code === 'BAD_REQUEST');
          return;
        }
        assert.deepEqual(parseJsonLossless(mangled), expected, mangled);
      }),
      { numRuns: 500 },
    );
  });
});

describe('needsLosslessParse', () => {
  test('flags integer literals of 16 or more digits', () => {
    assert.equal(needsLosslessParse('[9007199254740993]'), true);
    assert.equal(needsLosslessParse('{"a":-1234567890123456}'), true);
    assert.equal(needsLosslessParse('[1,18446744073709551615]'), true);
    assert.equal(needsLosslessParse('12345678901234567'), true);
    assert.equal(needsLosslessParse('-12345678901234567'), true);
    assert.equal(needsLosslessParse('{"a":\n\t12345678901234567 }'), true);
    assert.equal(needsLosslessParse('[0.5, 1234567890123456.5, 12345678901234567]'), true);
  });

  test('passes over short integers and long fractions', () => {
    assert.equal(needsLosslessParse('[123456789012345, 1, 2]'), false);
    assert.equal(needsLosslessParse('[0.12345678901234568, 1.2345678901234567e-8, 12345678901234567.5]'), false);
    assert.equal(needsLosslessParse('[12345678901234567e2, 12345678901234567E2]'), false);
    assert.equal(needsLosslessParse('12345678901234567.5'), false);
    assert.equal(needsLosslessParse('1234567890123456e1'), false);
    assert.equal(needsLosslessParse(''), false);
  });

  test('never misses a literal that JSON.parse would round (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }), fc.constantFrom('', '[', '{"k":', ' ', '\n', '[1.5,'), fc.constantFrom('', ']', '}', ',2', ' '), (n, before, after) => {
        const text = `${before}${n}${after}`;
        if (!Number.isSafeInteger(Number(n))) assert.equal(needsLosslessParse(text), true, text);
      }),
    );
  });
});
