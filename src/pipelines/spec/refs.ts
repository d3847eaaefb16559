// `${{ ... }}` references: the syntax, finding them inside strings, and resolving them once the
// steps they name have run.
import { invalidParam } from '../../errors/index.js';
import type { ConditionContext, Reference } from './types.js';

const ID = '[A-Za-z_][A-Za-z0-9_]*';
export const DATASET_NAME = '[A-Za-z0-9_.-]{1,200}';
/** The body of a reference, without `${{ }}`. */
export const REFERENCE_BODY = `params\\.${ID}|steps\\.${ID}\\.(?:outputs|metrics)\\.${ID}|datasets\\.${DATASET_NAME}@(?:[1-9][0-9]*|latest)`;
/** A whole string that is exactly one reference. */
export const REFERENCE_PATTERN = `^\\$\\{\\{\\s*(?:${REFERENCE_BODY})\\s*\\}\\}$`;
export const REFERENCE_FORMS = 'params.NAME, steps.STEP.outputs.NAME, steps.STEP.metrics.NAME or datasets.NAME@VERSION (a version number or latest)';

const PARAM = new RegExp(`^params\\.(${ID})$`);
const STEP = new RegExp(`^steps\\.(${ID})\\.(outputs|metrics)\\.(${ID})$`);
const DATASET = new RegExp(`^datasets\\.(${DATASET_NAME})@([1-9][0-9]*|latest)$`);

/** The target of a reference body such as `steps.train.outputs.model`; null if it is not one. */
export function parseReference(body: string): Reference | null {
  let m = PARAM.exec(body);
  if (m) return { kind: 'param', name: m[1] };
  m = STEP.exec(body);
  if (m) return { kind: 'step', step: m[1], field: m[2] as 'outputs' | 'metrics', name: m[3] };
  m = DATASET.exec(body);
  if (m) return { kind: 'dataset', name: m[1], version: m[2] === 'latest' ? 'latest' : Number(m[2]) };
  return null;
}

/** One `${{ ... }}` found in a string; `offset` is where its body starts. */
export interface TemplateReference {
  text: string;
  offset: number;
  target: Reference | null;
}

export interface TemplateScan {
  references: TemplateReference[];
  /** An opening `${{` without its `}}`. */
  unclosedAt: number | null;
}

export function scanTemplate(s: string): TemplateScan {
  const references: TemplateReference[] = [];
  let from = 0;
  for (;;) {
    const open = s.indexOf('${{', from);
    if (open < 0) return { references, unclosedAt: null };
    const close = s.indexOf('}}', open + 3);
    if (close < 0) return { references, unclosedAt: open };
    const inner = s.slice(open + 3, close);
    const text = inner.trim();
    references.push({ text, offset: open + 3 + inner.indexOf(text), target: parseReference(text) });
    from = close + 2;
  }
}

/** Where a run's references look up datasets: `name@version` → the value to put in. */
export type DatasetValues = Readonly<Record<string, unknown>>;

function lookup(owner: Record<string, unknown> | undefined, key: string, what: string): unknown {
  if (!owner || !Object.hasOwn(owner, key) || owner[key] === undefined) throw invalidParam(`${what} has no value.`);
  return owner[key];
}

/** The value a reference stands for once its steps have run. */
export function resolveReference(ref: Reference, ctx: ConditionContext, datasets: DatasetValues = {}): unknown {
  if (ref.kind === 'param') return lookup(ctx.params, ref.name, `params.${ref.name}`);
  if (ref.kind === 'dataset') return lookup(datasets as Record<string, unknown>, `${ref.name}@${ref.version}`, `datasets.${ref.name}@${ref.version}`);
  const step = lookup(ctx.steps, ref.step, `steps.${ref.step}`) as Record<string, unknown>;
  if (ref.field === null) return step;
  const section = lookup(step, ref.field, `steps.${ref.step}.${ref.field}`) as Record<string, unknown>;
  return ref.name === null ? section : lookup(section, ref.name, `steps.${ref.step}.${ref.field}.${ref.name}`);
}

/** A string with each reference replaced by its value (lists and maps as JSON). */
export function renderTemplate(s: string, ctx: ConditionContext, datasets: DatasetValues = {}): string {
  const { references, unclosedAt } = scanTemplate(s);
  if (unclosedAt !== null) throw invalidParam(`'\${{' at character ${unclosedAt + 1} has no closing '}}'.`);
  let out = '';
  let from = 0;
  for (const r of references) {
    if (!r.target) throw invalidParam(`'\${{ ${r.text} }}' is not a reference; use ${REFERENCE_FORMS}.`);
    const value = resolveReference(r.target, ctx, datasets);
    out += s.slice(from, s.lastIndexOf('${{', r.offset)) + (typeof value === 'string' ? value : JSON.stringify(value));
    from = s.indexOf('}}', r.offset + r.text.length) + 2;
  }
  return out + s.slice(from);
}
