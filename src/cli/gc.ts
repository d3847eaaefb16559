import type { WireGcReport } from '../client/index.js';
import { fail, printRows } from './output.js';
import { clientFor, parseCommand, REMOTE_OPTIONS } from './remote.js';

const USAGE = `capstan gc [--dry-run] [--grace-hours N] [--purge-deleted-runs-days D] [--url URL] [--json]
  applies each project's retention rules, then removes every artifact file nothing refers to (owners only)
  --dry-run                    report what would go; change nothing
  --grace-hours N              keep uploads younger than N hours, as still in flight (server default 24)
  --purge-deleted-runs-days D  also remove the files of runs deleted more than D days ago`;

const OPTIONS = {
  ...REMOTE_OPTIONS,
  'dry-run': { type: 'boolean', default: false },
  'grace-hours': { type: 'string' },
  'purge-deleted-runs-days': { type: 'string' },
} as const;

function nonNegative(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0) fail(`--${flag} must be a number of zero or more, not '${text}'`);
  return n;
}

/** 1536 -> '1.5 KiB'; below 1 KiB the exact count. */
function sizeText(bytes: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  if (bytes < 1024) return `${bytes} B`;
  let value = bytes;
  let unit = -1;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

function printReport(report: WireGcReport): void {
  const would = report.dry_run;
  const out = (text: string) => process.stdout.write(`${text}\n`);
  if (report.retention.length > 0) {
    out(`retention ${would ? 'would delete' : 'deleted'} ${report.retention.length} model version${report.retention.length === 1 ? '' : 's'}:`);
    printRows(report.retention, ['project_id', 'name', 'version', 'reason'], false);
    out('');
  }
  if (report.removed.length === 0) out(would ? 'nothing to remove' : 'nothing removed');
  else {
    out(would ? 'would remove:' : 'removed:');
    printRows(report.removed.map((r) => ({ ...r, size: sizeText(r.bytes) })), ['prefix', 'files', 'bytes', 'size', 'reason'], false);
  }
  if (report.skipped.length > 0) {
    out('');
    out('kept although a removal rule matched:');
    printRows(report.skipped, ['prefix', 'reason'], false);
  }
  const files = report.removed.reduce((n, r) => n + r.files, 0);
  const prefixes = `${report.removed.length} prefix${report.removed.length === 1 ? '' : 'es'}`;
  out('');
  out(`${would ? 'dry run: would remove' : 'removed'} ${prefixes}, ${files} file${files === 1 ? '' : 's'}, ${report.bytes_removed} bytes (${sizeText(report.bytes_removed)}); kept ${report.kept}`);
}

export async function gcCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseCommand(argv, OPTIONS, USAGE);
  if (positionals.length > 0) fail(`unexpected argument '${positionals[0]}'\nusage: ${USAGE}`);
  const req = {
    dry_run: values['dry-run'] as boolean,
    grace_hours: nonNegative('grace-hours', values['grace-hours']),
    purge_deleted_runs_older_than_days: nonNegative('purge-deleted-runs-days', values['purge-deleted-runs-days']),
  };
  const report = await clientFor(values).collectGarbage(req);
  if (values.json) printRows([], [], true, report);
  else printReport(report);
}
