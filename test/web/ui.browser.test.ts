// The web UI in a real browser (Debian's Chromium driven by playwright-core) against a real
// `capstan up` with access control on: sign in, browse and filter runs, compare two runs' charts,
// open a model's lineage, watch a pipeline run finish, change a deployment's traffic, and see that
// a viewer is offered no change. Screenshots of the key pages go to test-artifacts/ui/.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { CapstanClient } from '../../src/client/index.js';
import { fixtureModel } from '../support/models.js';
import { startOidcIssuer, type OidcIssuer } from '../support/oidc-issuer.js';
import { ROOT, startServer, type ServerProcess } from '../support/server-process.js';

const CHROMIUM = process.env.CAPSTAN_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = join(ROOT, 'test-artifacts', 'ui');
const PASSWORD = 'ui-test-password-1234';
const skip = !existsSync(CHROMIUM) ? `no Chromium at ${CHROMIUM} (apt-get install -y chromium)` : !existsSync(join(ROOT, 'dist', 'web', 'index.html')) ? 'the UI is not built (npm run build)' : false;
if (skip) console.log(`# skipping the browser suite: ${skip}`);

describe('ui: in a browser', { skip, timeout: 240_000 }, () => {
  let server: ServerProcess;
  let dataDir: string;
  let browser: Browser;
  let owner: CapstanClient;
  let runIds: string[] = [];
  let experimentId = '';
  let issuer: OidcIssuer;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'capstan-ui-'));
    mkdirSync(SHOTS, { recursive: true });
    issuer = await startOidcIssuer({ clientId: 'capstan' });
    server = await startServer({
      dataDir,
      env: {
        CAPSTAN_AUTH_MODE: 'on', CAPSTAN_AUTH_BOOTSTRAP_OWNER: 'root', CAPSTAN_AUTH_BOOTSTRAP_PASSWORD: PASSWORD,
        CAPSTAN_AUTH_OIDC_ISSUER: issuer.issuer, CAPSTAN_AUTH_OIDC_CLIENT_ID: 'capstan', CAPSTAN_AUTH_OIDC_GROUP_ROLES: 'ml=default:viewer',
      },
    });
    const { token } = await new CapstanClient({ url: server.url }).login('root', PASSWORD);
    owner = new CapstanClient({ url: server.url, token });
    // Three runs of a small sweep, each with a loss curve.
    experimentId = await owner.createExperiment('sweep');
    for (const [i, lr] of [0.1, 0.01, 0.001].entries()) {
      const run = await owner.createRun(experimentId, `lr-${lr}`);
      const metrics = Array.from({ length: 200 }, (_, step) => ({ key: 'loss', value: (1 + i) / (1 + step * lr * 10), timestamp: Date.now() + step, step }));
      await owner.logBatch(run.info.run_id, { params: [{ key: 'lr', value: String(lr) }, { key: 'layers', value: '2' }], metrics: [...metrics, { key: 'f1', value: 0.8 + i * 0.05, timestamp: Date.now(), step: 0 }] });
      await owner.updateRun(run.info.run_id, { status: 'FINISHED', end_time: Date.now() });
      runIds.push(run.info.run_id);
    }
    // A model registered from the first run, served by a deployment with two targets.
    const { bytes } = fixtureModel('tabular_mlp');
    const uri = (await owner.getRun(runIds[0])).info.artifact_uri.replace(/^mlflow-artifacts:\/+/, '');
    await owner.uploadArtifact(`${uri}/model/model.onnx`, (async function* () { yield bytes; })(), bytes.length);
    await owner.createRegisteredModel('scorer');
    await owner.createModelVersion({ name: 'scorer', source: `runs:/${runIds[0]}/model`, run_id: runIds[0] });
    await owner.createModelVersion({ name: 'scorer', source: `runs:/${runIds[0]}/model`, run_id: runIds[0] });
    await owner.applyDeployment('name: scorer\nmodel: scorer\ntargets:\n  stable: {version: 1, weight: 100}\n  canary: {version: 2, weight: 0}\nprediction_log: {sample_rate: 1}\n');
    // A monitor over traffic whose first five features are shifted from the training data.
    const rows = readFileSync(join(ROOT, 'test', 'fixtures', 'datasets', 'breast_cancer.csv'), 'utf8').trim().split('\n').slice(1);
    const header = [...Array.from({ length: 30 }, (_, i) => `f${i}`), 'label'].join(',');
    await owner.createProfile({ model: 'scorer', version: 1, csv: [header, ...rows].join('\n'), label_column: 'label' });
    await owner.applyMonitor('name: watch\ndeployment: scorer\nwindow: {duration: 1h, min_rows: 10}\n');
    for (const row of rows.slice(0, 60)) {
      const xs = row.split(',').slice(0, 30).map(Number).map((v, j) => (j < 5 ? v * 1.6 : v));
      await owner.infer('scorer', [{ name: 'input', datatype: 'FP32', shape: [1, 30], data: xs }]);
    }
    await owner.runMonitor('watch');
    // A viewer, who may look but not change.
    await owner.createAccount({ name: 'vera', password: PASSWORD });
    await owner.setMember('default', 'vera', 'viewer');
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    await issuer?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function signedIn(user: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on('pageerror', (err) => console.log(`# page error: ${err.message}`));
    await page.goto(`${server.url}/`);
    await page.getByLabel('Account').fill(user);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Experiments' }).waitFor();
    return page;
  }

  it('refuses a wrong password with the server’s message, then signs in', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/ui/experiments`);
    await page.getByLabel('Account').fill('root');
    await page.getByLabel('Password').fill('wrong-password-0000');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('alert').waitFor();
    assert.match(await page.getByRole('alert').innerText(), /UNAUTHENTICATED|password/i);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('link', { name: 'sweep' }).waitFor();
    await page.close();
  });

  it('signs in with single sign-on and comes back to the page it started from', async () => {
    issuer.signInAs({ sub: 'u-7', preferred_username: 'dana', groups: ['ml'] });
    const page = await browser.newPage();
    await page.goto(`${server.url}/ui/models`);
    await page.getByRole('button', { name: 'Sign in with single sign-on' }).click();
    await page.getByRole('heading', { name: 'Models' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/ui/models');
    assert.equal(await page.locator('.who').innerText(), 'dana');
    assert.equal(issuer.requests.token, 1);
    await page.close();
  });

  it('browses runs, filters them with the MLflow grammar (kept in the URL) and compares two runs’ charts', async () => {
    const page = await signedIn('root');
    await page.getByRole('link', { name: 'sweep' }).click();
    await page.getByRole('link', { name: 'lr-0.01' }).waitFor();
    assert.equal(await page.locator('.vt-row').count(), 3);
    await page.screenshot({ path: join(SHOTS, 'runs.png') });
    await page.getByLabel('Filter runs').fill("params.lr = '0.1'");
    await page.getByRole('button', { name: 'Filter', exact: true }).click();
    await page.waitForFunction("document.querySelectorAll('.vt-row').length === 1");
    assert.equal(new URL(page.url()).searchParams.get('filter'), "params.lr = '0.1'");
    // The shared link reloads into the same view.
    await page.reload();
    await page.getByRole('link', { name: 'lr-0.1' }).waitFor();
    assert.equal(await page.locator('.vt-row').count(), 1);
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.waitForFunction("document.querySelectorAll('.vt-row').length === 3");
    await page.getByLabel('Select run lr-0.1').check();
    await page.getByLabel('Select run lr-0.001').check();
    await page.getByRole('button', { name: /Compare 2 runs/ }).click();
    await page.getByRole('heading', { name: 'Compare 2 runs' }).waitFor();
    const chart = page.locator('[data-chart="loss"][data-full="1"]');
    await chart.locator('canvas').waitFor();
    assert.equal(await chart.getAttribute('data-points'), '400');
    // Both runs are in the chart's legend, and the parameters that differ are listed.
    const legend = await page.locator('.u-legend').first().innerText();
    assert.match(legend, /lr-0\.1/);
    assert.match(legend, /lr-0\.001/);
    const diff = await page.getByRole('table', { name: 'Parameter differences' }).innerText();
    assert.match(diff, /lr/);
    assert.doesNotMatch(diff, /layers/);
    await page.getByLabel('Log scale').check();
    await page.waitForFunction("new URL(location.href).searchParams.get('log') === '1'");
    await chart.locator('canvas').waitFor();
    await page.screenshot({ path: join(SHOTS, 'compare.png'), fullPage: true });
    await page.close();
  });

  it('shows a run’s params, metrics and artifacts with a preview', async () => {
    const page = await signedIn('root');
    await page.goto(`${server.url}/ui/runs/${runIds[0]}`);
    await page.getByRole('heading', { name: 'lr-0.1' }).waitFor();
    const overview = await page.locator('main').innerText();
    assert.match(overview, /lr\s+0\.1/);
    assert.match(overview, /loss\s+0\.\d+ \(step 199\)/);
    await page.getByRole('tab', { name: 'Artifacts' }).click();
    await page.getByRole('link', { name: /model/ }).first().click();
    await page.getByRole('link', { name: 'model.onnx' }).click();
    await page.getByText(/binary file/).waitFor();
    await page.close();
  });

  it('opens a model version: signature status verified, and its lineage from run to deployment', async () => {
    const page = await signedIn('root');
    await page.getByRole('link', { name: 'Models' }).click();
    await page.getByRole('link', { name: 'scorer' }).click();
    await page.getByRole('table', { name: 'Versions' }).waitFor();
    await page.locator('[data-verified="yes"]').waitFor();
    await page.getByRole('tab', { name: 'Lineage' }).click();
    const graph = page.getByRole('group', { name: /Lineage of scorer/ });
    await graph.waitFor();
    const nodes = await graph.locator('[data-node]').evaluateAll((els) => els.map((e) => e.getAttribute('data-node')));
    assert.ok(nodes.some((n) => n?.startsWith('run:')), `nodes: ${nodes}`);
    assert.ok(nodes.some((n) => n?.startsWith('model:')), `nodes: ${nodes}`);
    await page.screenshot({ path: join(SHOTS, 'lineage.png'), fullPage: true });
    // A node opens what it stands for.
    await graph.locator(`[data-node="run:${runIds[0]}"]`).click();
    await page.getByRole('heading', { name: 'lr-0.1' }).waitFor();
    await page.close();
  });

  it('watches a pipeline run go to succeeded, with its DAG and streamed log', async () => {
    const yaml = 'name: ui-demo\nsteps:\n  prepare:\n    run: echo preparing && sleep 1\n  train:\n    needs: [prepare]\n    run: echo "::metric acc=0.93" && echo trained\n';
    await owner.applyPipeline(yaml);
    const page = await signedIn('root');
    await page.goto(`${server.url}/ui/pipelines?pipeline=ui-demo`);
    await page.getByRole('button', { name: 'Run ui-demo' }).click();
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await page.waitForURL(/\/ui\/pipelines\/runs\//);
    await page.locator('[data-run-status="succeeded"]').waitFor({ timeout: 60_000 });
    const dag = page.getByRole('group', { name: 'Steps' });
    await dag.locator('[data-node="train"].succeeded').waitFor();
    await page.getByText(/trained/).first().waitFor();
    await page.screenshot({ path: join(SHOTS, 'pipeline-run.png'), fullPage: true });
    await page.close();
  });

  it('shows drift per feature with the reference and current distributions, and the alert it raised', async () => {
    const page = await signedIn('root');
    await page.getByRole('link', { name: 'Monitoring' }).click();
    const drift = page.getByRole('table', { name: 'Drift per feature' });
    await drift.waitFor();
    assert.match(await drift.getByRole('row').filter({ hasText: /^f0/ }).innerText(), /drifted/);
    await drift.getByRole('link', { name: 'f3', exact: true }).click();
    await page.getByRole('img', { name: 'Reference and current distribution of f3' }).waitFor();
    assert.equal(new URL(page.url()).searchParams.get('feature'), 'f3');
    await page.screenshot({ path: join(SHOTS, 'monitoring.png'), fullPage: true });
    await page.getByRole('tab', { name: 'Alerts' }).click();
    await page.getByRole('table', { name: 'Alerts' }).getByRole('link', { name: 'feature_drift' }).click();
    await page.getByRole('table', { name: 'Alert history' }).getByText('firing').waitFor();
    await page.close();
  });

  it('changes traffic on a deployment after confirmation', async () => {
    const page = await signedIn('root');
    await page.goto(`${server.url}/ui/deployments/scorer`);
    await page.getByLabel('Traffic for stable').fill('80');
    await page.getByLabel('Traffic for canary').fill('20');
    await page.getByRole('button', { name: 'Change traffic' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    await page.screenshot({ path: join(SHOTS, 'traffic-confirm.png') });
    await dialog.getByRole('button', { name: /Confirm|Change/ }).last().click();
    await dialog.waitFor({ state: 'detached' });
    const deployment = await owner.getDeployment('scorer');
    assert.deepEqual(Object.fromEntries(Object.entries(deployment.spec.targets as Record<string, { weight: number }>).map(([k, t]) => [k, t.weight])), { stable: 80, canary: 20 });
    await page.screenshot({ path: join(SHOTS, 'deployment.png'), fullPage: true });
    await page.close();
  });

  it('creates a token whose secret is shown once, and shows the audit chain as valid', async () => {
    const page = await signedIn('root');
    await page.goto(`${server.url}/ui/admin?tab=Tokens`);
    await page.getByLabel('Name').fill('ci-nightly');
    await page.getByRole('button', { name: 'Create token' }).click();
    const secret = await page.locator('[data-secret-token]').innerText();
    assert.match(secret, /^capstan_/);
    // The token works against the API, and the page does not show it again.
    assert.equal((await new CapstanClient({ url: server.url, token: secret }).whoami()).name, 'root');
    await page.reload();
    await page.getByRole('table', { name: 'Tokens' }).getByText('ci-nightly').waitFor();
    assert.equal(await page.locator('[data-secret-token]').count(), 0);
    await page.getByRole('tab', { name: 'Audit' }).click();
    await page.getByText(/events, head #/).waitFor();
    assert.match(await page.locator('main').innerText(), /Chain: valid/);
    // Dark mode is one click away and kept.
    await page.getByRole('button', { name: /Switch to (dark|light) mode/ }).click();
    const theme = await page.evaluate('document.documentElement.dataset.theme');
    await page.reload();
    assert.equal(await page.evaluate('document.documentElement.dataset.theme'), theme);
    if (theme !== 'dark') await page.getByRole('button', { name: 'Switch to dark mode' }).click();
    await page.screenshot({ path: join(SHOTS, 'audit-dark.png') });
    await page.close();
  });

  it('offers a viewer no change to make', async () => {
    const page = await signedIn('vera');
    await page.goto(`${server.url}/ui/deployments/scorer`);
    await page.getByRole('heading', { name: 'scorer' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Change traffic' }).count(), 0);
    await page.goto(`${server.url}/ui/pipelines?pipeline=ui-demo`);
    await page.getByRole('heading', { name: 'Pipelines', exact: true }).waitFor();
    await page.getByRole('heading', { name: 'Triggers' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Run ui-demo' }).count(), 0);
    await page.close();
  });
});
