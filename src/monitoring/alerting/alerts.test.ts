import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  advanceAlertBook,
  compareSeverity,
  fingerprint,
  groupNotifications,
  minSeverity,
  type Alert,
  type AlertBook,
  type Notification,
  type Severity,
} from './alerts.js';
import { createSilence, silencedBy, type Silence } from './silences.js';

const T0 = Date.UTC(2025, 1, 20, 12, 0, 0);
const MIN = 60_000;
const HOUR = 3_600_000;

function alert(deployment: string, rule = 'burn_1h_5m', severity: Severity = 'P1', extra: Record<string, string> = {}): Alert {
  return { rule, severity, labels: { deployment, slo: 'availability', ...extra }, summary: `${deployment} burns budget` };
}

function deepFreeze<T>(x: T): T {
  if (x && typeof x === 'object') {
    for (const v of Object.values(x)) deepFreeze(v);
    Object.freeze(x);
  }
  return x;
}

function silence(matchers: Silence['matchers'], startsAt = T0, endsAt = T0 + HOUR): Silence {
  return createSilence({ id: 's1', matchers, startsAt, endsAt, createdBy: 'oncall@example.com', comment: 'maintenance' });
}

describe('fingerprint', () => {
  it('is stable, order-independent and pinned to SHA-256 of the sorted pairs', () => {
    const a = fingerprint('latency_p99', { deployment: 'fraud', model: 'm1' });
    const b = fingerprint('latency_p99', { model: 'm1', deployment: 'fraud' });
    assert.equal(a, b);
    // sha256('["latency_p99",[["deployment","fraud"],["model","m1"]]]'), computed with Python's hashlib
    assert.equal(a, '6574c472381fbaf7');
    assert.match(a, /^[0-9a-f]{16}$/);
  });

  it('changes with the rule or any label, and separators cannot collide', () => {
    const base = fingerprint('r', { a: '1', b: '2' });
    assert.notEqual(fingerprint('r2', { a: '1', b: '2' }), base);
    assert.notEqual(fingerprint('r', { a: '1', b: '3' }), base);
    assert.notEqual(fingerprint('r', { a: '1' }), base);
    assert.notEqual(fingerprint('r', { a: '1,b=2' }), fingerprint('r', { a: '1', b: '2' }));
  });
});

describe('severity', () => {
  it('orders P1 before P3 and filters routes by minimum severity', () => {
    assert.deepEqual((['P3', 'P1', 'P2'] as Severity[]).sort(compareSeverity), ['P1', 'P2', 'P3']);
    const alerts = [alert('a', 'r', 'P1'), alert('b', 'r', 'P2'), alert('c', 'r', 'P3')];
    assert.deepEqual(
      minSeverity(alerts, 'P2').map((a) => a.severity),
      ['P1', 'P2'],
    );
    assert.equal(minSeverity(alerts, 'P3').length, 3);
    assert.equal(minSeverity(alerts, 'P1').length, 1);
  });
});

