// Worker thread entry for verifyAudit on PostgreSQL (see verify-worker.ts): its own connection.
import { workerData } from 'node:worker_threads';
import { PostgresStore } from '../store/postgres.js';
import type { WalkJob } from './verify.js';
import { runWalk } from './verify-worker.js';

if (workerData) {
  const job = workerData as WalkJob;
  const source = job.source;
  if (source.kind === 'postgres') {
    runWalk(job, () => new PostgresStore({ connectionString: source.connectionString, schema: source.schema, maxConnections: 2, applicationName: 'sluice-verify' }));
  }
}
