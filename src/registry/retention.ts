import type { RetentionRules } from './policy.service.js';
import { DELETED_STAGE } from './types.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Stages that keep a version past `keepLast`; an Archived or None version beyond it may go. */
const HELD_STAGES: ReadonlySet<string> = new Set(['Staging', 'Production']);

/** What the plan needs to know of one version of a registered model. */
export interface RetentionVersion {
  version: number;
  stage: string;
  aliases: string[];
  lastUpdateTime: number;
  /** Served by a deployment right now. */
  deployed: boolean;
}

export interface RetentionDeletion {
  version: number;
  reason: string;
}

/**
 * The versions of one model that the retention rules would delete, in ascending version order.
 * `keepLast` counts positions among the live versions by version number, held ones included: the
 * newest N always stay, and beyond them only aliased, Staging, Production or deployed versions do.
 * Aliased and deployed versions are never returned, whatever the rules say. Versions already
 * soft-deleted are ignored and do not take a place among the newest.
 */
export function planRetention(versions: RetentionVersion[], rules: RetentionRules, now: number): RetentionDeletion[] {
  const live = versions.filter((v) => v.stage !== DELETED_STAGE).sort((a, b) => a.version - b.version);
  const { keepLast, deleteArchivedAfterDays: days } = rules;
  const firstKept = keepLast === null ? 0 : Math.max(0, live.length - keepLast);
  const plan: RetentionDeletion[] = [];
  live.forEach((v, index) => {
    if (v.aliases.length > 0 || v.deployed) return;
    const reasons: string[] = [];
    if (index < firstKept && !HELD_STAGES.has(v.stage)) {
      reasons.push(keepLast === 1 ? 'not the newest version' : `not among the newest ${keepLast} versions`);
    }
    if (days !== null && v.stage === 'Archived' && now - v.lastUpdateTime > days * DAY_MS) {
      reasons.push(`archived and unchanged for more than ${days} days`);
    }
    if (reasons.length > 0) plan.push({ version: v.version, reason: reasons.join('; ') });
  });
  return plan;
}
