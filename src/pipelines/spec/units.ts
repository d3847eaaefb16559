// Quantities written the way Kubernetes and CI files write them: durations (`90s`, `30m`, `1h30m`,
// or a number of seconds), CPU (`2`, `0.5`, `500m`) and memory (`4Gi`, `512Mi`, `1G`, or bytes).

export { DURATION_PATTERN, parseDuration } from '../../spec/duration.js';
export const CPU_PATTERN = '^(?:[0-9]+m|[0-9]+(?:\\.[0-9]+)?)$';
export const MEMORY_PATTERN = '^[0-9]+(?:\\.[0-9]+)?(?:Ki|Mi|Gi|Ti|k|K|M|G|T)?$';

const MEMORY_UNITS: Record<string, number> = { '': 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };

/** Thousandths of a core; null when it is not a CPU quantity of at least 1m. */
export function parseCpu(v: unknown): number | null {
  let millis: number;
  if (typeof v === 'number') millis = v * 1000;
  else if (typeof v === 'string' && /^[0-9]+m$/.test(v)) millis = Number(v.slice(0, -1));
  else if (typeof v === 'string' && new RegExp(CPU_PATTERN).test(v)) millis = Number(v) * 1000;
  else return null;
  millis = Math.round(millis);
  return Number.isFinite(millis) && millis >= 1 ? millis : null;
}

/** Bytes; null when it is not a positive memory quantity. */
export function parseMemory(v: unknown): number | null {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v > 0 ? v : null;
  if (typeof v !== 'string') return null;
  const m = /^([0-9]+(?:\.[0-9]+)?)([A-Za-z]*)$/.exec(v);
  if (!m || !Object.hasOwn(MEMORY_UNITS, m[2])) return null;
  const bytes = Math.round(Number(m[1]) * MEMORY_UNITS[m[2]]);
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : null;
}
