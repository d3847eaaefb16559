import type { Db } from '../store/sql/index.js';

/** What the artifact garbage collector asks of tracking: does the experiment, run or logged model behind a folder still exist. */
export class TrackingReferences {
  constructor(private readonly db: Db) {}

  async experimentExists(id: string): Promise<boolean> {
    if (!/^\d{1,15}$/.test(id)) return false;
    return (await this.db.get('SELECT 1 AS found FROM experiments WHERE experiment_id = ?', [Number(id)])) !== undefined;
  }

  async run(runUuid: string): Promise<{ exists: boolean; deletedTime: number | null }> {
    const row = await this.db.get<{ lifecycle_stage: string; deleted_time: number | string | null }>('SELECT lifecycle_stage, deleted_time FROM runs WHERE run_uuid = ?', [runUuid]);
    if (!row) return { exists: false, deletedTime: null };
    return { exists: true, deletedTime: row.lifecycle_stage === 'deleted' ? Number(row.deleted_time ?? 0) : null };
  }

  /**
   * Model ids are unique across experiments, and an experiment with its own artifact location keeps
   * its models under another folder: the folder name is not checked against the model's experiment.
   */
  async loggedModelExists(_folder: string, modelId: string): Promise<boolean> {
    return (await this.db.get('SELECT 1 AS found FROM logged_models WHERE model_id = ?', [modelId])) !== undefined;
  }
}
