import { invalidParam } from '../errors/index.js';
import { insertRows, placeholders, type Db, type SqlExecutor, type SqlValue } from '../store/sql/index.js';
import { decodeChunk, encodeChunk, mergeChunks, seriesLength, sliceSeries, startAfter, type Point, type Series } from './metric-chunks.js';
import type { Batch, DatasetInput, KeyValue, Metric, Run, RunRef } from './types.js';
import { lastPerKey } from './validation.js';

interface MetricRow {
  run_id: number;
  key: string;
  value: number;
  timestamp: number;
  step: number;
  is_nan: number;
}

export function metricOf(row: MetricRow): Metric {
  return { key: row.key, value: row.is_nan ? NaN : row.value, timestamp: row.timestamp, step: row.step };
}

/** NaN is stored as value 0 with is_nan = 1 (SQLite turns a NaN REAL into NULL). */
function metricColumns(m: Metric): [number, number] {
  return Number.isNaN(m.value) ? [1, 0] : [0, m.value];
}

async function writeParams(tx: SqlExecutor, run: RunRef, params: KeyValue[]): Promise<void> {
  if (params.length === 0) return;
  await insertRows(tx, 'INSERT INTO params (run_id, key, value)', 3, params.map((p) => [run.id, p.key, p.value]), 'ON CONFLICT (run_id, key) DO NOTHING');
  // Re-read after the insert: under concurrency the row may come from another transaction.
  const stored = await tx.all<{ key: string; value: string }>(
    `SELECT key, value FROM params WHERE run_id = ? AND key IN (${placeholders(params.length)})`,
    [run.id, ...params.map((p) => p.key)],
  );
  const byKey = new Map(stored.map((r) => [r.key, r.value]));
  for (const p of params) {
    const old = byKey.get(p.key);
    if (old !== p.value) {
      throw invalidParam(
        `Changing param values is not allowed. Param with key='${p.key}' was already logged with value='${old}' for run ID='${run.runId}'. Attempted logging new value '${p.value}'.`,
      );
    }
  }
}

/** One chunk row per key for the whole batch, and the latest point per key kept current. */
async function writeMetrics(tx: SqlExecutor, run: RunRef, metrics: Metric[]): Promise<void> {
  if (metrics.length === 0) return;
  const byKey = new Map<string, Point[]>();
  for (const m of metrics) {
    const list = byKey.get(m.key);
    const p = { step: m.step, timestamp: m.timestamp, value: m.value };
    if (list) list.push(p);
    else byKey.set(m.key, [p]);
  }
  const chunkRows: SqlValue[][] = [];
  const latestRows: SqlValue[][] = [];
  for (const [key, points] of byKey) {
    const data = encodeChunk(points);
    const n = data.length / 24;
    const cols = new Float64Array(data.buffer, data.byteOffset, 3 * n);
    chunkRows.push([run.id, key, cols[0]!, cols[n - 1]!, n, data]);
    const last = { step: cols[n - 1]!, timestamp: cols[2 * n - 1]!, value: cols[3 * n - 1]! };
    latestRows.push([run.id, key, last.step, last.timestamp, ...metricColumns({ key, ...last })]);
  }
  await insertRows(tx, 'INSERT INTO metric_chunks (run_id, key, min_step, max_step, points, data)', 6, chunkRows);
  await insertRows(
    tx,
    'INSERT INTO latest_metrics (run_id, key, step, timestamp, is_nan, value)',
    6,
    latestRows,
    `ON CONFLICT (run_id, key) DO UPDATE SET step = excluded.step, timestamp = excluded.timestamp, is_nan = excluded.is_nan, value = excluded.value
     WHERE (excluded.step, excluded.timestamp, excluded.is_nan, excluded.value) > (latest_metrics.step, latest_metrics.timestamp, latest_metrics.is_nan, latest_metrics.value)`,
  );
}

export async function writeTags(tx: SqlExecutor, run: RunRef, tags: KeyValue[]): Promise<void> {
  if (tags.length === 0) return;
  await insertRows(tx, 'INSERT INTO tags (run_id, key, value)', 3, tags.map((t) => [run.id, t.key, t.value]), 'ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value');
  const runName = tags.findLast((t) => t.key === 'mlflow.runName');
  if (runName) await tx.run('UPDATE runs SET name = ? WHERE run_id = ?', [runName.value, run.id]);
}

export async function logBatch(db: Db, run: RunRef, batch: Batch): Promise<void> {
  await db.transaction(async (tx) => {
    await writeParams(tx, run, batch.params);
    await writeTags(tx, run, batch.tags);
    await writeMetrics(tx, run, batch.metrics);
  });
}

