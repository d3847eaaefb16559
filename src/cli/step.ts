import { resolve, sep } from 'node:path';
import { fail } from './output.js';
import { parseCommand } from './remote.js';

const USAGE = `capstan step fetch [--dir DIR]
  Downloads a pipeline step's inputs into DIR (default: the working directory) from the Capstan
  server: the files listed in CAPSTAN_STEP_INPUTS (JSON), from CAPSTAN_URL with CAPSTAN_TOKEN. This is
  what the Kubernetes runner's init container runs before the step's own container starts.`;

/** `capstan step fetch`: a step's inputs, put in place on the machine that runs it. */
export async function stepCommand(argv: string[]): Promise<void> {
  const { values: v, positionals } = parseCommand(argv, { dir: { type: 'string' } } as const, USAGE);
  if (positionals.length !== 1 || positionals[0] !== 'fetch') fail(`usage: ${USAGE}`);
  const url = process.env.CAPSTAN_URL;
  if (!url) fail('CAPSTAN_URL is not set: the server to fetch inputs from');
  let inputs: Array<{ path: string; url?: string }>;
  try {
    inputs = JSON.parse(process.env.CAPSTAN_STEP_INPUTS ?? '[]');
    if (!Array.isArray(inputs)) throw new Error('not a list');
  } catch (err) {
    return fail(`CAPSTAN_STEP_INPUTS is not a JSON list of inputs: ${(err as Error).message}`);
  }
  const dir = resolve(v.dir ?? '.');
  const { HttpTransfer } = await import('../pipelines/workers/http-transfer.js');
  const transfer = new HttpTransfer({ url, token: process.env.CAPSTAN_TOKEN, project: process.env.CAPSTAN_PROJECT, outputsUrl: process.env.CAPSTAN_OUTPUTS_URL ?? '' });
  for (const input of inputs) {
    const dest = resolve(dir, input.path);
    if (!dest.startsWith(dir + sep)) fail(`input path '${input.path}' leaves ${dir}`);
    await transfer.fetchInput(0, input as never, dest);
    process.stderr.write(`fetched ${input.path}\n`);
  }
}
