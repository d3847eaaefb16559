import { invalidParam } from '../errors/index.js';
import type { Bump } from './types.js';

type Triple = [number, number, number];

export function parseSemver(text: string): Triple {
  const m = /^(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})$/.exec(text);
  if (!m) throw invalidParam(`Invalid semantic version '${text}': expected MAJOR.MINOR.PATCH, e.g. 1.4.0.`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

const compare = (a: Triple, b: Triple) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

/**
 * The next semantic version of a model: `explicit` when given (it must be above every version the
 * model ever had), else the highest so far bumped by `bump`; a model's first version bumps 0.0.0.
 */
export function nextSemver(existing: readonly string[], bump: Bump = 'minor', explicit?: string): string {
  const highest = existing.map(parseSemver).reduce<Triple>((max, v) => (compare(v, max) > 0 ? v : max), [0, 0, 0]);
  if (explicit !== undefined) {
    const wanted = parseSemver(explicit);
    if (existing.length && compare(wanted, highest) <= 0) throw invalidParam(`Semantic version ${explicit} is not above ${highest.join('.')}, the model's highest so far.`);
    return explicit;
  }
  const [major, minor, patch] = highest;
  return bump === 'major' ? `${major + 1}.0.0` : bump === 'minor' ? `${major}.${minor + 1}.0` : `${major}.${minor}.${patch + 1}`;
}
