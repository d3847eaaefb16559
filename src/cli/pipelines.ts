import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { fail } from './output.js';

const USAGE = `capstan pipelines <verb>
  validate FILE [--json]       (every problem at once, each with its line; exit 1 when there are any)
  graph FILE --mermaid         (the steps and their dependencies as a Mermaid flowchart)
  order FILE                   (the order steps can run in, one per line)`;

async function load(file: string | undefined) {
  if (!file) fail(`expected FILE\nusage: ${USAGE}`);
  const text = await readFile(file, 'utf8').catch((err: Error) => fail(`cannot read ${file}: ${err.message}`));
  const spec = await import('../pipelines/spec/index.js');
  return { spec, file, ...spec.parsePipeline(text, file) };
}

/** `capstan pipelines`: checks and draws pipeline files without a server. */
export async function pipelinesCommand(argv: string[]): Promise<void> {
  const { values, positionals } = (() => {
    try {
      return parseArgs({ args: argv, allowPositionals: true, options: { json: { type: 'boolean' }, mermaid: { type: 'boolean' } } });
    } catch (err) {
      return fail(`${(err as Error).message}\nusage: ${USAGE}`);
    }
  })();
  const [verb, file, ...extra] = positionals;
  if (extra.length) fail(`unexpected ${extra.join(' ')}\nusage: ${USAGE}`);
  if (verb !== 'validate' && verb !== 'graph' && verb !== 'order') fail(`unknown pipelines verb '${verb ?? ''}'\nusage: ${USAGE}`);
  const { spec, pipeline, errors } = await load(file);
  if (verb === 'validate') {
    if (values.json) process.stdout.write(`${JSON.stringify({ valid: errors.length === 0, errors }, null, 2)}\n`);
    else if (errors.length) process.stderr.write(`${spec.formatPipelineErrors(errors, file!)}\n${errors.length} problem${errors.length === 1 ? '' : 's'}\n`);
    else process.stdout.write(`${file}: pipeline ${pipeline!.name} is valid (${pipeline!.steps.length} steps)\n`);
    if (errors.length) process.exitCode = 1;
    return;
  }
  if (!pipeline) {
    process.stderr.write(`${spec.formatPipelineErrors(errors, file!)}\n`);
    process.exitCode = 1;
    return;
  }
  if (verb === 'graph') {
    if (!values.mermaid) fail(`graph prints Mermaid: add --mermaid\nusage: ${USAGE}`);
    process.stdout.write(`${spec.mermaid(pipeline)}\n`);
    return;
  }
  process.stdout.write(`${spec.topologicalOrder(pipeline).join('\n')}\n`);
}
