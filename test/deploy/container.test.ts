// The container build file and the docker compose file. Neither can run here (no container engine
// on this machine or in CI), so this checks what can be checked: the Dockerfile's stages, user,
// port and entry point, that every file it copies exists after `npm run build` and is not excluded
// by .dockerignore (the runtime image's contents, listed), and that the compose file's services,
// health checks and Capstan settings are consistent and valid.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/index.js';
import { ROOT } from '../support/server-process.js';

interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile instructions with continuations joined and comments dropped, grouped by stage. */
function stages(text: string): { name: string; from: string; steps: Instruction[] }[] {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const out: { name: string; from: string; steps: Instruction[] }[] = [];
  for (const line of lines) {
    const [op, ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (op.toUpperCase() === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args)!;
      out.push({ from: m[1], name: m[2] ?? String(out.length), steps: [] });
    } else if (out.length) out[out.length - 1].steps.push({ op: op.toUpperCase(), args });
  }
  return out;
}

/** Every file below `dir` (relative paths). */
function walk(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(dir, join(prefix, e.name)) : [join(prefix, e.name)]));
}

const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const built = stages(dockerfile);
const runtime = built[built.length - 1];

describe('deploy: the container image', () => {
  it('builds in one stage and runs from a slim image as an unprivileged user', () => {
    assert.deepEqual(built.map((s) => s.name), ['build', 'runtime']);
    assert.match(runtime.from, /-slim$/);
    const user = runtime.steps.filter((s) => s.op === 'USER').at(-1)?.args;
    assert.ok(user && !/^(root|0)(:|$)/.test(user), `USER ${user}`);
    // Nothing is installed or compiled in the runtime stage: it only copies.
    assert.ok(!runtime.steps.some((s) => s.op === 'RUN' && /npm|apt-get install|g\+\+/.test(s.args)));
    assert.deepEqual(runtime.steps.filter((s) => s.op === 'EXPOSE').map((s) => s.args), ['5050']);
    assert.deepEqual(JSON.parse(runtime.steps.find((s) => s.op === 'ENTRYPOINT')!.args), ['node', '/opt/capstan/bin/capstan.js']);
    assert.deepEqual(JSON.parse(runtime.steps.find((s) => s.op === 'CMD')!.args), ['up']);
    assert.match(runtime.steps.find((s) => s.op === 'ENV')!.args, /CAPSTAN_SERVER_HOST=0\.0\.0\.0/);
  });

  it('copies only what exists after a build and what .dockerignore lets through; lists the runtime image', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    for (const must of ['node_modules', 'dist', '.capstan', 'test', '.git']) assert.ok(ignored.includes(must), `.dockerignore leaves ${must} in the build context`);
    const contents: string[] = [];
    for (const stage of built) {
      for (const step of stage.steps.filter((s) => s.op === 'COPY')) {
        const parts = step.args.split(/\s+/);
        const fromStage = parts[0].startsWith('--from=') ? parts.shift()!.slice('--from='.length) : null;
        const dest = parts.pop()!;
        for (const src of parts) {
          // From the build stage: the build's own output in this checkout (npm test has built it).
          const local = fromStage ? src.replace(/^\/src\//, '') : src;
          assert.ok(existsSync(join(ROOT, local)), `${stage.name}: COPY ${src} — ${local} does not exist`);
          if (!fromStage) assert.ok(!ignored.includes(local.split('/')[0]), `${stage.name}: COPY ${src} is excluded by .dockerignore`);
          if (stage === runtime) {
            const files = statSync(join(ROOT, local)).isDirectory() ? walk(join(ROOT, local)).map((f) => join(dest, f)) : [dest.endsWith('/') ? join(dest, local) : dest];
            contents.push(...files.map((f) => (f.startsWith('/') ? f : join('/opt/capstan', f))));
          }
        }
      }
    }
    const app = contents.filter((f) => !f.includes('/node_modules/'));
    for (const f of ['/opt/capstan/bin/capstan.js', '/opt/capstan/dist/src/index.js', '/opt/capstan/dist/web/index.html', '/opt/capstan/package.json']) assert.ok(app.includes(f), `the image lacks ${f}`);
    assert.ok(!app.some((f) => /\/(test|bench|\.capstan)\//.test(f) || f.endsWith('.ts') && !f.endsWith('.d.ts')), 'sources or tests in the runtime image');
    assert.ok(app.some((f) => f.startsWith('/opt/capstan/dist/web/assets/')));
  });
});

describe('deploy: docker compose for the team server', () => {
  const compose = parse(readFileSync(join(ROOT, 'deploy', 'compose', 'docker-compose.yml'), 'utf8'));
  const capstan = compose.services.capstan;

  it('starts PostgreSQL, MinIO (with its bucket) and Redis healthy before Capstan', () => {
    assert.deepEqual(Object.keys(compose.services).sort(), ['capstan', 'minio', 'minio-bucket', 'postgres', 'redis']);
    for (const name of ['postgres', 'minio', 'redis']) assert.ok(compose.services[name].healthcheck?.test, `${name} has no health check`);
    assert.deepEqual(capstan.depends_on, {
      postgres: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' }, 'minio-bucket': { condition: 'service_completed_successfully' },
    });
    assert.match(capstan.healthcheck.test.join(' '), /\/readyz/);
    assert.deepEqual(capstan.ports, ['5050:5050']);
    assert.equal(capstan.build.dockerfile, 'Dockerfile');
    assert.ok(existsSync(join(ROOT, 'deploy', 'compose', capstan.build.context, 'Dockerfile')));
  });

  it('gives Capstan settings it accepts, on the services compose starts', () => {
    const file = Object.fromEntries(readFileSync(join(ROOT, 'deploy', 'compose', 'capstan.env.example'), 'utf8').split('\n')
      .filter((l) => l && !l.startsWith('#')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    const config = loadConfig({ env: { ...file, ...capstan.environment } });
    assert.match(config['store.database_uri'], /^postgresql:\/\/capstan:[^@]+@postgres:5432\/capstan$/);
    assert.equal(config['s3.endpoint'], 'http://minio:9000');
    assert.equal(config['redis.url'], 'redis://redis:6379/0');
    assert.equal(config['auth.mode'], 'on');
    // The bucket Capstan writes to is the one the bucket job makes.
    const bucket = /^s3:\/\/([^/]+)/.exec(config['store.artifacts_uri'])![1];
    assert.match(compose.services['minio-bucket'].command.join(' '), new RegExp(`mc mb --ignore-existing local/${bucket}$`));
  });
});
