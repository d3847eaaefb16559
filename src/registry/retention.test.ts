import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planRetention, type RetentionVersion } from './retention.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const NOW = Date.UTC(2025, 5, 1);
const NO_RULES = { keepLast: null, deleteArchivedAfterDays: null };

/** A plain, unaliased, undeployed version changed `ageDays` ago; tests spread their one change over it. */
function version(n: number, stage = 'None', ageDays = 1, extra: Partial<RetentionVersion> = {}): RetentionVersion {
  return { version: n, stage, aliases: [], lastUpdateTime: NOW - ageDays * DAY_MS, deployed: false, ...extra };
}

describe('planRetention', () => {
  it('plans nothing without rules', () => {
    assert.deepEqual(planRetention([version(1), version(2, 'Archived', 400)], NO_RULES, NOW), []);
  });

  it('keeps the newest keepLast by version number and deletes the rest, oldest first', () => {
    const versions = [version(4), version(1), version(5), version(2), version(3)];
    assert.deepEqual(planRetention(versions, { keepLast: 2, deleteArchivedAfterDays: null }, NOW), [
      { version: 1, reason: 'not among the newest 2 versions' },
      { version: 2, reason: 'not among the newest 2 versions' },
      { version: 3, reason: 'not among the newest 2 versions' },
    ]);
  });

  it('keeps aliased, Staging, Production and deployed versions beyond keepLast, but not Archived ones', () => {
    const versions = [
      version(1, 'Production'),
      version(2, 'None', 1, { aliases: ['champion'] }),
      version(3, 'Staging'),
      version(4, 'None', 1, { deployed: true }),
      version(5, 'Archived'),
      version(6),
      version(7, 'Archived'),
      version(8),
    ];
    assert.deepEqual(planRetention(versions, { keepLast: 2, deleteArchivedAfterDays: null }, NOW), [
      { version: 5, reason: 'not among the newest 2 versions' },
      { version: 6, reason: 'not among the newest 2 versions' },
    ]);
  });

  it('counts held versions among the newest: they take a place rather than extend the window', () => {
    const versions = [version(1), version(2), version(3, 'Production'), version(4, 'None', 1, { aliases: ['latest-good'] })];
    assert.deepEqual(planRetention(versions, { keepLast: 2, deleteArchivedAfterDays: null }, NOW), [
      { version: 1, reason: 'not among the newest 2 versions' },
      { version: 2, reason: 'not among the newest 2 versions' },
    ]);
  });

  it('keeps everything when there are no more versions than keepLast', () => {
    assert.deepEqual(planRetention([version(1), version(2)], { keepLast: 2, deleteArchivedAfterDays: null }, NOW), []);
    assert.deepEqual(planRetention([], { keepLast: 1, deleteArchivedAfterDays: 1 }, NOW), []);
  });

  it('deletes Archived versions unchanged for longer than deleteArchivedAfterDays, strictly', () => {
    const versions = [
      version(1, 'Archived', 31),
      version(2, 'Archived', 30),
      version(3, 'None', 90),
      version(4, 'Production', 90),
      version(5, 'Archived', 45, { aliases: ['rollback'] }),
      version(6, 'Archived', 45, { deployed: true }),
      version(7, 'Archived', 30.01),
    ];
    assert.deepEqual(planRetention(versions, { keepLast: null, deleteArchivedAfterDays: 30 }, NOW), [
      { version: 1, reason: 'archived and unchanged for more than 30 days' },
      { version: 7, reason: 'archived and unchanged for more than 30 days' },
    ]);
  });

  it('applies an age rule to Archived versions among the newest too', () => {
    const versions = [version(1), version(2, 'Archived', 60), version(3, 'Archived', 5)];
    assert.deepEqual(planRetention(versions, { keepLast: 5, deleteArchivedAfterDays: 30 }, NOW), [
      { version: 2, reason: 'archived and unchanged for more than 30 days' },
    ]);
  });

  it('combines both rules and names both reasons when both apply', () => {
    const versions = [
      version(1, 'Archived', 100),
      version(2, 'Archived', 3),
      version(3, 'Production', 100),
      version(4, 'Archived', 100, { aliases: ['baseline'] }),
      version(5),
      version(6, 'Archived', 100),
      version(7, 'Staging'),
      version(8),
    ];
    assert.deepEqual(planRetention(versions, { keepLast: 3, deleteArchivedAfterDays: 10 }, NOW), [
      { version: 1, reason: 'not among the newest 3 versions; archived and unchanged for more than 10 days' },
      { version: 2, reason: 'not among the newest 3 versions' },
      { version: 5, reason: 'not among the newest 3 versions' },
      { version: 6, reason: 'archived and unchanged for more than 10 days' },
    ]);
  });

  it('never returns an aliased or deployed version, whatever the rules', () => {
    const versions = Array.from({ length: 12 }, (_, i) =>
      version(i + 1, i % 2 === 0 ? 'Archived' : 'None', 1000, { aliases: i % 3 === 0 ? ['a'] : [], deployed: i % 4 === 1 }),
    );
    const plan = planRetention(versions, { keepLast: 1, deleteArchivedAfterDays: 1 }, NOW);
    const held = new Set(versions.filter((v) => v.aliases.length > 0 || v.deployed).map((v) => v.version));
    assert.ok(plan.length > 0);
    assert.deepEqual(plan.filter((p) => held.has(p.version)), []);
    assert.deepEqual(plan.map((p) => p.version), [...plan.map((p) => p.version)].sort((a, b) => a - b));
  });

  it('ignores soft-deleted versions: they are not planned again and take no place among the newest', () => {
    const versions = [version(1), version(2), version(3, 'Deleted_Internal', 500)];
    assert.deepEqual(planRetention(versions, { keepLast: 1, deleteArchivedAfterDays: 1 }, NOW), [
      { version: 1, reason: 'not the newest version' },
    ]);
  });
});
