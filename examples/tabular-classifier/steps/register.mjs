// Register: the chosen model becomes a new version of the registered model, with its model card,
// linked to this step's run (so lineage reaches back through the pipeline to the dataset).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { flags, report } from './common.mjs';

const { model, dir } = flags(['model', 'dir']);
const answer = JSON.parse(execFileSync('capstan', ['models', 'register', model, join(dir, 'model.onnx'), '--run', process.env.MLFLOW_RUN_ID, '--card', join(dir, 'card.json'), '--json'], { encoding: 'utf8' }));
const version = Number(answer.version ?? answer.model_version?.version);
console.log(`registered ${model} version ${version} (${answer.semver ?? ''}), manifest ${answer.manifest_digest ?? ''}`);
report({ version });
