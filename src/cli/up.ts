import { loadConfig, processEnv, resolveStoreUris, type SettingKey } from '../config/index.js';
import { AppError } from '../errors/index.js';
import { createLogger } from '../observability/logger.js';
import { parseCommand } from './remote.js';

const USAGE = 'capstan up [--host 127.0.0.1] [--port 5050] [--data ./.capstan] [--config capstan.yaml]';

export const SERVER_FLAGS = {
  host: { type: 'string' },
  port: { type: 'string' },
  data: { type: 'string' },
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** Flags → settings; the rest of the configuration comes from the file and CAPSTAN_* variables. */
export function configFromFlags(values: Record<string, string | boolean | undefined>) {
  const flags: Partial<Record<SettingKey, string>> = {};
  if (values.host !== undefined) flags['server.host'] = String(values.host);
  if (values.port !== undefined) flags['server.port'] = String(values.port);
  if (values.data !== undefined) flags.data_dir = String(values.data);
  return loadConfig({ file: values.config as string | undefined, env: processEnv(), flags });
}

/** Starts the whole platform in this process and runs until SIGTERM/SIGINT. */
export async function upCommand(args: string[]): Promise<void> {
  const { values } = parseCommand(args, SERVER_FLAGS, USAGE);
  const config = configFromFlags(values);
  const logger = createLogger(config['log.level']);
  // Imported here so `capstan config`, which shares this file's flag handling, does not load the server.
  const { createPlatform } = await import('../server/platform.js');
  const platform = await createPlatform(config, logger);
  let address: string;
  try {
    address = await platform.app.listen({ host: config['server.host'], port: config['server.port'] });
  } catch (cause) {
    await platform.close();
    const where = `${config['server.host']}:${config['server.port']}`;
    throw new AppError('CONFIG_INVALID', `cannot listen on ${where}: ${(cause as Error).message}`, { details: { key: 'server.port' }, cause });
  }
  const uris = resolveStoreUris(config);
  logger.info({ url: address, artifacts: uris.artifactsUri, openapi: `${address}/api/openapi.json` }, 'capstan is up');
  const stop = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error('shutdown grace period over; exiting with requests still open');
      process.exit(1);
    }, config['server.shutdown_grace_ms']);
    timer.unref();
    platform.close().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
