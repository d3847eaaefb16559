import { createWriteStream } from 'node:fs';
import { KeyRing } from '../access/index.js';
import type { WireAuditEvent } from '../client/index.js';
import { readSecretInput } from './credentials.js';
import { fail, printRows } from './output.js';
import { clientFor, parseCommand, REMOTE_OPTIONS } from './remote.js';
import { configFromFlags, SERVER_FLAGS } from './up.js';

const ADMIN_USAGE = 'capstan admin create NAME [--config capstan.yaml] [--data DIR]   (run on the server machine; password prompted or read from stdin)';

async function localAdmin(values: Record<string, unknown>) {
  const { openLocalAdmin } = await import('../server/local-admin.js');
  return openLocalAdmin(configFromFlags(values as Record<string, string | boolean | undefined>));
}

/** Creates the first owner straight in the database: the one way in before any account exists. */
export async function adminCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseCommand(args, SERVER_FLAGS, ADMIN_USAGE);
  const [verb, name] = positionals;
  if (verb !== 'create' || !name) fail(`usage: ${ADMIN_USAGE}`);
  const password = await readSecretInput(`Password for owner ${name}: `);
  const admin = await localAdmin(values);
  try {
    await admin.audited('admin create', `account:${name}`, () => admin.access.bootstrapOwner(name, password));
    process.stdout.write(`created owner account ${name}\n`);
  } finally {
    await admin.close();
  }
}

const AUDIT_USAGE = 'capstan audit verify [--local] | export [--since ISO-TIME] [--output FILE]  [--url URL]';

async function* remoteEvents(values: Record<string, any>): AsyncGenerator<WireAuditEvent> {
  const client = clientFor(values);
  let after: number | undefined;
  for (;;) {
    const page = await client.auditEvents({ since: values.since, after_seq: after, max_results: 10_000 });
    yield* page.events;
    if (page.next_after_seq === null) return;
    after = page.next_after_seq;
  }
}

export async function auditCommand(args: string[]): Promise<void> {
  const options = { ...REMOTE_OPTIONS, ...SERVER_FLAGS, since: { type: 'string' }, output: { type: 'string', short: 'o' }, local: { type: 'boolean', default: false } } as const;
  const { values, positionals } = parseCommand(args, options, AUDIT_USAGE);
  const [verb] = positionals;
  if (verb === 'verify') {
    let verdict;
    if (values.local) {
      const admin = await localAdmin(values);
      verdict = await admin.audit.verify().finally(() => admin.close());
    } else {
      verdict = await clientFor(values).auditVerify();
    }
    if (values.json) printRows([], [], true, verdict);
    else if (verdict.ok) process.stdout.write(`audit log intact: ${verdict.events} events, head ${verdict.headSeq} ${verdict.headHash}\n`);
    else process.stdout.write(`audit log BROKEN at event ${verdict.seq} (${verdict.problem}): ${verdict.message}\n`);
    if (!verdict.ok) process.exit(1);
    return;
  }
  if (verb === 'export') {
    const out = values.output ? createWriteStream(values.output, { mode: 0o600 }) : process.stdout;
    let count = 0;
    for await (const event of remoteEvents(values)) {
      if (!out.write(`${JSON.stringify(event)}\n`)) await new Promise<void>((r) => out.once('drain', () => r()));
      count++;
    }
    if (out !== process.stdout) await new Promise<void>((r) => out.end(() => r()));
    process.stderr.write(`exported ${count} audit events\n`);
    return;
  }
  fail(`unknown audit verb '${verb ?? ''}'\nusage: ${AUDIT_USAGE}`);
}

const SECRETS_USAGE = 'capstan secrets set PROJECT NAME (value prompted or from stdin) | list PROJECT | rm PROJECT NAME | keygen [ID] | rotate [--config F]';

export async function secretsCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseCommand(args, { ...REMOTE_OPTIONS, ...SERVER_FLAGS }, SECRETS_USAGE);
  const [verb, project, name] = positionals;
  if (verb === 'keygen') {
    process.stdout.write(`${KeyRing.generate(project)}\n`);
    return;
  }
  if (verb === 'rotate') {
    const admin = await localAdmin(values);
    try {
      const count = await admin.audited('secrets rotate', 'secret', () => admin.secrets.rotate());
      process.stdout.write(`re-sealed ${count} secrets under the current key\n`);
    } finally {
      await admin.close();
    }
    return;
  }
  if (!project) fail(`missing project\nusage: ${SECRETS_USAGE}`);
  const client = clientFor(values);
  if (verb === 'list') {
    const list = await client.listSecrets(project);
    return printRows(list, ['name', 'key_id', 'updated_at', 'updated_by'], values.json, list);
  }
  if (!name) fail(`missing secret name\nusage: ${SECRETS_USAGE}`);
  if (verb === 'set') return client.setSecret(project, name, await readSecretInput(`Value of ${name}: `));
  if (verb === 'rm') return client.deleteSecret(project, name);
  fail(`unknown secrets verb '${verb ?? ''}'\nusage: ${SECRETS_USAGE}`);
}
