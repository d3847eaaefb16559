import type { Db, SqlValue } from '../store/sql/index.js';
import { stageFilter } from './experiments.sql.js';
import { compileOrder, compileWhere, type FilterTarget } from './filter.sql.js';
import type { SearchQuery } from './tracking.store.js';

export const RUN_COLUMNS = 'r.run_id, r.run_uuid, r.experiment_id, r.name, r.user_id, r.status, r.start_time, r.end_time, r.lifecycle_stage, r.artifact_uri';
const TIE_BREAK = 'r.start_time DESC, r.run_uuid ASC';

export const RUN_TARGET: FilterTarget = {
  alias: 'r',
  keyColumn: 'r.run_id',
  attributes: {
    run_id: 'r.run_uuid',
    run_name: 'r.name',
    status: 'r.status',
    user_id: 'r.user_id',
    artifact_uri: 'r.artifact_uri',
    start_time: 'r.start_time',
    end_time: 'r.end_time',
    experiment_id: 'r.experiment_id',
  },
  tagTable: 'tags',
  tagKeyColumn: 'run_id',
  notNull: new Set(['run_id', 'run_name', 'status', 'user_id', 'artifact_uri', 'start_time', 'experiment_id']),
};

interface Base {
  sql: string;
  params: SqlValue[];
}

/**
 * The conditions every search shares. When a metric, param or tag clause can drive the search, the
 * experiment condition is written `+r.experiment_id` so SQLite's planner, which has no statistics on
 * a young database, starts from that clause's index instead of scanning the whole experiment.
 */
function baseConditions(experimentIds: number[], q: SearchQuery): Base {
  const where = compileWhere(RUN_TARGET, q.clauses);
  const driven = q.clauses.some((c) => (c.kind === 'metric' || c.kind === 'param' || c.kind === 'tag') && c.op !== 'IS NULL' && c.op !== '!=');
  const exp = `${driven ? '+' : ''}r.experiment_id IN (${experimentIds.map(() => '?').join(', ')})`;
  return { sql: `${exp} AND ${stageFilter('r.lifecycle_stage', q.viewType)} AND ${where.sql}`, params: [...experimentIds, ...where.params] };
}

/**
 * Ordered by one metric: numbers (in the asked direction), then NaN, then runs without the metric,
 * as MLflow orders them. Each group is its own query so the numbers come straight off the
 * (key, value) index and the search stops after the page instead of sorting every run.
 */
async function byMetric<T>(db: Db, base: Base, key: string, ascending: boolean, q: SearchQuery): Promise<T[]> {
  const want = q.offset + q.limit;
  const dir = ascending ? 'ASC' : 'DESC';
  // A filter on the ordering metric bounds the index range scanned, and rules out the NaN and
  // missing groups (neither can satisfy a comparison).
  const sameKey = q.clauses.filter((c) => c.kind === 'metric' && c.key === key && typeof c.value === 'number');
  const range = sameKey.map((c) => ` AND o.value ${c.op === '!=' ? '<>' : c.op} ?`).join('');
  const rangeParams = sameKey.map((c) => c.value as number);
  const groups = [
    { sql: `SELECT ${RUN_COLUMNS} FROM latest_metrics o JOIN runs r ON r.run_id = o.run_id WHERE o.key = ? AND o.is_nan = 0${range} AND ${base.sql} ORDER BY o.value ${dir}, ${TIE_BREAK} LIMIT ?`, params: [key, ...rangeParams, ...base.params] },
    { sql: `SELECT ${RUN_COLUMNS} FROM latest_metrics o JOIN runs r ON r.run_id = o.run_id WHERE o.key = ? AND o.is_nan = 1 AND ${base.sql} ORDER BY ${TIE_BREAK} LIMIT ?`, params: [key, ...base.params] },
    { sql: `SELECT ${RUN_COLUMNS} FROM runs r WHERE NOT EXISTS (SELECT 1 FROM latest_metrics o WHERE o.run_id = r.run_id AND o.key = ?) AND ${base.sql} ORDER BY ${TIE_BREAK} LIMIT ?`, params: [key, ...base.params] },
  ];
  if (sameKey.length) groups.length = 1;
  const rows: T[] = [];
  for (const g of groups) {
    if (rows.length >= want) break;
    rows.push(...(await db.all<T>(g.sql, [...g.params, want - rows.length])));
  }
  return rows.slice(q.offset, want);
}

/** The page of run rows a search asks for, in MLflow's order. */
export async function searchRunRows<T>(db: Db, experimentIds: number[], q: SearchQuery): Promise<T[]> {
  if (experimentIds.length === 0) return [];
  const base = baseConditions(experimentIds, q);
  const [only] = q.orderBy;
  if (q.orderBy.length === 1 && only!.kind === 'metric') return byMetric<T>(db, base, only!.key, only!.ascending, q);
  const terms = q.orderBy.length ? q.orderBy : [{ kind: 'attribute' as const, key: 'start_time', ascending: false }];
  const order = compileOrder(RUN_TARGET, terms, TIE_BREAK);
  return db.all<T>(
    `SELECT ${RUN_COLUMNS} FROM runs r ${order.joins.sql} WHERE ${base.sql} ORDER BY ${order.orderBy} LIMIT ? OFFSET ?`,
    [...order.joins.params, ...base.params, q.limit, q.offset],
  );
}
