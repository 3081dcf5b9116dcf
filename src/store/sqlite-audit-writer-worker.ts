// The embedded store's audit writer thread (see sqlite-audit-writer.ts). It owns one libsql
// connection to the store's file and handles append requests one at a time: check the file is
// still the one the store opened, BEGIN IMMEDIATE, read the head, seal, insert, COMMIT (the
// fsync happens here, off the main thread), reply with the hashes. Loads store modules only.
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type LibsqlDatabase from 'libsql';
import type { AuditRow, ChainHead } from './store.js';
import { GENESIS_HEAD } from './store.js';
import { AUDIT_COLUMNS, checkPreparedRecords, sealPrepared } from './common.js';
import { encodeError, type WriterConfig, type WriterReply, type WriterRequest } from './sqlite-audit-writer.js';
import { checkSqliteFile, openSqliteConnection, recordJournalBatch } from './sqlite.js';
import type { JournalBatch } from './store.js';

type Database = LibsqlDatabase.Database;
type Statement = LibsqlDatabase.Statement<unknown[]>;

function serve(port: MessagePort, config: WriterConfig): void {
  let db: Database;
  try {
    db = openSqliteConnection(config.path, { synchronous: config.synchronous, busyTimeoutMs: config.busyTimeoutMs });
    checkSqliteFile(config.path, config.fileIdentity);
  } catch (error) {
    port.postMessage({ op: 'start_failed', error: encodeError(error) } satisfies WriterReply);
    port.close();
    return;
  }
  // Prepared on first use: the store may start the thread before its tables exist.
  let insert: Statement | undefined;
  let insertMany: Statement | undefined;
  let head: Statement | undefined;

  const append = (id: number, records: unknown, journal: JournalBatch | undefined): WriterReply => {
    try {
      checkSqliteFile(config.path, config.fileIdentity);
      const batch = checkPreparedRecords(records);
      insert ??= db.prepare(`INSERT INTO audit (${AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`) as Statement;
      // Large batches go in ROWS_PER_INSERT rows per statement: a third less time per row.
      insertMany ??= db.prepare(`INSERT INTO audit (${AUDIT_COLUMNS}) VALUES ${Array(ROWS_PER_INSERT).fill('(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`) as Statement;
      head ??= (db.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1') as Statement).raw();
      db.exec('BEGIN IMMEDIATE');
      try {
        if (journal) recordJournalBatch(db, journal);
        const r = head.get() as unknown[] | undefined;
        const from: ChainHead = r ? { seq: Number(r[0]), hash: r[1] as string } : { ...GENESIS_HEAD };
        const rows = sealPrepared(from, batch);
        let next = 0;
        for (; next + ROWS_PER_INSERT <= rows.length; next += ROWS_PER_INSERT) {
          const values: unknown[] = [];
          for (let k = next; k < next + ROWS_PER_INSERT; k++) values.push(...rowValues(rows[k]!));
          insertMany.run(...values);
        }
        for (; next < rows.length; next++) insert.run(...rowValues(rows[next]!));
        db.exec('COMMIT');
        return { op: 'appended', id, firstSeq: from.seq + 1, prevHash: from.hash, hashes: rows.map((row) => row.hash) };
      } catch (error) {
        try {
          if (db.inTransaction) db.exec('ROLLBACK');
        } catch {
          // Already rolled back by SQLite itself.
        }
        throw error;
      }
    } catch (error) {
      return { op: 'failed', id, error: encodeError(error) };
    }
  };

  port.on('message', (request: WriterRequest) => {
    if (request.op === 'crash') throw new Error('crashed on request (test hook)');
    if (request.op === 'close') {
      db.close();
      port.postMessage({ op: 'closed' } satisfies WriterReply);
      port.close();
      return;
    }
    port.postMessage(append(request.id, request.records, request.journal));
  });
  port.postMessage({ op: 'ready' } satisfies WriterReply);
}

if (parentPort && (workerData as Partial<WriterConfig> | undefined)?.fileIdentity !== undefined) {
  serve(parentPort, workerData as WriterConfig);
}

const ROWS_PER_INSERT = 20;

/** A sealed row's values in AUDIT_COLUMNS order. */
function rowValues(row: AuditRow): unknown[] {
  return [row.seq, row.time, row.kind, row.actionId ?? null, row.session ?? null, row.principal ?? null, row.connection ?? null, row.effect ?? null, row.prevHash, row.hash, row.body];
}
