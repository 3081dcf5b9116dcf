// MCP door benchmark: tool calls per second and latency (p50/p99) of a `SELECT 1` through
// Sluice's `<connection>__query` tool (official SDK client, streamable HTTP, full gate:
// analysis, policy, audit before and after, in the embedded store) against the same query
// sent directly with `pg`, with the same number of concurrent clients. Variants run
// interleaved, several rounds; one JSON line per measurement.
//
//   node --import tsx bench/mcp-door.ts [--duration 5] [--rounds 2] [--clients 1,8]
//
// Needs PostgreSQL at 127.0.0.1:5432 (user root, database test, trust).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { startSluice } from '../src/app/server.js';
import { loadConfigText } from '../src/config/load.js';
import { createKey } from '../src/identity/keys.js';

const PG = { host: '127.0.0.1', port: 5432, user: 'root', database: 'test' };

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const durationMs = Number(arg('duration', '5')) * 1000;
const rounds = Number(arg('rounds', '2'));
const clientCounts = arg('clients', '1,8').split(',').map(Number);

/** Each worker calls `once` back to back until the time is up; latencies in ms. */
async function measure(workers: (() => Promise<void>)[]): Promise<{ calls: number; seconds: number; p50: number; p99: number }> {
  const latencies: number[] = [];
  const started = performance.now();
  const until = started + durationMs;
  await Promise.all(
    workers.map(async (once) => {
      while (performance.now() < until) {
        const t0 = performance.now();
        await once();
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return { calls: latencies.length, seconds, p50: at(0.5), p99: at(0.99) };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-mcp-'));
  const maxClients = Math.max(...clientCounts);
  const config = `
store: { url: sqlite:${join(dir, 'sluice.db')} }
listeners: { api: { address: 127.0.0.1:0 } }
connections:
  db: { kind: postgres, database: test, user: root, max_connections: ${maxClients} }
policy:
  rules:
    - { name: reads, connections: [db], when: 'intent.class == "read"', effect: allow }
`;
  const sluice = await startSluice(loadConfigText(config, join(dir, 'sluice.yaml'), dir));
  const key = (await createKey(sluice.runtime.store, { principal: 'bench', kind: 'agent', groups: [] })).key;
  const url = new URL(`${sluice.api.url}/mcp`);
  const mcpClients: Client[] = [];
  const pgClients: pg.Client[] = [];
  try {
    for (let i = 0; i < maxClients; i++) {
      const client = new Client({ name: 'bench', version: '1' });
      await client.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers: { authorization: `Bearer ${key}` } } }));
      mcpClients.push(client);
      const direct = new pg.Client(PG);
      await direct.connect();
      pgClients.push(direct);
    }
    // Warm up both paths (connections, analyser caches, JIT).
    for (const client of mcpClients) await client.callTool({ name: 'db__query', arguments: { sql: 'SELECT 1' } });
    for (const direct of pgClients) await direct.query('SELECT 1');

    for (let round = 1; round <= rounds; round++) {
      for (const clients of clientCounts) {
        for (const variant of ['sluice-mcp', 'direct-pg'] as const) {
          const workers =
            variant === 'sluice-mcp'
              ? mcpClients.slice(0, clients).map((client) => async () => {
                  const result = await client.callTool({ name: 'db__query', arguments: { sql: 'SELECT 1' } });
                  if (result.isError) throw new Error(JSON.stringify(result.content));
                })
              : pgClients.slice(0, clients).map((direct) => async () => {
                  await direct.query('SELECT 1');
                });
          const m = await measure(workers);
          console.log(
            JSON.stringify({
              bench: 'mcp-door',
              variant,
              round,
              clients,
              calls: m.calls,
              calls_per_s: Math.round(m.calls / m.seconds),
              p50_ms: Number(m.p50.toFixed(3)),
              p99_ms: Number(m.p99.toFixed(3)),
            }),
          );
        }
      }
    }
  } finally {
    await Promise.allSettled(mcpClients.map((client) => client.close()));
    await Promise.allSettled(pgClients.map((client) => client.end()));
    await sluice.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
