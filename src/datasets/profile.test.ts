import assert from 'node:assert/strict';
import { createReadStream, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { AppError } from '../errors/index.js';
import { detectFormat, ProfileBuilder, schemaOf, type ColumnProfile, type DatasetProfile, type ProfileOptions } from './profile.js';
import { DelimitedParser, LineSplitter, type TabularRecord } from './tabular.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/datasets', import.meta.url));

/** The bytes as a stream cut at the given offsets (sorted, inside the buffer). */
async function* pieces(bytes: Buffer, cuts: number[] = []): AsyncGenerator<Buffer> {
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    yield bytes.subarray(start, cut);
    start = cut;
  }
}

async function profileOf(files: Record<string, string | Buffer>, options: ProfileOptions = {}): Promise<DatasetProfile> {
  const builder = new ProfileBuilder(options);
  for (const [path, content] of Object.entries(files)) await builder.addFile(path, pieces(Buffer.from(content)));
  return builder.result();
}

function column(profile: DatasetProfile, name: string): ColumnProfile {
  const found = profile.columns.find((c) => c.name === name);
  assert.ok(found, `no column ${name}`);
  return found;
}

function assertClose(actual: number | undefined, expected: number, what: string): void {
  assert.equal(typeof actual, 'number', `${what} is missing`);
  const error = Math.abs(actual! - expected);
  assert.ok(error <= 1e-12 * Math.abs(expected), `${what}: ${actual} is not within 1e-12 of ${expected}`);
}

/** Rejects with an INVALID_PARAMETER_VALUE AppError whose message contains every fragment. */
async function assertInvalid(run: () => Promise<unknown>, ...fragments: string[]): Promise<void> {
  await assert.rejects(run, (err: unknown) => {
    assert.ok(err instanceof AppError, `expected an AppError, got ${String(err)}`);
    assert.equal(err.code, 'INVALID_PARAMETER_VALUE');
    for (const fragment of fragments) assert.ok(err.message.includes(fragment), `"${err.message}" lacks "${fragment}"`);
    return true;
  });
}

/** [name, type, distinct, min, max, mean, sample std] for a column with no missing values. */
type Expected = [string, 'integer' | 'float', number, number, number, number, number];

function assertColumns(profile: DatasetProfile, rows: number, expected: Expected[]): void {
  assert.equal(profile.rows, rows);
  assert.deepEqual(profile.columns.map((c) => c.name), expected.map((e) => e[0]));
  for (const [name, type, distinct, min, max, mean, std] of expected) {
    const c = column(profile, name);
    assert.deepEqual([c.type, c.count, c.missing, c.missing_share, c.distinct, c.distinct_exact, c.min, c.max], [type, rows, 0, 0, distinct, true, min, max], name);
    assertClose(c.mean, mean, `${name} mean`);
    assertClose(c.std, std, `${name} std`);
  }
}

