import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { advanceAlertBook, groupNotifications, type Alert, type NotificationGroup } from './alerts.js';
import { SIGNATURE_HEADER, SLACK_MAX_ALERTS, sendWebhook, slackLink, slackPayload, webhookPayload } from './notify.js';

const T0 = Date.UTC(2025, 1, 20, 12, 0, 0);

const FIRING: Alert = {
  rule: 'burn_1h_5m',
  severity: 'P1',
  labels: { deployment: 'fraud', slo: 'availability' },
  summary: 'fraud burns its error budget 20x',
  description: 'errors > 2% for 1h <see dashboard>',
  value: 20,
  links: { dashboard: 'https://grafana.example/d/fraud?a=1|2', runbook: 'https://wiki.example/runbooks/slo' },
};

function groupOf(alerts: Alert[], resolveAt?: number): NotificationGroup {
  const s1 = advanceAlertBook({}, alerts, T0);
  if (resolveAt === undefined) return groupNotifications(s1.notifications)[0];
  return groupNotifications(advanceAlertBook(s1.book, [], resolveAt).notifications)[0];
}

describe('webhook payload', () => {
  it('carries the version, status, group labels and every alert with ISO times and links', () => {
    const p = webhookPayload(groupOf([FIRING]), { receiver: 'oncall' });
    assert.equal(p.version, '1');
    assert.equal(p.status, 'firing');
    assert.equal(p.receiver, 'oncall');
    assert.deepEqual(p.group_labels, { deployment: 'fraud', rule: 'burn_1h_5m' });
    assert.equal(p.firing_count, 1);
    assert.equal(p.resolved_count, 0);
    assert.deepEqual(p.alerts[0], {
      fingerprint: p.alerts[0].fingerprint,
      status: 'firing',
      rule: 'burn_1h_5m',
      severity: 'P1',
      labels: { deployment: 'fraud', slo: 'availability' },
      summary: FIRING.summary,
      description: FIRING.description,
      value: 20,
      starts_at: '2025-02-20T12:00:00.000Z',
      ends_at: null,
      links: { dashboard: FIRING.links!.dashboard, runbook: FIRING.links!.runbook },
    });
    assert.deepEqual(JSON.parse(JSON.stringify(p)), p);
  });

  it('marks resolved alerts with their end time and nulls for missing optional fields', () => {
    const p = webhookPayload(groupOf([{ rule: 'r', severity: 'P3', labels: { deployment: 'd' }, summary: 's' }], T0 + 60_000));
    assert.equal(p.status, 'resolved');
    assert.equal(p.resolved_count, 1);
    const a = p.alerts[0];
    assert.equal(a.ends_at, '2025-02-20T12:01:00.000Z');
    assert.equal(a.description, null);
    assert.equal(a.value, null);
    assert.deepEqual(a.links, { dashboard: null, runbook: null });
  });
});

describe('Slack payload', () => {
  it('has a text fallback, a header and mrkdwn fields and links', () => {
    const p = slackPayload(groupOf([FIRING]));
    assert.match(p.text, /^\[FIRING: 1\] deployment=fraud rule=burn_1h_5m: fraud burns/);
    assert.deepEqual(p.blocks[0], { type: 'header', text: { type: 'plain_text', text: '[FIRING: 1] deployment=fraud rule=burn_1h_5m' } });
    const section = p.blocks[1];
    assert.equal(section.type, 'section');
    if (section.type !== 'section') return;
    assert.equal(
      section.text.text,
      '*fraud burns its error budget 20x*\nerrors &gt; 2% for 1h &lt;see dashboard&gt;\n' +
        '<https://grafana.example/d/fraud?a=1%7C2|Dashboard> | <https://wiki.example/runbooks/slo|Runbook>',
    );
    assert.deepEqual(
      section.fields!.map((f) => f.text.split('\n')[0]),
      ['*Severity*', '*Status*', '*Rule*', '*Started*', '*Value*'],
    );
    assert.equal(section.fields![0].text, '*Severity*\nP1');
    assert.equal(p.blocks.length, 2);
    assert.ok(!/:[a-z_]+:/.test(JSON.stringify(p)), 'no emoji shortcodes');
  });

  it('drops non-http links and caps the alerts listed', () => {
    assert.equal(slackLink('javascript:alert(1)', 'x'), null);
    assert.equal(slackLink(undefined, 'x'), null);
    const many = Array.from({ length: SLACK_MAX_ALERTS + 5 }, (_, i) => ({ ...FIRING, labels: { ...FIRING.labels, n: String(i) } }));
    const p = slackPayload(groupOf(many), { receiver: 'ml-oncall' });
    assert.equal(p.blocks.filter((b) => b.type === 'section').length, SLACK_MAX_ALERTS);
    assert.ok(p.blocks.length <= 50);
    assert.deepEqual(p.blocks.at(-1), { type: 'context', elements: [{ type: 'mrkdwn', text: 'and 5 more · route: ml-oncall' }] });
  });
});

