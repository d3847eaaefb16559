import { pageSize, type Fields } from '../server/fields.js';
import { defineRoute, type RouteContext, type RouteDef } from '../server/route.js';
import { appliedDocument } from '../spec/yaml.js';
import type { MonitoringService } from './monitoring.service.js';
import type { StoredMonitor } from './monitoring.sql.js';
import { monitorReportHtml } from './monitor-report-html.js';

type Input = Record<string, any>;
const BASE = '/api/capstan/monitors';
const NAME: Fields = { name: { type: 'string', required: true, doc: 'The monitor.' } };
const pid = (ctx: RouteContext) => ctx.project.projectId;
const onMonitor = (action: 'read' | 'write' | 'delete') => ({ action, resource: (i: Input, ctx: RouteContext) => ({ kind: 'monitor' as const, id: typeof i.name === 'string' ? i.name : undefined, projectId: ctx.project.projectId }) });

/** A report as its self-contained page: no script, nothing fetched, inline styles only. */
const sendReportPage = (ctx: RouteContext, report: unknown) =>
  ctx.reply.type('text/html; charset=utf-8').header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'").send(monitorReportHtml(report as Record<string, any>));

export const monitorToWire = (m: StoredMonitor) => ({ name: m.name, spec: m.spec, next_run_time: m.nextRunTime, created_time: m.createdTime, updated_time: m.updatedTime, updated_by: m.updatedBy });

