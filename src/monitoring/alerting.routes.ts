import { invalidParam, notFound } from '../errors/index.js';
import { pageSize } from '../server/fields.js';
import { defineRoute, type RouteContext, type RouteDef } from '../server/route.js';
import { SEVERITIES, durationSeconds } from './monitor-spec.js';
import type { AlertsSql, Channel, StoredAlert } from './alerts.sql.js';
import type { AlertManager } from './alert-manager.js';
import type { CostService } from './cost.service.js';

type Input = Record<string, any>;
const BASE = '/api/capstan/alerts';
const COST = '/api/capstan/cost';
const pid = (ctx: RouteContext) => ctx.project.projectId;
const on = (kind: 'monitor', action: 'read' | 'write' | 'admin') => ({ action, resource: (_i: Input, ctx: RouteContext) => ({ kind, projectId: ctx.project.projectId }) });
const CHANNEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

const alertToWire = (a: StoredAlert) => ({ alert_id: a.alertId, fingerprint: a.fingerprint, rule: a.rule, severity: a.severity, status: a.status, labels: a.labels, summary: a.summary, state: a.state, updated_time: a.updatedTime });
/** A channel's URL may carry a credential (Slack's do): only scheme and host are shown. */
const channelToWire = (c: Channel) => ({ name: c.name, kind: c.kind, url: `${new URL(c.url).origin}/…`, min_severity: c.minSeverity, secret_name: c.secretName || null });

