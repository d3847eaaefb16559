// The stateful side of alerting: the alert book kept in the database, silences applied,
// notifications sent to the project's channels, and the retraining hook.
import type { Logger } from 'pino';
import { advanceAlertBook, createSilence, groupNotifications, isAtLeast, sendWebhook, slackPayload, webhookPayload, type Alert, type AlertBook, type AlertRecord, type Notification, type Severity, type Silence } from './alerting/index.js';
import { lockKeyOf } from '../store/sql/index.js';
import type { AlertsSql, Channel, StoredAlert } from './alerts.sql.js';

export interface Scope {
  projectId: number;
  /** Label every alert of this evaluation carries and the book is keyed by, e.g. monitor=<name>. */
  key: string;
  value: string;
}

export interface EvaluateOptions {
  repeatMinutes: number;
  /** Channel names; empty means every channel of the project. */
  channels: readonly string[];
  /** Called once per newly firing alert at or above its severity. */
  retrain?: { minSeverity: Severity; start: (alerts: Alert[]) => Promise<void> };
}

export interface Delivery {
  channel: string;
  ok: boolean;
  status: number | null;
  attempts: number;
  error?: string;
}

export type SecretResolver = (projectId: number, names: readonly string[]) => Promise<Record<string, string>>;

const toRecord = (a: StoredAlert): AlertRecord => a.state as unknown as AlertRecord;

export class AlertManager {
  constructor(
    private readonly sql: AlertsSql,
    private readonly secrets: SecretResolver,
    private readonly logger: Logger,
    private readonly send: typeof sendWebhook = sendWebhook,
  ) {}

  /**
   * One evaluation of a scope: `firing` is everything firing in it now. Under a per-scope lock
   * (two replicas evaluating one scope queue), reads and advances the book and stores it; then
   * sends what it says to send (silences applied). A notification no channel accepted is marked
   * unsent, so the next evaluation tries again instead of waiting for the repeat interval.
   */
  async evaluate(scope: Scope, firing: Alert[], now: number, opts: EvaluateOptions): Promise<{ notifications: Notification[]; deliveries: Delivery[] }> {
    const silences: Silence[] = (await this.sql.silences(scope.projectId, now)).map((s) => ({ id: String(s.silenceId), matchers: s.matchers as Silence['matchers'], startsAt: s.startsTime, endsAt: s.endsTime, createdBy: s.createdBy, comment: s.comment }));
    const labelled = firing.map((a) => ({ ...a, labels: { ...a.labels, [scope.key]: scope.value } }));
    const update = await this.sql.db.transaction(async (tx) => {
      const lock = this.sql.db.dialect.writeLockSql(lockKeyOf(`alerts:${scope.projectId}:${scope.key}:${scope.value}`));
      if (lock) await tx.get(lock);
      const book: AlertBook = Object.fromEntries((await this.sql.alertsLabelled(scope.projectId, scope.key, scope.value, tx)).map((a) => [a.fingerprint, toRecord(a)]));
      const next = advanceAlertBook(book, labelled, now, { repeatIntervalMs: opts.repeatMinutes * 60_000, silences, forgetResolvedAfterMs: Number.MAX_SAFE_INTEGER });
      const notified = new Map(next.notifications.map((n) => [n.fingerprint, n]));
      const muted = new Map(next.suppressed.map((x) => [x.fingerprint, x]));
      for (const [fp, rec] of Object.entries(next.book)) {
        const prev = book[fp];
        if (prev && JSON.stringify(prev) === JSON.stringify(rec)) continue;
        const n = notified.get(fp);
        const kind = !prev || prev.status !== rec.status ? rec.status : n ? `notified:${n.reason}` : muted.has(fp) ? 'silenced' : 'seen';
        await this.sql.saveAlert(tx, this.row(scope, fp, rec, now), kind === 'seen' ? null : { kind, detail: { summary: rec.alert.summary, value: rec.alert.value ?? null, silences: muted.get(fp)?.silence_ids } });
      }
      return next;
    });
    const deliveries = await this.deliver(scope.projectId, update.notifications, opts.channels);
    await this.markUndelivered(scope, update, deliveries, now);
    if (opts.retrain) {
      const fresh = update.notifications.filter((n) => n.status === 'firing' && n.reason === 'new' && isAtLeast(n.severity, opts.retrain!.minSeverity));
      if (fresh.length) await opts.retrain.start(fresh.map((n) => n.alert)).catch((err: Error) => this.logger.warn({ err, scope }, 'retraining hook failed'));
    }
    return { notifications: update.notifications, deliveries };
  }

