// The files of a backup directory: NDJSON written with its sha256, rows encoded so that bytes and
// 64-bit integers survive JSON, and a walk over every file of a blob store.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { BlobStore } from '../store/blob/index.js';
import type { Row, SqlValue } from '../store/sql/index.js';

export class NdjsonWriter {
  private readonly out: WriteStream;
  private readonly hash = createHash('sha256');

  constructor(path: string) {
    this.out = createWriteStream(path, { flags: 'wx' });
  }

  async write(value: unknown): Promise<void> {
    const line = `${JSON.stringify(value)}\n`;
    this.hash.update(line);
    if (!this.out.write(line)) await new Promise<void>((resolve) => this.out.once('drain', resolve));
  }

  /** Flushes, closes and answers the sha256 of everything written. */
  async close(): Promise<string> {
    await new Promise<void>((resolve, reject) => this.out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    return this.hash.digest('hex');
  }
}

/** The lines of an NDJSON file, parsed, with the sha256 of the whole file once they are read. */
export async function* readNdjson(path: string, digest: { sha256?: string } = {}): AsyncGenerator<any> {
  const hash = createHash('sha256');
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) {
    hash.update(`${line}\n`);
    if (line) yield JSON.parse(line);
  }
  digest.sha256 = hash.digest('hex');
}

/** Bytes become {"$bytes": base64}; 64-bit integers beyond doubles become strings (both databases take them back). */
export function encodeRow(row: Row): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) out[k] = Buffer.isBuffer(v) ? { $bytes: v.toString('base64') } : typeof v === 'bigint' ? v.toString() : v;
  return out;
}

export function decodeValue(v: unknown): SqlValue {
  if (v !== null && typeof v === 'object' && typeof (v as { $bytes?: unknown }).$bytes === 'string') return Buffer.from((v as { $bytes: string }).$bytes, 'base64');
  if (typeof v === 'boolean') return v ? 1 : 0;
  return v as SqlValue;
}

export const writeJson = (path: string, value: unknown) => writeFile(path, `${JSON.stringify(value, null, 2)}\n`, { flag: 'wx' });

/** Every file key below `prefix`, depth first. */
export async function* walkBlobs(store: BlobStore, prefix: string): AsyncGenerator<string> {
  for (const entry of await store.list(prefix)) {
    const key = prefix ? `${prefix.replace(/\/+$/, '')}/${entry.name}` : entry.name;
    if (entry.isDir) yield* walkBlobs(store, key);
    else yield key;
  }
}
