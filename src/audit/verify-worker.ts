// Worker thread for verifyAudit on an embedded store: checks one contiguous seq range of the
// chain through its own read connection and reports {count, head, problem?}. See verify.ts.
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteStore } from '../store/sqlite.js';
import { GENESIS_HEAD, type ChainHead } from '../store/store.js';
import { ChainChecker, type VerifyResult } from './verify.js';

export interface RangeJob {
  path: string;
  first: number;
  last: number;
  pageSize: number;
  expectHead?: ChainHead;
}

export type RangeReply = { result: VerifyResult } | { error: string };

async function checkRange(job: RangeJob): Promise<VerifyResult> {
  const store = new SqliteStore({ path: job.path });
  try {
    // The record before the range seeds the link check; whether it is itself sound (or even
    // there) is the previous range's business.
    const [seed] = job.first > 1 ? await store.readAudit({ beforeSeq: job.first, descending: true, limit: 1 }) : [];
    const from: ChainHead =
      job.first === 1 ? { ...GENESIS_HEAD } : { seq: job.first - 1, hash: seed?.seq === job.first - 1 ? seed.hash : '' };
    const checker = new ChainChecker({ ...(job.expectHead ? { expectHead: job.expectHead } : {}), from });
    let after = job.first - 1;
    for (;;) {
      const page = await store.readAudit({ afterSeq: after, beforeSeq: job.last + 1, limit: job.pageSize });
      for (const row of page) {
        const problem = checker.check(row);
        if (problem) return checker.result(problem);
      }
      if (page.length < job.pageSize) break;
      after = page[page.length - 1]!.seq;
    }
    const [next] = checker.next <= job.last ? await store.readAudit({ afterSeq: job.last, limit: 1 }) : [];
    return checker.result(checker.finishRange(job.last, next?.seq));
  } finally {
    await store.close();
  }
}

if (parentPort) {
  const port = parentPort;
  checkRange(workerData as RangeJob).then(
    (result) => port.postMessage({ result } satisfies RangeReply),
    (error: unknown) => port.postMessage({ error: error instanceof Error ? error.message : String(error) } satisfies RangeReply),
  );
}
