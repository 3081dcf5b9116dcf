// Retention for shell recordings (audit/recording.ts): `audit.retention` prunes the records,
// and a recording must not outlive the records that vouch for it (it holds what a command
// printed, masked, and the point of a retention age is that such data goes).
//
// Recordings live in one folder per UTC day (`<dir>/YYYY-MM-DD/<action>.cast`). A day's folder
// is deleted when both hold:
// - the whole day is older than the retention cutoff (now - audit.retention), and
// - the day ended at least a day before the oldest record that may still name a recording
//   (the first retained record that is not a checkpoint, key or system record): a recording is
//   filed under the day it is written and its outcome record follows at once, the next day at
//   worst (just before midnight), so a folder is never deleted while a retained record can
//   still point into it. A recording being written right now is covered by the same margin
//   against today.
// Only files a recorder writes are deleted (`*.cast`, and `*.tmp` left by a crash while writing),
// never through a symbolic link; anything else keeps its folder and is reported. A folder that
// cannot be read or emptied is reported and the others are still pruned.
import { lstat, readdir, realpath, rmdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Store } from '../store/store.js';

const DAY_MS = 86_400_000;
const DAY_FOLDER = /^(\d{4})-(\d{2})-(\d{2})$/;
const RECORDER_FILE = /^[A-Za-z0-9_-]{1,100}\.cast(?:\.[0-9a-f]{12}\.tmp)?$/;
/** Kinds that never name a recording: a ledger's base checkpoint may stay long after its day. */
const NO_RECORDING = new Set(['checkpoint', 'key', 'system']);
/** Records read per page, and at most, while looking for the oldest one that may name a recording. */
const PAGE = 500;
const MAX_SCANNED = 20_000;

export interface RecordingPruneResult {
  /** Day folders removed. */
  folders: string[];
  /** Files deleted. */
  files: number;
  /** Entries left in place because a recorder does not write them (folder kept). */
  kept: string[];
  /** Folders that could not be read or emptied, with why (the next prune tries again). */
  errors: string[];
}

/**
 * Deletes the day folders of `dir` that no retained record can name and that are wholly older
 * than `cutoff`. A missing `dir` is not an error (nothing was recorded yet).
 */
export async function pruneRecordings(dir: string, store: Store, cutoff: Date, now: Date): Promise<RecordingPruneResult> {
  const result: RecordingPruneResult = { folders: [], files: 0, kept: [], errors: [] };
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return result;
    throw error;
  }
  const oldest = await oldestRecordingRecord(store);
  // Both limits as the start of a UTC day: a folder for day D goes when D + 1 day <= cutoff
  // and D + 2 days <= the day of the oldest record that may name a recording (or today).
  const byCutoff = cutoff.getTime() - DAY_MS;
  const byRecords = startOfDay(Math.min(oldest ?? now.getTime(), now.getTime())) - 2 * DAY_MS;
  const last = Math.min(byCutoff, byRecords);
  const root = await realpath(dir);
  for (const name of names.sort()) {
    const day = dayOf(name);
    if (day === undefined || day > last) continue;
    try {
      await pruneFolder(root, name, result);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // Gone meanwhile (another prune): nothing left to do there.
      if (code !== 'ENOENT') result.errors.push(`${name}: ${(error as Error).message}`);
    }
  }
  return result;
}

async function pruneFolder(root: string, name: string, result: RecordingPruneResult): Promise<void> {
  const folder = join(root, name);
  const info = await lstat(folder);
  if (!info.isDirectory()) return;
  let leftover = false;
  for (const entry of await readdir(folder, { withFileTypes: true })) {
    if (entry.isFile() && RECORDER_FILE.test(entry.name)) {
      // Still the folder first seen, not a link swapped in since (it would lead elsewhere).
      const now = await lstat(folder);
      if (!now.isDirectory() || now.ino !== info.ino || now.dev !== info.dev) throw new Error('the folder changed while it was being pruned');
      await unlink(join(folder, entry.name));
      result.files++;
    } else {
      leftover = true;
      result.kept.push(join(name, entry.name));
    }
  }
  if (!leftover) {
    await rmdir(folder);
    result.folders.push(name);
  }
}

/** Time (ms) of the first retained record that may name a recording, if any. */
async function oldestRecordingRecord(store: Store): Promise<number | undefined> {
  let afterSeq: number | undefined;
  for (let scanned = 0; scanned < MAX_SCANNED; scanned += PAGE) {
    const rows = await store.readAudit({ limit: PAGE, ...(afterSeq !== undefined ? { afterSeq } : {}) });
    for (const row of rows) {
      if (NO_RECORDING.has(row.kind)) continue;
      const t = Date.parse(row.time);
      // A record whose time cannot be read must not let anything be deleted.
      return Number.isNaN(t) ? Number.NEGATIVE_INFINITY : t;
    }
    if (rows.length < PAGE) return undefined;
    afterSeq = rows[rows.length - 1]!.seq;
  }
  // Nothing but checkpoints for that long: not worth a longer walk; delete nothing this time.
  return Number.NEGATIVE_INFINITY;
}

function dayOf(name: string): number | undefined {
  const m = DAY_FOLDER.exec(name);
  if (!m) return undefined;
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  // Rejects 2026-02-31 and the like: the folder is not one a recorder made.
  return new Date(t).toISOString().slice(0, 10) === name ? t : undefined;
}

function startOfDay(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}
