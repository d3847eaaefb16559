// Seeded pseudo-random data for tests and benchmarks: the same numbers on every run and platform.

/** Uniform doubles in [0, 1) from a 32-bit state (mulberry32). */
export function uniformSource(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fills out[start..end) with normal values (Box–Muller on `uniform`). */
export function fillNormals(out: Float64Array, uniform: () => number, mean = 0, sd = 1, start = 0, end = out.length): Float64Array {
  for (let i = start; i < end; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - uniform()));
    const th = 2 * Math.PI * uniform();
    out[i] = mean + sd * r * Math.cos(th);
    if (i + 1 < end) out[i + 1] = mean + sd * r * Math.sin(th);
  }
  return out;
}

/** n seeded normal values. */
export function seededNormals(n: number, seed: number, mean = 0, sd = 1): Float64Array {
  return fillNormals(new Float64Array(n), uniformSource(seed), mean, sd);
}
