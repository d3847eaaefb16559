import type { Db } from '../store/sql/index.js';
import { decodeChunk, isStrictlyOrdered, mergeChunks, pointAt, seriesLength, sliceSeries, startAfter, type Point, type Series } from './metric-chunks.js';
import type { RunRef } from './types.js';
import { pointsJson } from './wire.js';

export interface HistoryJsonPage {
  /** The page's points as MLflow metric JSON objects joined by commas (no brackets). */
  json: string;
  count: number;
  last: Point | null;
  hasMore: boolean;
}

interface Chunk {
  id: number;
  series: Series;
  json: string | null;
}

/** The slow path: chunks overlap (points logged out of step order), so merge, then render. */
function renderMerged(key: string, chunks: Chunk[], after: Point | null, limit: number): HistoryJsonPage {
  const all = mergeChunks(chunks.map((c) => c.series));
  const start = startAfter(all, after);
  const page = sliceSeries(all, start, Math.min(seriesLength(all), start + limit));
  const count = seriesLength(page);
  return { json: pointsJson(key, page), count, last: count ? pointAt(page, count - 1) : null, hasMore: start + count < seriesLength(all) };
}

/**
 * One page of history as JSON. When the chunks follow each other in order (steps only grow, the
 * usual case), whole chunks are answered from their cached JSON, and chunks rendered for the first
 * time are cached; a long history then costs a read and a concatenation instead of formatting
 * every number again.
 */
export async function metricHistoryJson(db: Db, run: RunRef, key: string, after: Point | null, limit: number): Promise<HistoryJsonPage> {
  const rows = await db.all<{ chunk_id: number; data: Uint8Array; wire_json: string | null }>(
    'SELECT chunk_id, data, wire_json FROM metric_chunks WHERE run_id = ? AND key = ? AND max_step >= ? ORDER BY min_step, chunk_id',
    [run.id, key, after?.step ?? Number.MIN_SAFE_INTEGER],
  );
  const chunks: Chunk[] = rows.map((r) => ({ id: r.chunk_id, series: decodeChunk(r.data), json: r.wire_json }));
  if (!isStrictlyOrdered(chunks.map((c) => c.series))) return renderMerged(key, chunks, after, limit);
  const parts: string[] = [];
  const fresh: [string, number][] = [];
  let count = 0;
  let last: Point | null = null;
  let hasMore = false;
  for (const c of chunks) {
    const n = seriesLength(c.series);
    const start = count === 0 ? startAfter(c.series, after) : 0;
    if (start >= n) continue;
    if (count >= limit) {
      hasMore = true;
      break;
    }
    const end = Math.min(n, start + limit - count);
    if (start === 0 && end === n) {
      const json = c.json ?? pointsJson(key, c.series);
      if (c.json === null) fresh.push([json, c.id]);
      parts.push(json);
    } else {
      parts.push(pointsJson(key, sliceSeries(c.series, start, end)));
    }
    count += end - start;
    last = pointAt(c.series, end - 1);
    if (end < n) {
      hasMore = true;
      break;
    }
  }
  if (fresh.length) await db.transaction((tx) => tx.runMany('UPDATE metric_chunks SET wire_json = ? WHERE chunk_id = ?', fresh));
  return { json: parts.join(','), count, last, hasMore };
}
