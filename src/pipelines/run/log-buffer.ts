// Step log lines on their way to the database: batched (a step printing thousands of lines a
// second costs a few inserts), with every secret value this process knows masked first.
import type { Logger } from 'pino';
import { secretValues } from '../../observability/secret-values.js';
import type { PipelinesSql } from '../pipelines.sql.js';

const MAX_LINE = 16 * 1024;
const FLUSH_MS = 200;
const FLUSH_LINES = 500;

export class LogBuffer {
  private pending: Array<{ idx: number; attempt: number; time: number; stream: string; line: string }> = [];
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly sql: PipelinesSql, private readonly runId: string, private readonly logger: Logger) {}

  push(idx: number, attempt: number, stream: string, line: string): void {
    const text = line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)} … [${line.length - MAX_LINE} more characters]` : line;
    this.pending.push({ idx, attempt, time: Date.now(), stream, line: secretValues.scrub(text) });
    if (this.pending.length >= FLUSH_LINES) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), FLUSH_MS);
  }

  /** Writes what is buffered; resolves once everything pushed so far is stored. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.pending;
    this.pending = [];
    this.writing = this.writing.then(() => (batch.length ? this.sql.appendLogs(this.runId, batch) : undefined)).catch((err: Error) => {
      this.logger.warn({ err, pipeline_run: this.runId, lines: batch.length }, 'could not store pipeline log lines');
    });
    return this.writing;
  }
}
