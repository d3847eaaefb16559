import { afterEach, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { AppError } from '../errors/index.js';
import { parseDeploymentSpec } from './deployment-spec.js';
import { NO_ROLLOUT } from './deployment-types.js';
import { LiveDeployment, type RoutingTable } from './live-deployment.js';
import type { ServedModel } from './served-model.js';

/** The fields of ServedModel that routing reads. */
interface FakeModel {
  key: string;
  name: string;
  version: string;
  isReady: boolean;
  breaker: { state: 'closed' | 'open' | 'half-open' };
}

function fakeModel(name: string, version: number): FakeModel {
  return { key: `1/dep/${name}#${version}`, name, version: String(version), isReady: true, breaker: { state: 'closed' } };
}

/**
 * A deployment with the given targets (name → [version, weight]) and shadows (name → [version,
 * sample]); its fake models are returned by target name so a test can break them.
 */
function deployment(targets: Record<string, [number, number]>, shadows: Record<string, [number, number]> = {}, routing: Record<string, string> = {}) {
  const spec = parseDeploymentSpec({
    name: 'dep', model: 'm', routing,
    targets: Object.fromEntries(Object.entries(targets).map(([n, [version, weight]]) => [n, { version, weight }])),
    shadows: Object.fromEntries(Object.entries(shadows).map(([n, [version, sample]]) => [n, { version, sample }])),
  });
  const models: Record<string, FakeModel> = {};
  const live = (s: { name: string; version: string }) => {
    const model = (models[s.name] = fakeModel(s.name, Number(s.version)));
    return { version: Number(s.version), model: model as unknown as ServedModel };
  };
  const table: RoutingTable = {
    revision: 1, spec, rollout: NO_ROLLOUT, problems: [],
    targets: spec.targets.map((t) => ({ spec: t, ...live(t) })),
    shadows: spec.shadows.map((s) => ({ spec: s, ...live(s) })),
  };
  return { d: new LiveDeployment(1, 7, table), models };
}

const noHeaders = () => undefined;
const headers = (h: Record<string, string>) => (name: string) => h[name];

/** Where a sticky key lands in [0, 100), computed independently of the code under test. */
function stickyPoint(key: string): number {
  const n = createHash('sha1').update(key).digest().readUInt32BE(0);
  return (n % 10_000) / 100;
}

/** Picks `n` times and counts the target names. */
function tally(d: LiveDeployment, n: number, header: (name: string) => string | undefined = noHeaders): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const name = d.pick(header).spec.name;
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

describe('LiveDeployment.pick', () => {
  afterEach(() => mock.restoreAll());

  it('follows the weights over many picks', () => {
    const { d } = deployment({ stable: [1, 80], canary: [2, 20] });
    const counts = tally(d, 20_000);
    // Expected 4000 canary picks; σ ≈ 57, so ±300 fails only for broken weighting.
    assert.ok(Math.abs((counts.canary ?? 0) - 4000) <= 300, JSON.stringify(counts));
    assert.equal((counts.stable ?? 0) + (counts.canary ?? 0), 20_000);
  });

  it('cuts the weight bands exactly at the cumulative weights', () => {
    const { d } = deployment({ a: [1, 50], b: [2, 30], c: [3, 20] });
    const at = (r: number) => {
      mock.method(Math, 'random', () => r);
      const picked = d.pick(noHeaders);
      mock.restoreAll();
      return `${picked.spec.name}@${picked.version}`;
    };
    assert.deepEqual([0, 0.4999, 0.5, 0.7999, 0.8, 0.9999].map(at), ['a@1', 'a@1', 'b@2', 'b@2', 'c@3', 'c@3']);
  });

  it('never picks a target of weight 0 by chance', () => {
    const { d } = deployment({ stable: [1, 100], dark: [2, 0] });
    assert.deepEqual(tally(d, 2000), { stable: 2000 });
  });

  it('lets the routing header force a target, even one of weight 0', () => {
    const { d } = deployment({ stable: [1, 100], dark: [2, 0] });
    assert.deepEqual(tally(d, 50, headers({ 'x-capstan-target': 'dark' })), { dark: 50 });
    const custom = deployment({ stable: [1, 100], dark: [2, 0] }, {}, { header: 'X-Variant' }).d;
    assert.equal(custom.pick(headers({ 'x-variant': 'dark' })).spec.name, 'dark');
    assert.equal(custom.pick(headers({ 'x-capstan-target': 'dark' })).spec.name, 'stable', 'the default header no longer applies');
  });

  it('answers MODEL_INPUT_INVALID naming the targets for an unknown forced target', () => {
    const { d } = deployment({ stable: [1, 90], canary: [2, 10] });
    assert.throws(() => d.pick(headers({ 'x-capstan-target': 'blue' })), (err: unknown) => {
      assert.ok(err instanceof AppError);
      assert.equal(err.code, 'MODEL_INPUT_INVALID');
      assert.equal(err.message, "Header x-capstan-target names target 'blue'; deployment dep has stable, canary.");
      return true;
    });
  });

  it('sends one sticky key always to the same target, the one its hash band says', () => {
    const { d } = deployment({ stable: [1, 50], canary: [2, 50] }, {}, { sticky_header: 'X-User' });
    const seen = new Set<string>();
    for (let u = 0; u < 200; u++) {
      const key = `user-${u}`;
      const want = stickyPoint(key) < 50 ? 'stable' : 'canary';
      seen.add(want);
      for (let i = 0; i < 3; i++) assert.equal(d.pick(headers({ 'x-user': key })).spec.name, want, key);
    }
    assert.deepEqual([...seen].sort(), ['canary', 'stable'], 'the keys spread over both bands');
    // The routing header still wins over the sticky key.
    assert.equal(d.pick(headers({ 'x-user': 'user-0', 'x-capstan-target': 'canary' })).spec.name, 'canary');
    // Without the sticky header the pick is random again (both targets show up).
    assert.deepEqual(Object.keys(tally(d, 400)).sort(), ['canary', 'stable']);
  });

  it('hands the share of a target that is not ready, or whose breaker is open, to a ready one', () => {
    const { d, models } = deployment({ stable: [1, 10], canary: [2, 90] });
    models.canary.isReady = false;
    assert.deepEqual(tally(d, 500), { stable: 500 });
    models.canary.isReady = true;
    models.canary.breaker.state = 'open';
    assert.deepEqual(tally(d, 500), { stable: 500 });
    models.canary.breaker.state = 'half-open';
    const counts = tally(d, 500);
    assert.ok((counts.canary ?? 0) > 350, `a half-open breaker still serves: ${JSON.stringify(counts)}`);
  });

  it('hands the share to the heaviest ready target, and keeps the pick when none is ready', () => {
    const { d, models } = deployment({ a: [1, 20], b: [2, 30], c: [3, 50] });
    models.c.isReady = false;
    const counts = tally(d, 2000);
    assert.equal(counts.c, undefined);
    // a keeps its own 20% (≈400, σ ≈ 18); b takes its 30% and c's 50%.
    assert.ok(Math.abs(counts.a - 400) <= 100, JSON.stringify(counts));
    assert.equal(counts.a + counts.b, 2000);
    mock.method(Math, 'random', () => 0.9); // c's band
    assert.equal(d.pick(noHeaders).spec.name, 'b');
    models.b.breaker.state = 'open';
    assert.equal(d.pick(noHeaders).spec.name, 'a');
    models.a.isReady = false;
    assert.equal(d.pick(noHeaders).spec.name, 'c', 'nothing can serve: the weighted choice stands');
  });

  it('pins a version, shadows included, and refuses a version it does not serve', () => {
    const { d, models } = deployment({ stable: [1, 90], canary: [2, 10] }, { mirror: [5, 1] });
    models.stable.isReady = false; // pinning ignores readiness: the caller asked for this version
    const one = d.pick(noHeaders, '1');
    assert.equal(one.spec.name, 'stable');
    assert.equal(one.model, models.stable as unknown as ServedModel);
    assert.equal(d.pick(headers({ 'x-capstan-target': 'canary' }), '1').spec.name, 'stable', 'the version wins over the header');
    assert.equal(d.pick(noHeaders, '2').spec.name, 'canary');
    assert.equal(d.pick(noHeaders, '5').spec.name, 'mirror');
    assert.throws(() => d.pick(noHeaders, '3'), (err: unknown) => {
      assert.ok(err instanceof AppError);
      assert.equal(err.code, 'RESOURCE_DOES_NOT_EXIST');
      assert.equal(err.message, 'Deployment dep does not serve version 3 (it serves 1, 2, 5).');
      return true;
    });
  });
});

describe('LiveDeployment.shadowsFor', () => {
  afterEach(() => mock.restoreAll());

  it('never copies to sample 0, always to sample 1, and never to a shadow that is not ready', () => {
    const { d, models } = deployment({ stable: [1, 100] }, { never: [2, 0], always: [3, 1], down: [4, 1] });
    models.down.isReady = false;
    for (let i = 0; i < 1000; i++) assert.deepEqual(d.shadowsFor().map((s) => s.spec.name), ['always']);
  });

  it('copies a sampled share by Math.random', () => {
    const { d } = deployment({ stable: [1, 100] }, { half: [2, 0.5] });
    let r = 0.4999;
    mock.method(Math, 'random', () => r);
    assert.deepEqual(d.shadowsFor().map((s) => s.version), [2]);
    r = 0.5;
    assert.deepEqual(d.shadowsFor(), []);
    mock.restoreAll();
    let copied = 0;
    for (let i = 0; i < 10_000; i++) copied += d.shadowsFor().length;
    assert.ok(Math.abs(copied - 5000) <= 300, `copied ${copied} of 10000`);
  });

  it('lists every model it routes to or shadows', () => {
    const { d, models } = deployment({ stable: [1, 60], canary: [2, 40] }, { mirror: [3, 1] });
    assert.deepEqual(d.models(), [models.stable, models.canary, models.mirror]);
    assert.equal(d.name, 'dep');
  });
});
