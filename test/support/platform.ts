import { mkdtempSync, rmSync } from 'node:fs';
import { after, before } from 'node:test';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { loadConfig, type SettingKey } from '../../src/config/index.js';
import { createLogger } from '../../src/observability/logger.js';
import { createPlatform, type Platform } from '../../src/server/platform.js';
import type { TestDatabase } from './databases.js';

export interface TestPlatform {
  app: FastifyInstance;
  platform: Platform;
  dataDir: string;
  close(): Promise<void>;
}

/** The whole platform in-process (no socket; use app.inject), on a fresh data dir. */
export async function startTestPlatform(settings: Partial<Record<SettingKey, string | number | boolean>> = {}): Promise<TestPlatform> {
  const dataDir = mkdtempSync(join(tmpdir(), 'capstan-test-'));
  const config = loadConfig({ flags: { data_dir: dataDir, 'log.level': 'silent', ...settings } });
  const platform = await createPlatform(config, createLogger('silent'));
  await platform.app.ready();
  return {
    app: platform.app,
    platform,
    dataDir,
    close: async () => {
      await platform.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Inside a describe(): the whole platform on a fresh database of `db`, started before the suite's
 * tests and closed (its database dropped) after them. Read `.tp` and `.app` inside the tests.
 */
export function suitePlatform(db: TestDatabase, settings: Partial<Record<SettingKey, string | number | boolean>> = {}): { tp: TestPlatform; app: FastifyInstance } {
  const suite = {} as { tp: TestPlatform; app: FastifyInstance };
  let drop: (() => Promise<void>) | undefined;
  before(async () => {
    const created = await db.create();
    drop = created.drop;
    suite.tp = await startTestPlatform({ 'store.database_uri': created.uri, ...settings });
    suite.app = suite.tp.app;
  });
  after(async () => {
    await suite.tp?.close();
    await drop?.();
  });
  return suite;
}