describe('advanceAlertBook', () => {
  const A = alert('fraud');
  const fpA = fingerprint(A.rule, A.labels);

  it('notifies a new alert, stays quiet while it fires, repeats after the interval', () => {
    const s1 = advanceAlertBook({}, [A], T0);
    assert.deepEqual(
      s1.notifications.map((n) => [n.fingerprint, n.status, n.reason]),
      [[fpA, 'firing', 'new']],
    );
    assert.deepEqual(s1.book[fpA], { alert: A, status: 'firing', startsAt: T0, lastSeenAt: T0, lastNotifiedAt: T0, count: 1 });

    const s2 = advanceAlertBook(deepFreeze(s1.book), [A], T0 + MIN);
    assert.deepEqual(s2.notifications, []);
    assert.equal(s2.book[fpA].count, 2);
    assert.equal(s2.book[fpA].lastSeenAt, T0 + MIN);

    const s3 = advanceAlertBook(s2.book, [A], T0 + 4 * HOUR - 1);
    assert.deepEqual(s3.notifications, []);
    const s4 = advanceAlertBook(s3.book, [A], T0 + 4 * HOUR);
    assert.deepEqual(
      s4.notifications.map((n) => n.reason),
      ['repeat'],
    );
    assert.equal(s4.book[fpA].startsAt, T0);
    assert.equal(s4.book[fpA].lastNotifiedAt, T0 + 4 * HOUR);
    const s5 = advanceAlertBook(s4.book, [A], T0 + 5 * HOUR, { repeatIntervalMs: HOUR });
    assert.equal(s5.notifications.length, 1);
  });

  it('resolves once, then opens a fresh episode when the alert fires again', () => {
    const s1 = advanceAlertBook({}, [A], T0);
    const s2 = advanceAlertBook(s1.book, [], T0 + 5 * MIN);
    assert.deepEqual(
      s2.notifications.map((n) => [n.status, n.reason, n.startsAt, n.endsAt]),
      [['resolved', 'resolved', T0, T0 + 5 * MIN]],
    );
    assert.equal(s2.book[fpA].status, 'resolved');
    assert.equal(s2.book[fpA].resolvedAt, T0 + 5 * MIN);
    const s3 = advanceAlertBook(s2.book, [], T0 + 10 * MIN);
    assert.deepEqual(s3.notifications, []);
    const s4 = advanceAlertBook(s3.book, [A], T0 + 20 * MIN);
    assert.deepEqual(
      s4.notifications.map((n) => n.reason),
      ['new'],
    );
    assert.equal(s4.book[fpA].startsAt, T0 + 20 * MIN);
    assert.equal(s4.book[fpA].count, 1);
    assert.equal(s4.book[fpA].resolvedAt, undefined);
  });

  it('forgets resolved records after a day', () => {
    const s1 = advanceAlertBook({}, [A], T0);
    const s2 = advanceAlertBook(s1.book, [], T0 + MIN);
    assert.ok(fpA in advanceAlertBook(s2.book, [], T0 + MIN + 24 * HOUR - 1).book);
    assert.deepEqual(advanceAlertBook(s2.book, [], T0 + MIN + 24 * HOUR).book, {});
  });

  it('keeps one record for duplicates and does not modify the input book', () => {
    const book: AlertBook = deepFreeze({});
    const s = advanceAlertBook(book, [A, { ...A, summary: 'newer' }, alert('other')], T0);
    assert.equal(s.notifications.length, 2);
    assert.equal(s.book[fpA].alert.summary, 'newer');
    assert.deepEqual(book, {});
  });

  it('a silence mutes notifications but not state; the alert notifies once the silence ends', () => {
    const silences = [silence([{ label: 'deployment', value: 'fraud' }])];
    const s1 = advanceAlertBook({}, [A], T0, { silences });
    assert.deepEqual(s1.notifications, []);
    assert.deepEqual(s1.suppressed, [{ fingerprint: fpA, status: 'firing', silence_ids: ['s1'] }]);
    assert.equal(s1.book[fpA].status, 'firing');
    assert.equal(s1.book[fpA].lastNotifiedAt, undefined);
    const s2 = advanceAlertBook(s1.book, [A], T0 + HOUR, { silences });
    assert.deepEqual(
      s2.notifications.map((n) => n.reason),
      ['new'],
    );
    assert.equal(s2.book[fpA].startsAt, T0);
  });

  it('sends no resolved notification for an alert whose firing was never sent', () => {
    const silences = [silence([{ label: 'deployment', value: 'fraud' }])];
    const s1 = advanceAlertBook({}, [A], T0, { silences });
    const s2 = advanceAlertBook(s1.book, [], T0 + HOUR + MIN, { silences });
    assert.deepEqual(s2.notifications, []);
    assert.equal(s2.book[fpA].status, 'resolved');
  });
});

