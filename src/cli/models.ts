import { createReadStream, existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { CapstanError, type CapstanClient, type NewModelVersionRequest, type WireModelCard, type WireModelEvent, type WireModelVersionDetail, type WireRun } from '../client/index.js';
import { fail, printRows } from './output.js';
import { clientFor, parseCommand, REMOTE_OPTIONS } from './remote.js';
import { localFiles } from './local-files.js';

const USAGE = `capstan models <verb> [--url URL] [--json]
  list [--filter F]
  get NAME | versions NAME | history NAME
  register NAME SOURCE [--run ID] [--experiment E] [--bump major|minor|patch] [--semver X.Y.Z] [--description T] [--card FILE.yaml|json]
      SOURCE: runs:/<run>/<path>, mlflow-artifacts:/<path>, models:/<name>/<version>, or a local file or directory
      (uploaded as run artifacts first: into --run, else into a new run of --experiment, default 'Default')
  verify NAME VERSION                     (exit 1 when the files, manifest or signature do not check out)
  alias NAME ALIAS VERSION [--override-reason T] | unalias NAME ALIAS
  stage NAME VERSION STAGE [--archive-existing] [--override-reason T]
  card NAME VERSION --set FIELD=VALUE ...
  policy show | policy set FILE
  gates check NAME VERSION --alias A | --stage S   (exit 1 when the gates deny)`;

const OPTIONS = {
  ...REMOTE_OPTIONS,
  filter: { type: 'string' },
  run: { type: 'string' },
  experiment: { type: 'string', default: 'Default' },
  bump: { type: 'string' },
  semver: { type: 'string' },
  description: { type: 'string' },
  card: { type: 'string' },
  'override-reason': { type: 'string' },
  'archive-existing': { type: 'boolean', default: false },
  set: { type: 'string', multiple: true },
  alias: { type: 'string' },
  stage: { type: 'string' },
} as const;

interface Context {
  client: CapstanClient;
  values: Record<string, any>;
}

const VERSION_COLUMNS = ['version', 'semver', 'stage', 'aliases', 'signing_key_id', 'created', 'source'];
const iso = (ms: number | undefined) => (ms === undefined ? '' : new Date(ms).toISOString());

function versionRow(v: WireModelVersionDetail) {
  return { version: v.version, semver: v.semver, stage: v.current_stage, aliases: v.aliases ?? [], signing_key_id: v.signing_key_id, created: iso(v.creation_timestamp), source: v.source };
}

/** The positionals a verb needs, by name; a missing or extra one ends the process with the usage. */
function args(given: string[], names: string[]): string[] {
  if (given.length < names.length) fail(`missing ${names[given.length]}\nusage: ${USAGE}`);
  if (given.length > names.length) fail(`unexpected argument '${given[names.length]}'\nusage: ${USAGE}`);
  return given;
}

async function allVersions(client: CapstanClient, name: string): Promise<WireModelVersionDetail[]> {
  const numbers: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.searchModelVersions({ filter: `name = '${name.replace(/'/g, "''")}'`, page_token: token });
    numbers.push(...(page.model_versions ?? []).map((v) => v.version));
    token = page.next_page_token;
  } while (token);
  numbers.sort((a, b) => Number(a) - Number(b));
  // MLflow's search has no semver or signing key; Capstan's view of each version has.
  return Promise.all(numbers.map((n) => client.getModelVersion(name, n)));
}

async function listModels({ client, values }: Context): Promise<void> {
  const models = [];
  let token: string | undefined;
  do {
    const page = await client.searchRegisteredModels({ filter: values.filter, page_token: token });
    models.push(...(page.registered_models ?? []));
    token = page.next_page_token;
  } while (token);
  const rows = models.map((m) => ({
    name: m.name,
    latest: (m.latest_versions ?? []).map((v) => `${v.version}:${v.current_stage}`),
    aliases: (m.aliases ?? []).map((a) => `${a.alias}=${a.version}`),
    updated: iso(m.last_updated_timestamp),
    description: m.description,
  }));
  printRows(rows, ['name', 'latest', 'aliases', 'updated', 'description'], values.json, models);
}

