// `capstan drift` as a user runs it: two CSV files in, the report as a table, as JSON with the spec's
// field names, and as a self-contained HTML page; no server involved.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../support/server-process.js';

const REF = join('test', 'fixtures', 'drift', 'reference.csv');
const CUR = join('test', 'fixtures', 'drift', 'current.csv');

describe('capstan drift', () => {
  const dir = mkdtempSync(join(tmpdir(), 'capstan-drift-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reports every column with the spec fields, skips the empty one, and says what it inferred', async () => {
    const res = await runCli(['drift', REF, CUR, '--types', 'age=numerical,city=categorical', '--json']);
    assert.equal(res.code, 0, res.stderr);
    const report = JSON.parse(res.stdout);
    const byName = Object.fromEntries(report.columns.map((c: any) => [c.name, c]));
    assert.deepEqual(report.columns.map((c: any) => [c.name, c.type, c.type_source]), [
      ['age', 'numerical', 'declared'], ['income', 'numerical', 'inferred'], ['city', 'categorical', 'declared'], ['zip', 'categorical', 'inferred'], ['notes', 'categorical', 'inferred'],
    ]);
    const age = byName.age;
    assert.equal(age.reference.n_rows, 300);
    assert.equal(age.reference.missing_count, 18);
    for (const key of ['ks', 'binned_q10', 'wasserstein', 'evidently']) assert.ok(key in age.drift, key);
    assert.equal(age.drift.ks.method_used, 'exact');
    assert.ok(age.drift.ks.pvalue < 1e-6, 'a +6 shift of a sd-8 column over 300/200 rows is detected');
    assert.equal(age.drift.evidently.auto_method, 'ks');
    assert.equal(byName.income.reference.inf_count, 1);
    assert.equal(byName.income.drift.n_ref, 299);
    const city = byName.city.drift;
    assert.deepEqual(city.new_in_current, ['Nairobi']);
    assert.ok(city.categories.includes('with,comma') && city.categories.includes(' leading space') && city.categories.includes('São Paulo') && city.categories.includes('with "quote"'));
    assert.equal(city.chi2_gof.statistic, 'Infinity');
    assert.equal(city.chi2_gof.pvalue, 0);
    assert.ok(Number.isFinite(city.chi2_contingency.statistic));
    assert.deepEqual(byName.zip.reference.categories, ['00501', '10001']);
    assert.deepEqual(byName.notes.drift, { skipped: 'empty reference', n_ref: 0, n_cur: 0 });
    assert.equal(report.dataset.evidently.n_columns_tested, 4);
  });

  it('prints a table and writes a self-contained HTML page', async () => {
    const html = join(dir, 'report.html');
    const res = await runCli(['drift', REF, CUR, '--html', html]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^age\s+numerical\*\s+ks\s+\S+\s+DRIFT/m);
    assert.match(res.stdout, /notes\s+categorical\*\s+skipped: empty reference/);
    const page = readFileSync(html, 'utf8');
    assert.match(page, /^<!doctype html>/);
    assert.ok(!/<script|https?:\/\//.test(page), 'nothing to run or fetch');
    assert.match(page, /<svg/);
  });

  it('refuses a bad --types and different headers with a one-line error', async () => {
    const bad = await runCli(['drift', REF, CUR, '--types', 'age=number']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--types: 'age=number'/);
    const other = await runCli(['drift', REF, join('test', 'fixtures', 'datasets', 'iris.csv')]);
    assert.equal(other.code, 1);
    assert.match(other.stderr, /same columns/);
  });
});
