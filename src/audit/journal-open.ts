// Starting the audit journal for a runtime: the embedded store gets one (copying any journal a
// crashed process left behind into the ledger first); the PostgreSQL store does not, since
// several nodes append to it and each append is one round trip there anyway.
import type { Store } from '../store/store.js';
import { SqliteStore } from '../store/sqlite.js';
import { AuditJournal, recoverJournals } from './journal.js';

export interface OpenedJournal {
  journal: AuditJournal;
  /** Records copied from journals of processes that stopped before indexing them. */
  recovered: { journals: number; records: number };
}

export async function openAuditJournal(store: Store): Promise<OpenedJournal | undefined> {
  if (!(store instanceof SqliteStore)) return undefined;
  const dir = store.journalDir;
  if (!dir) return undefined;
  const recovered = await recoverJournals(dir, store);
  return { journal: AuditJournal.open(dir, { sync: store.sync }), recovered };
}
