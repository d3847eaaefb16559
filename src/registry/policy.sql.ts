import type { Db } from '../store/sql/index.js';

export interface StoredPolicy {
  text: string;
  updatedTime: number;
  updatedBy: string;
}

/** One policy document (gates and retention, YAML) per project. */
export class PolicySql {
  constructor(private readonly db: Db) {}

  async get(projectId: number): Promise<StoredPolicy | undefined> {
    const row = await this.db.get<{ text: string; updated_time: number | string; updated_by: string }>('SELECT text, updated_time, updated_by FROM project_policies WHERE project_id = ?', [projectId]);
    return row ? { text: row.text, updatedTime: Number(row.updated_time), updatedBy: row.updated_by } : undefined;
  }

  async put(projectId: number, text: string, actor: string, now: number): Promise<void> {
    await this.db.run(
      `INSERT INTO project_policies (project_id, text, updated_time, updated_by) VALUES (?, ?, ?, ?)
       ON CONFLICT (project_id) DO UPDATE SET text = excluded.text, updated_time = excluded.updated_time, updated_by = excluded.updated_by`,
      [projectId, text, now, actor],
    );
  }

  async projectsWithPolicy(): Promise<number[]> {
    return (await this.db.all<{ project_id: number }>('SELECT project_id FROM project_policies ORDER BY project_id')).map((r) => Number(r.project_id));
  }
}
