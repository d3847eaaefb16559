import { createHash } from 'node:crypto';

export const AUDIT_OUTCOMES = ['ok', 'denied', 'failed'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/** One audit event as stored; `summary` is JSON text (input summary, before/after). */
export interface AuditEvent {
  seq: number;
  time: number;
  actor: string;
  token_id: string | null;
  action: string;
  resource: string;
  project: string | null;
  outcome: AuditOutcome;
  summary: string;
  request_id: string | null;
  client_ip: string | null;
  prev_hash: string;
  hash: string;
}

export type AuditContent = Omit<AuditEvent, 'seq' | 'prev_hash' | 'hash'>;

export const GENESIS_HASH = '0'.repeat(64);

/**
 * sha256 over the event's content and the previous event's hash, in a fixed field order. The
 * sequence number is deliberately left out so a reordering shows as a broken link between intact
 * events rather than as an alteration.
 */
export function hashEvent(content: AuditContent, prevHash: string): string {
  const fields = [prevHash, content.time, content.actor, content.token_id, content.action, content.resource, content.project, content.outcome, content.summary, content.request_id, content.client_ip];
  return createHash('sha256').update(JSON.stringify(fields)).digest('hex');
}

export type ChainProblem = 'altered' | 'removed' | 'reordered';

export type ChainVerdict =
  | { ok: true; events: number; headSeq: number; headHash: string }
  | { ok: false; events: number; seq: number; problem: ChainProblem; message: string };

/**
 * Checks events given in seq order. Names the first event where the chain breaks:
 * - altered: its stored hash does not match its content;
 * - removed: its seq skips numbers, or it links to an event that is no longer there;
 * - reordered: it links to an event that exists but is not the one before it.
 * Tail truncation leaves a valid shorter chain; compare `headSeq`/`headHash` with a copy kept elsewhere.
 */
export async function verifyChain(events: AsyncIterable<AuditEvent> | Iterable<AuditEvent>, isStoredHash: (hash: string) => Promise<boolean> = async () => false): Promise<ChainVerdict> {
  let count = 0;
  let prev: AuditEvent | null = null;
  for await (const event of events) {
    count++;
    const fail = (problem: ChainProblem, message: string): ChainVerdict => ({ ok: false, events: count, seq: event.seq, problem, message: `event ${event.seq}: ${message}` });
    if (hashEvent(event, event.prev_hash) !== event.hash) return fail('altered', 'its content does not match its hash');
    // The log starts at event 1: losing the oldest events is a removal like any other.
    const expectedSeq = prev ? prev.seq + 1 : 1;
    if (event.seq !== expectedSeq) return fail('removed', `events ${expectedSeq}..${event.seq - 1} are missing`);
    const expectedPrev = prev ? prev.hash : GENESIS_HASH;
    if (event.prev_hash !== expectedPrev) {
      if (await isStoredHash(event.prev_hash)) return fail('reordered', `it follows an event that is stored elsewhere in the log, not event ${event.seq - 1}`);
      return fail('removed', `the event it follows is missing (it does not follow event ${event.seq - 1})`);
    }
    prev = event;
  }
  return prev ? { ok: true, events: count, headSeq: prev.seq, headHash: prev.hash } : { ok: true, events: 0, headSeq: 0, headHash: GENESIS_HASH };
}
