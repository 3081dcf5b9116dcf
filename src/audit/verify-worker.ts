// Worker thread for verifyAudit: claims chunks of the chain from the shared state, checks each
// through its own read connection (the embedded store's file, or PostgreSQL) and reports it (see verify.ts), until
// none is left. A chunk's hashes travel back as a transferred buffer, not copied.
import { workerData } from 'node:worker_threads';
import { PostgresStore } from '../store/postgres.js';
import { SqliteStore } from '../store/sqlite.js';
import type { Store } from '../store/store.js';
import { checkChunk, chunkJob, chunkWanted, claimChunk, stopAfter, storeChunkReader, type WalkJob, type WalkReply } from './verify.js';

async function walk(job: WalkJob): Promise<void> {
  const state = new Int32Array(job.state);
  const source = job.source;
  const store: Store = source.kind === 'sqlite' ? new SqliteStore({ path: source.path }) : new PostgresStore({ connectionString: source.connectionString, schema: source.schema, maxConnections: 2, applicationName: 'sluice-verify' });
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

if (workerData) {
  const job = workerData as WalkJob;
  walk(job).then(
    () => job.port.close(),
    (error: unknown) => {
      job.port.postMessage({ error: error instanceof Error ? error.message : String(error) } satisfies WalkReply);
      job.port.close();
    },
  );
}
