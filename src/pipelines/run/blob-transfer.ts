// Files between a step's work directory and Capstan's stores, for runners inside the server
// process: inputs straight from the blob store, outputs straight into the step's run artifacts.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { invalidParam } from '../../errors/index.js';
import type { BlobStore } from '../../store/blob/index.js';
import type { FileTransfer, InputFile } from './task.js';

export interface TransferDeps {
  blobs: BlobStore;
  /** The blob prefix holding a tracked run's artifacts. */
  runRoot(runId: string): Promise<string>;
  openDatasetFile(projectId: number, name: string, version: number, file: string): Promise<Readable>;
}

/** Every file under a directory, as paths relative to it with '/' separators, sorted. */
export async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.push(relative(dir, p).split(sep).join('/'));
    }
  };
  await walk(dir);
  return out.sort();
}

/** Every object under a blob prefix, relative to it, with its size and digest. */
export async function blobsUnder(blobs: BlobStore, prefix: string): Promise<Array<{ path: string; sha256: string; size: number }>> {
  const out: Array<{ path: string; sha256: string; size: number }> = [];
  const walk = async (p: string): Promise<void> => {
    for (const e of await blobs.list(p)) {
      const key = `${p}/${e.name}`;
      if (e.isDir) await walk(key);
      else {
        const info = await blobs.head(key);
        if (info) out.push({ path: key.slice(prefix.length + 1), sha256: info.sha256, size: info.sizeBytes });
      }
    }
  };
  await walk(prefix);
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

export class BlobTransfer implements FileTransfer {
  constructor(private readonly deps: TransferDeps) {}

  async fetchInput(projectId: number, input: InputFile, dest: string): Promise<void> {
    await mkdir(dirname(dest), { recursive: true });
    const s = input.source;
    const body = s.kind === 'dataset'
      ? await this.deps.openDatasetFile(projectId, s.name, s.version, s.file)
      : (await this.deps.blobs.get(`${await this.deps.runRoot(s.runId)}/${s.artifactPath}`)).body;
    await pipeline(body, createWriteStream(dest));
  }

  async uploadOutput(_projectId: number, runId: string, artifactPath: string, source: string): Promise<string[]> {
    const info = await stat(source).catch(() => null);
    if (!info) throw invalidParam(`${source} does not exist.`);
    const root = `${await this.deps.runRoot(runId)}/${artifactPath}`;
    const files = info.isDirectory() ? await filesUnder(source) : [''];
    for (const f of files) {
      const from = f ? join(source, f) : source;
      const size = f ? (await stat(from)).size : info.size;
      await this.deps.blobs.put(f ? `${root}/${f}` : root, createReadStream(from), { sizeBytes: size });
    }
    return files;
  }
}
