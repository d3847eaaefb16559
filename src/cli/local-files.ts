import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';

/** A file on this machine that a command uploads. */
export interface LocalFile {
  path: string;
  /** Path below the root being uploaded, '/'-separated. */
  rel: string;
  size: number;
}

/** Every regular file under `root` (or `root` itself when it is a file), in path order. */
export async function localFiles(root: string): Promise<LocalFile[]> {
  const info = await stat(root);
  if (info.isFile()) return [{ path: root, rel: basename(root), size: info.size }];
  const files: LocalFile[] = [];
  const walk = async (dir: string, prefix: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        await walk(path, `${prefix}${entry.name}/`);
        continue;
      }
      const found = await stat(path);
      if (found.isFile()) files.push({ path, rel: prefix + entry.name, size: found.size });
    }
  };
  await walk(root, '');
  return files.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
}
