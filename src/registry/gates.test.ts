import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../errors/index.js';
import { denialMessage, evaluateGates, gatesFor, parsePolicy, type Gate, type GateInput, type GateResult } from './gates.js';

const EXAMPLE = `gates:
  - name: production-ready
    protects:                # what setting triggers this gate; glob '*' allowed in names
      aliases: [champion, prod-*]
      stages: [Production]
    rules:
      - name: accuracy
        expr: metrics.accuracy >= 0.9
        message: accuracy must reach 0.9      # optional
      - name: owned
        expr: has(tags.owner) && has(tags.cost_center)
      - name: safe-format
        expr: '!version.unsafe_format'
      - name: no-public-sensitive-data
        expr: '!datasets.exists(d, d.sensitive && d.access == "public")'
      - name: card
        expr: card.intended_use != ""
`;

const SENSITIVE_INTERNAL = { name: 'faces', digest: 'sha256:aa', sensitive: true, access: 'internal', rows: 1200 };
const PUBLIC_CENSUS = { name: 'census', digest: 'sha256:bb', sensitive: false, access: 'public', rows: 300 };

/** An input every example rule accepts; tests spread their one change over it. */
function goodInput(): GateInput {
  return {
    version: {
      name: 'churn', version: 4, semver: '1.2.0', source: 'runs:/r1/model', run_id: 'r1', unsafe_format: false,
      unsafe_files: [], signed: true, description: 'churn model', stage: 'Staging', aliases: ['candidate'],
    },
    metrics: { accuracy: 0.93, loss: 0.12 },
    params: { epochs: '12' },
    tags: { owner: 'ana', cost_center: 'cc-7', 'key.with.dots': 'yes' },
    model_tags: { team: 'growth' },
    card: { description: 'd', intended_use: 'churn scoring', training_data: 't', limitations: 'l', fairness: 'f', metrics_summary: 'm' },
    datasets: [SENSITIVE_INTERNAL, PUBLIC_CENSUS],
    signature: { inputs: [{ name: 'features', datatype: 'float32', shape: [-1, 16] }], outputs: [{ name: 'score', datatype: 'float32', shape: [-1, 1] }] },
  };
}

/** Builds a one-gate, one-rule policy around `expr`, which sits on line 6. */
function policyWith(expr: string, extra = ''): string {
  return `gates:\n  - name: g\n    protects: {stages: [Staging]}\n    rules:\n      - name: r\n        expr: ${expr}\n${extra}`;
}

function ruleResult(expr: string, input: GateInput): GateResult {
  const report = evaluateGates(parsePolicy(policyWith(expr)).gates, input);
  assert.equal(report.results.length, 1);
  return report.results[0];
}

/** Asserts parsePolicy rejects `text` with exactly these problems, in this order. */
function assertProblems(text: string, problems: string[]): void {
  assert.throws(() => parsePolicy(text), (err: unknown) => {
    assert.ok(err instanceof AppError, `expected an AppError, got ${String(err)}`);
    assert.equal(err.code, 'INVALID_PARAMETER_VALUE');
    assert.equal(err.status, 400);
    assert.deepEqual(err.details, { problems });
    assert.equal(err.message, `Invalid gate policy:\n${problems.join('\n')}`);
    return true;
  });
}

describe('parsePolicy: the example policy', () => {
  it('keeps names, protected targets, messages and the line of every expression', () => {
    const policy = parsePolicy(EXAMPLE);
    assert.deepEqual(policy, {
      gates: [{
        name: 'production-ready',
        line: 2,
        protects: { aliases: ['champion', 'prod-*'], stages: ['Production'] },
        rules: [
          { name: 'accuracy', expr: 'metrics.accuracy >= 0.9', line: 8, message: 'accuracy must reach 0.9' },
          { name: 'owned', expr: 'has(tags.owner) && has(tags.cost_center)', line: 11 },
          { name: 'safe-format', expr: '!version.unsafe_format', line: 13 },
          { name: 'no-public-sensitive-data', expr: '!datasets.exists(d, d.sensitive && d.access == "public")', line: 15 },
          { name: 'card', expr: 'card.intended_use != ""', line: 17 },
        ],
      }],
    });
  });
});

