// Monitoring from the command line against a real `capstan up` process on the embedded SQLite
// default, as the README's quickstart does it: register and deploy a model, profile its training
// data, apply a monitor, send traffic, run it, write the HTML report, and read cost and alerts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cancerCsv, cancerRows } from '../support/monitoring.js';
import { httpRequest, runCli, startServer, type ServerProcess } from '../support/server-process.js';

describe('capstan monitor', () => {
  let dataDir: string;
  let home: string;
  let server: ServerProcess;
  const cli = (...args: string[]) => runCli(args, { XDG_CONFIG_HOME: home, CAPSTAN_URL: server.url });
  const ok = async (...args: string[]) => {
    const r = await cli(...args);
    assert.equal(r.code, 0, `${args.join(' ')}\n${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'capstan-cli-monitor-'));
    home = mkdtempSync(join(tmpdir(), 'capstan-cli-home-'));
    server = await startServer({ dataDir });
    await ok('models', 'register', 'cancer', 'test/fixtures/onnx/tabular_mlp.onnx');
    writeFileSync(join(home, 'cancer.yaml'), 'name: cancer\nmodel: cancer\ntargets:\n  stable: {version: 1}\nprediction_log: {sample_rate: 1}\n');
    await ok('deploy', '-f', join(home, 'cancer.yaml'));
  });
  after(async () => {
    await server?.stop();
    for (const dir of [dataDir, home]) rmSync(dir, { recursive: true, force: true });
  });

  it('profiles, applies, runs and reports a monitor', async () => {
    writeFileSync(join(home, 'train.csv'), cancerCsv);
    assert.match(await ok('monitor', 'profile', 'cancer', '1', '--csv', join(home, 'train.csv'), '--label-column', 'label', '--predict'), /^profiled cancer v1: 569 rows, 32 columns \(kept for exact statistics\)\n$/);
    writeFileSync(join(home, 'watch.yaml'), 'name: watch\ndeployment: cancer\nschedule_seconds: 3600\nwindow: {duration: 1h, min_rows: 10}\n');
    assert.match(await ok('monitor', 'apply', '-f', join(home, 'watch.yaml')), /applied monitor watch \(deployment cancer\)/);
    for (let i = 0; i < 100; i += 10) {
      const batch = cancerRows.slice(i, i + 10);
      const r = await httpRequest(server.url, 'POST', '/v2/models/cancer/infer', { inputs: [{ name: 'input', datatype: 'FP32', shape: [batch.length, 30], data: batch.flatMap((row) => row.slice(0, 30)) }] });
      assert.equal(r.status, 200);
    }
    assert.match(await ok('monitor', 'run', 'watch'), /^ok: 100 rows \(exact\)/);
    const report = JSON.parse(await ok('monitor', 'report', 'watch', '--json'));
    assert.equal(report.status, 'ok');
    assert.equal(report.drift.columns.length, 32);
    const html = join(home, 'watch.html');
    assert.equal(await ok('monitor', 'report', 'watch', '--html', html), `wrote ${html}\n`);
    assert.match(readFileSync(html, 'utf8'), /^<!doctype html>[\s\S]*<svg/);
    // The form: a deployment and a window, no monitor needed.
    const adhoc = JSON.parse(await ok('monitor', 'report', 'cancer', '--window', '24h', '--json'));
    assert.equal(adhoc.window.rows, 100);
    assert.equal(adhoc.reference.version, 1);
    assert.match(await ok('monitor', 'report', 'cancer', '--window', '24h'), /^cancer: ok, 100 rows \(exact\)/);
    const runs = JSON.parse(await ok('monitor', 'runs', 'watch', '--json'));
    assert.ok(runs.length >= 1);
    const cost = JSON.parse(await ok('monitor', 'cost', '--json'));
    assert.equal(cost.lines[0].requests, 10);
    assert.match(await ok('monitor', 'budget', '100'), /^budget 100 USD; this month /);
    assert.deepEqual(JSON.parse(await ok('monitor', 'alerts', '--json')), []);
    const bad = await cli('monitor', 'silence', 'rule~x', '--duration', '1h', '--comment', 'c');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /is not LABEL=VALUE/);
  });
});
