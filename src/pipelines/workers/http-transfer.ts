// Files between a step's work directory and a Capstan server, over its HTTP API: what runners
// outside the server process use (workers, and `capstan step fetch` in a Kubernetes init container).
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError } from '../../errors/index.js';
import { filesUnder } from '../run/blob-transfer.js';
import type { FileTransfer, InputFile } from '../run/task.js';

export interface HttpTransferOptions {
  /** The server's base URL (CAPSTAN_URL). */
  url: string;
  token?: string;
  project?: string;
  /** Where outputs go: the server path of the step run's `outputs/` (CAPSTAN_OUTPUTS_URL). */
  outputsUrl: string;
}

export class HttpTransfer implements FileTransfer {
  private readonly base: string;

  constructor(private readonly opts: HttpTransferOptions) {
    this.base = opts.url.replace(/\/+$/, '');
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.opts.token ? { authorization: `Bearer ${this.opts.token}` } : {}), ...(this.opts.project ? { 'x-capstan-project': this.opts.project } : {}), ...extra };
  }

  async fetchInput(_projectId: number, input: InputFile, dest: string): Promise<void> {
    if (!input.url) throw new AppError('INVALID_STATE', `Input ${input.path} has no download address; the server did not prepare this task for a remote runner.`);
    const res = await fetch(this.base + input.url, { headers: this.headers() });
    if (!res.ok || !res.body) throw new AppError('TEMPORARILY_UNAVAILABLE', `Could not download ${input.path} from ${this.base}: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
    await mkdir(dirname(dest), { recursive: true });
    await pipeline(Readable.fromWeb(res.body as never), createWriteStream(dest));
  }

  async uploadOutput(_projectId: number, _runId: string, artifactPath: string, source: string): Promise<string[]> {
    const info = await stat(source);
    const files = info.isDirectory() ? await filesUnder(source) : [''];
    // artifactPath is `outputs/NAME[/FILE]`; the server path already ends in `/outputs`.
    const rel = artifactPath.replace(/^outputs\/?/, '');
    for (const f of files) {
      const from = f ? join(source, f) : source;
      const size = f ? (await stat(from)).size : info.size;
      const path = [rel, f].filter(Boolean).map((p) => p.split('/').map(encodeURIComponent).join('/')).join('/');
      const res = await fetch(`${this.base}${this.opts.outputsUrl}/${path}`, {
        method: 'PUT', headers: this.headers({ 'content-type': 'application/octet-stream', 'content-length': String(size) }),
        body: Readable.toWeb(createReadStream(from)) as never, duplex: 'half',
      } as RequestInit);
      if (!res.ok) throw new AppError('TEMPORARILY_UNAVAILABLE', `Could not upload ${from} to ${this.base}: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
    }
    return files;
  }
}