describe('silences', () => {
  const labels = { deployment: 'fraud-v2', rule: 'burn_1h_5m', severity: 'P1' };

  it('anchors regular expressions at both ends', () => {
    assert.deepEqual(silencedBy([silence([{ label: 'deployment', value: 'fraud', isRegex: true }])], labels, T0), []);
    assert.deepEqual(silencedBy([silence([{ label: 'deployment', value: 'v2', isRegex: true }])], labels, T0), []);
    assert.deepEqual(silencedBy([silence([{ label: 'deployment', value: 'fraud.*', isRegex: true }])], labels, T0), ['s1']);
    assert.deepEqual(silencedBy([silence([{ label: 'deployment', value: 'a|fraud-v2', isRegex: true }])], labels, T0), ['s1']);
  });

  it('needs every matcher, supports negation, reads a missing label as empty and honours the time range', () => {
    const both = silence([
      { label: 'deployment', value: 'fraud-v2' },
      { label: 'severity', value: 'P3' },
    ]);
    assert.deepEqual(silencedBy([both], labels, T0), []);
    const neg = silence([
      { label: 'deployment', value: 'fraud-v2' },
      { label: 'severity', value: 'P3', isEqual: false },
    ]);
    assert.deepEqual(silencedBy([neg], labels, T0), ['s1']);
    const negRegex = silence([
      { label: 'deployment', value: 'fraud-v2' },
      { label: 'severity', value: 'P[12]', isRegex: true, isEqual: false },
    ]);
    assert.deepEqual(silencedBy([negRegex], labels, T0), []);
    const missing = silence([
      { label: 'rule', value: 'burn_1h_5m' },
      { label: 'team', value: '' },
    ]);
    assert.deepEqual(silencedBy([missing], labels, T0), ['s1']);
    assert.deepEqual(silencedBy([neg], labels, T0 - 1), []);
    assert.deepEqual(silencedBy([neg], labels, T0 + HOUR), []);
  });

  it('rejects invalid silences at creation with a clear error', () => {
    assert.throws(() => silence([{ label: 'deployment', value: '(fraud', isRegex: true }]), /deployment: invalid regular expression "\(fraud"/);
    assert.throws(() => silence([]), /at least one matcher/);
    assert.throws(() => silence([{ label: 'bad-name', value: 'x' }]), /not a valid label name/);
    assert.throws(() => silence([{ label: 'team', value: '.*', isRegex: true }]), /must not match the empty string/);
    assert.throws(() => silence([{ label: 'team', value: 'x' }], T0, T0), /endsAt must be after startsAt/);
    assert.throws(
      () => createSilence({ id: 's', matchers: [{ label: 'a', value: 'b' }], startsAt: 0, endsAt: 1, createdBy: '', comment: '' }),
      /createdBy/,
    );
  });
});

describe('groupNotifications', () => {
  function notificationsFor(alerts: Alert[]): Notification[] {
    return advanceAlertBook({}, alerts, T0).notifications;
  }

  it('groups by deployment and rule by default, one group per combination', () => {
    const ns = notificationsFor([
      alert('fraud', 'burn_1h_5m', 'P1', { slo: 'availability' }),
      alert('fraud', 'burn_1h_5m', 'P1', { slo: 'latency' }),
      alert('fraud', 'burn_3d_6h', 'P3'),
      alert('churn', 'burn_1h_5m', 'P1'),
    ]);
    const groups = groupNotifications(ns);
    assert.deepEqual(
      groups.map((g) => [g.group_labels, g.notifications.length, g.status]),
      [
        [{ deployment: 'churn', rule: 'burn_1h_5m' }, 1, 'firing'],
        [{ deployment: 'fraud', rule: 'burn_1h_5m' }, 2, 'firing'],
        [{ deployment: 'fraud', rule: 'burn_3d_6h' }, 1, 'firing'],
      ],
    );
  });

  it('groups on any label names, a missing label grouping as empty, most severe first', () => {
    const ns = notificationsFor([alert('fraud', 'r1', 'P3'), alert('churn', 'r2', 'P1'), { ...alert('x', 'r3', 'P2'), labels: {} }]);
    const groups = groupNotifications(ns, ['slo']);
    assert.deepEqual(
      groups.map((g) => [g.group_labels, g.notifications.map((n) => n.severity)]),
      [
        [{ slo: '' }, ['P2']],
        [{ slo: 'availability' }, ['P1', 'P3']],
      ],
    );
  });

  it('a group with only resolved members is resolved', () => {
    const s1 = advanceAlertBook({}, [alert('fraud')], T0);
    const s2 = advanceAlertBook(s1.book, [], T0 + MIN);
    assert.equal(groupNotifications(s2.notifications)[0].status, 'resolved');
  });
});