describe('evaluateGates: the example rules', () => {
  const gates = parsePolicy(EXAMPLE).gates;

  it('allows a version that meets every rule and reports what each rule read', () => {
    const report = evaluateGates(gates, goodInput());
    const gate = 'production-ready';
    assert.deepEqual(report, {
      allowed: true,
      results: [
        { gate, rule: 'accuracy', expr: 'metrics.accuracy >= 0.9', passed: true, inputs: { 'metrics.accuracy': 0.93 } },
        { gate, rule: 'owned', expr: 'has(tags.owner) && has(tags.cost_center)', passed: true, inputs: { 'tags.owner': 'ana', 'tags.cost_center': 'cc-7' } },
        { gate, rule: 'safe-format', expr: '!version.unsafe_format', passed: true, inputs: { 'version.unsafe_format': false } },
        { gate, rule: 'no-public-sensitive-data', expr: '!datasets.exists(d, d.sensitive && d.access == "public")', passed: true, inputs: { datasets: [SENSITIVE_INTERNAL, PUBLIC_CENSUS] } },
        { gate, rule: 'card', expr: 'card.intended_use != ""', passed: true, inputs: { 'card.intended_use': 'churn scoring' } },
      ],
    });
    assert.equal(denialMessage(report), '');
  });

  it('denies a version that breaks every rule, with the configured message on the failed rule', () => {
    const good = goodInput();
    const leaked = { ...SENSITIVE_INTERNAL, access: 'public' };
    const input: GateInput = {
      ...good,
      version: { ...good.version, unsafe_format: true },
      metrics: { accuracy: 0.85 },
      tags: { owner: 'ana' },
      card: { ...good.card, intended_use: '' },
      datasets: [leaked],
    };
    const report = evaluateGates(gates, input);
    const gate = 'production-ready';
    assert.deepEqual(report, {
      allowed: false,
      results: [
        { gate, rule: 'accuracy', expr: 'metrics.accuracy >= 0.9', passed: false, message: 'accuracy must reach 0.9', inputs: { 'metrics.accuracy': 0.85 } },
        { gate, rule: 'owned', expr: 'has(tags.owner) && has(tags.cost_center)', passed: false, inputs: { 'tags.owner': 'ana', 'tags.cost_center': null } },
        { gate, rule: 'safe-format', expr: '!version.unsafe_format', passed: false, inputs: { 'version.unsafe_format': true } },
        { gate, rule: 'no-public-sensitive-data', expr: '!datasets.exists(d, d.sensitive && d.access == "public")', passed: false, inputs: { datasets: [leaked] } },
        { gate, rule: 'card', expr: 'card.intended_use != ""', passed: false, inputs: { 'card.intended_use': '' } },
      ],
    });
    assert.equal(
      denialMessage(report),
      "Gate 'production-ready' denied: " +
        "rule 'accuracy' (metrics.accuracy >= 0.9) failed with metrics.accuracy=0.85 — accuracy must reach 0.9; " +
        "rule 'owned' (has(tags.owner) && has(tags.cost_center)) failed with tags.owner=\"ana\", tags.cost_center=null; " +
        "rule 'safe-format' (!version.unsafe_format) failed with version.unsafe_format=true; " +
        "rule 'no-public-sensitive-data' (!datasets.exists(d, d.sensitive && d.access == \"public\")) failed with " +
        'datasets=[{"name":"faces","digest":"sha256:aa","sensitive":true,"access":"public","rows":1200}]; ' +
        "rule 'card' (card.intended_use != \"\") failed with card.intended_use=\"\".",
    );
  });

  it('passes a sensitive dataset kept private and a public dataset that is not sensitive', () => {
    const input = { ...goodInput(), datasets: [SENSITIVE_INTERNAL, PUBLIC_CENSUS] };
    assert.equal(ruleResult(`'!datasets.exists(d, d.sensitive && d.access == "public")'`, input).passed, true);
    assert.equal(ruleResult(`'!datasets.exists(d, d.sensitive && d.access == "public")'`, { ...input, datasets: [] }).passed, true);
  });

  it('names every failing gate in one sentence', () => {
    const policy = parsePolicy(`${EXAMPLE}  - name: signed\n    protects: {aliases: [champion]}\n    rules:\n      - name: signature\n        expr: version.signed\n`);
    const good = goodInput();
    const report = evaluateGates(gatesFor(policy, { alias: 'champion' }), { ...good, metrics: { accuracy: 0.5 }, version: { ...good.version, signed: false } });
    assert.equal(report.allowed, false);
    assert.equal(
      denialMessage(report),
      "Gate 'production-ready' denied: rule 'accuracy' (metrics.accuracy >= 0.9) failed with metrics.accuracy=0.5 — accuracy must reach 0.9; " +
        "gate 'signed' denied: rule 'signature' (version.signed) failed with version.signed=false.",
    );
  });
});

