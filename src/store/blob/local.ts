import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { AppError } from '../../errors/index.js';
import type { BlobEntry, BlobInfo, BlobStore, PutOptions, ReadOptions } from './blob.store.js';
import { HashingStream, integrityError, verifyStream } from './integrity.js';
import { KeyedMutex } from './keyed-mutex.js';
import {
  checkKey,
  checkPrefix,
  checkRange,
  compareNames,
  parseDeleteTarget,
  rangeNotSatisfiable,
  RESERVED_PREFIX,
} from './keys.js';

const META_DIR = `${RESERVED_PREFIX}meta`;
const TMP_DIR = `${RESERVED_PREFIX}tmp`;
/** Temp files older than this are leftovers of a crashed writer and are swept on open. */
const STALE_TMP_MS = 24 * 60 * 60 * 1000;

interface SidecarMeta {
  sha256: string;
  sizeBytes: number;
  contentType?: string;
}

/**
 * Blobs as plain files under `rootDir`, so the tree stays browsable. Layout:
 * - `<root>/<key>`: the bytes;
 * - `<root>/.capstan-meta/<key>`: JSON `{sha256, sizeBytes}`; the tree mirrors the data tree exactly
 *   (no suffix), so any two keys that can coexist as files also coexist as sidecars;
 * - `<root>/.capstan-tmp/<uuid>`: uploads in progress, on the same filesystem so rename is atomic.
 *
 * A put renames the data into place, then its sidecar. Between the two renames, or after a crash
 * there, the data and sidecar disagree and reads fail with ARTIFACT_INTEGRITY_ERR rather than
 * return unverified bytes. Commits of one key are serialised within this process; separate processes
 * overwriting the same key at the same moment, or a put racing a delete of a prefix above it, can
 * leave such a mismatch until the key is rewritten. Files placed in the tree by other means have no
 * sidecar and fail to read the same way.
 */
export class LocalBlobStore implements BlobStore {
  readonly scheme = 'file';
  private readonly commits = new KeyedMutex();

  private constructor(readonly rootDir: string) {}

  static async open(rootDir: string): Promise<LocalBlobStore> {
    const store = new LocalBlobStore(resolve(rootDir));
    await mkdir(store.tmpDir(), { recursive: true }).catch((err) => {
      throw fsError(err, rootDir);
    });
    await store.sweepStaleTemps();
    return store;
  }

  async put(key: string, body: Readable, options: PutOptions = {}): Promise<BlobInfo> {
    checkKey(key);
    const tmp = this.tmpPath();
    try {
      const { sha256, sizeBytes } = await writeDurably(tmp, body);
      checkDeclaredSize(key, options.sizeBytes, sizeBytes);
      await options.beforeCommit?.();
      const meta: SidecarMeta = { sha256, sizeBytes, contentType: options.contentType };
      await this.commits.run(key, () => this.commit(key, tmp, meta));
      return { key, sha256, sizeBytes };
    } catch (err) {
      await rm(tmp, { force: true });
      throw fsError(err, key);
    }
  }

  async get(key: string, options: ReadOptions = {}): Promise<{ info: BlobInfo; body: Readable }> {
    checkKey(key);
    if (options.range) checkRange(key, options.range);
    const handle = await this.openData(key);
    try {
      const info = await this.readInfo(key, (await handle.stat()).size);
      const { start, end } = resolveRange(key, info.sizeBytes, options.range);
      const isFullRead = start === 0 && end === info.sizeBytes - 1;
      // An empty file cannot be read with start 0/end -1, so it gets an empty source instead.
      const source = info.sizeBytes === 0 ? Readable.from([]) : handle.createReadStream({ start, end });
      if (info.sizeBytes === 0) await handle.close();
      const body = verifyStream(source, {
        key,
        sizeBytes: end - start + 1,
        sha256: isFullRead ? info.sha256 : undefined,
      });
      return { info, body };
    } catch (err) {
      await handle.close().catch(() => {});
      throw err;
    }
  }

  async head(key: string): Promise<BlobInfo | undefined> {
    checkKey(key);
    const stats = await stat(this.dataPath(key)).catch((err) => {
      if (isMissing(err)) return undefined;
      throw fsError(err, key);
    });
    if (!stats?.isFile()) return undefined;
    return this.readInfo(key, stats.size);
  }

