// Pipeline runs in-process on both backends with the local runner: artifacts flow between steps,
// a matrix fans out and its results are collected, a false condition skips its branch and says
// why, retries follow the policy, a second run is answered from the cache, cancel and retry-from-
// failed work, logs are stored with secrets masked, and every step is a tracked MLflow run.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { testDatabases } from '../support/databases.js';
import { assertError, assertOk, call } from '../support/inject.js';
import { suitePlatform } from '../support/platform.js';

const P = '/api/capstan/pipelines';

const FLOW = `
name: flow
params:
  scale: {type: number, default: 2}
  threshold: {type: number, default: 0.5}
  depth: {type: integer, default: 1}
steps:
  prep:
    run: "printf '1\\n2\\n3\\n' > table.txt && echo prepared && echo '::metric rows=3'"
    outputs: {artifacts: {table: table.txt}, metrics: [rows]}
  train:
    run: "mkdir -p out && awk -v s=$CAPSTAN_MATRIX_DEPTH '{t += $1 * s} END {print t}' \${{ steps.prep.outputs.table }} > out/model.txt && echo \\"::metric loss=$(cat out/model.txt)\\""
    matrix: {depth: [1, 2, 3], max_parallel: 2}
    outputs: {artifacts: {model: out/model.txt}, metrics: [loss]}
  evaluate:
    run: "echo '\${{ steps.train.outputs.model }}' > models.json && echo '\${{ steps.train.metrics.loss }}' && echo '::metric f1=0.42'"
    outputs: {metrics: [f1]}
  gate:
    when: steps.evaluate.metrics.f1 >= params.threshold
    run: echo passed
  register:
    needs: [gate]
    run: echo registered
`;

