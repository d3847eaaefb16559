import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CapstanClient } from '../client/index.js';
import { loadConfig, processEnv } from '../config/index.js';
import { storedToken } from './credentials.js';
import { fail } from './output.js';

export const REMOTE_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  project: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies ParseArgsConfig['options'];

/** Parses a command's flags; a bad flag ends the process with the usage line. */
export function parseCommand<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O, usage: string): { values: Record<string, any>; positionals: string[] } {
  try {
    const parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
    if ((parsed.values as { help?: boolean }).help) {
      process.stdout.write(`${usage}\n`);
      process.exit(0);
    }
    return parsed;
  } catch (err) {
    return fail(`${(err as Error).message}\nusage: ${usage}`);
  }
}

/** The server to talk to: --url, else CAPSTAN_URL, else this machine's configured host and port. */
export function serverUrl(url: string | undefined): string {
  const env = processEnv();
  if (url) return url.replace(/\/+$/, '');
  if (env.CAPSTAN_URL) return env.CAPSTAN_URL.replace(/\/+$/, '');
  const config = loadConfig({ env });
  const host = config['server.host'] === '0.0.0.0' ? '127.0.0.1' : config['server.host'];
  return `http://${host}:${config['server.port']}`;
}

/**
 * A client for the server, signed in with --token, else CAPSTAN_TOKEN, else the session `capstan
 * login` stored for that URL; acting in --project, else CAPSTAN_PROJECT, else the server's default.
 */
export function clientFor(values: { url?: string; token?: string; project?: string }): CapstanClient {
  const env = processEnv();
  const url = serverUrl(values.url);
  return new CapstanClient({ url, token: values.token ?? env.CAPSTAN_TOKEN ?? storedToken(url), project: values.project ?? env.CAPSTAN_PROJECT });
}
