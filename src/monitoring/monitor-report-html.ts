// A monitor run as one self-contained HTML page: findings, latency and SLOs, data and model
// quality, then the per-column drift plots (exact runs) or the sketch statistics.
import { driftReportHtml } from './stats/report-html.js';
import type { DriftReport } from './stats/report.js';

const esc = (s: unknown) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const num = (v: unknown, digits = 4) => (typeof v === 'number' && Number.isFinite(v) ? (Number.isInteger(v) ? String(v) : v.toPrecision(digits)) : '—');
type R = Record<string, any>;

function table(headers: string[], rows: unknown[][]): string {
  if (rows.length === 0) return '<p><small>none</small></p>';
  return `<table><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${rows.map((r) => `<tr>${r.map((c) => `<td>${typeof c === 'number' ? num(c) : esc(c)}</td>`).join('')}</tr>`).join('')}</table>`;
}

function summary(report: R): string {
  const findings = (report.findings ?? []) as R[];
  const slos = (report.slos ?? []) as R[];
  const drift = (report.drift ?? {}) as R;
  const quality = (report.data_quality ?? {}) as R;
  const mq = (report.model_quality ?? null) as R | null;
  return `<p>Deployment <strong>${esc(report.deployment)}</strong>, window ${esc(new Date(report.window.start).toISOString())} – ${esc(new Date(report.window.end).toISOString())},
${num(report.window.rows)} rows, mode <strong>${esc(report.mode)}</strong>, status <strong>${esc(report.status)}</strong>. Reference: ${report.reference ? `${esc(report.reference.model)} v${esc(report.reference.version)}` : 'none'}.</p>
<h2>Findings</h2>${table(['rule', 'severity', 'summary'], findings.map((f) => [f.rule, f.severity, f.summary]))}
<h2>Latency and SLOs</h2><p>${num(report.latency?.requests)} requests, ${num(report.latency?.errors)} server errors; p50 ${num(report.latency?.p50)} ms, p95 ${num(report.latency?.p95)} ms, p99 ${num(report.latency?.p99)} ms.</p>
${table(['SLO', 'kind', 'objective', 'SLI', 'budget left'], slos.map((s) => [s.name, s.kind, s.budget?.objective, s.budget?.sli, s.budget?.budget_remaining_fraction]))}
<h2>Drift</h2><p>Features drifted: ${num(drift.feature_drift_share)} (${esc((drift.drifted_features ?? []).join(', ') || 'none')}); predictions: ${num(drift.prediction_drift_share)}.</p>
${table(['column', 'role', 'method', 'score', 'effect', 'test', 'counted'], ((drift.columns ?? []) as R[]).map((c) => [c.name, c.role, c.method ?? c.skipped ?? '', c.score, c.effect, c.test_drift ? 'drift' : '', c.drifted ? 'DRIFT' : '']))}
<h2>Data quality</h2>${(quality.schema ?? []).map((s: string) => `<p class="bad">${esc(s)}</p>`).join('')}
${table(['column', 'rows', 'missing', 'out of range', 'unseen', 'problems'], ((quality.columns ?? []) as R[]).map((c) => [c.name, c.rows, c.missing_share, c.out_of_range_share ?? '', c.unseen_share ?? '', (c.problems ?? []).join('; ')]))}
<h2>Model quality</h2>${mq ? (mq.evaluated ? table(['metric', 'value'], Object.entries(mq.metrics ?? {})) + `<p><small>${num(mq.labelled_rows)} labelled rows</small></p>` : `<p>${esc(mq.reason)}</p>`) : '<p><small>not configured</small></p>'}`;
}

function sketchTable(stats: R): string {
  return table(['column', 'kind', 'method', 'score', 'PSI (deciles)', 'JS (base 2)', 'KS D', '± bound', 'W normed'], ((stats.columns ?? []) as R[]).map((c) => {
    const d = c.drift ?? {};
    if (d.skipped) return [c.name, c.kind, `skipped: ${d.skipped}`, '', '', '', '', '', ''];
    return [c.name, c.kind, d.decision?.auto_method, d.decision?.auto_score, d.binned_q10?.psi ?? d.psi, d.binned_q10?.js_base2 ?? d.js_base2, d.ks?.statistic ?? '', d.ks?.statistic_error_bound ?? '', d.wasserstein?.normed ?? ''];
  }));
}

export function monitorReportHtml(report: R): string {
  const title = `Capstan monitor ${report.monitor}`;
  const stats = report.drift?.statistics as DriftReport | R | null | undefined;
  const head = summary(report);
  if (stats && report.mode === 'exact') {
    return driftReportHtml(stats as DriftReport, title).replace(/<body><h1>([^<]*)<\/h1>/, (m) => `${m}${head}<h2>Columns: reference vs current</h2>`);
  }
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><style>
body{font:14px system-ui,sans-serif;margin:2rem;color:#1b1f24;background:#fff}@media (prefers-color-scheme:dark){body{color:#e6e6e6;background:#16181c}}
th{text-align:left;padding-right:1rem;font-weight:500}td{padding-right:1rem}.bad{color:#d33}small{color:#888}
</style></head><body><h1>${esc(title)}</h1>${head}${stats ? `<h2>Sketch statistics</h2><p><small>From constant-memory profiles; KS within ± its error bound.</small></p>${sketchTable(stats as R)}` : ''}</body></html>
`;
}
