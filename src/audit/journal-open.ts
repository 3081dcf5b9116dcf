// Starting the audit journal for a runtime: the embedded store gets one (copying any journal a
// crashed process left behind into the ledger first); the PostgreSQL store does not, since
// several nodes append to it and each append is one round trip there anyway.
import type { Store } from '../store/store.js';
import { SqliteStore } from '../store/sqlite.js';
import { log } from '../util/log.js';
import { AuditJournal, recoverJournals } from './journal.js';

export interface OpenedJournal {
  journal: AuditJournal;
  /** Records copied from journals of processes that stopped before indexing them. */
  recovered: { journals: number; records: number };
}

/** How often a running Sluice looks for journals that went stale since it started. */
const RESCAN_MS = 30_000;

export async function openAuditJournal(store: Store): Promise<OpenedJournal | undefined> {
  if (!(store instanceof SqliteStore)) return undefined;
  const dir = store.journalDir;
  if (!dir) return undefined;
  const recovered = await recoverJournals(dir, store);
  const journal = AuditJournal.open(dir, { sync: store.sync });
  // A process that died just before this one started left a journal that is not stale yet.
  let scanning = false;
  const rescan = setInterval(() => {
    if (journal.isClosed) {
      clearInterval(rescan);
      return;
    }
    if (scanning) return; // a slow recovery is still running
    scanning = true;
    recoverJournals(dir, store, journal.id)
      .finally(() => (scanning = false))
      .then(
      (found) => {
        if (found.records > 0) log.warn({ ...found }, 'copied the audit journal of a stopped Sluice onto the chain');
      },
      (error: unknown) => log.error({ err: error }, 'cannot recover an audit journal of a stopped Sluice'),
    );
  }, RESCAN_MS);
  rescan.unref();
  return { journal, recovered };
}
