import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

/** A numerical cell of the fixtures: a number, an infinity token, or missing. */
export type NumCell = number | 'inf' | '-inf' | null;

/** test/fixtures/drift/stats_expected.json, written by make_stats_expected.py from SciPy and numpy. */
export function statsFixture<T>(): T {
  return JSON.parse(readFileSync(new URL('../fixtures/drift/stats_expected.json', import.meta.url), 'utf8')) as T;
}

/** The finite values of a numerical column, as the drift statistics take them. */
export function finiteOf(cells: NumCell[]): Float64Array {
  return Float64Array.from(cells.filter((c): c is number => typeof c === 'number'));
}

/** The present values of a categorical column. */
export function presentOf(cells: (string | null)[]): string[] {
  return cells.filter((c): c is string => c !== null);
}

/** The spec's tolerance for statistics: |got − exp| ≤ 1e-9·|exp| + 1e-12. */
export function assertStat(got: number, exp: number, what: string): void {
  assert.ok(Math.abs(got - exp) <= 1e-9 * Math.abs(exp) + 1e-12, `${what}: got ${got}, expected ${exp}`);
}
