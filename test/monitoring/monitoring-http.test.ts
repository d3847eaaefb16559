// Monitoring end to end, in-process on both backends: a served model, a reference profile from its
// training data, reference-like traffic that raises nothing, shifted traffic that fires feature
// drift — the webhook receives the alert with its links and the retraining hook receives the
// window, whose data it can download — then recovery resolves the alert. Feedback gives model
// quality; the scheduler runs a monitor on its own; metrics, the HTML report and cost follow.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { testDatabases } from '../support/databases.js';
import { assertError, assertOk, call } from '../support/inject.js';
import { fixtureModel, registerModel } from '../support/models.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';
import { cancerCsv as csv, cancerTraffic } from '../support/monitoring.js';

const MON = '/api/capstan/monitors';
const ALERTS = '/api/capstan/alerts';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Received { path: string; body: any; headers: Record<string, string | string[] | undefined> }

function receiver(): Promise<{ server: Server; url: string; got: Received[] }> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      got.push({ path: req.url ?? '', body: JSON.parse(Buffer.concat(chunks).toString('utf8')), headers: req.headers });
      res.writeHead(200).end('{}');
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, got })));
}

for (const { db, skip } of await testDatabases()) {
  describe(`monitoring (${db.name})`, { skip }, () => {
    let tp: TestPlatform;
    let app: FastifyInstance;
    let drop: () => Promise<void>;
    let hook: Awaited<ReturnType<typeof receiver>>;

    const traffic = (from: number, count: number, factor = 1) => cancerTraffic(app, 'cancer', from, count, factor, db.name);
    const run = async () => assertOk(await call(app, 'POST', `${MON}/run`, { name: 'cancer-watch' })).run;

    before(async () => {
      const created = await db.create();
      drop = created.drop;
      hook = await receiver();
      tp = await startTestPlatform({ 'store.database_uri': created.uri, 'monitoring.tick_ms': 100, 'monitoring.public_url': 'https://capstan.example.com' });
      app = tp.app;
      await registerModel(app, 'cancer-mlp', fixtureModel('tabular_mlp').bytes);
      assertOk(await call(app, 'POST', '/api/capstan/deployments/apply', { spec: {
        name: 'cancer', model: 'cancer-mlp', targets: { stable: { version: 1 } }, prediction_log: { sample_rate: 1 }, tags: { owner: 'risk-team', cost_center: 'cc-42' },
      } }));
    });
    after(async () => {
      await tp?.close();
      await drop?.();
      hook?.server.close();
    });

    it('builds a reference profile from the training CSV and refuses bad profile requests', async () => {
      const p = assertOk(await call(app, 'POST', `${MON}/profiles/create`, { model: 'cancer-mlp', version: 1, csv, label_column: 'label', predict: true })).profile;
      assert.equal(p.rows, 569);
      assert.equal(p.exact, true);
      assert.equal(p.features.length, 30);
      assert.deepEqual(p.features.slice(0, 2), ['f0', 'f1']);
      // The served version answered for every training row: the reference has prediction columns.
      assert.deepEqual(p.columns.filter((c: any) => c.role === 'prediction').map((c: any) => [c.name, c.kind]), [['prediction.probabilities', 'categorical'], ['prediction.probabilities[1]', 'numerical']]);
      assertError(await call(app, 'POST', `${MON}/profiles/create`, { model: 'cancer-mlp', version: 7, csv, label_column: 'label', predict: true }), 'INVALID_PARAMETER_VALUE', /serves cancer-mlp version 7/);
      assertError(await call(app, 'POST', `${MON}/profiles/create`, { model: 'cancer-mlp', version: 1, csv, label_column: 'nope' }), 'INVALID_PARAMETER_VALUE', /label_column 'nope'/);
      assertError(await call(app, 'POST', `${MON}/profiles/create`, { model: 'cancer-mlp', version: 1 }), 'INVALID_PARAMETER_VALUE', /exactly one of/);
      assertError(await call(app, 'GET', `${MON}/profiles/get?model=cancer-mlp&version=9`), 'RESOURCE_DOES_NOT_EXIST', /no reference profile/);
      const got = assertOk(await call(app, 'GET', `${MON}/profiles/get?model=cancer-mlp&version=1`)).profile;
      assert.equal(got.row_count, 569);
      assert.equal(got.sample, undefined, 'the stored rows are not sent back');
    });

    it('applies a monitor (rejecting a bad document by key) and the scheduler runs it on its own', async () => {
      assertOk(await call(app, 'POST', `${ALERTS}/channels/put`, { name: 'team', kind: 'webhook', url: `${hook.url}/alerts`, min_severity: 'P3' }));
      assertOk(await call(app, 'POST', `${ALERTS}/channels/put`, { name: 'chat', kind: 'slack', url: `${hook.url}/slack/T000/B000/XXXX`, min_severity: 'P2' }));
      assertOk(await call(app, 'POST', `${ALERTS}/channels/put`, { name: 'retrain-hook', kind: 'webhook', url: `${hook.url}/retrain` }));
      assert.deepEqual(assertOk(await call(app, 'GET', `${ALERTS}/channels/list`)).channels.map((c: any) => c.url), [`${hook.url}/…`, `${hook.url}/…`, `${hook.url}/…`]);
      assertError(await call(app, 'POST', `${MON}/apply`, { spec: { name: 'x', deployment: 'cancer', retrain: { webhook: 'http://example.com' } } }), 'INVALID_PARAMETER_VALUE', /unknown key 'webhook'/);
      assertError(await call(app, 'POST', `${MON}/apply`, { yaml: 'name: x\ndeployment: cancer\nwindow: {duration: 3 weeks}\n' }), 'INVALID_PARAMETER_VALUE', /window.duration must be a duration/);
      assertError(await call(app, 'POST', `${MON}/apply`, { spec: { name: 'x', deployment: 'cancer', checks: { feature_drift: { severity: 'P9' } } } }), 'INVALID_PARAMETER_VALUE', /severity must be one of P1, P2, P3/);
      const yaml = [
        'name: cancer-watch', 'deployment: cancer', 'schedule_seconds: 3600',
        'window: {duration: 1h, max_rows: 200, min_rows: 50}',
        'checks:', '  feature_drift: {severity: P2, drift_share: 0.3}', '  prediction_drift: {severity: P3}', '  data_quality: {severity: P3, max_out_of_range_share: 0.2}',
        '  model_quality: {task: classification, positive_label: "1", min_labels: 50, min: {accuracy: 0.9}}',
        'slos:', '  - {name: availability, kind: availability, objective: 0.999}', '  - {name: fast, kind: latency, threshold_ms: 1000, objective: 0.99}',
        'notify: [team, chat]', 'links: {runbook: "https://runbooks.example.com/cancer-drift"}',
        'retrain: {channel: retrain-hook, min_severity: P2}',
      ].join('\n');
      assertOk(await call(app, 'POST', `${MON}/apply`, { yaml }));
      // Applied monitors are due at once: the scheduler's first run finds no traffic yet.
      const end = Date.now() + 10_000;
      let runs: any[] = [];
      while (Date.now() < end && runs.length === 0) {
        await sleep(100);
        runs = assertOk(await call(app, 'GET', `${MON}/runs?name=cancer-watch`)).runs;
      }
      assert.equal(runs.length, 1);
      assert.equal(runs[0].status, 'too_few_rows');
    });

    it('raises nothing on reference-like traffic, and measures model quality from feedback', async () => {
      const sent = await traffic(0, 200);
      assert.equal(assertOk(await call(app, 'POST', `${MON}/feedback`, { deployment: 'cancer', labels: sent.map((s) => ({ request_id: s.id, label: s.labels })) })).stored, 20);
      assertError(await call(app, 'POST', `${MON}/feedback`, { deployment: 'cancer', labels: [{ request_id: 'a', label: 1 }, { request_id: 7 }] }), 'INVALID_PARAMETER_VALUE', /labels\[1\]/);
      const r = await run();
      assert.equal(r.mode, 'exact');
      assert.equal(r.rows, 200);
      assert.deepEqual(r.findings, [], JSON.stringify(r.findings));
      assert.equal(r.status, 'ok');
      const report = assertOk(await call(app, 'GET', `${MON}/report?name=cancer-watch`)).report;
      assert.equal(report.model_quality.evaluated, true);
      assert.ok(report.model_quality.metrics.accuracy > 0.9, JSON.stringify(report.model_quality));
      assert.ok(report.model_quality.metrics.roc_auc > 0.9);
      assert.equal(report.drift.columns.length, 32, 'thirty features, the predicted class and its score');
      assert.equal(report.slos[0].budget.total, 20);
      assert.equal(hook.got.length, 0);
    });

    it('fires feature drift on shifted traffic: the webhook gets the alert with links, retraining gets the window', async () => {
      await traffic(200, 200, 1.6);
      const r = await run();
      const rules = r.findings.map((f: any) => f.rule).sort();
      assert.ok(rules.includes('feature_drift'), JSON.stringify(r.findings));
      assert.ok(rules.includes('data_quality'), 'values beyond the reference range');
      assert.equal(r.status, 'alerting');
      const alerts = hook.got.filter((g) => g.path === '/alerts');
      const drift = alerts.flatMap((g) => g.body.alerts).find((a: any) => a.rule === 'feature_drift');
      assert.ok(drift, JSON.stringify(hook.got.map((g) => g.path)));
      assert.equal(drift.status, 'firing');
      assert.equal(drift.severity, 'P2');
      assert.equal(drift.labels.monitor, 'cancer-watch');
      assert.equal(drift.links.runbook, 'https://runbooks.example.com/cancer-drift');
      assert.match(drift.links.dashboard, /^https:\/\/capstan\.example\.com\/projects\/default\/api\/capstan\/monitors\/report\?name=cancer-watch&format=html$/);
      // The Slack channel takes P2 and above: drift, not the P3 data-quality alert.
      const slack = hook.got.filter((g) => g.path.startsWith('/slack'));
      assert.equal(slack.length, 1);
      assert.match(slack[0].body.text, /drift/i);
      const retrain = hook.got.filter((g) => g.path === '/retrain');
      assert.equal(retrain.length, 1);
      assert.equal(retrain[0].body.kind, 'retrain_request');
      assert.equal(retrain[0].body.window.rows, 200);
      const data = await call(app, 'GET', new URL(retrain[0].body.data_url).pathname.replace('/projects/default', '') + new URL(retrain[0].body.data_url).search);
      assert.equal(data.status, 200);
      const csvLines = data.text.trim().split('\n');
      assert.equal(csvLines.length, 1 + 400, 'both halves of the hour are in the window data');
      assert.match(csvLines[0], /^request_id,row,f0,/);
      // A second run with the same drift notifies nobody again (repeat interval) and starts no second retraining.
      const before = hook.got.length;
      await run();
      assert.equal(hook.got.length, before);
      const firing = assertOk(await call(app, 'GET', `${ALERTS}/list?status=firing`)).alerts;
      const a = firing.find((x: any) => x.rule === 'feature_drift');
      const history = assertOk(await call(app, 'GET', `${ALERTS}/get?alert_id=${a.alert_id}`)).events.map((e: any) => e.kind);
      assert.deepEqual(history, ['firing']);
    });

    it('serves the HTML report, Prometheus gauges and the cost of the traffic', async () => {
      const page = await call(app, 'GET', `${MON}/report?name=cancer-watch&format=html`);
      assert.equal(page.status, 200);
      assert.match(String(page.headers['content-type']), /text\/html/);
      assert.match(page.text, /<svg/);
      assert.match(page.text, /feature_drift/);
      const metrics = (await call(app, 'GET', '/metrics')).text;
      assert.match(metrics, /capstan_monitor_drift_share\{project="default",monitor="cancer-watch",deployment="cancer",role="feature"\} (0\.[3-9]|1)/);
      assert.match(metrics, /capstan_slo_error_budget_remaining_ratio\{[^}]*slo="availability"\} 1/);
      // The Grafana dashboard in docs/ queries only series the server exports.
      const dashboard = readFileSync(new URL('../../docs/grafana/capstan-monitoring.json', import.meta.url), 'utf8');
      const used = new Set([...dashboard.matchAll(/capstan_[a-z_]+/g)].map((m) => m[0].replace(/_bucket$/, '')));
      assert.ok(used.size >= 8);
      for (const name of used) assert.match(metrics, new RegExp(`# TYPE ${name} `), `dashboard uses ${name}`);
      const cost = assertOk(await call(app, 'GET', '/api/capstan/cost/report')).cost;
      const line = cost.lines.find((l: any) => l.deployment === 'cancer');
      assert.equal(line.requests, 40);
      assert.ok(line.cpu_seconds > 0);
      assert.equal(line.owner, 'risk-team');
      assert.equal(cost.by_cost_center[0].name, 'cc-42');
      assert.deepEqual(assertOk(await call(app, 'GET', '/api/capstan/cost/idle')).idle, []);
    });

    it('silences by label and resolves the alert once traffic looks like the reference again', async () => {
      const sid = assertOk(await call(app, 'POST', `${ALERTS}/silences/create`, { matchers: [{ label: 'rule', value: 'data_.*', is_regex: true }], duration: '1h', comment: 'known upstream issue' })).silence_id;
      assertError(await call(app, 'POST', `${ALERTS}/silences/create`, { matchers: [{ label: 'rule', value: '(', is_regex: true }], duration: '1h', comment: 'x' }), 'INVALID_PARAMETER_VALUE');
      const before = hook.got.length;
      await traffic(0, 200);
      const r = await run();
      assert.ok(!r.findings.some((f: any) => f.rule === 'feature_drift'), JSON.stringify(r.findings));
      const resolved = hook.got.slice(before).filter((g) => g.path === '/alerts').flatMap((g) => g.body.alerts);
      assert.ok(resolved.some((a: any) => a.rule === 'feature_drift' && a.status === 'resolved' && a.ends_at), JSON.stringify(resolved));
      assert.ok(!resolved.some((a: any) => a.rule === 'data_quality'), 'the silence mutes the data-quality alert');
      assertOk(await call(app, 'POST', `${ALERTS}/silences/expire`, { silence_id: sid }));
      const silences = assertOk(await call(app, 'GET', `${ALERTS}/silences/list`)).silences;
      assert.equal(silences[0].active, false);
      assertError(await call(app, 'POST', `${ALERTS}/silences/create`, { matchers: [{ label: 'rule', value: '(a+)+b', is_regex: true }], duration: '1h', comment: 'x' }), 'INVALID_PARAMETER_VALUE', /nested quantifiers/);
      assertError(await call(app, 'POST', `${ALERTS}/silences/expire`, { silence_id: 999 }), 'RESOURCE_DOES_NOT_EXIST');
    });

    it('resolves the alerts of a deleted monitor', async () => {
      await traffic(200, 200, 1.6);
      await run();
      assert.ok(assertOk(await call(app, 'GET', `${ALERTS}/list?status=firing`)).alerts.some((a: any) => a.labels.monitor === 'cancer-watch'));
      assertOk(await call(app, 'DELETE', `${MON}/delete?name=cancer-watch`));
      assert.deepEqual(assertOk(await call(app, 'GET', `${ALERTS}/list?status=firing`)).alerts.filter((a: any) => a.labels.monitor === 'cancer-watch'), []);
      assertError(await call(app, 'POST', `${MON}/run`, { name: 'cancer-watch' }), 'RESOURCE_DOES_NOT_EXIST');
    });
  });
}
