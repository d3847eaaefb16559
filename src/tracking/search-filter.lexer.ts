// Tokenizer for MLflow search filters and order_by clauses. One pass over the
// input, no backtracking, so any string is tokenized in linear time.

export type TokenType =
  | 'word'
  | 'number'
  | 'string'
  | 'backtick'
  | 'operator'
  | 'lparen'
  | 'rparen'
  | 'comma'
  | 'eof';

export interface Token {
  type: TokenType;
  /** The source text of the token, quotes included. */
  text: string;
  /** Content without quotes and escapes for `string` and `backtick`; the source text otherwise. */
  value: string;
  /** The opening quote of a `string` token. */
  quote?: '"' | "'";
  /** 0-based offsets into the source: `start` inclusive, `end` exclusive. */
  start: number;
  end: number;
}

/** Reports a syntax error at a 0-based position; `detail` reads "expected …". Never returns. */
export type Fail = (position: number, detail: string) => never;

const PUNCTUATION = new Map<string, TokenType>([
  ['(', 'lparen'],
  [')', 'rparen'],
  [',', 'comma'],
]);

/** Splits `source` into tokens, always ending with one `eof` token at `source.length`. */
export function tokenize(source: string, fail: Fail): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    if (isSpace(source[i])) {
      i += 1;
      continue;
    }
    const token = readToken(source, i, fail);
    tokens.push(token);
    i = token.end;
  }
  tokens.push(plain('eof', source, source.length, source.length));
  return tokens;
}

function readToken(source: string, start: number, fail: Fail): Token {
  const ch = source[start];
  if (ch === "'" || ch === '"' || ch === '`') return readQuoted(source, start, fail);
  if (startsNumber(source, start)) return readNumber(source, start, fail);
  if (isWordStart(ch)) return plain('word', source, start, scan(source, start, isWordChar));
  if (isOperatorChar(ch)) return plain('operator', source, start, scan(source, start, isOperatorChar));
  const punctuation = PUNCTUATION.get(ch);
  if (punctuation !== undefined) return plain(punctuation, source, start, start + 1);
  return fail(start, `expected a key, value, comparator or AND, got '${ch}'`);
}

// A doubled quote stands for one quote, and so does a backslash before the quote.
// Any other backslash is kept with the character after it, so LIKE escapes such
// as '\%' and '\\' reach the SQL compiler unchanged.
function readQuoted(source: string, start: number, fail: Fail): Token {
  const quote = source[start];
  const parts: string[] = [];
  let from = start + 1;
  let i = from;
  while (i < source.length) {
    const ch = source[i];
    const after = source[i + 1];
    if (ch === quote && after !== quote) {
      parts.push(source.slice(from, i));
      return quoted(source, start, i + 1, parts.join(''));
    }
    if (ch === quote || (ch === '\\' && after === quote)) {
      parts.push(source.slice(from, i), quote);
      from = i + 2;
    }
    i += ch === '\\' || ch === quote ? 2 : 1;
  }
  return fail(start, `expected a closing ${quote} for the text quoted here`);
}

function quoted(source: string, start: number, end: number, value: string): Token {
  const quote = source[start];
  if (quote === '`') return { type: 'backtick', text: source.slice(start, end), value, start, end };
  const stringQuote = quote === '"' ? '"' : "'";
  return { type: 'string', text: source.slice(start, end), value, quote: stringQuote, start, end };
}

function startsNumber(source: string, start: number): boolean {
  let i = start;
  if (source[i] === '-' || source[i] === '+') i += 1;
  if (source[i] === '.') i += 1;
  return isDigit(source[i]);
}

// Accepts 3, -3, 0.5, .5, 5., -1.5e-3, 2E+10; a number running straight into
// letters or further dots (1.2.3, 1e, 10abc) is rejected rather than split.
function readNumber(source: string, start: number, fail: Fail): Token {
  let i = start;
  if (source[i] === '-' || source[i] === '+') i += 1;
  i = scan(source, i, isDigit);
  if (source[i] === '.') i = scan(source, i + 1, isDigit);
  if (source[i] === 'e' || source[i] === 'E') {
    const sign = source[i + 1] === '-' || source[i + 1] === '+' ? 1 : 0;
    if (isDigit(source[i + 1 + sign])) i = scan(source, i + 1 + sign, isDigit);
  }
  if (i < source.length && isWordChar(source[i])) {
    return fail(start, 'expected a number such as 3, -0.5 or 1e-3');
  }
  return plain('number', source, start, i);
}

function plain(type: TokenType, source: string, start: number, end: number): Token {
  const text = source.slice(start, end);
  return { type, text, value: text, start, end };
}

function scan(source: string, from: number, accepts: (ch: string) => boolean): number {
  let i = from;
  while (i < source.length && accepts(source[i])) i += 1;
  return i;
}

function isSpace(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === '\f' || ch === '\v';
}

function isDigit(ch: string | undefined): boolean {
  return ch !== undefined && ch >= '0' && ch <= '9';
}

function isLetter(ch: string): boolean {
  if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) return true;
  return ch > '\u007f' && /^[\p{L}\p{N}]$/u.test(ch);
}

function isWordStart(ch: string): boolean {
  return ch === '_' || isLetter(ch);
}

/** Characters MLflow allows in unquoted keys: letters, digits and `_ . - / :`. */
function isWordChar(ch: string): boolean {
  return isWordStart(ch) || isDigit(ch) || ch === '.' || ch === '-' || ch === '/' || ch === ':';
}

function isOperatorChar(ch: string): boolean {
  return ch === '=' || ch === '!' || ch === '<' || ch === '>';
}
