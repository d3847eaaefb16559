import { randomInt } from 'node:crypto';

const ADJECTIVES = ['amber', 'brave', 'calm', 'clever', 'crisp', 'daring', 'eager', 'fierce', 'gentle', 'glad', 'honest', 'jolly', 'keen', 'lively', 'lucky', 'merry', 'nimble', 'patient', 'proud', 'quiet', 'rapid', 'serene', 'silent', 'smooth', 'steady', 'swift', 'tidy', 'vivid', 'warm', 'wise'];
const ANIMALS = ['badger', 'bee', 'bison', 'crane', 'deer', 'dolphin', 'eagle', 'falcon', 'fox', 'gecko', 'heron', 'ibis', 'jay', 'koala', 'lark', 'lynx', 'moth', 'newt', 'otter', 'owl', 'panda', 'quail', 'raven', 'seal', 'shrew', 'swan', 'tiger', 'toad', 'wolf', 'yak'];

/** A readable name for a run created without one, e.g. `swift-otter-417`. */
export function randomRunName(): string {
  return `${ADJECTIVES[randomInt(ADJECTIVES.length)]}-${ANIMALS[randomInt(ANIMALS.length)]}-${randomInt(1000)}`;
}
