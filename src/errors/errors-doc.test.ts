import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERROR_CODES, type ErrorCode } from './codes.js';

const PAGE = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');

/** Rows of the codes table: `| \`CODE\` | status | meaning | what to do |`. */
const ROW = /^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|\s*(\d{3})\s*\|(.*)\|\s*$/gm;

interface DocumentedCode {
  code: string;
  status: number;
  cells: string[];
}

function documentedCodes(page: string): DocumentedCode[] {
  return [...page.matchAll(ROW)].map((m) => ({
    code: m[1]!,
    status: Number(m[2]),
    cells: m[3]!.split(/(?<!\\)\|/).map((c) => c.trim()),
  }));
}

const documented = documentedCodes(PAGE);
const codes = Object.keys(ERROR_CODES) as ErrorCode[];

describe('docs/errors.md', () => {
  it('documents every error code with its HTTP status', () => {
    for (const code of codes) {
      const rows = documented.filter((d) => d.code === code);
      assert.equal(rows.length, 1, `docs/errors.md needs exactly one table row for ${code}, found ${rows.length}`);
      assert.equal(rows[0]!.status, ERROR_CODES[code].status, `docs/errors.md gives ${code} the wrong status`);
    }
  });

  it('documents no code that does not exist', () => {
    const unknown = documented.map((d) => d.code).filter((c) => !(c in ERROR_CODES));
    assert.deepEqual(unknown, [], `docs/errors.md documents codes missing from src/errors/codes.ts: ${unknown.join(', ')}`);
  });

  it('gives every code a meaning and what to do', () => {
    for (const d of documented) {
      assert.equal(d.cells.length, 2, `${d.code}: expected the columns meaning and what to do`);
      for (const cell of d.cells) assert.ok(cell.length > 10, `${d.code}: a cell is empty`);
    }
  });

  it('describes the response shape and the statuses MLflow clients depend on', () => {
    for (const field of ['error_code', 'message', 'details', 'request_id']) assert.ok(PAGE.includes(`\`${field}\``), `${field} is not described`);
    assert.equal(ERROR_CODES.RESOURCE_ALREADY_EXISTS.status, 400);
    assert.equal(ERROR_CODES.INVALID_STATE.status, 500);
    assert.match(PAGE, /`RESOURCE_ALREADY_EXISTS` is \*\*400\*\*/);
    assert.match(PAGE, /`INVALID_STATE` is \*\*500\*\*/);
  });
});
