// Filtered exports (time, principal, connection, effect, kind) and the OCSF mapping, through the
// library and through `sluice audit export` as a user runs it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { AuditLedger } from '../../src/audit/ledger.js';
import { OcsfFormatter, readFilteredAudit, seqBefore, writeAuditExport } from '../../src/audit/export.js';
import { auditRowToOcsf, ocsfProblems, OCSF_API_ACTIVITY, OCSF_DATASTORE_ACTIVITY, type OcsfEvent } from '../../src/audit/ocsf.js';
import type { AuditDraft } from '../../src/audit/record.js';
import { openStore } from '../../src/store/open.js';
import type { AuditQuery, AuditRow, Store } from '../../src/store/store.js';
import { tempDir } from '../helpers.js';

const BIN = resolve('bin/sluice.mjs');
const T0 = Date.parse('2026-05-01T00:00:00.000Z');
const MINUTE = 60_000;
const KINDS: Record<string, string> = { pg: 'postgres', my: 'mysql', sh: 'shell', tools: 'mcp' };

/** 1200 actions, one a minute (decision then outcome), over four connections and three principals. */
function actions(): { draft: AuditDraft; at: number }[] {
  const out: { draft: AuditDraft; at: number }[] = [];
  const conns = ['pg', 'my', 'sh', 'tools'];
  for (let i = 0; i < 1200; i++) {
    const connection = conns[i % 4]!;
    const principal = ['alice', 'bot', 'svc'][i % 3]!;
    const kind = principal === 'alice' ? 'human' : principal === 'bot' ? 'agent' : 'service';
    const effect = i % 7 === 0 ? 'deny' : i % 11 === 0 ? 'review' : 'allow';
    const write = i % 2 === 1;
    const door = connection === 'tools' ? 'mcp' : connection === 'sh' ? 'api' : 'postgres';
    const command = connection === 'sh' ? (write ? 'rm -f /tmp/x' : 'ls /srv') : write ? `UPDATE orders SET n = ${i} WHERE id = 1` : `SELECT * FROM orders WHERE id = ${i}`;
    const at = T0 + i * MINUTE;
    const actionId = `act_${i}`;
    out.push({
      at,
      draft: {
        kind: 'decision',
        actionId,
        session: `ses_${i % 5}`,
        principal,
        ...(kind === 'agent' ? { agent: principal, onBehalfOf: 'alice' } : {}),
        connection,
        door,
        command,
        intent: {
          class: write ? 'write' : 'read',
          classes: [write ? 'write' : 'read'],
          flags: [],
          objects: connection === 'sh' ? { tables: [], programs: [write ? 'rm' : 'ls'], paths: [], hosts: [], functions: [] } : { tables: [{ name: 'orders' }], programs: [], paths: [], hosts: [], functions: [] },
        },
        rule: effect === 'deny' ? 'no-writes' : 'all',
        effect,
        reason: 'because',
        detail: { principalKind: kind, groups: ['ops'], ...(connection === 'tools' ? { tool: 'lookup' } : {}) },
      },
    });
    if (effect !== 'review') {
      out.push({
        at: at + 500,
        draft: {
          kind: 'outcome',
          actionId,
          session: `ses_${i % 5}`,
          principal,
          connection,
          door,
          rule: effect === 'deny' ? 'no-writes' : 'all',
          effect,
          outcome: effect === 'deny' ? 'denied' : 'succeeded',
          rows: 1,
          durationMs: 2.5,
          detail: {},
        },
      });
    }
  }
  return out;
}

async function fill(store: Store): Promise<void> {
  const list = actions();
  let clock = T0;
  // The ledger stamps a record when append is called, so the clock is set just before each call.
  const ledger = new AuditLedger(store, { now: () => new Date(clock) });
  const pending: Promise<unknown>[] = [];
  for (const { draft, at } of list) {
    clock = at;
    pending.push(ledger.append(draft));
  }
  await Promise.all(pending);
  clock = T0 + 2000 * MINUTE;
  await ledger.append({ kind: 'key', principal: 'bot', detail: { event: 'created', keyId: 'slk_abc', by: 'cli' } });
  await ledger.append({ kind: 'system', detail: { event: 'start' } });
  await ledger.close();
}

