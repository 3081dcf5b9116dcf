// The hash chain. Each record's hash covers the previous record's hash and its own canonical
// body, and the body carries its own sequence number, time and kind, so changing, inserting,
// deleting or reordering any record breaks a hash or a link that `verify` checks.
//
//   body = canonical JSON of { v: 1, seq, time, kind, ...draft fields }
//   hash = lowercase hex SHA-256 of the UTF-8 bytes of  prevHash + "\n" + body
//
// prevHash of the first record (seq 1) is GENESIS_HASH (64 zeros).
//
// The sealing itself (recordHash, sealPrepared) lives with the store, which seals prepared
// records inside its append transaction (for the embedded store, in its writer thread).
import { GENESIS_HASH, type AuditRow, type ChainHead } from '../store/store.js';
import { recordHash, sealPrepared } from '../store/common.js';
import { prepareRecord, type AuditDraft } from './record.js';

export { GENESIS_HASH, recordHash, sealPrepared };

/** Validates, encodes and seals drafts in one go; `time` defaults to now. */
export function sealDrafts(
  head: ChainHead,
  drafts: readonly AuditDraft[],
  time: string = new Date().toISOString(),
): AuditRow[] {
  return sealPrepared(
    head,
    drafts.map((d) => prepareRecord(d, time)),
  );
}

/** The head after `rows` (or `head` itself when there are none). */
export function headAfter(head: ChainHead, rows: readonly AuditRow[]): ChainHead {
  const last = rows[rows.length - 1];
  return last ? { seq: last.seq, hash: last.hash } : head;
}