async function getModel({ client, values }: Context, positionals: string[]): Promise<void> {
  const [name] = args(positionals, ['NAME']);
  const model = await client.getRegisteredModel(name);
  const versions = await allVersions(client, name);
  if (values.json) return printRows([], [], true, { registered_model: model, model_versions: versions });
  const aliases = (model.aliases ?? []).map((a) => `${a.alias}=${a.version}`).join(', ');
  const tags = (model.tags ?? []).map((t) => `${t.key}=${t.value}`).join(', ');
  process.stdout.write(`name:         ${model.name}\ndescription:  ${model.description ?? ''}\naliases:      ${aliases}\ntags:         ${tags}\n\n`);
  printRows(versions.map(versionRow), VERSION_COLUMNS.slice(0, -1), false);
}

async function listVersions({ client, values }: Context, positionals: string[]): Promise<void> {
  const [name] = args(positionals, ['NAME']);
  const versions = await allVersions(client, name);
  printRows(versions.map((v) => ({ ...versionRow(v), run_id: v.run_id, manifest_digest: v.manifest_digest })), [...VERSION_COLUMNS, 'run_id', 'manifest_digest'], values.json, versions);
}


/** `find()`, or `create()` when the server answers that the object does not exist. */
async function findOrCreate<T>(find: () => Promise<T>, create: () => Promise<T>): Promise<T> {
  try {
    return await find();
  } catch (err) {
    if (err instanceof CapstanError && err.errorCode === 'RESOURCE_DOES_NOT_EXIST') return create();
    throw err;
  }
}

/** The run to upload into: --run, else a new run in --experiment (created when missing). */
async function uploadRun(client: CapstanClient, values: Record<string, any>): Promise<{ runId: string; isNew: boolean; root: string }> {
  let run: WireRun;
  if (values.run) {
    run = await client.getRun(values.run);
  } else {
    const name = values.experiment as string;
    const experimentId = await findOrCreate(async () => (await client.getExperimentByName(name)).experiment_id, () => client.createExperiment(name));
    run = await client.createRun(experimentId, undefined, [{ key: 'mlflow.source.type', value: 'LOCAL' }]);
  }
  const proxied = /^mlflow-artifacts:\/+(.*)$/.exec(run.info.artifact_uri);
  if (!proxied) fail(`run ${run.info.run_id} stores artifacts at ${run.info.artifact_uri}, not through the server's artifact proxy; upload the files there and register that URI`, 1);
  return { runId: run.info.run_id, isNew: !values.run, root: proxied[1].replace(/\/+$/, '') };
}

/** Uploads a local model into a run's `model/` folder, streaming each file; returns the runs:/ source. */
async function uploadLocal(client: CapstanClient, values: Record<string, any>, local: string): Promise<{ source: string; runId: string }> {
  const files = await localFiles(local);
  if (files.length === 0) fail(`${local} holds no files`, 1);
  const { runId, isNew, root } = await uploadRun(client, values);
  try {
    for (const f of files) await client.uploadArtifact(`${root}/model/${f.rel}`, createReadStream(f.path), f.size);
  } catch (err) {
    // The upload's error is the one worth reporting, even if marking the run fails too.
    if (isNew) await client.updateRun(runId, { status: 'FAILED', end_time: Date.now() }).catch(() => undefined);
    throw err;
  }
  if (isNew) await client.updateRun(runId, { status: 'FINISHED', end_time: Date.now() });
  const bytes = files.reduce((sum, f) => sum + f.size, 0);
  process.stderr.write(`uploaded ${files.length} file${files.length === 1 ? '' : 's'} (${bytes} bytes) to run ${runId}\n`);
  return { source: `runs:/${runId}/model`, runId };
}

async function readCard(file: string): Promise<Partial<WireModelCard>> {
  let card: unknown;
  try {
    card = parseYaml(await readFile(file, 'utf8'));
  } catch (err) {
    return fail(`--card ${file}: ${(err as Error).message}`);
  }
  if (typeof card !== 'object' || card === null || Array.isArray(card)) fail(`--card ${file}: expected a mapping of card fields to text`);
  return card as Partial<WireModelCard>;
}

