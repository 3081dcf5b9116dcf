// The demo PostgreSQL: PGlite (Postgres compiled to WebAssembly) served over the real wire
// protocol on 127.0.0.1, so the postgres connector talks to it exactly as to a server.
// Nothing to install, in memory by default, seeded with fake customers and orders.
//
// PGlite runs in a worker thread (see database-worker.mjs): its queries execute
// synchronously, and on the main thread a long query would stop the gateway's event loop.
//
// Connections: @electric-sql/pglite-socket 0.2.17 accepts up to `maxConnections` clients
// (its own default is 1) and multiplexes them onto PGlite's single backend, one protocol
// message at a time; a client inside a transaction holds the others off until it ends.
// Consequences, and why the demo connection should use `maxConnections: 1` in the
// postgres connector:
// - there is only one backend, so session state (SET, temp tables, the connector's
//   DISCARD ALL) is shared by every client, and queries never run in parallel anyway;
// - extended-protocol messages of different clients can interleave;
// - cancel requests are read and ignored, and statement_timeout has no effect, so the
//   connector's client-side deadline and close-on-abort are what stop a runaway query
//   (PGlite itself stays busy until the query ends).
// The server here allows a few connections (default 4) so that a person can look at the
// data with psql while the gateway runs.

import { Worker } from 'node:worker_threads';
import { demoSeedSql } from './seed.js';

export interface DemoDatabaseOptions {
  /** Persist to this directory instead of memory; seeded on first use only. */
  dataDir?: string;
  /** Clients the socket server accepts at once. Default 4. */
  maxConnections?: number;
  /** Give up if the database is not ready in time. Default 60000 ms. */
  startTimeoutMs?: number;
}

export interface DemoDatabase {
  host: string;
  port: number;
  database: string;
  user: string;
  /** Milliseconds from the call to a listening, seeded server. */
  startupMs: number;
  /** Stops the server and the worker; afterwards nothing keeps the process alive. Idempotent. */
  stop(): Promise<void>;
}

type WorkerMessage =
  | { type: 'ready'; port: number; seeded: boolean }
  | { type: 'stopped' }
  | { type: 'error'; message: string };

/**
 * The `maxConnections` to give the postgres connector for the demo database: PGlite has
 * one backend, so more connections add no parallelism, only shared-session surprises.
 */
export const DEMO_MAX_CONNECTIONS = 1;

const HOST = '127.0.0.1';
const STOP_TIMEOUT_MS = 5000;

export async function startDemoDatabase(options: DemoDatabaseOptions = {}): Promise<DemoDatabase> {
  const started = performance.now();
  const maxConnections = options.maxConnections ?? 4;
  if (!Number.isInteger(maxConnections) || maxConnections < 1) {
    throw new TypeError('demo database: maxConnections must be a positive integer');
  }
  const worker = new Worker(new URL('./database-worker.mjs', import.meta.url), {
    workerData: { dataDir: options.dataDir, seedSql: demoSeedSql(), host: HOST, maxConnections },
    // The worker is plain JavaScript and needs none of the parent's flags; some (such as
    // --input-type, or a test runner's) would stop it from starting.
    execArgv: [],
  });
  let exited = false;
  const exit = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  void exit.then(() => (exited = true));
  let lastError: string | undefined;
  // Without a listener an error thrown inside the worker would crash the gateway.
  worker.on('error', (err) => {
    lastError = err.message;
  });
  worker.on('message', (message: WorkerMessage) => {
    if (message.type === 'error') lastError = message.message;
  });

  const ready = await new Promise<{ port: number } | { error: string }>((resolve) => {
    const timer = setTimeout(
      () => resolve({ error: `not ready within ${options.startTimeoutMs ?? 60_000} ms` }),
      options.startTimeoutMs ?? 60_000,
    );
    worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'ready') {
        clearTimeout(timer);
        resolve({ port: message.port });
      } else if (message.type === 'error') {
        clearTimeout(timer);
        resolve({ error: message.message });
      }
    });
    void exit.then(() => {
      clearTimeout(timer);
      resolve({ error: lastError ?? 'the database worker exited during start-up' });
    });
  });
  if ('error' in ready) {
    if (!exited) await worker.terminate();
    throw new Error(`demo database failed to start: ${ready.error}`);
  }

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (exited) return;
      worker.postMessage({ type: 'stop' });
      const timer = setTimeout(() => void worker.terminate(), STOP_TIMEOUT_MS);
      await exit;
      clearTimeout(timer);
    })();
    return stopping;
  };

  return {
    host: HOST,
    port: ready.port,
    // PGlite has one database and one superuser; it does not check either name.
    database: 'postgres',
    user: 'postgres',
    startupMs: Math.round(performance.now() - started),
    stop,
  };
}