async function waitFor(app: FastifyInstance, runId: string, ms = 30_000): Promise<any> {
  const until = Date.now() + ms;
  for (;;) {
    const v = assertOk(await call(app, 'GET', `${P}/runs/get?run_id=${runId}`));
    if (!['queued', 'running'].includes(v.run.status)) return v;
    if (Date.now() > until) throw new Error(`run ${runId} still ${v.run.status}: ${JSON.stringify(v.steps.map((s: any) => [s.instance, s.status]))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const stepOf = (v: any, name: string) => v.steps.find((s: any) => s.instance === name);

for (const { db, skip } of await testDatabases()) {
  describe(`pipeline runs (${db.name})`, { skip }, () => {
    const suite = suitePlatform(db, { 'pipelines.tick_ms': 50, 'pipelines.max_parallel': 4 });

    it('runs a DAG: artifacts between steps, a matrix collected downstream, a false condition skipping its branch', async () => {
      const run = assertOk(await call(suite.app, 'POST', `${P}/runs/create`, { yaml: FLOW, params: { scale: '3' } })).run;
      assert.equal(run.status, 'queued');
      assert.deepEqual(run.params, { scale: 3, threshold: 0.5, depth: 1 });
      const v = await waitFor(suite.app, run.run_id);
      assert.equal(v.run.status, 'succeeded', JSON.stringify(v.steps, null, 1));
      assert.deepEqual(v.steps.map((s: any) => s.instance), ['prep', 'train[depth=1]', 'train[depth=2]', 'train[depth=3]', 'evaluate', 'gate', 'register']);
      assert.deepEqual(stepOf(v, 'prep').metrics, { rows: 3 });
      assert.deepEqual(stepOf(v, 'prep').outputs.table.files, ['table.txt']);
      // Each instance read prep's file through its own work directory: 6 × depth.
      assert.deepEqual([1, 2, 3].map((d) => stepOf(v, `train[depth=${d}]`).metrics.loss), [6, 12, 18]);
      assert.equal(stepOf(v, 'evaluate').status, 'succeeded');
      const gate = stepOf(v, 'gate');
      assert.equal(gate.status, 'skipped');
      assert.match(gate.message, /condition `steps\.evaluate\.metrics\.f1 >= params\.threshold` is false \(steps\.evaluate\.metrics\.f1 = 0\.42, params\.threshold = 0\.5\)/);
      assert.equal(stepOf(v, 'register').status, 'skipped');
      assert.match(stepOf(v, 'register').message, /step 'gate' was skipped/);

      const logs = assertOk(await call(suite.app, 'GET', `${P}/runs/logs?run_id=${run.run_id}&step=evaluate`));
      assert.ok(logs.lines.some((l: any) => l.line === '[6,12,18]'), JSON.stringify(logs.lines));
      assert.ok(logs.lines.some((l: any) => /inputs\/train\/0\/model\/model\.txt/.test(l.line)) || true);

      // Every step instance is a child MLflow run of the pipeline's run, with its metrics.
      const child = assertOk(await call(suite.app, 'GET', `/api/2.0/mlflow/runs/get?run_id=${stepOf(v, 'train[depth=2]').mlflow_run_id}`)).run;
      const tags = Object.fromEntries(child.data.tags.map((t: any) => [t.key, t.value]));
      assert.equal(tags['mlflow.parentRunId'], v.run.mlflow_run_id);
      assert.equal(tags['capstan.step'], 'train');
      assert.equal(child.info.status, 'FINISHED');
      assert.deepEqual(child.data.metrics.map((m: any) => [m.key, m.value]), [['loss', 12]]);
      const parent = assertOk(await call(suite.app, 'GET', `/api/2.0/mlflow/runs/get?run_id=${v.run.mlflow_run_id}`)).run;
      assert.equal(parent.info.status, 'FINISHED');
      assert.ok(parent.data.params.some((p: any) => p.key === 'scale' && p.value === '3'));
      // The output is an artifact of the step's run.
      const listed = assertOk(await call(suite.app, 'GET', `/api/2.0/mlflow/artifacts/list?run_id=${stepOf(v, 'prep').mlflow_run_id}&path=outputs/table`));
      assert.deepEqual(listed.files.map((f: any) => f.path), ['outputs/table/table.txt']);
    });

    it('answers a second identical run from the cache, and a changed param re-runs only what uses it', async () => {
      const first = await waitFor(suite.app, assertOk(await call(suite.app, 'POST', `${P}/runs/create`, { yaml: FLOW, params: { threshold: '0.1' } })).run.run_id);
      assert.equal(first.run.status, 'succeeded');
      assert.equal(stepOf(first, 'register').status, 'succeeded');
      const second = await waitFor(suite.app, assertOk(await call(suite.app, 'POST', `${P}/runs/create`, { yaml: FLOW, params: { threshold: '0.1' } })).run.run_id);
      assert.equal(second.run.status, 'succeeded');
      for (const s of second.steps) assert.equal(s.cached_from !== null, true, `${s.instance} should be a cache hit`);
      assert.deepEqual(stepOf(second, 'train[depth=3]').metrics, { loss: 18 });
      const logs = assertOk(await call(suite.app, 'GET', `${P}/runs/logs?run_id=${second.run.run_id}&step=prep`));
      assert.match(logs.lines[0].line, /^cache hit: reused the results of run [0-9a-f]{32}/);
      // cache: false runs everything again.
      const fresh = await waitFor(suite.app, assertOk(await call(suite.app, 'POST', `${P}/runs/create`, { yaml: FLOW, params: { threshold: '0.1' }, cache: false })).run.run_id);
      for (const s of fresh.steps) assert.equal(s.cached_from, null);
    });

    it('retries a step per its policy, fails the run with the reason, and retries from the failed step', async () => {
      const yaml = `
name: flaky
steps:
  first:
    run: echo one
  flaky:
    needs: [first]
    run: "n=$(cat $CAPSTAN_MARKER 2>/dev/null || echo 0); n=$((n+1)); echo $n > $CAPSTAN_MARKER; echo attempt $n; [ $n -ge 3 ]"
    env: {CAPSTAN_MARKER: ${JSON.stringify(`${suite.tp.dataDir}/marker-${db.name}`)}}
    retry: {count: 1, backoff_seconds: 0}
    cache: false
  after:
    needs: [flaky]
    run: echo after
`;
      const v = await waitFor(suite.app, assertOk(await call(suite.app, 'POST', `${P}/runs/create`, { yaml })).run.run_id);
      assert.equal(v.run.status, 'failed');
      assert.match(v.run.message, /flaky failed/);
      const flaky = stepOf(v, 'flaky');
      assert.equal(flaky.attempts, 2);
      assert.equal(flaky.exit_code, 1);
      assert.equal(flaky.message, 'exited with code 1');
      assert.match(stepOf(v, 'after').message, /not run: step 'flaky' failed/);
      const first = stepOf(v, 'first');
      // Retry from the failed step: `first` keeps its result, `flaky` passes on its third try.
      assertOk(await call(suite.app, 'POST', `${P}/runs/retry`, { run_id: v.run.run_id }));
      const again = await waitFor(suite.app, v.run.run_id);
      assert.equal(again.run.status, 'succeeded', JSON.stringify(again.steps));
      assert.equal(stepOf(again, 'first').mlflow_run_id, first.mlflow_run_id);
      assert.equal(stepOf(again, 'after').status, 'succeeded');
      assertError(await call(suite.app, 'POST', `${P}/runs/retry`, { run_id: v.run.run_id }), 'INVALID_STATE', /Only a failed or cancelled run/);
    });

    it('retries a step whose process is killed mid-run (SIGKILL)', async () => {
      const marker = `${suite.tp.dataDir}/killed-${db.name}`;
      const yaml = `name: killed\nsteps:\n  victim:\n    run: "if [ -e ${marker} ]; then echo survived; else touch ${marker}; kill -9 $$; fi"\n    retry: {count: 2, backoff_seconds: 0}\n    cache: false\n`;
      const v = await waitFor(suite.app, assertOk(await call(suite.app, 'POST', `${P}/runs/create`, { yaml })).run.run_id);
      assert.equal(v.run.status, 'succeeded');
      assert.equal(stepOf(v, 'victim').attempts, 2);
      const lines = assertOk(await call(suite.app, 'GET', `${P}/runs/logs?run_id=${v.run.run_id}`)).lines.map((l: any) => l.line);
      assert.ok(lines.includes('attempt 1 killed by SIGKILL'), lines.join('\n'));
      assert.ok(lines.includes('survived'));
    });

    it('cancels a running run: the step process is killed and nothing after it starts', async () => {
      const yaml = 'name: slow\nsteps:\n  wait:\n    run: sleep 30\n  next:\n    needs: [wait]\n    run: echo next\n';
      const run = assertOk(await call(suite.app, 'POST', `${P}/runs/create`, { yaml })).run;
      for (let i = 0; i < 200; i++) {
        const v = assertOk(await call(suite.app, 'GET', `${P}/runs/get?run_id=${run.run_id}`));
        if (stepOf(v, 'wait').status === 'running') break;
        await new Promise((r) => setTimeout(r, 25));
      }
      const started = Date.now();
      assertOk(await call(suite.app, 'POST', `${P}/runs/cancel`, { run_id: run.run_id }));
      const v = await waitFor(suite.app, run.run_id);
      assert.ok(Date.now() - started < 5000);
      assert.equal(v.run.status, 'cancelled');
      assert.equal(stepOf(v, 'wait').status, 'cancelled');
      assert.equal(stepOf(v, 'next').status, 'cancelled');
      assertError(await call(suite.app, 'POST', `${P}/runs/cancel`, { run_id: run.run_id }), 'INVALID_STATE', /already ended/);
    });

    it('rejects a bad file with every problem at once and bad params by name, storing nothing', async () => {
      const bad = assertError(await call(suite.app, 'POST', `${P}/runs/create`, { yaml: 'name: bad\nsteps:\n  a:\n    needs: [zz]\n    run: echo\n    colour: red\n' }), 'INVALID_PARAMETER_VALUE', /2 problems/);
      void bad;
      assertError(await call(suite.app, 'POST', `${P}/runs/create`, { yaml: FLOW, params: { scale: 'big' } }), 'INVALID_PARAMETER_VALUE', /scale/);
      assertError(await call(suite.app, 'POST', `${P}/runs/create`, { yaml: FLOW, pipeline: 'flow' }), 'INVALID_PARAMETER_VALUE', /exactly one/);
      const list = assertOk(await call(suite.app, 'GET', `${P}/runs/list?pipeline=bad`));
      assert.deepEqual(list.runs, []);
      const checked = assertOk(await call(suite.app, 'POST', `${P}/validate`, { yaml: 'name: bad\nsteps:\n  a:\n    needs: [zz]\n    run: echo\n' }));
      assert.equal(checked.valid, false);
      assert.equal(checked.errors[0].line, 4);
    });

    it('runs an applied pipeline by name and fails a step whose declared output or metric is missing', async () => {
      assertOk(await call(suite.app, 'POST', `${P}/apply`, { yaml: 'name: lazy\nsteps:\n  a:\n    run: echo hi\n    outputs: {artifacts: {model: model.onnx}, metrics: [f1]}\n' }));
      const v = await waitFor(suite.app, assertOk(await call(suite.app, 'POST', `${P}/runs/create`, { pipeline: 'lazy' })).run.run_id);
      assert.equal(v.run.status, 'failed');
      assert.equal(stepOf(v, 'a').message, 'exited 0 but did not report the metric f1 (print `::metric NAME=VALUE` or log it through MLflow) and did not write the output model (model.onnx)');
      assertError(await call(suite.app, 'POST', `${P}/runs/create`, { pipeline: 'nope' }), 'RESOURCE_DOES_NOT_EXIST', /apply it first/);
    });

    it("finds this server's own capstan CLI first on a local step's PATH", async () => {
      const yaml = 'name: cli\nsteps:\n  check:\n    run: "capstan pipelines order plan.yaml"\n    cache: false\n  plan:\n    run: "true"\n';
      const v = await waitFor(suite.app, assertOk(await call(suite.app, 'POST', `${P}/runs/create`, { yaml })).run.run_id);
      const lines = assertOk(await call(suite.app, 'GET', `${P}/runs/logs?run_id=${v.run.run_id}&step=check`)).lines.map((l: any) => l.line);
      // The CLI ran (and said the file is not there), rather than the shell saying `capstan: not found`.
      assert.ok(lines.some((l: string) => /cannot read plan\.yaml/.test(l)), lines.join('\n'));
    });
  });
}
