// The audit log's hash chain: verifyChain over in-memory events, then AuditLog on both SQL backends,
// with every kind of tampering an operator with database access could try.
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testDatabases, type TestDatabase } from '../../test/support/databases.js';
import { migrate, openDb, type Db } from '../store/sql/index.js';
import { GENESIS_HASH, hashEvent, verifyChain, type AuditContent, type AuditEvent, type ChainVerdict } from './audit-chain.js';
import { AuditLog, type AuditRecord } from './audit.js';

/** Every stored column but seq: what a reordering swaps between two rows. */
const CONTENT_COLUMNS = ['time', 'actor', 'token_id', 'action', 'resource', 'project', 'outcome', 'summary', 'request_id', 'client_ip', 'prev_hash', 'hash'] as const;

function recordOf(i: number): AuditRecord {
  return {
    actor: `user-${i}`,
    token_id: i % 2 ? String(100 + i) : null,
    action: `POST /api/2.0/mlflow/runs/log-batch`,
    resource: `run:${'a'.repeat(31)}${i % 10}`,
    project: i % 3 ? 'vision' : null,
    outcome: i % 5 === 4 ? 'denied' : 'ok',
    summary: JSON.stringify({ input: { run_id: `r${i}`, metrics: { count: i } } }),
    request_id: `req-${i}`,
    client_ip: `10.0.0.${i % 250}`,
  };
}

/** A valid chain of `n` events built the way AuditLog builds them. */
function chainOf(n: number, firstSeq = 1): AuditEvent[] {
  const events: AuditEvent[] = [];
  let prev = GENESIS_HASH;
  for (let i = 0; i < n; i++) {
    const content: AuditContent = { ...recordOf(i + 1), time: 1_700_000_000_000 + i };
    const hash = hashEvent(content, prev);
    events.push({ ...content, seq: firstSeq + i, prev_hash: prev, hash });
    prev = hash;
  }
  return events;
}

function assertBroken(verdict: ChainVerdict, seq: number, problem: 'altered' | 'removed' | 'reordered'): void {
  assert.equal(verdict.ok, false, `expected a broken chain, got ${JSON.stringify(verdict)}`);
  if (verdict.ok) return;
  assert.equal(verdict.seq, seq, JSON.stringify(verdict));
  assert.equal(verdict.problem, problem, JSON.stringify(verdict));
  assert.match(verdict.message, new RegExp(`^event ${seq}: `), JSON.stringify(verdict));
}

describe('hashEvent', () => {
  const content: AuditContent = { ...recordOf(1), time: 1_700_000_000_000 };

  test('is a deterministic sha256 hex digest', () => {
    const h = hashEvent(content, GENESIS_HASH);
    assert.match(h, /^[0-9a-f]{64}$/);
    assert.equal(hashEvent({ ...content }, GENESIS_HASH), h);
    assert.equal(GENESIS_HASH, '0'.repeat(64));
  });

  test('every content field and the previous hash change the hash', () => {
    const base = hashEvent(content, GENESIS_HASH);
    assert.notEqual(hashEvent(content, 'f'.repeat(64)), base, 'prev_hash');
    const changed: Record<keyof AuditContent, unknown> = {
      time: content.time + 1,
      actor: 'someone-else',
      token_id: '999',
      action: 'DELETE /api/capstan/projects/:project',
      resource: 'run:other',
      project: 'other',
      outcome: 'failed',
      summary: '{}',
      request_id: 'req-other',
      client_ip: '192.168.1.1',
    };
    for (const [field, value] of Object.entries(changed)) {
      assert.notEqual(hashEvent({ ...content, [field]: value }, GENESIS_HASH), base, field);
    }
    // null and the text "null" are different values.
    assert.notEqual(hashEvent({ ...content, token_id: null }, GENESIS_HASH), hashEvent({ ...content, token_id: 'null' }, GENESIS_HASH));
  });

  test('field boundaries are unambiguous', () => {
    const a = hashEvent({ ...content, actor: 'ab', action: 'c' }, GENESIS_HASH);
    const b = hashEvent({ ...content, actor: 'a', action: 'bc' }, GENESIS_HASH);
    assert.notEqual(a, b);
  });

  test('seq is not part of the hash (a reordering shows as a broken link, not an alteration)', () => {
    const [event] = chainOf(1);
    assert.equal(hashEvent({ ...event!, seq: 42 } as AuditEvent, event!.prev_hash), event!.hash);
  });
});

