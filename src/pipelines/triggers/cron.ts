// Cron schedules for pipeline triggers: the five classic fields (minute hour day-of-month month
// day-of-week), the @-macros, and a time zone (CRON_TZ=Zone prefix or an argument; UTC otherwise).
//
// Rules that surprise people, kept as Vixie cron has them:
// - When day-of-month and day-of-week are both restricted (neither starts with `*`), a day matches
//   if EITHER matches: `0 0 1 * MON` fires on the 1st and on every Monday.
// - 7 is Sunday as well as 0.
// Daylight saving time: a local time that does not exist that day is skipped; one that occurs
// twice fires once, at its first occurrence.
import { invalidParam } from '../../errors/index.js';

export interface CronSchedule {
  /** The expression as given. */
  readonly expr: string;
  /** IANA time zone the fields are read in; null for UTC. */
  readonly timeZone: string | null;
  readonly minutes: readonly number[];
  readonly hours: readonly number[];
  readonly daysOfMonth: readonly number[];
  readonly months: readonly number[];
  /** 0 = Sunday … 6 = Saturday. */
  readonly daysOfWeek: readonly number[];
  /** False when the field starts with `*` (then only the other day field decides). */
  readonly dayOfMonthRestricted: boolean;
  readonly dayOfWeekRestricted: boolean;
}

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

const FIELDS: readonly FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTH_NAMES },
  { name: 'day-of-week', min: 0, max: 7, names: DAY_NAMES },
];

export const CRON_MACROS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
/** No valid schedule waits longer than 8 years (Feb 29 across a skipped leap year such as 2100). */
const SEARCH_YEARS = 12;

/**
 * Reads a cron expression. `timeZone` applies when the expression has no CRON_TZ= prefix; giving
 * both with different zones is an error. Throws INVALID_PARAMETER_VALUE naming the field and token.
 */
export function parseCron(expr: string, timeZone?: string): CronSchedule {
  let body = expr.trim();
  let zone = timeZone ?? null;
  const prefix = /^CRON_TZ=(\S*)\s*/.exec(body);
  if (prefix) {
    if (zone !== null && zone !== prefix[1]) {
      throw invalidParam(`the cron expression names time zone '${prefix[1]}' but the schedule's time zone is '${zone}'; give one`);
    }
    zone = prefix[1];
    body = body.slice(prefix[0].length);
  }
  if (zone !== null) checkTimeZone(zone);
  if (body.startsWith('@')) {
    const macro = CRON_MACROS[body.toLowerCase()];
    if (!macro) throw invalidParam(`'${body}' is not a cron macro Capstan knows; use one of ${Object.keys(CRON_MACROS).join(', ')}`);
    body = macro;
  }
  const parts = body.split(/\s+/).filter(Boolean);
  if (parts.length !== 5) {
    throw invalidParam(`cron expression '${expr}' has ${parts.length} field${parts.length === 1 ? '' : 's'}; expected 5 (minute hour day-of-month month day-of-week)`);
  }
  const [minutes, hours, daysOfMonth, months, weekdays] = parts.map((part, i) => parseField(part, FIELDS[i]));
  const schedule: CronSchedule = {
    expr, timeZone: zone === 'UTC' ? null : zone, minutes, hours, daysOfMonth, months,
    daysOfWeek: [...new Set(weekdays.map((d) => d % 7))].sort((a, b) => a - b),
    dayOfMonthRestricted: !parts[2].startsWith('*'),
    dayOfWeekRestricted: !parts[4].startsWith('*'),
  };
  checkReachable(schedule);
  return schedule;
}

function parseField(text: string, field: FieldSpec): number[] {
  const values = new Set<number>();
  for (const item of text.split(',')) {
    if (!item) throw invalidParam(`${field.name}: empty entry in '${text}'`);
    const [range, stepText, extra] = item.split('/');
    if (extra !== undefined) throw invalidParam(`${field.name}: '${item}' has more than one '/'`);
    let step = 1;
    if (stepText !== undefined) {
      step = /^\d+$/.test(stepText) ? Number(stepText) : NaN;
      if (!(step >= 1)) throw invalidParam(`${field.name}: step '${stepText}' in '${item}' must be a whole number of 1 or more`);
    }
    let lo: number;
    let hi: number;
    if (range === '*') {
      [lo, hi] = [field.min, field.max === 7 ? 6 : field.max];
    } else {
      const ends = range.split('-');
      if (ends.length > 2) throw invalidParam(`${field.name}: '${item}' is not a value, a range a-b or a step`);
      lo = valueOf(ends[0], field);
      // `a/step` runs from a to the end of the field, as in Vixie cron.
      hi = ends.length === 2 ? valueOf(ends[1], field) : stepText !== undefined ? field.max : lo;
      if (field.max === 7 && hi === 0 && lo > 0) hi = 7; // FRI-SUN
      if (hi < lo) throw invalidParam(`${field.name}: '${item}' runs backwards; write it as two ranges, such as '${lo}-${field.max},${field.min}-${hi}'`);
    }
    for (let v = lo; v <= hi; v += step) values.add(v);
  }
  return [...values].sort((a, b) => a - b);
}

