// The store walk of a verify worker thread (verify.ts): claims chunks of the chain from the
// shared state, checks each through its own read connection and reports it, until none is
// left. A chunk's hashes travel back as a transferred buffer, not copied. The thread's entry is
// verify-worker-sqlite.ts or verify-worker-postgres.ts, each loading only its own store's
// driver: a thread loads its modules anew, and the other driver would cost it for nothing.
import type { Store } from '../store/store.js';
import { checkChunk, chunkJob, chunkWanted, claimChunk, stopAfter, storeChunkReader, type WalkJob, type WalkReply } from './verify.js';

async function walk(job: WalkJob, store: Store): Promise<void> {
  const state = new Int32Array(job.state);
  try {
    const read = storeChunkReader(store);
    for (let i = claimChunk(state, job.chunks); i !== -1; i = claimChunk(state, job.chunks)) {
      // Given up when a chunk before this one has a problem, or the walk is over.
      const outcome = await checkChunk(read, chunkJob(job, i), () => !chunkWanted(state, i));
      if (!outcome) break;
      if (outcome.problem) stopAfter(state, i);
      const buffer = outcome.hashes.buffer as ArrayBuffer;
      job.port.postMessage({ index: i, outcome } satisfies WalkReply, buffer.byteLength > 0 ? [buffer] : []);
    }
  } finally {
    await store.close();
  }
}

/** Runs the walk of `job` on the store `open` gives, then closes the job's port. */
export function runWalk(job: WalkJob, open: () => Store): void {
  let store: Store;
  try {
    store = open();
  } catch (error) {
    fail(job, error);
    return;
  }
  walk(job, store).then(
    () => job.port.close(),
    (error: unknown) => fail(job, error),
  );
}

function fail(job: WalkJob, error: unknown): void {
  job.port.postMessage({ error: error instanceof Error ? error.message : String(error) } satisfies WalkReply);
  job.port.close();
}