describe('verifyChain over in-memory events', () => {
  test('an empty log is valid, with the genesis hash as head', async () => {
    assert.deepEqual(await verifyChain([]), { ok: true, events: 0, headSeq: 0, headHash: GENESIS_HASH });
  });

  test('a valid chain reports its length and head, from an array or an async iterable', async () => {
    const events = chainOf(6);
    const expected = { ok: true, events: 6, headSeq: 6, headHash: events[5]!.hash };
    assert.deepEqual(await verifyChain(events), expected);
    async function* stream() {
      for (const e of events) yield e;
    }
    assert.deepEqual(await verifyChain(stream()), expected);
  });

  test('altered content, an altered hash and an altered prev_hash are each "altered" at that event', async () => {
    for (const mutate of [
      (e: AuditEvent) => (e.summary = e.summary.replace('r3', 'r4')),
      (e: AuditEvent) => (e.actor = 'mallory'),
      (e: AuditEvent) => (e.time += 1),
      (e: AuditEvent) => (e.outcome = e.outcome === 'failed' ? 'ok' : 'failed'),
      (e: AuditEvent) => (e.hash = e.hash.replace(/^./, (c) => (c === 'a' ? 'b' : 'a'))),
      (e: AuditEvent) => (e.prev_hash = 'f'.repeat(64)),
    ]) {
      const events = chainOf(5);
      mutate(events[2]!);
      const verdict = await verifyChain(events);
      assertBroken(verdict, 3, 'altered');
      assert.equal((verdict as { events: number }).events, 3, 'counts the events read up to the break');
    }
  });

  test('a missing event is "removed" at the event after the gap', async () => {
    const events = chainOf(6);
    events.splice(3, 1);
    assertBroken(await verifyChain(events), 5, 'removed');
  });

  test('a missing event hidden by renumbering is still "removed" (the link is broken)', async () => {
    const events = chainOf(6);
    events.splice(3, 1);
    events.forEach((e, i) => (e.seq = i + 1));
    assertBroken(await verifyChain(events), 4, 'removed');
  });

  test('the first event must follow the genesis hash', async () => {
    const events = chainOf(3);
    const first = events[0]!;
    first.prev_hash = 'e'.repeat(64);
    first.hash = hashEvent(first, first.prev_hash);
    events[1]!.prev_hash = first.hash;
    events[1]!.hash = hashEvent(events[1]!, events[1]!.prev_hash);
    events[2]!.prev_hash = events[1]!.hash;
    events[2]!.hash = hashEvent(events[2]!, events[2]!.prev_hash);
    assertBroken(await verifyChain(events), 1, 'removed');
  });

  test('swapped events are "reordered" when the link points at a stored event, "removed" otherwise', async () => {
    const events = chainOf(6);
    const stored = new Set(events.map((e) => e.hash));
    const swapped = events.map((e) => ({ ...e }));
    const [a, b] = [swapped[2]!, swapped[3]!];
    swapped[2] = { ...b, seq: a.seq };
    swapped[3] = { ...a, seq: b.seq };
    assertBroken(await verifyChain(swapped, async (h) => stored.has(h)), 3, 'reordered');
    assertBroken(await verifyChain(swapped), 3, 'removed');
  });

  test('an altered event whose hash was recomputed breaks the link of the next event', async () => {
    const events = chainOf(5);
    const e = events[1]!;
    e.actor = 'mallory';
    e.hash = hashEvent(e, e.prev_hash);
    const stored = new Set(events.map((x) => x.hash));
    assertBroken(await verifyChain(events, async (h) => stored.has(h)), 3, 'removed');
  });

  test('tail truncation is not detectable by the chain alone: only the head changes', async () => {
    const events = chainOf(6);
    const full = await verifyChain(events);
    const cut = await verifyChain(events.slice(0, 4));
    assert.deepEqual(cut, { ok: true, events: 4, headSeq: 4, headHash: events[3]!.hash });
    assert.ok(full.ok && cut.ok && full.headHash !== cut.headHash);
  });
});

