// The audit journal (src/audit/journal.ts): gate records are durable once written to the
// journal file, reach the SQLite chain in batches, survive store write failures, and are copied
// into the ledger after a crash, exactly once. The last test kills a real door process with
// SIGKILL under load and checks that every statement that answered has its record.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { AuditJournal, findOrphanJournals, recoverJournals, JournalError, STALE_MS, unrecoveredJournalRecords } from '../../src/audit/journal.js';
import { openAuditJournal } from '../../src/audit/journal-open.js';
import { AuditLedger, AuditLedgerError } from '../../src/audit/ledger.js';
import { prepareRecord, type AuditDraft } from '../../src/audit/record.js';
import { verifyAudit } from '../../src/audit/verify.js';
import { StoreError } from '../../src/store/errors.js';
import { openStore } from '../../src/store/open.js';
import type { SqliteStore } from '../../src/store/sqlite.js';
import type { AuditRow, JournalBatch, PreparedAuditRecord, Store } from '../../src/store/store.js';
import { tempStore, directSql, uniqueName, tempDir } from '../helpers.js';

function draft(i: number): AuditDraft {
  return { kind: 'decision', actionId: `act-${i}`, session: 's1', principal: 'agent', connection: 'db', door: 'postgres', command: `SELECT ${i}`, rule: 'r', effect: 'allow', reason: 'ok' };
}

async function allRows(store: Store): Promise<AuditRow[]> {
  const out: AuditRow[] = [];
  for (let after = 0; ; ) {
    const page = await store.readAudit({ afterSeq: after, limit: 1000 });
    out.push(...page);
    if (page.length < 1000) return out;
    after = page[page.length - 1]!.seq;
  }
}

/** Ages every journal file in `dir` past STALE_MS, as if its process had stopped a while ago. */
function makeStale(dir: string): void {
  const past = new Date(Date.now() - STALE_MS - 5_000);
  for (const name of readdirSync(dir)) utimesSync(join(dir, name), past, past);
}