describe('profiling the scikit-learn fixtures', () => {
  // Expected values: Python 3.11 csv module, float() per cell, len(set(...)) for distinct,
  // statistics.mean and statistics.stdev (exact rational arithmetic, so correctly rounded).
  // pandas is not installed here and numpy fails to import (no liblapack).
  it('iris.csv: five columns named by the odd first line, 150 rows', async () => {
    const builder = new ProfileBuilder();
    await builder.addFile(`${FIXTURES}/iris.csv`, createReadStream(`${FIXTURES}/iris.csv`));
    const profile = builder.result();
    assert.equal(profile.format, 'csv');
    assertColumns(profile, 150, [
      ['150', 'float', 35, 4.3, 7.9, 5.843333333333334, 0.828066127977863],
      ['4', 'float', 23, 2.0, 4.4, 3.0573333333333332, 0.4358662849366982],
      ['setosa', 'float', 43, 1.0, 6.9, 3.758, 1.7652982332594664],
      ['versicolor', 'float', 22, 0.1, 2.5, 1.1993333333333334, 0.7622376689603466],
      ['virginica', 'integer', 3, 0, 2, 1.0, 0.8192319205190405],
    ]);
    assert.deepEqual(column(profile, 'virginica').top, [
      { value: '0', count: 50 },
      { value: '1', count: 50 },
      { value: '2', count: 50 },
    ]);
    assert.equal(column(profile, '150').top, undefined);
  });

  it('wine_data.csv: its first line has 5 fields and the rows 14, so both header modes reject it', async () => {
    const path = `${FIXTURES}/wine_data.csv`;
    await assertInvalid(() => new ProfileBuilder().addFile(path, createReadStream(path)), path, 'line 2', 'expected 5 fields as in the header, found 14');
    await assertInvalid(() => new ProfileBuilder({ header: false }).addFile(path, createReadStream(path)), path, 'line 2', 'expected 5 fields as in the first row, found 14');
  });

  it('wine_data.csv data rows (streamed from after the first line, header: false)', async () => {
    const path = `${FIXTURES}/wine_data.csv`;
    const start = readFileSync(path).indexOf('\n') + 1;
    const builder = new ProfileBuilder({ header: false });
    await builder.addFile(path, createReadStream(path, { start }));
    const profile = builder.result();
    assertColumns(profile, 178, [
      ['c0', 'float', 126, 11.03, 14.83, 13.00061797752809, 0.8118265380058575],
      ['c1', 'float', 133, 0.74, 5.8, 2.3363483146067416, 1.1171460976144627],
      ['c2', 'float', 79, 1.36, 3.23, 2.366516853932584, 0.27434400906081485],
      ['c3', 'float', 63, 10.6, 30.0, 19.49494382022472, 3.339563767173505],
      ['c4', 'integer', 53, 70, 162, 99.74157303370787, 14.282483515295667],
      ['c5', 'float', 97, 0.98, 3.88, 2.295112359550562, 0.6258510488339893],
      ['c6', 'float', 132, 0.34, 5.08, 2.0292696629213482, 0.9988586850169467],
      ['c7', 'float', 39, 0.13, 0.66, 0.3618539325842697, 0.12445334029667937],
      ['c8', 'float', 101, 0.41, 3.58, 1.5908988764044945, 0.5723588626747612],
      ['c9', 'float', 132, 1.28, 13.0, 5.058089882022472, 2.318285871822413],
      ['c10', 'float', 78, 0.48, 1.71, 0.9574494382022471, 0.2285715658298234],
      ['c11', 'float', 122, 1.27, 4.0, 2.6116853932584267, 0.7099904287650504],
      ['c12', 'integer', 121, 278, 1680, 746.8932584269663, 314.9074742768491],
      ['c13', 'integer', 3, 0, 2, 0.9382022471910112, 0.7750349899850563],
    ]);
    assert.deepEqual(column(profile, 'c13').top, [
      { value: '1', count: 71 },
      { value: '0', count: 59 },
      { value: '2', count: 48 },
    ]);
    assert.equal(column(profile, 'c4').top, undefined, '53 distinct integers are not categorical');
  });

  it('breast_cancer.csv: a 4-field first line over 31-field rows is a ragged row', async () => {
    const path = `${FIXTURES}/breast_cancer.csv`;
    await assertInvalid(() => new ProfileBuilder().addFile(path, createReadStream(path)), path, 'line 2', 'expected 4 fields as in the header, found 31');
  });
});

const TRICKY_CSV = [
  'id,name,score,flag,note\r\n',
  '1,"Smith, J",3.5,true,"said ""hi""\r\nthen left"\r\n',
  '2,Zoë,NA,FALSE,😀 emoji\n',
  '\n',
  '3,"",-0.25,,"multi\nline, with comma"\r',
  '4,plain,1e3,True,last line without a line break',
].join('');

