// A numerical CSV column in 4 bytes a cell instead of 8: a short decimal literal is kept as its
// digits m (an integer below 2^27), its number of decimals s (below 15) and its sign, and decoded
// as m / 10^s — the same single division the parser's fast path performs, so the value is the
// same double. Missing cells and every other value (longer literals, exponents, infinities) are
// escapes, the latter pointing into a side list of doubles.
//
// Word layout (int32): bit 31 sign, bits 27–30 decimals, bits 0–26 digits; decimals = 15 marks an
// escape whose low bits are 0 (missing) or 1 + the index of the value in `extra`.

const DIGITS_MASK = 0x07ffffff;
const SCALE_SHIFT = 27;
const ESCAPE = 15;
const SIGN = -0x80000000;
const POW10 = Float64Array.from({ length: 23 }, (_, k) => 10 ** k);

/** The word of a missing cell. */
export const MISSING_WORD = ESCAPE << SCALE_SHIFT;

/** The word of m / 10^scale (negated when `negative`), or MISSING_WORD when it does not fit (then store the value instead). */
export function decimalWord(m: number, scale: number, negative: boolean): number {
  if (m > DIGITS_MASK || scale >= ESCAPE) return MISSING_WORD;
  return (negative ? SIGN : 0) | (scale << SCALE_SHIFT) | m;
}

/** The value a fast-path literal has: the one division decimalWord's decoding repeats. */
export function decimalValue(m: number, scale: number, negative: boolean): number {
  const v = m / POW10[scale];
  return negative ? -v : v;
}

export class PackedColumn {
  readonly words: Int32Array;
  readonly extra: number[] = [];

  constructor(capacity: number) {
    this.words = new Int32Array(capacity);
  }

  /** Stores a value that has no word of its own (NaN stands for missing). */
  putValue(r: number, v: number): void {
    if (v !== v) {
      this.words[r] = MISSING_WORD;
      return;
    }
    this.extra.push(v);
    this.words[r] = MISSING_WORD | this.extra.length;
  }

  /** Writes rows [0, rows) as doubles to `out`, NaN where missing. */
  decodeInto(out: Float64Array, rows: number): void {
    const { words, extra } = this;
    for (let r = 0; r < rows; r++) {
      const w = words[r];
      const scale = (w >>> SCALE_SHIFT) & ESCAPE;
      if (scale === ESCAPE) {
        const k = w & DIGITS_MASK;
        out[r] = k === 0 ? NaN : extra[k - 1];
        continue;
      }
      const v = (w & DIGITS_MASK) / POW10[scale];
      out[r] = w < 0 ? -v : v;
    }
  }

  /** Whether one of rows [0, rows) is present. */
  anyPresent(rows: number): boolean {
    for (let r = 0; r < rows; r++) if (this.words[r] !== MISSING_WORD) return true;
    return false;
  }
}
