import { createReadStream, existsSync } from 'node:fs';
import {
  DATASET_ACCESS_LEVELS, DATASET_FORMATS, type CapstanClient, type RegisterDatasetRequest, type WireColumnProfile, type WireDatasetVersion,
} from '../client/index.js';
import { fail, printRows } from './output.js';
import { clientFor, parseCommand, REMOTE_OPTIONS } from './remote.js';
import { localFiles } from './local-files.js';

const USAGE = `capstan datasets <verb> [--url URL] [--json]
  register NAME PATH|SOURCE [--description T] [--sensitive] [--access public|internal|restricted] [--format csv|tsv|jsonl] [--no-header]
      PATH: a local file or directory, uploaded whole (paths below it kept)
      SOURCE: runs:/<run>/<path>, mlflow-artifacts:/<path> or s3://<bucket>/<prefix> (read by the server;
      s3:// needs the admin role in the project)
  list [NAME]
  get NAME[@VERSION]                      (the latest version when none is given)
  link RUN_ID NAME@VERSION [--context training]`;

const OPTIONS = {
  ...REMOTE_OPTIONS,
  description: { type: 'string' },
  sensitive: { type: 'boolean', default: false },
  access: { type: 'string' },
  format: { type: 'string' },
  'no-header': { type: 'boolean', default: false },
  context: { type: 'string' },
} as const;

interface Context {
  client: CapstanClient;
  values: Record<string, any>;
}

/** The highest number of most frequent values the profile table shows; --json has them all. */
const TOP_SHOWN = 5;
const iso = (ms: number) => new Date(ms).toISOString();

/** The positionals a verb needs, by name; a missing or extra one ends the process with the usage. */
function args(given: string[], names: string[], optional = 0): string[] {
  if (given.length < names.length - optional) fail(`missing ${names[given.length]}\nusage: ${USAGE}`);
  if (given.length > names.length) fail(`unexpected argument '${given[names.length]}'\nusage: ${USAGE}`);
  return given;
}

/** NAME@VERSION, or NAME alone when the version may be left out (dataset names cannot hold '@'). */
export function parseDatasetRef(ref: string, isVersionRequired: boolean): { name: string; version?: number } {
  const at = ref.lastIndexOf('@');
  if (at < 0) return isVersionRequired ? fail(`'${ref}' needs a version: NAME@VERSION`) : { name: ref };
  const version = Number(ref.slice(at + 1));
  if (at === 0 || !Number.isSafeInteger(version) || version < 1) fail(`'${ref}' is not NAME@VERSION with a positive whole version`);
  return { name: ref.slice(0, at), version };
}


/** Streams the local files into a new upload, one at a time; returns the upload:<id> source. */
async function uploadLocal(client: CapstanClient, local: string): Promise<string> {
  const files = await localFiles(local);
  if (files.length === 0) fail(`${local} holds no files`, 1);
  const uploadId = await client.startDatasetUpload();
  for (const f of files) await client.uploadDatasetFile(uploadId, f.rel, createReadStream(f.path), f.size);
  const bytes = files.reduce((sum, f) => sum + f.size, 0);
  process.stderr.write(`uploaded ${files.length} file${files.length === 1 ? '' : 's'} (${bytes} bytes)\n`);
  return `upload:${uploadId}`;
}

function checkChoice(flag: string, value: string | undefined, choices: readonly string[]): void {
  if (value !== undefined && !choices.includes(value)) fail(`--${flag} must be one of ${choices.join(', ')}, not '${value}'`);
}

async function register({ client, values }: Context, positionals: string[]): Promise<void> {
  const [name, from] = args(positionals, ['NAME', 'PATH|SOURCE']);
  checkChoice('access', values.access, DATASET_ACCESS_LEVELS);
  checkChoice('format', values.format, DATASET_FORMATS);
  // Two letters at least, so a Windows drive (C:\data) still reads as a path.
  const hasScheme = /^[a-z][a-z0-9+.-]+:/i.test(from);
  if (!hasScheme && !existsSync(from)) fail(`'${from}' is neither a local file or directory nor a source URI (runs:/, mlflow-artifacts:/, s3://)`);
  const source = hasScheme ? from : await uploadLocal(client, from);
  const req: RegisterDatasetRequest = {
    name, source, description: values.description, sensitive: values.sensitive, access: values.access, format: values.format, header: values['no-header'] ? false : undefined,
  };
  const result = await client.registerDataset(req);
  const v = result.dataset_version;
  const row = { name: v.name, version: v.version, digest: v.digest, rows: v.row_count, columns: v.schema.length, status: result.created ? 'new' : 'existing' };
  printRows([row], ['name', 'version', 'digest', 'rows', 'columns', 'status'], values.json, result);
}

