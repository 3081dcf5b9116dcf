// Worker thread for verifyAudit on an embedded store: checks one contiguous seq range of the
// chain through its own read connection and reports {count, head, problem?}. See verify.ts.
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteStore } from '../store/sqlite.js';
import type { ChainHead } from '../store/store.js';
import { ChainChecker, RECENT, type VerifyResult } from './verify.js';

export interface RangeJob {
  path: string;
  first: number;
  last: number;
  pageSize: number;
  /** The retention base when the range starts right after it (records before it are pruned). */
  from?: ChainHead;
  expectHead?: ChainHead;
}

export type RangeReply = { result: VerifyResult } | { error: string };

async function checkRange(job: RangeJob): Promise<VerifyResult> {
  const store = new SqliteStore({ path: job.path });
  try {
    // The records before the range seed the link check and the memory of recent records;
    // whether they are themselves sound (or even there) is the previous range's business.
    const before =
      job.first > 1 && !job.from ? await store.readAudit({ afterSeq: Math.max(0, job.first - 1 - RECENT), beforeSeq: job.first, limit: RECENT }) : [];
    const checker = new ChainChecker({ ...(job.expectHead ? { expectHead: job.expectHead } : {}), ...(job.from ? { from: job.from } : {}) });
    for (const row of before) checker.accept(row.seq, row.hash);
    const last = before[before.length - 1];
    if (job.first > 1 && !job.from && last?.seq !== job.first - 1) checker.accept(job.first - 1, '');
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
