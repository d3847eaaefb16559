#!/usr/bin/env node
// Rewrites the generated route × role table in docs/access.md from the OpenAPI document of a
// platform started on a scratch data directory.
//
//   npm run docs:access        (builds, then runs this file against dist/)
//
// src/server/access-doc.test.ts renders the table again and fails when the page differs, so a
// route cannot be added without its row.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const { loadConfig } = await import(join(root, 'dist/src/config/index.js'));
const { createLogger } = await import(join(root, 'dist/src/observability/logger.js'));
const { createPlatform } = await import(join(root, 'dist/src/server/platform.js'));
const { renderAccessMatrix, withMatrix } = await import(join(root, 'dist/src/server/access-doc.js'));

const dataDir = mkdtempSync(join(tmpdir(), 'capstan-doc-'));
try {
  const platform = await createPlatform(loadConfig({ flags: { data_dir: dataDir } }), createLogger('silent'));
  const doc = (await platform.app.inject({ method: 'GET', url: '/api/openapi.json' })).json();
  await platform.close();
  const page = join(root, 'docs/access.md');
  writeFileSync(page, withMatrix(readFileSync(page, 'utf8'), renderAccessMatrix(doc)));
  process.stdout.write(`wrote ${page}\n`);
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
