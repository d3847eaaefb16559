import { AppError } from '../errors/index.js';
import { CapstanError } from '../client/index.js';
import { configCommand } from './config.js';
import { experimentsCommand } from './experiments.js';
import { runsCommand } from './runs.js';
import { upCommand } from './up.js';

const COMMANDS: Record<string, (args: string[]) => Promise<void>> = {
  up: upCommand,
  config: configCommand,
  experiments: experimentsCommand,
  runs: runsCommand,
};

const HELP = `capstan — one service for the ML lifecycle

commands:
  up            start the platform (HTTP API, tracking, artifacts) in this process
  config        show the effective configuration (--print)
  experiments   list | create | get
  runs          list | search | get

Run 'capstan <command> --help' for a command's flags.`;

export async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`capstan: unknown command '${name}'; known: ${Object.keys(COMMANDS).join(', ')}\n`);
    process.exit(2);
  }
  try {
    await command(rest);
  } catch (err) {
    if (err instanceof AppError || err instanceof CapstanError) {
      process.stderr.write(`capstan: ${err instanceof AppError ? `${err.code}: ` : ''}${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}
