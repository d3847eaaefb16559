import { Redis } from 'ioredis';

/** The Redis every development and CI machine runs; override with CAPSTAN_TEST_REDIS_URL. */
export const REDIS_URL = process.env.CAPSTAN_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Null when Redis answers PING, else why not. */
export async function redisUnreachable(): Promise<string | null> {
  const probe = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null, connectTimeout: 2000 });
  let lastError: Error | undefined;
  probe.on('error', (err: Error) => (lastError = err));
  try {
    await probe.connect();
    await probe.ping();
    return null;
  } catch (err) {
    return `Redis at ${REDIS_URL} is unreachable: ${(lastError ?? (err as Error)).message}`;
  } finally {
    probe.disconnect();
  }
}
