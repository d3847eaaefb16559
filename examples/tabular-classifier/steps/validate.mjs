// Validate: the table has the expected schema (30 numeric features and a 0/1 target), no missing
// values, and both classes in a plausible balance; any problem fails the step with its reason.
import { readFileSync, writeFileSync } from 'node:fs';
import { fail, flags, report } from './common.mjs';

const { data, out } = flags(['data', 'out']);
const lines = readFileSync(data, 'utf8').split(/\r?\n/).filter((l) => l.trim() !== '');
const columns = lines[0].split(',');
const problems = [];
if (columns.length !== 31) problems.push(`expected 31 columns (30 features and target), found ${columns.length}`);
if (columns[columns.length - 1] !== 'target') problems.push(`the last column is '${columns[columns.length - 1]}', not 'target'`);
let missing = 0;
let positives = 0;
lines.slice(1).forEach((line, i) => {
  const cells = line.split(',');
  if (cells.length !== columns.length) problems.push(`line ${i + 2}: ${cells.length} values`);
  cells.forEach((c, j) => {
    if (c.trim() === '') missing++;
    else if (!Number.isFinite(Number(c))) problems.push(`line ${i + 2}, ${columns[j]}: ${JSON.stringify(c)} is not a number`);
  });
  const y = cells[cells.length - 1];
  if (y !== '0' && y !== '1') problems.push(`line ${i + 2}: target ${JSON.stringify(y)} is not 0 or 1`);
  if (y === '1') positives++;
});
const rows = lines.length - 1;
const facts = { rows, null_fraction: missing / (rows * columns.length), positive_fraction: positives / rows };
writeFileSync(out, JSON.stringify({ ...facts, problems: problems.slice(0, 50) }, null, 2));
report(facts);
if (rows < 100) problems.push(`only ${rows} rows`);
if (facts.positive_fraction < 0.1 || facts.positive_fraction > 0.9) problems.push(`class balance ${facts.positive_fraction.toFixed(3)} is outside 0.1–0.9`);
if (problems.length) fail(`the data did not validate:\n${problems.slice(0, 20).join('\n')}`);
console.log(`${rows} rows, ${columns.length - 1} features: valid`);
