import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { matchesAt, nextAfter, parseCron } from './cron.js';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();
/** The firing times after `from`, one after another. */
function firings(expr: string, from: string, count: number, timeZone?: string): string[] {
  const schedule = parseCron(expr, timeZone);
  const out: string[] = [];
  for (let t = at(from); out.length < count; ) out.push(iso((t = nextAfter(schedule, t))));
  return out;
}

describe('parseCron', () => {
  it('expands lists, ranges, steps and names', () => {
    const s = parseCron('*/15 1-10/3,22 1,15 jan,Jul-SEP mon-FRI');
    assert.deepEqual(s.minutes, [0, 15, 30, 45]);
    assert.deepEqual(s.hours, [1, 4, 7, 10, 22]);
    assert.deepEqual(s.daysOfMonth, [1, 15]);
    assert.deepEqual(s.months, [1, 7, 8, 9]);
    assert.deepEqual(s.daysOfWeek, [1, 2, 3, 4, 5]);
    assert.equal(s.timeZone, null);
    assert.deepEqual(parseCron('5/20 * * * *').minutes, [5, 25, 45]);
  });

  it('takes 7 as Sunday and wraps a weekday range ending on Sunday', () => {
    assert.deepEqual(parseCron('0 0 * * 7').daysOfWeek, [0]);
    assert.deepEqual(parseCron('0 0 * * 0-7').daysOfWeek, [0, 1, 2, 3, 4, 5, 6]);
    assert.deepEqual(parseCron('0 0 * * FRI-SUN').daysOfWeek, [0, 5, 6]);
  });

  it('knows the macros, in any case', () => {
    const fields = (expr: string) => {
      const { expr: _e, ...rest } = parseCron(expr);
      return rest;
    };
    assert.deepEqual(fields('@hourly'), fields('0 * * * *'));
    assert.deepEqual(fields('@DAILY'), fields('0 0 * * *'));
    assert.deepEqual(fields('@midnight'), fields('0 0 * * *'));
    assert.deepEqual(fields('@weekly'), fields('0 0 * * 0'));
    assert.deepEqual(fields('@monthly'), fields('0 0 1 * *'));
    assert.deepEqual(fields('@yearly'), fields('0 0 1 1 *'));
    assert.deepEqual(fields('@annually'), fields('0 0 1 1 *'));
  });

  it('takes the time zone from a CRON_TZ= prefix or the argument', () => {
    assert.equal(parseCron('CRON_TZ=Europe/Berlin 0 3 * * *').timeZone, 'Europe/Berlin');
    assert.equal(parseCron('0 3 * * *', 'America/New_York').timeZone, 'America/New_York');
    assert.equal(parseCron('CRON_TZ=Europe/Berlin @daily', 'Europe/Berlin').timeZone, 'Europe/Berlin');
    assert.equal(parseCron('0 3 * * *', 'UTC').timeZone, null);
  });

  it('names the field and the bad token', () => {
    const cases: Array<[string, string]> = [
      ['61 * * * *', "minute: '61' is out of range 0–59"],
      ['* 24 * * *', "hour: '24' is out of range 0–23"],
      ['* * 0 * *', "day-of-month: '0' is out of range 1–31"],
      ['* * * 13 *', "month: '13' is out of range 1–12"],
      ['* * * * 8', "day-of-week: '8' is out of range 0–7"],
      ['* * * FOO *', "month: 'FOO' is not a number or a name (JAN–DEC)"],
      ['* * * * MONDAY', "day-of-week: 'MONDAY' is not a number or a name (SUN–SAT)"],
      ['*/0 * * * *', "minute: step '0' in '*/0' must be a whole number of 1 or more"],
      ['* 5-1 * * *', "hour: '5-1' runs backwards; write it as two ranges, such as '5-23,0-1'"],
      ['1,,2 * * * *', "minute: empty entry in '1,,2'"],
      ['1.5 * * * *', "minute: '1.5' is not a number"],
      ['* * * *', "cron expression '* * * *' has 4 fields; expected 5 (minute hour day-of-month month day-of-week)"],
      ['0 0 * * * *', "cron expression '0 0 * * * *' has 6 fields; expected 5 (minute hour day-of-month month day-of-week)"],
      ['@reboot', "'@reboot' is not a cron macro Capstan knows; use one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly"],
      ['0 0 30 2 *', "day-of-month: '0 0 30 2 *' never fires: none of its months has day 30"],
      ['CRON_TZ=Mars/Olympus 0 0 * * *', "time zone 'Mars/Olympus' is not an IANA time zone such as Europe/Berlin or UTC"],
    ];
    for (const [expr, message] of cases) {
      assert.throws(() => parseCron(expr), { code: 'INVALID_PARAMETER_VALUE', message }, expr);
    }
    assert.throws(() => parseCron('CRON_TZ=Europe/Berlin 0 0 * * *', 'UTC'), { code: 'INVALID_PARAMETER_VALUE', message: /names time zone 'Europe\/Berlin'/ });
  });
});

