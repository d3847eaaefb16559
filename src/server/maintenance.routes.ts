import { collectGarbage, DEFAULT_GC_GRACE_MS, type GcReferences } from '../artifacts/index.js';
import type { DatasetService } from '../datasets/index.js';
import type { PolicyService, RegistryService } from '../registry/index.js';
import type { BlobStore } from '../store/blob/index.js';
import type { TrackingReferences } from '../tracking/index.js';
import { defineRoute, type RouteDef } from './route.js';

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

export interface MaintenanceParts {
  blobs: BlobStore;
  registry: RegistryService;
  datasets: DatasetService;
  policies: PolicyService;
  tracking: TrackingReferences;
  /** Versions deployments route to, per project; retention never deletes them. */
  deployedIn?(projectId: number): Promise<(model: string, version: number) => boolean>;
}

/** What the collector must keep, answered from every domain that owns files. */
export function gcReferences(parts: MaintenanceParts): GcReferences {
  return {
    experimentExists: (id) => parts.tracking.experimentExists(id),
    run: (id) => parts.tracking.run(id),
    loggedModelExists: (experimentId, modelId) => parts.tracking.loggedModelExists(experimentId, modelId),
    isPinned: async (key) => (await parts.registry.pinHolder(key)) !== null || (await parts.datasets.pinHolder(key)) !== null,
    datasetRootExists: (root) => parts.datasets.sql.rootExists(root),
  };
}

/**
 * Retention then garbage collection, owner-only: retention soft-deletes the versions each project's
 * policy lets go, then the collector removes every file no run, logged model, model version or
 * dataset version refers to. A dry run reports both without changing anything.
 */
export async function runMaintenance(parts: MaintenanceParts, opts: { dryRun: boolean; graceHours?: number; purgeDeletedRunsOlderThanDays?: number }) {
  const retention: { project_id: number; name: string; version: number; reason: string }[] = [];
  for (const projectId of await parts.policies.projectsWithPolicy()) {
    const policy = await parts.policies.current(projectId);
    if (!policy || (policy.retention.keepLast === null && policy.retention.deleteArchivedAfterDays === null)) continue;
    const deployed = parts.deployedIn ? await parts.deployedIn(projectId) : undefined;
    for (const d of await parts.registry.applyRetention(projectId, policy.retention, opts.dryRun, deployed)) retention.push({ project_id: projectId, ...d });
  }
  const gc = await collectGarbage(parts.blobs, gcReferences(parts), {
    dryRun: opts.dryRun,
    graceMs: opts.graceHours === undefined ? DEFAULT_GC_GRACE_MS : opts.graceHours * HOUR_MS,
    purgeDeletedRunsOlderThanMs: opts.purgeDeletedRunsOlderThanDays === undefined ? undefined : opts.purgeDeletedRunsOlderThanDays * DAY_MS,
  });
  return { dry_run: opts.dryRun, retention, removed: gc.removed, skipped: gc.skipped, kept: gc.kept, bytes_removed: gc.bytesRemoved };
}

export function maintenanceRoutes(parts: MaintenanceParts): RouteDef[] {
  return [
    defineRoute({
      method: 'POST', path: '/api/capstan/admin/gc', tag: 'admin', summary: 'Apply retention rules, then remove every unreferenced artifact file (dry_run to preview)',
      fields: {
        dry_run: { type: 'bool', doc: 'Report what would be removed; change nothing.' },
        grace_hours: { type: 'double', doc: 'Uploads younger than this are in flight and kept (default 24).' },
        purge_deleted_runs_older_than_days: { type: 'double', doc: 'Also remove files of runs deleted longer ago than this.' },
      },
      access: { action: 'admin', resource: () => ({ kind: 'server', projectId: null }), serverWide: true },
      handler: (i) => runMaintenance(parts, { dryRun: i.dry_run === true, graceHours: i.grace_hours, purgeDeletedRunsOlderThanDays: i.purge_deleted_runs_older_than_days }),
    }),
  ];
}