/** The contract over both SQL backends; each test gets a fresh, migrated database. */
for (const { db: backend, skip } of await testDatabases()) {
  describe(`AuditLog on ${backend.name}`, { skip }, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    async function freshDb(b: TestDatabase = backend): Promise<{ db: Db; uri: string }> {
      const { uri, drop } = await b.create();
      cleanups.push(drop);
      const db = openDb(uri, { poolSize: 8 });
      cleanups.push(() => db.close());
      await migrate(db);
      return { db, uri };
    }

    /** A fresh log with `n` events appended one after another. */
    async function freshChain(n: number): Promise<{ db: Db; log: AuditLog; rows: AuditEvent[] }> {
      const { db } = await freshDb();
      const log = new AuditLog(db);
      for (let i = 1; i <= n; i++) await log.appendAlone(recordOf(i));
      return { db, log, rows: await rowsOf(log) };
    }

    async function rowsOf(log: AuditLog): Promise<AuditEvent[]> {
      const out: AuditEvent[] = [];
      for await (const e of log.events()) out.push(e);
      return out;
    }

    test('appended events form a chain that verifies, from the genesis hash on', async () => {
      const N = 12;
      const { log, rows } = await freshChain(N);
      assert.equal(rows.length, N);
      rows.forEach((e, i) => {
        assert.equal(e.seq, i + 1);
        assert.equal(e.prev_hash, i === 0 ? GENESIS_HASH : rows[i - 1]!.hash);
        assert.equal(e.hash, hashEvent(e, e.prev_hash));
        assert.equal(typeof e.time, 'number');
        const { time: _time, seq: _seq, prev_hash: _prev, hash: _hash, ...record } = e;
        assert.deepEqual(record, recordOf(i + 1));
      });
      assert.deepEqual(await log.verify(), { ok: true, events: N, headSeq: N, headHash: rows[N - 1]!.hash });
    });

    test('an empty log verifies', async () => {
      const { db } = await freshDb();
      assert.deepEqual(await new AuditLog(db).verify(), { ok: true, events: 0, headSeq: 0, headHash: GENESIS_HASH });
    });

    test('events, afterSeq and sinceMs read in seq order', async () => {
      const { db } = await freshDb();
      let clock = 1_000;
      const log = new AuditLog(db, () => clock);
      for (let i = 1; i <= 5; i++) {
        clock = i * 1_000;
        await log.appendAlone(recordOf(i));
      }
      const seqs = async (opts: { sinceMs?: number; afterSeq?: number }) => {
        const out: number[] = [];
        for await (const e of log.events(opts)) out.push(e.seq);
        return out;
      };
      assert.deepEqual(await seqs({}), [1, 2, 3, 4, 5]);
      assert.deepEqual(await seqs({ afterSeq: 3 }), [4, 5]);
      assert.deepEqual(await seqs({ sinceMs: 2_500 }), [3, 4, 5]);
    });

    test('an untouched log verifies, and verifying twice gives the same answer', async () => {
      const { log, rows } = await freshChain(5);
      const first = await log.verify();
      assert.deepEqual(first, { ok: true, events: 5, headSeq: 5, headHash: rows[4]!.hash });
      assert.deepEqual(await log.verify(), first);
    });

    const K = 4;
    const N = 7;

    test('a flipped character in one summary is "altered" at that event', async () => {
      const { db, log, rows } = await freshChain(N);
      const summary = rows[K - 1]!.summary;
      const i = summary.indexOf(`r${K}`) + 1;
      const flipped = summary.slice(0, i) + (summary[i] === '9' ? '8' : '9') + summary.slice(i + 1);
      assert.notEqual(flipped, summary);
      assert.equal(flipped.length, summary.length);
      assert.deepEqual(await db.run('UPDATE audit_events SET summary = ? WHERE seq = ?', [flipped, K]), { changes: 1 });
      const verdict = await log.verify();
      assertBroken(verdict, K, 'altered');
      assert.equal((verdict as { events: number }).events, K);
    });

    test('an altered actor is "altered" at that event', async () => {
      const { db, log } = await freshChain(N);
      await db.run('UPDATE audit_events SET actor = ? WHERE seq = ?', ['somebody-else', K]);
      assertBroken(await log.verify(), K, 'altered');
    });

    test('an altered time is "altered" at that event', async () => {
      const { db, log } = await freshChain(N);
      await db.run('UPDATE audit_events SET time = time + 1 WHERE seq = ?', [K]);
      assertBroken(await log.verify(), K, 'altered');
    });

    test('every other stored column, altered, is "altered" at that event', async () => {
      const { db, log } = await freshChain(N);
      const originals = await db.get<Record<string, unknown>>('SELECT * FROM audit_events WHERE seq = ?', [K]);
      const changes: [string, string | null][] = [
        ['token_id', '31337'],
        ['action', 'GET /api/capstan/whoami'],
        ['resource', 'run:forged'],
        ['project', 'elsewhere'],
        ['outcome', 'ok'],
        ['request_id', 'req-forged'],
        ['client_ip', '203.0.113.9'],
        ['prev_hash', 'f'.repeat(64)],
        ['hash', '1'.repeat(64)],
      ];
      for (const [column, value] of changes) {
        const original = originals![column] as string | null;
        const forged = value === original ? `${value}x` : value;
        await db.run(`UPDATE audit_events SET ${column} = ? WHERE seq = ?`, [forged, K]);
        assertBroken(await log.verify(), K, 'altered');
        await db.run(`UPDATE audit_events SET ${column} = ? WHERE seq = ?`, [original, K]);
        assert.equal((await log.verify()).ok, true, `restoring ${column} restores the chain`);
      }
    });

    test('a deleted middle event is "removed" at the event after it', async () => {
      const { db, log } = await freshChain(N);
      assert.deepEqual(await db.run('DELETE FROM audit_events WHERE seq = ?', [K]), { changes: 1 });
      const verdict = await log.verify();
      assertBroken(verdict, K + 1, 'removed');
      assert.match((verdict as { message: string }).message, new RegExp(`\\b${K}\\b`), 'the message names the missing seq');
    });

    test('a deleted event whose gap is closed by renumbering is still "removed"', async () => {
      const { db, log } = await freshChain(N);
      await db.run('DELETE FROM audit_events WHERE seq = ?', [K]);
      for (let s = K + 1; s <= N; s++) await db.run('UPDATE audit_events SET seq = ? WHERE seq = ?', [s - 1, s]);
      assertBroken(await log.verify(), K, 'removed');
    });

    test('a deleted first event is "removed" at the event after it', async () => {
      // verify() checks the whole log, which starts at seq 1 after the genesis hash: losing the
      // oldest events must show, just like losing any other.
      const { db, log } = await freshChain(N);
      await db.run('DELETE FROM audit_events WHERE seq = ?', [1]);
      assertBroken(await log.verify(), 2, 'removed');
    });

    test('two events with their contents swapped are "reordered" at the first of them', async () => {
      const { db, log } = await freshChain(N);
      const cols = CONTENT_COLUMNS.join(', ');
      const a = await db.get<Record<string, any>>(`SELECT ${cols} FROM audit_events WHERE seq = ?`, [K]);
      const b = await db.get<Record<string, any>>(`SELECT ${cols} FROM audit_events WHERE seq = ?`, [K + 1]);
      const set = CONTENT_COLUMNS.map((c) => `${c} = ?`).join(', ');
      await db.transaction(async (tx) => {
        await tx.run(`UPDATE audit_events SET ${set} WHERE seq = ?`, [...CONTENT_COLUMNS.map((c) => b![c]), K]);
        await tx.run(`UPDATE audit_events SET ${set} WHERE seq = ?`, [...CONTENT_COLUMNS.map((c) => a![c]), K + 1]);
      });
      assert.equal((await db.get<{ actor: string }>('SELECT actor FROM audit_events WHERE seq = ?', [K]))!.actor, recordOf(K + 1).actor);
      assertBroken(await log.verify(), K, 'reordered');
    });

    test('an altered event with a recomputed hash breaks the next event\'s link', async () => {
      const { db, log, rows } = await freshChain(N);
      const forged = { ...rows[K - 1]!, actor: 'mallory' };
      await db.run('UPDATE audit_events SET actor = ?, hash = ? WHERE seq = ?', [forged.actor, hashEvent(forged, forged.prev_hash), K]);
      assertBroken(await log.verify(), K + 1, 'removed');
    });

    test('tail truncation leaves a valid chain with a different head (compare the head with a copy kept elsewhere)', async () => {
      const { db, log, rows } = await freshChain(N);
      const before = await log.verify();
      assert.deepEqual(before, { ok: true, events: N, headSeq: N, headHash: rows[N - 1]!.hash });
      await db.run('DELETE FROM audit_events WHERE seq >= ?', [N - 1]);
      const after = await log.verify();
      assert.deepEqual(after, { ok: true, events: N - 2, headSeq: N - 2, headHash: rows[N - 3]!.hash });
      assert.notEqual(after.ok && after.headHash, before.ok && before.headHash);
    });

    test('appends after a truncation continue from the surviving head', async () => {
      const { db, log, rows } = await freshChain(4);
      await db.run('DELETE FROM audit_events WHERE seq = ?', [4]);
      await log.appendAlone(recordOf(99));
      const now = await rowsOf(log);
      assert.deepEqual(now.map((e) => e.seq), [1, 2, 3, 4]);
      assert.equal(now[3]!.prev_hash, rows[2]!.hash);
      assert.equal((await log.verify()).ok, true);
    });

    test('an event appended in a transaction that rolls back leaves no trace', async () => {
      const { db, log } = await freshChain(3);
      await assert.rejects(
        db.transaction(async (tx) => {
          await log.append(tx, recordOf(50));
          throw new Error('the change failed');
        }),
        /the change failed/,
      );
      await log.appendAlone(recordOf(51));
      const rows = await rowsOf(log);
      assert.deepEqual(rows.map((e) => e.actor), ['user-1', 'user-2', 'user-3', 'user-51']);
      assert.deepEqual(await log.verify(), { ok: true, events: 4, headSeq: 4, headHash: rows[3]!.hash });
    });

    test('50 concurrent appends form one unbroken chain', async () => {
      const { log } = await freshChain(0);
      const n = 50;
      await Promise.all(Array.from({ length: n }, (_, i) => log.appendAlone(recordOf(i + 1))));
      const rows = await rowsOf(log);
      assert.deepEqual(rows.map((e) => e.seq), Array.from({ length: n }, (_, i) => i + 1));
      assert.deepEqual(new Set(rows.map((e) => e.request_id)), new Set(Array.from({ length: n }, (_, i) => `req-${i + 1}`)));
      assert.deepEqual(await log.verify(), { ok: true, events: n, headSeq: n, headHash: rows[n - 1]!.hash });
    });

    test('concurrent appends through two connections (two replicas) form one unbroken chain', async () => {
      const { uri } = await freshDb();
      const dbs = [openDb(uri, { poolSize: 8 }), openDb(uri, { poolSize: 8 })];
      for (const d of dbs) cleanups.push(() => d.close());
      const logs = dbs.map((d) => new AuditLog(d));
      const n = 60;
      await Promise.all(Array.from({ length: n }, (_, i) => logs[i % 2]!.appendAlone(recordOf(i + 1))));
      const rows = await rowsOf(logs[0]!);
      assert.equal(rows.length, n);
      assert.equal(new Set(rows.map((e) => e.request_id)).size, n);
      assert.deepEqual(await logs[1]!.verify(), { ok: true, events: n, headSeq: n, headHash: rows[n - 1]!.hash });
    });
  });
}