describe('nextAfter', () => {
  it('is strictly after, on a whole minute', () => {
    assert.deepEqual(firings('*/5 * * * *', '2025-01-01T10:05:00Z', 2), ['2025-01-01T10:10:00.000Z', '2025-01-01T10:15:00.000Z']);
    assert.deepEqual(firings('* * * * *', '2025-01-01T10:05:59.999Z', 1), ['2025-01-01T10:06:00.000Z']);
    assert.deepEqual(firings('59 23 31 12 *', '2025-12-31T23:59:00Z', 1), ['2026-12-31T23:59:00.000Z']);
  });

  it('finds a leap day, also across 2100, which is not a leap year', () => {
    assert.deepEqual(firings('0 0 29 2 *', '2024-03-01T00:00:00Z', 2), ['2028-02-29T00:00:00.000Z', '2032-02-29T00:00:00.000Z']);
    assert.deepEqual(firings('0 0 29 2 *', '2096-03-01T00:00:00Z', 1), ['2104-02-29T00:00:00.000Z']);
  });

  it('fires when either day field matches if both are restricted, else when both do', () => {
    // September 2025 starts on a Monday.
    assert.deepEqual(firings('0 0 1 * MON', '2025-09-02T00:00:00Z', 5), [
      '2025-09-08T00:00:00.000Z', '2025-09-15T00:00:00.000Z', '2025-09-22T00:00:00.000Z', '2025-09-29T00:00:00.000Z', '2025-10-01T00:00:00.000Z',
    ]);
    assert.deepEqual(firings('0 0 13 * 5', '2025-06-01T00:00:00Z', 3), ['2025-06-06T00:00:00.000Z', '2025-06-13T00:00:00.000Z', '2025-06-20T00:00:00.000Z']);
    assert.deepEqual(firings('0 0 * * MON', '2025-09-02T00:00:00Z', 1), ['2025-09-08T00:00:00.000Z']);
    // A day field starting with * does not count as restricted: odd days that are Mondays.
    assert.deepEqual(firings('0 0 */2 * MON', '2025-09-02T00:00:00Z', 2), ['2025-09-15T00:00:00.000Z', '2025-09-29T00:00:00.000Z']);
  });

  it('runs the macros at their times', () => {
    const from = '2025-05-14T10:15:00Z'; // a Wednesday
    assert.deepEqual(firings('@hourly', from, 1), ['2025-05-14T11:00:00.000Z']);
    assert.deepEqual(firings('@daily', from, 1), ['2025-05-15T00:00:00.000Z']);
    assert.deepEqual(firings('@weekly', from, 1), ['2025-05-18T00:00:00.000Z']);
    assert.deepEqual(firings('@monthly', from, 1), ['2025-06-01T00:00:00.000Z']);
    assert.deepEqual(firings('@yearly', from, 1), ['2026-01-01T00:00:00.000Z']);
  });

  it('reads the fields in the time zone', () => {
    assert.deepEqual(firings('CRON_TZ=Europe/Berlin 0 3 * * *', '2025-01-10T12:00:00Z', 1), ['2025-01-11T02:00:00.000Z']);
    assert.deepEqual(firings('0 3 * * *', '2025-07-10T12:00:00Z', 1, 'Europe/Berlin'), ['2025-07-11T01:00:00.000Z']);
    assert.deepEqual(firings('30 9 * * *', '2025-07-10T00:00:00Z', 1, 'Asia/Kolkata'), ['2025-07-10T04:00:00.000Z']);
  });

  it('skips a local time that does not exist (spring forward)', () => {
    // Berlin, 2025-03-30: 02:00 CET becomes 03:00 CEST.
    assert.deepEqual(firings('30 2 * * *', '2025-03-29T02:00:00Z', 2, 'Europe/Berlin'), ['2025-03-31T00:30:00.000Z', '2025-04-01T00:30:00.000Z']);
    assert.deepEqual(firings('*/30 * * * *', '2025-03-30T00:00:00Z', 2, 'Europe/Berlin'), ['2025-03-30T00:30:00.000Z', '2025-03-30T01:00:00.000Z']);
    // New York, 2025-03-09: 02:00 EST becomes 03:00 EDT.
    assert.deepEqual(firings('0 2 * * *', '2025-03-08T12:00:00Z', 1, 'America/New_York'), ['2025-03-10T06:00:00.000Z']);
    assert.deepEqual(firings('*/30 * * * *', '2025-03-09T06:00:00Z', 2, 'America/New_York'), ['2025-03-09T06:30:00.000Z', '2025-03-09T07:00:00.000Z']);
  });

  it('fires a repeated local time once, at its first occurrence (fall back)', () => {
    // Berlin, 2025-10-26: 03:00 CEST becomes 02:00 CET.
    assert.deepEqual(firings('30 2 * * *', '2025-10-25T12:00:00Z', 2, 'Europe/Berlin'), ['2025-10-26T00:30:00.000Z', '2025-10-27T01:30:00.000Z']);
    // New York, 2025-11-02: 02:00 EDT becomes 01:00 EST; 01:00 and 01:30 happen twice.
    assert.deepEqual(firings('30 1 * * *', '2025-11-01T12:00:00Z', 2, 'America/New_York'), ['2025-11-02T05:30:00.000Z', '2025-11-03T06:30:00.000Z']);
    assert.deepEqual(firings('*/30 * * * *', '2025-11-02T04:45:00Z', 3, 'America/New_York'), ['2025-11-02T05:00:00.000Z', '2025-11-02T05:30:00.000Z', '2025-11-02T07:00:00.000Z']);
  });

  it('handles a half-hour daylight saving shift (Lord Howe Island)', () => {
    // 2025-10-05 02:00 local (+10:30) becomes 02:30 (+11:00); 02:00–02:29 do not exist.
    assert.deepEqual(firings('15 2 * * *', '2025-10-04T00:00:00Z', 1, 'Australia/Lord_Howe'), ['2025-10-05T15:15:00.000Z']);
  });
});

