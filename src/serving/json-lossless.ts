import { AppError } from '../errors/index.js';

const MAX_DEPTH = 512;

/**
 * 16 digits after a character that may precede a JSON number. Runs after '.' (long fractions such
 * as 0.12345678901234568, common in floats printed by Python) never match, so float-heavy bodies
 * keep the fast JSON.parse path. Lookarounds would say the same but scan several times slower.
 */
const LONG_RUN = /[-,[:\s]\d{16}/g;
const LEADING_RUN = /^\d{16}/;

/** True when `text` may hold an integer literal beyond Number.MAX_SAFE_INTEGER (false positives are harmless). */
export function needsLosslessParse(text: string): boolean {
  if (LEADING_RUN.test(text) && endsInteger(text, 16)) return true;
  LONG_RUN.lastIndex = 0;
  for (let match = LONG_RUN.exec(text); match !== null; match = LONG_RUN.exec(text)) {
    if (endsInteger(text, LONG_RUN.lastIndex)) return true;
  }
  return false;
}

/** Whether the digit run going on at `at` ends without a fraction or exponent. */
function endsInteger(text: string, at: number): boolean {
  while (isDigit(text.charCodeAt(at))) at++;
  const c = text.charCodeAt(at);
  return c !== 0x2e && c !== 0x65 && c !== 0x45;
}

/**
 * JSON.parse, except that an integer literal (no fraction, no exponent) whose magnitude exceeds
 * Number.MAX_SAFE_INTEGER comes back as a bigint instead of a rounded number.
 */
export function parseJsonLossless(text: string): unknown {
  return new LosslessParser(text).parse();
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isHex(c: number): boolean {
  return isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

class LosslessParser {
  private pos = 0;
  private depth = 0;

  constructor(private readonly text: string) {}

  parse(): unknown {
    const value = this.value();
    this.skipWhitespace();
    if (this.pos < this.text.length) this.unexpected();
    return value;
  }

  private fail(reason: string): never {
    throw new AppError('BAD_REQUEST', `Malformed JSON body at position ${this.pos}: ${reason}`);
  }

  private unexpected(): never {
    if (this.pos >= this.text.length) this.fail('unexpected end of input');
    this.fail(`unexpected character ${JSON.stringify(this.text[this.pos])}`);
  }

  private peek(): number {
    return this.text.charCodeAt(this.pos);
  }

  private skipWhitespace(): void {
    for (let c = this.peek(); c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09; c = this.peek()) this.pos++;
  }

  private value(): unknown {
    this.skipWhitespace();
    const c = this.peek();
    if (c === 0x7b) return this.object();
    if (c === 0x5b) return this.array();
    if (c === 0x22) return this.string();
    if (c === 0x2d || isDigit(c)) return this.number();
    if (c === 0x74) return this.literal('true', true);
    if (c === 0x66) return this.literal('false', false);
    if (c === 0x6e) return this.literal('null', null);
    return this.unexpected();
  }

  private literal<T>(word: string, value: T): T {
    if (!this.text.startsWith(word, this.pos)) this.fail(`invalid literal, expected ${word}`);
    this.pos += word.length;
    return value;
  }

  private enter(): void {
    if (++this.depth > MAX_DEPTH) this.fail(`nesting deeper than ${MAX_DEPTH} levels`);
    this.pos++;
    this.skipWhitespace();
  }

  private array(): unknown[] {
    this.enter();
    const array: unknown[] = [];
    if (this.peek() === 0x5d) {
      this.pos++;
    } else {
      for (;;) {
        array.push(this.value());
        this.skipWhitespace();
        const c = this.peek();
        if (c !== 0x2c && c !== 0x5d) this.unexpected();
        this.pos++;
        if (c === 0x5d) break;
      }
    }
    this.depth--;
    return array;
  }

  private object(): Record<string, unknown> {
    this.enter();
    const object: Record<string, unknown> = {};
    if (this.peek() === 0x7d) {
      this.pos++;
    } else {
      for (;;) {
        this.skipWhitespace();
        if (this.peek() !== 0x22) this.unexpected();
        const key = this.string();
        this.skipWhitespace();
        if (this.peek() !== 0x3a) this.unexpected();
        this.pos++;
        const value = this.value();
        // A plain assignment to "__proto__" would replace the prototype; JSON.parse makes an own property.
        if (key === '__proto__') Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true });
        else object[key] = value;
        this.skipWhitespace();
        const c = this.peek();
        if (c !== 0x2c && c !== 0x7d) this.unexpected();
        this.pos++;
        if (c === 0x7d) break;
      }
    }
    this.depth--;
    return object;
  }

  private string(): string {
    const text = this.text;
    let start = ++this.pos;
    let out = '';
    for (;;) {
      if (this.pos >= text.length) this.fail('unterminated string');
      const c = text.charCodeAt(this.pos);
      if (c === 0x22) break;
      if (c < 0x20) this.fail('control character in string');
      if (c === 0x5c) {
        out += text.slice(start, this.pos) + this.escape();
        start = this.pos;
      } else {
        this.pos++;
      }
    }
    out += text.slice(start, this.pos++);
    return out;
  }

  /** Reads the escape sequence at the backslash under the cursor. */
  private escape(): string {
    const c = this.text[++this.pos];
    if (c === 'u') {
      for (let i = 1; i <= 4; i++) {
        if (!isHex(this.text.charCodeAt(this.pos + i))) {
          this.pos += i;
          this.fail('invalid \\u escape');
        }
      }
      const code = parseInt(this.text.slice(this.pos + 1, this.pos + 5), 16);
      this.pos += 5;
      return String.fromCharCode(code);
    }
    const replacement = c === undefined ? undefined : ESCAPES[c];
    if (replacement === undefined) this.fail('invalid escape sequence');
    this.pos++;
    return replacement;
  }

  private digits(): void {
    if (!isDigit(this.peek())) this.unexpected();
    while (isDigit(this.peek())) this.pos++;
  }

  private number(): number | bigint {
    const start = this.pos;
    if (this.peek() === 0x2d) this.pos++;
    const integerStart = this.pos;
    if (this.peek() === 0x30) this.pos++;
    else this.digits();
    let integer = true;
    if (this.peek() === 0x2e) {
      integer = false;
      this.pos++;
      this.digits();
    }
    const e = this.peek();
    if (e === 0x65 || e === 0x45) {
      integer = false;
      this.pos++;
      const sign = this.peek();
      if (sign === 0x2b || sign === 0x2d) this.pos++;
      this.digits();
    }
    const literal = this.text.slice(start, this.pos);
    const value = Number(literal);
    if (integer && this.pos - integerStart > 15 && !Number.isSafeInteger(value)) return BigInt(literal);
    return value;
  }
}
