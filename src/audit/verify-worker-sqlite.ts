// Worker thread entry for verifyAudit on the embedded store (see verify-worker.ts).
import { workerData } from 'node:worker_threads';
import { SqliteStore } from '../store/sqlite.js';
import type { WalkJob } from './verify.js';
import { runWalk } from './verify-worker.js';

if (workerData) {
  const job = workerData as WalkJob;
  const source = job.source;
  if (source.kind === 'sqlite') runWalk(job, () => new SqliteStore({ path: source.path }));
}
