import { invalidParam } from '../errors/index.js';

/** One parsed record and the 1-based line of the file it starts on. */
export interface TabularRecord {
  fields: string[];
  line: number;
}

export type CellKind = 'missing' | 'integer' | 'float' | 'boolean' | 'string';

const MISSING_SPELLINGS = new Set(['', 'na', 'nan', 'null', 'none']);
const INTEGER_TEXT = /^[+-]?\d+$/;
const DECIMAL_TEXT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * What a CSV/TSV cell holds: missing for an empty cell or NA, NaN, null, None in any case; integer when
 * it is one in the safe range; float for any other finite decimal (no hex, no Infinity); boolean for
 * true/false in any case; otherwise string. Whitespace is not trimmed, so " 1" is a string.
 */
export function cellKind(text: string): CellKind {
  if (text.length <= 4 && MISSING_SPELLINGS.has(text.toLowerCase())) return 'missing';
  const isIntegerText = INTEGER_TEXT.test(text);
  if (isIntegerText || DECIMAL_TEXT.test(text)) {
    const value = Number(text);
    if (isIntegerText && Number.isSafeInteger(value)) return 'integer';
    if (Number.isFinite(value)) return 'float';
  }
  const lower = text.toLowerCase();
  return lower === 'true' || lower === 'false' ? 'boolean' : 'string';
}

const QUOTE = 0x22;
const CR = 0x0d;
const LF = 0x0a;

const State = {
  FieldStart: 0,
  Unquoted: 1,
  Quoted: 2,
  /** A quote inside a quoted field: either the closing quote or the first half of `""`. */
  QuoteInQuoted: 3,
} as const;
type State = (typeof State)[keyof typeof State];

/**
 * An incremental RFC 4180 parser for CSV and TSV. Text is pushed in pieces that may split a record,
 * a quoted field, an escaped `""` or a CRLF anywhere; each push answers the records it completed.
 * Records end at LF, CRLF or a bare CR outside quotes; inside quotes every character is kept as is.
 * Like pandas, a line with nothing on it yields no record (line numbers still count it).
 * Lenient where the RFC is silent: a quote inside an unquoted field is an ordinary character, and text
 * after a closing quote is appended to the field (as Python's csv module does).
 */
export class DelimitedParser {
  private readonly delimiter: number;
  private state: State = State.FieldStart;
  private field = '';
  private fields: string[] = [];
  private hasRecordStarted = false;
  private isAfterCR = false;
  private line = 1;
  private recordLine = 1;

  /** `source` names the file in error messages. */
  constructor(delimiter: string, private readonly source: string) {
    if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\r' || delimiter === '\n') {
      throw invalidParam(`unusable delimiter ${JSON.stringify(delimiter)}`);
    }
    this.delimiter = delimiter.charCodeAt(0);
  }

  push(text: string): TabularRecord[] {
    const out: TabularRecord[] = [];
    let i = 0;
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (this.isAfterCR) {
        this.isAfterCR = false;
        if (c === LF) {
          i++;
          continue;
        }
      }
      switch (this.state) {
        case State.FieldStart:
          i = this.atFieldStart(text, i, c, out);
          break;
        case State.Unquoted:
          i = this.scanUnquoted(text, i, out);
          break;
        case State.Quoted:
          i = this.scanQuoted(text, i);
          break;
        case State.QuoteInQuoted:
          i = this.afterQuote(text, i, c, out);
          break;
      }
    }
    return out;
  }

  /** Flushes a last record that has no line break after it. */
  end(): TabularRecord[] {
    if (this.state === State.Quoted) {
      throw invalidParam(`${this.source}: line ${this.recordLine}: quoted field is never closed`);
    }
    const out: TabularRecord[] = [];
    if (this.hasRecordStarted) this.finishRecord(out);
    return out;
  }

  private atFieldStart(text: string, i: number, c: number, out: TabularRecord[]): number {
    if (c === CR || c === LF) {
      if (this.hasRecordStarted) this.finishRecord(out);
      this.breakLine(c);
      return i + 1;
    }
    this.startRecord();
    if (c === QUOTE) {
      this.state = State.Quoted;
      return i + 1;
    }
    if (c === this.delimiter) {
      this.fields.push('');
      return i + 1;
    }
    this.state = State.Unquoted;
    return i;
  }

  private scanUnquoted(text: string, i: number, out: TabularRecord[]): number {
    let j = i;
    while (j < text.length) {
      const c = text.charCodeAt(j);
      if (c === this.delimiter || c === CR || c === LF) break;
      j++;
    }
    this.field += text.slice(i, j);
    if (j === text.length) return j;
    this.closeFieldAt(text.charCodeAt(j), out);
    return j + 1;
  }

  private scanQuoted(text: string, i: number): number {
    const close = text.indexOf('"', i);
    const stop = close === -1 ? text.length : close;
    for (let j = i; j < stop; j++) if (text.charCodeAt(j) === LF) this.line++;
    this.field += text.slice(i, stop);
    if (close === -1) return stop;
    this.state = State.QuoteInQuoted;
    return close + 1;
  }

  private afterQuote(text: string, i: number, c: number, out: TabularRecord[]): number {
    if (c === QUOTE) {
      this.field += '"';
      this.state = State.Quoted;
      return i + 1;
    }
    if (c === this.delimiter || c === CR || c === LF) {
      this.closeFieldAt(c, out);
      return i + 1;
    }
    this.state = State.Unquoted;
    return i;
  }

  private startRecord(): void {
    if (!this.hasRecordStarted) {
      this.hasRecordStarted = true;
      this.recordLine = this.line;
    }
  }

  /** `c` is the delimiter or a line break that ends the current field. */
  private closeFieldAt(c: number, out: TabularRecord[]): void {
    if (c === this.delimiter) {
      this.fields.push(this.field);
      this.field = '';
      this.state = State.FieldStart;
    } else {
      this.finishRecord(out);
      this.breakLine(c);
    }
  }

  /** Closes the open field (empty right after a delimiter) and answers the record. */
  private finishRecord(out: TabularRecord[]): void {
    this.fields.push(this.field);
    out.push({ fields: this.fields, line: this.recordLine });
    this.fields = [];
    this.field = '';
    this.state = State.FieldStart;
    this.hasRecordStarted = false;
  }

  private breakLine(c: number): void {
    this.line++;
    this.isAfterCR = c === CR;
  }
}

/**
 * Splits pushed text into lines for JSON Lines: LF ends a line and a CR before it is dropped, so a
 * CRLF split across two pushes is handled. Only the line in progress is held between pushes.
 */
export class LineSplitter {
  private partial = '';
  private line = 1;

  push(text: string): { text: string; line: number }[] {
    const out: { text: string; line: number }[] = [];
    let start = 0;
    for (let lf = text.indexOf('\n'); lf !== -1; lf = text.indexOf('\n', start)) {
      const whole = this.partial + text.slice(start, lf);
      this.partial = '';
      out.push({ text: whole.endsWith('\r') ? whole.slice(0, -1) : whole, line: this.line++ });
      start = lf + 1;
    }
    this.partial += text.slice(start);
    return out;
  }

  /** The last line when the text does not end with a line break. */
  end(): { text: string; line: number }[] {
    const rest = this.partial;
    this.partial = '';
    return rest === '' ? [] : [{ text: rest.endsWith('\r') ? rest.slice(0, -1) : rest, line: this.line }];
  }
}
