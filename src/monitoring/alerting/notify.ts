// Notification payloads (a generic JSON webhook and a Slack-compatible message) and their delivery.
import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AlertLinks, AlertStatus, Notification, NotificationGroup, Severity } from './alerts.js';

export const WEBHOOK_PAYLOAD_VERSION = '1';
export const SIGNATURE_HEADER = 'X-Capstan-Signature';

export interface WebhookAlert {
  fingerprint: string;
  status: AlertStatus;
  rule: string;
  severity: Severity;
  labels: Record<string, string>;
  summary: string;
  description: string | null;
  value: number | null;
  starts_at: string;
  /** Set once resolved. */
  ends_at: string | null;
  links: { dashboard: string | null; runbook: string | null };
}

export interface WebhookPayload {
  version: string;
  status: AlertStatus;
  receiver: string | null;
  group_key: string;
  group_labels: Record<string, string>;
  firing_count: number;
  resolved_count: number;
  alerts: WebhookAlert[];
}

export interface PayloadOptions {
  /** Name of the route or channel the message is meant for. */
  receiver?: string;
}

const iso = (ms: number) => new Date(ms).toISOString();

function webhookAlert(n: Notification): WebhookAlert {
  const a = n.alert;
  return {
    fingerprint: n.fingerprint,
    status: n.status,
    rule: a.rule,
    severity: a.severity,
    labels: { ...a.labels },
    summary: a.summary,
    description: a.description ?? null,
    value: a.value ?? null,
    starts_at: iso(n.startsAt),
    ends_at: n.endsAt === undefined ? null : iso(n.endsAt),
    links: { dashboard: a.links?.dashboard ?? null, runbook: a.links?.runbook ?? null },
  };
}

/** The generic JSON body: one message per group, every alert with its labels, times and links. */
export function webhookPayload(group: NotificationGroup, options: PayloadOptions = {}): WebhookPayload {
  const firing = group.notifications.filter((n) => n.status === 'firing').length;
  return {
    version: WEBHOOK_PAYLOAD_VERSION,
    status: group.status,
    receiver: options.receiver ?? null,
    group_key: group.key,
    group_labels: { ...group.group_labels },
    firing_count: firing,
    resolved_count: group.notifications.length - firing,
    alerts: group.notifications.map(webhookAlert),
  };
}

export interface SlackText {
  type: 'plain_text' | 'mrkdwn';
  text: string;
}

export type SlackBlock =
  | { type: 'header'; text: SlackText }
  | { type: 'section'; text: SlackText; fields?: SlackText[] }
  | { type: 'context'; elements: SlackText[] }
  | { type: 'divider' };

export interface SlackPayload {
  /** Shown where blocks cannot be (notifications, old clients). */
  text: string;
  blocks: SlackBlock[];
}

/**
 * Alerts listed in full in one Slack message; the rest are counted. With a divider between two
 * alerts, a header and a footer the message stays within Slack's 50 blocks.
 */
export const SLACK_MAX_ALERTS = 20;
const SLACK_HEADER_MAX = 150;
const SLACK_TEXT_MAX = 3000;
const SLACK_FIELD_MAX = 2000;

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/** Escapes the three characters Slack's mrkdwn treats as control characters. */
export function slackEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** `<url|label>` for an http(s) URL; null for anything else. */
export function slackLink(url: string | undefined, label: string): string | null {
  if (!url || !/^https?:\/\//i.test(url)) return null;
  const safe = url.replace(/\|/g, '%7C').replace(/>/g, '%3E').replace(/</g, '%3C');
  return `<${safe}|${slackEscape(label)}>`;
}

function groupTitle(group: NotificationGroup): string {
  const firing = group.notifications.filter((n) => n.status === 'firing').length;
  const head = group.status === 'firing' ? `FIRING: ${firing}` : `RESOLVED: ${group.notifications.length}`;
  const labels = Object.entries(group.group_labels)
    .filter(([, v]) => v !== '')
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return labels ? `[${head}] ${labels}` : `[${head}]`;
}

function linksLine(links: AlertLinks | undefined): string | null {
  const parts = [slackLink(links?.dashboard, 'Dashboard'), slackLink(links?.runbook, 'Runbook')];
  const present = parts.filter((p): p is string => p !== null);
  return present.length ? present.join(' | ') : null;
}

function slackAlertSection(n: Notification): SlackBlock {
  const a = n.alert;
  const state = n.status === 'firing' ? 'Firing' : 'Resolved';
  const body = [`*${slackEscape(a.summary)}*`, a.description ? slackEscape(a.description) : null, linksLine(a.links)];
  const fields: SlackText[] = [
    { type: 'mrkdwn', text: `*Severity*\n${a.severity}` },
    { type: 'mrkdwn', text: `*Status*\n${state}` },
    { type: 'mrkdwn', text: `*Rule*\n${clip(slackEscape(a.rule), SLACK_FIELD_MAX - 10)}` },
    { type: 'mrkdwn', text: `*Started*\n${iso(n.startsAt)}` },
  ];
  if (n.endsAt !== undefined) fields.push({ type: 'mrkdwn', text: `*Ended*\n${iso(n.endsAt)}` });
  if (a.value !== undefined) fields.push({ type: 'mrkdwn', text: `*Value*\n${a.value}` });
  return { type: 'section', text: { type: 'mrkdwn', text: clip(body.filter(Boolean).join('\n'), SLACK_TEXT_MAX) }, fields };
}

/** A Slack message (incoming-webhook shape): a header, one section per alert with mrkdwn links. */
export function slackPayload(group: NotificationGroup, options: PayloadOptions = {}): SlackPayload {
  const title = groupTitle(group);
  const shown = group.notifications.slice(0, SLACK_MAX_ALERTS);
  const blocks: SlackBlock[] = [{ type: 'header', text: { type: 'plain_text', text: clip(title, SLACK_HEADER_MAX) } }];
  shown.forEach((n, i) => {
    if (i > 0) blocks.push({ type: 'divider' });
    blocks.push(slackAlertSection(n));
  });
  const hidden = group.notifications.length - shown.length;
  const foot = [hidden > 0 ? `and ${hidden} more` : null, options.receiver ? `route: ${slackEscape(options.receiver)}` : null];
  const footText = foot.filter(Boolean).join(' · ');
  if (footText) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: footText }] });
  const first = group.notifications[0];
  const text = first ? `${title}: ${first.alert.summary}` : title;
  return { text: clip(text, SLACK_TEXT_MAX), blocks };
}