  async list(prefix: string): Promise<BlobEntry[]> {
    const path = checkPrefix(prefix);
    const dir = path === '' ? this.rootDir : this.dataPath(path);
    const dirents = await readdir(dir, { withFileTypes: true }).catch((err) => {
      if (isMissing(err)) return [];
      throw fsError(err, prefix);
    });
    const visible = dirents.filter((d) => !(path === '' && d.name.startsWith(RESERVED_PREFIX)));
    const entries = await Promise.all(visible.map((d) => describeEntry(join(dir, d.name), d.name)));
    return entries.filter((e): e is BlobEntry => e !== undefined).sort((a, b) => compareNames(a.name, b.name));
  }

  async delete(keyOrPrefix: string): Promise<void> {
    const { path, isPrefix } = parseDeleteTarget(keyOrPrefix);
    try {
      if (isPrefix) {
        await removeDir(this.dataPath(path));
        await removeDir(this.metaPath(path));
      } else {
        await this.commits.run(path, () => this.deleteOne(path));
      }
      await this.pruneEmptyParents(path);
    } catch (err) {
      throw fsError(err, keyOrPrefix);
    }
  }

  async close(): Promise<void> {}

  private dataPath(key: string): string {
    return join(this.rootDir, ...key.split('/'));
  }

  private metaPath(key: string): string {
    return join(this.rootDir, META_DIR, ...key.split('/'));
  }

  private tmpDir(): string {
    return join(this.rootDir, TMP_DIR);
  }

  private tmpPath(): string {
    return join(this.tmpDir(), randomUUID());
  }

  /** Data first, then the sidecar; see the class comment for what a reader sees in between. */
  private async commit(key: string, tmpData: string, meta: SidecarMeta): Promise<void> {
    const dataPath = this.dataPath(key);
    await renameIntoPlace(key, tmpData, dataPath);
    const tmpMeta = this.tmpPath();
    try {
      await writeDurably(tmpMeta, Readable.from([Buffer.from(JSON.stringify(meta))]));
      await renameIntoPlace(key, tmpMeta, this.metaPath(key));
    } finally {
      await rm(tmpMeta, { force: true });
    }
    await syncDir(dirname(dataPath));
  }

  private async deleteOne(key: string): Promise<void> {
    const stats = await stat(this.dataPath(key)).catch((err) => (isMissing(err) ? undefined : Promise.reject(err)));
    if (!stats?.isFile()) return;
    // Data before sidecar: in between, readers see "does not exist", never unverifiable bytes.
    await unlink(this.dataPath(key));
    await rm(this.metaPath(key), { force: true });
  }

  private async openData(key: string): Promise<FileHandle> {
    const handle = await open(this.dataPath(key), 'r').catch((err) => {
      throw isMissing(err) ? notFound(key) : fsError(err, key);
    });
    if (!(await handle.stat()).isFile()) {
      await handle.close();
      throw notFound(key);
    }
    return handle;
  }

  private async readInfo(key: string, actualSizeBytes: number): Promise<BlobInfo> {
    const text = await readFile(this.metaPath(key), 'utf8').catch((err) => {
      if (isMissing(err)) throw integrityError(key, 'no sha256 was recorded for this file');
      throw fsError(err, key);
    });
    const meta = parseMeta(key, text);
    if (meta.sizeBytes !== actualSizeBytes) {
      throw integrityError(key, 'size differs from the recorded size', {
        expectedBytes: meta.sizeBytes,
        actualBytes: actualSizeBytes,
      });
    }
    return { key, sha256: meta.sha256, sizeBytes: meta.sizeBytes };
  }

  /** Removes directories a delete left empty, so `list` agrees with object stores that have no dirs. */
  private async pruneEmptyParents(path: string): Promise<void> {
    for (const base of [this.rootDir, join(this.rootDir, META_DIR)]) {
      let dir = dirname(join(base, ...path.split('/')));
      while (dir.startsWith(base + sep)) {
        const isRemoved = await rmdir(dir).then(
          () => true,
          () => false,
        );
        if (!isRemoved) break;
        dir = dirname(dir);
      }
    }
  }

  private async sweepStaleTemps(): Promise<void> {
    const cutoffMs = Date.now() - STALE_TMP_MS;
    for (const name of await readdir(this.tmpDir())) {
      const path = join(this.tmpDir(), name);
      const stats = await stat(path).catch(() => undefined);
      if (stats && stats.mtimeMs < cutoffMs) await rm(path, { force: true });
    }
  }
}

