// sortFloat64 must give exactly the order of Float64Array.prototype.sort, value by value and
// bit by bit (−0 before +0, NaN last), on the data the engine meets and on awkward data.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sortedCopy, sortFloat64 } from './sort.js';
import { uniformSource as uniforms } from '../seeded.js';


const SPECIALS = [0, -0, Infinity, -Infinity, NaN, 5e-324, -5e-324, 2.2250738585072014e-308, -2.2250738585072014e-308, 1e-310, -1e-310, Number.MAX_VALUE, -Number.MAX_VALUE, 1, -1];

/** A sample mixing normal-ish values, repeats, specials, subnormals and bit-level neighbours. */
function awkward(n: number, seed: number): Float64Array {
  const u = uniforms(seed);
  const out = new Float64Array(n);
  const bits = new Float64Array(1);
  const words = new Uint32Array(bits.buffer);
  for (let i = 0; i < n; i++) {
    const kind = u();
    if (kind < 0.1) out[i] = SPECIALS[Math.floor(u() * SPECIALS.length)];
    else if (kind < 0.2) out[i] = i > 0 ? out[Math.floor(u() * i)] : 0;
    else if (kind < 0.3) out[i] = (u() - 0.5) * 1e-315;
    else if (kind < 0.4) {
      // Same high word, different low words: values a few ulps apart.
      words[1] = 0x3ff00000 | (u() < 0.5 ? 0 : 0x80000000);
      words[0] = Math.floor(u() * 64);
      out[i] = bits[0];
    } else if (kind < 0.5) out[i] = Math.round((u() - 0.5) * 10);
    else out[i] = Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u()) * 10 ** Math.floor(u() * 8 - 4);
  }
  return out;
}

function assertSameOrder(got: Float64Array, want: Float64Array, what: string): void {
  assert.equal(got.length, want.length, what);
  for (let i = 0; i < want.length; i++) {
    if (!Object.is(got[i], want[i])) assert.fail(`${what}: index ${i} holds ${got[i]}, Float64Array.prototype.sort gives ${want[i]}`);
  }
}

describe('sortFloat64', () => {
  it('equals Float64Array.prototype.sort on awkward data of many sizes', () => {
    for (const n of [0, 1, 2, 7, 255, 256, 257, 1000, 4096, 20_000, 100_001]) {
      for (const seed of [1, 2, 3]) {
        const data = awkward(n, seed * 7919 + n);
        assertSameOrder(sortFloat64(data.slice()), data.slice().sort(), `n=${n} seed=${seed}`);
      }
    }
  });

  it('handles few distinct values, constant data, one sign, and long runs sharing a high word', () => {
    const u = uniforms(42);
    const cases: Record<string, Float64Array> = {
      integers: Float64Array.from({ length: 50_000 }, () => Math.floor(u() * 7)),
      constant: new Float64Array(10_000).fill(3.5),
      zeros: Float64Array.from({ length: 10_000 }, () => (u() < 0.5 ? 0 : -0)),
      negative: Float64Array.from({ length: 10_000 }, () => -u()),
      closeTogether: Float64Array.from({ length: 30_000 }, () => 1 + Math.floor(u() * 1e6) * 2 ** -52),
      infinities: Float64Array.from({ length: 10_000 }, () => [Infinity, -Infinity, NaN, 0][Math.floor(u() * 4)]),
      sorted: Float64Array.from({ length: 10_000 }, (_, i) => i - 5000),
      reversed: Float64Array.from({ length: 10_000 }, (_, i) => 5000 - i),
    };
    for (const [name, data] of Object.entries(cases)) assertSameOrder(sortFloat64(data.slice()), data.slice().sort(), name);
  });

  it('sorts in place, returns its argument, works on a subarray and leaves the source of sortedCopy alone', () => {
    const data = awkward(5000, 9);
    const whole = data.slice();
    const part = whole.subarray(1000, 4000);
    assert.equal(sortFloat64(part), part);
    assertSameOrder(part, data.slice(1000, 4000).sort(), 'subarray');
    assertSameOrder(whole.subarray(0, 1000), data.subarray(0, 1000), 'before the subarray');
    assertSameOrder(whole.subarray(4000), data.subarray(4000), 'after the subarray');
    const source = data.slice();
    assertSameOrder(sortedCopy(source), data.slice().sort(), 'sortedCopy');
    assertSameOrder(source, data, 'sortedCopy source');
  });
});