export interface SendOptions {
  /** Per attempt, response body included; 5000 by default. */
  timeoutMs?: number;
  /** Extra attempts after the first; 3 by default. */
  retries?: number;
  /** HMAC-SHA256 key: the body is signed into the X-Capstan-Signature header. */
  secret?: string;
  /** Wait before the first retry, doubled for each further one; 500 by default. */
  backoffMs?: number;
  /** Upper limit on one wait (a Retry-After header included); 30000 by default. */
  maxBackoffMs?: number;
  headers?: Record<string, string>;
}

export interface SendResult {
  ok: boolean;
  /** HTTP status of the last attempt; null when no response arrived. */
  status: number | null;
  attempts: number;
  error?: string;
}

/** `sha256=<hex>` of HMAC-SHA256(secret, body): the value of the signature header. */
export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

export function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

function retryAfterMs(res: Response): number | null {
  const h = res.headers.get('retry-after');
  if (h === null) return null;
  const seconds = Number(h);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(h);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}

interface Attempt {
  status: number | null;
  retryable: boolean;
  waitMs: number | null;
  error?: string;
}

function describeFailure(err: unknown, timeoutMs: number): string {
  const name = err instanceof Error ? err.name : '';
  if (name === 'TimeoutError' || name === 'AbortError') return `timed out after ${timeoutMs} ms`;
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : null;
  const code = cause && 'code' in cause ? String((cause as { code: unknown }).code) : null;
  return `network error${code ? ` (${code})` : ''}`;
}

async function attempt(url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<Attempt> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const res = await fetch(url, { method: 'POST', headers, body, signal, redirect: 'manual' });
    await res.arrayBuffer();
    if (res.ok) return { status: res.status, retryable: false, waitMs: null };
    const retryable = isRetryableStatus(res.status);
    return { status: res.status, retryable, waitMs: retryAfterMs(res), error: `HTTP ${res.status}` };
  } catch (err) {
    return { status: null, retryable: true, waitMs: null, error: describeFailure(err, timeoutMs) };
  }
}

function checkUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError('webhook URL is not a valid URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new TypeError(`webhook URL must be http or https, got ${parsed.protocol}`);
  }
}

/**
 * POSTs the payload as JSON. Network errors, timeouts, 429 and 5xx are retried with exponential
 * backoff (a Retry-After header is honoured up to maxBackoffMs); other statuses are final. Errors
 * name the failure but never the URL (webhook URLs often embed a token) nor the secret.
 */
export async function sendWebhook(url: string, payload: unknown, options: SendOptions = {}): Promise<SendResult> {
  checkUrl(url);
  const timeoutMs = options.timeoutMs ?? 5000;
  const retries = Math.max(0, Math.floor(options.retries ?? 3));
  const backoffMs = options.backoffMs ?? 500;
  const maxBackoffMs = options.maxBackoffMs ?? 30_000;
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
  const headers: Record<string, string> = { ...options.headers, 'content-type': 'application/json' };
  if (options.secret) headers[SIGNATURE_HEADER] = signBody(body, options.secret);
  let last: Attempt = { status: null, retryable: true, waitMs: null };
  for (let i = 0; i <= retries; i++) {
    if (i > 0) await sleep(Math.min(maxBackoffMs, last.waitMs ?? backoffMs * 2 ** (i - 1)));
    last = await attempt(url, body, headers, timeoutMs);
    if (last.error === undefined) return { ok: true, status: last.status, attempts: i + 1 };
    if (!last.retryable) return { ok: false, status: last.status, attempts: i + 1, error: last.error };
  }
  return { ok: false, status: last.status, attempts: retries + 1, error: `${last.error}; gave up after ${retries + 1} attempts` };
}
