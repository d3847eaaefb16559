import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AppError } from '../errors/index.js';
import { COMPARATORS, parseFilter, parseOrderBy, type Clause, type SearchEntity } from './search-filter.js';

/** Asserts an INVALID_PARAMETER_VALUE whose message names `position` and contains `detail`. */
function assertInvalid(run: () => unknown, position: number, detail: string): void {
  assert.throws(run, (err: unknown) => {
    assert.ok(err instanceof AppError, `expected an AppError, got ${String(err)}`);
    assert.equal(err.code, 'INVALID_PARAMETER_VALUE');
    assert.match(err.message, new RegExp(`at position ${position}: `));
    assert.ok(err.message.includes(detail), `"${err.message}" should contain "${detail}"`);
    return true;
  });
}

function invalidFilter(text: string, position: number, detail: string, entity: SearchEntity = 'run'): void {
  assertInvalid(() => parseFilter(text, entity), position, detail);
}

function one(text: string, entity: SearchEntity = 'run'): Clause {
  const clauses = parseFilter(text, entity);
  assert.equal(clauses.length, 1);
  return clauses[0];
}

describe('parseFilter: empty input', () => {
  it('returns no clauses for undefined, empty and blank text', () => {
    assert.deepEqual(parseFilter(undefined, 'run'), []);
    assert.deepEqual(parseFilter('', 'run'), []);
    assert.deepEqual(parseFilter(' \t\n ', 'experiment'), []);
  });
});

describe('parseFilter: prefixes', () => {
  const aliases: [string, Clause['kind']][] = [
    ['metrics', 'metric'], ['metric', 'metric'],
    ['params', 'param'], ['param', 'param'], ['parameters', 'param'],
    ['tags', 'tag'], ['tag', 'tag'],
  ];
  for (const [prefix, kind] of aliases) {
    it(`reads ${prefix}. as ${kind}`, () => {
      const text = kind === 'metric' ? `${prefix}.x = 1` : `${prefix}.x = 'v'`;
      const value = kind === 'metric' ? 1 : 'v';
      assert.deepEqual(parseFilter(text, 'run'), [{ kind, key: 'x', op: '=', value }]);
    });
  }
  for (const prefix of ['attributes', 'attribute', 'attr', 'run']) {
    it(`reads ${prefix}. as attribute`, () => {
      assert.deepEqual(one(`${prefix}.status = 'FINISHED'`), {
        kind: 'attribute', key: 'status', op: '=', value: 'FINISHED',
      });
    });
  }
  for (const prefix of ['datasets', 'dataset']) {
    it(`reads ${prefix}. as dataset`, () => {
      assert.deepEqual(one(`${prefix}.name = 'train'`), { kind: 'dataset', key: 'name', op: '=', value: 'train' });
    });
  }
  it('reads a bare identifier as an attribute', () => {
    assert.deepEqual(one("status = 'FINISHED'"), { kind: 'attribute', key: 'status', op: '=', value: 'FINISHED' });
    assert.deepEqual(one("name = 'exp'", 'experiment'), { kind: 'attribute', key: 'name', op: '=', value: 'exp' });
  });
  it('rejects an unknown prefix at its start', () => {
    invalidFilter("metrics.x = 1 AND foo.bar = 'a'", 18, "got 'foo.'");
    invalidFilter("Metrics.acc = 1", 0, "got 'Metrics.'");
  });
});

