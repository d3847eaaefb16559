// The stateful side of alerting: the alert book kept in the database, silences applied,
// notifications sent to the project's channels, and the retraining hook.
import type { Logger } from 'pino';
import { advanceAlertBook, createSilence, groupNotifications, isAtLeast, sendWebhook, slackPayload, webhookPayload, type Alert, type AlertBook, type AlertRecord, type Notification, type Severity, type Silence } from './alerting/index.js';
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
   * One evaluation of a scope: `firing` is everything firing in it now. Stores the new book, sends
   * what the book says to send (silences applied) and returns the deliveries.
   */
  async evaluate(scope: Scope, firing: Alert[], now: number, opts: EvaluateOptions): Promise<{ notifications: Notification[]; deliveries: Delivery[] }> {
    const stored = await this.sql.alertsLabelled(scope.projectId, scope.key, scope.value);
    const book: AlertBook = Object.fromEntries(stored.map((a) => [a.fingerprint, toRecord(a)]));
    const silences: Silence[] = (await this.sql.silences(scope.projectId, now)).map((s) => ({ id: String(s.silenceId), matchers: s.matchers as Silence['matchers'], startsAt: s.startsTime, endsAt: s.endsTime, createdBy: s.createdBy, comment: s.comment }));
    const update = advanceAlertBook(book, firing.map((a) => ({ ...a, labels: { ...a.labels, [scope.key]: scope.value } })), now, { repeatIntervalMs: opts.repeatMinutes * 60_000, silences, forgetResolvedAfterMs: Number.MAX_SAFE_INTEGER });
    const notified = new Map(update.notifications.map((n) => [n.fingerprint, n]));
    const muted = new Map(update.suppressed.map((s) => [s.fingerprint, s]));
    await this.sql.db.transaction(async (tx) => {
      for (const [fp, rec] of Object.entries(update.book)) {
        const prev = book[fp];
        if (prev && JSON.stringify(prev) === JSON.stringify(rec)) continue;
        const n = notified.get(fp);
        const kind = !prev || prev.status !== rec.status ? rec.status : n ? `notified:${n.reason}` : muted.has(fp) ? 'silenced' : 'seen';
        await this.sql.saveAlert(tx, {
          projectId: scope.projectId, fingerprint: fp, rule: rec.alert.rule, severity: rec.alert.severity, labels: rec.alert.labels, summary: rec.alert.summary,
          status: rec.status, state: rec as unknown as Record<string, unknown>, updatedTime: now,
        }, kind === 'seen' ? null : { kind, detail: { summary: rec.alert.summary, value: rec.alert.value ?? null, silences: muted.get(fp)?.silence_ids } });
      }
    });
    const deliveries = await this.deliver(scope.projectId, update.notifications, opts.channels);
    if (opts.retrain) {
      const fresh = update.notifications.filter((n) => n.status === 'firing' && n.reason === 'new' && isAtLeast(n.severity, opts.retrain!.minSeverity));
      if (fresh.length) await opts.retrain.start(fresh.map((n) => n.alert)).catch((err: Error) => this.logger.warn({ err, scope }, 'retraining hook failed'));
    }
    return { notifications: update.notifications, deliveries };
  }

  private async deliver(projectId: number, notifications: Notification[], names: readonly string[]): Promise<Delivery[]> {
    if (notifications.length === 0) return [];
    const channels = (await this.sql.channels(projectId)).filter((c) => names.length === 0 || names.includes(c.name));
    const out: Delivery[] = [];
    for (const c of channels) {
      const mine = notifications.filter((n) => isAtLeast(n.severity, c.minSeverity as Severity));
      for (const group of groupNotifications(mine)) out.push(await this.sendOne(projectId, c, c.kind === 'slack' ? slackPayload(group, { receiver: c.name }) : webhookPayload(group, { receiver: c.name })));
    }
    for (const d of out.filter((x) => !x.ok)) this.logger.warn({ channel: d.channel, status: d.status, error: d.error }, 'alert notification not delivered');
    return out;
  }

  private async sendOne(projectId: number, c: Channel, payload: unknown): Promise<Delivery> {
    let secret: string | undefined;
    try {
      secret = c.secretName ? (await this.secrets(projectId, [c.secretName]))[c.secretName] : undefined;
    } catch (err) {
      return { channel: c.name, ok: false, status: null, attempts: 0, error: `signing secret: ${(err as Error).message}` };
    }
    const r = await this.send(c.url, payload, { secret, timeoutMs: 5000, retries: 2 });
    return { channel: c.name, ok: r.ok, status: r.status, attempts: r.attempts, error: r.error };
  }

  /** Validates and stores a silence; returns its id. */
  async silence(projectId: number, input: { matchers: unknown; startsAt: number; endsAt: number; createdBy: string; comment: string }): Promise<number> {
    const checked = createSilence({ id: 'new', matchers: input.matchers as Silence['matchers'], startsAt: input.startsAt, endsAt: input.endsAt, createdBy: input.createdBy, comment: input.comment });
    return this.sql.addSilence({ projectId, matchers: checked.matchers, startsTime: checked.startsAt, endsTime: checked.endsAt, createdBy: checked.createdBy, comment: checked.comment });
  }
}