describe('CSV parsing', () => {
  it('keeps commas, line breaks and escaped quotes inside quoted fields', async () => {
    const parser = new DelimitedParser(',', 'x.csv');
    const records = [...parser.push(TRICKY_CSV), ...parser.end()];
    assert.deepEqual(records, [
      { fields: ['id', 'name', 'score', 'flag', 'note'], line: 1 },
      { fields: ['1', 'Smith, J', '3.5', 'true', 'said "hi"\r\nthen left'], line: 2 },
      { fields: ['2', 'Zoë', 'NA', 'FALSE', '😀 emoji'], line: 4 },
      { fields: ['3', '', '-0.25', '', 'multi\nline, with comma'], line: 6 },
      { fields: ['4', 'plain', '1e3', 'True', 'last line without a line break'], line: 8 },
    ]);
  });

  it('profiles the quoted values as written', async () => {
    const profile = await profileOf({ 'x.csv': TRICKY_CSV });
    assert.equal(profile.rows, 4);
    assert.deepEqual(schemaOf(profile), [
      { name: 'id', type: 'integer' },
      { name: 'name', type: 'string' },
      { name: 'score', type: 'float' },
      { name: 'flag', type: 'boolean' },
      { name: 'note', type: 'string' },
    ]);
    const note = column(profile, 'note');
    assert.ok(note.top?.some((t) => t.value === 'said "hi"\r\nthen left' && t.count === 1));
    assert.deepEqual(column(profile, 'flag').top, [
      { value: 'true', count: 2 },
      { value: 'false', count: 1 },
    ]);
    const score = column(profile, 'score');
    assert.deepEqual([score.count, score.missing, score.missing_share, score.min, score.max], [3, 1, 0.25, -0.25, 1000]);
  });

  it('gives the same records however the text is cut', () => {
    const field = fc.string({ unit: fc.constantFrom('a', 'Z', ' ', ',', '"', '\n', '\r', 'é', '😀'), maxLength: 6 });
    const row = fc.array(fc.record({ text: field, isQuoted: fc.boolean() }), { minLength: 1, maxLength: 4 });
    const table = fc.array(fc.record({ row, ending: fc.constantFrom('\n', '\r\n', '\r') }), { minLength: 1, maxLength: 6 });
    fc.assert(
      fc.property(table, fc.boolean(), fc.array(fc.nat(), { maxLength: 8 }), (rows, isTerminated, rawCuts) => {
        const encode = ({ text, isQuoted }: { text: string; isQuoted: boolean }, width: number) =>
          isQuoted || /[",\r\n]/.test(text) || (width === 1 && text === '') ? `"${text.replaceAll('"', '""')}"` : text;
        const lines = rows.map(({ row: fields, ending }) => fields.map((f) => encode(f, fields.length)).join(',') + ending);
        const text = isTerminated ? lines.join('') : lines.join('').replace(/(\r\n|\r|\n)$/, '');
        const cuts = [...new Set(rawCuts.map((n) => n % (text.length + 1)))].sort((a, b) => a - b);
        const parser = new DelimitedParser(',', 'fuzz.csv');
        const got: TabularRecord[] = [];
        let start = 0;
        for (const cut of [...cuts, text.length]) {
          got.push(...parser.push(text.slice(start, cut)));
          start = cut;
        }
        got.push(...parser.end());
        assert.deepEqual(got.map((r) => r.fields), rows.map((r) => r.row.map((f) => f.text)));
      }),
      { numRuns: 500 },
    );
  });

  it('gives the identical profile however the bytes are cut, even inside a UTF-8 character', async () => {
    const bytes = Buffer.from(TRICKY_CSV);
    const whole = await profileOf({ 'x.csv': bytes });
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 12 }), async (cuts) => {
        const builder = new ProfileBuilder();
        await builder.addFile('x.csv', pieces(bytes, cuts.sort((a, b) => a - b)));
        assert.deepEqual(builder.result(), whole);
      }),
      { numRuns: 300 },
    );
  });

  it('profiles iris identically when streamed one to a few bytes at a time', async () => {
    const bytes = readFileSync(`${FIXTURES}/iris.csv`);
    const whole = await profileOf({ 'iris.csv': bytes });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 20 }), async (steps) => {
        const cuts: number[] = [];
        for (let at = steps[0]!, i = 0; at < bytes.length; at += steps[++i % steps.length]!) cuts.push(at);
        const builder = new ProfileBuilder();
        await builder.addFile('iris.csv', pieces(bytes, cuts));
        assert.deepEqual(builder.result(), whole);
      }),
      { numRuns: 20 },
    );
  });

  it('counts line numbers across quoted line breaks when rejecting a ragged row', async () => {
    await assertInvalid(() => profileOf({ 'data/part-1.csv': 'a,b\n"x\ny",1\n3\n' }), 'data/part-1.csv', 'line 4', 'expected 2 fields as in the header, found 1');
  });

  it('rejects a quoted field that never closes', async () => {
    await assertInvalid(() => profileOf({ 'x.csv': 'a,b\n1,"open\n2,3\n' }), 'x.csv', 'line 2', 'never closed');
  });

  it('reads TSV with tabs, keeping commas inside fields', async () => {
    const profile = await profileOf({ 'x.tsv': 'k\tv\n1,5\t2\n3\t4\n' });
    assert.equal(profile.format, 'tsv');
    assert.deepEqual(schemaOf(profile), [
      { name: 'k', type: 'string' },
      { name: 'v', type: 'integer' },
    ]);
  });
});

