import type { WireExperiment } from '../client/index.js';
import { fail, printRows } from './output.js';
import { clientFor, parseCommand, REMOTE_OPTIONS } from './remote.js';

const USAGE = 'capstan experiments list [--filter F] [--all] | create NAME | get ID|NAME  [--url URL] [--json]';
const COLUMNS = ['experiment_id', 'name', 'lifecycle_stage', 'artifact_location', 'created'];

const row = (e: WireExperiment) => ({ ...e, created: new Date(e.creation_time).toISOString() });

export async function experimentsCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseCommand(args, { ...REMOTE_OPTIONS, filter: { type: 'string' }, all: { type: 'boolean', default: false } }, USAGE);
  const client = clientFor(values);
  const [verb, arg] = positionals;
  switch (verb) {
    case 'list': {
      const experiments: WireExperiment[] = [];
      let token: string | undefined;
      do {
        const page = await client.searchExperiments({ filter: values.filter, page_token: token, view_type: values.all ? 'ALL' : 'ACTIVE_ONLY' });
        experiments.push(...(page.experiments ?? []));
        token = page.next_page_token;
      } while (token);
      return printRows(experiments.map(row), COLUMNS, values.json, experiments);
    }
    case 'create': {
      if (!arg) fail(`missing experiment name\nusage: ${USAGE}`);
      const id = await client.createExperiment(arg);
      return printRows([{ experiment_id: id, name: arg }], ['experiment_id', 'name'], values.json, { experiment_id: id });
    }
    case 'get': {
      if (!arg) fail(`missing experiment id or name\nusage: ${USAGE}`);
      const e = /^\d+$/.test(arg) ? await client.getExperiment(arg) : await client.getExperimentByName(arg);
      return printRows([row(e)], COLUMNS, values.json, e);
    }
    default:
      fail(`unknown experiments verb '${verb ?? ''}'\nusage: ${USAGE}`);
  }
}