describe('evaluateGates: missing keys and odd inputs', () => {
  it('fails a rule reading a metric that was never logged, with the error, instead of throwing', () => {
    const input = { ...goodInput(), metrics: {} };
    const result = ruleResult('metrics.accuracy >= 0.9', input);
    assert.deepEqual(result, {
      gate: 'g', rule: 'r', expr: 'metrics.accuracy >= 0.9', passed: false, error: 'no such key: accuracy', inputs: { 'metrics.accuracy': null },
    });
    assert.equal(
      denialMessage({ allowed: false, results: [result] }),
      "Gate 'g' denied: rule 'r' (metrics.accuracy >= 0.9) failed with metrics.accuracy=null (error: no such key: accuracy).",
    );
  });

  it('lets a guarded rule pass when the missing key is never read', () => {
    const input = { ...goodInput(), metrics: {} };
    assert.deepEqual(ruleResult(`'!has(metrics.accuracy) || metrics.accuracy >= 0.9'`, input), {
      gate: 'g', rule: 'r', expr: '!has(metrics.accuracy) || metrics.accuracy >= 0.9', passed: true, inputs: { 'metrics.accuracy': null },
    });
  });

  it('reads tag keys containing dots through the index operator', () => {
    assert.deepEqual(ruleResult(`'tags["key.with.dots"] == "yes"'`, goodInput()), {
      gate: 'g', rule: 'r', expr: 'tags["key.with.dots"] == "yes"', passed: true, inputs: { 'tags["key.with.dots"]': 'yes' },
    });
    const without = { ...goodInput(), tags: {} };
    assert.deepEqual(ruleResult(`'tags["key.with.dots"] == "yes"'`, without), {
      gate: 'g', rule: 'r', expr: 'tags["key.with.dots"] == "yes"', passed: false, error: 'no such key: key.with.dots', inputs: { 'tags["key.with.dots"]': null },
    });
  });

  it('treats integer fields as CEL ints so integer arithmetic works', () => {
    assert.equal(ruleResult('version.version + 1 == 5 && datasets.all(d, d.rows * 2 > 500)', goodInput()).passed, true);
    assert.deepEqual(ruleResult('signature.inputs[0].shape[1] == 16', goodInput()).inputs, { 'signature.inputs[0].shape[1]': 16 });
  });

  it('fails, at evaluation, a rule whose result is only known to be non-bool at run time', () => {
    assert.deepEqual(ruleResult('dyn(tags.owner)', goodInput()), {
      gate: 'g', rule: 'r', expr: 'dyn(tags.owner)', passed: false, error: 'expression returned string, not bool', inputs: { 'tags.owner': 'ana' },
    });
  });

  it('refuses nested comprehensions whose iterations would exceed the budget', () => {
    const files = Array.from({ length: 1001 }, (_, i) => `f${i}.pkl`);
    const input = { ...goodInput(), version: { ...goodInput().version, unsafe_files: files } };
    const result = ruleResult(`'!version.unsafe_files.exists(a, version.unsafe_files.exists(b, a != b && a == b))'`, input);
    assert.equal(result.passed, false);
    assert.equal(result.error, 'nested comprehensions over 1001 items exceed 1000000 iterations');
    const small = { ...goodInput(), version: { ...goodInput().version, unsafe_files: files.slice(0, 3) } };
    assert.equal(ruleResult(`'!version.unsafe_files.exists(a, version.unsafe_files.exists(b, a != b && a == b))'`, small).passed, true);
  });

  it('compiles hand-built gates on first use and fails a rule it cannot compile', () => {
    const gate: Gate = {
      name: 'manual', line: 1, protects: { aliases: ['x'], stages: [] },
      rules: [{ name: 'ok', expr: 'params.epochs == "12"', line: 1 }, { name: 'broken', expr: 'params.epochs ==', line: 2, message: 'fix me' }],
    };
    assert.deepEqual(evaluateGates([gate], goodInput()), {
      allowed: false,
      results: [
        { gate: 'manual', rule: 'ok', expr: 'params.epochs == "12"', passed: true, inputs: { 'params.epochs': '12' } },
        { gate: 'manual', rule: 'broken', expr: 'params.epochs ==', passed: false, message: 'fix me', error: "syntax error at expression column 15: cannot read '=='", inputs: {} },
      ],
    });
  });

  it('reports only the input paths read, not comprehension variables that shadow them', () => {
    assert.deepEqual(ruleResult(`'datasets.exists(tags, tags.sensitive) && has(version.aliases)'`, goodInput()).inputs, {
      datasets: [SENSITIVE_INTERNAL, PUBLIC_CENSUS],
      'version.aliases': ['candidate'],
    });
  });

  it('shortens long input values in the denial message', () => {
    const files = Array.from({ length: 40 }, (_, i) => `model-${i}.pkl`);
    const input = { ...goodInput(), version: { ...goodInput().version, unsafe_files: files } };
    const result = ruleResult(`'size(version.unsafe_files) == 0'`, input);
    assert.deepEqual(result.inputs, { 'version.unsafe_files': files });
    const shown = JSON.stringify(files).slice(0, 157);
    assert.equal(
      denialMessage({ allowed: false, results: [result] }),
      `Gate 'g' denied: rule 'r' (size(version.unsafe_files) == 0) failed with version.unsafe_files=${shown}....`,
    );
  });

  it('allows when no gate applies', () => {
    assert.deepEqual(evaluateGates([], goodInput()), { allowed: true, results: [] });
  });
});

