// Column and table profiles: counts by class, moments, merges equal to profiling the concatenation,
// row-wise and column-wise feeding, JSON round trips, category caps and edge cases.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { moments, qualityNumerical } from '../stats/quality.js';
import { sketchDecileEdges } from './bins.js';
import { CategoricalProfile, NumericProfile, PROFILE_FORMAT_VERSION, TableProfile } from './profile.js';
import { seededNormals, uniformSource } from '../seeded.js';

const close = (got: number, exp: number, rel: number, what: string): void =>
  assert.ok(Math.abs(got - exp) <= rel * Math.abs(exp), `${what}: got ${got}, expected ${exp}`);

/** Normal values around 1e6 (σ = 1) with missing, NaN and infinite cells sprinkled in. */
function messyColumn(n: number, seed: number): (number | null)[] {
  const u = uniformSource(seed + 1);
  return Array.from(seededNormals(n, seed, 1e6, 1), (x) => {
    const r = u();
    return r < 0.02 ? null : r < 0.03 ? NaN : r < 0.035 ? Infinity : r < 0.04 ? -Infinity : x;
  });
}

function categories(n: number, seed: number, distinct: number): (string | null)[] {
  const u = uniformSource(seed);
  return Array.from({ length: n }, () => (u() < 0.05 ? null : `c${Math.floor(u() * u() * distinct)}`));
}

function assertSameNumeric(got: NumericProfile, exp: NumericProfile, what: string): void {
  for (const key of ['rows', 'missing', 'nan', 'posInf', 'negInf', 'finite', 'min', 'max'] as const) assert.equal(got[key], exp[key], `${what} ${key}`);
  close(got.mean, exp.mean, 1e-12, `${what} mean`);
  close(got.variance, exp.variance, 1e-12, `${what} variance`);
}

describe('NumericProfile', () => {
  const cells = messyColumn(50_000, 21);
  const finite = Float64Array.from(cells.filter((c): c is number => c !== null && Number.isFinite(c)));

  it('counts cells by class and matches the exact moments and extremes', () => {
    const p = new NumericProfile();
    p.addValues(cells);
    const q = qualityNumerical(cells);
    assert.equal(p.rows, 50_000);
    assert.equal(p.missing + p.nan, q.missing_count);
    assert.equal(p.posInf + p.negInf, q.inf_count);
    assert.equal(p.finite, q.finite_count);
    assert.equal(p.min, q.min);
    assert.equal(p.max, q.max);
    const m = moments(finite);
    close(p.mean, m.mean, 1e-14, 'mean');
    close(Math.sqrt(p.variance), m.std_pop, 1e-9, 'std_pop');
    const facts = p.facts();
    assert.equal(facts.missing_share, q.missing_share);
    close(facts.std!, q.std!, 1e-9, 'std');
    close(facts.p50!, q.p50!, 1e-5, 'median from the sketch');
  });

  it('gives the same profile row by row, column-wise, from a Float64Array and merged from parts', () => {
    const whole = new NumericProfile();
    whole.addValues(cells);
    const rowwise = new NumericProfile();
    for (const c of cells) rowwise.add(c);
    const typed = new NumericProfile();
    typed.addValues(Float64Array.from(cells, (c) => (c === null ? NaN : c)));
    const parts = [0, 10_000, 10_001, 35_000, 50_000];
    const merged = new NumericProfile({ seed: 1 });
    for (let i = 0; i + 1 < parts.length; i++) {
      const part = new NumericProfile({ seed: 10 + i });
      part.addValues(cells, parts[i], parts[i + 1]);
      merged.merge(part);
    }
    assertSameNumeric(rowwise, whole, 'row-wise');
    assertSameNumeric(merged, whole, 'merged');
    assert.equal(typed.nan, whole.nan + whole.missing);
    close(typed.mean, whole.mean, 1e-15, 'typed mean');
    assert.ok(Math.abs(merged.sketch.cdf(1e6) - whole.sketch.cdf(1e6)) < 0.02);
  });

  it('merges associatively and survives JSON', () => {
    const [a, b, c] = [0, 1, 2].map((i) => {
      const p = new NumericProfile({ seed: i });
      p.addValues(cells, i * 15_000, (i + 1) * 15_000);
      return p;
    });
    const left = a.clone().merge(b).merge(c);
    const right = a.clone().merge(b.clone().merge(c));
    assertSameNumeric(left, right, 'associativity');
    const restored = NumericProfile.fromJSON(JSON.parse(JSON.stringify(left)));
    assert.deepEqual(restored.toJSON(), left.toJSON());
  });

  it('reads strings by the CSV rules, rejects other cells', () => {
    const p = new NumericProfile();
    for (const v of ['1.5', '', 'inf', '-inf', null, undefined, 2n, -0.5]) p.add(v);
    assert.deepEqual([p.rows, p.missing, p.posInf, p.negInf, p.finite, p.min, p.max], [8, 3, 1, 1, 3, -0.5, 2]);
    assert.throws(() => p.add('abc'), TypeError);
    assert.throws(() => p.add({}), TypeError);
    const before = JSON.stringify(p);
    assert.throws(() => p.addValues([1, null, NaN, '1'] as never), TypeError);
    assert.equal(JSON.stringify(p), before, 'a rejected batch changes nothing');
  });

  it('describes empty, all-missing and constant columns', () => {
    const empty = new NumericProfile().facts();
    assert.deepEqual([empty.n_rows, empty.missing_share, empty.min, empty.mean, empty.std, empty.p50], [0, null, null, null, null, null]);
    const missing = new NumericProfile();
    missing.addValues([null, null, NaN]);
    assert.deepEqual([missing.facts().missing_share, missing.facts().finite_count, missing.toJSON().min], [1, 0, null]);
    const constant = new NumericProfile();
    constant.addValues(new Float64Array(5000).fill(3.25));
    const f = constant.facts();
    assert.deepEqual([f.min, f.max, f.mean, f.std_pop, f.p25, f.p75], [3.25, 3.25, 3.25, 0, 3.25, 3.25]);
  });

  it('keeps exact fixed bins through merges only when the edges agree', () => {
    const edges = [-1, 0, 1];
    const a = new NumericProfile({ binEdges: edges });
    const b = new NumericProfile({ binEdges: edges });
    a.addValues([-2, -1, -0.5, 0, 0.5, 1, 2, null]);
    b.addValues([5, 5]);
    assert.deepEqual(a.merge(b).bins!.counts, [2, 2, 2, 3]);
    const other = new NumericProfile({ binEdges: [0] });
    other.addValues([1]);
    assert.equal(a.clone().merge(other).bins, null);
    const noneYet = new NumericProfile({ binEdges: [7] });
    assert.deepEqual(noneYet.merge(a).bins!.counts, [2, 2, 2, 3]);
  });
});

