// The local runner: each attempt is a child process on this machine, in a fresh work directory
// holding the step's inputs; declared outputs are uploaded into the step's tracked run.
import { existsSync } from 'node:fs';
import { stat, mkdir, rm, writeFile } from 'node:fs/promises';
import { basename, delimiter, join, resolve } from 'node:path';
import { runAttempt } from './local-step.js';
import type { AttemptHooks, FileTransfer, StepAttempt, StepRunner, StepTask } from './task.js';

/** What a step inherits from the server's environment; everything else it gets is set explicitly. */
export const INHERITED_ENV = ['PATH', 'HOME', 'LANG', 'LANGUAGE', 'TZ', 'TMPDIR', 'USER', 'LOGNAME', 'SHELL', 'TERM'];

export function inheritedEnv(extra: readonly string[] = [], from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(from)) {
    if (v !== undefined && (INHERITED_ENV.includes(k) || k.startsWith('LC_') || extra.includes(k))) out[k] = v;
  }
  return out;
}

export interface LocalRunnerOptions {
  /** Work directories go under here: `<root>/<pipeline run>/<instance>-<attempt>`. */
  workRoot: string;
  transfer: FileTransfer;
  /** Server environment variables passed on besides INHERITED_ENV. */
  inheritEnv?: readonly string[];
  /** Keep work directories after the attempt (to look at what a step left behind). */
  keepWorkDirs?: boolean;
  /** This Capstan's CLI entry point: steps then find `capstan` first on their PATH, the same version as the server. */
  cliEntry?: string;
}

/** Where a declared output is uploaded inside the step's run: a file under its own name, a directory's contents as they are. */
export async function outputArtifactPath(name: string, source: string): Promise<string> {
  const info = await stat(source);
  return info.isDirectory() ? `outputs/${name}` : `outputs/${name}/${basename(source)}`;
}

export class LocalRunner implements StepRunner {
  readonly kind = 'local' as const;
  private readonly base: Record<string, string>;

  private shim: Promise<void> | null = null;

  constructor(private readonly opts: LocalRunnerOptions) {
    this.base = inheritedEnv(opts.inheritEnv);
    if (opts.cliEntry && existsSync(opts.cliEntry)) {
      const bin = resolve(opts.workRoot, '.bin');
      this.base.PATH = [bin, this.base.PATH].filter(Boolean).join(delimiter);
      const script = `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(opts.cliEntry)} "$@"\n`;
      this.shim = mkdir(bin, { recursive: true }).then(() => writeFile(join(bin, 'capstan'), script, { mode: 0o755 }));
    }
  }

  async runAttempt(task: StepTask, hooks: AttemptHooks): Promise<StepAttempt> {
    await this.shim;
    const dir = resolve(this.opts.workRoot, task.pipelineRunId, `${task.id.split('/').pop()}-${task.attempt}`);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    try {
      for (const input of task.inputs) await this.opts.transfer.fetchInput(task.projectId, input, join(dir, input.path));
      const result = await runAttempt({
        run: task.run, cwd: dir, timeoutMs: task.timeoutMs, signal: hooks.signal,
        env: { ...this.base, ...task.env, ...task.secretEnv },
        log: (stream, line) => hooks.log(stream, line),
      });
      const attempt: StepAttempt = {
        outcome: result.outcome, exitCode: result.exitCode, metrics: result.metrics, metricErrors: result.metricErrors, outputs: {},
        message: failureMessage(result.outcome, result.exitCode, result.signal, task.timeoutMs),
      };
      if (result.outcome !== 'succeeded') return attempt;
      // A declared output the step did not write is left out here; the engine names every missing one.
      for (const out of task.outputs) {
        const source = resolve(dir, out.path);
        if (!source.startsWith(dir + '/') || !(await stat(source).catch(() => null))) continue;
        const path = await outputArtifactPath(out.name, source);
        await this.opts.transfer.uploadOutput(task.projectId, task.mlflowRunId, path, source);
        attempt.outputs[out.name] = path;
      }
      return attempt;
    } finally {
      if (!this.opts.keepWorkDirs) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  async close(): Promise<void> {}
}

export function failureMessage(outcome: StepAttempt['outcome'], exitCode: number | null, signal: string | null, timeoutMs: number): string {
  if (outcome === 'succeeded') return '';
  if (outcome === 'timed_out') return `timed out after ${Math.round(timeoutMs / 1000)} s and was killed`;
  if (outcome === 'cancelled') return 'cancelled';
  if (exitCode === null) return signal ? `killed by ${signal}` : 'could not be started';
  return `exited with code ${exitCode}`;
}
