// Field-level reading of the CSV rules (drift-statistics.md §2) on a string, by offset, without
// building records: the one scanner behind parseCsv's fast pass, its header and its later string
// extraction. A field starts at an offset; reading it yields its value (or just skips it) and
// leaves the offset of what follows in `fieldEnd`. `next` then moves past the separator.
import { invalidParam } from '../../errors/index.js';

const QUOTE = 34;
const COMMA = 44;
const LF = 10;
const CR = 13;

/** Offset just after the field read last (its separator, a line end or the end of the text). */
export let fieldEnd = 0;

/** What `next` found after a field: another field of the record, the record's end, or a final empty field. */
export let following = 0;
export const NEXT_FIELD = 0;
export const RECORD_END = 1;
export const TRAILING_EMPTY = 2;

/** Offset of the next field or record after a field that ended at `at`; what it is goes to `following`. */
export function next(text: string, at: number): number {
  let i = at;
  const n = text.length;
  if (text.charCodeAt(i) === CR && text.charCodeAt(i + 1) === LF) i++;
  if (i >= n || text.charCodeAt(i) === LF) {
    following = RECORD_END;
    return i + 1;
  }
  // A comma, or a lone CR after a closing quote: either way another field follows, an empty one at the very end.
  following = i + 1 >= n ? TRAILING_EMPTY : NEXT_FIELD;
  return i + 1;
}

/** The value of the quoted field opening at `i` (quotes undoubled). `base` turns offsets into those of the text without its BOM. */
function quoted(text: string, i: number, base: number, what: string): string {
  const n = text.length;
  let value = '';
  let j = i + 1;
  for (;;) {
    const q = text.indexOf('"', j);
    if (q < 0) throw invalidParam(`${what}: a quoted field opened at offset ${i - base} is never closed.`);
    value += text.slice(j, q);
    if (text.charCodeAt(q + 1) === QUOTE) {
      value += '"';
      j = q + 2;
      continue;
    }
    j = q + 1;
    break;
  }
  const c = text.charCodeAt(j);
  if (j < n && c !== COMMA && c !== LF && c !== CR) throw invalidParam(`${what}: unexpected text after a closing quote at offset ${j - base}.`);
  fieldEnd = j;
  return value;
}

/** End of the unquoted field starting at `i`: the first comma or line feed, or the end of the text. */
function unquotedEnd(text: string, i: number): number {
  const n = text.length;
  let j = i;
  for (; j < n; j++) {
    const c = text.charCodeAt(j);
    if (c === COMMA || c === LF) break;
  }
  return j;
}

/** The value of the field at `i` (empty = missing is the caller's rule); refuses a stray quote or an unclosed one. */
export function readField(text: string, i: number, base: number, what: string): string {
  if (text.charCodeAt(i) === QUOTE) return quoted(text, i, base, what);
  const j = unquotedEnd(text, i);
  let end = j;
  if (end > i && text.charCodeAt(end - 1) === CR && text.charCodeAt(j) === LF) end--;
  const value = text.slice(i, end);
  if (value.includes('"')) throw invalidParam(`${what}: a field with a quote must be quoted (offset ${i - base}).`);
  fieldEnd = j;
  return value;
}

/** Moves past the field at `i` without building its value (the text was already checked). */
export function skipField(text: string, i: number): void {
  if (text.charCodeAt(i) !== QUOTE) {
    fieldEnd = unquotedEnd(text, i);
    return;
  }
  let j = i + 1;
  for (;;) {
    const q = text.indexOf('"', j);
    if (text.charCodeAt(q + 1) === QUOTE) {
      j = q + 2;
      continue;
    }
    fieldEnd = q + 1;
    return;
  }
}

/** Offset just after the record read last by `readRecord`. */
export let recordEnd = 0;

/** The fields of the record at `i`; the offset after it is left in `recordEnd`. */
export function readRecord(text: string, i: number, base: number, what: string): string[] {
  const fields: string[] = [];
  let at = i;
  for (;;) {
    fields.push(readField(text, at, base, what));
    at = next(text, fieldEnd);
    if (following === RECORD_END) break;
    if (following === TRAILING_EMPTY) {
      fields.push('');
      break;
    }
  }
  recordEnd = at;
  return fields;
}
