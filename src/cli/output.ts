/** Prints rows as an aligned table, or as JSON with --json. */
export function printRows(rows: readonly object[], columns: string[], json: boolean, raw: unknown = rows): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(raw, null, 2)}\n`);
    return;
  }
  const cells = rows.map((r) => columns.map((c) => cellOf((r as Record<string, unknown>)[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  process.stdout.write(`${[line(columns.map((c) => c.toUpperCase())), ...cells.map(line)].join('\n')}\n`);
}

export function fail(message: string, code = 2): never {
  process.stderr.write(`capstan: ${message}\n`);
  process.exit(code);
}

const cellOf = (v: unknown): string => (v === undefined || v === null ? '' : Array.isArray(v) ? v.join(',') : String(v));
