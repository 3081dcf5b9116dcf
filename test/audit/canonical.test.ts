import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CanonicalJsonError, MAX_CANONICAL_DEPTH, canonicalJson, canonicalJsonAt } from '../../src/audit/canonical.js';

void describe('canonicalJson', () => {
  void it('sorts keys at every level and writes no whitespace', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } }), '{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
    assert.equal(canonicalJson([]), '[]');
    assert.equal(canonicalJson({}), '{}');
    assert.equal(canonicalJson(null), 'null');
    assert.equal(canonicalJson(true), 'true');
  });

  void it('orders keys by UTF-16 code units, like JCS', () => {
    // 'B' (0x42) < 'a' (0x61) < 'é' (0xe9) < '😀' (0xd83d...) < 'ｚ' (0xff5a)
    assert.equal(
      canonicalJson({ 'ｚ': 1, '😀': 2, é: 3, a: 4, B: 5, '': 6, aa: 7 }),
      '{"":6,"B":5,"a":4,"aa":7,"é":3,"😀":2,"ｚ":1}',
    );
  });

  void it('writes numbers in the shortest round-trip form', () => {
    const cases: [number, string][] = [
      [0, '0'],
      [-0, '0'],
      [1, '1'],
      [-1.5, '-1.5'],
      [0.1 + 0.2, '0.30000000000000004'],
      [1e21, '1e+21'],
      [1e-7, '1e-7'],
      [123456789012345680000, '123456789012345680000'],
      [Number.MAX_SAFE_INTEGER, '9007199254740991'],
      [5e-324, '5e-324'],
    ];
    for (const [n, text] of cases) assert.equal(canonicalJson(n), text, String(n));
  });

  void it('escapes strings the JSON.stringify way, lone surrogates included', () => {
    assert.equal(canonicalJson('a"b\\c\n\u0000\u001f'), '"a\\"b\\\\c\\n\\u0000\\u001f"');
    assert.equal(canonicalJson('\ud800'), '"\\ud800"');
    assert.equal(canonicalJson('é😀\u2028'), '"é😀\u2028"');
  });

  void it('round-trips: canonical(parse(canonical(x))) === canonical(x)', () => {
    const value = { z: [1.5, -0, 'x', null, true, { b: [], a: {} }], 'k"ey': '\u2028\ud83d', n: 1e-9 };
    const once = canonicalJson(value);
    assert.equal(canonicalJson(JSON.parse(once)), once);
  });

  void it('leaves out undefined object properties', () => {
    assert.equal(canonicalJson({ a: undefined, b: 1 }), '{"b":1}');
  });

  void it('writes a valid Date as its ISO string and refuses an invalid one', () => {
    assert.equal(canonicalJson({ t: new Date('2026-01-02T03:04:05.006Z') }), '{"t":"2026-01-02T03:04:05.006Z"}');
    assert.throws(() => canonicalJson({ t: new Date('nope') }), /invalid Date at \$\.t/);
  });

  void it('refuses values JSON cannot represent, naming where they are', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const cases: [unknown, RegExp][] = [
      [undefined, /undefined at \$ /],
      [[1, undefined], /undefined at \$\[1\]/],
      // eslint-disable-next-line no-sparse-arrays
      [[1, , 3], /undefined at \$\[1\]/],
      [{ a: { 'b c': [() => 1] } }, /function at \$\.a\["b c"\]\[0\]/],
      [{ n: NaN }, /NaN at \$\.n/],
      [{ n: Infinity }, /Infinity at \$\.n/],
      [{ n: -Infinity }, /-Infinity at \$\.n/],
      [{ n: 10n }, /bigint/],
      [{ s: Symbol('x') }, /symbol/],
      [{ m: new Map() }, /class Map at \$\.m/],
      [{ s: new Set([1]) }, /class Set/],
      [{ b: Buffer.from('x') }, /class Buffer/],
      [{ r: /x/ }, /class RegExp/],
      [cyclic, /circular reference at \$\.self/],
      [{ [Symbol('k')]: 1 }, /symbol keys/],
    ];
    for (const [value, message] of cases) {
      assert.throws(
        () => canonicalJson(value),
        (e: unknown) => e instanceof CanonicalJsonError && message.test(e.message),
        String(message),
      );
    }
  });

  void it('accepts shared (non-cyclic) references and null-prototype objects', () => {
    const shared = { x: 1 };
    assert.equal(canonicalJson({ a: shared, b: [shared] }), '{"a":{"x":1},"b":[{"x":1}]}');
    const bare = Object.create(null) as Record<string, unknown>;
    bare.k = 'v';
    assert.equal(canonicalJson(bare), '{"k":"v"}');
  });

  void it('refuses nesting deeper than the limit instead of overflowing the stack', () => {
    let deep: unknown = 1;
    for (let i = 0; i < MAX_CANONICAL_DEPTH; i++) deep = [deep];
    assert.doesNotThrow(() => canonicalJson(deep));
    assert.throws(() => canonicalJson([deep]), /nesting deeper/);
    let veryDeep: unknown = 1;
    for (let i = 0; i < 100_000; i++) veryDeep = { a: veryDeep };
    assert.throws(() => canonicalJson(veryDeep), CanonicalJsonError);
  });

  void it('canonicalJsonAt names the full path in errors', () => {
    assert.equal(canonicalJsonAt({ b: [1], a: 'x', c: undefined }, ['detail']), '{"a":"x","b":[1]}');
    assert.throws(() => canonicalJsonAt({ x: [NaN] }, ['detail']), /NaN at \$\.detail\.x\[0\]/);
  });
});
