// One step attempt as a child process on this machine, and the retry loop around it: the local
// runner's core. Logs stream to a sink line by line; metrics a step prints as `::metric name=value`
// lines become its outputs; a timeout or a cancel kills the whole process group.
import { spawn } from 'node:child_process';
import type { RetryPolicy, Run } from '../spec/index.js';

export interface StepLaunch {
  run: Run;
  cwd: string;
  env: Record<string, string>;
  /** Milliseconds; 0 = none. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Receives every line of stdout and stderr, as it comes. */
  log?: (stream: 'stdout' | 'stderr', line: string) => void;
}

export interface AttemptResult {
  /** null when killed by a signal. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  outcome: 'succeeded' | 'failed' | 'timed_out' | 'cancelled';
  durationMs: number;
  metrics: Record<string, number>;
  /** Lines whose `::metric` value was not a number, with the reason. */
  metricErrors: string[];
}

const METRIC_LINE = /^::metric\s+(.*)$/;
const PAIR = /^([A-Za-z_][A-Za-z0-9_.-]*)=(\S+)$/;

/** Metrics from one stdout line (`::metric f1=0.93 auc=0.97`), or null when it is not a metric line. */
export function metricsOfLine(line: string): { metrics: Record<string, number>; errors: string[] } | null {
  const m = METRIC_LINE.exec(line.trim());
  if (!m) return null;
  const metrics: Record<string, number> = {};
  const errors: string[] = [];
  for (const pair of m[1].split(/\s+/).filter(Boolean)) {
    const p = PAIR.exec(pair);
    const value = p ? Number(p[2]) : NaN;
    if (!p || !Number.isFinite(value)) errors.push(`'${pair}' is not NAME=NUMBER`);
    else metrics[p[1]] = value;
  }
  return { metrics, errors };
}

function lines(onLine: (line: string) => void): { push(chunk: string): void; end(): void } {
  let rest = '';
  return {
    push(chunk) {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      for (const l of parts) onLine(l.replace(/\r$/, ''));
    },
    end() {
      if (rest) onLine(rest);
      rest = '';
    },
  };
}

/** Runs one attempt. Never rejects for the step's own failure: that is the result's outcome. */
export function runAttempt(launch: StepLaunch): Promise<AttemptResult> {
  const started = performance.now();
  const [command, args, shell] = launch.run.kind === 'shell' ? ['/bin/sh', ['-c', launch.run.command], true] : [launch.run.argv[0], launch.run.argv.slice(1), false];
  const metrics: Record<string, number> = {};
  const metricErrors: string[] = [];
  return new Promise((resolve) => {
    let outcome: AttemptResult['outcome'] | null = null;
    // detached: the step leads its own process group, so a kill reaches what it started too.
    const child = spawn(command, args, { cwd: launch.cwd, env: launch.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const kill = (why: AttemptResult['outcome']) => {
      outcome ??= why;
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    const timer = launch.timeoutMs > 0 ? setTimeout(() => kill('timed_out'), launch.timeoutMs) : null;
    const onAbort = () => kill('cancelled');
    launch.signal?.addEventListener('abort', onAbort, { once: true });
    if (launch.signal?.aborted) onAbort();
    const out = lines((line) => {
      const found = metricsOfLine(line);
      if (found) {
        Object.assign(metrics, found.metrics);
        metricErrors.push(...found.errors);
      }
      launch.log?.('stdout', line);
    });
    const err = lines((line) => launch.log?.('stderr', line));
    child.stdout!.setEncoding('utf8').on('data', (c: string) => out.push(c));
    child.stderr!.setEncoding('utf8').on('data', (c: string) => err.push(c));
    const finish = (exitCode: number | null, signal: NodeJS.Signals | null, spawnError?: Error) => {
      if (timer) clearTimeout(timer);
      launch.signal?.removeEventListener('abort', onAbort);
      out.end();
      err.end();
      if (spawnError) launch.log?.('stderr', `could not start ${shell ? 'the shell' : `'${command}'`}: ${spawnError.message}`);
      resolve({ exitCode, signal, outcome: outcome ?? (exitCode === 0 ? 'succeeded' : 'failed'), durationMs: performance.now() - started, metrics, metricErrors });
    };
    child.once('error', (e) => finish(null, null, e));
    child.once('close', (code, signal) => finish(code, signal));
  });
}

/** Whether a failed attempt is retried under the policy (attempt counts from 1). */
export function shouldRetry(policy: RetryPolicy | null | undefined, attempt: number, result: AttemptResult): boolean {
  if (!policy || result.outcome === 'succeeded' || result.outcome === 'cancelled') return false;
  if (attempt > policy.count) return false;
  if (result.outcome === 'timed_out') return true;
  return policy.onExitCodes.length === 0 || (result.exitCode !== null && policy.onExitCodes.includes(result.exitCode));
}

/** Exponential backoff: backoff_seconds, doubled per attempt, capped at ten minutes. */
export function backoffMs(policy: RetryPolicy, attempt: number): number {
  return Math.min(600_000, policy.backoffSeconds * 1000 * 2 ** (attempt - 1));
}

/** Runs a step until it succeeds, is cancelled, or its retry policy gives up; returns every attempt. */
export async function runWithRetries(launch: StepLaunch, policy: RetryPolicy | null | undefined, sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))): Promise<AttemptResult[]> {
  const attempts: AttemptResult[] = [];
  for (let attempt = 1; ; attempt++) {
    const result = await runAttempt(launch);
    attempts.push(result);
    if (!shouldRetry(policy, attempt, result)) return attempts;
    await sleep(backoffMs(policy!, attempt));
    if (launch.signal?.aborted) return attempts;
  }
}
