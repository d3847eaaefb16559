import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppError } from '../errors/index.js';
import { loadConfig, maskedConfig, maskUriPassword } from './load.js';
import { SETTINGS, type SettingKey } from './settings.js';

// The generator is plain JavaScript outside the compiled tree; a computed specifier keeps the
// compiler from asking for its declarations while Node still resolves it relative to this file.
const GENERATOR = '../../scripts/gen-config-doc.mjs';
const { renderConfigDoc } = (await import(GENERATOR)) as { renderConfigDoc(settings: typeof SETTINGS): string };

const dir = mkdtempSync(join(tmpdir(), 'capstan-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
function yamlFile(text: string): string {
  const file = join(dir, `capstan-${++files}.yaml`);
  writeFileSync(file, text);
  return file;
}

/** Asserts a CONFIG_INVALID whose message contains every one of `names`. */
function assertRejected(load: () => unknown, ...names: string[]): void {
  assert.throws(load, (err: unknown) => {
    assert.ok(err instanceof AppError, `expected an AppError, got ${String(err)}`);
    assert.equal(err.code, 'CONFIG_INVALID');
    for (const name of names) assert.ok(err.message.includes(name), `"${err.message}" should name ${name}`);
    return true;
  });
}

describe('loadConfig: defaults', () => {
  it('gives every declared default when nothing is set', () => {
    const config = loadConfig();
    for (const key of Object.keys(SETTINGS) as SettingKey[]) assert.equal(config[key], SETTINGS[key].default, key);
    assert.equal(config['server.host'], '127.0.0.1');
    assert.equal(config['server.port'], 5050);
    assert.equal(config['tracking.truncate_long_values'], true);
  });

  it('ignores variables outside the CAPSTAN_ namespace and the allowed non-setting ones', () => {
    const config = loadConfig({ env: { PATH: '/usr/bin', HOME: '/root', CAPSTAN_URL: 'http://127.0.0.1:5050', CAPSTAN_SLOW_TESTS: '1' } });
    assert.equal(config['server.port'], 5050);
  });
});

describe('loadConfig: precedence defaults < file < environment < flags', () => {
  const file = yamlFile('server:\n  host: 0.0.0.0\n  port: 6000\nlog:\n  level: warn\n');
  const env = { CAPSTAN_SERVER_PORT: '7000', CAPSTAN_LOG_LEVEL: 'debug' };

  it('takes the file over the defaults', () => {
    const config = loadConfig({ file });
    assert.equal(config['server.host'], '0.0.0.0');
    assert.equal(config['server.port'], 6000);
    assert.equal(config['log.level'], 'warn');
  });

  it('takes the environment over the file, leaving what it does not set', () => {
    const config = loadConfig({ file, env });
    assert.equal(config['server.port'], 7000);
    assert.equal(config['log.level'], 'debug');
    assert.equal(config['server.host'], '0.0.0.0');
  });

  it('takes flags over the environment', () => {
    const config = loadConfig({ file, env, flags: { 'server.port': '8000' } });
    assert.equal(config['server.port'], 8000);
    assert.equal(config['log.level'], 'debug');
    assert.equal(config['server.host'], '0.0.0.0');
  });
});

describe('loadConfig: the YAML file', () => {
  it('reads nested sections and top-level keys', () => {
    const file = yamlFile(
      ['data_dir: /srv/capstan', 'server:', '  port: 5051', 's3:', '  force_path_style: true', '  region: eu-west-1', 'telemetry:', '  traces: otlp', ''].join('\n'),
    );
    const config = loadConfig({ file });
    assert.equal(config.data_dir, '/srv/capstan');
    assert.equal(config['server.port'], 5051);
    assert.equal(config['s3.force_path_style'], true);
    assert.equal(config['s3.region'], 'eu-west-1');
    assert.equal(config['telemetry.traces'], 'otlp');
  });

  it('reads dotted keys at the top level, the form config --print writes', () => {
    const config = loadConfig({ file: yamlFile('server.port: 5052\nstore.pool_size: 3\n') });
    assert.equal(config['server.port'], 5052);
    assert.equal(config['store.pool_size'], 3);
  });

  it('treats an empty file as no settings', () => {
    assert.equal(loadConfig({ file: yamlFile('') })['server.port'], 5050);
  });

  it('rejects an unknown key inside a section, naming it', () => {
    assertRejected(() => loadConfig({ file: yamlFile('server:\n  prot: 5050\n') }), "'server.prot'");
  });

  it('rejects an unknown section, naming it', () => {
    assertRejected(() => loadConfig({ file: yamlFile('sever:\n  port: 5050\n') }), "'sever'");
  });

  it('rejects a section written as a value', () => {
    assertRejected(() => loadConfig({ file: yamlFile('server: 5050\n') }), "'server'");
  });

  it('rejects a missing file and text that is not YAML, naming the file', () => {
    const missing = join(dir, 'missing.yaml');
    assertRejected(() => loadConfig({ file: missing }), missing);
    const broken = yamlFile('server:\n  port: [1, 2\n');
    assertRejected(() => loadConfig({ file: broken }), broken);
  });
});

describe('loadConfig: environment variables', () => {
  it('rejects an unknown CAPSTAN_ variable, naming it', () => {
    assertRejected(() => loadConfig({ env: { CAPSTAN_SERVR_PORT: '5050' } }), 'CAPSTAN_SERVR_PORT');
  });

  it('reads every declared variable', () => {
    const config = loadConfig({ env: { CAPSTAN_S3_FORCE_PATH_STYLE: 'yes', CAPSTAN_STORE_POOL_SIZE: '4', CAPSTAN_TELEMETRY_TRACES: 'console' } });
    assert.equal(config['s3.force_path_style'], true);
    assert.equal(config['store.pool_size'], 4);
    assert.equal(config['telemetry.traces'], 'console');
  });
});

describe('loadConfig: type errors name the key', () => {
  it('rejects a port that is not an integer', () => {
    assertRejected(() => loadConfig({ env: { CAPSTAN_SERVER_PORT: 'abc' } }), 'server.port', '"abc"');
    assertRejected(() => loadConfig({ file: yamlFile('server:\n  port: "abc"\n') }), 'server.port');
    assertRejected(() => loadConfig({ flags: { 'server.port': '50.5' } }), 'server.port');
  });

  it('rejects a port out of range', () => {
    assertRejected(() => loadConfig({ env: { CAPSTAN_SERVER_PORT: '70000' } }), 'server.port', '65535');
  });

  it('rejects a boolean that is not one', () => {
    assertRejected(() => loadConfig({ env: { CAPSTAN_S3_FORCE_PATH_STYLE: 'maybe' } }), 's3.force_path_style', '"maybe"');
  });

  it('rejects a value outside an enum, listing the allowed ones', () => {
    assertRejected(() => loadConfig({ env: { CAPSTAN_LOG_LEVEL: 'loud' } }), 'log.level', 'debug');
    assertRejected(() => loadConfig({ file: yamlFile('telemetry:\n  traces: jaeger\n') }), 'telemetry.traces', 'otlp');
  });

  it('rejects a mapping where a string belongs', () => {
    assertRejected(() => loadConfig({ file: yamlFile('data_dir:\n  path: /srv\n') }), 'data_dir');
  });
});

describe('loadConfig: the result', () => {
  it('is frozen', () => {
    const config = loadConfig();
    assert.ok(Object.isFrozen(config));
    assert.throws(() => {
      (config as Record<string, unknown>)['server.port'] = 1;
    }, TypeError);
    assert.equal(config['server.port'], 5050);
  });
});

describe('maskedConfig', () => {
  it('masks secrets and the password inside a database URI, and nothing else', () => {
    const config = loadConfig({
      flags: {
        'store.database_uri': 'postgresql://capstan:hunter2@db.internal:5432/capstan',
        's3.access_key_id': 'AKIAEXAMPLE',
        's3.secret_access_key': 'wJalrXUtnFEMI',
        's3.endpoint': 'http://minio:9000',
      },
    });
    const masked = maskedConfig(config);
    assert.equal(masked['store.database_uri'], 'postgresql://capstan:********@db.internal:5432/capstan');
    assert.equal(masked['s3.access_key_id'], '********');
    assert.equal(masked['s3.secret_access_key'], '********');
    assert.equal(masked['s3.endpoint'], 'http://minio:9000');
    assert.equal(masked['server.port'], 5050);
    const text = JSON.stringify(masked);
    for (const secret of ['hunter2', 'AKIAEXAMPLE', 'wJalrXUtnFEMI']) assert.ok(!text.includes(secret), `${secret} leaked`);
  });

  it('shows unset secrets as empty and lists every setting', () => {
    const masked = maskedConfig(loadConfig());
    assert.deepEqual(Object.keys(masked), Object.keys(SETTINGS));
    assert.equal(masked['s3.secret_access_key'], '');
  });

  it('leaves URIs without a password alone', () => {
    assert.equal(maskUriPassword('sqlite:///srv/capstan.db'), 'sqlite:///srv/capstan.db');
    assert.equal(maskUriPassword('postgresql://capstan@db:5432/capstan'), 'postgresql://capstan@db:5432/capstan');
    assert.equal(maskUriPassword('postgres://u:p%40ss@db/x'), 'postgres://u:********@db/x');
  });
});

describe('docs/configuration.md', () => {
  it('is what the generator makes of SETTINGS', () => {
    const page = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    assert.ok(page === renderConfigDoc(SETTINGS), 'docs/configuration.md is out of date with src/config/settings.ts: run npm run docs:config');
  });

  it('documents every setting and its variable', () => {
    const page = renderConfigDoc(SETTINGS);
    for (const [key, spec] of Object.entries(SETTINGS)) {
      assert.ok(page.includes(`| \`${key}\` | \`${spec.env}\` |`), `${key} missing from the table`);
    }
  });
});