describe('values and statistics', () => {
  it('treats empty, NA, NaN, null and None in any case as missing, and nothing else', async () => {
    const cells = ['', 'NA', 'na', 'NaN', 'nan', 'NULL', 'null', 'None', 'none', '"NA"', '7', '-3'];
    const profile = await profileOf({ 'x.csv': `n,s\n${cells.map((c) => `${c},${c === '' ? 'N/A' : ' NA'}`).join('\n')}\n` });
    const n = column(profile, 'n');
    assert.deepEqual([n.type, n.count, n.missing, n.missing_share, n.distinct, n.min, n.max], ['integer', 2, 10, 10 / 12, 2, -3, 7]);
    assert.equal(n.std, 7.0710678118654755); // sqrt(((7-2)^2 + (-3-2)^2) / 1) = sqrt(50)
    const s = column(profile, 's');
    assert.deepEqual([s.type, s.count, s.missing, s.distinct], ['string', 12, 0, 2]);
  });

  it('infers integer, float, boolean, string and empty columns', async () => {
    const profile = await profileOf({ 'x.csv': 'i,f,b,s,e,big\n1,1,true,1,,9007199254740991\n-2,2.5,False,x,NA,9007199254740993\n+3,1e2,TRUE,true,,1\n' });
    assert.deepEqual(schemaOf(profile).map((c) => c.type), ['integer', 'float', 'boolean', 'string', 'empty', 'float']);
    const e = column(profile, 'e');
    assert.deepEqual(e, { name: 'e', type: 'empty', count: 0, missing: 3, missing_share: 1, distinct: 0, distinct_exact: true });
    assert.equal(column(profile, 'f').max, 100);
  });

  it('counts "1.50" and "1.5" as one value in a numeric column but not in a string one', async () => {
    const profile = await profileOf({ 'x.csv': 'f,s\n1.50,1.50\n1.5,1.5\n2,x\n' });
    assert.equal(column(profile, 'f').distinct, 2);
    assert.equal(column(profile, 's').distinct, 3);
  });

  it('keeps the variance of large, tightly spread values exact (Welford, not a sum of squares)', async () => {
    // 1e9 + {4, 7, 13, 16}: mean 1e9 + 10, sample variance (36 + 9 + 9 + 36) / 3 = 30.
    const profile = await profileOf({ 'x.csv': 'v\n1000000004\n1000000007\n1000000013\n1000000016\n' });
    const v = column(profile, 'v');
    assertClose(v.mean, 1000000010, 'mean');
    assertClose(v.std, Math.sqrt(30), 'std');
  });

  it('omits std for a single value and orders ties in top by value', async () => {
    const profile = await profileOf({ 'x.csv': 'one,word\n5,b\n,a\n,c\n,b\n,a\n' });
    const one = column(profile, 'one');
    assert.deepEqual([one.count, one.mean, one.std, one.min, one.max], [1, 5, undefined, 5, 5]);
    assert.deepEqual(column(profile, 'word').top, [
      { value: 'a', count: 2 },
      { value: 'b', count: 2 },
      { value: 'c', count: 1 },
    ]);
  });

  it('names columns c0, c1, ... without a header and profiles the first line as data', async () => {
    const profile = await profileOf({ 'x.csv': '1,a\n2,b\n' }, { header: false });
    assert.equal(profile.rows, 2);
    assert.deepEqual(schemaOf(profile), [
      { name: 'c0', type: 'integer' },
      { name: 'c1', type: 'string' },
    ]);
  });

  it('reports an exact distinct count up to maxDistinct and an estimate past it', async () => {
    const csv = (n: number) => `v\n${Array.from({ length: n }, (_, i) => `id-${i}\nid-${i}`).join('\n')}\n`;
    const atCap = column(await profileOf({ 'x.csv': csv(5) }, { maxDistinct: 5 }), 'v');
    assert.deepEqual([atCap.distinct, atCap.distinct_exact, atCap.count], [5, true, 10]);
    const overCap = column(await profileOf({ 'x.csv': csv(20) }, { maxDistinct: 5 }), 'v');
    assert.deepEqual([overCap.distinct, overCap.distinct_exact, overCap.count], [20, false, 40]);
    assert.deepEqual(overCap.top?.slice(0, 2), [
      { value: 'id-0', count: 2 },
      { value: 'id-1', count: 2 },
    ]);
    const many = column(await profileOf({ 'x.csv': csv(50_000) }, { maxDistinct: 1000 }), 'v');
    assert.equal(many.distinct_exact, false);
    assert.ok(Math.abs(many.distinct - 50_000) / 50_000 < 0.03, `estimate ${many.distinct} is not within 3% of 50000`);
  });
});

