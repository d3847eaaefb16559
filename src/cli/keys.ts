import type { AuditRecord } from '../access/index.js';
import { processEnv, type Config } from '../config/index.js';
import { fail, printRows } from './output.js';
import { clientFor, parseCommand, REMOTE_OPTIONS } from './remote.js';
import { configFromFlags, SERVER_FLAGS } from './up.js';

const USAGE = `capstan keys show [--url URL] [--json]   the keys that sign model manifests: current and retired
capstan keys rotate [--config capstan.yaml] [--data DIR]
    run on the server machine: a new key file, the old key retired but kept for verification;
    a server using this key file signs with the new key from its next registration`;

async function showKeys(values: Record<string, any>): Promise<void> {
  const keys = await clientFor(values).listSigningKeys();
  if (values.json) return printRows([], [], true, keys);
  process.stdout.write(`current key: ${keys.current_key_id}\n${keys.public_key_pem.trimEnd()}\n\n`);
  const rows = keys.keys.map((k) => ({
    key_id: k.key_id,
    current: k.current ? 'yes' : '',
    created: new Date(k.created_time).toISOString(),
    retired: k.retired_time === undefined ? '' : new Date(k.retired_time).toISOString(),
  }));
  printRows(rows, ['key_id', 'current', 'created', 'retired'], false);
}

/**
 * Rotates the key file in the server's data directory and records it in the database the server
 * uses, with an audit event as a request would have. The platform is opened without listening.
 */
async function rotateKey(config: Config): Promise<{ retired: string; current: string }> {
  const [{ createPlatform, signingKeySource }, { SigningKeys }, { runAudited }, { createLogger }] = await Promise.all([
    import('../server/platform.js'), import('../registry/index.js'), import('../access/index.js'), import('../observability/logger.js'),
  ]);
  const platform = await createPlatform(config, createLogger('silent'));
  try {
    const record: AuditRecord = {
      actor: `cli:${processEnv().USER ?? 'operator'}`, token_id: null, action: 'keys rotate', resource: 'signing-key', project: null,
      outcome: 'ok', summary: '{}', request_id: null, client_ip: null,
    };
    return await runAudited(platform.audit, record, () => SigningKeys.rotate(platform.db, signingKeySource(config)));
  } finally {
    await platform.close();
  }
}

export async function keysCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseCommand(args, { ...REMOTE_OPTIONS, ...SERVER_FLAGS }, USAGE);
  const [verb] = positionals;
  if (verb === 'show') return showKeys(values);
  if (verb !== 'rotate') fail(`unknown keys verb '${verb ?? ''}'\nusage: ${USAGE}`);
  const { retired, current } = await rotateKey(configFromFlags(values));
  if (values.json) return printRows([], [], true, { retired_key_id: retired, current_key_id: current });
  process.stdout.write(`retired ${retired}; new signing key ${current} (servers using this key file sign with it from their next registration)\n`);
}
