import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { backoffMs, metricsOfLine, runAttempt, runWithRetries, shouldRetry, type StepLaunch } from './local-step.js';

const dir = mkdtempSync(join(tmpdir(), 'capstan-step-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const base = (command: string, extra: Partial<StepLaunch> = {}): StepLaunch => ({ run: { kind: 'shell', command }, cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, timeoutMs: 10_000, ...extra });

describe('metricsOfLine', () => {
  it('reads ::metric lines and names what it cannot read', () => {
    assert.deepEqual(metricsOfLine('::metric f1=0.93 auc=9.7e-1'), { metrics: { f1: 0.93, auc: 0.97 }, errors: [] });
    assert.deepEqual(metricsOfLine('  ::metric loss=nan rows=12 bad'), { metrics: { rows: 12 }, errors: ["'loss=nan' is not NAME=NUMBER", "'bad' is not NAME=NUMBER"] });
    assert.equal(metricsOfLine('metric f1=1'), null);
  });
});

describe('runAttempt', () => {
  it('streams both outputs line by line, in the step directory with exactly the given environment', async () => {
    const seen: string[] = [];
    const r = await runAttempt(base('echo "dir=$(pwd)"; echo "token=$CAPSTAN_TOKEN home=${HOME:-unset}"; echo oops >&2; printf "::metric f1=0.9\\nno newline"', {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', CAPSTAN_TOKEN: 't-1' }, log: (s, l) => seen.push(`${s}:${l}`),
    }));
    assert.equal(r.outcome, 'succeeded');
    assert.equal(r.exitCode, 0);
    assert.deepEqual(r.metrics, { f1: 0.9 });
    assert.deepEqual(seen.filter((l) => l.startsWith('stdout')), [`stdout:dir=${dir}`, 'stdout:token=t-1 home=unset', 'stdout:::metric f1=0.9', 'stdout:no newline']);
    assert.deepEqual(seen.filter((l) => l.startsWith('stderr')), ['stderr:oops']);
  });

  it('runs argv without a shell', async () => {
    writeFileSync(join(dir, 'args.sh'), 'for a in "$@"; do echo "[$a]"; done\n');
    const seen: string[] = [];
    const r = await runAttempt({ ...base(''), run: { kind: 'argv', argv: ['/bin/sh', 'args.sh', 'a b', '$HOME'] }, log: (_s, l) => seen.push(l) });
    assert.equal(r.outcome, 'succeeded');
    assert.deepEqual(seen, ['[a b]', '[$HOME]']);
  });

  it('reports a failure with its exit code, and a command that cannot start', async () => {
    const r = await runAttempt(base('exit 3'));
    assert.equal(r.outcome, 'failed');
    assert.equal(r.exitCode, 3);
    const seen: string[] = [];
    const missing = await runAttempt({ ...base(''), run: { kind: 'argv', argv: ['/no/such/program'] }, log: (_s, l) => seen.push(l) });
    assert.equal(missing.outcome, 'failed');
    assert.match(seen.join('\n'), /could not start '\/no\/such\/program'/);
  });

  it('kills the whole process group on timeout and on cancel', async () => {
    const pidFile = join(dir, 'child.pid');
    const t0 = performance.now();
    const r = await runAttempt(base(`sleep 30 & echo $! > ${pidFile}; wait`, { timeoutMs: 300 }));
    assert.equal(r.outcome, 'timed_out');
    assert.ok(performance.now() - t0 < 5000);
    const orphan = Number(readFileSync(pidFile, 'utf8'));
    await new Promise((res) => setTimeout(res, 100));
    // Gone, or a zombie waiting for a reaper (in a container, PID 1 may never reap it): not running.
    const state = (() => {
      try {
        return readFileSync(`/proc/${orphan}/stat`, 'utf8').split(') ')[1]?.[0];
      } catch {
        return 'gone';
      }
    })();
    assert.ok(state === 'gone' || state === 'Z' || state === 'X', `the background child died with the step (state ${state})`);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    const c = await runAttempt(base('sleep 30', { signal: ac.signal }));
    assert.equal(c.outcome, 'cancelled');
  });
});

describe('retries', () => {
  const policy = { count: 2, backoffSeconds: 1, onExitCodes: [75] };

  it('retries only listed exit codes and timeouts, up to the count', () => {
    const result = (outcome: 'failed' | 'timed_out' | 'cancelled' | 'succeeded', exitCode: number | null) => ({ outcome, exitCode, signal: null, durationMs: 1, metrics: {}, metricErrors: [] });
    assert.equal(shouldRetry(policy, 1, result('failed', 75)), true);
    assert.equal(shouldRetry(policy, 1, result('failed', 1)), false);
    assert.equal(shouldRetry(policy, 1, result('timed_out', null)), true);
    assert.equal(shouldRetry(policy, 3, result('failed', 75)), false);
    assert.equal(shouldRetry(policy, 1, result('cancelled', null)), false);
    assert.equal(shouldRetry({ ...policy, onExitCodes: [] }, 1, result('failed', 9)), true);
    assert.equal(shouldRetry(null, 1, result('failed', 75)), false);
    assert.deepEqual([1, 2, 3].map((a) => backoffMs(policy, a)), [1000, 2000, 4000]);
  });

  it('runs again after a transient failure and stops at success', async () => {
    const counter = join(dir, 'count');
    writeFileSync(counter, '0');
    const waits: number[] = [];
    const attempts = await runWithRetries(base(`n=$(($(cat ${counter}) + 1)); echo $n > ${counter}; [ $n -ge 2 ] || exit 75; echo "::metric tries=$n"`), policy, async (ms) => void waits.push(ms));
    assert.deepEqual(attempts.map((a) => a.outcome), ['failed', 'succeeded']);
    assert.deepEqual(attempts[1].metrics, { tries: 2 });
    assert.deepEqual(waits, [1000]);
  });
});