describe('CategoricalProfile', () => {
  const cells = categories(20_000, 5, 40);

  it('counts values and missing cells exactly', () => {
    const p = new CategoricalProfile();
    p.addValues(cells);
    const present = cells.filter((c): c is string => c !== null);
    assert.equal(p.missing, cells.length - present.length);
    const { categories: names, counts } = p.categoryCounts();
    names.forEach((name, i) => assert.equal(counts[i], present.filter((c) => c === name).length));
    assert.equal(p.overflow, 0);
    assert.equal(p.facts().distinct_count, new Set(present).size);
  });

  it('caps the tracked values; merges equal profiling the concatenation, whatever the split', () => {
    const whole = new CategoricalProfile({ maxCategories: 12 });
    whole.addValues(cells);
    assert.ok(whole.overflow > 0);
    const tracked = whole.categoryCounts();
    assert.equal(tracked.categories.length, 12);
    tracked.categories.forEach((c, i) => assert.equal(tracked.counts[i], cells.filter((v) => v === c).length, c));
    for (const cut of [1, 777, 10_000, 19_999]) {
      const a = new CategoricalProfile({ maxCategories: 12 });
      const b = new CategoricalProfile({ maxCategories: 12 });
      const c = new CategoricalProfile({ maxCategories: 12 });
      a.addValues(cells, 0, cut);
      b.addValues(cells, cut, Math.min(cut + 3000, cells.length));
      c.addValues(cells, Math.min(cut + 3000, cells.length));
      assert.deepEqual(a.clone().merge(b).merge(c).toJSON(), whole.toJSON(), `split at ${cut}`);
      assert.deepEqual(a.clone().merge(b.clone().merge(c)).toJSON(), whole.toJSON(), `right fold at ${cut}`);
    }
    const facts = whole.facts();
    assert.equal(facts.distinct_count_exact, false);
    assert.equal(facts.overflow_count, whole.overflow);
    assert.ok(facts.distinct_count > 12);
  });

  it('row-wise input, JSON round trip and rejection of broken JSON', () => {
    const p = new CategoricalProfile();
    for (const v of ['a', 1, true, null, undefined, 'a']) p.add(v);
    assert.deepEqual(p.toJSON(), { kind: 'categorical', rows: 6, missing: 2, max_categories: 1000, categories: ['1', 'a', 'true'], counts: [1, 2, 1], overflow: 0 });
    assert.deepEqual(CategoricalProfile.fromJSON(JSON.parse(JSON.stringify(p))).toJSON(), p.toJSON());
    assert.throws(() => CategoricalProfile.fromJSON({ ...p.toJSON(), rows: 7 }), TypeError);
    assert.throws(() => p.add([1]), TypeError);
    const before = JSON.stringify(p);
    assert.throws(() => p.addValues(['a', null, 3] as never), TypeError);
    assert.equal(JSON.stringify(p), before, 'a rejected batch changes nothing');
  });
});

