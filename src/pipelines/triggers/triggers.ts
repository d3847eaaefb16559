// Triggers at run time. Applying a pipeline stores one row per trigger with what it has seen so
// far; each replica's tick looks at every row and, for the ones with something new, moves the row
// on with a compare-and-set before starting a run — so exactly one replica fires each event.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import { AppError, notFound } from '../../errors/index.js';
import type { PipelinesSql } from '../pipelines.sql.js';
import type { TriggerSpec } from '../spec/index.js';
import type { TriggerRow } from '../types.js';
import { nextAfter, parseCron } from './cron.js';

export interface TriggerSources {
  /** The newest version of a dataset, or null when it has none. */
  latestDataset(projectId: number, name: string): Promise<number | null>;
  /** The version an alias points at, or null when it is not set. */
  aliasVersion(projectId: number, model: string, alias: string): Promise<number | null>;
  /** Alert firings after an event id, oldest first. */
  alertsSince(projectId: number, afterEventId: number): Promise<Array<{ eventId: number; alertId: number; severity: string; monitor: string | null; summary: string }>>;
  secret(projectId: number, name: string): Promise<string>;
}

export interface StartRun {
  (t: { projectId: number; pipeline: string; params: Record<string, string>; trigger: { kind: string; detail: unknown } }): Promise<unknown>;
}

const SEVERITY_RANK: Record<string, number> = { P1: 1, P2: 2, P3: 3 };
const paramsText = (p: Record<string, unknown>) => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, String(v)]));

export class Triggers {
  constructor(
    private readonly sql: PipelinesSql,
    private readonly sources: TriggerSources,
    private readonly start: StartRun,
    private readonly logger: Logger,
  ) {}

  /** The stored rows for a pipeline's triggers, each starting from what exists now (nothing fires for the past). */
  async rowsFor(projectId: number, specs: readonly TriggerSpec[], now: number): Promise<Array<Omit<TriggerRow, 'projectId' | 'pipeline'>>> {
    const rows: Array<Omit<TriggerRow, 'projectId' | 'pipeline'>> = [];
    for (const [i, t] of specs.entries()) {
      const { line: _l, column: _c, ...config } = t;
      const base = { key: `${i}:${t.kind}`, kind: t.kind, config: config as Record<string, unknown>, nextTime: 0, lastSeen: '' };
      if (t.kind === 'schedule') base.nextTime = nextAfter(parseCron(t.cron, t.timeZone ?? undefined), now);
      if (t.kind === 'dataset') base.lastSeen = String((await this.sources.latestDataset(projectId, t.dataset)) ?? 0);
      if (t.kind === 'alias') base.lastSeen = String((await this.sources.aliasVersion(projectId, t.model, t.alias)) ?? 0);
      if (t.kind === 'alert') base.lastSeen = String(Math.max(0, ...(await this.sources.alertsSince(projectId, 0)).map((a) => a.eventId)));
      rows.push(base);
    }
    return rows;
  }

  /** One pass over every trigger; each fires at most once per pass. */
  async tick(now: number): Promise<void> {
    for (const t of await this.sql.triggers()) {
      try {
        await this.check(t, now);
      } catch (err) {
        this.logger.warn({ err, pipeline: t.pipeline, trigger: t.key, project_id: t.projectId }, 'pipeline trigger check failed; tried again at the next tick');
      }
    }
  }

  private async fire(t: TriggerRow, next: { nextTime: number; lastSeen: string }, detail: Record<string, unknown>): Promise<void> {
    if (!(await this.sql.advanceTrigger(t, next))) return; // another replica fired it
    const kind = t.kind === 'schedule' ? 'schedule' : t.kind;
    this.logger.info({ pipeline: t.pipeline, trigger: t.key, project_id: t.projectId, ...detail }, 'pipeline trigger fired');
    await this.start({ projectId: t.projectId, pipeline: t.pipeline, params: paramsText((t.config.params as Record<string, unknown>) ?? {}), trigger: { kind, detail } });
  }

  private async check(t: TriggerRow, now: number): Promise<void> {
    const c = t.config as Record<string, any>;
    if (t.kind === 'schedule') {
      if (t.nextTime > now) return;
      const next = nextAfter(parseCron(c.cron, c.timeZone ?? undefined), now);
      await this.fire(t, { nextTime: next, lastSeen: t.lastSeen }, { cron: c.cron, scheduled_for: t.nextTime });
    } else if (t.kind === 'dataset') {
      const v = await this.sources.latestDataset(t.projectId, c.dataset);
      if (v !== null && v > Number(t.lastSeen)) await this.fire(t, { nextTime: t.nextTime, lastSeen: String(v) }, { dataset: c.dataset, version: v });
    } else if (t.kind === 'alias') {
      const v = await this.sources.aliasVersion(t.projectId, c.model, c.alias);
      if (v !== null && String(v) !== t.lastSeen) await this.fire(t, { nextTime: t.nextTime, lastSeen: String(v) }, { model: c.model, alias: c.alias, version: v, previous: Number(t.lastSeen) || null });
    } else if (t.kind === 'alert') {
      const events = await this.sources.alertsSince(t.projectId, Number(t.lastSeen));
      if (events.length === 0) return;
      const last = events[events.length - 1].eventId;
      const match = events.filter((e) => (c.monitor === null || e.monitor === c.monitor) && (SEVERITY_RANK[e.severity] ?? 9) <= SEVERITY_RANK[c.minSeverity]);
      if (match.length === 0) {
        // Nothing for this trigger: remember how far it looked (losing this race only repeats the look).
        await this.sql.advanceTrigger(t, { nextTime: t.nextTime, lastSeen: String(last) });
        return;
      }
      const a = match[match.length - 1];
      await this.fire(t, { nextTime: t.nextTime, lastSeen: String(last) }, { alert_id: a.alertId, severity: a.severity, monitor: a.monitor, summary: a.summary, alerts: match.length });
    }
  }

  /**
   * A webhook request: its body must be signed with the pipeline's webhook secret
   * (`X-Capstan-Signature: sha256=<hex HMAC-SHA256 of the body>`; GitHub's X-Hub-Signature-256 also works).
   */
  async webhook(projectId: number, pipeline: string, body: Buffer, signature: string | undefined): Promise<unknown> {
    const t = (await this.sql.triggers(projectId, pipeline)).find((x) => x.kind === 'webhook');
    if (!t) throw notFound(`Pipeline '${pipeline}' has no webhook trigger in this project.`);
    const secret = await this.sources.secret(projectId, String(t.config.secret));
    const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
    const given = Buffer.from(signature ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new AppError('UNAUTHENTICATED', 'The webhook signature is missing or wrong: send X-Capstan-Signature: sha256=<hex HMAC-SHA256 of the body under the webhook secret>.');
    }
    let payload: Record<string, unknown> = {};
    if (body.length) {
      try {
        const parsed = JSON.parse(body.toString('utf8'));
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) payload = parsed as Record<string, unknown>;
      } catch {
        // A signed body that is not JSON still starts the run; it just carries no params.
      }
    }
    const given2 = payload.params && typeof payload.params === 'object' ? paramsText(payload.params as Record<string, unknown>) : {};
    return this.start({
      projectId, pipeline, params: { ...paramsText((t.config.params as Record<string, unknown>) ?? {}), ...given2 },
      trigger: { kind: 'webhook', detail: { bytes: body.length } },
    });
  }
}