describe('JSON Lines', () => {
  const JSONL = ['{"a":1,"b":"x"}', '{"a":2}', '', '{"b":null,"c":true}', '{"a":3.5,"c":false,"d":{"k":[1]}}'].join('\r\n');

  it('takes the union of keys in first-seen order and counts absent keys as missing', async () => {
    const profile = await profileOf({ 'x.jsonl': JSONL });
    assert.equal(profile.format, 'jsonl');
    assert.equal(profile.rows, 4);
    assert.deepEqual(
      profile.columns.map((c) => [c.name, c.type, c.count, c.missing]),
      [
        ['a', 'float', 3, 1],
        ['b', 'string', 1, 3],
        ['c', 'boolean', 2, 2],
        ['d', 'string', 1, 3],
      ],
    );
    assert.deepEqual(column(profile, 'd').top, [{ value: '{"k":[1]}', count: 1 }]);
    assertClose(column(profile, 'a').mean, 6.5 / 3, 'a mean');
  });

  it('gives the identical profile however the bytes are cut', async () => {
    const bytes = Buffer.from(JSONL);
    const whole = await profileOf({ 'x.ndjson': bytes });
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 10 }), async (cuts) => {
        const builder = new ProfileBuilder();
        await builder.addFile('x.ndjson', pieces(bytes, cuts.sort((a, b) => a - b)));
        assert.deepEqual(builder.result(), whole);
      }),
      { numRuns: 200 },
    );
  });

  it('splits lines across pushes and drops the CR of CRLF', () => {
    const splitter = new LineSplitter();
    const lines = [...splitter.push('{"a":1}\r'), ...splitter.push('\n{"a"'), ...splitter.push(':2}'), ...splitter.end()];
    assert.deepEqual(lines, [
      { text: '{"a":1}', line: 1 },
      { text: '{"a":2}', line: 2 },
    ]);
  });

  it('rejects a line that is not a JSON object, naming the line', async () => {
    await assertInvalid(() => profileOf({ 'x.jsonl': '{"a":1}\n[1,2]\n' }), 'x.jsonl', 'line 2', 'expected a JSON object');
    await assertInvalid(() => profileOf({ 'x.jsonl': '{"a":1}\n{"a":\n' }), 'x.jsonl', 'line 2', 'not valid JSON');
  });
});

describe('datasets of several files', () => {
  it('adds up rows of files that agree, widening integer to float', async () => {
    const profile = await profileOf({ 'd/1.csv': 'a,b\n1,x\n', 'd/2.csv': 'a,b\n2.5,y\n,z\n' });
    assert.equal(profile.rows, 3);
    assert.deepEqual(schemaOf(profile), [
      { name: 'a', type: 'float' },
      { name: 'b', type: 'string' },
    ]);
    assert.equal(column(profile, 'a').missing, 1);
  });

  it('rejects a file whose columns differ, naming the file and the column', async () => {
    await assertInvalid(() => profileOf({ 'd/1.csv': 'a,b\n1,2\n', 'd/2.csv': 'a,c\n1,2\n' }), 'd/2.csv', '"b"', '"c"');
    await assertInvalid(() => profileOf({ 'd/1.csv': 'a,b\n1,2\n', 'd/2.csv': 'a\n1\n' }), 'd/2.csv', '"b"', 'missing');
    await assertInvalid(() => profileOf({ 'd/1.csv': '1,2\n', 'd/2.csv': '1,2,3\n' }, { header: false }), 'd/2.csv', '"c2"');
  });

  it('rejects a file whose column types differ', async () => {
    await assertInvalid(() => profileOf({ 'd/1.csv': 'a,b\n1,2\n', 'd/2.csv': 'a,b\n1,x\n' }), 'd/2.csv', '"b"', 'is string here but integer');
  });

  it('rejects JSONL files that add or lose a key', async () => {
    await assertInvalid(() => profileOf({ 'd/1.jsonl': '{"a":1}\n', 'd/2.jsonl': '{"a":1,"z":2}\n' }), 'd/2.jsonl', '"z"', 'not in d/1.jsonl');
    await assertInvalid(() => profileOf({ 'd/1.jsonl': '{"a":1,"b":2}\n', 'd/2.jsonl': '{"a":1}\n' }), 'd/2.jsonl', '"b"', 'never appears');
  });

  it('rejects files of different formats without a format option', async () => {
    await assertInvalid(() => profileOf({ 'd/1.csv': 'a\n1\n', 'd/2.jsonl': '{"a":1}\n' }), 'd/2.jsonl', 'csv');
  });
});

describe('detectFormat', () => {
  it('goes by extension, ignoring case', () => {
    assert.deepEqual(['a.csv', 'b.TSV', 'c.jsonl', 'd/e.ndjson'].map(detectFormat), ['csv', 'tsv', 'jsonl', 'jsonl']);
  });

  it('lists the supported extensions for anything else', () => {
    assert.throws(() => detectFormat('x.parquet'), (err: unknown) => {
      assert.ok(err instanceof AppError);
      assert.equal(err.code, 'INVALID_PARAMETER_VALUE');
      assert.equal(err.message, 'cannot tell the format of x.parquet: supported extensions are .csv, .tsv, .jsonl, .ndjson');
      return true;
    });
  });
});
