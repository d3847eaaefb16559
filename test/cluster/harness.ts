// A Capstan cluster on one machine: N `capstan up` processes on one PostgreSQL database (a fresh
// schema), one S3-compatible store (s3rver, in this process) and one Redis, behind a small
// round-robin proxy — the team-server and cluster shapes, with real processes that can be killed.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestDatabase } from '../support/databases.js';
import { startS3Server, type TestS3Server } from '../support/s3-server.js';
import { startServer, type ServerProcess } from '../support/server-process.js';

export const OWNER = 'root';
export const PASSWORD = 'cluster-test-password';

export interface Cluster {
  /** The proxy: each request goes to the next live replica. */
  url: string;
  replicas: ServerProcess[];
  /** Requests the proxy answered 502 because the replica failed while handling them. */
  failedInFlight(): number;
  stop(): Promise<void>;
}

/** Forwards each request to the next replica; a replica that refuses the connection is skipped (as a load balancer's health check would). */
function roundRobin(targets: () => { port: number; alive: boolean }[], failures: { count: number }): Promise<{ server: Server; url: string }> {
  let next = 0;
  const server = createServer((req, res) => {
    const live = targets().filter((t) => t.alive);
    if (live.length === 0) {
      res.writeHead(503).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const attempt = (tries: number) => {
        const t = live[next++ % live.length];
        const out = httpRequest({ host: '127.0.0.1', port: t.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        });
        out.on('error', (err: NodeJS.ErrnoException) => {
          // Refused before anything was sent: the replica is gone; another one gets the request.
          if (err.code === 'ECONNREFUSED' && tries < live.length) return attempt(tries + 1);
          failures.count++;
          if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ error_code: 'TEMPORARILY_UNAVAILABLE', message: `replica failed: ${err.message}` }));
          else res.destroy();
        });
        out.end(body);
      };
      attempt(1);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })));
}

export async function startCluster(db: TestDatabase, options: { replicas?: number; env?: Record<string, string> } = {}): Promise<Cluster> {
  const created = await db.create();
  let s3: TestS3Server | undefined;
  const dirs: string[] = [];
  const replicas: ServerProcess[] = [];
  try {
    s3 = await startS3Server('capstan-cluster');
    const env = {
      CAPSTAN_STORE_DATABASE_URI: created.uri,
      CAPSTAN_STORE_ARTIFACTS_URI: `s3://${s3.bucket}/${randomUUID()}`,
      CAPSTAN_S3_ENDPOINT: s3.endpoint,
      CAPSTAN_S3_FORCE_PATH_STYLE: 'true',
      CAPSTAN_S3_ACCESS_KEY_ID: s3.accessKeyId,
      CAPSTAN_S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      CAPSTAN_REDIS_URL: 'redis://127.0.0.1:6379/11',
      CAPSTAN_AUTH_MODE: 'on',
      CAPSTAN_AUTH_BOOTSTRAP_OWNER: OWNER,
      CAPSTAN_AUTH_BOOTSTRAP_PASSWORD: PASSWORD,
      CAPSTAN_SERVER_RATE_LIMIT_RPS: '0',
      CAPSTAN_SERVING_POLL_MS: '250',
      ...options.env,
    };
    // One replica first (it creates the schema and the owner), then the rest together.
    const first = mkdtempSync(join(tmpdir(), 'capstan-replica-'));
    dirs.push(first);
    replicas.push(await startServer({ dataDir: first, env }));
    const pem = join(first, 'registry-signing.pem');
    const rest = await Promise.all(Array.from({ length: (options.replicas ?? 3) - 1 }, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'capstan-replica-'));
      dirs.push(dir);
      // Every replica signs with the same key (registry.signing_key_file).
      return startServer({ dataDir: dir, env: { ...env, CAPSTAN_REGISTRY_SIGNING_KEY_FILE: pem } });
    }));
    replicas.push(...rest);
  } catch (err) {
    await Promise.all(replicas.map((r) => r.stop()));
    await s3?.close();
    await created.drop();
    throw err;
  }
  const failures = { count: 0 };
  const proxy = await roundRobin(() => replicas.map((r) => ({ port: r.port, alive: r.child.exitCode === null && r.child.signalCode === null })), failures);
  return {
    url: proxy.url,
    replicas,
    failedInFlight: () => failures.count,
    async stop() {
      await new Promise<void>((resolve) => proxy.server.close(() => resolve()));
      proxy.server.closeAllConnections();
      await Promise.all(replicas.map((r) => r.stop()));
      await s3?.close();
      await created.drop();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}
