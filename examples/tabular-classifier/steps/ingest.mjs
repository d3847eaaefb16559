// Ingest: copies the source CSV into the run as `table.csv` and registers it as a Capstan dataset
// version (the same content is the same version), so every model trained from it has lineage.
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { fail, flags, inExample, report } from './common.mjs';

const { data, dataset, out } = flags(['data', 'dataset', 'out']);
const source = inExample(data);
const header = readFileSync(source, 'utf8').split('\n', 1)[0];
if (!header.split(',').includes('target')) fail(`${source} has no 'target' column`);
copyFileSync(source, out);
console.log(`copied ${source}`);
if (process.env.CAPSTAN_URL && dataset) {
  const answer = JSON.parse(execFileSync('capstan', ['datasets', 'register', dataset, out, '--json', '--description', 'Breast Cancer Wisconsin (Diagnostic), UCI'], { encoding: 'utf8' }));
  const version = answer.dataset_version?.version ?? answer.version;
  console.log(`registered dataset ${dataset} version ${version}`);
  report({ dataset_version: version });
} else report({ dataset_version: 0 });
