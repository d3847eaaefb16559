// Silences: a time range and a set of label matchers. An alert whose labels satisfy every matcher
// of a silence that is active now is muted: its state keeps moving, but nothing is sent for it.
//
// Matchers follow the familiar rules: a label the alert does not carry reads as the empty string;
// a regular expression must match the whole value (it is anchored at both ends); isEqual false
// negates the matcher (`!=` / `!~`). Expressions are JavaScript RegExp syntax with the `u` flag.
import { invalidParam } from '../../errors/index.js';

export interface SilenceMatcher {
  label: string;
  value: string;
  isRegex?: boolean;
  /** false negates the matcher; true when omitted. */
  isEqual?: boolean;
}

export interface Silence {
  id: string;
  matchers: SilenceMatcher[];
  /** Epoch milliseconds; the silence is active for startsAt ≤ now < endsAt. */
  startsAt: number;
  endsAt: number;
  createdBy: string;
  comment: string;
}

const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const compiled = new Map<string, RegExp>();
const MAX_COMPILED = 1000;

function compile(pattern: string): RegExp {
  let re = compiled.get(pattern);
  if (re) return re;
  re = new RegExp(`^(?:${pattern})$`, 'u');
  if (compiled.size >= MAX_COMPILED) compiled.clear();
  compiled.set(pattern, re);
  return re;
}

/** Checks one matcher; throws a 400-class error naming the problem. */
export function checkMatcher(m: SilenceMatcher): void {
  if (typeof m.label !== 'string' || !LABEL_NAME.test(m.label)) {
    throw invalidParam(`silence matcher label ${JSON.stringify(m.label)} is not a valid label name`);
  }
  if (typeof m.value !== 'string') {
    throw invalidParam(`silence matcher ${m.label}: value must be a string`);
  }
  if (!m.isRegex) return;
  // Patterns run on every evaluation: short ones without nested quantifiers keep that cheap.
  if (m.value.length > 256 || /\([^)]*[+*][^)]*\)[+*{]/.test(m.value)) {
    throw invalidParam(`silence matcher ${m.label}: regular expressions are limited to 256 characters without nested quantifiers such as (a+)+`);
  }
  try {
    compile(m.value);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw invalidParam(`silence matcher ${m.label}: invalid regular expression ${JSON.stringify(m.value)}: ${reason}`);
  }
}

/** True when the matcher accepts the value (a missing label is passed as ''). */
export function matcherMatches(m: SilenceMatcher, value: string): boolean {
  const hit = m.isRegex ? compile(m.value).test(value) : value === m.value;
  return m.isEqual === false ? !hit : hit;
}

/**
 * Validates a silence and returns a copy with the matchers' defaults filled in. Rejects an empty id
 * or author, no matchers, a bad label name or regular expression, an end not after the start, and a
 * silence whose matchers all accept the empty string (it would mute every alert).
 */
export function createSilence(input: Silence): Silence {
  if (!input.id) throw invalidParam('silence id must not be empty');
  if (!input.createdBy) throw invalidParam(`silence ${input.id}: createdBy must not be empty`);
  if (!Array.isArray(input.matchers) || input.matchers.length === 0) {
    throw invalidParam(`silence ${input.id}: at least one matcher is required`);
  }
  input.matchers.forEach(checkMatcher);
  if (!Number.isFinite(input.startsAt) || !Number.isFinite(input.endsAt) || input.endsAt <= input.startsAt) {
    throw invalidParam(`silence ${input.id}: endsAt must be after startsAt`);
  }
  if (input.matchers.every((m) => matcherMatches(m, ''))) {
    throw invalidParam(`silence ${input.id}: at least one matcher must not match the empty string`);
  }
  return {
    id: input.id,
    matchers: input.matchers.map((m) => ({
      label: m.label,
      value: m.value,
      isRegex: m.isRegex ?? false,
      isEqual: m.isEqual ?? true,
    })),
    startsAt: input.startsAt,
    endsAt: input.endsAt,
    createdBy: input.createdBy,
    comment: input.comment ?? '',
  };
}

export function isSilenceActive(s: Silence, nowMs: number): boolean {
  return s.startsAt <= nowMs && nowMs < s.endsAt;
}

/** True when every matcher accepts the corresponding label value. */
export function silenceMatches(s: Silence, labels: Readonly<Record<string, string>>): boolean {
  return s.matchers.every((m) => matcherMatches(m, Object.hasOwn(labels, m.label) ? labels[m.label] : ''));
}

/** Ids of the silences, active at nowMs, that mute an alert with these labels (sorted). */
export function silencedBy(
  silences: readonly Silence[],
  labels: Readonly<Record<string, string>>,
  nowMs: number,
): string[] {
  return silences
    .filter((s) => isSilenceActive(s, nowMs) && silenceMatches(s, labels))
    .map((s) => s.id)
    .sort();
}