export async function logInputs(db: Db, run: RunRef, inputs: DatasetInput[]): Promise<void> {
  await db.transaction(async (tx) => {
    for (const input of inputs) {
      const d = input.dataset;
      const row = await tx.get<{ dataset_id: number }>(
        `INSERT INTO datasets (experiment_id, name, digest, source_type, source, schema, profile) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (experiment_id, name, digest) DO UPDATE SET source_type = excluded.source_type RETURNING dataset_id`,
        [Number(run.experimentId), d.name, d.digest, d.sourceType, d.source, d.schema ?? null, d.profile ?? null],
      );
      const datasetId = row!.dataset_id;
      await tx.run('INSERT INTO run_inputs (run_id, dataset_id) VALUES (?, ?) ON CONFLICT DO NOTHING', [run.id, datasetId]);
      await insertRows(tx, 'INSERT INTO run_input_tags (run_id, dataset_id, key, value)', 4,
        lastPerKey(input.tags).map((t) => [run.id, datasetId, t.key, t.value]), 'ON CONFLICT (run_id, dataset_id, key) DO UPDATE SET value = excluded.value');
    }
  });
}

type RunData = Pick<Run, 'data' | 'inputs'>;

/** Loads metrics (latest), params, tags and inputs of many runs with one query per kind. */
export async function loadRunData(db: Db, runIds: number[]): Promise<Map<number, RunData>> {
  // Every query binds all the ids: a page of more runs than the dialect's parameter limit loads in parts.
  const part = db.dialect.maxParams;
  if (runIds.length > part) {
    const parts = new Map<number, RunData>();
    for (let i = 0; i < runIds.length; i += part) for (const [id, d] of await loadRunData(db, runIds.slice(i, i + part))) parts.set(id, d);
    return parts;
  }
  const out = new Map<number, RunData>();
  for (const id of runIds) out.set(id, { data: { metrics: [], params: [], tags: [] }, inputs: { datasetInputs: [] } });
  if (runIds.length === 0) return out;
  const list = placeholders(runIds.length);
  const [metrics, params, tags, inputs, inputTags] = await Promise.all([
    db.all<MetricRow>(`SELECT * FROM latest_metrics WHERE run_id IN (${list}) ORDER BY run_id, key`, runIds),
    db.all<{ run_id: number; key: string; value: string }>(`SELECT * FROM params WHERE run_id IN (${list}) ORDER BY run_id, key`, runIds),
    db.all<{ run_id: number; key: string; value: string }>(`SELECT * FROM tags WHERE run_id IN (${list}) ORDER BY run_id, key`, runIds),
    db.all<{ run_id: number; dataset_id: number; name: string; digest: string; source_type: string; source: string; schema: string | null; profile: string | null }>(
      `SELECT ri.run_id, d.* FROM run_inputs ri JOIN datasets d ON d.dataset_id = ri.dataset_id WHERE ri.run_id IN (${list}) ORDER BY ri.run_id, d.dataset_id`, runIds),
    db.all<{ run_id: number; dataset_id: number; key: string; value: string }>(`SELECT * FROM run_input_tags WHERE run_id IN (${list}) ORDER BY key`, runIds),
  ]);
  for (const m of metrics) out.get(m.run_id)!.data.metrics.push(metricOf(m));
  for (const p of params) out.get(p.run_id)!.data.params.push({ key: p.key, value: p.value });
  for (const t of tags) out.get(t.run_id)!.data.tags.push({ key: t.key, value: t.value });
  const tagsByInput = new Map<string, KeyValue[]>();
  for (const t of inputTags) {
    const id = `${t.run_id}/${t.dataset_id}`;
    const list = tagsByInput.get(id) ?? [];
    list.push({ key: t.key, value: t.value });
    tagsByInput.set(id, list);
  }
  for (const i of inputs) {
    out.get(i.run_id)!.inputs.datasetInputs.push({
      tags: tagsByInput.get(`${i.run_id}/${i.dataset_id}`) ?? [],
      dataset: { name: i.name, digest: i.digest, sourceType: i.source_type, source: i.source, schema: i.schema ?? undefined, profile: i.profile ?? undefined },
    });
  }
  return out;
}

/** Decoded, merged points of one key, only steps in [fromStep, toStep]. */
export async function readSeries(db: Db, runId: number, key: string, fromStep = Number.MIN_SAFE_INTEGER, toStep = Number.MAX_SAFE_INTEGER): Promise<Series> {
  const rows = await db.all<{ data: Uint8Array }>(
    'SELECT data FROM metric_chunks WHERE run_id = ? AND key = ? AND max_step >= ? AND min_step <= ? ORDER BY min_step, chunk_id',
    [runId, key, fromStep, toStep],
  );
  const series = mergeChunks(rows.map((r) => decodeChunk(r.data)));
  const n = seriesLength(series);
  let start = 0;
  let end = n;
  while (start < n && series.steps[start]! < fromStep) start++;
  while (end > start && series.steps[end - 1]! > toStep) end--;
  return start === 0 && end === n ? series : sliceSeries(series, start, end);
}

/** Points after `after` (exclusive) in (step, timestamp, value) order, at most `limit`. */
export async function metricHistory(db: Db, run: RunRef, key: string, after: Point | null, limit: number | null): Promise<Series> {
  const series = await readSeries(db, run.id, key, after?.step);
  const start = startAfter(series, after);
  return sliceSeries(series, start, limit === null ? undefined : start + limit);
}
