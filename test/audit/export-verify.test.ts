import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import { join } from 'node:path';
import { AuditLedger } from '../../src/audit/ledger.js';
import { auditRowToJsonl, exportAuditJsonl, parseJsonlLine, writeAuditJsonl } from '../../src/audit/export.js';
import { verifyAudit, verifyAuditJsonl } from '../../src/audit/verify.js';
import { GENESIS_HEAD } from '../../src/store/store.js';
import { tempStore } from '../helpers.js';

async function collect(gen: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const line of gen) out.push(line);
  return out;
}

void describe('JSONL export and offline verification', () => {
  let t: Awaited<ReturnType<typeof tempStore>>;
  let lines: string[];
  before(async () => {
    t = await tempStore();
    const ledger = new AuditLedger(t.store);
    await Promise.all(
      Array.from({ length: 250 }, (_, i) =>
        ledger.append({
          kind: i % 2 ? 'outcome' : 'decision',
          session: `ses_${i % 4}`,
          principal: i % 3 ? 'agent-1' : 'alice',
          connection: 'orders',
          ...(i % 2 ? { outcome: 'succeeded' as const, rows: i } : { effect: i % 5 ? ('allow' as const) : ('deny' as const) }),
          command: `SELECT ${i} -- é😀 "quoted" \\ back\nslash`,
          detail: { i, nested: { list: [1.5, -0, null, true, 'x'] } },
        }),
      ),
    );
    await ledger.close();
    lines = await collect(exportAuditJsonl(t.store, { pageSize: 64 }));
  });
  after(async () => {
    await t.cleanup();
  });

  void it('writes one stored record per line, body parsed, in seq order', async () => {
    assert.equal(lines.length, 250);
    const rows = await t.store.readAudit({ limit: 1000 });
    lines.forEach((line, i) => {
      assert.ok(line.endsWith('\n'));
      const parsed = JSON.parse(line) as Record<string, unknown>;
      const row = rows[i]!;
      assert.equal(parsed.seq, row.seq);
      assert.equal(parsed.prevHash, row.prevHash);
      assert.equal(parsed.hash, row.hash);
      assert.deepStrictEqual(parsed.body, JSON.parse(row.body));
      assert.equal(parsed.session, row.session);
      assert.equal(line, auditRowToJsonl(row) + '\n');
    });
  });

  void it('verifies offline with the same result as verifying the store', async () => {
    const fromStore = await verifyAudit(t.store, { pageSize: 7 });
    const fromJsonl = await verifyAuditJsonl(lines);
    assert.equal(fromStore.ok, true);
    assert.deepStrictEqual(fromJsonl, fromStore);
    assert.equal(fromJsonl.count, 250);
  });

  void it('streams to a file and verifies from a file stream, also byte by byte', async () => {
    const file = join(t.dir, 'audit.jsonl');
    const out = createWriteStream(file);
    const count = await writeAuditJsonl(t.store, out, { pageSize: 100 });
    out.end();
    await finished(out);
    assert.equal(count, 250);
    const result = await verifyAuditJsonl(createReadStream(file, { highWaterMark: 1000 }));
    assert.equal(result.ok, true, result.problem?.message);
    assert.equal(result.count, 250);
    // Chunks that split multi-byte UTF-8 characters and lines anywhere.
    const bytes = Buffer.from(lines.join(''), 'utf8');
    const tiny = (function* () {
      for (let i = 0; i < bytes.length; i += 3) yield bytes.subarray(i, i + 3);
    })();
    assert.equal((await verifyAuditJsonl(tiny)).count, 250);
  });

  void it('filters the export like readAudit, pages newest first, and limits the total', async () => {
    const alice = await collect(exportAuditJsonl(t.store, { principal: 'alice', pageSize: 10 }));
    assert.equal(alice.length, 84);
    assert.ok(alice.every((l) => (JSON.parse(l) as { principal: string }).principal === 'alice'));
    const newest = await collect(exportAuditJsonl(t.store, { descending: true, pageSize: 9, limit: 30 }));
    assert.deepStrictEqual(
      newest.map((l) => (JSON.parse(l) as { seq: number }).seq),
      Array.from({ length: 30 }, (_, i) => 250 - i),
    );
    const window = await collect(exportAuditJsonl(t.store, { afterSeq: 100, beforeSeq: 111, pageSize: 4 }));
    assert.deepStrictEqual(
      window.map((l) => (JSON.parse(l) as { seq: number }).seq),
      Array.from({ length: 10 }, (_, i) => 101 + i),
    );
    assert.deepStrictEqual(await collect(exportAuditJsonl(t.store, { limit: 0 })), []);
  });

  void it('verifies a filtered or partial export record by record with partial: true', async () => {
    const alice = await collect(exportAuditJsonl(t.store, { principal: 'alice' }));
    const strict = await verifyAuditJsonl(alice);
    assert.equal(strict.ok, false);
    assert.equal(strict.problem?.kind, 'deleted');
    const partial = await verifyAuditJsonl(alice, { partial: true });
    assert.equal(partial.ok, true, partial.problem?.message);
    assert.equal(partial.count, 84);
    // Even partial, an edited record is caught.
    const edited = [...alice];
    edited[3] = edited[3]!.replace('"principal":"alice"', '"principal":"mallory"');
    const r = await verifyAuditJsonl(edited, { partial: true });
    assert.equal(r.problem?.kind, 'column-mismatch');
    const tail = await collect(exportAuditJsonl(t.store, { afterSeq: 200 }));
    assert.equal((await verifyAuditJsonl(tail, { partial: true })).count, 50);
  });

  void it('names the first bad line of a tampered export', async () => {
    const edit = (i: number, from: string, to: string) => {
      const copy = [...lines];
      assert.ok(copy[i]!.includes(from), `line ${i} holds ${from}`);
      copy[i] = copy[i]!.replace(from, to);
      return copy;
    };
    const cases: [string[], number, string][] = [
      [edit(41, '"rows":41', '"rows":0'), 42, 'edited'],
      [edit(41, '"session":"ses_1","principal"', '"session":"ses_9","principal"'), 42, 'column-mismatch'],
      [[...lines.slice(0, 10), ...lines.slice(11)], 11, 'deleted'],
      [[...lines.slice(0, 10), lines[10]!, ...lines.slice(10)], 11, 'reordered'],
      [[...lines.slice(0, 5), 'garbage\n', ...lines.slice(5)], 6, 'malformed'],
      [[...lines.slice(0, 5), '{"seq":6}\n', ...lines.slice(5)], 6, 'malformed'],
    ];
    for (const [input, seq, kind] of cases) {
      const result = await verifyAuditJsonl(input);
      assert.equal(result.ok, false);
      assert.equal(result.problem?.kind, kind, result.problem?.message);
      assert.equal(result.problem?.seq, seq, result.problem?.message);
    }
    // Truncation shows only against a known head.
    const head = (await verifyAuditJsonl(lines)).head;
    assert.equal((await verifyAuditJsonl(lines.slice(0, 200))).ok, true);
    const cut = await verifyAuditJsonl(lines.slice(0, 200), { expectHead: head });
    assert.equal(cut.problem?.kind, 'truncated');
    assert.equal(cut.problem?.seq, 201);
  });

  void it('refuses over-long lines instead of buffering without bound', async () => {
    const result = await verifyAuditJsonl(['{"seq":1,' + 'x'.repeat(5000)], { maxLineBytes: 1000 });
    assert.equal(result.problem?.kind, 'malformed');
    assert.match(result.problem!.message, /longer than 1000/);
  });

  void it('handles empty input, parse errors and aborts', async () => {
    assert.deepStrictEqual(await verifyAuditJsonl([]), { ok: true, count: 0, head: GENESIS_HEAD });
    assert.deepStrictEqual(await verifyAuditJsonl(['\n', '  \n']), { ok: true, count: 0, head: GENESIS_HEAD });
    assert.deepStrictEqual(parseJsonlLine('[1]'), { error: 'not a JSON object' });
    assert.deepStrictEqual(parseJsonlLine('{"seq":"1"}'), { error: 'seq is missing or not a number' });
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(verifyAudit(t.store, { signal: controller.signal }), { name: 'AbortError' });
    let progress = 0;
    await verifyAudit(t.store, { pageSize: 50, onProgress: (n) => (progress = n) });
    assert.equal(progress, 250);
  });

  void it('verifies an empty store', async () => {
    const empty = await tempStore();
    try {
      assert.deepStrictEqual(await verifyAudit(empty.store), { ok: true, count: 0, head: GENESIS_HEAD });
      assert.equal((await verifyAudit(empty.store, { expectHead: { seq: 1, hash: 'a'.repeat(64) } })).problem?.kind, 'truncated');
    } finally {
      await empty.cleanup();
    }
  });
});
