import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { AppError } from '../../errors/index.js';
import { cycles, dependencies, edges, mermaid, topologicalOrder, validateGraph } from './graph.js';
import { assertValidPipeline, parsePipeline } from './parse.js';
import type { Pipeline } from './types.js';

const EXAMPLE = readFileSync(new URL('./examples/training.yaml', import.meta.url), 'utf8');
const load = (steps: string, params = '') => assertValidPipeline(`name: g\n${params}steps:\n${steps}`);
const problems = (steps: string, params = '') => parsePipeline(`name: g\n${params}steps:\n${steps}`).errors.map((e) => `${e.line}:${e.column} ${e.path}: ${e.message}`);

/** Makes `step` depend on `on`, as a `needs` entry would, bypassing the parser's checks. */
function addNeed(p: Pipeline, step: string, on: string): void {
  const s = p.steps.find((x) => x.name === step)!;
  s.needs.push(on);
  s.references.push({ field: 'needs', path: `steps.${step}.needs`, text: on, target: { kind: 'step', step: on, field: null, name: null }, line: s.line, column: s.column });
}

describe('dependencies', () => {
  it('come from needs and from references in inputs, run, env and when', () => {
    const p = load([
      '  a: {run: x, outputs: {artifacts: {m: m.bin}, metrics: [f1]}}',
      '  b: {run: x}',
      '  c: {run: x}',
      '  d: {run: x}',
      '  e: {run: x}',
      '  uses_input: {run: x, inputs: {m: "${{ steps.a.outputs.m }}"}}',
      '  uses_run: {run: "train ${{ steps.a.outputs.m }}"}',
      '  uses_env: {run: x, env: {M: "${{ steps.a.metrics.f1 }}"}}',
      '  uses_when: {run: x, when: "steps.a.metrics.f1 > 0.5"}',
      '  all: {run: "${{ steps.c.outputs.m }}", needs: [e, b], when: "steps.d.status == \\"succeeded\\""}',
      '',
    ].join('\n').replace('  c: {run: x}', '  c: {run: x, outputs: {artifacts: {m: m}}}'));
    const deps = (name: string) => dependencies(p.steps.find((s) => s.name === name)!);
    for (const name of ['uses_input', 'uses_run', 'uses_env', 'uses_when']) assert.deepEqual(deps(name), ['a'], name);
    assert.deepEqual(deps('all'), ['c', 'e', 'b', 'd']);
    assert.deepEqual(edges(p).filter((e) => e.to === 'all'), [
      { from: 'c', to: 'all', conditional: true },
      { from: 'e', to: 'all', conditional: true },
      { from: 'b', to: 'all', conditional: true },
      { from: 'd', to: 'all', conditional: true },
    ]);
  });
});

describe('topologicalOrder', () => {
  it('runs each step after its dependencies and breaks ties by file order', () => {
    const p = load('  late: {run: x, needs: [mid]}\n  mid: {run: x, needs: [first]}\n  free: {run: x}\n  first: {run: x}\n  also_free: {run: x}\n');
    assert.deepEqual(topologicalOrder(p), ['free', 'first', 'mid', 'late', 'also_free']);
  });

  it('orders the full example', () => {
    assert.deepEqual(topologicalOrder(assertValidPipeline(EXAMPLE)), ['ingest', 'validate', 'train', 'evaluate', 'gate', 'register', 'deploy']);
  });

  it('refuses a graph with a cycle, naming it', () => {
    const p = load('  a: {run: x}\n  b: {run: x, needs: [a]}\n  c: {run: x, needs: [b]}\n');
    addNeed(p, 'a', 'c');
    assert.throws(() => topologicalOrder(p), (err: unknown) => err instanceof AppError && /a → b → c → a/.test(err.message));
  });
});