async function register({ client, values }: Context, positionals: string[]): Promise<void> {
  const [name, source] = args(positionals, ['NAME', 'SOURCE']);
  const isUri = /^(runs|mlflow-artifacts|models):\//.test(source);
  if (!isUri && !existsSync(source)) fail(`SOURCE '${source}' is neither a runs:/, mlflow-artifacts:/ or models:/ URI nor a local file or directory`);
  const card = values.card ? await readCard(values.card) : undefined;
  await findOrCreate(() => client.getRegisteredModel(name), () => client.createRegisteredModel(name));
  const from = isUri ? { source, runId: values.run as string | undefined } : await uploadLocal(client, values, source);
  const req: NewModelVersionRequest = {
    name, source: from.source, run_id: from.runId, description: values.description, bump: values.bump, semver: values.semver, card,
  };
  const created = await client.createModelVersion(req);
  const v = await client.getModelVersion(name, created.version);
  const row = { name, version: v.version, semver: v.semver, manifest_digest: v.manifest_digest, signing_key_id: v.signing_key_id };
  printRows([row], ['name', 'version', 'semver', 'manifest_digest', 'signing_key_id'], values.json, v);
}

function problemText(p: { path: string; problem: string; expected?: string | number; actual?: string | number }): string {
  return p.expected === undefined ? `${p.path}: ${p.problem}` : `${p.path}: ${p.problem} (expected ${p.expected}, found ${p.actual})`;
}

async function verify({ client, values }: Context, positionals: string[]): Promise<void> {
  const [name, version] = args(positionals, ['NAME', 'VERSION']);
  const report = await client.verifyModelVersion(name, version);
  if (values.json) printRows([], [], true, report);
  else if (report.verified) process.stdout.write(`verified ${name} version ${version}: ${report.manifest_digest} signed by ${report.key_id}\n`);
  else {
    const problems = [
      ...(report.manifest_intact ? [] : [`the manifest does not hash to the signed digest ${report.manifest_digest}`]),
      ...(report.signature_valid ? [] : [`the signature by ${report.key_id} does not verify`]),
      ...report.problems.map(problemText),
    ];
    process.stdout.write(`NOT verified ${name} version ${version}:\n${problems.map((p) => `  ${p}\n`).join('')}`);
  }
  if (!report.verified) process.exit(1);
}

async function setAlias({ client, values }: Context, positionals: string[]): Promise<void> {
  const [name, alias, version] = args(positionals, ['NAME', 'ALIAS', 'VERSION']);
  await client.setAlias(name, alias, version, values['override-reason']);
}

async function deleteAlias({ client }: Context, positionals: string[]): Promise<void> {
  const [name, alias] = args(positionals, ['NAME', 'ALIAS']);
  await client.deleteAlias(name, alias);
}

async function setStage({ client, values }: Context, positionals: string[]): Promise<void> {
  const [name, version, stage] = args(positionals, ['NAME', 'VERSION', 'STAGE']);
  const v = await client.transitionStage(name, version, stage, { archiveExisting: values['archive-existing'], overrideReason: values['override-reason'] });
  printRows([{ version: v.version, stage: v.current_stage, aliases: v.aliases ?? [] }], ['version', 'stage', 'aliases'], values.json, v);
}

/** The details worth a glance: failed rules by name, other values as compact text. */
function detailText(detail: Record<string, unknown>): string {
  return Object.entries(detail)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => {
      if (k === 'failed' && Array.isArray(v)) return `failed=${v.map((r: { rule?: string }) => r.rule).join(',')}`;
      return `${k}=${typeof v === 'string' ? (/\s/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`;
    })
    .join(' ');
}

