// Durations as declarative files write them: `90s`, `30m`, `1h30m`, `7d`, or a number of seconds.

/** Days, hours, minutes and seconds, in that order, each optional but at least one. */
export const DURATION_PATTERN = '^(?:[0-9]+d)?(?:[0-9]+h)?(?:[0-9]+m)?(?:[0-9]+s)?$';

const DURATION = /^(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?$/;
const UNIT_SECONDS = [86_400, 3600, 60, 1];

/** Seconds in a duration; null when it is not one or is not positive. */
export function parseDuration(v: unknown): number | null {
  if (typeof v === 'number') return Number.isInteger(v) && v > 0 ? v : null;
  if (typeof v !== 'string' || v === '') return null;
  const m = DURATION.exec(v);
  if (!m) return null;
  const seconds = m.slice(1).reduce((sum, part, i) => sum + (part ? Number(part) * UNIT_SECONDS[i] : 0), 0);
  return seconds > 0 && Number.isSafeInteger(seconds) ? seconds : null;
}
