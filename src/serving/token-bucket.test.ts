import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { REDIS_URL, redisUnreachable } from '../../test/support/redis.js';
import { MemoryTokenBuckets, RedisTokenBuckets, TAKE_SCRIPT, type RedisScriptClient } from './token-bucket.js';


function fakeClock(start = 1_000_000) {
  const clock = { t: start };
  return { clock, now: () => clock.t };
}

describe('MemoryTokenBuckets', () => {
  it('allows a burst, then refuses with the seconds until the next token', async () => {
    const { now } = fakeClock();
    const buckets = new MemoryTokenBuckets({ now });
    for (let i = 0; i < 3; i++) assert.deepEqual(await buckets.take('k', 0.25, 3), { allowed: true, retryAfterSeconds: 0 });
    assert.deepEqual(await buckets.take('k', 0.25, 3), { allowed: false, retryAfterSeconds: 4 });
  });

  it('refills at the rate and reports the remaining wait', async () => {
    const { clock, now } = fakeClock();
    const buckets = new MemoryTokenBuckets({ now });
    await buckets.take('k', 0.25, 1);
    clock.t += 1000;
    assert.deepEqual(await buckets.take('k', 0.25, 1), { allowed: false, retryAfterSeconds: 3 });
    clock.t += 2001;
    // 3.001 s of refill is 0.75025 tokens: 0.99 s left, which rounds up to 1.
    assert.deepEqual(await buckets.take('k', 0.25, 1), { allowed: false, retryAfterSeconds: 1 });
    clock.t += 999;
    assert.deepEqual(await buckets.take('k', 0.25, 1), { allowed: true, retryAfterSeconds: 0 });
    assert.deepEqual(await buckets.take('k', 0.25, 1), { allowed: false, retryAfterSeconds: 4 });
  });

  it('never holds more than the burst after a long idle time', async () => {
    const { clock, now } = fakeClock();
    const buckets = new MemoryTokenBuckets({ now });
    await buckets.take('k', 10, 2);
    clock.t += 3_600_000;
    const results = await Promise.all([1, 2, 3].map(() => buckets.take('k', 10, 2)));
    assert.deepEqual(results.map((r) => r.allowed), [true, true, false]);
    assert.equal(results[2].retryAfterSeconds, 1);
  });

  it('keeps a bucket per key', async () => {
    const { now } = fakeClock();
    const buckets = new MemoryTokenBuckets({ now });
    assert.equal((await buckets.take('token:a', 1, 1)).allowed, true);
    assert.equal((await buckets.take('token:a', 1, 1)).allowed, false);
    assert.equal((await buckets.take('token:b', 1, 1)).allowed, true);
  });

  it('drops the least recently used key beyond maxKeys', async () => {
    const { now } = fakeClock();
    const buckets = new MemoryTokenBuckets({ now, maxKeys: 2 });
    const take = async (key: string) => (await buckets.take(key, 0.001, 1)).allowed;
    assert.equal(await take('a'), true);
    assert.equal(await take('b'), true);
    assert.equal(await take('a'), false); // a is now the most recently used
    assert.equal(await take('c'), true); // evicts b
    assert.equal(buckets.size, 2);
    assert.equal(await take('a'), false); // a was kept
    assert.equal(await take('b'), true); // b starts over with a full bucket
    assert.equal(buckets.size, 2);
  });

  it('adds no tokens when the clock goes backwards', async () => {
    const { clock, now } = fakeClock();
    const buckets = new MemoryTokenBuckets({ now });
    await buckets.take('k', 1, 1);
    clock.t -= 10_000;
    assert.deepEqual(await buckets.take('k', 1, 1), { allowed: false, retryAfterSeconds: 1 });
  });

  it('rejects a non-positive rate or a burst below 1', async () => {
    const buckets = new MemoryTokenBuckets();
    await assert.rejects(buckets.take('k', 0, 1), RangeError);
    await assert.rejects(buckets.take('k', Number.NaN, 1), RangeError);
    await assert.rejects(buckets.take('k', 1, 0.5), RangeError);
  });
});

/** A client whose scripts answer through `answer`, recording the commands sent. */
function scriptedClient(answer: (command: 'evalsha' | 'eval') => Promise<unknown>) {
  const calls: string[] = [];
  const client: RedisScriptClient = {
    evalsha: (..._args) => {
      calls.push('evalsha');
      return answer('evalsha');
    },
    eval: (..._args) => {
      calls.push('eval');
      return answer('eval');
    },
  };
  return { client, calls };
}

