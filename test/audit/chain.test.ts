import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { canonicalJson } from '../../src/audit/canonical.js';
import { GENESIS_HASH, headAfter, recordHash, sealDrafts } from '../../src/audit/chain.js';
import { AuditDraftError, prepareRecord, type AuditDraft } from '../../src/audit/record.js';
import { GENESIS_HEAD } from '../../src/store/store.js';

const TIME = '2026-05-01T12:00:00.000Z';

void describe('audit chain', () => {
  void it('hashes sha256(prevHash + "\\n" + body) as lowercase hex', () => {
    const body = '{"kind":"system","seq":1,"time":"x","v":1}';
    const expected = createHash('sha256').update(`${GENESIS_HASH}\n${body}`, 'utf8').digest('hex');
    assert.equal(recordHash(GENESIS_HASH, body), expected);
    assert.match(expected, /^[0-9a-f]{64}$/);
    // UTF-8, not UTF-16 or latin1.
    assert.equal(
      recordHash(GENESIS_HASH, '"é😀"'),
      createHash('sha256').update(Buffer.from(`${GENESIS_HASH}\n"é😀"`, 'utf8')).digest('hex'),
    );
  });

  void it('seals drafts into a chain with canonical bodies and derived columns', () => {
    const drafts: AuditDraft[] = [
      {
        kind: 'decision',
        actionId: 'act_1',
        session: 'ses_1',
        principal: 'bot',
        agent: 'bot',
        onBehalfOf: 'alice',
        connection: 'orders',
        door: 'postgres',
        command: 'DELETE FROM orders',
        intent: { class: 'write', classes: ['write'], flags: ['no_where'] },
        rule: 'deletes-need-review',
        effect: 'review',
        reason: 'deletes need a human',
        detail: { z: 1, a: [true, null] },
      },
      { kind: 'system' },
    ];
    const rows = sealDrafts(GENESIS_HEAD, drafts, TIME);
    assert.equal(rows.length, 2);
    const [a, b] = rows as [(typeof rows)[0], (typeof rows)[0]];
    assert.equal(a.seq, 1);
    assert.equal(a.prevHash, GENESIS_HASH);
    assert.equal(a.body, canonicalJson({ ...drafts[0], v: 1, seq: 1, time: TIME }));
    assert.equal(a.hash, recordHash(GENESIS_HASH, a.body));
    assert.deepStrictEqual(
      { time: a.time, kind: a.kind, actionId: a.actionId, session: a.session, principal: a.principal, connection: a.connection, effect: a.effect },
      { time: TIME, kind: 'decision', actionId: 'act_1', session: 'ses_1', principal: 'bot', connection: 'orders', effect: 'review' },
    );
    assert.equal(b.seq, 2);
    assert.equal(b.prevHash, a.hash);
    assert.equal(b.body, `{"kind":"system","seq":2,"time":"${TIME}","v":1}`);
    assert.deepStrictEqual(Object.keys(b).sort(), ['body', 'hash', 'kind', 'prevHash', 'seq', 'time']);
    assert.deepStrictEqual(headAfter(GENESIS_HEAD, rows), { seq: 2, hash: b.hash });
    assert.deepStrictEqual(headAfter(GENESIS_HEAD, []), GENESIS_HEAD);
  });

  void it('continues from any head, and the seq splice matches a full encoding', () => {
    const head = { seq: 41, hash: 'ab'.repeat(32) };
    const draft: AuditDraft = { kind: 'outcome', actionId: 'x', outcome: 'succeeded', rows: 3, durationMs: 1.25, rule: 'r', session: 's' };
    const [row] = sealDrafts(head, [draft], TIME);
    assert.equal(row!.seq, 42);
    assert.equal(row!.prevHash, head.hash);
    assert.equal(row!.body, canonicalJson({ ...draft, v: 1, seq: 42, time: TIME }));
  });

  void it('refuses invalid drafts with a clear error', () => {
    const bad: [unknown, RegExp][] = [
      [null, /must be an object/],
      [[], /must be an object/],
      [{ kind: 'nonsense' }, /kind must be one of/],
      [{}, /kind must be one of/],
      [{ kind: 'decision', seq: 5 }, /unknown field "seq"/],
      [{ kind: 'decision', time: 'x' }, /unknown field "time"/],
      [{ kind: 'decision', v: 2 }, /unknown field "v"/],
      [{ kind: 'decision', password: 'x' }, /unknown field "password"/],
      [{ kind: 'decision', session: 5 }, /session must be a string/],
      [{ kind: 'decision', session: 'a\u0000b' }, /session contains a NUL/],
      [{ kind: 'decision', principal: 'a\ud800b' }, /principal contains a NUL character or an unpaired surrogate/],
      [{ kind: 'decision', connection: '\udc00' }, /unpaired surrogate/],
      [{ kind: 'decision', effect: 'maybe' }, /effect must be/],
      [{ kind: 'outcome', outcome: 'exploded' }, /outcome must be/],
      [{ kind: 'outcome', rows: -1 }, /rows must be/],
      [{ kind: 'outcome', durationMs: NaN }, /durationMs must be/],
      [{ kind: 'decision', intent: 'read' }, /intent must be an object/],
      [{ kind: 'decision', detail: [1] }, /detail must be an object/],
      [{ kind: 'decision', detail: { n: 1n } }, /bigint at \$\.detail\.n/],
      [{ kind: 'decision', detail: { list: [1, undefined] } }, /undefined at \$\.detail\.list\[1\]/],
      [{ kind: 'decision', detail: { f: () => 1 } }, /function/],
    ];
    for (const [draft, message] of bad) {
      assert.throws(
        () => prepareRecord(draft as AuditDraft, TIME),
        (e: unknown) => e instanceof AuditDraftError && message.test(e.message),
        `${JSON.stringify(draft, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))} ~ ${String(message)}`,
      );
    }
  });

  void it('keeps NULs and unpaired surrogates in body-only fields (they are escaped there)', () => {
    const [row] = sealDrafts(GENESIS_HEAD, [{ kind: 'system', command: 'a\u0000\ud800', session: 'ok😀' }], TIME);
    assert.equal((JSON.parse(row!.body) as { command: string }).command, 'a\u0000\ud800');
    assert.equal(row!.body.includes('\u0000'), false);
    assert.equal(Buffer.from(row!.body, 'utf8').toString('utf8'), row!.body, 'the body survives UTF-8 storage');
  });

  void it('leaves undefined optional fields out of the body', () => {
    const [row] = sealDrafts(GENESIS_HEAD, [{ kind: 'system', session: undefined, detail: { a: undefined } }], TIME);
    assert.equal(row!.body, `{"detail":{},"kind":"system","seq":1,"time":"${TIME}","v":1}`);
    assert.equal('session' in row!, false);
  });
});