/** Streams `body` into a new file at `path`, hashing as it goes, and fsyncs before returning. */
async function writeDurably(path: string, body: Readable): Promise<{ sha256: string; sizeBytes: number }> {
  const handle = await open(path, 'wx');
  try {
    const hasher = new HashingStream();
    await pipeline(body, hasher, async (chunks: AsyncIterable<Buffer>) => {
      for await (const chunk of chunks) await writeAll(handle, chunk);
    });
    await handle.sync();
    return { sha256: hasher.digest(), sizeBytes: hasher.sizeBytes };
  } finally {
    await handle.close();
  }
}

async function writeAll(handle: FileHandle, chunk: Buffer): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await handle.write(chunk, offset);
    offset += bytesWritten;
  }
}

/**
 * mkdir -p the parent, then rename. A concurrent delete may prune the parent in between (ENOENT),
 * so that case is retried a few times.
 */
async function renameIntoPlace(key: string, from: string, to: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await mkdir(dirname(to), { recursive: true });
      await rename(from, to);
      return;
    } catch (err) {
      const code = errorCode(err);
      if (code === 'ENOENT' && attempt < 5) continue;
      if (code === 'ENOTDIR' || code === 'EEXIST' || code === 'EISDIR' || code === 'ENOTEMPTY') {
        throw new AppError('INVALID_PARAMETER_VALUE', `blob key '${key}' conflicts with an existing file or directory`, {
          details: { key },
          cause: err,
        });
      }
      throw err;
    }
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** `rm -r` for a directory only: a prefix `a/` must not take the object `a` with it. */
async function removeDir(path: string): Promise<void> {
  const stats = await stat(path).catch((err) => (isMissing(err) ? undefined : Promise.reject(err)));
  if (stats?.isDirectory()) await rm(path, { recursive: true, force: true });
}

async function describeEntry(path: string, name: string): Promise<BlobEntry | undefined> {
  const stats = await stat(path).catch(() => undefined);
  if (stats?.isDirectory()) return { name, isDir: true };
  if (stats?.isFile()) return { name, isDir: false, sizeBytes: stats.size };
  return undefined;
}

function resolveRange(key: string, sizeBytes: number, range: ReadOptions['range']): { start: number; end: number } {
  if (!range) return { start: 0, end: sizeBytes - 1 };
  if (range.start >= sizeBytes) throw rangeNotSatisfiable(key, range.start, sizeBytes);
  return { start: range.start, end: Math.min(range.end ?? sizeBytes - 1, sizeBytes - 1) };
}

function parseMeta(key: string, text: string): SidecarMeta {
  try {
    const meta = JSON.parse(text) as Partial<SidecarMeta>;
    if (typeof meta.sha256 === 'string' && typeof meta.sizeBytes === 'number') return meta as SidecarMeta;
  } catch {
    // fall through: an unreadable sidecar is reported like a missing one
  }
  throw integrityError(key, 'the recorded sha256 is unreadable');
}

function checkDeclaredSize(key: string, declared: number | undefined, actual: number): void {
  if (declared !== undefined && declared !== actual) {
    throw new AppError('INVALID_PARAMETER_VALUE', `blob '${key}' declared ${declared} bytes but ${actual} arrived`, {
      details: { key, declaredBytes: declared, actualBytes: actual },
    });
  }
}

function errorCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function isMissing(err: unknown): boolean {
  const code = errorCode(err);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function notFound(key: string): AppError {
  return new AppError('RESOURCE_DOES_NOT_EXIST', `blob '${key}' does not exist`, { details: { key } });
}

/**
 * A failed filesystem call means the store is unusable right now. Anything else (an AppError, or the
 * caller's body stream failing) passes through unchanged.
 */
function fsError(err: unknown, key: string): unknown {
  if (err instanceof AppError || typeof (err as NodeJS.ErrnoException | undefined)?.syscall !== 'string') return err;
  // Names the file system cannot hold are the caller's fault, not an outage (a 503 is retried for minutes).
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENAMETOOLONG' || code === 'ENOTDIR' || code === 'EISDIR') {
    return new AppError('INVALID_PARAMETER_VALUE', `invalid blob key '${key.slice(0, 100)}': ${code === 'ENAMETOOLONG' ? 'a path segment is too long' : 'a file and a directory would share a name'}`, { details: { key: key.slice(0, 300) }, cause: err });
  }
  return new AppError('STORE_UNAVAILABLE', `local blob store failed on '${key}'`, { details: { key }, cause: err });
}
