import { invalidParam } from '../errors/index.js';
import type { SqlValue } from '../store/sql/index.js';
import type { Clause, OrderTerm } from './search-filter.js';

/**
 * Compiles parsed search clauses to SQL conditions. One compiler serves runs and experiments; what
 * differs is the table alias, its attribute columns and where its tags live.
 */
export interface FilterTarget {
  alias: string;
  /** Internal key column, e.g. `r.run_id`. */
  keyColumn: string;
  /** Attribute name → column expression. */
  attributes: Record<string, string>;
  tagTable: string;
  tagKeyColumn: string;
  /** Attributes that are never NULL: they sort without a NULLs-last rank, so an index can serve the order. */
  notNull?: ReadonlySet<string>;
}

export interface SqlFragment {
  sql: string;
  params: SqlValue[];
}

function likeValue(c: Clause): string {
  if (typeof c.value !== 'string') throw invalidParam(`'${c.op}' on ${c.kind} '${c.key}' needs a string value`);
  return c.value;
}

/** `expr op ?` for the comparison ops shared by every kind; LIKE is case-sensitive (set per dialect). */
export function compareSql(expr: string, c: Clause, params: SqlValue[]): string {
  switch (c.op) {
    case 'IN':
    case 'NOT IN': {
      const values = Array.isArray(c.value) ? c.value : [String(c.value)];
      if (values.length === 0) return c.op === 'IN' ? '1 = 0' : '1 = 1';
      params.push(...values);
      return `${expr} ${c.op} (${values.map(() => '?').join(', ')})`;
    }
    case 'ILIKE':
      params.push(likeValue(c).toLowerCase());
      return `LOWER(${expr}) LIKE ?`;
    case 'LIKE':
      params.push(likeValue(c));
      return `${expr} LIKE ?`;
    case 'IS NULL':
    case 'IS NOT NULL':
      return `${expr} ${c.op}`;
    default:
      params.push(c.value as SqlValue);
      // A fraction or a huge number bound against a BIGINT column is an error on PostgreSQL.
      if (typeof c.value === 'number' && !Number.isSafeInteger(c.value)) return `${expr} ${c.op === '!=' ? '<>' : c.op} CAST(? AS DOUBLE PRECISION)`;
      return `${expr} ${c.op === '!=' ? '<>' : c.op} ?`;
  }
}

/** A condition on the row, or membership of the row's key in a subquery's result. */
type Compiled = { condition: string } | { memberOf: string };

function keyed(table: string, keyCol: string, target: FilterTarget, c: Clause, params: SqlValue[], extra = ''): Compiled {
  // `IS NULL` on a param/tag means "this run does not have it".
  if (c.op === 'IS NULL' || c.op === 'IS NOT NULL') {
    params.push(c.key);
    const sub = `SELECT 1 FROM ${table} x WHERE x.${keyCol} = ${target.keyColumn} AND x.key = ?`;
    return { condition: c.op === 'IS NULL' ? `NOT EXISTS (${sub})` : `EXISTS (${sub})` };
  }
  params.push(c.key);
  const cond = compareSql('x.value', c, params);
  return { memberOf: `SELECT x.${keyCol} FROM ${table} x WHERE x.key = ?${extra} AND ${cond}` };
}

function compileClause(target: FilterTarget, c: Clause, params: SqlValue[]): Compiled {
  switch (c.kind) {
    case 'metric':
      return keyed('latest_metrics', 'run_id', target, c, params, ' AND x.is_nan = 0');
    case 'param':
      return keyed('params', 'run_id', target, c, params);
    case 'tag':
      return keyed(target.tagTable, target.tagKeyColumn, target, c, params);
    case 'attribute': {
      const column = target.attributes[c.key];
      if (!column) throw invalidParam(`Invalid attribute key '${c.key}' in filter`);
      return { condition: compareSql(column, c, params) };
    }
    case 'dataset': {
      const column = c.key === 'context' ? 'x.context' : `d.${c.key}`;
      if (c.key === 'context') {
        // The context is stored as the `mlflow.data.context` input tag.
        const cond = compareSql('x.value', c, params);
        return { memberOf: `SELECT ri.run_id FROM run_inputs ri JOIN run_input_tags x ON x.run_id = ri.run_id AND x.dataset_id = ri.dataset_id WHERE x.key = 'mlflow.data.context' AND ${cond}` };
      }
      const cond = compareSql(column, c, params);
      return { memberOf: `SELECT ri.run_id FROM run_inputs ri JOIN datasets d ON d.dataset_id = ri.dataset_id WHERE ${cond}` };
    }
  }
}

/**
 * Clauses joined with AND. Membership conditions are combined into one IN over the INTERSECT of
 * their subqueries: those read covering indexes and merge sorted, instead of probing the second set
 * once per row of the first.
 */
export function compileWhere(target: FilterTarget, clauses: Clause[]): SqlFragment {
  const conditions: string[] = [];
  const conditionParams: SqlValue[] = [];
  const subqueries: string[] = [];
  const subqueryParams: SqlValue[] = [];
  for (const c of clauses) {
    const params: SqlValue[] = [];
    const compiled = compileClause(target, c, params);
    if ('condition' in compiled) {
      conditions.push(compiled.condition);
      conditionParams.push(...params);
    } else {
      subqueries.push(compiled.memberOf);
      subqueryParams.push(...params);
    }
  }
  if (subqueries.length) conditions.push(`${target.keyColumn} IN (${subqueries.join(' INTERSECT ')})`);
  return { sql: conditions.length ? conditions.join(' AND ') : '1 = 1', params: [...conditionParams, ...subqueryParams] };
}

export function compileOrder(target: FilterTarget, terms: OrderTerm[], tieBreak: string): { joins: SqlFragment; orderBy: string } {
  const joins: string[] = [];
  const params: SqlValue[] = [];
  const order: string[] = [];
  terms.forEach((t, i) => {
    const dir = t.ascending ? 'ASC' : 'DESC';
    let expr: string;
    if (t.kind === 'attribute') {
      const column = target.attributes[t.key];
      if (!column) throw invalidParam(`Invalid order_by attribute '${t.key}'`);
      expr = column;
      if (target.notNull?.has(t.key)) {
        order.push(`${expr} ${dir}`);
        return;
      }
    } else {
      const [table, keyCol] =
        t.kind === 'metric' ? ['latest_metrics', 'run_id'] : t.kind === 'param' ? ['params', 'run_id'] : [target.tagTable, target.tagKeyColumn];
      if (t.kind === 'dataset') throw invalidParam('order_by on datasets is not supported');
      joins.push(`LEFT JOIN ${table} o${i} ON o${i}.${keyCol} = ${target.keyColumn} AND o${i}.key = ?`);
      params.push(t.key);
      expr = `o${i}.value`;
    }
    // As MLflow: numbers first, then NaN, then rows without the key, whatever the direction.
    const rank = t.kind === 'metric' ? `CASE WHEN o${i}.is_nan = 1 THEN 1 WHEN ${expr} IS NULL THEN 2 ELSE 0 END` : `CASE WHEN ${expr} IS NULL THEN 1 ELSE 0 END`;
    order.push(rank, `${expr} ${dir}`);
  });
  order.push(tieBreak);
  return { joins: { sql: joins.join(' '), params }, orderBy: order.join(', ') };
}
