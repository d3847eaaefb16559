import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** The PostgreSQL every development and CI machine runs; override with CAPSTAN_TEST_PG_URL. */
export const PG_URL = process.env.CAPSTAN_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  name: 'sqlite' | 'postgres';
  /** Fresh, empty database URI for one test (or suite). */
  create(): Promise<{ uri: string; drop(): Promise<void> }>;
}

async function pgReachable(): Promise<string | null> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (err) {
    return `PostgreSQL at ${PG_URL} is unreachable (${(err as Error).message})`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

const sqlite: TestDatabase = {
  name: 'sqlite',
  async create() {
    const dir = mkdtempSync(join(tmpdir(), 'capstan-db-'));
    return { uri: `sqlite://${join(dir, 'capstan.db')}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  },
};

/** Each database is a fresh schema in the test database, selected through search_path. */
const postgres: TestDatabase = {
  name: 'postgres',
  async create() {
    const schema = `capstan_t_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.end();
    const sep = PG_URL.includes('?') ? '&' : '?';
    return {
      uri: `${PG_URL}${sep}options=${encodeURIComponent(`-c search_path=${schema}`)}`,
      drop: async () => {
        const c = new pg.Client({ connectionString: PG_URL });
        await c.connect();
        await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await c.end();
      },
    };
  },
};

/**
 * The backends a contract suite loops over, with the reason a backend is skipped. On CI (CI=true)
 * a missing PostgreSQL is an error, not a skip: CI must test both dialects.
 */
export async function testDatabases(): Promise<{ db: TestDatabase; skip: string | false }[]> {
  const unreachable = await pgReachable();
  if (unreachable && process.env.CI === 'true') throw new Error(`${unreachable}; CI requires it`);
  return [
    { db: sqlite, skip: false },
    { db: postgres, skip: unreachable ?? false },
  ];
}