/** Monitors, their runs and reports, reference profiles and feedback. Alerts, channels and cost are in alerting.routes.ts. */
export function monitoringRoutes(svc: MonitoringService, flush: () => Promise<void>): RouteDef[] {
  return [
    defineRoute({
      method: 'POST', path: `${BASE}/apply`, tag: 'monitoring', summary: 'Create or replace a monitor from its YAML or JSON document',
      fields: { spec: { type: 'any', doc: 'The monitor document as an object.' }, yaml: { type: 'string', doc: 'The monitor document as YAML text (what `capstan monitor apply -f` sends).' } },
      access: { action: 'write', resource: (i: Input, ctx) => ({ kind: 'monitor', id: typeof i.spec?.name === 'string' ? i.spec.name : undefined, projectId: ctx.project.projectId }) },
      handler: async (i, ctx) => {
        return { monitor: monitorToWire(await svc.apply(pid(ctx), appliedDocument(i, 'The monitor file'), ctx.principal.name)) };
      },
    }),
    defineRoute({
      method: 'GET', path: `${BASE}/list`, tag: 'monitoring', summary: "The project's monitors",
      access: { action: 'read', resource: (_i, ctx) => ({ kind: 'monitor', projectId: ctx.project.projectId }) },
      handler: async (_i, ctx) => ({ monitors: (await svc.list(pid(ctx))).map(monitorToWire) }),
    }),
    defineRoute({
      method: 'GET', path: `${BASE}/get`, tag: 'monitoring', summary: 'A monitor and its latest runs', fields: NAME, access: onMonitor('read'),
      handler: async (i, ctx) => ({ monitor: monitorToWire(await svc.get(pid(ctx), i.name)), runs: await svc.runs(pid(ctx), i.name, 10) }),
    }),
    defineRoute({
      method: 'DELETE', path: `${BASE}/delete`, tag: 'monitoring', summary: 'Delete a monitor (its runs and alerts stay for the record)', fields: NAME, access: onMonitor('delete'),
      handler: async (i, ctx) => {
        await svc.delete(pid(ctx), i.name);
        return {};
      },
    }),
    defineRoute({
      method: 'POST', path: `${BASE}/run`, tag: 'monitoring', summary: 'Run a monitor now over its window; stores the run and evaluates its alerts', fields: NAME, access: onMonitor('write'),
      handler: async (i, ctx) => {
        await flush();
        const o = await svc.run(await svc.get(pid(ctx), i.name));
        return { run: { status: o.status, mode: o.mode, rows: o.rows, window_start: o.windowStart, window_end: o.windowEnd, findings: o.findings } };
      },
    }),
    defineRoute({
      method: 'GET', path: `${BASE}/runs`, tag: 'monitoring', summary: "A monitor's runs, newest first, with their findings",
      fields: { ...NAME, max_results: { type: 'int' } }, access: onMonitor('read'),
      handler: async (i, ctx) => ({ runs: (await svc.runs(pid(ctx), i.name, pageSize(i.max_results, 100))).map((r) => ({ run_id: r.runId, time: r.time, window_start: r.windowStart, window_end: r.windowEnd, rows: r.rowCount, mode: r.mode, status: r.status, summary: r.summary })) }),
    }),
    defineRoute({
      method: 'GET', path: `${BASE}/report`, tag: 'monitoring', summary: "A run's full drift, quality and SLO report as JSON or a self-contained HTML page",
      fields: { ...NAME, run_id: { type: 'int', doc: 'Default: the latest run.' }, format: { type: 'string', enum: ['json', 'html'], doc: 'json (default) or html.' } }, access: onMonitor('read'),
      handler: async (i, ctx) => {
        const r = await svc.report(pid(ctx), i.name, i.run_id ?? null);
        if (i.format === 'html') return sendReportPage(ctx, r.report);
        return { run_id: r.runId, report: r.report };
      },
    }),
    defineRoute({
      method: 'GET', path: `${BASE}/deployment-report`, tag: 'monitoring', summary: "A drift and quality report over a deployment's recent traffic, without a monitor (nothing stored, no alerts)",
      fields: { deployment: { type: 'string', required: true }, window: { type: 'string', doc: 'How far back, e.g. 24h (default) or 7d.' }, format: { type: 'string', enum: ['json', 'html'], doc: 'json (default) or html.' } },
      access: { action: 'read', resource: (i: Input, ctx) => ({ kind: 'deployment', id: typeof i.deployment === 'string' ? i.deployment : undefined, projectId: ctx.project.projectId }) },
      handler: async (i, ctx) => {
        await flush();
        const report = await svc.deploymentReport(pid(ctx), i.deployment, i.window ?? '24h');
        if (i.format === 'html') return sendReportPage(ctx, report);
        return { report };
      },
    }),
    defineRoute({
      method: 'GET', path: `${BASE}/window-data`, tag: 'monitoring', summary: "A window's logged rows (features, predictions, labels) as CSV: what a retraining run reads",
      fields: { ...NAME, start: { type: 'int', required: true, doc: 'Window start, epoch ms.' }, end: { type: 'int', required: true, doc: 'Window end (exclusive), epoch ms.' } }, access: onMonitor('read'),
      handler: async (i, ctx) => {
        await flush();
        const csv = await svc.windowCsv(pid(ctx), i.name, i.start, i.end);
        return ctx.reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${i.name}-${i.start}-${i.end}.csv"`).send(csv);
      },
    }),
    defineRoute({
      method: 'POST', path: `${BASE}/profiles/create`, tag: 'monitoring', summary: "Build and store a model version's reference profile from its training data (CSV) or a window of traffic",
      fields: {
        model: { type: 'string', required: true }, version: { type: 'int', required: true },
        csv: { type: 'string', doc: 'The training data as CSV text (header first).' },
        dataset: { type: 'string', doc: 'Or a registered dataset holding the training data…' }, dataset_version: { type: 'int', doc: '…its version…' }, dataset_path: { type: 'string', doc: '…and the CSV file, when the version has several.' }, label_column: { type: 'string', doc: 'The CSV column holding the target; left out of the features.' },
        types: { type: 'string', doc: 'Column kinds, e.g. age=numerical,city=categorical; others are inferred.' },
        predict: { type: 'bool', doc: 'With csv: run the rows through the served version too, so prediction drift has a reference.' },
        deployment: { type: 'string', doc: 'Build from this deployment’s logged traffic instead of a CSV.' }, window: { type: 'string', doc: 'How much traffic, e.g. 1h (default) or 7d.' },
      },
      access: { action: 'write', resource: (i: Input, ctx) => ({ kind: 'model', id: typeof i.model === 'string' ? i.model : undefined, projectId: ctx.project.projectId }) },
      handler: async (i, ctx) => {
        if (i.deployment) await flush();
        return { profile: await svc.createProfile(pid(ctx), i as never, ctx.principal.name) };
      },
    }),
    defineRoute({
      method: 'GET', path: `${BASE}/profiles/get`, tag: 'monitoring', summary: "A model version's reference profile: columns, kinds, ranges, categories and sketches",
      fields: { model: { type: 'string', required: true }, version: { type: 'int', required: true } },
      access: { action: 'read', resource: (i: Input, ctx) => ({ kind: 'model', id: typeof i.model === 'string' ? i.model : undefined, projectId: ctx.project.projectId }) },
      handler: async (i, ctx) => ({ profile: await svc.profile(pid(ctx), i.model, i.version) }),
    }),
    defineRoute({
      method: 'POST', path: `${BASE}/feedback`, tag: 'monitoring', summary: 'Ground truth for answered requests, keyed by the request id the answer carried; all or nothing',
      fields: { deployment: { type: 'string', required: true }, labels: { type: 'any', required: true, doc: '[{"request_id": "…", "label": 1}]; a batch request takes one label per row: "label": [1, 0, 1].' } },
      access: { action: 'write', resource: (i: Input, ctx) => ({ kind: 'deployment', id: typeof i.deployment === 'string' ? i.deployment : undefined, projectId: ctx.project.projectId }) },
      handler: async (i, ctx) => ({ stored: await svc.feedback(pid(ctx), i.deployment, i.labels) }),
    }),
  ];
}
