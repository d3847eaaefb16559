// Deploy: the first version becomes the deployment's stable target; a later one goes out as a
// canary with an automatic analysis (error rate, latency, prediction drift against stable) that
// promotes it step by step or rolls it back.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { flags } from './common.mjs';

const { model, version, deployment } = flags(['model', 'version', 'deployment']);
let current = null;
try {
  current = JSON.parse(execFileSync('capstan', ['deployments', 'get', deployment, '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
} catch {
  // No deployment yet.
}
const stable = current?.deployment?.spec?.targets?.stable?.version ?? current?.spec?.targets?.stable?.version;
const lines = [`name: ${deployment}`, `model: ${model}`, 'prediction_log: {sample_rate: 0.1}'];
if (stable === undefined || String(stable) === String(version)) {
  lines.push('targets:', `  stable: {version: ${version}, weight: 100}`);
} else {
  lines.push('targets:', `  stable: {version: ${stable}, weight: 90}`, `  canary: {version: ${version}, weight: 10}`,
    'rollout:', '  canary: canary', '  stable: stable', '  steps: [10, 50, 100]', '  interval_seconds: 60', '  window_seconds: 120',
    '  slo: {max_error_rate: 0.01, max_latency_p95_ms: 100, max_prediction_psi: 0.25, min_requests: 50}');
}
writeFileSync('deployment.yaml', `${lines.join('\n')}\n`);
console.log(execFileSync('capstan', ['deploy', '-f', 'deployment.yaml'], { encoding: 'utf8' }));
console.log(stable === undefined ? `deployed ${model} version ${version} as ${deployment}` : `canary: ${model} version ${version} next to stable version ${stable}`);
