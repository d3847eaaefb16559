const scratch = new DataView(new ArrayBuffer(8));

const HALF_INFINITY = 0x7c00;
const HALF_NAN = 0x7e00;
const TWO_POW_24 = 2 ** 24;

/**
 * IEEE-754 binary16 bits of `x`, rounded to nearest-even straight from the double (going through
 * float32 first would round twice). Out-of-range values become ±Infinity.
 */
export function toHalfBits(x: number): number {
  scratch.setFloat64(0, x);
  const high = scratch.getUint32(0);
  const low = scratch.getUint32(4);
  const sign = (high >>> 16) & 0x8000;
  const exponent = ((high >>> 20) & 0x7ff) - 1023;
  const mantissaHigh = high & 0xfffff;
  if (exponent === 1024) return sign | ((mantissaHigh | low) === 0 ? HALF_INFINITY : HALF_NAN);
  if (exponent > 15) return sign | HALF_INFINITY;
  if (exponent >= -14) {
    let half = ((exponent + 15) << 10) | (mantissaHigh >>> 10);
    const rest = mantissaHigh & 0x3ff;
    // A carry out of the mantissa bumps the exponent, and past 65504 lands exactly on Infinity.
    if (rest > 0x200 || (rest === 0x200 && (low !== 0 || (half & 1) === 1))) half++;
    return sign | half;
  }
  if (exponent < -25) return sign;
  const scaled = Math.abs(x) * TWO_POW_24;
  let mantissa = Math.floor(scaled);
  const fraction = scaled - mantissa;
  if (fraction > 0.5 || (fraction === 0.5 && (mantissa & 1) === 1)) mantissa++;
  return sign | mantissa;
}

/** The number whose IEEE-754 binary16 bits are `h` (the low 16 bits are used). */
export function fromHalfBits(h: number): number {
  const exponent = (h >>> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  let magnitude: number;
  if (exponent === 0) magnitude = mantissa / TWO_POW_24;
  else if (exponent === 0x1f) magnitude = mantissa === 0 ? Infinity : NaN;
  else magnitude = (1024 + mantissa) * 2 ** (exponent - 25);
  return h & 0x8000 ? -magnitude : magnitude;
}
