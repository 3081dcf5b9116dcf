// Offline verify of a large export with worker threads (verify-jsonl.ts): the lines are cut into
// batches that worker threads prepare and this thread checks in order. Whatever the tampering
// and wherever it falls among the batches, the result must be exactly the one-thread walk's
// (the same problem, seq, message, count and head), also when the threads cannot start or fail.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { canonicalJson } from '../../src/audit/canonical.js';
import { recordHash } from '../../src/audit/chain.js';
import { CheckpointWriter } from '../../src/audit/checkpoints-writer.js';
import { auditRowToJsonl, exportAuditJsonl, parseJsonlLine } from '../../src/audit/export.js';
import { AuditLedger } from '../../src/audit/ledger.js';
import { pruneAudit } from '../../src/audit/retention.js';
import { CheckpointSigner } from '../../src/audit/signing.js';
import { verifyAuditJsonl, type AuditProblemKind, type VerifyJsonlOptions, type VerifyResult } from '../../src/audit/verify.js';
import { jsonlThreads } from '../../src/audit/verify-jsonl.js';
import type { AuditRow } from '../../src/store/store.js';
import { tempStore } from '../helpers.js';

const N = 600;
/** Small batches (a few lines each), so that a few hundred lines make many of them. */
const BATCH = 600;
const signer = CheckpointSigner.generate();
const trusted = { checkpoints: { trusted: [signer.publicKey] } };

let t: Awaited<ReturnType<typeof tempStore>>;
let lines: string[];
let rows: AuditRow[];

before(async () => {
  t = await tempStore();
  const ledger = new AuditLedger(t.store);
  const writer = new CheckpointWriter(t.store, ledger, signer, { every: 25, intervalMs: 0 });
  await writer.start();
  for (let b = 0; b < 6; b++) {
    await Promise.all(
      Array.from({ length: N / 6 }, (_, i) => {
        const n = b * (N / 6) + i + 1;
        return ledger.append({
          kind: n % 2 ? 'decision' : 'outcome',
          actionId: `act_${n}`,
          session: `ses_${n % 7}`,
          principal: n % 5 ? 'agent-7' : 'alice',
          connection: 'orders',
          ...(n % 2 ? { effect: 'allow' as const } : { outcome: 'succeeded' as const, rows: n, durationMs: n / 7 }),
          // Escapes, non-ASCII and numbers that are not integers take the full way through a line.
          command: n % 11 === 0 ? `SELECT ${n} -- é😀 "quoted" \\ back\nslash\u0001` : `SELECT ${n}`,
          detail: { n, nested: { list: [1.5, -0, null, true, 'x', 1e21, { b: 1, a: [] }] } },
        });
      }),
    );
  }
  await writer.close();
  await ledger.close();
  rows = await t.store.readAudit({ limit: 100_000 });
  lines = [];
  for await (const line of exportAuditJsonl(t.store)) lines.push(line);
});
after(async () => {
  await t.cleanup();
});

/** One thread, then worker threads with small batches: both must give the same result. */
async function verifyBoth(input: string[] | Buffer[], options: VerifyJsonlOptions = trusted): Promise<VerifyResult> {
  const sequential = await verifyAuditJsonl(input, { ...options, workers: 0 });
  const before = jsonlThreads.batches;
  const parallel = await verifyAuditJsonl(input, { ...options, workers: 2, batchChars: BATCH });
  assert.deepStrictEqual(parallel, sequential, 'worker threads');
  assert.ok(jsonlThreads.batches > before, 'the worker threads prepared batches');
  return sequential;
}

/** The index of the first line from `near` on that holds `text` (a decision or outcome line). */
function lineWith(text: string, near: number): number {
  const i = lines.findIndex((l, j) => j >= near && l.includes(text));
  assert.ok(i >= 0, `a line from ${near} holds ${text}`);
  return i;
}

function expectProblem(result: VerifyResult, seq: number, kind: AuditProblemKind): void {
  assert.equal(result.ok, false, 'verify must fail');
  assert.equal(result.problem?.kind, kind, result.problem?.message);
  assert.equal(result.problem?.seq, seq, result.problem?.message);
}

