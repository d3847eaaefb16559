// Audit events as the HTTP layer writes them, with authentication on, on both SQL backends: which
// requests leave an event and what it holds, refusals, the audit routes, and tamper detection through
// the verify route.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { AuditEvent } from '../../src/access/index.js';
import { testDatabases } from '../support/databases.js';
import { assertError, assertOk, basicAuth, call, type Answer, type Method } from '../support/inject.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';

const API = '/api/2.0/mlflow';
const CAPSTAN = '/api/capstan';
const OWNER = 'root';
const OWNER_PASSWORD = 'root-password-123';
const PROJECT = 'vision';
const VIEWER = 'vic';
const VIEWER_PASSWORD = 'vic-password-12345';
const PROJECT_ADMIN = 'ada';
const PROJECT_ADMIN_PASSWORD = 'ada-password-12345';
const LOCAL_IP = '127.0.0.1';


for (const { db: backend, skip } of await testDatabases()) {
  describe(`audit events over HTTP on ${backend.name}`, { skip }, () => {
    let tp: TestPlatform;
    let app: FastifyInstance;
    let dropDb: (() => Promise<void>) | undefined;
    let ownerToken = '';
    let ownerTokenId = '';
    let expId = '';
    let runId = '';

    const asOwner = (project: string | null = PROJECT): Record<string, string> => ({
      authorization: `Bearer ${ownerToken}`,
      ...(project ? { 'x-capstan-project': project } : {}),
    });
    const asViewer = (): Record<string, string> => ({ authorization: basicAuth(VIEWER, VIEWER_PASSWORD), 'x-capstan-project': PROJECT });
    const asProjectAdmin = (): Record<string, string> => ({ authorization: basicAuth(PROJECT_ADMIN, PROJECT_ADMIN_PASSWORD), 'x-capstan-project': PROJECT });

    const send = (method: Method, url: string, payload: unknown, headers: Record<string, string>) => call(app, method, url, payload, headers);

    async function lastSeq(): Promise<number> {
      const row = await tp.platform.db.get<{ n: number | string | null }>('SELECT MAX(seq) AS n FROM audit_events');
      return Number(row?.n ?? 0);
    }

    async function eventsAfter(seq: number): Promise<AuditEvent[]> {
      const out: AuditEvent[] = [];
      for await (const e of tp.platform.audit.events({ afterSeq: seq })) out.push(e);
      return out;
    }

    /** Runs `fn` and returns the audit events it left. */
    async function eventsOf(fn: () => Promise<unknown>): Promise<AuditEvent[]> {
      const before = await lastSeq();
      await fn();
      return eventsAfter(before);
    }

    /** The one event a request left; fails when it left none or several. */
    async function onlyEventOf(fn: () => Promise<Answer>): Promise<{ res: Answer; event: AuditEvent }> {
      let res!: Answer;
      const events = await eventsOf(async () => (res = await fn()));
      assert.equal(events.length, 1, `expected exactly one event for ${res.status} ${res.text.slice(0, 200)}, got ${JSON.stringify(events, null, 1)}`);
      return { res, event: events[0]! };
    }

    async function assertChainOk(): Promise<void> {
      const verdict = await tp.platform.audit.verify();
      assert.equal(verdict.ok, true, JSON.stringify(verdict));
    }

    before(async () => {
      const db = await backend.create();
      dropDb = db.drop;
      tp = await startTestPlatform({
        'auth.mode': 'on',
        'auth.bootstrap_owner': OWNER,
        'auth.bootstrap_password': OWNER_PASSWORD,
        'server.rate_limit_rps': 0,
        'store.database_uri': db.uri,
      });
      app = tp.app;
      ownerToken = assertOk(await call(app, 'POST', `${CAPSTAN}/auth/login`, { username: OWNER, password: OWNER_PASSWORD })).token;
      assert.match(ownerToken, /^capstan_/);
      ownerTokenId = assertOk(await call(app, 'GET', `${CAPSTAN}/auth/whoami`, undefined, asOwner(null))).token_id;
      assert.ok(ownerTokenId, 'a session token has an id');
      assertOk(await send('POST', `${CAPSTAN}/projects`, { name: PROJECT }, asOwner(null)));
      for (const [name, password, role] of [[VIEWER, VIEWER_PASSWORD, 'viewer'], [PROJECT_ADMIN, PROJECT_ADMIN_PASSWORD, 'admin']] as const) {
        assertOk(await send('POST', `${CAPSTAN}/accounts`, { name, kind: 'user', password }, asOwner(null)));
        assertOk(await send('PUT', `${CAPSTAN}/projects/${PROJECT}/members/${name}`, { role }, asOwner(null)));
      }
    });
    after(async () => {
      await tp?.close();
      await dropDb?.();
    });

    it('the set-up requests left one ok event each and a valid chain', async () => {
      const all = await eventsAfter(0);
      // login, project, 2 × (account, member)
      assert.deepEqual(all.map((e) => e.action), [
        `POST ${CAPSTAN}/auth/login`,
        `POST ${CAPSTAN}/projects`,
        `POST ${CAPSTAN}/accounts`,
        `PUT ${CAPSTAN}/projects/:project/members/:account`,
        `POST ${CAPSTAN}/accounts`,
        `PUT ${CAPSTAN}/projects/:project/members/:account`,
      ]);
      assert.ok(all.every((e) => e.outcome === 'ok'));
      assert.deepEqual(all.map((e) => e.seq), [1, 2, 3, 4, 5, 6]);
      // Sensitive fields are masked in the summary.
      for (const e of all) assert.ok(!e.summary.includes(OWNER_PASSWORD) && !e.summary.includes(VIEWER_PASSWORD) && !e.summary.includes(PROJECT_ADMIN_PASSWORD), e.summary);
      assert.equal(JSON.parse(all[0]!.summary).input.password, '[redacted]');
      assert.equal(JSON.parse(all[2]!.summary).input.password, '[redacted]');
      await assertChainOk();
    });

    describe('(a) a state change leaves exactly one ok event describing it', () => {
      it('experiments/create', async () => {
        const { res, event } = await onlyEventOf(() => send('POST', `${API}/experiments/create`, { name: 'audited-exp' }, asOwner()));
        expId = assertOk(res).experiment_id;
        assert.equal(event.outcome, 'ok');
        assert.equal(event.actor, OWNER);
        assert.equal(event.token_id, ownerTokenId);
        assert.equal(event.action, `POST ${API}/experiments/create`);
        assert.equal(event.resource, `project:${PROJECT}`);
        assert.equal(event.project, PROJECT);
        assert.equal(event.request_id, res.headers['x-request-id']);
        assert.equal(event.client_ip, LOCAL_IP);
        assert.equal(JSON.parse(event.summary).input.name, 'audited-exp');
        assert.ok(Math.abs(event.time - Date.now()) < 60_000);
      });

      it('runs/create', async () => {
        const { res, event } = await onlyEventOf(() => send('POST', `${API}/runs/create`, { experiment_id: expId, start_time: 1000 }, asOwner()));
        runId = assertOk(res).run.info.run_id;
        assert.equal(event.action, `POST ${API}/runs/create`);
        assert.equal(event.resource, `experiment:${expId}`);
        assert.equal(event.project, PROJECT);
        assert.equal(event.request_id, res.headers['x-request-id']);
      });

      it('runs/log-batch, with the caller\'s X-Request-Id', async () => {
        const requestId = `audit-${randomBytes(6).toString('hex')}`;
        const batch = {
          run_id: runId,
          metrics: [{ key: 'loss', value: 0.5, timestamp: 1000, step: 0 }, { key: 'loss', value: 0.4, timestamp: 1001, step: 1 }],
          params: [{ key: 'lr', value: '0.1' }],
          tags: [{ key: 'team', value: 'cv' }],
        };
        const { res, event } = await onlyEventOf(() => send('POST', `${API}/runs/log-batch`, batch, { ...asOwner(), 'x-request-id': requestId }));
        assertOk(res);
        assert.equal(res.headers['x-request-id'], requestId);
        assert.equal(event.outcome, 'ok');
        assert.equal(event.actor, OWNER);
        assert.equal(event.token_id, ownerTokenId);
        assert.equal(event.action, `POST ${API}/runs/log-batch`);
        assert.equal(event.resource, `run:${runId}`);
        assert.equal(event.project, PROJECT);
        assert.equal(event.request_id, requestId);
        assert.equal(event.client_ip, LOCAL_IP);
        assert.deepEqual(JSON.parse(event.summary).input, { run_id: runId, metrics: { count: 2 }, params: { count: 1 }, tags: { count: 1 } });
      });

      it('the action names the prefix the request came through', async () => {
        const { res, event } = await onlyEventOf(() =>
          send('POST', `/ajax-api/2.0/mlflow/runs/log-batch`, { run_id: runId, metrics: [{ key: 'acc', value: 0.9, timestamp: 1002, step: 0 }] }, asOwner()),
        );
        assertOk(res);
        assert.equal(event.action, 'POST /ajax-api/2.0/mlflow/runs/log-batch');
        assert.equal(event.resource, `run:${runId}`);
      });

      it('concurrent state changes each leave one event, in one unbroken chain', async () => {
        const n = 20;
        let answers: Answer[] = [];
        const events = await eventsOf(async () => {
          answers = await Promise.all(
            Array.from({ length: n }, (_, i) => send('POST', `${API}/runs/log-metric`, { run_id: runId, key: 'conc', value: i, timestamp: 2000 + i, step: i }, asOwner())),
          );
        });
        for (const a of answers) assertOk(a);
        assert.equal(events.length, n);
        assert.deepEqual(new Set(events.map((e) => e.request_id)), new Set(answers.map((a) => a.headers['x-request-id'])));
        assert.ok(events.every((e) => e.action === `POST ${API}/runs/log-metric` && e.outcome === 'ok'));
        await assertChainOk();
      });
    });

    describe('(b) a rejected change leaves no event and writes nothing', () => {
      it('a batch whose param conflicts with a logged value', async () => {
        const before = assertOk(await send('GET', `${API}/runs/get?run_id=${runId}`, undefined, asOwner())).run.data;
        const batch = {
          run_id: runId,
          params: [{ key: 'fresh', value: '1' }, { key: 'lr', value: '0.2' }],
          metrics: [{ key: 'rejected_metric', value: 1, timestamp: 3000, step: 0 }],
          tags: [{ key: 'rejected_tag', value: 'x' }],
        };
        const events = await eventsOf(async () => assertError(await send('POST', `${API}/runs/log-batch`, batch, asOwner()), 'INVALID_PARAMETER_VALUE'));
        assert.deepEqual(events, []);
        const afterData = assertOk(await send('GET', `${API}/runs/get?run_id=${runId}`, undefined, asOwner())).run.data;
        assert.deepEqual(afterData, before);
        assert.deepEqual(afterData.params, [{ key: 'lr', value: '0.1' }]);
        const rows = await tp.platform.db.all("SELECT key FROM params WHERE key = 'fresh' UNION ALL SELECT key FROM tags WHERE key = 'rejected_tag' UNION ALL SELECT key FROM latest_metrics WHERE key = 'rejected_metric'");
        assert.deepEqual(rows, []);
      });

      it('input the route refuses before its handler runs', async () => {
        const events = await eventsOf(async () => {
          assertError(await send('POST', `${API}/runs/log-batch`, { run_id: runId, metrics: [{ key: 'm', value: 'not-a-number', timestamp: 1 }] }, asOwner()), 'INVALID_PARAMETER_VALUE');
          assertError(await send('POST', `${API}/experiments/create`, {}, asOwner()), 'INVALID_PARAMETER_VALUE');
          assertError(await send('POST', `${API}/experiments/create`, '{"name": ', asOwner()), 'BAD_REQUEST');
        });
        assert.deepEqual(events, []);
      });

      it('a change to something that does not exist, or that already exists', async () => {
        const events = await eventsOf(async () => {
          assertError(await send('POST', `${API}/runs/log-batch`, { run_id: 'f'.repeat(32), params: [{ key: 'a', value: 'b' }] }, asOwner()), 'RESOURCE_DOES_NOT_EXIST');
          assertError(await send('POST', `${API}/experiments/create`, { name: 'audited-exp' }, asOwner()), 'RESOURCE_ALREADY_EXISTS');
        });
        assert.deepEqual(events, []);
        await assertChainOk();
      });
    });

    it('(c) reads, GET or POST, leave no event', async () => {
      const reads: [Method, string, unknown?][] = [
        ['GET', `${API}/experiments/get?experiment_id=${expId}`],
        ['GET', `${API}/experiments/get-by-name?experiment_name=audited-exp`],
        ['GET', `${API}/experiments/search?max_results=10`],
        ['POST', `${API}/experiments/search`, { max_results: 10 }],
        ['POST', `/ajax-api/2.0/mlflow/experiments/search`, { max_results: 10 }],
        ['GET', `${API}/runs/get?run_id=${runId}`],
        ['POST', `${API}/runs/search`, { experiment_ids: [expId], max_results: 10 }],
        ['GET', `${API}/metrics/get-history?run_id=${runId}&metric_key=loss`],
        ['GET', `${CAPSTAN}/auth/whoami`],
        ['GET', `${CAPSTAN}/projects`],
        ['GET', `${CAPSTAN}/projects/${PROJECT}`],
        ['GET', `${CAPSTAN}/tokens`],
        // GETs that need the admin action are reads too.
        ['GET', `${CAPSTAN}/accounts`],
        ['GET', `${CAPSTAN}/projects/${PROJECT}/secrets`],
        ['GET', `${CAPSTAN}/audit/events`],
        ['GET', `${CAPSTAN}/audit/verify`],
        ['GET', '/health'],
      ];
      const events = await eventsOf(async () => {
        for (const [method, url, body] of reads) {
          const res = await send(method, url, body, asOwner());
          assert.equal(res.status, 200, `${method} ${url}: ${res.text.slice(0, 200)}`);
        }
        // A viewer's reads too.
        assertOk(await send('POST', `${API}/experiments/search`, { max_results: 10 }, asViewer()));
        assertOk(await send('GET', `${API}/runs/get?run_id=${runId}`, undefined, asViewer()));
      });
      assert.deepEqual(events, []);
    });

    describe('(d) refusals leave a failed or denied event', () => {
      it('a wrong password over Basic auth: failed, naming the claimed account', async () => {
        const { res, event } = await onlyEventOf(() => send('GET', `${API}/experiments/search?max_results=5`, undefined, { authorization: basicAuth(OWNER, 'not-the-password-1'), 'x-capstan-project': PROJECT }));
        assertError(res, 'UNAUTHENTICATED');
        assert.equal(event.outcome, 'failed');
        assert.equal(event.actor, OWNER);
        assert.equal(event.token_id, null);
        assert.equal(event.action, `GET ${API}/experiments/search`);
        assert.equal(event.request_id, res.headers['x-request-id']);
        assert.equal(event.client_ip, LOCAL_IP);
        assert.equal(JSON.parse(event.summary).error_code, 'UNAUTHENTICATED');
        assert.ok(!event.summary.includes('not-the-password-1'));
      });

      it('an unknown bearer token: failed, as anonymous', async () => {
        const unknown = `capstan_${randomBytes(24).toString('hex')}`;
        const { res, event } = await onlyEventOf(() => send('POST', `${API}/runs/log-batch`, { run_id: runId, tags: [{ key: 'x', value: 'y' }] }, { authorization: `Bearer ${unknown}`, 'x-capstan-project': PROJECT }));
        assertError(res, 'UNAUTHENTICATED');
        assert.equal(event.outcome, 'failed');
        assert.equal(event.actor, 'anonymous');
        assert.equal(event.token_id, null);
        assert.equal(event.action, `POST ${API}/runs/log-batch`);
        assert.equal(event.request_id, res.headers['x-request-id']);
        assert.ok(!event.summary.includes(unknown));
        // Nothing was written by the refused request.
        const tags = assertOk(await send('GET', `${API}/runs/get?run_id=${runId}`, undefined, asOwner())).run.data.tags;
        assert.ok(!tags.some((t: { key: string }) => t.key === 'x'));
      });

      it('a bearer value that is no token at all, and no credentials: failed', async () => {
        for (const headers of [{ authorization: 'Bearer not-a-capstan-token' }, {} as Record<string, string>]) {
          const { res, event } = await onlyEventOf(() => send('GET', `${CAPSTAN}/auth/whoami`, undefined, headers));
          assertError(res, 'UNAUTHENTICATED');
          assert.equal(event.outcome, 'failed');
          assert.equal(event.action, `GET ${CAPSTAN}/auth/whoami`);
          assert.equal(event.request_id, res.headers['x-request-id']);
        }
      });

      it('a failed sign-in through the login route: one failed event and no ok event', async () => {
        let res!: Answer;
        const events = await eventsOf(async () => (res = await call(app, 'POST', `${CAPSTAN}/auth/login`, { username: VIEWER, password: 'wrong-password-123' })));
        assertError(res, 'UNAUTHENTICATED');
        const mine = events.filter((e) => e.request_id === res.headers['x-request-id']);
        assert.deepEqual(mine.map((e) => e.outcome), ['failed'], `events of the refused sign-in: ${JSON.stringify(mine, null, 1)}`);
        assert.equal(events.length, 1);
        assert.equal(mine[0]!.action, `POST ${CAPSTAN}/auth/login`);
        assert.ok(!mine[0]!.summary.includes('wrong-password-123'));
      });

      it('a successful sign-in: one ok event, the password masked', async () => {
        const { res, event } = await onlyEventOf(() => call(app, 'POST', `${CAPSTAN}/auth/login`, { username: VIEWER, password: VIEWER_PASSWORD }));
        assertOk(res);
        assert.equal(event.outcome, 'ok');
        assert.equal(event.action, `POST ${CAPSTAN}/auth/login`);
        assert.equal(JSON.parse(event.summary).input.password, '[redacted]');
        assert.ok(!event.summary.includes(VIEWER_PASSWORD));
      });

      it('a viewer creating an experiment: denied, and nothing is created', async () => {
        const { res, event } = await onlyEventOf(() => send('POST', `${API}/experiments/create`, { name: 'viewer-exp' }, asViewer()));
        assertError(res, 'PERMISSION_DENIED');
        assert.equal(event.outcome, 'denied');
        assert.equal(event.actor, VIEWER);
        assert.equal(event.token_id, null);
        assert.equal(event.action, `POST ${API}/experiments/create`);
        assert.equal(event.resource, `project:${PROJECT}`);
        assert.equal(event.project, PROJECT);
        assert.equal(event.request_id, res.headers['x-request-id']);
        assert.equal(event.client_ip, LOCAL_IP);
        assert.equal(JSON.parse(event.summary).error_code, 'PERMISSION_DENIED');
        assertError(await send('GET', `${API}/experiments/get-by-name?experiment_name=viewer-exp`, undefined, asOwner()), 'RESOURCE_DOES_NOT_EXIST');
      });

      it('a viewer logging to a run: denied, naming the run', async () => {
        const { res, event } = await onlyEventOf(() => send('POST', `${API}/runs/log-batch`, { run_id: runId, params: [{ key: 'viewer', value: '1' }] }, asViewer()));
        assertError(res, 'PERMISSION_DENIED');
        assert.equal(event.outcome, 'denied');
        assert.equal(event.actor, VIEWER);
        assert.equal(event.resource, `run:${runId}`);
        assert.equal(event.project, PROJECT);
        const params = assertOk(await send('GET', `${API}/runs/get?run_id=${runId}`, undefined, asOwner())).run.data.params;
        assert.deepEqual(params, [{ key: 'lr', value: '0.1' }]);
        await assertChainOk();
      });
    });

    describe('(e) the audit routes', () => {
      it('an owner reads the events in order, in pages', async () => {
        const stored = await eventsAfter(0);
        const { events, next_after_seq } = assertOk(await send('GET', `${CAPSTAN}/audit/events`, undefined, asOwner(null)));
        assert.equal(next_after_seq, null);
        assert.deepEqual(events, stored);
        assert.deepEqual(await eventsAfter(stored.length), [], 'reading the log adds nothing to it');
        assert.deepEqual(events.map((e: AuditEvent) => e.seq), stored.map((_, i) => i + 1));
        const page = assertOk(await send('GET', `${CAPSTAN}/audit/events?after_seq=2&max_results=3`, undefined, asOwner(null)));
        assert.deepEqual(page.events.map((e: AuditEvent) => e.seq), [3, 4, 5]);
        assert.equal(page.next_after_seq, 5);
      });

      it('an owner verifies the chain', async () => {
        const stored = await eventsAfter(0);
        const verdict = assertOk(await send('GET', `${CAPSTAN}/audit/verify`, undefined, asOwner(null)));
        assert.deepEqual(verdict, { ok: true, events: stored.length, headSeq: stored.length, headHash: stored.at(-1)!.hash });
      });

      for (const [who, headers] of [['a viewer', () => asViewer()], ['a project admin', () => asProjectAdmin()]] as const) {
        it(`${who} is refused both routes, and each refusal is a denied event`, async () => {
          for (const path of ['/audit/events', '/audit/verify']) {
            const { res, event } = await onlyEventOf(() => send('GET', `${CAPSTAN}${path}`, undefined, headers()));
            assertError(res, 'PERMISSION_DENIED');
            assert.ok(!('events' in (res.body ?? {})) && !('headHash' in (res.body ?? {})));
            assert.equal(event.outcome, 'denied');
            assert.equal(event.action, `GET ${CAPSTAN}${path}`);
            assert.equal(event.resource, 'server');
            assert.equal(event.request_id, res.headers['x-request-id']);
          }
        });
      }

      it('an API token without the admin scope is refused', async () => {
        const { token } = assertOk(await send('POST', `${CAPSTAN}/tokens`, { name: 'reader', scopes: ['read'] }, asOwner(null)));
        const res = await send('GET', `${CAPSTAN}/audit/events`, undefined, { authorization: `Bearer ${token}` });
        assertError(res, 'PERMISSION_DENIED');
      });
    });

    it('(f) a tampered event is reported by the verify route', async () => {
      const stored = await eventsAfter(0);
      const target = stored.find((e) => e.action === `POST ${API}/experiments/create` && e.outcome === 'ok')!;
      assert.ok(target);
      assert.deepEqual(await tp.platform.db.run('UPDATE audit_events SET actor = ? WHERE seq = ?', ['mallory', target.seq]), { changes: 1 });
      const verdict = assertOk(await send('GET', `${CAPSTAN}/audit/verify`, undefined, asOwner(null)));
      assert.equal(verdict.ok, false, JSON.stringify(verdict));
      assert.equal(verdict.seq, target.seq);
      assert.equal(verdict.problem, 'altered');
      assert.match(verdict.message, new RegExp(`event ${target.seq}`));
      const exported = assertOk(await send('GET', `${CAPSTAN}/audit/events`, undefined, asOwner(null))).events;
      assert.equal(exported.find((e: AuditEvent) => e.seq === target.seq).actor, 'mallory');
      // Put back, the chain verifies again.
      await tp.platform.db.run('UPDATE audit_events SET actor = ? WHERE seq = ?', [target.actor, target.seq]);
      assert.equal(assertOk(await send('GET', `${CAPSTAN}/audit/verify`, undefined, asOwner(null))).ok, true);
      // Deleting an event is named too.
      await tp.platform.db.run('DELETE FROM audit_events WHERE seq = ?', [target.seq]);
      const removed = assertOk(await send('GET', `${CAPSTAN}/audit/verify`, undefined, asOwner(null)));
      assert.deepEqual([removed.ok, removed.seq, removed.problem], [false, target.seq + 1, 'removed']);
    });
  });
}
