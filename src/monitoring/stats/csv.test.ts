import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../../errors/index.js';
import { columnCells, inferKind, numericColumn, parseCsv, parseNumberCell, readNumbers } from './csv.js';
import { uniformSource as uniforms } from '../seeded.js';

const refused = (fn: () => unknown, message: RegExp) =>
  assert.throws(fn, (err: unknown) => err instanceof AppError && err.code === 'INVALID_PARAMETER_VALUE' && message.test(err.message));

describe('parseCsv', () => {
  it('reads RFC 4180 quoting, keeps spaces, and treats empty fields as missing', () => {
    const t = parseCsv('city,n,note\n"with,comma",1,"with ""quote"""\n leading space,,São Paulo\n"",2,\n');
    assert.deepEqual(t.header, ['city', 'n', 'note']);
    assert.equal(t.rows, 3);
    assert.deepEqual(t.cells[0], ['with,comma', ' leading space', null]);
    assert.deepEqual(t.cells[1], ['1', null, '2']);
    assert.deepEqual(t.cells[2], ['with "quote"', 'São Paulo', null]);
  });

  it('accepts CRLF, a quoted line break, no final newline and a trailing empty field at the end', () => {
    const t = parseCsv('a,b\r\n"x\ny",1\r\nz,');
    assert.deepEqual(t.cells, [['x\ny', 'z'], ['1', null]]);
  });

  it('refuses ragged rows, duplicate or empty column names, stray quotes and unclosed quotes, naming where', () => {
    refused(() => parseCsv('a,b\n1\n'), /line 2: 1 fields, the header has 2/);
    refused(() => parseCsv('a,a\n1,2\n'), /'a' appears twice/);
    refused(() => parseCsv('a,\n1,2\n'), /no name/);
    refused(() => parseCsv('a\nx"y\n'), /must be quoted/);
    refused(() => parseCsv('a\n"open\n'), /never closed/);
    refused(() => parseCsv(''), /empty/);
  });
});

describe('numbers', () => {
  it('parses decimal literals and inf tokens only', () => {
    assert.equal(parseNumberCell('1e3'), 1000);
    assert.equal(parseNumberCell('-0.5'), -0.5);
    assert.equal(parseNumberCell('.5'), 0.5);
    assert.equal(parseNumberCell('+inf'), Infinity);
    assert.equal(parseNumberCell('-inf'), -Infinity);
    for (const bad of ['0x10', 'NaN', 'Infinity', ' 1', '1,5', 'abc']) assert.equal(parseNumberCell(bad), undefined, bad);
    assert.equal(parseNumberCell('0.1'), 0.1);
  });

  it('names the column and line of a field that is not a number', () => {
    refused(() => numericColumn('age', ['1', null, 'x']), /column 'age' .* line 4 holds "x"/);
    assert.deepEqual(numericColumn('age', ['1', null, 'inf']), [1, null, Infinity]);
  });

  it('infers numerical only when every present cell is a number', () => {
    assert.equal(inferKind(['1', null, '2.5']), 'numerical');
    assert.equal(inferKind(['1', '00501', 'x']), 'categorical');
    assert.equal(inferKind(['1', '00501']), 'categorical');
    assert.equal(inferKind(['0', '0.5', '-0.25']), 'numerical');
    assert.equal(inferKind([null, null]), 'categorical');
  });
});

describe('parseCsv number columns', () => {

  function numbersOf(text: string, c = 0): Float64Array {
    const table = parseCsv(text);
    const reading = readNumbers(table, c);
    assert.ok(reading.ok);
    const out = new Float64Array(table.rows);
    reading.decodeInto(out);
    return out;
  }

  it('reads every decimal literal as the double Number() gives, short or long', () => {
    const u = uniforms(99);
    const digits = (n: number) => Array.from({ length: n }, () => Math.floor(u() * 10)).join('');
    const literals: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const sign = ['', '-', '+'][Math.floor(u() * 3)];
      const whole = digits(Math.floor(u() * 12));
      const fraction = u() < 0.8 ? `.${digits(Math.floor(u() * 26))}` : '';
      literals.push(/\d/.test(whole + fraction) ? sign + whole + fraction : `${sign}0`);
    }
    literals.push('1e3', '-2.5E-3', 'inf', '-inf', '+inf', '1e400', '5e-324', '-0', '-0.000', '134217727', '134217728', '0.00000000000000000000001');
    const got = numbersOf(`x\n${literals.join('\n')}\n`);
    literals.forEach((s, r) => assert.ok(Object.is(got[r], parseNumberCell(s)), `${s}: ${got[r]}`));
  });

  it('marks missing cells, keeps the original strings of numerical cells, and cuts only the columns asked for', () => {
    const text = 'a,b,c\r\n1.50,x,"2"\r\n,y,\r\n-0,"z,1",3e0\r\n';
    assert.deepEqual(Array.from(numbersOf(text, 0)), [1.5, NaN, -0]);
    assert.deepEqual(Array.from(numbersOf(text, 2)), [2, NaN, 3]);
    const table = parseCsv(text);
    assert.deepEqual(readNumbers(table, 1), { ok: false, row: 0, cell: 'x' });
    assert.deepEqual(columnCells(table, [2, 0]), [['2', null, '3e0'], ['1.50', null, '-0']]);
    assert.deepEqual(table.cells, [['1.50', null, '-0'], ['x', 'y', 'z,1'], ['2', null, '3e0']]);
    assert.equal(table.cells, table.cells);
    assert.deepEqual(JSON.parse(JSON.stringify(table)), { header: ['a', 'b', 'c'], cells: table.cells, rows: 3 });
  });

  it('turns a column to text at its first non-number and keeps the earlier cells as written', () => {
    const table = parseCsv('n\n007\n1.0\nabc\n2\n');
    assert.deepEqual(readNumbers(table, 0), { ok: false, row: 2, cell: 'abc' });
    assert.deepEqual(table.cells, [['007', '1.0', 'abc', '2']]);
    const codes = readNumbers(parseCsv('n\n007\n1\n'), 0);
    assert.ok(codes.ok && codes.codes);
  });

  it('reports a ragged record only after checking the whole text for stray quotes, as a full parse does', () => {
    refused(() => parseCsv('a,b\n1\n2,x"y\n'), /must be quoted/);
    refused(() => parseCsv('a,a\n1\n'), /appears twice/);
  });
});
