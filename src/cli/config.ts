import { stringify } from 'yaml';
import { maskedConfig } from '../config/index.js';
import { fail } from './output.js';
import { parseCommand } from './remote.js';
import { configFromFlags, SERVER_FLAGS } from './up.js';

const USAGE = 'capstan config --print [--json] [--host H] [--port P] [--data DIR] [--config FILE]';

/** Shows the effective configuration (defaults < file < environment < flags), secrets masked. */
export async function configCommand(args: string[]): Promise<void> {
  const { values } = parseCommand(args, { ...SERVER_FLAGS, print: { type: 'boolean', default: false }, json: { type: 'boolean', default: false } }, USAGE);
  if (!values.print) fail(`nothing to do\nusage: ${USAGE}`);
  const masked = maskedConfig(configFromFlags(values));
  process.stdout.write(values.json ? `${JSON.stringify(masked, null, 2)}\n` : stringify(masked));
}
