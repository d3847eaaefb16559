import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterEach, describe, test } from 'node:test';
import { testDatabases, type TestDatabase } from '../../../test/support/databases.js';
import { insertRows, migrate, MIGRATIONS, openDb, type Db, type Migration } from './index.js';

/**
 * The Db contract (db.ts), run unchanged against every dialect. Each test gets a fresh database;
 * everything opened during a test is closed and dropped after it.
 */
for (const { db: backend, skip } of await testDatabases()) {
  describe(backend.name, { skip }, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    async function freshUri(b: TestDatabase = backend): Promise<string> {
      const { uri, drop } = await b.create();
      cleanups.push(drop);
      return uri;
    }

    function open(uri: string): Db {
      const db = openDb(uri, { poolSize: 5 });
      cleanups.push(() => db.close());
      return db;
    }

    /** A fresh database with table `t (k TEXT PRIMARY KEY, n BIGINT)`. */
    async function freshTable(): Promise<Db> {
      const db = open(await freshUri());
      await db.run(`CREATE TABLE t (k ${db.dialect.types.text} PRIMARY KEY, n ${db.dialect.types.bigint} NOT NULL)`);
      return db;
    }

    const rowsOf = (db: Db) => db.all<{ k: string; n: number }>('SELECT k, n FROM t ORDER BY k');

    test('dialect and ping', async () => {
      const db = open(await freshUri());
      assert.equal(db.dialect.name, backend.name);
      await db.ping();
    });

    test('run reports changes; all, get and runMany read and write rows', async () => {
      const db = await freshTable();
      assert.deepEqual(await db.run('INSERT INTO t (k, n) VALUES (?, ?)', ['a', 1]), { changes: 1 });
      await db.runMany('INSERT INTO t (k, n) VALUES (?, ?)', [['b', 2], ['c', 3], ['d', 4]]);
      assert.deepEqual(await rowsOf(db), [{ k: 'a', n: 1 }, { k: 'b', n: 2 }, { k: 'c', n: 3 }, { k: 'd', n: 4 }]);
      assert.deepEqual(await db.get('SELECT k, n FROM t WHERE k = ?', ['c']), { k: 'c', n: 3 });
      assert.equal(await db.get('SELECT k, n FROM t WHERE k = ?', ['zz']), undefined);
      assert.deepEqual(await db.all('SELECT k FROM t WHERE n > ?', [99]), []);
      assert.deepEqual(await db.run('UPDATE t SET n = n + 10 WHERE n >= ?', [3]), { changes: 2 });
      assert.deepEqual(await db.run('DELETE FROM t WHERE k = ?', ['nope']), { changes: 0 });
      await db.transaction((tx) => tx.runMany('INSERT INTO t (k, n) VALUES (?, ?)', [['e', 5], ['f', 6]]));
      assert.deepEqual(await db.all('SELECT n FROM t ORDER BY k'), [{ n: 1 }, { n: 2 }, { n: 13 }, { n: 14 }, { n: 5 }, { n: 6 }]);
    });

    test('runMany outside a transaction is all or nothing', async () => {
      const db = await freshTable();
      await db.run('INSERT INTO t (k, n) VALUES (?, ?)', ['b', 0]);
      await assert.rejects(db.runMany('INSERT INTO t (k, n) VALUES (?, ?)', [['a', 1], ['b', 2], ['c', 3]]));
      assert.deepEqual(await rowsOf(db), [{ k: 'b', n: 0 }]);
    });

    test('? placeholders bind in order; a ? inside quotes is text, not a placeholder', async () => {
      const db = await freshTable();
      await db.run(`INSERT INTO t (k, n) VALUES ('what?', ?)`, [7]);
      await db.run(`INSERT INTO t (k, n) VALUES ('it''s ? here', ?)`, [8]);
      await db.run('INSERT INTO t (k, n) VALUES (?, ?)', ['?', 9]);
      assert.deepEqual(await rowsOf(db), [{ k: '?', n: 9 }, { k: 'it\'s ? here', n: 8 }, { k: 'what?', n: 7 }]);
      const row = await db.get<{ q: string; k: string; n: number }>(
        `SELECT '?' AS q, k AS "odd?name", n FROM t WHERE k = ? AND n = ? AND k <> 'x?y'`,
        ['what?', 7],
      );
      assert.deepEqual(row, { q: '?', 'odd?name': 'what?', n: 7 });
      assert.deepEqual(await db.all('SELECT k FROM t WHERE n IN (?, ?) ORDER BY n', [9, 7]), [{ k: 'what?' }, { k: '?' }]);
    });

    test('a transaction commits when fn resolves and returns its value', async () => {
      const db = await freshTable();
      const result = await db.transaction(async (tx) => {
        await tx.run('INSERT INTO t (k, n) VALUES (?, ?)', ['a', 1]);
        await tx.run('UPDATE t SET n = ? WHERE k = ?', [2, 'a']);
        return (await tx.get<{ n: number }>('SELECT n FROM t WHERE k = ?', ['a']))!.n;
      });
      assert.equal(result, 2);
      assert.deepEqual(await rowsOf(db), [{ k: 'a', n: 2 }]);
    });

    test('a thrown error rolls back every write of the transaction and is rethrown as is', async () => {
      const db = await freshTable();
      await db.run('INSERT INTO t (k, n) VALUES (?, ?)', ['keep', 1]);
      const boom = new Error('boom');
      await assert.rejects(
        db.transaction(async (tx) => {
          await tx.run('INSERT INTO t (k, n) VALUES (?, ?)', ['a', 1]);
          await tx.run('UPDATE t SET n = ? WHERE k = ?', [100, 'keep']);
          await insertRows(tx, 'INSERT INTO t (k, n)', 2, [['b', 2], ['c', 3]]);
          await tx.run('DELETE FROM t WHERE k = ?', ['keep']);
          throw boom;
        }),
        (err) => err === boom,
      );
      // A failing statement rolls back too, and the database stays usable afterwards.
      await assert.rejects(
        db.transaction(async (tx) => {
          await tx.run('INSERT INTO t (k, n) VALUES (?, ?)', ['d', 4]);
          await tx.run('INSERT INTO t (k, n) VALUES (?, ?)', ['keep', 5]);
        }),
      );
      assert.deepEqual(await rowsOf(db), [{ k: 'keep', n: 1 }]);
      await db.transaction((tx) => tx.run('INSERT INTO t (k, n) VALUES (?, ?)', ['after', 2]));
      assert.deepEqual(await rowsOf(db), [{ k: 'after', n: 2 }, { k: 'keep', n: 1 }]);
    });

    test('concurrent read-modify-write transactions serialise: 20 increments end at 20', async () => {
      const db = await freshTable();
      await db.run('INSERT INTO t (k, n) VALUES (?, ?)', ['counter', 0]);
      await Promise.all(
        Array.from({ length: 20 }, () =>
          db.transaction(async (tx) => {
            // Takes the row lock before reading: PostgreSQL runs READ COMMITTED, where a plain
            // SELECT would not stop two transactions from reading the same value.
            await tx.run('UPDATE t SET n = n WHERE k = ?', ['counter']);
            const { n } = (await tx.get<{ n: number }>('SELECT n FROM t WHERE k = ?', ['counter']))!;
            await nextTurn();
            await tx.run('UPDATE t SET n = ? WHERE k = ?', [n + 1, 'counter']);
          }),
        ),
      );
      assert.deepEqual(await db.get('SELECT n FROM t WHERE k = ?', ['counter']), { n: 20 });
    });

    test('statements issued outside an open transaction do not land inside it', async () => {
      const db = await freshTable();
      let opened!: () => void;
      const isOpen = new Promise<void>((resolve) => (opened = resolve));
      let abort!: (err: Error) => void;
      const aborted = new Promise<never>((_, reject) => (abort = reject));
      const boom = new Error('rollback');
      const tx = db.transaction(async (t) => {
        await t.run('INSERT INTO t (k, n) VALUES (?, ?)', ['inside', 1]);
        opened();
        await aborted;
      });
      await isOpen;
      const outsideWrite = db.run('INSERT INTO t (k, n) VALUES (?, ?)', ['outside', 2]);
      const outsideRead = db.all('SELECT k FROM t');
      for (let i = 0; i < 5; i++) await nextTurn();
      abort(boom);
      await assert.rejects(tx, (err) => err === boom);
      assert.deepEqual(await outsideWrite, { changes: 1 });
      // Uncommitted (and then rolled back) rows are never visible outside.
      assert.ok(!(await outsideRead).some((r) => r.k === 'inside'));
      assert.deepEqual(await rowsOf(db), [{ k: 'outside', n: 2 }]);
    });

    test('insertRows writes more than one chunk of rows and appends the suffix to every chunk', async () => {
      const db = await freshTable();
      await db.runMany('INSERT INTO t (k, n) VALUES (?, ?)', [['k0005', -1], ['k0250', -1], ['k0449', -1]]);
      const rows = Array.from({ length: 450 }, (_, i) => [`k${String(i).padStart(4, '0')}`, i]);
      await db.transaction((tx) => insertRows(tx, 'INSERT INTO t (k, n)', 2, rows, 'ON CONFLICT (k) DO NOTHING'));
      const stored = await rowsOf(db);
      assert.equal(stored.length, 450);
      assert.deepEqual(stored.filter((r) => r.n === -1).map((r) => r.k), ['k0005', 'k0250', 'k0449']);
      assert.deepEqual(stored.slice(0, 5).map((r) => r.n), [0, 1, 2, 3, 4]);
      assert.deepEqual(stored.at(-2), { k: 'k0448', n: 448 });

      await db.transaction((tx) =>
        insertRows(tx, 'INSERT INTO t (k, n)', 2, rows.map(([k, n]) => [k, Number(n) * 2]), 'ON CONFLICT (k) DO UPDATE SET n = excluded.n'),
      );
      const updated = await rowsOf(db);
      assert.equal(updated.length, 450);
      assert.ok(updated.every((r, i) => r.n === i * 2), 'every row updated through the suffix');
      const total = await db.get<{ s: number }>('SELECT SUM(n) AS s FROM t');
      assert.equal(Number(total!.s), 449 * 450);
    });

    test('insertRows inside a failing transaction writes nothing', async () => {
      const db = await freshTable();
      const rows = Array.from({ length: 300 }, (_, i) => [`r${i}`, i]);
      rows.push(['r5', 0]); // duplicate key in the second chunk
      await assert.rejects(db.transaction((tx) => insertRows(tx, 'INSERT INTO t (k, n)', 2, rows)));
      assert.deepEqual(await rowsOf(db), []);
    });

    test('doubles: ±Infinity round-trip and order, NaN as the store keeps it (is_nan flag, value 0)', async () => {
      const db = open(await freshUri());
      const d = db.dialect.types;
      await db.run(`CREATE TABLE m (k ${d.text} PRIMARY KEY, is_nan SMALLINT NOT NULL, value ${d.double} NOT NULL)`);
      const values: [string, number][] = [['a', Infinity], ['b', -Infinity], ['c', 1.7976931348623157e308], ['d', -0.5], ['e', 5e-324], ['f', 0.1 + 0.2]];
      await db.transaction((tx) => insertRows(tx, 'INSERT INTO m (k, is_nan, value)', 3, [...values.map(([k, v]) => [k, 0, v]), ['g', 1, 0]]));
      const rows = await db.all<{ k: string; is_nan: number; value: number }>('SELECT k, is_nan, value FROM m ORDER BY value, k');
      assert.deepEqual(rows.map((r) => [r.k, r.value]), [['b', -Infinity], ['d', -0.5], ['g', 0], ['e', 5e-324], ['f', 0.30000000000000004], ['c', 1.7976931348623157e308], ['a', Infinity]]);
      assert.deepEqual(rows.map((r) => r.is_nan), [0, 0, 1, 0, 0, 0, 0]);
      assert.deepEqual(await db.all('SELECT k FROM m WHERE value > ?', [1.7976931348623157e308]), [{ k: 'a' }]);
      assert.deepEqual(await db.all('SELECT k FROM m WHERE value = ?', [-Infinity]), [{ k: 'b' }]);
      const tuple = await db.all('SELECT k FROM m WHERE (is_nan, value) > (?, ?) ORDER BY k', [0, 1e308]);
      assert.deepEqual(tuple, [{ k: 'a' }, { k: 'c' }, { k: 'g' }]);
    });

    test('BIGINT columns and integer aggregates come back as JS numbers', async () => {
      const db = await freshTable();
      const big = [1_700_000_000_123, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 0];
      await db.runMany('INSERT INTO t (k, n) VALUES (?, ?)', big.map((n, i) => [`b${i}`, n]));
      const rows = await rowsOf(db);
      assert.deepEqual(rows.map((r) => r.n), big);
      for (const r of rows) assert.equal(typeof r.n, 'number');
      const agg = await db.get<{ c: number; m: number }>('SELECT COUNT(*) AS c, MAX(n) AS m FROM t');
      assert.deepEqual(agg, { c: 4, m: Number.MAX_SAFE_INTEGER });
    });

    test('migrate applies every migration once and is idempotent', async () => {
      const db = open(await freshUri());
      const versions = MIGRATIONS.map((m) => m.version);
      assert.deepEqual(await migrate(db), { applied: versions, current: versions.at(-1) });
      assert.deepEqual(await migrate(db), { applied: [], current: versions.at(-1) });
      const rows = await db.all<{ version: number; name: string }>('SELECT version, name FROM schema_migrations ORDER BY version');
      assert.deepEqual(rows, MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
      assert.deepEqual(await db.all('SELECT COUNT(*) AS c FROM runs'), [{ c: 0 }]);
    });

    test('concurrent migrate() through two Db objects on one database applies each migration exactly once', async () => {
      const uri = await freshUri();
      const extra: Migration = {
        version: MIGRATIONS.at(-1)!.version + 1,
        name: 'contract-extra',
        statements: (d) => [`CREATE TABLE contract_extra (id ${d.types.id}, note ${d.types.text})`, `INSERT INTO contract_extra (note) VALUES ('once')`],
      };
      const migrations = [...MIGRATIONS, extra];
      const [a, b] = [open(uri), open(uri)];
      const results = await Promise.all([migrate(a, migrations), migrate(b, migrations), migrate(a, migrations)]);
      const applied = results.flatMap((r) => r.applied).sort((x, y) => x - y);
      assert.deepEqual(applied, migrations.map((m) => m.version));
      for (const r of results) assert.equal(r.current, extra.version);
      assert.deepEqual(await b.all('SELECT note FROM contract_extra'), [{ note: 'once' }]);
      assert.deepEqual(await a.all('SELECT COUNT(*) AS c FROM schema_migrations'), [{ c: migrations.length }]);
    });
  });
}
