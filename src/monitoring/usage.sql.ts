import type { Db } from '../store/sql/index.js';

/** One minute of a deployment's traffic, summed over replicas and versions. */
export interface MinuteBucket {
  minute: number;
  total: number;
  bad: number;
  /** Requests per latency bucket (bounds in LATENCY_BOUNDS_MS, then the overflow bucket). */
  latency: number[];
}

export interface UsageByVersion {
  deployment: string;
  model: string;
  version: string;
  requests: number;
  errors: number;
  computeMs: number;
}

type R = Record<string, unknown>;

/** Reads the per-minute counts replicas write to serving_minutes. */
export class UsageSql {
  constructor(private readonly db: Db) {}

  async minutes(projectId: number, deployment: string, fromMinute: number, toMinute: number): Promise<MinuteBucket[]> {
    const rows = await this.db.all<R>(
      'SELECT minute, requests, errors, latency_counts FROM serving_minutes WHERE project_id = ? AND deployment = ? AND minute >= ? AND minute < ? ORDER BY minute',
      [projectId, deployment, fromMinute, toMinute]);
    const out: MinuteBucket[] = [];
    for (const r of rows) {
      const minute = Number(r.minute);
      let b = out[out.length - 1];
      if (!b || b.minute !== minute) out.push((b = { minute, total: 0, bad: 0, latency: [] }));
      b.total += Number(r.requests);
      b.bad += Number(r.errors);
      const counts = JSON.parse(String(r.latency_counts)) as number[];
      counts.forEach((c, i) => (b.latency[i] = (b.latency[i] ?? 0) + c));
    }
    return out;
  }

  async byVersion(projectId: number, fromMinute: number, toMinute: number): Promise<UsageByVersion[]> {
    const rows = await this.db.all<R>(
      `SELECT deployment, model, version, SUM(requests) AS requests, SUM(errors) AS errors, SUM(compute_ms) AS compute_ms FROM serving_minutes
       WHERE project_id = ? AND minute >= ? AND minute < ? GROUP BY deployment, model, version ORDER BY deployment, model, version`,
      [projectId, fromMinute, toMinute]);
    return rows.map((r) => ({ deployment: String(r.deployment), model: String(r.model), version: String(r.version), requests: Number(r.requests), errors: Number(r.errors), computeMs: Number(r.compute_ms) }));
  }

  /** The last minute each deployment of the project answered a request. */
  async lastTraffic(projectId: number): Promise<Map<string, number>> {
    const rows = await this.db.all<R>('SELECT deployment, MAX(minute) AS minute FROM serving_minutes WHERE project_id = ? AND requests > 0 GROUP BY deployment', [projectId]);
    return new Map(rows.map((r) => [String(r.deployment), Number(r.minute)]));
  }
}
