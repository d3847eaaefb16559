import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../errors/index.js';
import { parseDeploymentSpec, specToDocument, type DeploymentSpec } from './deployment-spec.js';
import { deploymentDocument } from './deployment-yaml.js';

/** Asserts `fn` throws INVALID_PARAMETER_VALUE with a message matching `message`. */
function invalid(fn: () => unknown, message: RegExp | string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof AppError, String(err));
    assert.equal(err.code, 'INVALID_PARAMETER_VALUE');
    assert.equal(err.status, 400);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

const base = (extra: Record<string, unknown> = {}) => ({ name: 'fraud', model: 'fraud-mlp', targets: { stable: { version: 3 } }, ...extra });

describe('parseDeploymentSpec', () => {
  it('fills every default for a minimal document', () => {
    assert.deepEqual(parseDeploymentSpec(base()), {
      name: 'fraud',
      description: '',
      targets: [{ name: 'stable', model: 'fraud-mlp', version: '3', weight: 100 }],
      shadows: [],
      routeHeader: 'x-capstan-target',
      stickyHeader: '',
      maxBatchSize: 32,
      maxQueueDelayMs: 0,
      maxQueue: 256,
      timeoutMs: 10_000,
      ratePerSecond: 0,
      burst: 0,
      predictionLogSample: 0.01,
      rollout: null,
      tags: {},
    } satisfies DeploymentSpec);
  });

  it('keeps string tags for cost reports and names a bad one', () => {
    assert.deepEqual(parseDeploymentSpec({ name: 'a', model: 'm', targets: { only: 1 }, tags: { owner: 'risk', cost_center: 'cc-1' } }).tags, { owner: 'risk', cost_center: 'cc-1' });
    invalid(() => parseDeploymentSpec({ name: 'a', model: 'm', targets: { only: 1 }, tags: { owner: 7 } }), /^tags\.owner must be a string/);
  });

  it('gives a lone target weight 100, in the short forms too', () => {
    assert.deepEqual(parseDeploymentSpec({ name: 'a', model: 'm', targets: { only: 7 } }).targets, [{ name: 'only', model: 'm', version: '7', weight: 100 }]);
    assert.deepEqual(parseDeploymentSpec({ name: 'a', model: 'm', targets: { only: '@champion' } }).targets, [{ name: 'only', model: 'm', version: '@champion', weight: 100 }]);
    invalid(() => parseDeploymentSpec({ name: 'a', model: 'm', targets: { only: { version: 1, weight: 40 } } }), 'Target weights must add up to 100; they add up to 40 (only=40).');
  });

  it('requires the weights of several targets to add up to 100', () => {
    const spec = parseDeploymentSpec(base({ targets: { stable: { version: 1, weight: 90 }, canary: { version: 2, weight: 10, model: 'other' } } }));
    assert.deepEqual(spec.targets, [
      { name: 'stable', model: 'fraud-mlp', version: '1', weight: 90 },
      { name: 'canary', model: 'other', version: '2', weight: 10 },
    ]);
    invalid(() => parseDeploymentSpec(base({ targets: { stable: { version: 1, weight: 90 }, canary: { version: 2 } } })), 'Target weights must add up to 100; they add up to 90 (stable=90, canary=0).');
    invalid(() => parseDeploymentSpec(base({ targets: { a: { version: 1, weight: 60 }, b: { version: 2, weight: 50 } } })), /add up to 110 \(a=60, b=50\)/);
    invalid(() => parseDeploymentSpec(base({ targets: { a: { version: 1, weight: 101 } } })), 'targets.a.weight must be an integer from 0 to 100; got 101.');
    invalid(() => parseDeploymentSpec(base({ targets: { a: { version: 1, weight: 99.5 }, b: { version: 1, weight: 0.5 } } })), /targets\.a\.weight must be an integer/);
  });

  it('names unknown keys together with the known ones', () => {
    invalid(() => parseDeploymentSpec(base({ replicas: 3 })), "deployment: unknown key 'replicas' (known: name, description, model, targets, shadows, routing, batching, limits, prediction_log, rollout, tags).");
    invalid(() => parseDeploymentSpec(base({ batching: { max_batch: 8, delay: 1 } })), "batching: unknown keys 'max_batch', 'delay' (known: max_batch_size, max_queue_delay_ms).");
    invalid(() => parseDeploymentSpec(base({ targets: { stable: { version: 1, wieght: 100 } } })), "targets.stable: unknown key 'wieght' (known: model, version, weight).");
    invalid(() => parseDeploymentSpec(base({ routing: { sticky: 'x-user' } })), "routing: unknown key 'sticky' (known: header, sticky_header).");
    invalid(() => parseDeploymentSpec(base({ limits: { qps: 1 } })), /^limits: unknown key 'qps' \(known: max_queue, timeout_ms, rate_per_second, burst\)\.$/);
  });

  it('refuses a weight on a shadow and a sample on a target instead of silently dropping them', () => {
    invalid(() => parseDeploymentSpec(base({ shadows: { s: { version: 2, weight: 10 } } })), "shadows.s: unknown key 'weight' (known: model, version, sample).");
    invalid(() => parseDeploymentSpec(base({ targets: { stable: { version: 1, sample: 0.5 } } })), "targets.stable: unknown key 'sample' (known: model, version, weight).");
  });

  it('rejects bad names, shapes and numbers, naming the key', () => {
    invalid(() => parseDeploymentSpec(base({ name: 'has space' })), /^deployment\.name must be 1-128 letters.*got "has space"\.$/);
    invalid(() => parseDeploymentSpec(base({ name: undefined })), /deployment\.name .*got ""/);
    invalid(() => parseDeploymentSpec([]), 'The deployment must be a mapping.');
    invalid(() => parseDeploymentSpec(base({ targets: [{ version: 1 }] })), 'targets must be a mapping.');
    invalid(() => parseDeploymentSpec(base({ targets: {} })), /deployment\.targets needs at least one target/);
    invalid(() => parseDeploymentSpec({ name: 'x', targets: { stable: { version: 1 } } }), "targets.stable.model is required (or set a top-level 'model').");
    invalid(() => parseDeploymentSpec(base({ targets: { 'bad/name': { version: 1 } } })), "targets.bad/name: target name 'bad/name' must be letters, digits, '_', '.' or '-'.");
    invalid(() => parseDeploymentSpec(base({ batching: { max_batch_size: 0 } })), 'batching.max_batch_size must be an integer from 1 to 65536; got 0.');
    invalid(() => parseDeploymentSpec(base({ prediction_log: { sample_rate: 1.5 } })), 'prediction_log.sample_rate must be a number from 0 to 1; got 1.5.');
    invalid(() => parseDeploymentSpec(base({ description: 5 })), 'deployment.description must be a string.');
  });

  it('accepts version numbers and @aliases and rejects anything else', () => {
    const version = (v: unknown) => parseDeploymentSpec(base({ targets: { stable: { version: v } } })).targets[0].version;
    assert.equal(version(12), '12');
    assert.equal(version('12'), '12');
    assert.equal(version('@champion'), '@champion');
    assert.equal(version('@a_b-9'), '@a_b-9');
    for (const bad of [0, -1, 1.5, '0', '01', 'v1', '@', '@has space', '@a.b', null, undefined, true]) {
      invalid(() => version(bad), `targets.stable.version must be a version number or '@alias'; got ${JSON.stringify(bad)}.`);
    }
  });

  it('parses shadows with their sample share, default 1, and no weight', () => {
    const spec = parseDeploymentSpec(base({ shadows: { challenger: { version: '@challenger', sample: 0.25 }, mirror: 4 } }));
    assert.deepEqual(spec.shadows, [
      { name: 'challenger', model: 'fraud-mlp', version: '@challenger', sample: 0.25 },
      { name: 'mirror', model: 'fraud-mlp', version: '4', sample: 1 },
    ]);
    invalid(() => parseDeploymentSpec(base({ shadows: { s: { version: 2, sample: 2 } } })), 'shadows.s.sample must be a number from 0 to 1; got 2.');
    invalid(() => parseDeploymentSpec(base({ shadows: { stable: { version: 2 } } })), "Target name 'stable' is used twice.");
  });

  it('lower-cases the routing headers and defaults burst to twice the rate', () => {
    const spec = parseDeploymentSpec(base({ routing: { header: 'X-Variant', sticky_header: 'X-User-Id' }, limits: { rate_per_second: 50 } }));
    assert.equal(spec.routeHeader, 'x-variant');
    assert.equal(spec.stickyHeader, 'x-user-id');
    assert.equal(spec.ratePerSecond, 50);
    assert.equal(spec.burst, 100);
    assert.equal(parseDeploymentSpec(base({ limits: { rate_per_second: 50, burst: 7 } })).burst, 7);
  });

  describe('rollout', () => {
    const two = { stable: { version: 1, weight: 90 }, canary: { version: 2, weight: 10 } };

    it('defaults steps, timing and SLO', () => {
      assert.deepEqual(parseDeploymentSpec(base({ targets: two, rollout: {} })).rollout, {
        canary: 'canary', stable: 'stable', steps: [10, 25, 50, 100], intervalSeconds: 30, windowSeconds: 60,
        slo: { maxErrorRate: 0.01, maxLatencyP95Ms: 100, maxPredictionPsi: 0.25, minRequests: 50 },
      });
    });

    it('takes explicit names, steps and SLO, max_error_rate_increase only when given', () => {
      const targets = { blue: { version: 1, weight: 95 }, green: { version: 2, weight: 5 } };
      const r = parseDeploymentSpec(base({ targets, rollout: { canary: 'green', stable: 'blue', steps: [5, 50, 100], interval_seconds: 10, window_seconds: 20, slo: { max_error_rate: 0.05, max_error_rate_increase: 0.02, min_requests: 10 } } })).rollout;
      assert.deepEqual(r, {
        canary: 'green', stable: 'blue', steps: [5, 50, 100], intervalSeconds: 10, windowSeconds: 20,
        slo: { maxErrorRate: 0.05, maxErrorRateIncrease: 0.02, maxLatencyP95Ms: 100, maxPredictionPsi: 0.25, minRequests: 10 },
      });
    });

    it('requires the canary and stable targets to exist and differ', () => {
      invalid(() => parseDeploymentSpec(base({ targets: two, rollout: { canary: 'green' } })), "rollout names target 'green', which is not in targets.");
      invalid(() => parseDeploymentSpec(base({ targets: two, rollout: { stable: 'blue' } })), "rollout names target 'blue', which is not in targets.");
      invalid(() => parseDeploymentSpec(base({ targets: two, rollout: { canary: 'stable', stable: 'stable' } })), 'rollout.canary and rollout.stable must be different targets.');
      // A shadow is not a target a rollout can step up.
      invalid(() => parseDeploymentSpec(base({ targets: { stable: 1 }, shadows: { canary: 2 }, rollout: {} })), "rollout names target 'canary', which is not in targets.");
    });

    it('requires strictly increasing integer steps from 1 to 100', () => {
      const steps = (s: unknown) => () => parseDeploymentSpec(base({ targets: two, rollout: { steps: s } }));
      assert.deepEqual(steps([1, 100])().rollout!.steps, [1, 100]);
      for (const bad of [[], [10, 10], [50, 25], [0, 50], [10, 101], [10.5], '10,20', [10, '20']]) {
        invalid(steps(bad), 'rollout.steps must be increasing integer percentages from 1 to 100, e.g. [10, 25, 50, 100].');
      }
    });

    it('names unknown rollout and SLO keys', () => {
      invalid(() => parseDeploymentSpec(base({ targets: two, rollout: { step: [10] } })), /^rollout: unknown key 'step' \(known: canary, stable, steps, interval_seconds, window_seconds, slo\)\.$/);
      invalid(() => parseDeploymentSpec(base({ targets: two, rollout: { slo: { p95: 3 } } })), /^rollout\.slo: unknown key 'p95' \(known: max_error_rate, /);
    });
  });
});

describe('deploymentDocument', () => {
  it('reads YAML, and JSON as YAML', () => {
    const yaml = 'name: fraud\nmodel: fraud-mlp\ntargets:\n  stable: {version: 3, weight: 100}\nrouting:\n  sticky_header: X-User\n';
    assert.deepEqual(deploymentDocument(yaml), { name: 'fraud', model: 'fraud-mlp', targets: { stable: { version: 3, weight: 100 } }, routing: { sticky_header: 'X-User' } });
    assert.deepEqual(deploymentDocument('{"name": "x", "targets": {"a": "@prod"}}'), { name: 'x', targets: { a: '@prod' } });
    assert.equal(parseDeploymentSpec(deploymentDocument(yaml)).stickyHeader, 'x-user');
  });

  it('rejects text that is not YAML', () => {
    invalid(() => deploymentDocument('name: [unclosed\n'), /^The deployment file is not valid YAML: /);
  });
});

describe('specToDocument', () => {
  it('writes the file form in snake_case', () => {
    const doc = specToDocument(parseDeploymentSpec(base({ description: 'fraud scoring' })));
    assert.deepEqual(doc, {
      name: 'fraud', description: 'fraud scoring',
      targets: { stable: { model: 'fraud-mlp', version: '3', weight: 100 } },
      shadows: {},
      routing: { header: 'x-capstan-target', sticky_header: '' },
      batching: { max_batch_size: 32, max_queue_delay_ms: 0 },
      limits: { max_queue: 256, timeout_ms: 10_000, rate_per_second: 0, burst: 0 },
      prediction_log: { sample_rate: 0.01 },
    });
  });

  it('round-trips: spec → document → spec is the same spec', () => {
    const full = parseDeploymentSpec({
      name: 'fraud.v2', description: 'everything set', model: 'fraud-mlp',
      targets: { blue: { version: 1, weight: 70 }, green: { version: '@candidate', weight: 30, model: 'fraud-gbm' } },
      shadows: { mirror: { version: 9, sample: 0.5 }, dark: { model: 'other', version: '@dark' } },
      routing: { header: 'X-Pick', sticky_header: 'X-User' },
      batching: { max_batch_size: 16, max_queue_delay_ms: 5 },
      limits: { max_queue: 64, timeout_ms: 2500, rate_per_second: 12, burst: 30 },
      prediction_log: { sample_rate: 0.2 },
      rollout: { canary: 'green', stable: 'blue', steps: [30, 60, 100], interval_seconds: 15, window_seconds: 45, slo: { max_error_rate: 0.02, max_error_rate_increase: 0.01, max_latency_p95_ms: 250, max_prediction_psi: 0.3, min_requests: 20 } },
    });
    const again = parseDeploymentSpec(specToDocument(full));
    assert.deepEqual(again, full);
    // And through the text form the CLI writes and reads.
    assert.deepEqual(parseDeploymentSpec(deploymentDocument(JSON.stringify(specToDocument(full)))), full);
    // Without a rollout and without max_error_rate_increase, nothing extra appears.
    const minimal = parseDeploymentSpec(base());
    assert.deepEqual(parseDeploymentSpec(specToDocument(minimal)), minimal);
    assert.equal('rollout' in specToDocument(minimal), false);
    const noIncrease = parseDeploymentSpec(base({ targets: { stable: { version: 1, weight: 50 }, canary: { version: 2, weight: 50 } }, rollout: {} }));
    assert.equal('max_error_rate_increase' in (specToDocument(noIncrease).rollout as { slo: object }).slo, false);
    assert.deepEqual(parseDeploymentSpec(specToDocument(noIncrease)), noIncrease);
  });
});
