import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AuditLedger } from '../../src/audit/ledger.js';
import { canonicalJson } from '../../src/audit/canonical.js';
import { recordHash } from '../../src/audit/chain.js';
import { auditRowToJsonl, exportAuditJsonl } from '../../src/audit/export.js';
import { canonicalBodyText, verifyAuditJsonl } from '../../src/audit/verify.js';
import type { AuditRow } from '../../src/store/store.js';
import { tempStore } from '../helpers.js';

/** canonicalJson's answer for a parsed value: its text, or its error message. */
function outcome(f: () => string): string {
  try {
    return `ok ${f()}`;
  } catch (error) {
    return `error ${(error as Error).message}`;
  }
}

function nested(depth: number): string {
  return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

void describe('offline verify: canonical body text without re-encoding', () => {
  void it('gives exactly what canonicalJson gives (text or error) for any parsed body', () => {
    const texts = [
      '{}',
      '{"a":1,"b":[1,2,{"c":null,"d":true}],"e":"x"}',
      '{"b":1,"a":2}', // keys out of order
      '{"a":{"y":1,"x":2}}', // nested keys out of order
      '{"10":1,"2":2,"a":3}', // integer keys: property order differs from canonical order
      '{"2":1,"10":2}',
      '{"a":-0,"b":1.50,"c":1e2,"d":0.1}',
      '{"a":1e999}', // Infinity after parsing: refused
      '{"a":[1e999]}',
      '{"a": 1 ,\n "b" : "\\u0041\\/"}', // whitespace and escapes: parsed away
      '{"é":1,"z":2,"😀":3,"\uFFFF":4}',
      '{"__proto__":{"b":1,"a":2},"x":1}',
      '{"a":1,"a":2}',
      '{"A":1,"a":2,"B":3}',
      '{"ab":1,"a":2}',
      nested(63),
      nested(64),
      nested(65),
      `{"x":${'['.repeat(64)}${']'.repeat(64)}}`,
      `{"x":${'['.repeat(63)}${']'.repeat(63)}}`,
    ];
    for (const text of texts) {
      const a = outcome(() => canonicalBodyText(JSON.parse(text) as Record<string, unknown>));
      const b = outcome(() => canonicalJson(JSON.parse(text)));
      assert.equal(a, b, text.slice(0, 80));
    }
  });

  let t: Awaited<ReturnType<typeof tempStore>>;
  let lines: string[];
  let rows: AuditRow[];
  before(async () => {
    t = await tempStore();
    const ledger = new AuditLedger(t.store);
    for (let i = 0; i < 30; i++) {
      await ledger.append({ kind: 'decision', session: `ses_${i % 3}`, principal: 'agent-1', connection: 'orders', effect: 'allow', command: `SELECT ${i}`, detail: { i, z: { b: 1, a: [2, { y: 1 }] } } });
    }
    await ledger.close();
    lines = [];
    for await (const line of exportAuditJsonl(t.store)) lines.push(line);
    rows = await t.store.readAudit({ limit: 100 });
  });
  after(async () => {
    await t.cleanup();
  });

  void it('still verifies a body rewritten in another JSON form (spaces, key order), as before', async () => {
    const row = rows[11]!;
    const body = JSON.parse(row.body) as Record<string, unknown>;
    const reordered = Object.fromEntries(Object.entries(body).reverse());
    const tampered = [...lines];
    tampered[11] = auditRowToJsonl({ ...row, body: JSON.stringify(reordered, null, 2).replace(/\n/g, ' ') }) + '\n';
    assert.notEqual(tampered[11], lines[11]);
    const result = await verifyAuditJsonl(tampered);
    assert.equal(result.ok, true, result.problem?.message);
    assert.equal(result.count, 30);
  });

  void it('reports a record sealed over non-canonical body text as edited', async () => {
    const cases: [string, (body: Record<string, unknown>) => string][] = [
      ['keys out of order', (b) => JSON.stringify(Object.fromEntries(Object.entries(b).reverse()))],
      ['nested keys out of order', (b) => JSON.stringify(b).replace('"a":[2,{"y":1}],"b":1', '"b":1,"a":[2,{"y":1}]')],
      ['whitespace', (b) => JSON.stringify(b, null, 1).replace(/\n/g, ' ')],
      ['escaped character', (b) => JSON.stringify(b).replace('"SELECT', '"\\u0053ELECT')],
    ];
    for (const [name, rewrite] of cases) {
      const row = rows[20]!;
      const text = rewrite(JSON.parse(row.body) as Record<string, unknown>);
      assert.notEqual(text, row.body, name);
      assert.deepStrictEqual(JSON.parse(text), JSON.parse(row.body), name);
      // Rehashed over the rewritten text: the hash matches the line's body bytes, not the canonical body.
      const tampered = [...lines];
      tampered[20] = auditRowToJsonl({ ...row, body: text, hash: recordHash(row.prevHash, text) }) + '\n';
      const result = await verifyAuditJsonl(tampered);
      assert.equal(result.ok, false, name);
      assert.equal(result.problem?.kind, 'edited', name);
      assert.equal(result.problem?.seq, 21, name);
      assert.equal(result.count, 20, name);
    }
  });
});