async function rowsOf(gen: AsyncIterable<AuditRow[]>): Promise<AuditRow[]> {
  const out: AuditRow[] = [];
  for await (const page of gen) out.push(...page);
  return out;
}

/** A store that counts the rows it hands out, to show a time filter does not read everything. */
function counting(store: Store): { store: Store; rows: () => number } {
  let rows = 0;
  const wrapped = Object.create(store) as Store;
  wrapped.readAudit = async (q: AuditQuery) => {
    const r = await store.readAudit(q);
    rows += r.length;
    return r;
  };
  return { store: wrapped, rows: () => rows };
}

void describe('filtered audit exports', () => {
  const dir = tempDir('sluice-export-');
  const file = join(dir.path, 'sluice.db');
  let store: Store;
  let all: AuditRow[];
  before(async () => {
    store = await openStore(`sqlite:${file}`);
    await fill(store);
    all = await store.readAudit({ limit: 100_000 });
  });
  after(async () => {
    await store.close();
    dir.remove();
  });

  void it('--from/--to select exactly the records of the period (from inclusive, to exclusive)', async () => {
    const from = new Date(T0 + 300 * MINUTE);
    const to = new Date(T0 + 420 * MINUTE);
    const got = await rowsOf(readFilteredAudit(store, { from, to, pageSize: 50 }));
    const want = all.filter((r) => Date.parse(r.time) >= from.getTime() && Date.parse(r.time) < to.getTime());
    assert.ok(want.length > 100);
    assert.deepEqual(
      got.map((r) => r.seq),
      want.map((r) => r.seq),
    );
    assert.equal(got[0]!.time, from.toISOString(), 'a record exactly at --from is in');
    assert.ok(!got.some((r) => r.time === to.toISOString()), 'a record exactly at --to is out');
  });

  void it('a time filter seeks to the period instead of reading the ledger from the start', async () => {
    const c = counting(store);
    const from = new Date(T0 + 1100 * MINUTE);
    const start = await seqBefore(c.store, from);
    const first = all.find((r) => Date.parse(r.time) >= from.getTime())!;
    assert.ok(start < first.seq, 'the seek never skips a record of the period');
    assert.ok(Date.parse(all.find((r) => r.seq > start)!.time) >= from.getTime() - 10 * MINUTE - MINUTE, 'it lands within the slack');
    const got = await rowsOf(readFilteredAudit(c.store, { from, pageSize: 100 }));
    assert.equal(got[0]!.seq, first.seq);
    assert.ok(c.rows() < all.length / 3, `read ${c.rows()} of ${all.length} rows`);
  });

  void it('combines principal, connection, effect and kind filters', async () => {
    const got = await rowsOf(readFilteredAudit(store, { principal: 'bot', connection: 'pg', effect: 'deny', kinds: ['decision'] }));
    const want = all.filter((r) => r.principal === 'bot' && r.connection === 'pg' && r.effect === 'deny' && r.kind === 'decision');
    assert.ok(want.length > 0);
    assert.deepEqual(
      got.map((r) => r.seq),
      want.map((r) => r.seq),
    );
    const kinds = await rowsOf(readFilteredAudit(store, { kinds: ['key', 'system'] }));
    assert.deepEqual(
      kinds.map((r) => r.kind),
      ['key', 'system'],
    );
    const limited = await rowsOf(readFilteredAudit(store, { kinds: ['outcome'], limit: 7, pageSize: 5 }));
    assert.equal(limited.length, 7);
    assert.ok(limited.every((r) => r.kind === 'outcome'));
  });

  void it('writes OCSF lines that carry every required attribute of their class', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => (text += c.toString('utf8')));
    const count = await writeAuditExport(store, out, { format: 'ocsf', ocsf: { connectionKind: (n) => KINDS[n], productVersion: '9.9.9' } });
    const lines = text.trimEnd().split('\n');
    assert.equal(count, all.length);
    assert.equal(lines.length, all.length);
    for (const [i, line] of lines.entries()) {
      const event = JSON.parse(line) as OcsfEvent;
      assert.deepEqual(ocsfProblems(event), [], `line ${i + 1}: ${line}`);
      const meta = event.metadata as Record<string, unknown>;
      assert.equal(meta.sequence, all[i]!.seq);
      assert.equal(meta.uid, all[i]!.hash);
      assert.equal(meta.version, '1.3.0');
      assert.deepEqual(meta.product, { name: 'Sluice', vendor_name: 'Sluice', version: '9.9.9' });
      assert.equal(event.time, Date.parse(all[i]!.time));
    }
  });

  void it('maps database connections to Datastore Activity and the rest to API Activity', async () => {
    const f = new OcsfFormatter(store, { connectionKind: (n) => KINDS[n] });
    const events = new Map<string, OcsfEvent>();
    for (const row of all.slice(0, 40)) events.set(`${row.kind}:${row.actionId}`, JSON.parse(await f.line(row)) as OcsfEvent);

    const pgRead = events.get('decision:act_0')!; // pg, alice, read, deny (0 % 7)
    assert.equal(pgRead.class_uid, OCSF_DATASTORE_ACTIVITY);
    assert.equal(pgRead.category_uid, 6);
    assert.equal(pgRead.activity_id, 4, 'a read is a Query');
    assert.equal(pgRead.type_uid, 600504);
    assert.deepEqual(pgRead.query_info, { query_string: 'SELECT * FROM orders WHERE id = 0', uid: 'act_0' });
    assert.deepEqual(pgRead.table, { name: 'orders' });
    assert.equal((pgRead.database as { name: string }).name, 'pg');
    assert.equal(pgRead.action_id, 2);
    assert.equal(pgRead.disposition_id, 2);
    assert.equal(pgRead.status_id, 2);
    assert.equal(pgRead.severity_id, 3);
    assert.deepEqual(pgRead.policy, { name: 'no-writes', uid: 'no-writes', desc: 'because' });
    assert.deepEqual((pgRead.actor as { user: unknown }).user, { name: 'alice', uid: 'alice', type_id: 1, type: 'User', groups: [{ name: 'ops' }] });

    const myWrite = events.get('decision:act_1')!; // mysql, bot (agent for alice), write
    assert.equal(myWrite.class_uid, OCSF_DATASTORE_ACTIVITY);
    assert.equal(myWrite.activity_id, 5, 'a write is a Write');
    assert.equal((myWrite.unmapped as Record<string, unknown>).on_behalf_of, 'alice');
    assert.equal((myWrite.actor as { user: { type: string } }).user.type, 'Agent');

    const toolCall = events.get('decision:act_3')!; // tools (mcp)
    assert.equal(toolCall.class_uid, OCSF_API_ACTIVITY);
    assert.equal((toolCall.api as { operation: string }).operation, 'lookup', 'an MCP tool call names the tool');
    const shell = events.get('decision:act_2')!; // sh, read
    assert.equal(shell.class_uid, OCSF_API_ACTIVITY);
    assert.equal(shell.activity_id, 2, 'a read is Read');
    assert.deepEqual(shell.resources, [{ type: 'program', name: 'ls' }]);
    assert.equal((shell.unmapped as { intent: { class: string } }).intent.class, 'read', 'unmapped keeps the intent');

    const outcome = events.get('outcome:act_1')!;
    assert.equal(outcome.class_uid, OCSF_DATASTORE_ACTIVITY);
    assert.equal(outcome.activity_id, 5, 'an outcome takes its activity from the decision');
    assert.equal(outcome.status_id, 1);
    assert.equal(outcome.duration, 3);
    assert.equal((outcome.metadata as { correlation_uid: string }).correlation_uid, 'act_1');
  });

  void it('finds an old decision in the store when it is no longer cached', async () => {
    const outcome = all.find((r) => r.kind === 'outcome' && r.actionId === 'act_5')!;
    const fresh = new OcsfFormatter(store, { connectionKind: (n) => KINDS[n] });
    const event = JSON.parse(await fresh.line(outcome)) as OcsfEvent;
    assert.equal(event.activity_id, 5);
    const blind = auditRowToOcsf(outcome, { connectionKind: (n) => KINDS[n] });
    assert.equal(blind.activity_id, 0, 'without the decision the activity is Unknown');
    assert.deepEqual(ocsfProblems(blind), []);
  });

  void it('maps records outside actions (keys, lifecycle) to API Activity with the sluice app as actor', async () => {
    const key = auditRowToOcsf(all.find((r) => r.kind === 'key')!);
    assert.deepEqual(ocsfProblems(key), []);
    assert.equal(key.activity_id, 1);
    assert.deepEqual(key.actor, { app_name: 'sluice' });
    assert.deepEqual(key.resources, [{ type: 'api_key', uid: 'slk_abc', name: 'slk_abc', owner: { name: 'bot', uid: 'bot' } }]);
    assert.equal((key.api as { operation: string }).operation, 'key.created');
    const system = auditRowToOcsf(all.find((r) => r.kind === 'system')!);
    assert.deepEqual(ocsfProblems(system), []);
    assert.equal(system.activity_id, 99);
  });

  void it('the requirement check catches an event that lacks a required attribute', () => {
    const event = auditRowToOcsf(all[0]!, { connectionKind: (n) => KINDS[n] });
    const broken = { ...event, actor: {}, metadata: { product: { name: 'Sluice' } } };
    delete (broken as Record<string, unknown>).database;
    delete (broken as Record<string, unknown>).table;
    const problems = ocsfProblems(broken);
    assert.ok(problems.includes('metadata.version is required'), problems.join('; '));
    assert.ok(problems.includes('metadata.product.vendor_name is required'), problems.join('; '));
    assert.ok(problems.some((p) => p.startsWith('actor needs at least one of')), problems.join('; '));
    assert.ok(problems.some((p) => p.startsWith('event needs at least one of database')), problems.join('; '));
    assert.deepEqual(ocsfProblems({ ...event, type_uid: 600500 }), ['type_uid must be class_uid * 100 + activity_id']);
  });

  void it('sluice audit export --format ocsf applies the filters and the configured connection kinds', () => {
    const config = join(dir.path, 'sluice.yaml');
    writeFileSync(
      config,
      `store: { url: sqlite:sluice.db }
connections:
  pg: { kind: postgres, host: 127.0.0.1, database: test, user: root }
  sh: { kind: shell, cwd: . }
audit: { checkpoint: { enabled: false } }
`,
    );
    const run = (args: string[]) =>
      spawnSync(process.execPath, [BIN, '-c', config, 'audit', 'export', ...args], { encoding: 'utf8', env: { ...process.env, SLUICE_LOG_LEVEL: 'silent' }, timeout: 60_000 });
    const r = run(['--format', 'ocsf', '--from', '2026-05-01T02:00:00Z', '--to', '2026-05-01T04:00:00Z', '--connection', 'pg', '--kind', 'decision']);
    assert.equal(r.status, 0, r.stderr);
    const events = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as OcsfEvent);
    const want = all.filter((x) => x.connection === 'pg' && x.kind === 'decision' && x.time >= '2026-05-01T02:00:00.000Z' && x.time < '2026-05-01T04:00:00.000Z');
    assert.equal(events.length, want.length);
    assert.ok(events.every((e) => e.class_uid === OCSF_DATASTORE_ACTIVITY && ocsfProblems(e).length === 0));
    assert.deepEqual(
      events.map((e) => (e.metadata as { sequence: number }).sequence),
      want.map((x) => x.seq),
    );

    const jsonl = run(['--format', 'jsonl', '--principal', 'svc', '--effect', 'review']);
    assert.equal(jsonl.status, 0, jsonl.stderr);
    const seqs = jsonl.stdout.trimEnd().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq);
    assert.deepEqual(
      seqs,
      all.filter((x) => x.principal === 'svc' && x.effect === 'review').map((x) => x.seq),
    );

    const bad = run(['--format', 'cef']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--format must be jsonl or ocsf/);
    const badKind = run(['--kind', 'decisions']);
    assert.notEqual(badKind.status, 0);
    assert.match(badKind.stderr, /--kind must be one of/);
    const badTime = run(['--from', 'yesterday']);
    assert.notEqual(badTime.status, 0);
    assert.match(badTime.stderr, /--from must be an ISO 8601 date/);
  });
});
