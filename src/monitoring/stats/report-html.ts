import type { ColumnReport, DriftReport } from './report.js';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const fmt = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(4)) : String(v));

/** Reference and current shares per bin as paired bars, in an inline SVG (no script, nothing fetched). */
function bars(labels: string[], ref: number[], cur: number[]): string {
  const nRef = ref.reduce((a, b) => a + b, 0) || 1;
  const nCur = cur.reduce((a, b) => a + b, 0) || 1;
  const p = ref.map((c) => c / nRef);
  const q = cur.map((c) => c / nCur);
  const top = Math.max(...p, ...q, 1e-9);
  const w = 28;
  const h = 120;
  const parts = labels.map((label, i) => {
    const x = 30 + i * (w + 8);
    const hp = (p[i] / top) * h;
    const hq = (q[i] / top) * h;
    return `<rect x="${x}" y="${10 + h - hp}" width="${w / 2}" height="${hp}" class="r"><title>reference ${esc(label)}: ${(p[i] * 100).toFixed(1)}%</title></rect>` +
      `<rect x="${x + w / 2}" y="${10 + h - hq}" width="${w / 2}" height="${hq}" class="c"><title>current ${esc(label)}: ${(q[i] * 100).toFixed(1)}%</title></rect>` +
      `<text x="${x + w / 2}" y="${h + 24}" text-anchor="middle">${esc(label.length > 6 ? `${label.slice(0, 5)}…` : label)}</text>`;
  });
  return `<svg width="${40 + labels.length * (w + 8)}" height="${h + 32}" role="img" aria-label="reference and current distribution">${parts.join('')}</svg>`;
}

function plot(c: ColumnReport): string {
  const d = c.drift;
  if ('skipped' in d) return `<p class="skip">skipped: ${esc(d.skipped)} (reference ${d.n_ref}, current ${d.n_cur} values)</p>`;
  if ('binned_q10' in d) {
    const e = d.binned_q10.edges;
    const labels = d.binned_q10.ref_counts.map((_, i) => (i === 0 ? `≤${fmt(e[0])}` : i === e.length ? `>${fmt(e[e.length - 1])}` : `≤${fmt(e[i])}`));
    return bars(labels, d.binned_q10.ref_counts, d.binned_q10.cur_counts);
  }
  if (d.ref_counts && d.cur_counts) return bars(d.categories, d.ref_counts, d.cur_counts);
  return '<p>more than 60 categories: no plot</p>';
}

function facts(c: ColumnReport): string {
  const d = c.drift;
  if ('skipped' in d) return '';
  const rows: [string, unknown][] = 'ks' in d
    ? [['KS p-value', d.ks.pvalue], ['KS statistic', d.ks.statistic], ['PSI (deciles)', d.binned_q10.psi], ['Wasserstein (normed)', d.wasserstein.normed]]
    : [['chi² contingency p', d.chi2_contingency.pvalue], ['PSI', d.psi], ['L∞', d.l_infinity], ['new in current', d.new_in_current.join(', ') || '—']];
  rows.push(['Evidently method', d.evidently.auto_method], ['Evidently score', d.evidently.auto_score], ['missing (ref → cur)', `${fmt(c.reference.missing_share)} → ${fmt(c.current.missing_share)}`]);
  return `<table>${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(fmt(v))}</td></tr>`).join('')}</table>`;
}

/** A self-contained page: dataset verdict, then per column its plot and key statistics. */
export function driftReportHtml(report: DriftReport, title = 'Capstan drift report'): string {
  const ds = report.dataset.evidently;
  const cols = report.columns.map((c) => {
    const drifted = !('skipped' in c.drift) && c.drift.evidently.auto_drift_detected;
    return `<section class="${drifted ? 'drift' : ''}"><h2>${esc(c.name)} <small>${c.type} (${c.type_source})${drifted ? ' — drift' : ''}</small></h2>${plot(c)}${facts(c)}</section>`;
  });
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><style>
body{font:14px system-ui,sans-serif;margin:2rem;color:#1b1f24;background:#fff}
@media (prefers-color-scheme:dark){body{color:#e6e6e6;background:#16181c}text{fill:#ccc}}
section{border:1px solid #8884;border-radius:6px;padding:1rem;margin:1rem 0}section.drift{border-color:#d33}
.r{fill:#4a7bd0}.c{fill:#e08a2b}text{font-size:10px;fill:#555}th{text-align:left;padding-right:1rem;font-weight:500}small{color:#888}
</style></head><body><h1>${esc(title)}</h1>
<p>${ds.n_drifted} of ${ds.n_columns_tested} columns drifted (share ${fmt(ds.share_drifted)}): <strong>${ds.dataset_drift ? 'dataset drift' : 'no dataset drift'}</strong>.
Reference ${report.dataset.n_rows_reference} rows, current ${report.dataset.n_rows_current} rows. Bars: <span style="color:#4a7bd0">reference</span> vs <span style="color:#e08a2b">current</span> share per bin.</p>
${cols.join('\n')}</body></html>
`;
}
