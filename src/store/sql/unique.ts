import { AppError } from '../../errors/index.js';

/** A UNIQUE or PRIMARY KEY violation, in either dialect's spelling. */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** Runs `fn`, reporting a uniqueness violation as RESOURCE_ALREADY_EXISTS for `what`. */
export async function uniquely<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isUniqueViolation(err)) throw new AppError('RESOURCE_ALREADY_EXISTS', `${what} already exists.`);
    throw err;
  }
}
