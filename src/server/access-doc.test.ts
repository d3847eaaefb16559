import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestPlatform } from '../../test/support/platform.js';
import { MATRIX_END, MATRIX_START, renderAccessMatrix } from './access-doc.js';

test('docs/access.md lists every route with the action it requires', async () => {
  const tp = await startTestPlatform();
  try {
    const doc = (await tp.app.inject({ method: 'GET', url: '/api/openapi.json' })).json();
    const page = readFileSync(new URL('../../docs/access.md', import.meta.url), 'utf8');
    const committed = page.slice(page.indexOf(MATRIX_START), page.indexOf(MATRIX_END) + MATRIX_END.length);
    assert.equal(committed, renderAccessMatrix(doc), 'docs/access.md is out of date with the routes: run npm run docs:access');
    const operations = Object.entries(doc.paths as Record<string, object>).filter(([p]) => !p.startsWith('/ajax-api/')).flatMap(([, item]) => Object.keys(item));
    assert.equal(committed.split('\n').filter((l) => /^\| (GET|POST|PUT|PATCH|DELETE) \|/.test(l)).length, operations.length);
  } finally {
    await tp.close();
  }
});