describe('parseFilter: keys', () => {
  it('keeps everything after the first dot as the key', () => {
    assert.deepEqual(one("tags.mlflow.source.type = 'LOCAL'"), {
      kind: 'tag', key: 'mlflow.source.type', op: '=', value: 'LOCAL',
    });
    assert.deepEqual(one('metrics.val/loss-2:x < 3'), { kind: 'metric', key: 'val/loss-2:x', op: '<', value: 3 });
  });
  it('accepts backtick and double-quoted keys', () => {
    assert.deepEqual(one("tags.`mlflow.user` = 'ann'"), { kind: 'tag', key: 'mlflow.user', op: '=', value: 'ann' });
    assert.deepEqual(one('metrics."f1 score" >= 0.5'), { kind: 'metric', key: 'f1 score', op: '>=', value: 0.5 });
    assert.deepEqual(one("params.`a``b` = 'x'"), { kind: 'param', key: 'a`b', op: '=', value: 'x' });
  });
  it('normalises run name spellings to run_name', () => {
    for (const lhs of ['run_name', '`run name`', '"run name"', 'attributes.`run name`', 'attr."run name"']) {
      assert.deepEqual(one(`${lhs} = 'r1'`), { kind: 'attribute', key: 'run_name', op: '=', value: 'r1' });
    }
  });
  it('rejects a missing, detached or empty key', () => {
    invalidFilter('metrics. acc = 1', 8, "expected a key after 'metrics.'");
    invalidFilter('metrics.', 8, "expected a key after 'metrics.'");
    invalidFilter("tags.`` = 'a'", 5, 'expected a non-empty key');
    invalidFilter("`` = 'a'", 0, 'expected a non-empty key');
  });
  it('rejects a single-quoted string or a number where a key belongs', () => {
    invalidFilter("'status' = 'a'", 0, 'expected a key such as');
    invalidFilter('1 = 1', 0, 'expected a key such as');
  });
});

describe('parseFilter: metrics and numbers', () => {
  for (const op of ['=', '!=', '>', '>=', '<', '<='] as const) {
    it(`accepts ${op}`, () => {
      assert.deepEqual(one(`metrics.acc ${op} 2`), { kind: 'metric', key: 'acc', op, value: 2 });
    });
  }
  const numbers: [string, number][] = [
    ['42', 42], ['-7', -7], ['+3', 3], ['0.25', 0.25], ['.5', 0.5], ['-.5', -0.5], ['5.', 5],
    ['1e-3', 0.001], ['2E+2', 200], ['-1.5e3', -1500], ['1e2', 100],
  ];
  for (const [text, value] of numbers) {
    it(`reads ${text} as ${value}`, () => {
      assert.deepEqual(one(`metrics.m>${text}`), { kind: 'metric', key: 'm', op: '>', value });
    });
  }
  it('rejects string comparators, strings and malformed numbers', () => {
    invalidFilter("metrics.acc LIKE '1'", 12, 'expected a comparator valid for metric');
    invalidFilter('metrics.acc IS NULL', 12, 'got IS NULL');
    invalidFilter("metrics.acc = '1'", 14, 'expected a number, got a quoted string');
    invalidFilter('metrics.acc = abc', 14, 'expected a number');
    invalidFilter('metrics.acc = 1.2.3', 14, 'expected a number such as');
    invalidFilter('metrics.acc = 1e', 14, 'expected a number such as');
    invalidFilter('metrics.acc = 10abc', 14, 'expected a number such as');
    invalidFilter('metrics.acc = 1e999', 14, 'expected a finite number');
    invalidFilter('metrics.acc =', 13, 'expected a number');
  });
});

describe('parseFilter: comparators', () => {
  it('reads the example from the API notes', () => {
    assertInvalid(() => parseFilter('metrics.acc >> 1', 'run'), 12, 'expected a comparator');
    assert.throws(() => parseFilter('metrics.acc >> 1', 'run'), {
      message: "Invalid filter 'metrics.acc >> 1' at position 12: expected a comparator",
    });
  });
  it('rejects unknown symbols and words', () => {
    invalidFilter('metrics.acc == 1', 12, 'expected a comparator');
    invalidFilter('metrics.acc <> 1', 12, 'expected a comparator');
    invalidFilter("tags.a CONTAINS 'x'", 7, 'expected a comparator');
    invalidFilter('tags.a', 6, 'expected a comparator');
  });
  it('normalises case of word comparators', () => {
    assert.deepEqual(one("tags.t like 'a%'"), { kind: 'tag', key: 't', op: 'LIKE', value: 'a%' });
    assert.deepEqual(one("tags.t iLike 'a%'"), { kind: 'tag', key: 't', op: 'ILIKE', value: 'a%' });
    assert.deepEqual(one("run_id not in ('a')"), { kind: 'attribute', key: 'run_id', op: 'NOT IN', value: ['a'] });
    assert.deepEqual(one('params.p is not null'), { kind: 'param', key: 'p', op: 'IS NOT NULL', value: null });
  });
  it('rejects incomplete word comparators', () => {
    invalidFilter("run_id NOT ('a')", 11, 'expected IN after NOT');
    invalidFilter("tags.a NOT LIKE 'x'", 11, 'expected IN after NOT');
    invalidFilter('tags.a IS', 9, 'expected NULL or NOT NULL after IS');
    invalidFilter('tags.a IS NOT', 13, 'expected NULL after IS NOT');
  });
  it('exports every comparator once', () => {
    assert.equal(new Set(COMPARATORS).size, 12);
  });
});

