// The quick scan of canonical bodies (verify-scan.ts): whatever text it accepts must be exactly
// the canonical JSON of what it parses to, with the fields recordChecks reads as JSON.parse
// gives them; what it refuses takes the full way. Fuzzed around real bodies.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalJson } from '../../src/audit/canonical.js';
import { bodyFields, quickLine } from '../../src/audit/verify-scan.js';
import { canonicalBodyText } from '../../src/audit/verify.js';
import { auditRowToJsonl, parseJsonlLine } from '../../src/audit/export.js';

const FIELDS = ['v', 'seq', 'time', 'kind', 'actionId', 'session', 'principal', 'connection', 'effect'];

/** What the full way says of a body text: its canonical form and the fields, or that it has none. */
function fullWay(text: string): { canonical: boolean; fields?: Record<string, unknown> } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { canonical: false };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { canonical: false };
  let c: string;
  try {
    c = canonicalJson(v);
  } catch {
    return { canonical: false };
  }
  const o = v as Record<string, unknown>;
  return { canonical: c === text, fields: Object.fromEntries(FIELDS.filter((f) => o[f] !== undefined).map((f) => [f, o[f]])) };
}

const bodies = [
  { v: 1, seq: 7, time: '2026-01-01T00:00:00.000Z', kind: 'decision', actionId: 'a', session: 's', principal: 'p', connection: 'c', effect: 'allow', command: 'SELECT 1', detail: { list: [1, 2.5, -3, 1e21, 1e-7, 0, null, true, false, 'x', {}, []], a: { b: { c: 'd' } } } },
  { v: 1, seq: 12345678901, time: 't', kind: 'outcome', rows: 0, durationMs: 0.1, command: 'é😀 "q" \\ \n\t\r\b\f \u0001 / \u2028' },
  { v: 1, seq: 3, time: 't', kind: 'k', '': 1, A: 2, a: 3, '10': 4, '2': 5, __proto__x: 6, 'é': 7, '😀': 8, '\uffff': 9 },
];

const mutations: ((s: string, r: () => number) => string)[] = [
  (s, r) => {
    const i = r();
    return s.slice(0, i) + ' ' + s.slice(i);
  },
  (s, r) => {
    const i = r();
    return s.slice(0, i) + s.slice(i + 1);
  },
  (s, r) => {
    const i = r();
    return s.slice(0, i) + s[i + 1] + s[i] + s.slice(i + 2);
  },
  (s, r) => {
    const i = r();
    return s.slice(0, i) + '\\u0041' + s.slice(i);
  },
  (s, r) => {
    const i = r();
    return s.slice(0, i) + '0' + s.slice(i);
  },
  (s, r) => {
    const i = r();
    return s.slice(0, i) + '\ud800' + s.slice(i);
  },
  (s) => s.replace(/:(\d+)/, ':$1.0'),
  (s) => s.replace(/:(\d+)/, ':-$1'),
  (s) => s.replace(/:(\d+)/, ':0$1'),
  (s) => s.replace('"a"', '"b"'),
  (s) => s.replace('1e+21', '1e21'),
  (s) => s.replace(/"seq":\d+/, '"seq":"1"'),
  (s) => s.replace(/"time":"[^"]*"/, '"time":{"x":1}'),
  (s) => s.replace('"kind"', '"kind":"x","kind"'),
];