async function list({ client, values }: Context, positionals: string[]): Promise<void> {
  const [name] = args(positionals, ['NAME'], 1);
  const versions = await client.listDatasets(name);
  const rows = versions.map((v) => ({
    name: v.name, version: v.version, rows: v.row_count, columns: v.schema.length, format: v.format, bytes: v.size_bytes, access: v.access,
    sensitive: v.sensitive ? 'yes' : 'no', created: iso(v.created_time), digest: v.digest,
  }));
  printRows(rows, ['name', 'version', 'rows', 'columns', 'format', 'bytes', 'access', 'sensitive', 'created', 'digest'], values.json, versions);
}

/** Integers as they are; other numbers to six significant digits. */
function numberText(n: number | undefined): string {
  if (n === undefined) return '';
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(6)));
}

/** A value quoted when it would otherwise be hard to read in a list (empty, spaces, commas, parentheses). */
const valueText = (value: string) => (value === '' || /[\s,()"]/.test(value) ? JSON.stringify(value) : value);

function topText(top: WireColumnProfile['top']): string {
  if (!top) return '';
  const shown = top.slice(0, TOP_SHOWN).map((t) => `${valueText(t.value)} (${t.count})`);
  return [...shown, ...(top.length > TOP_SHOWN ? [`+${top.length - TOP_SHOWN} more`] : [])].join(', ');
}

function profileRow(c: WireColumnProfile) {
  return {
    column: c.name, type: c.type, missing: `${numberText(Math.round(c.missing_share * 1000) / 10)}%`, min: numberText(c.min), max: numberText(c.max),
    mean: numberText(c.mean), std: numberText(c.std), distinct: `${c.distinct_exact ? '' : '~'}${c.distinct}`, top: topText(c.top),
  };
}

function printDataset(v: WireDatasetVersion): void {
  const files = v.files ?? [];
  const header = [
    ['name', v.name], ['version', v.version], ['digest', v.digest], ['source', v.source], ['format', v.format], ['rows', v.row_count],
    ['files', `${v.file_count} (${v.size_bytes} bytes)${files.length === 1 ? ` ${files[0]!.path}` : ''}`], ['access', v.access],
    ['sensitive', v.sensitive ? 'yes' : 'no'], ['description', v.description], ['created', `${iso(v.created_time)} by ${v.created_by}`],
  ];
  process.stdout.write(`${header.map(([k, value]) => `${`${k}:`.padEnd(13)} ${value}`.trimEnd()).join('\n')}\n\n`);
  printRows((v.profile?.columns ?? []).map(profileRow), ['column', 'type', 'missing', 'min', 'max', 'mean', 'std', 'distinct', 'top'], false);
}

async function get({ client, values }: Context, positionals: string[]): Promise<void> {
  const [ref] = args(positionals, ['NAME[@VERSION]']);
  const { name, version } = parseDatasetRef(ref, false);
  const v = await client.getDataset(name, version);
  if (values.json) return printRows([], [], true, v);
  printDataset(v);
}

async function link({ client, values }: Context, positionals: string[]): Promise<void> {
  const [runId, ref] = args(positionals, ['RUN_ID', 'NAME@VERSION']);
  const { name, version } = parseDatasetRef(ref, true);
  const v = await client.linkDataset(runId, name, version!, values.context);
  if (values.json) return printRows([], [], true, v);
  process.stdout.write(`linked ${v.name} version ${v.version} to run ${runId}${values.context ? ` as ${values.context}` : ''}\n`);
}

const VERBS: Record<string, (ctx: Context, positionals: string[]) => Promise<void>> = { register, list, get, link };

export async function datasetsCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseCommand(argv, OPTIONS, USAGE);
  const [verb, ...rest] = positionals;
  const run = verb === undefined ? undefined : VERBS[verb];
  if (!run) fail(`unknown datasets verb '${verb ?? ''}'\nusage: ${USAGE}`);
  await run({ client: clientFor(values), values }, rest);
}