describe('RedisTokenBuckets without a working Redis', () => {
  it('answers from memory and reports the error when the port is closed', async () => {
    const client = new Redis({ host: '127.0.0.1', port: 1, maxRetriesPerRequest: 0, enableOfflineQueue: false, lazyConnect: true });
    client.on('error', () => undefined);
    const errors: unknown[] = [];
    const buckets = new RedisTokenBuckets(client, { onError: (err) => errors.push(err) });
    try {
      const results = await Promise.all([1, 2, 3].map(() => buckets.take('deployment:churn', 1, 2)));
      assert.deepEqual(results.map((r) => r.allowed), [true, true, false]);
      assert.equal(errors.length, 1);
      assert.ok(errors[0] instanceof Error);
    } finally {
      client.disconnect();
    }
  });

  it('reports once per outage: again only after Redis answered in between', async () => {
    let up = false;
    const { client } = scriptedClient(async () => {
      if (!up) throw new Error('connect ECONNREFUSED 127.0.0.1:6379');
      return [1, 0];
    });
    const errors: unknown[] = [];
    const buckets = new RedisTokenBuckets(client, { onError: (err) => errors.push(err) });
    for (let i = 0; i < 3; i++) await buckets.take('k', 100, 100);
    assert.equal(errors.length, 1);
    up = true;
    assert.deepEqual(await buckets.take('k', 100, 100), { allowed: true, retryAfterSeconds: 0 });
    up = false;
    await buckets.take('k', 100, 100);
    assert.equal(errors.length, 2);
    assert.equal((errors[1] as Error).message, 'connect ECONNREFUSED 127.0.0.1:6379');
  });

  it('falls back to memory when Redis does not answer within timeoutMs', async () => {
    const { client } = scriptedClient(() => new Promise(() => undefined));
    const errors: unknown[] = [];
    const buckets = new RedisTokenBuckets(client, { timeoutMs: 20, onError: (err) => errors.push(err) });
    assert.deepEqual(await buckets.take('k', 1, 1), { allowed: true, retryAfterSeconds: 0 });
    assert.equal((errors[0] as Error).message, 'Redis did not answer within 20 ms');
  });

  it('sends the script with EVAL when EVALSHA finds it missing', async () => {
    const { client, calls } = scriptedClient(async (command) => {
      if (command === 'evalsha') throw new Error('NOSCRIPT No matching script. Please use EVAL.');
      return [0, 2500];
    });
    const buckets = new RedisTokenBuckets(client, { onError: () => assert.fail('NOSCRIPT is not a failure') });
    assert.deepEqual(await buckets.take('k', 1, 1), { allowed: false, retryAfterSeconds: 3 });
    assert.deepEqual(calls, ['evalsha', 'eval']);
  });
});

describe('RedisTokenBuckets against Redis', () => {
  let unreachable: string | null = null;
  // Two clients, as two replicas would have.
  const clients: Redis[] = [];
  const prefix = `capstan:test:rl:${process.pid}:${randomBytes(4).toString('hex')}:`;

  before(async () => {
    unreachable = await redisUnreachable();
    if (!unreachable) clients.push(new Redis(REDIS_URL), new Redis(REDIS_URL));
  });

  after(async () => {
    if (clients.length) {
      const keys = await clients[0].keys(`${prefix}*`);
      if (keys.length) await clients[0].del(...keys);
    }
    for (const client of clients) client.disconnect();
  });

  /** False (after skipping or failing the test) when there is no Redis to test against. */
  function haveRedis(t: TestContext): boolean {
    if (!unreachable) return true;
    if (process.env.CI) assert.fail(`${unreachable}; CI requires it`);
    t.skip(unreachable);
    return false;
  }

  function replicas(): [RedisTokenBuckets, RedisTokenBuckets] {
    const onError = (err: unknown) => assert.fail(`unexpected Redis error: ${String(err)}`);
    return [new RedisTokenBuckets(clients[0], { prefix, onError }), new RedisTokenBuckets(clients[1], { prefix, onError })];
  }

  it('two replicas sharing a key together allow exactly the burst, then refuse', async (t) => {
    if (!haveRedis(t)) return;
    const [a, b] = replicas();
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).take('token:shared', 0.01, 5)));
    assert.equal(results.filter((r) => r.allowed).length, 5);
    assert.deepEqual(await a.take('token:shared', 0.01, 5), { allowed: false, retryAfterSeconds: 100 });
    assert.deepEqual(await b.take('token:shared', 0.01, 5), { allowed: false, retryAfterSeconds: 100 });
  });

  it('stores tokens and time in a prefixed hash that expires once it would be full again', async (t) => {
    if (!haveRedis(t)) return;
    const [a] = replicas();
    await a.take('deployment:churn', 2, 4);
    const stored = await clients[0].hgetall(`${prefix}deployment:churn`);
    assert.deepEqual(Object.keys(stored).sort(), ['at', 'tokens']);
    assert.equal(Number(stored.tokens), 3);
    const ttl = await clients[0].pttl(`${prefix}deployment:churn`);
    // Refilling 4 tokens at 2/s takes 2000 ms; the key lives one second longer.
    assert.ok(ttl > 2000 && ttl <= 3000, `pttl ${ttl}`);
  });

  it('refills by the Redis server time elapsed since the last take', async (t) => {
    if (!haveRedis(t)) return;
    const [a, b] = replicas();
    const key = `${prefix}token:refill`;
    for (let i = 0; i < 3; i++) assert.equal((await a.take('token:refill', 1, 3)).allowed, true);
    assert.equal((await b.take('token:refill', 1, 3)).allowed, false);
    // Moving the last take two seconds into the past is two seconds of refill, without sleeping.
    const at = Number(await clients[0].hget(key, 'at'));
    await clients[0].hset(key, 'at', String(at - 2000));
    assert.equal((await b.take('token:refill', 1, 3)).allowed, true);
    assert.equal((await a.take('token:refill', 1, 3)).allowed, true);
    assert.deepEqual(await b.take('token:refill', 1, 3), { allowed: false, retryAfterSeconds: 1 });
  });

  it('loads the script with EVAL when the server does not have it cached', async (t) => {
    if (!haveRedis(t)) return;
    const evalshaOnly: RedisScriptClient = {
      evalsha: async () => {
        throw new Error('NOSCRIPT No matching script. Please use EVAL.');
      },
      eval: (script, numKeys, ...args) => clients[0].eval(script, numKeys, ...args),
    };
    const buckets = new RedisTokenBuckets(evalshaOnly, { prefix, onError: (err) => assert.fail(String(err)) });
    assert.deepEqual(await buckets.take('token:eval', 1, 1), { allowed: true, retryAfterSeconds: 0 });
    const [exists] = (await clients[0].script('EXISTS', createHash('sha1').update(TAKE_SCRIPT).digest('hex'))) as number[];
    assert.equal(exists, 1);
  });
});