// Time zones with whole-hour, half-hour and no daylight saving changes.
const ZONES = [undefined, 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kolkata'];
const localFormats = new Map<string, Intl.DateTimeFormat>();
function wallClock(ms: number, zone: string | undefined): string {
  let format = localFormats.get(zone ?? 'UTC');
  if (!format) {
    format = new Intl.DateTimeFormat('en-GB', { timeZone: zone ?? 'UTC', dateStyle: 'short', timeStyle: 'short', hourCycle: 'h23' });
    localFormats.set(zone ?? 'UTC', format);
  }
  return format.format(ms);
}
/** True when the wall-clock time at `ms` was also shown within the 3 hours before it (a repeated hour). */
const isRepeat = (ms: number, zone: string | undefined) =>
  [1, 2, 3, 4, 5, 6].some((k) => wallClock(ms - k * 1_800_000, zone) === wallClock(ms, zone));

const field = (min: number, max: number) => fc.oneof(
  fc.constant('*'),
  fc.integer({ min: 2, max: Math.min(20, max) }).map((step) => `*/${step}`),
  fc.uniqueArray(fc.integer({ min, max }), { minLength: 1, maxLength: 4 }).map((v) => v.join(',')),
  fc.tuple(fc.integer({ min, max }), fc.integer({ min, max }), fc.integer({ min: 1, max: 5 }))
    .map(([a, b, step]) => `${Math.min(a, b)}-${Math.max(a, b)}/${step}`),
);
const after = fc.integer({ min: at('2020-01-01T00:00:00Z'), max: at('2035-01-01T00:00:00Z') });
// Daylight saving changes in Berlin, New York and on Lord Howe Island, to start near one often.
const CHANGES = ['2025-03-30T01:00:00Z', '2025-10-26T01:00:00Z', '2025-03-09T07:00:00Z', '2025-11-02T06:00:00Z', '2025-10-04T15:30:00Z', '2026-04-04T15:00:00Z'];
const nearChange = fc.constantFrom(...CHANGES.map(at)).chain((t) => fc.integer({ min: t - 86_400_000, max: t + 3_600_000 }));

describe('nextAfter, checked against brute force', () => {
  it('returns a matching minute and skips none, for schedules firing every day (time zones included)', () => {
    fc.assert(fc.property(field(0, 59), field(0, 23), fc.constantFrom(...ZONES), fc.oneof(after, nearChange), (minute, hour, zone, from) => {
      const schedule = parseCron(`${minute} ${hour} * * *`, zone);
      const next = nextAfter(schedule, from);
      assert.ok(next > from && next % 60_000 === 0);
      assert.ok(matchesAt(schedule, next), `${iso(next)} does not match`);
      assert.ok(next - from <= 2 * 86_400_000, 'a daily schedule fires within two days');
      for (let t = Math.floor(from / 60_000) * 60_000 + 60_000; t < next; t += 60_000) {
        if (matchesAt(schedule, t) && !isRepeat(t, zone)) assert.fail(`${iso(t)} matches and comes before ${iso(next)}`);
      }
    }), { numRuns: 300 });
  });

  it('skips no matching day, for any day, month and weekday fields (UTC)', () => {
    const expr = fc.tuple(field(0, 59), field(0, 23), field(1, 31), field(1, 12), field(0, 7)).map((f) => f.join(' '));
    fc.assert(fc.property(expr, after, (text, from) => {
      let schedule;
      try {
        schedule = parseCron(text);
      } catch {
        return; // never fires (such as day 31 of February only)
      }
      const next = nextAfter(schedule, from);
      assert.ok(next > from && matchesAt(schedule, next), `${text}: ${iso(next)} does not match`);
      // Whole days in between must not match at all; the first and last day are checked minute by minute.
      const day = (ms: number) => Math.floor(ms / 86_400_000);
      const firstMinute = Math.floor(from / 60_000) * 60_000 + 60_000;
      const minuteByMinute = (start: number, end: number) => {
        for (let t = start; t < end; t += 60_000) assert.ok(!matchesAt(schedule, t), `${text}: ${iso(t)} matches before ${iso(next)}`);
      };
      minuteByMinute(firstMinute, Math.min(next, (day(from) + 1) * 86_400_000));
      for (let d = day(from) + 1; d < day(next); d++) {
        const date = new Date(d * 86_400_000);
        const probe = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate(), schedule.hours[0], schedule.minutes[0]);
        assert.ok(!matchesAt(schedule, probe), `${text}: ${iso(probe)} matches before ${iso(next)}`);
      }
      minuteByMinute(Math.max(firstMinute, day(next) * 86_400_000), next);
    }), { numRuns: 300 });
  });
});