describe('gatesFor', () => {
  const policy = parsePolicy(`${EXAMPLE}  - name: versioned
    protects:
      aliases: ['v1.*', '*-canary']
    rules:
      - name: signed
        expr: version.signed
  - name: archive
    protects:
      stages: [archived, Production]
    rules:
      - name: described
        expr: version.description != ""
`);
  const names = (target: { alias?: string; stage?: string }): string[] => gatesFor(policy, target).map((g) => g.name);

  it('matches aliases exactly or by glob, where only * is special', () => {
    assert.deepEqual(names({ alias: 'champion' }), ['production-ready']);
    assert.deepEqual(names({ alias: 'prod-eu' }), ['production-ready']);
    assert.deepEqual(names({ alias: 'prod-' }), ['production-ready']);
    assert.deepEqual(names({ alias: 'champion2' }), []);
    assert.deepEqual(names({ alias: 'preprod-eu' }), []);
    assert.deepEqual(names({ alias: 'production' }), []);
    assert.deepEqual(names({ alias: 'v1.2' }), ['versioned']);
    assert.deepEqual(names({ alias: 'v1x2' }), []);
    assert.deepEqual(names({ alias: 'eu-canary' }), ['versioned']);
    assert.deepEqual(names({ alias: 'Champion' }), []);
  });

  it('matches stages ignoring case', () => {
    assert.deepEqual(names({ stage: 'Production' }), ['production-ready', 'archive']);
    assert.deepEqual(names({ stage: 'PRODUCTION' }), ['production-ready', 'archive']);
    assert.deepEqual(names({ stage: 'Archived' }), ['archive']);
    assert.deepEqual(names({ stage: 'Staging' }), []);
    assert.deepEqual(names({}), []);
  });

  it('returns each gate once, in policy order, when both alias and stage match', () => {
    assert.deepEqual(names({ alias: 'eu-canary', stage: 'production' }), ['production-ready', 'versioned', 'archive']);
  });
});

