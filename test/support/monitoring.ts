import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { assertOk, call } from './inject.js';

const lines = readFileSync(new URL('../fixtures/datasets/breast_cancer.csv', import.meta.url), 'utf8').trim().split('\n').slice(1);
const inFileOrder = lines.map((l) => l.split(',').map(Number));

/** breast_cancer.csv with named columns f0..f29 and label (the file starts with scikit-learn's own header line). */
export const cancerCsv = [[...Array.from({ length: 30 }, (_, i) => `f${i}`), 'label'].join(','), ...lines].join('\n');

// The file lists most malignant cases first: traffic is a seeded shuffle, so 200 rows look like the whole.
let seed = 7;
const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
export const cancerRows = inFileOrder.map((r) => [random(), r] as const).sort((a, b) => a[0] - b[0]).map(([, r]) => r);

/** Sends rows [from, from + count) in batches of 10, features scaled by `factor`; returns each request's id and its rows' labels. */
export async function cancerTraffic(app: FastifyInstance, deployment: string, from: number, count: number, factor = 1, tag = ''): Promise<{ id: string; labels: number[] }[]> {
  const sent = [];
  for (let i = from; i < from + count; i += 10) {
    const batch = cancerRows.slice(i, i + 10);
    const data = batch.flatMap((r) => r.slice(0, 30).map((v) => v * factor));
    const id = `req-${tag}-${factor}-${i}`;
    assertOk(await call(app, 'POST', `/v2/models/${deployment}/infer`, { id, inputs: [{ name: 'input', datatype: 'FP32', shape: [batch.length, 30], data }] }, { 'x-request-id': id }));
    sent.push({ id, labels: batch.map((r) => r[30]) });
  }
  return sent;
}