/** The line of `row` with its body replaced and rehashed (a forger who can compute hashes). */
function resealed(row: AuditRow, body: string, prevHash = row.prevHash): string {
  return auditRowToJsonl({ ...row, prevHash, body, hash: recordHash(prevHash, body) }) + '\n';
}

/** The lines from index `from` on, rewritten and rehashed so that every link holds. */
function rewriteFrom(from: number, change: (body: Record<string, unknown>) => void): string[] {
  const out = lines.slice(0, from);
  let prev = rows[from - 1]?.prevHash ?? rows[from]!.prevHash;
  prev = from > 0 ? rows[from - 1]!.hash : prev;
  for (let i = from; i < rows.length; i++) {
    const body = JSON.parse(rows[i]!.body) as Record<string, unknown>;
    if (i === from) change(body);
    const text = canonicalJson(body);
    out.push(resealed(rows[i]!, text, prev));
    prev = recordHash(prev, text);
  }
  return out;
}

void describe('offline verify of a large export with worker threads', () => {
  void it('a sound export: the same count, head and checkpoint summary, from lines and from bytes', async () => {
    const result = await verifyBoth(lines);
    assert.equal(result.ok, true, result.problem?.message);
    assert.equal(result.count, rows.length);
    assert.ok(result.checkpoints!.count >= 5, `checkpoints: ${result.checkpoints!.count}`);
    // Bytes in chunks that split lines and multi-byte characters anywhere.
    const bytes = Buffer.from(lines.join(''), 'utf8');
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 777) chunks.push(bytes.subarray(i, i + 777));
    assert.deepStrictEqual(await verifyBoth(chunks), result);
    // Blank lines, and a last line without its newline.
    const blanks = lines.flatMap((l, i) => (i % 50 === 3 ? ['\n', '  \r\n', l] : [l]));
    blanks[blanks.length - 1] = blanks[blanks.length - 1]!.trimEnd();
    assert.deepStrictEqual(await verifyBoth(blanks), result);
  });

  void it('names the first bad line, at the start, in the middle and at the end', async () => {
    for (const near of [0, 17, 300, 301, rows.length - 30]) {
      const i = lineWith('"principal":"agent-7"', near);
      const edited = [...lines];
      edited[i] = edited[i]!.replace('"principal":"agent-7"', '"principal":"mallory"');
      const result = await verifyBoth(edited);
      expectProblem(result, i + 1, 'column-mismatch');
      assert.equal(result.count, i);
    }
  });

  void it('edited, deleted, inserted, reordered and malformed lines', async () => {
    const at = lineWith('"command":"SELECT 2', 240);
    const command = /"command":"SELECT (\d+)"/.exec(lines[at]!)![0];
    const session = /"session":"ses_\d"/.exec(lines[at]!)![0];
    const cases: [string[], number, AuditProblemKind][] = [
      // The body edited: its hash no longer matches.
      [lines.map((l, i) => (i === at ? l.replace(command, '"command":"DROP TABLE orders"') : l)), at + 1, 'edited'],
      // Edited and rehashed: the next record's link breaks.
      [lines.map((l, i) => (i === at ? resealed(rows[i]!, rows[i]!.body.replace(command, '"command":"DROP TABLE x"')) : l)), at + 1, 'broken-link'],
      // A search column changed.
      [lines.map((l, i) => (i === at ? l.replace(session, '"session":"ses_99"') : l)), at + 1, 'column-mismatch'],
      // Deleted.
      [[...lines.slice(0, at), ...lines.slice(at + 1)], at + 1, 'deleted'],
      [[...lines.slice(0, at), ...lines.slice(at + 5)], at + 1, 'deleted'],
      // A line twice; two lines swapped.
      [[...lines.slice(0, at), lines[at - 1]!, ...lines.slice(at)], at, 'reordered'],
      [[...lines.slice(0, at), lines[at + 1]!, lines[at]!, ...lines.slice(at + 2)], at + 1, 'deleted'],
      // Not a record.
      [[...lines.slice(0, at), 'garbage\n', ...lines.slice(at)], at + 1, 'malformed'],
      [[...lines.slice(0, at), '{"seq":6}\n', ...lines.slice(at)], at + 1, 'malformed'],
      [[...lines.slice(0, at), '{"seq":1e999,"time":"t","kind":"k","prevHash":"p","hash":"h","body":{}}\n', ...lines.slice(at)], at + 1, 'malformed'],
      // A body with no canonical form (a number JSON cannot hold).
      [lines.map((l, i) => (i === at ? l.replace(command, '"command":1e999') : l)), at + 1, 'malformed'],
    ];
    for (const [input, seq, kind] of cases) expectProblem(await verifyBoth(input), seq, kind);
  });

  void it('a copy of an earlier record put in, and records inserted with the rest renumbered', async () => {
    // The copy: its body says record 101, at the place of record 301.
    const copied = [...lines];
    copied[300] = lines[100]!.replace(/^\{"seq":101,/, '{"seq":301,');
    assert.notEqual(copied[300], lines[100]);
    const r1 = await verifyBoth(copied);
    expectProblem(r1, 301, 'inserted');
    assert.match(r1.problem!.message, /copy of record 101/);
    // Renumbered: records 301.. moved one on, a forged record in their place.
    const renumbered = [...lines.slice(0, 300), lines[300]!, ...lines.slice(300).map((l) => l.replace(/^\{"seq":(\d+),/, (_, s: string) => `{"seq":${Number(s) + 1},`))];
    const r2 = await verifyBoth(renumbered);
    assert.equal(r2.problem?.kind, 'inserted', r2.problem?.message);
  });

  void it('a body rehashed in another form is edited; one only re-encoded still verifies', async () => {
    // A line the quick scan takes (no escapes), and one it leaves to the full way.
    for (const at of [lines.findIndex((l, i) => i >= 99 && /"command":"SELECT \d+"/.test(l)), lineWith('back\\nslash', 99)]) {
      const body = JSON.parse(rows[at]!.body) as Record<string, unknown>;
      // Sealed over text that is not canonical: the hash matches the line's bytes, not the canonical body.
      const forms = [
        JSON.stringify(body, null, 1).replace(/\n/g, ' '),
        JSON.stringify(Object.fromEntries(Object.entries(body).reverse())),
        JSON.stringify(body).replace('"nested":{"list"', '"nested":{ "list"'),
        JSON.stringify(body).replace('"SELECT', '"\\u0053ELECT'),
        JSON.stringify(body).replace('"SELECT', '"\\/SELECT'),
        JSON.stringify(body).replace('1.5,', '1.50,'),
        JSON.stringify(body).replace('[1.5,0,', '[1.5,-0,'),
        JSON.stringify(body).replace('1e+21', '1E21'),
      ];
      for (const form of forms) {
        assert.notEqual(form, rows[at]!.body);
        const r1 = await verifyBoth(lines.map((l, i) => (i === at ? resealed(rows[i]!, form) : l)));
        expectProblem(r1, at + 1, 'edited');
      }
      const reordered = JSON.stringify(Object.fromEntries(Object.entries(body).reverse()));
      const line = auditRowToJsonl({ ...rows[at]!, body: reordered }) + '\n';
      const r2 = await verifyBoth(lines.map((l, i) => (i === at ? line : l)));
      assert.equal(r2.ok, true, r2.problem?.message);
    }
  });

  void it('a rewritten tail is caught by the next checkpoint; a forged checkpoint by its signature', async () => {
    const r1 = await verifyBoth(rewriteFrom(200, (b) => (b.command = 'DROP TABLE orders')));
    assert.equal(r1.problem?.kind, 'checkpoint-root', r1.problem?.message);
    const cp = rows.findIndex((r, i) => i > 300 && r.kind === 'checkpoint');
    const r2 = await verifyBoth(rewriteFrom(cp, (b) => ((b.detail as { rootHash: string }).rootHash = 'ab'.repeat(32))));
    expectProblem(r2, cp + 1, 'checkpoint-signature');
    // Signed by a key that is not trusted.
    const other = CheckpointSigner.generate();
    const r3 = await verifyBoth(lines, { checkpoints: { trusted: [other.publicKey] } });
    assert.equal(r3.problem?.kind, 'untrusted-key', r3.problem?.message);
  });

  void it('a truncated export against a known head, a wrong known head, and a partial export', async () => {
    const head = (await verifyBoth(lines)).head;
    const cut = await verifyBoth(lines.slice(0, 500), { ...trusted, expectHead: head });
    expectProblem(cut, 501, 'truncated');
    const wrong = await verifyBoth(lines, { ...trusted, expectHead: { seq: 321, hash: 'cd'.repeat(32) } });
    expectProblem(wrong, 321, 'checkpoint-mismatch');
    const alice = lines.filter((l) => l.includes('"principal":"alice"'));
    assert.equal((await verifyBoth(alice, { partial: true })).ok, true);
    const edited = alice.map((l, i) => (i === 40 ? l.replace('"principal":"alice"', '"principal":"mallory"') : l));
    assert.equal((await verifyBoth(edited, { partial: true })).problem?.kind, 'column-mismatch');
  });

  void it('an over-long line, after the lines before it are checked', async () => {
    const long = `{"seq":400,${'"x":1,'.repeat(400)}`;
    const result = await verifyBoth([...lines.slice(0, 350), long, ...lines.slice(350)], { ...trusted, maxLineBytes: 2000 });
    expectProblem(result, 351, 'malformed');
    assert.match(result.problem!.message, /line 351 is longer than 2000/);
    // A bad line before it is named first.
    const bad = await verifyBoth([...lines.slice(0, 100), 'garbage\n', ...lines.slice(100, 350), long], { ...trusted, maxLineBytes: 2000 });
    expectProblem(bad, 101, 'malformed');
    assert.match(bad.problem!.message, /^line 101: not valid JSON/);
  });

  void it('when the threads cannot start, or fail, this thread checks their batches', async () => {
    const reference = await verifyAuditJsonl(lines, { ...trusted, workers: 0 });
    const at = lineWith('"kind":"decision"', 333);
    const edited = lines.map((l, i) => (i === at ? l.replace('"kind":"decision"', '"kind":"outcome"') : l));
    const badReference = await verifyAuditJsonl(edited, { ...trusted, workers: 0 });
    assert.equal(badReference.problem?.kind, 'column-mismatch');
    const start = jsonlThreads.start;
    const batches = jsonlThreads.batches;
    try {
      jsonlThreads.start = () => undefined;
      assert.deepStrictEqual(await verifyAuditJsonl(lines, { ...trusted, workers: 2, batchChars: BATCH }), reference);
      assert.deepStrictEqual(await verifyAuditJsonl(edited, { ...trusted, workers: 2, batchChars: BATCH }), badReference);
      // Threads that start and then die on their first batch.
      jsonlThreads.start = () => new Worker("require('node:worker_threads').parentPort.on('message', () => { throw new Error('boom'); });", { eval: true });
      assert.deepStrictEqual(await verifyAuditJsonl(lines, { ...trusted, workers: 2, batchChars: BATCH }), reference);
      assert.deepStrictEqual(await verifyAuditJsonl(edited, { ...trusted, workers: 2, batchChars: BATCH }), badReference);
      assert.equal(jsonlThreads.batches, batches, 'no thread prepared a batch');
    } finally {
      jsonlThreads.start = start;
    }
  });

  void it('a pruned ledger: the export from its retention base, also with records left below the base', async () => {
    const full = [...lines];
    const ledger = new AuditLedger(t.store);
    const pruned = await pruneAudit(t.store, ledger, { before: new Date(rows[300]!.time) });
    await ledger.close();
    assert.ok(pruned.upto! > 100 && pruned.upto! < 500, `pruned up to ${pruned.upto}`);
    const base: unknown = JSON.parse((await t.store.readAuditBase())!);
    const rest: string[] = [];
    for await (const line of exportAuditJsonl(t.store)) rest.push(line);
    const options = { ...trusted, base };
    const result = await verifyBoth(rest, options);
    assert.equal(result.ok, true, result.problem?.message);
    // An interrupted prune leaves records below the base: they are passed over.
    assert.deepStrictEqual(await verifyBoth([...full, ...rest.slice(full.length - pruned.upto!)], options), result);
    const r = parseJsonlLine(rest[10]!);
    assert.ok(!('error' in r));
    const edited = rest.map((l, i) => (i === 10 ? l.replace('"connection":"orders"', '"connection":"billing"') : l));
    expectProblem(await verifyBoth(edited, options), r.row.seq, 'column-mismatch');
  });
});
