// The pipeline as a graph: a step depends on the steps it `needs` and on every step it reads from
// (`${{ steps.X... }}` in inputs, run and env, and `steps.X` in its condition). Checks that every
// reference lands on something declared and that the dependencies have no cycle.
import { invalidParam } from '../../errors/index.js';
import { matrixSize } from './matrix.js';
import { closest } from './reader.js';
import type { Pipeline, PipelineError, ReferenceSite, Step } from './types.js';

export interface Edge {
  from: string;
  to: string;
  /** The step `to` has a condition; `from` runs first either way. */
  conditional: boolean;
}

/** The steps a step waits for, in the order it first names them (itself and unknown names included). */
export function dependencies(step: Step): string[] {
  const out: string[] = [];
  for (const site of step.references) if (site.target.kind === 'step' && !out.includes(site.target.step)) out.push(site.target.step);
  return out;
}

function knownDependencies(pipeline: Pipeline, step: Step): string[] {
  return dependencies(step).filter((d) => d !== step.name && pipeline.steps.some((s) => s.name === d));
}

/** Every dependency edge, from the step that runs first; in file order of the dependent step. */
export function edges(pipeline: Pipeline): Edge[] {
  return pipeline.steps.flatMap((s) => knownDependencies(pipeline, s).map((from) => ({ from, to: s.name, conditional: s.when !== null })));
}

const list = (names: readonly string[]): string => (names.length ? names.join(', ') : 'none');

function stepProblem(site: ReferenceSite, owner: Step, steps: ReadonlyMap<string, Step>, unchecked: ReadonlySet<string>): string | null {
  if (site.target.kind !== 'step') return null;
  const { step: name, field, name: output } = site.target;
  if (name === owner.name) {
    return site.field === 'needs' ? `step '${name}' lists itself in needs.` : `step '${name}' reads its own ${field ?? 'results'} (${site.text}); a step can only read steps that run before it.`;
  }
  const producer = steps.get(name);
  if (!producer) {
    const guess = closest(name, [...steps.keys()]);
    return `unknown step '${name}' (steps: ${list([...steps.keys()])}).${guess ? ` Did you mean '${guess}'?` : ''}`;
  }
  if (output === null || unchecked.has(name)) return null;
  if (field === 'outputs' && !Object.hasOwn(producer.outputs.artifacts, output)) {
    return `step '${name}' does not declare output '${output}' (its outputs.artifacts: ${list(Object.keys(producer.outputs.artifacts))}).`;
  }
  if (field === 'metrics' && !producer.outputs.metrics.includes(output)) {
    return `step '${name}' does not declare metric '${output}' (its outputs.metrics: ${list(producer.outputs.metrics)}).`;
  }
  return null;
}

function paramProblem(name: string, declared: ReadonlySet<string>): string | null {
  if (declared.has(name)) return null;
  const guess = closest(name, [...declared]);
  return `params.${name} is not a declared param (declared: ${list([...declared])}).${guess ? ` Did you mean '${guess}'?` : ''}`;
}