describe('parseFilter: params and tags', () => {
  for (const op of ['=', '!=', 'LIKE', 'ILIKE'] as const) {
    it(`accepts ${op} with either quote`, () => {
      assert.deepEqual(one(`params.lr ${op} '0.1'`), { kind: 'param', key: 'lr', op, value: '0.1' });
      assert.deepEqual(one(`tags.t ${op} "x y"`), { kind: 'tag', key: 't', op, value: 'x y' });
    });
  }
  it('accepts IS NULL and IS NOT NULL with a null value', () => {
    assert.deepEqual(one('tags.t IS NULL'), { kind: 'tag', key: 't', op: 'IS NULL', value: null });
    assert.deepEqual(one('params.p IS NOT NULL'), { kind: 'param', key: 'p', op: 'IS NOT NULL', value: null });
  });
  it('unescapes doubled and backslashed quotes, keeping other backslashes', () => {
    assert.equal(one("tags.t = 'it''s'").value, "it's");
    assert.equal(one("tags.t = 'it\\'s'").value, "it's");
    assert.equal(one('tags.t = "say ""hi"""').value, 'say "hi"');
    assert.equal(one("tags.t LIKE '50\\%'").value, '50\\%');
    assert.equal(one("tags.t = 'a\\\\'").value, 'a\\\\');
    assert.equal(one("tags.t = ''").value, '');
  });
  it('rejects numbers, IN lists and unterminated strings', () => {
    invalidFilter('params.lr = 0.1', 12, 'expected a quoted string, got a number');
    invalidFilter("params.lr > '1'", 10, 'expected a comparator valid for param');
    invalidFilter("tags.t IN ('a')", 7, 'got IN');
    invalidFilter("tags.t = 'abc", 9, "expected a closing '");
    invalidFilter('tags.t = `abc`', 9, 'expected a quoted string');
  });
});

describe('parseFilter: run attributes', () => {
  for (const key of ['run_id', 'run_name', 'status', 'user_id', 'artifact_uri']) {
    it(`accepts string comparators on ${key}`, () => {
      for (const op of ['=', '!=', 'LIKE', 'ILIKE'] as const) {
        assert.deepEqual(one(`attributes.${key} ${op} 'v'`), { kind: 'attribute', key, op, value: 'v' });
      }
      assert.deepEqual(one(`${key} IN ('a', "b",'c')`), { kind: 'attribute', key, op: 'IN', value: ['a', 'b', 'c'] });
    });
  }
  for (const [written, key] of [['start_time', 'start_time'], ['end_time', 'end_time'], ['created', 'start_time']]) {
    it(`accepts numeric comparators on ${written}`, () => {
      assert.deepEqual(one(`${written} >= 1700000000000`), { kind: 'attribute', key, op: '>=', value: 1700000000000 });
      invalidFilter(`${written} = '1'`, written.length + 3, 'expected a number, got a quoted string');
      invalidFilter(`${written} LIKE 1`, written.length + 1, 'expected a comparator valid for attribute');
    });
  }
  it('rejects lifecycle_stage and unknown attributes at the key', () => {
    invalidFilter("attributes.lifecycle_stage = 'active'", 11, 'run_view_type');
    invalidFilter("color = 'red'", 0, "got 'color'");
    invalidFilter("attributes.name = 'x'", 11, "got 'name'");
    invalidFilter("constructor = 'x'", 0, "got 'constructor'");
  });
  it('rejects malformed IN lists', () => {
    invalidFilter("run_id IN 'a'", 10, "expected '('");
    invalidFilter('run_id IN ()', 11, 'expected a quoted string');
    invalidFilter("run_id IN ('a',)", 15, 'expected a quoted string');
    invalidFilter("run_id IN ('a' 'b')", 15, "expected ',' or ')'");
    invalidFilter("run_id IN ('a'", 14, "expected ',' or ')'");
    invalidFilter("run_id IN ('a', 1)", 16, 'expected a quoted string, got a number');
    invalidFilter('status = 1', 9, 'expected a quoted string, got a number');
  });
});