  private row(scope: Scope, fp: string, rec: AlertRecord, now: number) {
    return {
      projectId: scope.projectId, fingerprint: fp, rule: rec.alert.rule, severity: rec.alert.severity, labels: rec.alert.labels, summary: rec.alert.summary,
      status: rec.status, state: rec as unknown as Record<string, unknown>, updatedTime: now,
    };
  }

  /** Firing notifications that reached no channel are recorded as unsent, to be tried at the next evaluation. */
  private async markUndelivered(scope: Scope, update: { book: AlertBook; notifications: Notification[] }, deliveries: Delivery[], now: number): Promise<void> {
    if (deliveries.length === 0 || deliveries.some((d) => d.ok)) return;
    const unsent = update.notifications.filter((n) => n.status === 'firing');
    if (unsent.length === 0) return;
    await this.sql.db.transaction(async (tx) => {
      for (const n of unsent) {
        const { lastNotifiedAt: _sent, ...rec } = update.book[n.fingerprint];
        await this.sql.saveAlert(tx, this.row(scope, n.fingerprint, rec as AlertRecord, now), { kind: 'delivery_failed', detail: { channels: deliveries.map((d) => ({ channel: d.channel, status: d.status, error: d.error })) } });
      }
    });
  }

  private async deliver(projectId: number, notifications: Notification[], names: readonly string[]): Promise<Delivery[]> {
    if (notifications.length === 0) return [];
    const all = await this.sql.channels(projectId);
    const unknown = names.filter((n) => !all.some((c) => c.name === n));
    if (unknown.length) this.logger.warn({ project_id: projectId, channels: unknown }, 'alerts name channels that do not exist');
    const channels = all.filter((c) => names.length === 0 || names.includes(c.name));
    const sends = channels.flatMap((c) => groupNotifications(notifications.filter((n) => isAtLeast(n.severity, c.minSeverity as Severity)))
      .map((group) => this.sendOne(projectId, c, c.kind === 'slack' ? slackPayload(group, { receiver: c.name }) : webhookPayload(group, { receiver: c.name }))));
    const out = await Promise.all(sends);
    for (const d of out.filter((x) => !x.ok)) this.logger.warn({ channel: d.channel, status: d.status, error: d.error }, 'alert notification not delivered');
    return out;
  }

  /** Sends a payload to one channel, signed with its secret when it has one; short backoff, so a dead endpoint cannot stall a run for long. */
  async sendOne(projectId: number, c: Channel, payload: unknown): Promise<Delivery> {
    let secret: string | undefined;
    try {
      secret = c.secretName ? (await this.secrets(projectId, [c.secretName]))[c.secretName] : undefined;
    } catch (err) {
      return { channel: c.name, ok: false, status: null, attempts: 0, error: `signing secret: ${(err as Error).message}` };
    }
    const r = await this.send(c.url, payload, { secret, timeoutMs: 5000, retries: 2, maxBackoffMs: 2000 });
    return { channel: c.name, ok: r.ok, status: r.status, attempts: r.attempts, error: r.error };
  }

  async channel(projectId: number, name: string): Promise<Channel | undefined> {
    return (await this.sql.channels(projectId)).find((c) => c.name === name);
  }

  /** Validates and stores a silence; returns its id. */
  async silence(projectId: number, input: { matchers: unknown; startsAt: number; endsAt: number; createdBy: string; comment: string }): Promise<number> {
    const checked = createSilence({ id: 'new', matchers: input.matchers as Silence['matchers'], startsAt: input.startsAt, endsAt: input.endsAt, createdBy: input.createdBy, comment: input.comment });
    return this.sql.addSilence({ projectId, matchers: checked.matchers, startsTime: checked.startsAt, endsTime: checked.endsAt, createdBy: checked.createdBy, comment: checked.comment });
  }
}
