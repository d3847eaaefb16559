import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../../errors/index.js';
import { inferKind, numericColumn, parseCsv, parseNumberCell } from './csv.js';

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