describe('TableProfile', () => {
  const n = 6000;
  const columns = { x: messyColumn(n, 1), label: categories(n, 2, 8), y: seededNormals(n, 3) };

  it('is the same built from columns, from rows and from merged batches', () => {
    const whole = TableProfile.fromColumns(columns);
    assert.deepEqual(whole.schema, [
      { name: 'x', kind: 'numerical' },
      { name: 'label', kind: 'categorical' },
      { name: 'y', kind: 'numerical' },
    ]);
    const rows = new TableProfile(whole.schema);
    for (let r = 0; r < n; r++) rows.addRow([columns.x[r], columns.label[r], columns.y[r]]);
    const merged = new TableProfile(whole.schema, { seed: 1 });
    for (let start = 0; start < n; start += 1000) {
      const part = new TableProfile(whole.schema, { seed: 100 + start });
      part.addColumns([columns.x.slice(start, start + 1000), columns.label.slice(start, start + 1000), columns.y.subarray(start, start + 1000)]);
      merged.merge(part);
    }
    for (const t of [rows, merged]) {
      assert.equal(t.rows, n);
      assertSameNumeric(t.column('x')!.profile as NumericProfile, whole.column('x')!.profile as NumericProfile, 'x');
      assertSameNumeric(t.column('y')!.profile as NumericProfile, whole.column('y')!.profile as NumericProfile, 'y');
      assert.deepEqual(t.column('label')!.profile.toJSON(), whole.column('label')!.profile.toJSON());
    }
  });

  it('round-trips through JSON with its format version', () => {
    const t = TableProfile.fromColumns(columns, { k: 64 });
    const json = JSON.parse(JSON.stringify(t));
    assert.equal(json.format_version, PROFILE_FORMAT_VERSION);
    assert.deepEqual(TableProfile.fromJSON(json).toJSON(), t.toJSON());
    assert.throws(() => TableProfile.fromJSON({ ...json, format_version: 99 }), TypeError);
    assert.throws(() => TableProfile.fromJSON({ ...json, rows: 1 }), TypeError);
  });

  it('likeReference counts in the reference deciles', () => {
    const ref = TableProfile.fromColumns(columns);
    const cur = TableProfile.likeReference(ref);
    const x = cur.column('x')!.profile as NumericProfile;
    assert.deepEqual(x.bins!.edges, sketchDecileEdges((ref.column('x')!.profile as NumericProfile).sketch));
    cur.addColumns(columns);
    assert.equal(x.bins!.total, x.finite);
  });

  it('rejects bad batches, rows and merges', () => {
    const t = TableProfile.fromColumns(columns);
    assert.throws(() => t.addRow([1, 'a']), RangeError);
    assert.throws(() => t.addColumns({ x: [1], label: ['a'] }), RangeError);
    assert.throws(() => t.addColumns([[1], ['a'], [1, 2]]), RangeError);
    assert.throws(() => t.merge(new TableProfile([{ name: 'x', kind: 'numerical' }])), RangeError);
    assert.throws(() => new TableProfile([{ name: 'a', kind: 'numerical' }, { name: 'a', kind: 'numerical' }]), RangeError);
    const allMissing = TableProfile.fromColumns({ m: [null, null] });
    assert.equal(allMissing.column('m')!.kind, 'categorical');
  });
});

describe('CategoricalProfile with many values', () => {
  it('tracks the same values on two data sets with the same vocabulary and estimates the distinct count', () => {
    const u = uniformSource(77);
    const draw = (n: number): string[] => Array.from({ length: n }, () => `id-${Math.floor(u() * 5000)}`);
    const a = new CategoricalProfile({ maxCategories: 200 });
    const b = new CategoricalProfile({ maxCategories: 200 });
    a.addValues(draw(60_000));
    b.addValues(draw(40_000));
    assert.deepEqual(a.categoryCounts().categories, b.categoryCounts().categories);
    const estimate = a.facts().distinct_count;
    assert.ok(Math.abs(estimate - 5000) < 750, `estimate ${estimate}`);
    assert.equal(a.present, a.overflow + a.categoryCounts().counts.reduce((x, y) => x + y, 0));
  });
});
