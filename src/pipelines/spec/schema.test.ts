import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';
import { parse as parseYaml } from 'yaml';
import { PARAM_KEYS, PIPELINE_KEYS, parsePipeline } from './parse.js';
import { REFERENCE_PATTERN } from './refs.js';
import { CACHE_KEYS, MATRIX_OPTIONS, OUTPUTS_KEYS, RESOURCES_KEYS, RETRY_KEYS, STEP_KEYS } from './step.js';
import { CPU_PATTERN, DURATION_PATTERN, MEMORY_PATTERN } from './units.js';

type Schema = { [key: string]: unknown; properties?: Record<string, Schema>; oneOf?: Schema[]; $defs?: Record<string, Schema> };

const schema = JSON.parse(readFileSync(new URL('../../../docs/pipelines.schema.json', import.meta.url), 'utf8')) as Schema;
const EXAMPLE = readFileSync(new URL('./examples/training.yaml', import.meta.url), 'utf8');
const validate = new Ajv2020.default({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true }).compile(schema);

const base = (step: string, top = '') => `name: s\n${top}steps:\n  a:\n${step.replace(/^/gm, '    ')}\n`;

/** Files the schema and the parser must both accept. */
const GOOD: Record<string, string> = {
  'the full example': EXAMPLE,
  'a minimal file': 'name: m\nsteps: {a: {run: x}}\n',
  'short forms': `name: m\nsteps:\n  a: {run: [python, a.py], cache: true, timeout: 90, outputs: {metrics: [f1]}}\n  b: {run: x, needs: a, when: "\${{ steps.a.metrics.f1 > 1 }}", cache: {ttl: 1h30m}}\n`,
  'every resource form': base('run: x\nresources: {cpu: 0.5, memory: 1048576, gpu: 0, node_labels: {"cloud.example.com/pool": gpu, zone: 3}}'),
};

/** Files both must reject, for a reason the schema can see. */
const BAD: Record<string, string> = {
  'an unknown top-level key': 'name: m\nowner: me\nsteps: {a: {run: x}}\n',
  'an unknown step key': base('run: x\nretries: 3'),
  'a step without run': base('image: python'),
  'no steps': 'name: m\nsteps: {}\n',
  'a name with a space': 'name: my pipeline\nsteps: {a: {run: x}}\n',
  'a duration without a unit': base('run: x\ntimeout: 10 minutes'),
  'a timeout over 30 days': base('run: x\ntimeout: 2592001'),
  'an input that is not a reference': base('run: x\ninputs: {m: steps.b.outputs.m}'),
  'an input with a bad dataset version': base('run: x\ninputs: {d: "${{ datasets.cancer@v3 }}"}'),
  'a default of the wrong type': base('run: x', 'params: {epochs: {type: integer, default: 0.5}}\n'),
  'min on a string param': base('run: x', 'params: {mode: {type: string, min: 1}}\n'),
  'a param without a type': base('run: x', 'params: {mode: {default: x}}\n'),
  'a retry count as text': base('run: x\nretry: {count: "3"}'),
  'an exit code out of range': base('run: x\nretry: {on_exit_codes: [256]}'),
  'a matrix with only options': base('run: x\nmatrix: {max_parallel: 2}', 'params: {lr: {type: number, default: 1}}\n'),
  'an empty matrix axis': base('run: x\nmatrix: {lr: []}', 'params: {lr: {type: number, default: 1}}\n'),
  'an absolute artifact path': base('run: x\noutputs: {artifacts: {m: /tmp/m}}'),
  'an artifact path leaving the work dir': base('run: x\noutputs: {artifacts: {m: a/../../m}}'),
  'a lower-case secret': base('run: x\nsecrets: [token]'),
  'memory in GB': base('run: x\nresources: {memory: 4GB}'),
  'a fractional GPU': base('run: x\nresources: {gpu: 0.5}'),
  'a cache ttl in words': base('run: x\ncache: {ttl: soon}'),
  'an env value that is a list': base('run: x\nenv: {A: [1]}'),
  'an empty argv': base('run: []'),
};

describe('docs/pipelines.schema.json', () => {
  it('is a draft 2020-12 schema that compiles in strict mode', () => {
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.equal(typeof validate, 'function');
  });

  for (const [what, text] of Object.entries(GOOD)) {
    it(`accepts ${what}, as the parser does`, () => {
      assert.ok(validate(parseYaml(text)), JSON.stringify(validate.errors, null, 1));
      assert.deepEqual(parsePipeline(text).errors, []);
    });
  }

  for (const [what, text] of Object.entries(BAD)) {
    it(`rejects ${what}, as the parser does`, () => {
      assert.equal(validate(parseYaml(text)), false, 'the schema accepts it');
      assert.notDeepEqual(parsePipeline(text).errors, [], 'the parser accepts it');
    });
  }

  it('has exactly the keys the parser knows, at every level', () => {
    const keys = (s: Schema | undefined) => Object.keys(s?.properties ?? {}).sort();
    const sorted = (k: readonly string[]) => [...k].sort();
    const defs = schema.$defs!;
    const step = defs.step.properties!;
    assert.deepEqual(keys(schema), sorted(PIPELINE_KEYS));
    assert.deepEqual(keys(defs.param), sorted(PARAM_KEYS));
    assert.deepEqual(keys(defs.step), sorted(STEP_KEYS));
    assert.deepEqual(keys(step.outputs), sorted(OUTPUTS_KEYS));
    assert.deepEqual(keys(step.retry), sorted(RETRY_KEYS));
    assert.deepEqual(keys(step.resources), sorted(RESOURCES_KEYS));
    assert.deepEqual(keys(step.cache.oneOf![1]), sorted(CACHE_KEYS));
    assert.deepEqual(keys(step.matrix), sorted(MATRIX_OPTIONS));
  });

  it('uses the parser patterns for references and quantities', () => {
    const defs = schema.$defs!;
    const resources = defs.step.properties!.resources.properties!;
    assert.equal(defs.reference.pattern, REFERENCE_PATTERN);
    assert.equal(defs.duration_text.pattern, DURATION_PATTERN);
    assert.equal(resources.cpu.oneOf![1].pattern, CPU_PATTERN);
    assert.equal(resources.memory.oneOf![1].pattern, MEMORY_PATTERN);
  });

  it('describes every property and closes every fixed mapping', () => {
    const walk = (s: unknown, path: string): string[] => {
      if (typeof s !== 'object' || s === null) return [];
      const node = s as Schema;
      const missing: string[] = [];
      if (node.properties) {
        for (const [k, v] of Object.entries(node.properties)) if (typeof v.description !== 'string') missing.push(`${path}.${k}`);
        if (node.additionalProperties === undefined) missing.push(`${path} (additionalProperties)`);
      }
      return [...missing, ...Object.entries(node).flatMap(([k, v]) => (k === 'if' || k === 'then' ? [] : walk(v, `${path}/${k}`)))];
    };
    assert.deepEqual(walk(schema, '#'), []);
  });
});
