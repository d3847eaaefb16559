import { AppError } from '../errors/index.js';
import { CapstanError } from '../client/index.js';

type Command = (args: string[]) => Promise<void>;

/** Loaded on demand: `up` pulls in the whole server (SQL drivers, S3 SDK, tracing), which client commands never need. */
const COMMANDS: Record<string, () => Promise<Command>> = {
  up: async () => (await import('./up.js')).upCommand,
  config: async () => (await import('./config.js')).configCommand,
  experiments: async () => (await import('./experiments.js')).experimentsCommand,
  runs: async () => (await import('./runs.js')).runsCommand,
  login: async () => (await import('./access.js')).loginCommand,
  logout: async () => (await import('./access.js')).logoutCommand,
  projects: async () => (await import('./access.js')).projectsCommand,
  members: async () => (await import('./access.js')).membersCommand,
  accounts: async () => (await import('./access.js')).accountsCommand,
  tokens: async () => (await import('./access.js')).tokensCommand,
  admin: async () => (await import('./admin.js')).adminCommand,
  audit: async () => (await import('./admin.js')).auditCommand,
  backup: async () => (await import('./backup.js')).backupCommand,
  restore: async () => (await import('./backup.js')).restoreCommand,
  secrets: async () => (await import('./admin.js')).secretsCommand,
  models: async () => (await import('./models.js')).modelsCommand,
  keys: async () => (await import('./keys.js')).keysCommand,
  datasets: async () => (await import('./datasets.js')).datasetsCommand,
  lineage: async () => (await import('./lineage.js')).lineageCommand,
  gc: async () => (await import('./gc.js')).gcCommand,
  deploy: async () => (await import('./deployments.js')).deployCommand,
  deployments: async () => (await import('./deployments.js')).deploymentsCommand,
  serve: async () => (await import('./serve.js')).serveCommand,
  drift: async () => (await import('./drift.js')).driftCommand,
  monitor: async () => (await import('./monitor.js')).monitorCommand,
  pipelines: async () => (await import('./pipelines.js')).pipelinesCommand,
  worker: async () => (await import('./worker.js')).workerCommand,
  step: async () => (await import('./step.js')).stepCommand,
};

const HELP = `capstan — one service for the ML lifecycle

commands:
  up            start the platform (HTTP API, tracking, artifacts) in this process
  config        show the effective configuration (--print)
  experiments   list | create | get
  runs          list | search | get
  login         sign in with a password; the session token is kept per server URL
  logout        forget the stored session token
  projects      list | create | delete
  members       list | add | remove  (project roles: viewer, editor, deployer, admin)
  accounts      list | create | disable | enable  (users and robot accounts; owners only)
  tokens        create | list | revoke  (API tokens with scopes, project and expiry)
  admin         create  (the first owner, straight in the database)
  audit         verify | export  (the tamper-evident audit log)
  secrets       set | list | rm | keygen | rotate
  backup        DIR  (a consistent snapshot of the database and the artifact list; --artifacts copies the files)
  restore       DIR  (rebuild a server from a backup, into an empty database and artifact store)
  models        list | get | versions | register | verify | alias | unalias | stage | history | card | policy | gates
  keys          show | rotate  (the keys that sign model manifests; rotate runs on the server machine)
  datasets      register | list | get | link  (versioned by content, with schema and profile)
  lineage       model | dataset  (runs, datasets and model versions; --mermaid for a flowchart)
  gc            apply retention, then remove unreferenced artifact files (--dry-run; owners only)
  deploy        -f deployment.yaml  (create or replace a deployment; canary rollouts, shadows, batching)
  deployments   list | get | set-traffic | rollback | promote | events | predictions | delete
  serve         MODEL.onnx  (serve one ONNX file over V2 and V1 on its own, no database)
  drift         REFERENCE.csv CURRENT.csv  (drift and data-quality report, no server; --json, --html)
  monitor       apply | run | report | profile | feedback | alerts | silence | channel | cost | idle | budget
  pipelines     validate | graph | order FILE (no server) | run | apply | runs | status | logs -f | cancel | retry
  worker        run pipeline steps from the queue on this machine (--labels gpu=1,zone=a)
  step          fetch  (a pipeline step's inputs, in a Kubernetes init container)

Client commands take --url (or CAPSTAN_URL), --token (or CAPSTAN_TOKEN, else the stored login)
and --project (or CAPSTAN_PROJECT).

Run 'capstan <command> --help' for a command's flags.`;

export async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`capstan: unknown command '${name}'; known: ${Object.keys(COMMANDS).join(', ')}\n`);
    process.exit(2);
  }
  const command = await load();
  try {
    await command(rest);
  } catch (err) {
    if (err instanceof AppError || err instanceof CapstanError) {
      process.stderr.write(`capstan: ${err instanceof AppError ? `${err.code}: ` : ''}${err.message}\n`);
      process.exit(1);
    }
    // fetch() rejects with a bare TypeError('fetch failed') whose cause says why (refused, DNS, TLS).
    if (err instanceof TypeError && err.cause instanceof Error) {
      process.stderr.write(`capstan: cannot reach the server: ${err.cause.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}
