// Starting verify's worker threads (verify-worker-sqlite.ts or verify-worker-postgres.ts for the
// store walk, verify-jsonl-worker.ts for an export), from the built JavaScript or the sources.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

// Sources run through tsx. Node 20 does not apply `--import tsx` to a worker's own entry
// module, so from source the worker starts with a tiny script that registers tsx first: its
// CommonJS hook, which loads the worker's modules in the thread itself; the ESM hook would
// start a loader thread of its own per worker, about 0.1 s of CPU more for each.
const FROM_SOURCE = import.meta.url.endsWith('.ts');

/** A verify worker thread, or undefined when it cannot be started (verify then works without). */
export function startVerifyWorker(name: 'verify-worker-sqlite' | 'verify-worker-postgres' | 'verify-jsonl-worker', options: WorkerOptions): Worker | undefined {
  const url = new URL(`./${name}.${FROM_SOURCE ? 'ts' : 'js'}`, import.meta.url);
  try {
    if (!FROM_SOURCE) return new Worker(url, options);
    const api = createRequire(import.meta.url).resolve('tsx/cjs/api');
    const bootstrap = `require(${JSON.stringify(api)}).register(); require(${JSON.stringify(fileURLToPath(url))});`;
    return new Worker(bootstrap, { ...options, eval: true });
  } catch {
    return undefined;
  }
}