void describe('the quick scan of canonical bodies', () => {
  void it('accepts real canonical bodies with the fields JSON.parse gives', () => {
    for (const b of bodies) {
      const text = canonicalJson(b);
      const full = fullWay(text);
      assert.equal(full.canonical, true);
      const fields = bodyFields(text);
      // The \u0001 and the lone key characters are outside the subset: refused is fine, wrong is not.
      if (fields) assert.deepStrictEqual({ ...fields }, full.fields);
    }
    assert.ok(bodyFields(canonicalJson(bodies[0])), 'a plain body takes the quick way');
  });

  void it('never accepts text that is not canonical, fuzzed', () => {
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    let accepted = 0;
    let refused = 0;
    for (let n = 0; n < 20_000; n++) {
      let text = canonicalJson(bodies[n % bodies.length]);
      for (let m = 0, k = 1 + Math.floor(rand() * 3); m < k; m++) {
        const f = mutations[Math.floor(rand() * mutations.length)]!;
        text = f(text, () => Math.floor(rand() * text.length));
      }
      const fields = bodyFields(text);
      const full = fullWay(text);
      if (fields === undefined) {
        refused += 1;
        continue;
      }
      accepted += 1;
      assert.equal(full.canonical, true, `accepted non-canonical text: ${JSON.stringify(text)}`);
      assert.deepStrictEqual({ ...fields }, full.fields, text);
    }
    assert.ok(accepted > 100 && refused > 1000, `accepted ${accepted}, refused ${refused}`);
  });

  // Nested values seen canonical lately are recognised by their text instead of scanned again:
  // only a value that is exactly such a text may pass without the scan.
  void it('takes a nested value known from an earlier body only when it is that value', () => {
    const nested = '{"class":"read","objects":{"tables":[{"access":"read","name":"orders"}]}}';
    const good = `{"intent":${nested},"kind":"decision","seq":3,"v":1}`;
    assert.deepStrictEqual({ ...bodyFields(good) }, { kind: 'decision', seq: 3, v: 1 });
    for (const bad of [
      `{"intent":${nested}x,"kind":"decision","seq":3,"v":1}`,
      `{"intent":${nested.slice(0, -1)},"kind":"decision","seq":3,"v":1}`,
      `{"intent":${nested.slice(0, -2)},"a":1}},"kind":"decision","seq":3,"v":1}`,
      `{"intent":${nested},"intent":${nested},"kind":"decision","seq":3,"v":1}`,
      `{"intent":${nested},"kind":"decision","seq":3,"v":1`,
    ]) {
      assert.equal(bodyFields(bad), undefined, bad);
    }
    // A nested value that failed the scan is never remembered: refused however often it comes.
    const unsorted = '{"objects":{"tables":[]},"class":"read","flags":[]}';
    for (let i = 0; i < 3; i++) assert.equal(bodyFields(`{"intent":${unsorted},"kind":"decision","seq":5,"v":1}`), undefined);
    // The same value again, and in a longer one, are read as the full way reads them.
    const again = `{"a":${nested},"intent":[${nested},${nested}],"kind":"decision","seq":4,"v":1}`;
    assert.deepStrictEqual({ ...bodyFields(again) }, { kind: 'decision', seq: 4, v: 1 });
    assert.equal(canonicalJson(JSON.parse(again)), again);
  });

  void it('takes a line only as the full way reads it, fuzzed', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const base = auditRowToJsonl({ seq: 7, time: 't', kind: 'decision', session: 's', principal: 'p', prevHash: 'a'.repeat(64), hash: 'b'.repeat(64), body: canonicalJson(bodies[0]) });
    const lineMutations: ((s: string, r: () => number) => string)[] = [
      ...mutations,
      (s) => s.replace('"session":"s"', '"session":null'),
      (s) => s.replace('"session":"s"', '"session":1'),
      (s) => s.replace('"session":"s"', '"session":"s","session":"t"'),
      (s) => s.replace('"seq":7', '"seq":"7"'),
      (s) => s.replace('"seq":7,', ''),
      (s) => s.replace('{"seq":7,', '{"seq":7,"other":1,'),
      (s) => s.replace('"kind":"decision"', '"kind":"dec\\u0069sion"'),
      // Every column name, and names of their lengths that are none of them.
      (s) => s.replace('"kind":"decision"', '"kinx":"decision"'),
      (s) => s.replace('"time":"t"', '"time":null'),
      (s) => s.replace('"time":"t"', '"time":"t","hasi":"h"'),
      (s) => s.replace('"principal":"p"', '"principal":"p","connection":"c","effect":"allow","actionId":"a"'),
      (s) => s.replace('"principal":"p"', '"principal":"p","connectiom":"c"'),
      (s) => s.replace('"principal":"p"', '"principal":"p","effect":null,"actionId":null'),
      (s) => s.replace('"prevHash":', '"prevHash":"x","prevHash":'),
      (s) => s.replace('"hash":', '"hash":"x","hash":'),
    ];
    let accepted = 0;
    for (let n = 0; n < 20_000; n++) {
      let line = base;
      for (let m = 0, k = 1 + Math.floor(rand() * 2); m < k; m++) {
        const f = lineMutations[Math.floor(rand() * lineMutations.length)]!;
        line = f(line, () => Math.floor(rand() * line.length));
      }
      const quick = quickLine(line);
      if (!quick) continue;
      accepted += 1;
      const full = parseJsonlLine(line);
      assert.ok(!('error' in full), `accepted a line the full way refuses: ${line}`);
      assert.deepStrictEqual({ ...quick.row }, { ...full.row, body: canonicalBodyText(full.body) }, line);
    }
    assert.ok(accepted > 100, `accepted ${accepted}`);
  });

  void it('takes a line only when it is the same line the full way reads', () => {
    const row = { seq: 7, time: 't', kind: 'decision', prevHash: 'a'.repeat(64), hash: 'b'.repeat(64), body: canonicalJson(bodies[0]) };
    const line = auditRowToJsonl(row);
    const quick = quickLine(line)!;
    const full = parseJsonlLine(line);
    assert.ok(!('error' in full));
    assert.deepStrictEqual({ ...quick.row }, { ...full.row, body: row.body });
    // A body key nested in an extra member comes first: the quick way must not take it.
    const nested = line.replace('{"seq":7,', '{"x":{"y":1,"body":{"seq":1}},"seq":7,');
    const q = quickLine(nested);
    if (q) assert.equal(q.row.body, row.body);
    for (const bad of [line + ' ', line.replace(',"body":{', ',"body":{ '), line.slice(0, -1), line.replace('"seq":7', '"seq":"7"'), `{${line.slice(line.indexOf(',"body":') + 1)}`]) {
      const quickBad = quickLine(bad);
      const fullBad = parseJsonlLine(bad);
      if (quickBad) {
        assert.ok(!('error' in fullBad), bad);
        assert.equal(canonicalJson(fullBad.body), quickBad.row.body, bad);
      }
    }
  });
});
