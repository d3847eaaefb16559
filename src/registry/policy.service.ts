import { parseDocument } from 'yaml';
import { invalidParam } from '../errors/index.js';
import type { Db } from '../store/sql/index.js';
import { parsePolicy, type Policy } from './gates.js';
import { PolicySql } from './policy.sql.js';

/** Which versions the retention sweep may delete; a version that is aliased or deployed never is. */
export interface RetentionRules {
  /** Keep at most this many newest versions per model (aliased, Staging, Production and deployed ones are always kept). */
  keepLast: number | null;
  /** Delete Archived versions whose last change is older than this. */
  deleteArchivedAfterDays: number | null;
}

export interface ProjectPolicy {
  text: string;
  gates: Policy;
  retention: RetentionRules;
  updatedTime: number;
  updatedBy: string;
}

const RETENTION_KEYS = new Set(['keep_last', 'delete_archived_after_days']);

function positiveInt(value: unknown, key: string): number | null {
  if (value === undefined || value === null) return null;
  if (!Number.isSafeInteger(value) || (value as number) < 1) throw invalidParam(`Invalid policy: retention.${key} must be a positive integer, got ${JSON.stringify(value)}.`);
  return value as number;
}

export function parseRetention(text: string): RetentionRules {
  const doc = parseDocument(text).toJS() as { retention?: unknown } | null;
  const section = doc?.retention;
  if (section === undefined || section === null) return { keepLast: null, deleteArchivedAfterDays: null };
  if (typeof section !== 'object' || Array.isArray(section)) throw invalidParam("Invalid policy: 'retention' must be a mapping.");
  const unknown = Object.keys(section).filter((k) => !RETENTION_KEYS.has(k));
  if (unknown.length) throw invalidParam(`Invalid policy: unknown retention key(s) ${unknown.join(', ')}; the keys are ${[...RETENTION_KEYS].join(', ')}.`);
  const s = section as Record<string, unknown>;
  return { keepLast: positiveInt(s.keep_last, 'keep_last'), deleteArchivedAfterDays: positiveInt(s.delete_archived_after_days, 'delete_archived_after_days') };
}

/** A project's policy document, validated on write and compiled once per text. */
export class PolicyService {
  private readonly store: PolicySql;
  private readonly compiled = new Map<number, ProjectPolicy>();

  constructor(db: Db, private readonly now: () => number = Date.now) {
    this.store = new PolicySql(db);
  }

  static parse(text: string): { gates: Policy; retention: RetentionRules } {
    return { gates: parsePolicy(text), retention: parseRetention(text) };
  }

  async current(projectId: number): Promise<ProjectPolicy | null> {
    const stored = await this.store.get(projectId);
    if (!stored) return null;
    const cached = this.compiled.get(projectId);
    if (cached && cached.text === stored.text) return cached;
    const policy = { ...PolicyService.parse(stored.text), ...stored };
    this.compiled.set(projectId, policy);
    return policy;
  }

  async put(projectId: number, text: string, actor: string): Promise<ProjectPolicy> {
    PolicyService.parse(text);
    await this.store.put(projectId, text, actor, this.now());
    return (await this.current(projectId))!;
  }

  projectsWithPolicy(): Promise<number[]> {
    return this.store.projectsWithPolicy();
  }
}
