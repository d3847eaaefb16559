import type { WireRun } from '../client/index.js';
import { fail, printRows } from './output.js';
import { clientFor, parseCommand, REMOTE_OPTIONS } from './remote.js';

const USAGE = 'capstan runs list --experiment ID | search --experiment ID [--filter F] [--order-by K ...] [--max N] | get RUN_ID  [--url URL] [--json]';

function row(r: WireRun) {
  const metrics = (r.data.metrics ?? []).map((m) => `${m.key}=${m.value}`).join(' ');
  return { run_id: r.info.run_id, name: r.info.run_name, status: r.info.status, started: new Date(r.info.start_time).toISOString(), metrics };
}

export async function runsCommand(args: string[]): Promise<void> {
  const options = {
    ...REMOTE_OPTIONS,
    experiment: { type: 'string', multiple: true },
    filter: { type: 'string' },
    'order-by': { type: 'string', multiple: true },
    max: { type: 'string', default: '100' },
  } as const;
  const { values, positionals } = parseCommand(args, options, USAGE);
  const client = clientFor(values);
  const [verb, arg] = positionals;
  if (verb === 'get') {
    if (!arg) fail(`missing run id\nusage: ${USAGE}`);
    const run = await client.getRun(arg);
    return printRows([row(run)], ['run_id', 'name', 'status', 'started', 'metrics'], values.json, run);
  }
  if (verb !== 'list' && verb !== 'search') fail(`unknown runs verb '${verb ?? ''}'\nusage: ${USAGE}`);
  if (!values.experiment?.length) fail(`--experiment is required\nusage: ${USAGE}`);
  const max = Number(values.max);
  if (!Number.isInteger(max) || max < 1) fail(`--max must be a positive integer`);
  const page = await client.searchRuns({ experiment_ids: values.experiment, filter: verb === 'search' ? values.filter : undefined, order_by: values['order-by'], max_results: max });
  const runs = page.runs ?? [];
  return printRows(runs.map(row), ['run_id', 'name', 'status', 'started', 'metrics'], values.json, page);
}
