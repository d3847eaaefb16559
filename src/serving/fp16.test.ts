import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fromHalfBits, toHalfBits } from './fp16.js';

const SMALLEST_SUBNORMAL = 2 ** -24;

describe('toHalfBits', () => {
  test('known values', () => {
    const cases: [number, number][] = [
      [1, 0x3c00],
      [-2, 0xc000],
      [0.5, 0x3800],
      [65504, 0x7bff],
      [65519.99, 0x7bff],
      [65520, 0x7c00],
      [1e10, 0x7c00],
      [-1e10, 0xfc00],
      [Infinity, 0x7c00],
      [-Infinity, 0xfc00],
      [0, 0x0000],
      [-0, 0x8000],
      [5.960464477539063e-8, 0x0001],
      [6.097555160522461e-5, 0x03ff],
      [2 ** -14, 0x0400],
      [0.1, 0x2e66],
      [1 / 3, 0x3555],
      [Math.PI, 0x4248],
    ];
    for (const [x, bits] of cases) assert.equal(toHalfBits(x), bits, `toHalfBits(${x})`);
  });

  test('NaN keeps a quiet NaN pattern', () => {
    assert.equal(toHalfBits(NaN), 0x7e00);
    assert.ok(Number.isNaN(fromHalfBits(toHalfBits(NaN))));
  });

  test('ties round to the even mantissa', () => {
    assert.equal(toHalfBits(2049), 0x6800);
    assert.equal(toHalfBits(2051), 0x6802);
    assert.equal(toHalfBits(2049.0000001), 0x6801);
    assert.equal(toHalfBits(1 + 2 ** -11), 0x3c00);
    assert.equal(toHalfBits(1 + 3 * 2 ** -11), 0x3c02);
  });

  test('subnormals and underflow', () => {
    assert.equal(toHalfBits(SMALLEST_SUBNORMAL / 2), 0x0000);
    assert.equal(toHalfBits(-SMALLEST_SUBNORMAL / 2), 0x8000);
    assert.equal(toHalfBits(SMALLEST_SUBNORMAL * 0.5000001), 0x0001);
    assert.equal(toHalfBits(SMALLEST_SUBNORMAL * 1.5), 0x0002);
    assert.equal(toHalfBits(SMALLEST_SUBNORMAL * 2.5), 0x0002);
    assert.equal(toHalfBits(1e-30), 0x0000);
    assert.equal(toHalfBits(5e-324), 0x0000);
    assert.equal(toHalfBits(2 ** -14 - SMALLEST_SUBNORMAL / 4), 0x0400);
  });

  test('every half value round-trips, and midpoints between neighbours round to nearest-even', () => {
    for (let h = 0; h < 0x10000; h++) {
      const x = fromHalfBits(h);
      if (Number.isNaN(x)) continue;
      assert.equal(toHalfBits(x), h);
      if ((h & 0x7fff) >= 0x7bff) continue;
      const next = fromHalfBits(h + 1);
      const mid = (x + next) / 2;
      const away = Math.sign(mid) * (Math.abs(next - x) / 1024);
      assert.equal(toHalfBits(mid), (h & 1) === 0 ? h : h + 1, `midpoint after 0x${h.toString(16)}`);
      assert.equal(toHalfBits(mid - away), h);
      assert.equal(toHalfBits(mid + away), h + 1);
    }
  });
});

describe('fromHalfBits', () => {
  test('known values', () => {
    assert.equal(fromHalfBits(0x3c00), 1);
    assert.equal(fromHalfBits(0xc000), -2);
    assert.equal(fromHalfBits(0x7bff), 65504);
    assert.equal(fromHalfBits(0x0001), 5.960464477539063e-8);
    assert.equal(fromHalfBits(0x03ff), 6.097555160522461e-5);
    assert.equal(fromHalfBits(0x0400), 2 ** -14);
    assert.equal(fromHalfBits(0x2e66), 0.0999755859375);
    assert.equal(fromHalfBits(0x7c00), Infinity);
    assert.equal(fromHalfBits(0xfc00), -Infinity);
    assert.ok(Object.is(fromHalfBits(0x8000), -0));
    assert.ok(Object.is(fromHalfBits(0x0000), 0));
    assert.ok(Number.isNaN(fromHalfBits(0x7e00)));
    assert.ok(Number.isNaN(fromHalfBits(0xfc01)));
  });
});