/** Groups of steps that depend on each other in a circle (Tarjan's strongly connected components). */
function circularGroups(pipeline: Pipeline): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const groups: string[][] = [];
  const deps = new Map(pipeline.steps.map((s) => [s.name, knownDependencies(pipeline, s)]));
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    for (const w of deps.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (stack.includes(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const group: string[] = [];
    for (let w = stack.pop()!; ; w = stack.pop()!) {
      group.push(w);
      if (w === v) break;
    }
    if (group.length > 1) groups.push(group);
  };
  for (const s of pipeline.steps) if (!index.has(s.name)) visit(s.name);
  return groups;
}

/** The shortest cycle through `start` inside `group`, in run order (`a → b → a`: b depends on a). */
function cycleThrough(pipeline: Pipeline, start: string, group: readonly string[]): string[] {
  const dependents = (name: string) => pipeline.steps.filter((s) => group.includes(s.name) && knownDependencies(pipeline, s).includes(name)).map((s) => s.name);
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const v = queue.shift()!;
    for (const w of dependents(v)) {
      if (w === start) {
        const path = [v];
        while (path[0] !== start) path.unshift(previous.get(path[0])!);
        return [...path, start];
      }
      if (!previous.has(w)) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

/** One message per cycle, naming every step on it, at the cycle's first step in the file. */
export function cycles(pipeline: Pipeline): { step: Step; cycle: string[]; message: string }[] {
  return circularGroups(pipeline)
    .map((group) => {
      const step = pipeline.steps.find((s) => group.includes(s.name))!;
      const cycle = cycleThrough(pipeline, step.name, group);
      return { step, cycle, message: `steps depend on each other in a cycle: ${cycle.join(' → ')} (each arrow points to a step that waits for the one before it).` };
    })
    .sort((a, b) => a.step.line - b.step.line);
}

export interface GraphCheckOptions {
  /** Steps whose outputs could not be read; references to their outputs are not checked. */
  uncheckedOutputs?: ReadonlySet<string>;
  /** Names that count as declared params (by default, those in `pipeline.params`). */
  declaredParams?: ReadonlySet<string>;
}

/** Every reference problem and every cycle, in file order. */
export function validateGraph(pipeline: Pipeline, options: GraphCheckOptions = {}): PipelineError[] {
  const steps = new Map(pipeline.steps.map((s) => [s.name, s]));
  const unchecked = options.uncheckedOutputs ?? new Set<string>();
  const declared = options.declaredParams ?? new Set(pipeline.params.map((p) => p.name));
  const errors: PipelineError[] = [];
  for (const step of pipeline.steps) {
    for (const site of step.references) {
      const message = site.target.kind === 'param' ? paramProblem(site.target.name, declared) : stepProblem(site, step, steps, unchecked);
      if (message) errors.push({ path: site.path, line: site.line, column: site.column, message });
    }
  }
  for (const c of cycles(pipeline)) errors.push({ path: `steps.${c.step.name}`, line: c.step.line, column: c.step.column, message: c.message });
  return errors.sort((a, b) => a.line - b.line || a.column - b.column);
}

/** Step names in an order that runs every step after its dependencies; ties keep file order. */
export function topologicalOrder(pipeline: Pipeline): string[] {
  const found = cycles(pipeline);
  if (found.length) throw invalidParam(found.map((c) => c.message).join('\n'));
  const waiting = new Map(pipeline.steps.map((s) => [s.name, new Set(knownDependencies(pipeline, s))]));
  const order: string[] = [];
  while (order.length < pipeline.steps.length) {
    const next = pipeline.steps.find((s) => !order.includes(s.name) && waiting.get(s.name)!.size === 0)!;
    order.push(next.name);
    for (const deps of waiting.values()) deps.delete(next.name);
  }
  return order;
}

const escapeLabel = (s: string): string => s.replace(/&/g, '#amp;').replace(/"/g, '#quot;').replace(/</g, '#lt;').replace(/>/g, '#gt;');

function nodeLabel(step: Step, hasDependencies: boolean): string {
  const size = matrixSize(step);
  let label = size > 1 || step.matrix ? `${step.name} ×${size}` : step.name;
  if (step.when && !hasDependencies) label += ` (when ${step.when.source})`;
  return escapeLabel(label);
}

/**
 * A Mermaid flowchart, top to bottom: matrix steps show how many instances they fan out into, and
 * edges into a step with a condition are dashed and carry the condition.
 */
export function mermaid(pipeline: Pipeline): string {
  const ids = new Map(pipeline.steps.map((s, i) => [s.name, `s${i}`]));
  const all = edges(pipeline);
  const lines = ['flowchart TD'];
  for (const s of pipeline.steps) lines.push(`  ${ids.get(s.name)}["${nodeLabel(s, all.some((e) => e.to === s.name))}"]`);
  for (const e of all) {
    const condition = pipeline.steps.find((s) => s.name === e.to)!.when;
    const arrow = e.conditional && condition ? ` -.->|"${escapeLabel(condition.source)}"| ` : ' --> ';
    lines.push(`  ${ids.get(e.from)}${arrow}${ids.get(e.to)}`);
  }
  return `${lines.join('\n')}\n`;
}
