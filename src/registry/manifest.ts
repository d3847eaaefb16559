import { createHash } from 'node:crypto';
import type { Manifest, ManifestFile } from './types.js';

const MANIFEST_PREFIX = 'capstan-manifest-v1\n';

/** Files sorted by path (code-unit order), so the same files always make the same manifest. */
export function sortManifest(files: readonly ManifestFile[]): Manifest {
  return { files: [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)) };
}

/**
 * The digest a signature covers: sha256 over one line per file (`<sha256> <size> <path>`) in path
 * order. Paths cannot hold a newline (artifact paths are checked), so the text is unambiguous.
 */
export function manifestDigest(manifest: Manifest): string {
  const hash = createHash('sha256').update(MANIFEST_PREFIX);
  for (const f of sortManifest(manifest.files).files) hash.update(`${f.sha256} ${f.size} ${f.path}\n`);
  return `sha256:${hash.digest('hex')}`;
}

export interface ManifestProblem {
  path: string;
  problem: 'missing' | 'size' | 'sha256' | 'unexpected';
  expected?: string | number;
  actual?: string | number;
}

/** What differs between the manifest and the files found now; empty when they agree. */
export function compareManifest(expected: Manifest, actual: readonly ManifestFile[]): ManifestProblem[] {
  const found = new Map(actual.map((f) => [f.path, f]));
  const problems: ManifestProblem[] = [];
  for (const f of expected.files) {
    const now = found.get(f.path);
    found.delete(f.path);
    if (!now) problems.push({ path: f.path, problem: 'missing' });
    else if (now.size !== f.size) problems.push({ path: f.path, problem: 'size', expected: f.size, actual: now.size });
    else if (now.sha256 !== f.sha256) problems.push({ path: f.path, problem: 'sha256', expected: f.sha256, actual: now.sha256 });
  }
  for (const path of found.keys()) problems.push({ path, problem: 'unexpected' });
  return problems;
}
