import { endianness } from 'node:os';

/**
 * Metric history is stored as chunks: every write appends, per key, one row holding that write's
 * points packed as three float64 columns (steps, timestamps, values), sorted by (step, timestamp,
 * value). Appending a few rows per batch instead of one indexed row per point is what lets a 2-core
 * machine ingest hundreds of thousands of points a second; reads decode and merge the chunks in
 * columnar form, never building an object per point. Float64 holds steps and millisecond
 * timestamps exactly (< 2^53) and NaN/±Infinity as they are.
 */
if (endianness() !== 'LE') throw new Error('metric chunks are encoded little-endian; this platform is big-endian');

export interface Point {
  step: number;
  timestamp: number;
  value: number;
}

/** A sorted, duplicate-free series of points of one metric key. */
export interface Series {
  steps: Float64Array;
  timestamps: Float64Array;
  values: Float64Array;
}

function compareValues(a: number, b: number): number {
  const an = Number.isNaN(a);
  const bn = Number.isNaN(b);
  if (an || bn) return an === bn ? 0 : an ? 1 : -1;
  return a === b ? 0 : a < b ? -1 : 1;
}

/** Total order of points: step, then timestamp, then value with NaN above every number. */
export function comparePoints(a: Point, b: Point): number {
  if (a.step !== b.step) return a.step - b.step;
  if (a.timestamp !== b.timestamp) return a.timestamp - b.timestamp;
  return compareValues(a.value, b.value);
}

function compareAt(s: Series, i: number, t: Series, j: number): number {
  if (s.steps[i] !== t.steps[j]) return s.steps[i]! - t.steps[j]!;
  if (s.timestamps[i] !== t.timestamps[j]) return s.timestamps[i]! - t.timestamps[j]!;
  return compareValues(s.values[i]!, t.values[j]!);
}

export const seriesLength = (s: Series): number => s.steps.length;

export function pointAt(s: Series, i: number): Point {
  return { step: s.steps[i]!, timestamp: s.timestamps[i]!, value: s.values[i]! };
}

/** First index of `s` strictly after `after` (0 when `after` is null). */
export function startAfter(s: Series, after: Point | null): number {
  let i = 0;
  if (after) while (i < seriesLength(s) && comparePoints(pointAt(s, i), after) <= 0) i++;
  return i;
}

export function sliceSeries(s: Series, start: number, end = seriesLength(s)): Series {
  return { steps: s.steps.subarray(start, end), timestamps: s.timestamps.subarray(start, end), values: s.values.subarray(start, end) };
}

/** Packs points sorted and without exact repeats, so every chunk is strictly increasing. */
export function encodeChunk(points: Point[]): Buffer {
  const sorted = [...points].sort(comparePoints).filter((p, i, all) => i === 0 || comparePoints(all[i - 1]!, p) !== 0);
  const n = sorted.length;
  const cols = new Float64Array(3 * n);
  for (let i = 0; i < n; i++) {
    const p = sorted[i]!;
    cols[i] = p.step;
    cols[n + i] = p.timestamp;
    cols[2 * n + i] = p.value;
  }
  return Buffer.from(cols.buffer, cols.byteOffset, cols.byteLength);
}

export function decodeChunk(data: Uint8Array): Series {
  // Copied into an aligned buffer: a driver's Buffer may start at any byte offset.
  const cols = new Float64Array(new Uint8Array(data).buffer);
  const n = cols.length / 3;
  return { steps: cols.subarray(0, n), timestamps: cols.subarray(n, 2 * n), values: cols.subarray(2 * n) };
}

function concat(chunks: Series[], total: number): Series {
  const out: Series = { steps: new Float64Array(total), timestamps: new Float64Array(total), values: new Float64Array(total) };
  let at = 0;
  for (const c of chunks) {
    out.steps.set(c.steps, at);
    out.timestamps.set(c.timestamps, at);
    out.values.set(c.values, at);
    at += seriesLength(c);
  }
  return out;
}

function sortSeries(s: Series): Series {
  const order = Array.from({ length: seriesLength(s) }, (_, i) => i).sort((i, j) => compareAt(s, i, s, j));
  const out: Series = { steps: new Float64Array(order.length), timestamps: new Float64Array(order.length), values: new Float64Array(order.length) };
  order.forEach((from, to) => {
    out.steps[to] = s.steps[from]!;
    out.timestamps[to] = s.timestamps[from]!;
    out.values[to] = s.values[from]!;
  });
  return out;
}

/**
 * Merges sorted chunks into one sorted series without exact repeats: an identical (step, timestamp,
 * value) logged twice, e.g. by a client retry, is one point. Chunks that follow each other in order
 * (the usual case: steps only grow) are concatenated without sorting.
 */
export function mergeChunks(chunks: Series[]): Series {
  let total = 0;
  let ordered = true;
  let prev: Series | undefined;
  for (const c of chunks) {
    const n = seriesLength(c);
    if (n === 0) continue;
    if (prev && compareAt(prev, seriesLength(prev) - 1, c, 0) > 0) ordered = false;
    prev = c;
    total += n;
  }
  const all = ordered ? concat(chunks, total) : sortSeries(concat(chunks, total));
  let w = 0;
  for (let r = 0; r < total; r++) {
    if (w > 0 && compareAt(all, w - 1, all, r) === 0) continue;
    all.steps[w] = all.steps[r]!;
    all.timestamps[w] = all.timestamps[r]!;
    all.values[w] = all.values[r]!;
    w++;
  }
  return sliceSeries(all, 0, w);
}

/** True when the chunks, each strictly increasing, also follow each other strictly: no merge needed. */
export function isStrictlyOrdered(chunks: Series[]): boolean {
  for (let k = 1; k < chunks.length; k++) {
    const prev = chunks[k - 1]!;
    if (seriesLength(prev) && seriesLength(chunks[k]!) && compareAt(prev, seriesLength(prev) - 1, chunks[k]!, 0) >= 0) return false;
  }
  return true;
}