async function history({ client, values }: Context, positionals: string[]): Promise<void> {
  const [name] = args(positionals, ['NAME']);
  const PAGE = 1000;
  const events: WireModelEvent[] = [];
  for (;;) {
    const page = await client.modelHistory(name, { after: events.at(-1)?.event_id, max_results: PAGE });
    events.push(...page);
    if (page.length < PAGE) break;
  }
  const rows = events.map((e) => ({ time: iso(e.time), actor: e.actor, kind: e.kind, version: e.version, details: detailText(e.detail) }));
  printRows(rows, ['time', 'actor', 'kind', 'version', 'details'], values.json, events);
}

async function setCard({ client, values }: Context, positionals: string[]): Promise<void> {
  const [name, version] = args(positionals, ['NAME', 'VERSION']);
  if (!values.set?.length) fail(`missing --set FIELD=VALUE\nusage: ${USAGE}`);
  const card: Record<string, string> = {};
  for (const pair of values.set as string[]) {
    const at = pair.indexOf('=');
    if (at < 1) fail(`--set ${pair}: expected FIELD=VALUE`);
    card[pair.slice(0, at)] = pair.slice(at + 1);
  }
  const v = await client.updateModelCard(name, version, card);
  printRows(Object.entries(v.card).map(([field, value]) => ({ field, value })), ['field', 'value'], values.json, v.card);
}

async function policy({ client, values }: Context, positionals: string[]): Promise<void> {
  const [verb, file] = positionals;
  if (verb === 'show') {
    args(positionals, ['show']);
    const p = await client.getPolicy();
    if (values.json) return printRows([], [], true, p);
    if (p.text === '') process.stderr.write('no policy is set for this project\n');
    else process.stderr.write(`# set by ${p.updated_by} at ${iso(p.updated_time)}\n`);
    process.stdout.write(p.text);
    return;
  }
  if (verb !== 'set') fail(`unknown policy verb '${verb ?? ''}'\nusage: ${USAGE}`);
  args(positionals, ['set', 'FILE']);
  const result = await client.putPolicy(await readFile(file, 'utf8'));
  if (values.json) return printRows([], [], true, result);
  process.stdout.write(`policy set with gates: ${result.gates.join(', ') || '(none)'}\n`);
}

async function checkGates({ client, values }: Context, positionals: string[]): Promise<void> {
  const [verb, name, version] = args(positionals, ['check', 'NAME', 'VERSION']);
  if (verb !== 'check') fail(`unknown gates verb '${verb}'\nusage: ${USAGE}`);
  if ((values.alias === undefined) === (values.stage === undefined)) fail(`give one of --alias or --stage\nusage: ${USAGE}`);
  const target = values.alias === undefined ? { stage: values.stage as string } : { alias: values.alias as string };
  const check = await client.checkGates(name, version, target);
  if (values.json) printRows([], [], true, check);
  else {
    const what = target.alias === undefined ? `stage ${target.stage}` : `alias ${target.alias}`;
    if (check.gates.length === 0) process.stdout.write(`no gate protects ${what}\n`);
    else {
      const rows = check.results.map((r) => ({
        ...r, result: r.passed ? 'pass' : 'FAIL', inputs: Object.entries(r.inputs).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' '), why: r.error ?? (r.passed ? '' : r.message),
      }));
      printRows(rows, ['gate', 'rule', 'result', 'expr', 'inputs', 'why'], false);
      process.stdout.write(`${check.allowed ? 'allowed' : 'denied'}: ${name} version ${version} to ${what}\n`);
    }
  }
  if (!check.allowed) process.exit(1);
}

const VERBS: Record<string, (ctx: Context, positionals: string[]) => Promise<void>> = {
  list: async (ctx, positionals) => (args(positionals, []), listModels(ctx)),
  get: getModel,
  versions: listVersions,
  register,
  verify,
  alias: setAlias,
  unalias: deleteAlias,
  stage: setStage,
  history,
  card: setCard,
  policy,
  gates: checkGates,
};

export async function modelsCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseCommand(argv, OPTIONS, USAGE);
  const [verb, ...rest] = positionals;
  const run = verb === undefined ? undefined : VERBS[verb];
  if (!run) fail(`unknown models verb '${verb ?? ''}'\nusage: ${USAGE}`);
  await run({ client: clientFor(values), values }, rest);
}