export function alertingRoutes(sql: AlertsSql, alerts: AlertManager, cost: CostService): RouteDef[] {
  return [
    defineRoute({
      method: 'GET', path: `${BASE}/list`, tag: 'monitoring', summary: "The project's alerts, most recently changed first",
      fields: { status: { type: 'string', enum: ['firing', 'resolved'] }, max_results: { type: 'int' } }, access: on('monitor', 'read'),
      handler: async (i, ctx) => ({ alerts: (await sql.alerts(pid(ctx), i.status ?? null, pageSize(i.max_results, 200))).map(alertToWire) }),
    }),
    defineRoute({
      method: 'GET', path: `${BASE}/get`, tag: 'monitoring', summary: 'An alert with its history (fired, notified, silenced, resolved)',
      fields: { alert_id: { type: 'int', required: true }, max_results: { type: 'int' } }, access: on('monitor', 'read'),
      handler: async (i, ctx) => {
        const a = await sql.alert(pid(ctx), i.alert_id);
        if (!a) throw notFound(`No alert ${i.alert_id} in this project.`);
        return { alert: alertToWire(a), events: await sql.events(a.alertId, pageSize(i.max_results, 100)) };
      },
    }),
    defineRoute({
      method: 'POST', path: `${BASE}/silences/create`, tag: 'monitoring', summary: 'Mute notifications of alerts whose labels match, for a while (the alerts are still recorded)',
      fields: {
        matchers: { type: 'any', required: true, doc: '[{"label": "deployment", "value": "fraud"}, {"label": "rule", "value": "slo:.*", "is_regex": true}]' },
        duration: { type: 'string', required: true, doc: 'How long, e.g. 2h or 1d.' }, comment: { type: 'string', required: true, doc: 'Why (shown with the silence).' },
      },
      access: on('monitor', 'write'),
      handler: async (i, ctx) => {
        if (!Array.isArray(i.matchers) || i.matchers.length === 0) throw invalidParam('matchers must be a non-empty list of {label, value, is_regex?, is_equal?}.');
        const matchers = i.matchers.map((m: Input, n: number) => {
          if (!m || typeof m !== 'object' || typeof m.label !== 'string' || typeof m.value !== 'string') throw invalidParam(`matchers[${n}] must be {label: string, value: string, is_regex?: bool, is_equal?: bool}.`);
          return { label: m.label, value: m.value, isRegex: m.is_regex === true, isEqual: m.is_equal !== false };
        });
        const now = Date.now();
        const id = await alerts.silence(pid(ctx), { matchers, startsAt: now, endsAt: now + durationSeconds(i.duration, 'duration') * 1000, createdBy: ctx.principal.name, comment: i.comment });
        return { silence_id: id };
      },
    }),
    defineRoute({
      method: 'GET', path: `${BASE}/silences/list`, tag: 'monitoring', summary: "The project's silences, active and expired", access: on('monitor', 'read'),
      handler: async (_i, ctx) => {
        const now = Date.now();
        return { silences: (await sql.silences(pid(ctx), null)).map((s) => ({ silence_id: s.silenceId, matchers: s.matchers, starts_time: s.startsTime, ends_time: s.endsTime, active: s.startsTime <= now && now < s.endsTime, created_by: s.createdBy, comment: s.comment })) };
      },
    }),
    defineRoute({
      method: 'POST', path: `${BASE}/silences/expire`, tag: 'monitoring', summary: 'End a silence now', fields: { silence_id: { type: 'int', required: true } }, access: on('monitor', 'write'),
      handler: async (i, ctx) => {
        if (!(await sql.expireSilence(pid(ctx), i.silence_id, Date.now()))) throw notFound(`No active silence ${i.silence_id} in this project.`);
        return {};
      },
    }),
    defineRoute({
      method: 'POST', path: `${BASE}/channels/put`, tag: 'monitoring', summary: 'Create or replace a notification channel (generic JSON webhook or Slack-compatible)',
      fields: {
        name: { type: 'string', required: true }, kind: { type: 'string', required: true, enum: ['webhook', 'slack'] }, url: { type: 'string', required: true, sensitive: true },
        min_severity: { type: 'string', enum: SEVERITIES, doc: 'Least severe alert sent here (default P3: all).' }, secret_name: { type: 'string', doc: 'A project secret: bodies are signed with HMAC-SHA256 in X-Capstan-Signature.' },
      },
      access: on('monitor', 'admin'),
      handler: async (i, ctx) => {
        if (!CHANNEL_NAME.test(i.name)) throw invalidParam(`Channel name '${i.name}' must be letters, digits, '_', '.' or '-'.`);
        let url: URL;
        try {
          url = new URL(i.url);
        } catch {
          throw invalidParam('url must be an absolute http(s) URL.');
        }
        if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalidParam('url must be an http(s) URL.');
        await sql.putChannel(pid(ctx), { name: i.name, kind: i.kind, url: url.toString(), minSeverity: i.min_severity ?? 'P3', secretName: i.secret_name ?? '' });
        return {};
      },
    }),
    defineRoute({
      method: 'GET', path: `${BASE}/channels/list`, tag: 'monitoring', summary: "The project's notification channels (URLs shown as scheme and host only)", access: on('monitor', 'read'),
      handler: async (_i, ctx) => ({ channels: (await sql.channels(pid(ctx))).map(channelToWire) }),
    }),
    defineRoute({
      method: 'DELETE', path: `${BASE}/channels/delete`, tag: 'monitoring', summary: 'Delete a notification channel', fields: { name: { type: 'string', required: true } }, access: on('monitor', 'admin'),
      handler: async (i, ctx) => {
        if (!(await sql.deleteChannel(pid(ctx), i.name))) throw notFound(`No channel named '${i.name}' in this project.`);
        return {};
      },
    }),
    defineRoute({
      method: 'GET', path: `${COST}/report`, tag: 'monitoring', summary: 'Serving cost by deployment, model version, owner and cost center, priced by the rate card',
      fields: { start: { type: 'int', doc: 'Epoch ms; default the start of this month (UTC).' }, end: { type: 'int', doc: 'Epoch ms; default now.' } }, access: on('monitor', 'read'),
      handler: async (i, ctx) => ({ cost: await cost.report(pid(ctx), i.start, i.end) }),
    }),
    defineRoute({
      method: 'GET', path: `${COST}/idle`, tag: 'monitoring', summary: 'Deployments without a request for N days: candidates to scale down',
      fields: { days: { type: 'int', doc: 'Default cost.idle_days.' } }, access: on('monitor', 'read'),
      handler: async (i, ctx) => ({ idle: await cost.idle(pid(ctx), i.days) }),
    }),
    defineRoute({
      method: 'GET', path: `${COST}/budget`, tag: 'monitoring', summary: "The project's monthly budget and what this month has cost so far", access: on('monitor', 'read'),
      handler: async (_i, ctx) => ({ budget: await cost.budget(pid(ctx)) }),
    }),
    defineRoute({
      method: 'POST', path: `${COST}/budget`, tag: 'monitoring', summary: 'Set (or clear with null) the monthly budget; alerts fire at 80% (P3) and 100% (P2)',
      fields: { monthly_limit: { type: 'any', required: true, doc: 'An amount in cost.currency, or null to remove the budget.' } }, access: on('monitor', 'admin'),
      handler: async (i, ctx) => {
        const v = i.monthly_limit;
        if (v !== null && (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)) throw invalidParam('monthly_limit must be a positive number, or null.');
        await cost.setBudget(pid(ctx), v, ctx.principal.name, Date.now());
        return { budget: await cost.budget(pid(ctx)) };
      },
    }),
  ];
}