describe('parsePolicy: expression problems carry their line', () => {
  it('reports syntax errors on the line of the expression', () => {
    assertProblems(policyWith('metrics.accuracy >='), [
      "line 6: gate 'g' rule 'r': syntax error at expression column 18: cannot read '>='",
    ]);
    assertProblems(policyWith(`'tags.owner == "ana'`), [
      "line 6: gate 'g' rule 'r': syntax error at expression column 12: cannot read '== \"ana'",
    ]);
  });

  it('reports the line inside a literal block where the error sits', () => {
    const text = policyWith('|\n          has(tags.owner) &&\n          metrics.accuracy > "high"\n');
    assertProblems(text, ["line 8: gate 'g' rule 'r': no matching overload for '>' applied to (double, string)"]);
    const syntax = policyWith('|\n          has(tags.owner) &&\n          metrics.accuracy > > 0.9\n');
    assertProblems(syntax, ["line 8: gate 'g' rule 'r': syntax error at expression column 18: cannot read '> > 0.9'"]);
  });

  it('type-checks against the declared variables', () => {
    const cases: [string, string][] = [
      ['metric.accuracy > 0.9', "undeclared reference to 'metric' (variables: version, metrics, params, tags, model_tags, card, datasets, signature)"],
      ['version.unsafe', "version has no field 'unsafe' (fields: name, version, semver, source, run_id, unsafe_format, unsafe_files, signed, description, stage, aliases)"],
      ['has(card.owner)', "card has no field 'owner' (fields: description, intended_use, training_data, metrics_summary, limitations, fairness)"],
      ['tags.owner == 7', 'cannot compare string with int'],
      ['metrics.accuracy + 1 > 0.5', "no matching overload for '+' applied to (double, int)"],
      ['tags.owner.lower() == "ana"', "unknown function 'lower'"],
      ['version.stage.owner == "x"', "cannot select 'owner' from string"],
      ['datasets.exists(d, d.rows)', 'the macro predicate needs bool, got int'],
      ['version.aliases["x"] == "y"', 'cannot index list(string) with string'],
    ];
    for (const [expr, problem] of cases) assertProblems(policyWith(`'${expr}'`), [`line 6: gate 'g' rule 'r': ${problem}`]);
  });

  it('rejects expressions that cannot evaluate to bool', () => {
    assertProblems(policyWith('metrics.accuracy'), ["line 6: gate 'g' rule 'r': expression must evaluate to bool, not double"]);
    assertProblems(policyWith('size(datasets)'), ["line 6: gate 'g' rule 'r': expression must evaluate to bool, not int"]);
    assertProblems(policyWith('tags'), ["line 6: gate 'g' rule 'r': expression must evaluate to bool, not map(string, string)"]);
  });

  it('accepts the CEL the rules are likely to use', () => {
    const exprs = [
      'version.aliases.exists(a, a.startsWith("cand"))', '"owner" in tags', 'size(version.unsafe_files) == 0',
      'int(params.epochs) >= 10', 'metrics.all(k, metrics[k] >= 0.0)', 'type(metrics.accuracy) == double',
      'signature.inputs.all(i, i.shape.size() > 0)', 'model_tags.team.matches("^[a-z]+$")', 'metrics.accuracy < 1',
    ];
    for (const expr of exprs) assert.equal(ruleResult(`'${expr}'`, goodInput()).passed, true, expr);
  });

  it('bounds comprehension nesting at compile time', () => {
    assertProblems(policyWith(`'datasets.all(a, datasets.all(b, datasets.all(c, datasets.all(d, true))))'`), [
      "line 6: gate 'g' rule 'r': comprehensions nest deeper than 3 levels",
    ]);
  });
});

describe('parsePolicy: structure problems', () => {
  it('reports duplicate gate and rule names at the second occurrence', () => {
    const text = `gates:
  - name: g
    protects: {aliases: [a]}
    rules:
      - name: r
        expr: version.signed
      - name: r
        expr: version.signed
  - name: g
    protects: {aliases: [b]}
    rules:
      - name: s
        expr: version.signed
`;
    assertProblems(text, [
      "line 7: gate 'g' rule 'r': duplicate rule name (first declared on line 5)",
      "line 9: gate 'g': duplicate gate name (first declared on line 2)",
    ]);
  });

  it('collects unknown keys, missing names, empty rules and unprotected gates together', () => {
    const text = `gates:
  - name: a
    protect: {aliases: [x]}
    rules: []
  - protects: {stages: [Prod]}
    rules:
      - expr: version.signed
      - name: r
        exp: version.signed
  - name: c
    protects: {aliases: []}
    rules:
      - name: r
        expr: !version.unsafe_format
version: 2
`;
    assertProblems(text, [
      "line 2: gate 'a': missing 'protects'",
      "line 3: gate 'a': unknown key 'protect' (allowed: name, protects, rules)",
      "line 4: gate 'a': has no rules",
      'line 5: gate #2: missing \'name\'',
      'line 5: gate #2: unknown stage \'Prod\' (stages: None, Staging, Production, Archived)',
      'line 7: gate #2 rule #1: missing \'name\'',
      "line 8: gate #2 rule 'r': missing 'expr'",
      "line 9: gate #2 rule 'r': unknown key 'exp' (allowed: name, expr, message)",
      "line 11: gate 'c': protects nothing: list at least one alias or stage",
      "line 14: gate 'c' rule 'r': 'expr' starts with '!version.unsafe_format', which YAML reads as a tag; quote the value",
      "line 15: unknown key 'version' (allowed: gates, retention)",
    ]);
  });

  it('reports YAML syntax errors with their line', () => {
    assertProblems('gates:\n  - name: a\n    name: b\n', ['line 3: Map keys must be unique']);
    assertProblems('', ['line 1: the policy must be a mapping']);
    assertProblems('gates: {}\n', ["line 1: 'gates' must be a list"]);
  });
});