describe('validateGraph', () => {
  it('finds nothing wrong in the full example', () => {
    assert.deepEqual(validateGraph(assertValidPipeline(EXAMPLE)), []);
  });

  it('names the whole cycle, from its first step in the file', () => {
    const found = problems('  x: {run: x}\n  c: {run: x, needs: [b]}\n  a: {run: x, needs: [c]}\n  b: {run: "${{ steps.a.outputs.o }}"}\n'.replace('  a: {run: x,', '  a: {run: x, outputs: {artifacts: {o: o}},'));
    assert.deepEqual(found, ['4:3 steps.c: steps depend on each other in a cycle: c → a → b → c (each arrow points to a step that waits for the one before it).']);
  });

  it('reports each separate cycle, and the shortest way round a tangle', () => {
    const p = load('  a: {run: x}\n  b: {run: x, needs: [a]}\n  c: {run: x, needs: [b]}\n  d: {run: x}\n  e: {run: x, needs: [d]}\n');
    addNeed(p, 'a', 'c');
    addNeed(p, 'a', 'b');
    addNeed(p, 'd', 'e');
    assert.deepEqual(cycles(p).map((c) => c.cycle.join(' → ')), ['a → b → a', 'd → e → d']);
  });

  it('reports a step that depends on itself, explicitly or through its own outputs', () => {
    assert.deepEqual(problems('  a: {run: x, needs: [a]}\n  b: {run: "${{ steps.b.outputs.o }}", outputs: {artifacts: {o: o}}}\n'), [
      "3:23 steps.a.needs[0]: step 'a' lists itself in needs.",
      "4:17 steps.b.run: step 'b' reads its own outputs (steps.b.outputs.o); a step can only read steps that run before it.",
    ]);
  });

  it('reports unknown steps and params where they are referenced, with a suggestion', () => {
    assert.deepEqual(problems('  train: {run: x}\n  gate:\n    run: x\n    when: params.mood == "full" && steps.trian.status == "succeeded"\n', 'params: {mode: {type: string, default: full}}\n'), [
      "7:11 steps.gate.when: params.mood is not a declared param (declared: mode). Did you mean 'mode'?",
      "7:36 steps.gate.when: unknown step 'trian' (steps: train, gate). Did you mean 'train'?",
    ]);
  });

  it('reports outputs and metrics the producing step does not declare', () => {
    assert.deepEqual(problems([
      '  evaluate: {run: x, outputs: {artifacts: {model: m.onnx}, metrics: [f1]}}',
      '  gate: {run: x, when: "steps.evaluate.metrics.recall > 0.8"}',
      '  push: {run: x, inputs: {m: "${{ steps.evaluate.outputs.weights }}", s: "${{ steps.evaluate.metrics.auc }}"}}',
      '',
    ].join('\n')), [
      "4:25 steps.gate.when: step 'evaluate' does not declare metric 'recall' (its outputs.metrics: f1).",
      "5:35 steps.push.inputs.m: step 'evaluate' does not declare output 'weights' (its outputs.artifacts: model).",
      "5:79 steps.push.inputs.s: step 'evaluate' does not declare metric 'auc' (its outputs.metrics: f1).",
    ]);
  });

  it('does not pile reference errors on a step whose outputs are already reported', () => {
    const found = problems('  a: {run: x, outputs: {artifacts: [m]}}\n  b: {run: "${{ steps.a.outputs.m }}"}\n');
    assert.equal(found.length, 1);
    assert.match(found[0], /steps\.a\.outputs\.artifacts: must be a mapping of artifact name to path/);
  });
});

describe('mermaid', () => {
  it('draws the example top to bottom, with the fan-out size and dashed conditional edges', () => {
    assert.equal(mermaid(assertValidPipeline(EXAMPLE)), [
      'flowchart TD',
      '  s0["ingest"]',
      '  s1["validate"]',
      '  s2["train ×3"]',
      '  s3["evaluate"]',
      '  s4["gate"]',
      '  s5["register"]',
      '  s6["deploy"]',
      '  s0 --> s1',
      '  s1 --> s2',
      '  s0 --> s2',
      '  s2 --> s3',
      '  s3 -.->|"steps.evaluate.metrics.f1 #gt;= 0.9 #amp;#amp; params.mode == #quot;full#quot;"| s4',
      '  s4 --> s5',
      '  s3 --> s5',
      '  s5 --> s6',
      '',
    ].join('\n'));
  });

  it('puts the condition of a step with no dependency on its box', () => {
    const p = load('  end: {run: x, when: "params.go"}\n', 'params: {go: {type: boolean}}\n');
    assert.equal(mermaid(p), 'flowchart TD\n  s0["end (when params.go)"]\n');
  });
});
