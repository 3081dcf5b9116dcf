// Runs the demo database in a worker thread: PGlite executes SQL synchronously in
// WebAssembly, so on the main thread a slow query (pg_sleep, a big join) would freeze the
// whole gateway, including the timers that cancel it. Plain JavaScript so that it loads in
// a worker without the TypeScript loader. Started and driven by database.ts.
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/** @type {{ dataDir?: string; seedSql: string; host: string; maxConnections: number }} */
const options = workerData;
/** @type {PGlite | undefined} */
let db;
/** @type {PGLiteSocketServer | undefined} */
let server;

async function start() {
  const started = performance.now();
  db = options.dataDir ? await PGlite.create(options.dataDir) : await PGlite.create();
  const created = performance.now();
  // A persistent data directory is seeded once; later starts keep what is there.
  const existing = await db.query("SELECT to_regclass('public.customers') IS NOT NULL AS seeded");
  const seeded = /** @type {{ seeded: boolean }} */ (existing.rows[0]).seeded;
  if (!seeded) await db.exec(options.seedSql);
  const filled = performance.now();
  server = new PGLiteSocketServer({ db, host: options.host, port: 0, maxConnections: options.maxConnections });
  await server.start();
  const port = Number(server.getServerConn().split(':').pop());
  parentPort?.postMessage({
    type: 'ready',
    port,
    seeded: !seeded,
    timings: { createMs: created - started, seedMs: filled - created, listenMs: performance.now() - filled },
  });
}

async function stop() {
  try {
    await server?.stop();
  } finally {
    await db?.close();
  }
  parentPort?.postMessage({ type: 'stopped' });
  // Nothing else holds the worker's event loop; closing the port lets it exit.
  parentPort?.close();
}

parentPort?.on('message', (message) => {
  if (message?.type === 'stop') {
    stop().catch((err) => {
      parentPort?.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) });
      parentPort?.close();
    });
  }
});

start().catch(async (err) => {
  parentPort?.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  await server?.stop().catch(() => {});
  await db?.close().catch(() => {});
  parentPort?.close();
});
