/**
 * Flags model files that are Python pickles in some wrapping. Loading a pickle runs whatever code
 * it names, so a registry shows these files (and promotion gates can refuse them). The checks look at
 * the file name and its first bytes only; they flag, they do not prove a file harmless.
 */

/** How many leading bytes of each file `detectUnsafe` needs to see. */
export const UNSAFE_HEAD_BYTES = 64 * 1024;

export interface UnsafeFile {
  path: string;
  reason: string;
}

/** Extensions that are pickle-based whatever their content. `.bin` is not here: it is judged by content. */
const PICKLE_EXTENSIONS: Readonly<Record<string, string>> = {
  '.pkl': 'Python pickle',
  '.pickle': 'Python pickle',
  '.joblib': 'joblib file (pickle-based)',
  '.dill': 'dill file (pickle-based)',
  '.pt': 'PyTorch file (pickle-based)',
  '.pth': 'PyTorch file (pickle-based)',
  '.ckpt': 'checkpoint file (pickle-based)',
};

const ZIP_LOCAL_HEADER = Buffer.from('PK\x03\x04', 'latin1');
const ZIP_LOCAL_HEADER_BYTES = 30;
const NPY_MAGIC = Buffer.from('\x93NUMPY', 'latin1');

/** A short reason when the file is pickle-based, else null. `head` is at least its first UNSAFE_HEAD_BYTES. */
export function detectUnsafe(path: string, head: Uint8Array): string | null {
  return unsafeByName(path) ?? unsafeByContent(Buffer.from(head.buffer, head.byteOffset, Math.min(head.length, UNSAFE_HEAD_BYTES)));
}

/**
 * Every pickle-based file among `files`, in their order. `readHead(path)` returns the file's first
 * UNSAFE_HEAD_BYTES bytes (or all of a smaller file); files flagged by name are not read.
 */
export async function scanUnsafe(files: readonly { path: string }[], readHead: (path: string) => Promise<Buffer>): Promise<UnsafeFile[]> {
  const found: UnsafeFile[] = [];
  for (const { path } of files) {
    const reason = unsafeByName(path) ?? unsafeByContent((await readHead(path)).subarray(0, UNSAFE_HEAD_BYTES));
    if (reason) found.push({ path, reason });
  }
  return found;
}

function unsafeByName(path: string): string | null {
  const name = path.slice(path.lastIndexOf('/') + 1).toLowerCase();
  const dot = name.lastIndexOf('.');
  return dot > 0 ? (PICKLE_EXTENSIONS[name.slice(dot)] ?? null) : null;
}

function unsafeByContent(head: Buffer): string | null {
  if (isPickleStream(head)) return `pickle protocol ${head[1]} stream`;
  if (head.subarray(0, 4).equals(ZIP_LOCAL_HEADER)) {
    const entry = zipEntryNames(head).find((name) => name.toLowerCase().endsWith('.pkl'));
    return entry === undefined ? null : `zip archive holding a pickle (${entry}), as torch.save writes`;
  }
  if (isObjectNpy(head)) return 'NumPy array of Python objects (loading it needs allow_pickle)';
  return null;
}

/** Protocols 2 to 5 open with PROTO (0x80) and the protocol number; 0 and 1 have no header to see. */
function isPickleStream(head: Buffer): boolean {
  if (head.length < 3 || head[0] !== 0x80 || head[1]! < 2 || head[1]! > 5) return false;
  // A safetensors file opens with the length of its JSON header as a little-endian u64, then '{'; a
  // length of 0x280 to 0x5ff (plus any multiple of 64 KiB) starts with the same two bytes. No real
  // pickle has NULs in bytes 3 to 7 (NUL is no opcode, and no argument that long is all zeros).
  const looksLikeSafetensors = head.length > 8 && head[8] === 0x7b && head.subarray(3, 8).every((b) => b === 0);
  return !looksLikeSafetensors;
}

/**
 * The names in every zip local file header found in `head`. Searching for the signature rather than
 * walking entry to entry copes with entries whose sizes only follow their data (flag bit 3); a stray
 * match inside compressed data yields a garbage name, which does no harm here.
 */
function zipEntryNames(head: Buffer): string[] {
  const names: string[] = [];
  for (let at = head.indexOf(ZIP_LOCAL_HEADER); at >= 0; at = head.indexOf(ZIP_LOCAL_HEADER, at + 4)) {
    if (at + ZIP_LOCAL_HEADER_BYTES > head.length) break;
    const nameLength = head.readUInt16LE(at + 26);
    const start = at + ZIP_LOCAL_HEADER_BYTES;
    if (start + nameLength > head.length) break;
    names.push(head.toString('utf8', start, start + nameLength));
  }
  return names;
}

/** A .npy file whose header declares an object dtype ('|O', alone or in a record) holds pickles, not numbers. */
function isObjectNpy(head: Buffer): boolean {
  if (!head.subarray(0, 6).equals(NPY_MAGIC) || head.length < 8) return false;
  // Format 1.0 gives the header length in two bytes, 2.0 and 3.0 in four.
  const lengthBytes = head[6] === 1 ? 2 : 4;
  if (head.length < 8 + lengthBytes) return false;
  const length = lengthBytes === 2 ? head.readUInt16LE(8) : head.readUInt32LE(8);
  const start = 8 + lengthBytes;
  return head.toString('latin1', start, Math.min(head.length, start + length)).includes("'|O'");
}
