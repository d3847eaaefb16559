// The tree a condition parses into, and the one error type parsing and evaluation raise.
import { AppError } from '../../errors/index.js';

export type Scalar = null | boolean | number | string;
export type BinaryOp = '||' | '&&' | '==' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | '+' | '-' | '*' | '/' | '%';

/** A node of a parsed expression; `at` is the 0-based offset of its first character. */
export type Expr =
  | { kind: 'literal'; value: Scalar; at: number }
  | { kind: 'ident'; name: string; at: number }
  | { kind: 'member'; object: Expr; name: string; at: number; nameAt: number }
  | { kind: 'index'; object: Expr; index: Expr; at: number }
  | { kind: 'unary'; op: '!' | '-'; operand: Expr; at: number }
  | { kind: 'binary'; op: BinaryOp; left: Expr; right: Expr; at: number; opAt: number }
  | { kind: 'list'; items: Expr[]; at: number };

export class ExpressionError extends AppError {
  /** 1-based column in the expression. */
  readonly column: number;
  /** The message without the column, for callers that place it themselves. */
  readonly reason: string;

  constructor(reason: string, at: number) {
    super('INVALID_PARAMETER_VALUE', `${reason} (column ${at + 1})`, { details: { column: at + 1 } });
    this.name = 'ExpressionError';
    this.column = at + 1;
    this.reason = reason;
  }
}