describe('parseFilter: datasets', () => {
  it('accepts name, digest and context with list comparators', () => {
    assert.deepEqual(one("datasets.digest NOT IN ('d1','d2')"), {
      kind: 'dataset', key: 'digest', op: 'NOT IN', value: ['d1', 'd2'],
    });
    assert.deepEqual(one("dataset.context ILIKE 'train%'"), {
      kind: 'dataset', key: 'context', op: 'ILIKE', value: 'train%',
    });
  });
  it('rejects other dataset fields and numeric comparators', () => {
    invalidFilter("datasets.size = 'x'", 9, "got 'size'");
    invalidFilter("datasets.name > 'x'", 14, 'expected a comparator valid for dataset');
  });
});

describe('parseFilter: experiments', () => {
  it('accepts name, times and tags', () => {
    assert.deepEqual(parseFilter("name LIKE 'exp%' AND creation_time > 5 AND tags.k != 'v'", 'experiment'), [
      { kind: 'attribute', key: 'name', op: 'LIKE', value: 'exp%' },
      { kind: 'attribute', key: 'creation_time', op: '>', value: 5 },
      { kind: 'tag', key: 'k', op: '!=', value: 'v' },
    ]);
    assert.deepEqual(one('attributes.last_update_time <= 9', 'experiment'), {
      kind: 'attribute', key: 'last_update_time', op: '<=', value: 9,
    });
  });
  it('rejects metrics, params, datasets, run attributes and IN on name', () => {
    invalidFilter('metrics.a = 1', 0, "got 'metrics.'", 'experiment');
    invalidFilter("params.a = 'x'", 0, "got 'params.'", 'experiment');
    invalidFilter("datasets.name = 'x'", 0, "got 'datasets.'", 'experiment');
    invalidFilter("status = 'x'", 0, "got 'status'", 'experiment');
    invalidFilter("name IN ('x')", 5, 'got IN', 'experiment');
  });
});

describe('parseFilter: conjunctions', () => {
  it('joins clauses with AND in any case, with or without spaces around symbols', () => {
    assert.deepEqual(parseFilter("metrics.a>1 and params.b='x' AnD tags.c IS NULL AND status!=\"RUNNING\"", 'run'), [
      { kind: 'metric', key: 'a', op: '>', value: 1 },
      { kind: 'param', key: 'b', op: '=', value: 'x' },
      { kind: 'tag', key: 'c', op: 'IS NULL', value: null },
      { kind: 'attribute', key: 'status', op: '!=', value: 'RUNNING' },
    ]);
  });
  it('rejects OR, parentheses, dangling AND and trailing text', () => {
    invalidFilter('metrics.a > 1 OR metrics.b > 1', 14, 'OR is not supported');
    invalidFilter('metrics.a > 1 or metrics.b > 1', 14, 'OR is not supported');
    invalidFilter('(metrics.a > 1)', 0, 'parentheses are not supported');
    invalidFilter('metrics.a > 1 AND (metrics.b > 1)', 18, 'parentheses are not supported');
    invalidFilter('metrics.a > 1)', 13, 'parentheses are not supported');
    invalidFilter('metrics.a > 1 AND', 17, 'expected a key such as');
    invalidFilter('metrics.a > 1 metrics.b > 2', 14, 'expected AND or the end of the filter');
    invalidFilter('metrics.a > 1 ANDmetrics.b > 2', 14, 'expected AND or the end of the filter');
  });
  it('rejects characters outside the grammar', () => {
    invalidFilter("tags.a = 'x'; DROP TABLE runs", 12, "got ';'");
    invalidFilter('metrics.a > 1 # note', 14, "got '#'");
  });
  it('does not match keywords through Unicode case mapping', () => {
    invalidFilter("tags.a ıs NULL", 7, 'expected a comparator');
  });
  it('rejects non-string input with INVALID_PARAMETER_VALUE', () => {
    assert.throws(() => parseFilter(42 as unknown as string, 'run'), { code: 'INVALID_PARAMETER_VALUE' });
  });
});

