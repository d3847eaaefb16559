import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { loadConfig, type SettingKey } from '../../src/config/index.js';
import { createLogger } from '../../src/observability/logger.js';
import { createPlatform, type Platform } from '../../src/server/platform.js';

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
