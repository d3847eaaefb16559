import { AppError } from '../../errors/index.js';
import type { Db } from './db.js';
import { PostgresDb } from './postgres.js';
import { SqliteDb } from './sqlite.js';

export interface OpenDbOptions {
  poolSize?: number;
}

const SCHEMES: Record<string, (uri: string, options: OpenDbOptions) => Db> = {
  sqlite: (uri) => new SqliteDb(sqlitePath(uri)),
  postgresql: (uri, o) => new PostgresDb(uri, o.poolSize ?? 10),
  postgres: (uri, o) => new PostgresDb(uri, o.poolSize ?? 10),
};

/** `sqlite:///abs/path.db`, `sqlite://relative.db`, `sqlite://:memory:`. */
function sqlitePath(uri: string): string {
  const rest = uri.slice('sqlite://'.length);
  if (rest === '' || rest === ':memory:' || rest === '/:memory:') return ':memory:';
  return rest;
}

/** Opens the metadata database named by URI; an unknown scheme lists the known ones. */
export function openDb(uri: string, options: OpenDbOptions = {}): Db {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(uri)?.[1]?.toLowerCase();
  const factory = scheme ? SCHEMES[scheme] : undefined;
  if (!factory) {
    throw new AppError(
      'CONFIG_INVALID',
      `unsupported database URI scheme '${scheme ?? uri}'; known: ${Object.keys(SCHEMES).map((s) => `${s}://`).join(', ')}`,
    );
  }
  return factory(uri, options);
}
