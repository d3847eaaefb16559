import { fail, printRows } from './output.js';
import { readSecretInput, storeToken } from './credentials.js';
import { clientFor, parseCommand, REMOTE_OPTIONS, serverUrl } from './remote.js';

const LOGIN_USAGE = 'capstan login --username NAME [--url URL]   (password prompted, or read from stdin)';

/** Signs in with a password and keeps the session token for this server URL. */
export async function loginCommand(args: string[]): Promise<void> {
  const { values } = parseCommand(args, { ...REMOTE_OPTIONS, username: { type: 'string', short: 'u' } }, LOGIN_USAGE);
  if (!values.username) fail(`missing --username\nusage: ${LOGIN_USAGE}`);
  const url = serverUrl(values.url);
  const password = await readSecretInput(`Password for ${values.username} at ${url}: `);
  const session = await clientFor({ ...values, token: undefined }).login(values.username, password);
  storeToken(url, session.token, session.expires_at);
  process.stdout.write(`signed in to ${url} as ${values.username} until ${session.expires_at}\n`);
}

export async function logoutCommand(args: string[]): Promise<void> {
  const { values } = parseCommand(args, REMOTE_OPTIONS, 'capstan logout [--url URL]');
  storeToken(serverUrl(values.url), null);
}

const PROJECTS_USAGE = 'capstan projects list | create NAME [--description D] | delete NAME  [--url URL] [--json]';

export async function projectsCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseCommand(args, { ...REMOTE_OPTIONS, description: { type: 'string' } }, PROJECTS_USAGE);
  const client = clientFor(values);
  const [verb, name] = positionals;
  if (verb === 'list') {
    const projects = await client.listProjects();
    return printRows(projects, ['name', 'role', 'description', 'created_at'], values.json, projects);
  }
  if (!name) fail(`missing project name\nusage: ${PROJECTS_USAGE}`);
  if (verb === 'create') {
    const p = await client.createProject(name, values.description ?? '');
    return printRows([p], ['name', 'description', 'created_at'], values.json, p);
  }
  if (verb === 'delete') return client.deleteProject(name);
  fail(`unknown projects verb '${verb ?? ''}'\nusage: ${PROJECTS_USAGE}`);
}

const MEMBERS_USAGE = 'capstan members list PROJECT | add PROJECT ACCOUNT ROLE | remove PROJECT ACCOUNT   (roles: viewer, editor, deployer, admin)';

export async function membersCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseCommand(args, REMOTE_OPTIONS, MEMBERS_USAGE);
  const client = clientFor(values);
  const [verb, project, account, role] = positionals;
  if (!project) fail(`missing project\nusage: ${MEMBERS_USAGE}`);
  if (verb === 'list') {
    const members = await client.listMembers(project);
    return printRows(members, ['account', 'role'], values.json, members);
  }
  if (!account) fail(`missing account\nusage: ${MEMBERS_USAGE}`);
  if (verb === 'add') {
    if (!role) fail(`missing role\nusage: ${MEMBERS_USAGE}`);
    await client.setMember(project, account, role);
    return;
  }
  if (verb === 'remove') return client.removeMember(project, account);
  fail(`unknown members verb '${verb ?? ''}'\nusage: ${MEMBERS_USAGE}`);
}

const ACCOUNTS_USAGE = 'capstan accounts list | create NAME [--robot] [--owner] | disable NAME | enable NAME   (a user\'s password is prompted or read from stdin)';

export async function accountsCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseCommand(args, { ...REMOTE_OPTIONS, robot: { type: 'boolean', default: false }, owner: { type: 'boolean', default: false } }, ACCOUNTS_USAGE);
  const client = clientFor(values);
  const [verb, name] = positionals;
  const columns = ['name', 'kind', 'is_owner', 'disabled', 'locked_until', 'created_at'];
  if (verb === 'list') {
    const accounts = await client.listAccounts();
    return printRows(accounts, columns, values.json, accounts);
  }
  if (!name) fail(`missing account name\nusage: ${ACCOUNTS_USAGE}`);
  if (verb === 'create') {
    const password = values.robot ? undefined : await readSecretInput(`Password for ${name}: `);
    const a = await client.createAccount({ name, kind: values.robot ? 'robot' : 'user', password, is_owner: values.owner });
    return printRows([a], columns, values.json, a);
  }
  if (verb === 'disable' || verb === 'enable') {
    const a = await client.updateAccount(name, { disabled: verb === 'disable' });
    return printRows([a], columns, values.json, a);
  }
  fail(`unknown accounts verb '${verb ?? ''}'\nusage: ${ACCOUNTS_USAGE}`);
}

const TOKENS_USAGE = 'capstan tokens create NAME --scopes read,write [--for-project P] [--expires-in-days N] [--account ROBOT] | list | revoke ID';

export async function tokensCommand(args: string[]): Promise<void> {
  const options = { ...REMOTE_OPTIONS, scopes: { type: 'string' }, 'for-project': { type: 'string' }, 'expires-in-days': { type: 'string' }, account: { type: 'string' } } as const;
  const { values, positionals } = parseCommand(args, options, TOKENS_USAGE);
  const client = clientFor(values);
  const [verb, arg] = positionals;
  const columns = ['token_id', 'name', 'account', 'scopes', 'project', 'expires_at', 'revoked_at', 'last_used_at'];
  if (verb === 'list') {
    const tokens = await client.listTokens();
    return printRows(tokens, columns, values.json, tokens);
  }
  if (!arg) fail(`missing ${verb === 'revoke' ? 'token id' : 'token name'}\nusage: ${TOKENS_USAGE}`);
  if (verb === 'create') {
    if (!values.scopes) fail(`missing --scopes\nusage: ${TOKENS_USAGE}`);
    const days = values['expires-in-days'] === undefined ? undefined : Number(values['expires-in-days']);
    const created = await client.createToken({ name: arg, scopes: String(values.scopes).split(','), project: values['for-project'], expires_in_days: days, account: values.account });
    if (values.json) return printRows([], [], true, created);
    process.stdout.write(`${created.token}\n`);
    process.stderr.write(`token ${created.info.token_id} for ${created.info.account}: shown once, store it now\n`);
    return;
  }
  if (verb === 'revoke') return client.revokeToken(arg);
  fail(`unknown tokens verb '${verb ?? ''}'\nusage: ${TOKENS_USAGE}`);
}