interface Seen {
  headers: IncomingMessage['headers'];
  body: string;
}

type Reply = (res: ServerResponse) => void;

describe('sendWebhook against a local server', () => {
  const replies: Reply[] = [];
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const reply = replies.shift() ?? ((r: ServerResponse) => r.writeHead(204).end());
      reply(res);
    });
  });
  let url = '';
  const status = (code: number, headers: Record<string, string> = {}): Reply => (res) => res.writeHead(code, headers).end('{}');
  const fast = { backoffMs: 5, timeoutMs: 1000 };

  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/T0KEN-in-path`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  const reset = () => {
    replies.length = 0;
    seen.length = 0;
  };

  it('retries a 503 and succeeds on the next attempt', async () => {
    reset();
    replies.push(status(503));
    const r = await sendWebhook(url, { hello: 'world' }, { ...fast, retries: 3 });
    assert.deepEqual(r, { ok: true, status: 204, attempts: 2 });
    assert.equal(seen.length, 2);
    assert.equal(seen[1].body, '{"hello":"world"}');
    assert.equal(seen[1].headers['content-type'], 'application/json');
  });

  it('retries 429 (honouring Retry-After) and gives up after the retries', async () => {
    reset();
    replies.push(status(429, { 'retry-after': '0' }), status(500), status(502));
    const r = await sendWebhook(url, {}, { ...fast, retries: 2 });
    assert.equal(r.ok, false);
    assert.equal(r.status, 502);
    assert.equal(r.attempts, 3);
    assert.match(r.error!, /HTTP 502; gave up after 3 attempts/);
  });

  it('does not retry a 400', async () => {
    reset();
    replies.push(status(400));
    const r = await sendWebhook(url, {}, { ...fast, retries: 3, secret: 's3cr3t-value' });
    assert.deepEqual(r, { ok: false, status: 400, attempts: 1, error: 'HTTP 400' });
    assert.equal(seen.length, 1);
  });

  it('signs the body with HMAC-SHA256 the receiver can verify', async () => {
    reset();
    const secret = 'shared-secret';
    const payload = webhookPayload(groupOf([FIRING]));
    const r = await sendWebhook(url, payload, { ...fast, secret });
    assert.equal(r.ok, true);
    const header = String(seen[0].headers[SIGNATURE_HEADER.toLowerCase()]);
    assert.match(header, /^sha256=[0-9a-f]{64}$/);
    const expected = createHmac('sha256', secret).update(seen[0].body).digest();
    assert.ok(timingSafeEqual(Buffer.from(header.slice(7), 'hex'), expected));
    const forged = createHmac('sha256', 'other').update(seen[0].body).digest();
    assert.ok(!timingSafeEqual(Buffer.from(header.slice(7), 'hex'), forged));
    assert.deepEqual(JSON.parse(seen[0].body), payload);
  });

  it('times out a server that never answers, retrying, without leaking the URL or secret', async () => {
    reset();
    replies.push(() => {}, () => {});
    const started = Date.now();
    const r = await sendWebhook(url, {}, { timeoutMs: 100, retries: 1, backoffMs: 5, secret: 's3cr3t-value' });
    assert.equal(r.ok, false);
    assert.equal(r.status, null);
    assert.equal(r.attempts, 2);
    assert.match(r.error!, /timed out after 100 ms/);
    assert.ok(!r.error!.includes('s3cr3t') && !r.error!.includes('T0KEN'));
    assert.ok(Date.now() - started < 2000);
  });

  it('retries a refused connection and reports a network error', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const r = await sendWebhook(`http://127.0.0.1:${port}/x`, {}, { ...fast, retries: 2 });
    assert.equal(r.ok, false);
    assert.equal(r.attempts, 3);
    assert.match(r.error!, /network error/);
  });

  it('rejects non-http URLs before sending', async () => {
    await assert.rejects(sendWebhook('file:///etc/passwd', {}), /http or https/);
    await assert.rejects(sendWebhook('not a url', {}), /not a valid URL/);
  });
});