/** A real store whose appendAudit fails while `failing` says so (a locked or full disk). */
function flakyStore(inner: Store, failing: () => boolean): Store {
  return new Proxy(inner, {
    get: (target, prop, receiver) => {
      if (prop === 'appendAudit') {
        return (records: readonly PreparedAuditRecord[], journal?: JournalBatch) =>
          failing() ? Promise.reject(new StoreError('unavailable', 'database is locked')) : target.appendAudit(records, journal);
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

void describe('audit journal', () => {
  void it('answers a record once its line is written; the rows follow in order and the journal is deleted on close', async () => {
    const t = await tempStore();
    try {
      const opened = (await openAuditJournal(t.store))!;
      assert.ok(opened, 'the embedded store gets a journal');
      const ledger = new AuditLedger(t.store, { journal: opened.journal });
      await Promise.all(Array.from({ length: 300 }, (_, i) => ledger.record(draft(i))));
      const dir = (t.store as SqliteStore).journalDir!;
      const [file] = readdirSync(dir);
      const lines = readFileSync(join(dir, file!), 'utf8').trimEnd().split('\n');
      assert.equal(lines.length, 300, 'every answered record is in the journal');
      assert.match(lines[299]!, /^300\t\{.*"command":"SELECT 299".*"seq":\t.*\}$/);
      await ledger.flush();
      const rows = await allRows(t.store);
      assert.deepEqual(rows.map((r) => r.actionId), Array.from({ length: 300 }, (_, i) => `act-${i}`));
      assert.equal(await (t.store as SqliteStore).journalIndexed(opened.journal.id), 300);
      assert.equal((await verifyAudit(t.store)).ok, true);
      await ledger.close();
      assert.equal(existsSync(dir), false, 'a fully indexed journal is removed, and its empty folder');
    } finally {
      await t.cleanup();
    }
  });

  void it('with sync: full a record waits for the disk, one marked synced: false only for its write, and the next synced record covers it', async () => {
    const tmp = tempDir('journal-sync-');
    const dir = tmp.path;
    const j = AuditJournal.open(dir, { sync: 'full' });
    try {
      const record = (i: number) => prepareRecord(draft(i), new Date().toISOString());
      await j.append(record(1), () => undefined);
      assert.equal(j.synced, 1, 'a synced record settles only after its line is on disk');
      await j.append(record(2), () => undefined, false);
      assert.equal(j.written, 2);
      assert.equal(j.synced, 1, 'an unsynced record settles on its write, with no sync waited for or started');
      await j.append(record(3), () => undefined);
      assert.equal(j.synced, 3, "the next synced record's sync covers the line before it");
      assert.equal(readFileSync(join(dir, readdirSync(dir)[0]!), 'utf8').trim().split('\n').length, 3);
    } finally {
      j.close();
      tmp.remove();
    }
  });

  void it('copies what a dead process journaled into the ledger at the next start, exactly once', async () => {
    const t = await tempStore();
    const store = t.store as SqliteStore;
    try {
      const dir = store.journalDir!;
      const crashed = AuditJournal.open(dir, { sync: 'normal' });
      const records = Array.from({ length: 50 }, (_, i) => prepareRecord(draft(i), new Date().toISOString()));
      const seqs: number[] = [];
      await Promise.all(records.map((r) => crashed.append(r, (j) => seqs.push(j))));
      assert.deepEqual(seqs, Array.from({ length: 50 }, (_, i) => i + 1));
      // Its writer had indexed the first 20 lines when the process "died".
      await store.appendAudit(records.slice(0, 20), { journal: crashed.id, first: 1, last: 20 });
      assert.deepEqual(findOrphanJournals(dir), [], 'a journal touched within a minute belongs to a running process');
      makeStale(dir);
      assert.deepEqual(findOrphanJournals(dir, crashed.id), [], 'its own journal is never an orphan');
      assert.equal(await unrecoveredJournalRecords(dir, store), 30, 'what audit verify reports as not yet on the chain');
      const result = await recoverJournals(dir, store);
      assert.deepEqual(result, { journals: 1, records: 30 });
      const rows = await allRows(store);
      assert.deepEqual(rows.map((r) => r.actionId), Array.from({ length: 50 }, (_, i) => `act-${i}`));
      assert.equal((await verifyAudit(store)).ok, true);
      assert.deepEqual(readdirSync(dir), [], 'recovered journals are removed');
      assert.deepEqual(await recoverJournals(dir, store), { journals: 0, records: 0 });
      assert.equal(await unrecoveredJournalRecords(dir, store), 0);
      assert.equal(await store.journalIndexed(crashed.id), 50, 'the store keeps how far it went (a tombstone)');
    } finally {
      await t.cleanup();
    }
  });

  void it('refuses to store journal lines that are indexed already', async () => {
    const t = await tempStore();
    try {
      const records = [prepareRecord(draft(1), new Date().toISOString())];
      await t.store.appendAudit(records, { journal: '1-00000000000000aa', first: 1, last: 1 });
      await assert.rejects(t.store.appendAudit(records, { journal: '1-00000000000000aa', first: 1, last: 1 }), (e: unknown) => e instanceof StoreError && e.code === 'conflict' && /already indexed up to line 1/.test(e.message));
      assert.equal((await allRows(t.store)).length, 1);
    } finally {
      await t.cleanup();
    }
  });

  void it('skips a last line the crash cut short, and stops at a damaged line naming file and line', async () => {
    const t = await tempStore();
    const store = t.store as SqliteStore;
    try {
      const dir = store.journalDir!;
      const j = AuditJournal.open(dir, { sync: 'normal' });
      const r = prepareRecord(draft(7), new Date().toISOString());
      await j.append(r, () => undefined);
      const file = join(dir, readdirSync(dir)[0]!);
      appendFileSync(file, `2\t${r.prefix}`); // torn: no suffix, no newline
      makeStale(dir);
      assert.deepEqual(await recoverJournals(dir, store), { journals: 1, records: 1 });

      const k = AuditJournal.open(dir, { sync: 'normal' });
      await k.append(r, () => undefined);
      const damaged = join(dir, readdirSync(dir)[0]!);
      writeFileSync(damaged, `1\t${r.prefix}\t${r.suffix}\nnot a record\n2\t${r.prefix}\t${r.suffix}\n`);
      makeStale(dir);
      await assert.rejects(recoverJournals(dir, store), (e: unknown) => e instanceof JournalError && e.message.includes(`${damaged} line 2 is not a journal record`));
      assert.equal((await allRows(store)).length, 1, 'nothing from the damaged journal is stored');
    } finally {
      await t.cleanup();
    }
  });

  void it('keeps journaled records through store write failures and stores them once it recovers', async () => {
    const t = await tempStore();
    try {
      let failing = true;
      let tries = 0;
      const opened = (await openAuditJournal(t.store))!;
      const ledger = new AuditLedger(
        flakyStore(t.store, () => {
          tries++;
          return failing;
        }),
        { journal: opened.journal },
      );
      try {
        await Promise.all(Array.from({ length: 20 }, (_, i) => ledger.record(draft(i))));
        while (tries < 2) await sleep(5); // two failed tries
        assert.match(String(ledger.failure?.message), /database is locked/);
        assert.equal((await allRows(t.store)).length, 0);
        failing = false;
        await ledger.flush();
        assert.equal(ledger.failure, undefined);
        assert.deepEqual((await allRows(t.store)).map((r) => r.actionId), Array.from({ length: 20 }, (_, i) => `act-${i}`));
      } finally {
        failing = false;
        await ledger.close();
      }
    } finally {
      await t.cleanup();
    }
  });

  void it('closing while the store fails keeps every journaled record for the next start, even with more queued than one batch', async () => {
    const t = await tempStore();
    try {
      // Down until the ledger closes; then the first copy fails and the next ones would work.
      let closing = false;
      let callsWhileClosing = 0;
      const opened = (await openAuditJournal(t.store))!;
      const ledger = new AuditLedger(flakyStore(t.store, () => !closing || ++callsWhileClosing === 1), { journal: opened.journal, maxBatch: 100 });
      await Promise.all(Array.from({ length: 250 }, (_, i) => ledger.record(draft(i))));
      while (!ledger.failure) await sleep(5);
      closing = true;
      await ledger.close(); // the first batch fails: the later ones must not jump over it
      const dir = (t.store as SqliteStore).journalDir!;
      makeStale(dir);
      await recoverJournals(dir, t.store as SqliteStore);
      const ids = (await allRows(t.store)).map((r) => r.actionId);
      assert.equal(new Set(ids).size, ids.length, 'nothing stored twice');
      assert.deepEqual([...ids].sort(), Array.from({ length: 250 }, (_, i) => `act-${i}`).sort(), 'nothing lost');
      assert.equal((await verifyAudit(t.store)).ok, true);
    } finally {
      await t.cleanup();
    }
  });

  void it('a journal recovered while its process was only frozen: the process skips what was copied and goes on, nothing twice', async () => {
    const t = await tempStore();
    try {
      let failing = true;
      const opened = (await openAuditJournal(t.store))!;
      const ledger = new AuditLedger(flakyStore(t.store, () => failing), { journal: opened.journal });
      try {
        await Promise.all(Array.from({ length: 30 }, (_, i) => ledger.record(draft(i))));
        while (!ledger.failure) await sleep(5);
        // Frozen for more than a minute: another start copies its journal onto the chain.
        const dir = (t.store as SqliteStore).journalDir!;
        makeStale(dir);
        assert.deepEqual(await recoverJournals(dir, t.store as SqliteStore), { journals: 1, records: 30 });
        failing = false; // it wakes up, its store works again
        await Promise.all(Array.from({ length: 10 }, (_, i) => ledger.record(draft(30 + i))));
        await ledger.flush();
        const ids = (await allRows(t.store)).map((r) => r.actionId);
        assert.deepEqual(ids, Array.from({ length: 40 }, (_, i) => `act-${i}`), 'each record once, in order');
        assert.equal((await verifyAudit(t.store)).ok, true);
      } finally {
        failing = false;
        await ledger.close();
      }
    } finally {
      await t.cleanup();
    }
  });

  void it('refuses new records once the backlog is full while the store cannot take them', async () => {
    const t = await tempStore();
    try {
      const opened = (await openAuditJournal(t.store))!;
      const ledger = new AuditLedger(flakyStore(t.store, () => true), { journal: opened.journal, maxPending: 10 });
      try {
        await Promise.all(Array.from({ length: 10 }, (_, i) => ledger.record(draft(i))));
        while (!ledger.failure) await sleep(5); // the first copy into the store has failed
        await assert.rejects(ledger.record(draft(10)), (e: unknown) => e instanceof AuditLedgerError && e.code === 'backlog' && /database is locked/.test(e.message));
      } finally {
        await ledger.close(); // gives up the retries; the lines stay for the next start
      }
      const dir = (t.store as SqliteStore).journalDir!;
      assert.equal(readdirSync(dir).length, 1, 'the unindexed journal is kept');
      makeStale(dir);
      assert.deepEqual(await recoverJournals(dir, t.store as SqliteStore), { journals: 1, records: 10 });
    } finally {
      await t.cleanup();
    }
  });

  void it('a door killed with SIGKILL under load: after restart every statement that answered has its decision, and verify passes', { timeout: 120_000 }, async () => {
    const dir = tempDir('sluice-journal-kill-');
    const database = uniqueName('sluice_journal_kill');
    await directSql(`CREATE DATABASE ${database}`);
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'door-process.ts'), dir.path, database, 'normal'], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, SLUICE_LOG_LEVEL: 'silent' },
    });
    try {
      const ready = await new Promise<{ port: number; key: string }>((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!) as { port: number; key: string });
        });
        child.once('exit', (code) => reject(new Error(`the door process exited with ${code}`)));
      });
      const answered: string[] = [];
      const clients = await Promise.all(
        Array.from({ length: 4 }, async () => {
          const c = new pg.Client({ host: '127.0.0.1', port: ready.port, user: 'loader', password: ready.key, database: 'db' });
          c.on('error', () => undefined);
          await c.connect();
          return c;
        }),
      );
      const loops = clients.map(async (c, n) => {
        for (let i = 0; ; i++) {
          const marker = `journal-kill-${n}-${i}`;
          try {
            const r = await c.query(`SELECT '${marker}' AS m`);
            if (r.rows[0]?.m === marker) answered.push(marker);
          } catch {
            return; // the door is gone
          }
        }
      });
      let stopped = false;
      void Promise.all(loops).then(() => (stopped = true));
      const deadline = Date.now() + 60_000;
      while (answered.length < 400) {
        assert.ok(!stopped, `the door stopped answering after ${answered.length} statements`);
        assert.ok(Date.now() < deadline, `only ${answered.length} statements answered in a minute`);
        await sleep(10);
      }
      child.kill('SIGKILL');
      await Promise.all(loops);
      await Promise.all(clients.map((c) => c.end().catch(() => undefined)));

      const store = await openStore(`sqlite:${join(dir.path, 'sluice.db')}`);
      try {
        makeStale(join(dir.path, 'sluice.db.journal')); // a minute later
        const opened = await openAuditJournal(store);
        assert.ok(opened && opened.recovered.journals === 1, 'the killed process left a journal');
        opened.journal.close();
        const decided = new Set<string>();
        for (const row of await allRows(store)) {
          const body = JSON.parse(row.body) as { kind: string; command?: string; effect?: string };
          const m = /journal-kill-\d+-\d+/.exec(body.command ?? '');
          if (body.kind === 'decision' && body.effect === 'allow' && m) decided.add(m[0]);
        }
        const missing = answered.filter((m) => !decided.has(m));
        assert.deepEqual(missing, [], `${answered.length} statements answered; each has its decision record`);
        const verified = await verifyAudit(store);
        assert.equal(verified.ok, true, JSON.stringify(verified.problem));
      } finally {
        await store.close();
      }
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await directSql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => undefined);
      dir.remove();
    }
  });
});
