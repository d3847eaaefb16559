import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '../errors/index.js';
import { toAppError } from './errors.js';

describe('server: errors from below become codes from the table', () => {
  it('reads a lost or refused database connection as STORE_UNAVAILABLE (503), not as a server fault', () => {
    for (const err of [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
      Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
      Object.assign(new Error('the database system is starting up'), { code: '57P03' }),
      new Error('Connection terminated unexpectedly'),
      new Error('Client has encountered a connection error and is not queryable'),
      new Error('timeout exceeded when trying to connect'),
    ]) {
      const mapped = toAppError(err);
      assert.equal(mapped.code, 'STORE_UNAVAILABLE', err.message);
      assert.equal(mapped.status, 503);
    }
  });

  it('keeps other failures internal, and app errors as they are', () => {
    assert.equal(toAppError(Object.assign(new Error('Connection terminated unexpectedly'), { code: 'XX000' })).code, 'INTERNAL_ERROR');
    assert.equal(toAppError(new TypeError('x is undefined')).code, 'INTERNAL_ERROR');
    const own = new AppError('POLICY_DENIED', 'no');
    assert.equal(toAppError(own), own);
  });
});