describe('parseOrderBy', () => {
  it('returns no terms for undefined and an empty list', () => {
    assert.deepEqual(parseOrderBy(undefined, 'run'), []);
    assert.deepEqual(parseOrderBy([], 'run'), []);
  });
  it('reads prefixes, quoted keys and directions in any case', () => {
    const clauses = [
      'metrics.acc DESC', 'params.lr', 'attributes.start_time ASC', 'tags.`my tag` desc', 'metric."f 1" asc',
    ];
    assert.deepEqual(parseOrderBy(clauses, 'run'), [
      { kind: 'metric', key: 'acc', ascending: false },
      { kind: 'param', key: 'lr', ascending: true },
      { kind: 'attribute', key: 'start_time', ascending: true },
      { kind: 'tag', key: 'my tag', ascending: false },
      { kind: 'metric', key: 'f 1', ascending: true },
    ]);
  });
  it('accepts every run order attribute and normalises created and run name', () => {
    const keys = ['end_time', 'run_name', 'status', 'run_id', 'user_id', 'artifact_uri', 'experiment_id', 'created'];
    assert.deepEqual(parseOrderBy(keys, 'run').map((term) => term.key), [...keys.slice(0, -1), 'start_time']);
    assert.deepEqual(parseOrderBy(['`run name` DESC'], 'run'), [
      { kind: 'attribute', key: 'run_name', ascending: false },
    ]);
  });
  it('accepts experiment order attributes only', () => {
    const keys = ['name', 'experiment_id', 'creation_time DESC', 'attr.last_update_time'];
    assert.deepEqual(parseOrderBy(keys, 'experiment'), [
      { kind: 'attribute', key: 'name', ascending: true },
      { kind: 'attribute', key: 'experiment_id', ascending: true },
      { kind: 'attribute', key: 'creation_time', ascending: false },
      { kind: 'attribute', key: 'last_update_time', ascending: true },
    ]);
    assertInvalid(() => parseOrderBy(['tags.a'], 'experiment'), 0, 'cannot be ordered by tags');
    assertInvalid(() => parseOrderBy(['metrics.a'], 'experiment'), 0, "got 'metrics.'");
    assertInvalid(() => parseOrderBy(['start_time'], 'experiment'), 0, "got 'start_time'");
  });
  it('rejects naming the same key twice, including through aliases', () => {
    assertInvalid(() => parseOrderBy(['metrics.acc', 'metric.acc DESC'], 'run'), 0, "metric 'acc' is already ordered");
    assertInvalid(() => parseOrderBy(['start_time', 'attributes.created'], 'run'), 0, 'already ordered');
    assert.deepEqual(parseOrderBy(['metrics.a', 'params.a', 'tags.a'], 'run').length, 3);
  });
  it('rejects garbage with its position', () => {
    assertInvalid(() => parseOrderBy(['metrics.acc DOWN'], 'run'), 12, 'expected ASC, DESC or the end of the clause');
    assertInvalid(() => parseOrderBy(['metrics.acc DESC ASC'], 'run'), 17, 'expected ASC, DESC');
    assertInvalid(() => parseOrderBy([''], 'run'), 0, 'expected a key such as');
    assertInvalid(() => parseOrderBy(['lifecycle_stage'], 'run'), 0, "got 'lifecycle_stage'");
    assertInvalid(() => parseOrderBy(['datasets.name'], 'run'), 0, 'not datasets.');
    assertInvalid(() => parseOrderBy(['bogus.x'], 'run'), 0, "got 'bogus.'");
    assertInvalid(() => parseOrderBy(['metrics.'], 'run'), 8, "expected a key after 'metrics.'");
    assertInvalid(() => parseOrderBy(['tags.a = 1'], 'run'), 7, 'expected ASC, DESC');
    assertInvalid(() => parseOrderBy(["tags.'a'"], 'run'), 5, "expected a key after 'tags.'");
  });
  it('quotes the failing clause in the message', () => {
    assert.throws(() => parseOrderBy(['params.lr', 'metrics.acc DOWN'], 'run'), {
      message: "Invalid order_by clause 'metrics.acc DOWN' at position 12: expected ASC, DESC or the end of the clause",
    });
  });
});

