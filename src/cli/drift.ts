import { readFile, writeFile } from 'node:fs/promises';
import { parseCsv } from '../monitoring/stats/csv.js';
import { driftReportHtml } from '../monitoring/stats/report-html.js';
import { driftReport, parseTypes, type ColumnReport } from '../monitoring/stats/report.js';
import { fail, printRows } from './output.js';
import { parseCommand } from './remote.js';

const USAGE = `capstan drift REFERENCE.csv CURRENT.csv [--types name=numerical,city=categorical] [--json] [--html report.html]
  Drift and data-quality report of two CSV files with the same columns, computed here without a server.
  Columns not named in --types are inferred (reported as such). Exit 0 either way; the JSON's
  dataset.evidently.dataset_drift says whether the dataset drifted.`;

const OPTIONS = {
  types: { type: 'string' },
  json: { type: 'boolean', default: false },
  html: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

const short = (v: number | null | undefined) => (v === null || v === undefined ? '' : Math.abs(v) >= 1e-3 || v === 0 ? v.toFixed(4) : v.toExponential(2));

function row(c: ColumnReport) {
  const d = c.drift;
  if ('skipped' in d) return { column: c.name, type: `${c.type}${c.type_source === 'inferred' ? '*' : ''}`, method: '', score: '', drift: `skipped: ${d.skipped}`, missing: '' };
  return {
    column: c.name, type: `${c.type}${c.type_source === 'inferred' ? '*' : ''}`, method: d.evidently.auto_method, score: short(d.evidently.auto_score),
    drift: d.evidently.auto_drift_detected ? 'DRIFT' : 'ok', missing: `${short(c.reference.missing_share)} → ${short(c.current.missing_share)}`,
  };
}

export async function driftCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseCommand(argv, OPTIONS, USAGE);
  if (positionals.length !== 2) fail(`expected REFERENCE.csv and CURRENT.csv\nusage: ${USAGE}`);
  const read = (file: string) => readFile(file, 'utf8').catch((err: Error) => fail(`cannot read ${file}: ${err.message}`));
  const [refText, curText] = await Promise.all(positionals.map(read));
  const report = driftReport(parseCsv(refText, positionals[0]), parseCsv(curText, positionals[1]), parseTypes(values.types));
  if (values.html) await writeFile(values.html, driftReportHtml(report, `Drift: ${positionals[1]} against ${positionals[0]}`));
  if (values.json) {
    process.stdout.write(`${JSON.stringify(report, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2)}\n`);
    return;
  }
  printRows(report.columns.map(row), ['column', 'type', 'method', 'score', 'drift', 'missing'], false);
  const ds = report.dataset.evidently;
  process.stdout.write(`\n${ds.n_drifted} of ${ds.n_columns_tested} columns drifted: ${ds.dataset_drift ? 'DATASET DRIFT' : 'no dataset drift'}${report.columns.some((c) => c.type_source === 'inferred') ? '  (* type inferred)' : ''}\n`);
  if (values.html) process.stdout.write(`report written to ${values.html}\n`);
}