function valueOf(token: string, field: FieldSpec): number {
  const named = field.names?.indexOf(token.toUpperCase()) ?? -1;
  if (named >= 0) return named + field.min;
  if (!/^\d+$/.test(token)) {
    const names = field.names ? ` or a name (${field.names[0]}–${field.names[field.names.length - 1]})` : '';
    throw invalidParam(`${field.name}: '${token}' is not a number${names}`);
  }
  const value = Number(token);
  if (value < field.min || value > field.max) throw invalidParam(`${field.name}: '${token}' is out of range ${field.min}–${field.max}`);
  return value;
}

function checkTimeZone(zone: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
  } catch {
    throw invalidParam(`time zone '${zone}' is not an IANA time zone such as Europe/Berlin or UTC`);
  }
}

/** A schedule restricted to days no chosen month has (`0 0 30 2 *`) would never fire. */
function checkReachable(s: CronSchedule): void {
  if (!s.dayOfMonthRestricted || s.dayOfWeekRestricted) return;
  const longest = (m: number) => (m === 2 ? 29 : [4, 6, 9, 11].includes(m) ? 30 : 31);
  if (s.months.some((m) => s.daysOfMonth[0] <= longest(m))) return;
  throw invalidParam(`day-of-month: '${s.expr}' never fires: none of its months has day ${s.daysOfMonth.join(', ')}`);
}

/**
 * The first firing time (epoch ms, on a whole minute) strictly after `afterMs`. Searches local
 * wall-clock time field by field, skipping whole months, days and hours that cannot match.
 */
export function nextAfter(schedule: CronSchedule, afterMs: number): number {
  const clock = zoneClock(schedule.timeZone);
  // Local wall-clock time is carried as a "naive" epoch value: the UTC instant with the same fields.
  let naive = clock.naiveOf(Math.floor(afterMs / MINUTE_MS) * MINUTE_MS + MINUTE_MS);
  const limit = naive + SEARCH_YEARS * 366 * DAY_MS;
  while (naive <= limit) {
    const d = new Date(naive);
    const [y, mo, day, h, mi] = [d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes()];
    if (!schedule.months.includes(mo + 1)) {
      naive = Date.UTC(y, mo + 1, 1);
    } else if (!dayMatches(schedule, day, d.getUTCDay())) {
      naive = Date.UTC(y, mo, day + 1);
    } else {
      const hour = schedule.hours.find((v) => v >= h);
      if (hour === undefined) {
        naive = Date.UTC(y, mo, day + 1);
        continue;
      }
      if (hour !== h) {
        naive = Date.UTC(y, mo, day, hour);
        continue;
      }
      const minute = schedule.minutes.find((v) => v >= mi);
      if (minute === undefined) {
        naive = Date.UTC(y, mo, day, h + 1);
        continue;
      }
      naive = Date.UTC(y, mo, day, h, minute);
      // None: the local time falls in a DST gap. Two: it repeats, and fires at the first only.
      const first = clock.instantsOf(naive)[0];
      if (first !== undefined && first > afterMs) return first;
      naive += MINUTE_MS;
    }
  }
  throw invalidParam(`cron schedule '${schedule.expr}' does not fire within ${SEARCH_YEARS} years after ${new Date(afterMs).toISOString()}`);
}

/** Whether the local wall-clock minute of `epochMs` is one the schedule names. */
export function matchesAt(schedule: CronSchedule, epochMs: number): boolean {
  const d = new Date(zoneClock(schedule.timeZone).naiveOf(epochMs));
  return schedule.minutes.includes(d.getUTCMinutes()) && schedule.hours.includes(d.getUTCHours())
    && schedule.months.includes(d.getUTCMonth() + 1) && dayMatches(schedule, d.getUTCDate(), d.getUTCDay());
}

function dayMatches(s: CronSchedule, dayOfMonth: number, dayOfWeek: number): boolean {
  const dom = s.daysOfMonth.includes(dayOfMonth);
  const dow = s.daysOfWeek.includes(dayOfWeek);
  return s.dayOfMonthRestricted && s.dayOfWeekRestricted ? dom || dow : dom && dow;
}

interface ZoneClock {
  /** The wall-clock fields at an instant, as the UTC instant with those fields. */
  naiveOf(epochMs: number): number;
  /** Every instant showing that wall-clock time, earliest first: none in a gap, two in an overlap. */
  instantsOf(naive: number): number[];
}

const UTC_CLOCK: ZoneClock = { naiveOf: (ms) => ms, instantsOf: (naive) => [naive] };
const clocks = new Map<string, ZoneClock>();

function zoneClock(zone: string | null): ZoneClock {
  if (zone === null) return UTC_CLOCK;
  let clock = clocks.get(zone);
  if (!clock) {
    const format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
    const naiveOf = (ms: number): number => {
      const f: Record<string, number> = {};
      for (const part of format.formatToParts(ms)) if (part.type !== 'literal') f[part.type] = Number(part.value);
      return Date.UTC(f.year, f.month - 1, f.day, f.hour, f.minute, f.second);
    };
    // Offsets change at most twice a year, so the offsets a day either side cover both sides of any change.
    const instantsOf = (naive: number): number[] => {
      const offsets = new Set([-DAY_MS, 0, DAY_MS].map((shift) => naiveOf(naive + shift) - (naive + shift)));
      const found = [...offsets].map((offset) => naive - offset).filter((ms) => naiveOf(ms) === naive);
      return [...new Set(found)].sort((a, b) => a - b);
    };
    clocks.set(zone, (clock = { naiveOf, instantsOf }));
  }
  return clock;
}