// Fragments of the grammar, so random strings reach the parser's deeper states.
const FRAGMENTS = [
  'metrics.', 'params.', 'tags.', 'attributes.', 'datasets.', 'acc', 'status', 'run_id', 'name', 'created',
  ' ', ' AND ', ' and ', ' OR ', '=', '!=', '>', '>=', '<', '<=', 'LIKE', 'IN', 'NOT', 'IS', 'NULL',
  "'", '"', '`', '\\', '(', ')', ',', '1', '-2.5e-3', '.', 'e', "'x'", '"y"', '`z`', 'DESC', 'asc', 'ı', '\u0000',
];
const grammarish = fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 30 }).map((parts) => parts.join(''));
const anyText = fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), grammarish);
const entities = fc.constantFrom<SearchEntity>('run', 'experiment');

function parsesOrRejectsCleanly(run: () => unknown): void {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof AppError, `threw ${String(err)}`);
    assert.equal(err.code, 'INVALID_PARAMETER_VALUE');
    assert.match(err.message, /at position \d+: expected /);
  }
}

describe('properties', () => {
  it('any filter text parses or throws INVALID_PARAMETER_VALUE', () => {
    fc.assert(
      fc.property(anyText, entities, (text, entity) => {
        parsesOrRejectsCleanly(() => parseFilter(text, entity));
      }),
      { numRuns: 3000 },
    );
  });
  it('any order_by list parses or throws INVALID_PARAMETER_VALUE', () => {
    fc.assert(
      fc.property(fc.array(anyText, { maxLength: 4 }), entities, (list, entity) => {
        parsesOrRejectsCleanly(() => parseOrderBy(list, entity));
      }),
      { numRuns: 2000 },
    );
  });
  it('generated metric conjunctions parse to exactly the clauses they were built from', () => {
    const key = fc.stringMatching(/^[a-z_][a-z0-9_./:-]{0,12}$/);
    const clause = fc.record({
      key,
      op: fc.constantFrom('=', '!=', '>', '>=', '<', '<=' as const),
      value: fc.double({ noNaN: true, noDefaultInfinity: true }),
    });
    const conjunction = fc.constantFrom('AND', 'and', 'And');
    fc.assert(
      fc.property(fc.array(clause, { minLength: 1, maxLength: 5 }), conjunction, (clauses, and) => {
        const text = clauses.map((c) => `metrics.${c.key} ${c.op} ${String(c.value)}`).join(` ${and} `);
        // String(-0) is "0", so compare zeros without their sign.
        const unsigned = (value: Clause['value']) => (value === 0 ? 0 : value);
        const expected = clauses.map((c) => ({ kind: 'metric', key: c.key, op: c.op, value: unsigned(c.value) }));
        assert.deepEqual(parseFilter(text, 'run').map((c) => ({ ...c, value: unsigned(c.value) })), expected);
      }),
    );
  });
  it('handles long and pathological input in linear time', () => {
    const long = Array.from({ length: 20_000 }, (_, i) => `metrics.m${i} > ${i}`).join(' AND ');
    const started = performance.now();
    assert.equal(parseFilter(long, 'run').length, 20_000);
    const pathological = [
      "tags.a = '" + "\\'".repeat(100_000), '('.repeat(200_000), '1'.repeat(200_000) + 'x', 'a'.repeat(300_000),
    ];
    for (const text of pathological) {
      assert.throws(() => parseFilter(text, 'run'), { code: 'INVALID_PARAMETER_VALUE' });
    }
    assert.ok(performance.now() - started < 5_000, 'parsing took too long');
  });
});
