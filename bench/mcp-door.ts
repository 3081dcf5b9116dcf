// MCP door benchmark: tool calls per second and latency (p50/p99) of a `SELECT 1` through
// Sluice's `<connection>__query` tool (official SDK client, streamable HTTP, full gate:
// analysis, policy, audit before and after, in the embedded store) against the same query
// sent directly with `pg`, with the same number of concurrent clients. Inner layers show where
// the time goes: `mcp-http` (the same tools/call as a bare keep-alive node:http POST on an
// initialized session: the server's MCP cost without the SDK client's), `gate-run` (Gate.run
// in process: analysis, policy, both audit records, connector, no MCP), `gate-deferred` (what
// Gate.run would cost if it did not wait for the outcome record, as the PostgreSQL door does:
// Gate.admit, the connector, Gate.complete not awaited; a what-if, not a product path) and `connector` (the
// PostgreSQL connector alone: pool, DISCARD ALL). The MCP clients of `sluice-mcp` and `mcp-http`
// run in a child process, as an agent would (--same-process keeps them here, where their CPU
// competes with the server's event loop). Variants run interleaved, several rounds; one JSON line per measurement, then one
// summary line per client count with the median p50 and the p50 added over direct `pg`.
//
//   node --import tsx bench/mcp-door.ts [--duration 5] [--rounds 2] [--clients 1,8] [--variants a,b] [--same-process]
//        [--store-sync full|normal]
//
// Needs PostgreSQL at 127.0.0.1:5432 (user root, database test, trust).
import { mkdtempSync, rmSync } from 'node:fs';
import { fork } from 'node:child_process';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { AddressInfo } from 'node:net';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { NodeStreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import { Server } from '@modelcontextprotocol/server';
import { buildConnector } from '../src/app/runtime.js';
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
const VARIANTS = ['sluice-mcp', 'mcp-http', 'upstream-direct', 'sluice-upstream', 'gate-run', 'gate-deferred', 'connector', 'direct-pg'] as const;
type Variant = (typeof VARIANTS)[number];
const variants = arg('variants', VARIANTS.join(',')).split(',') as Variant[];
for (const v of variants) if (!VARIANTS.includes(v)) throw new Error(`unknown variant ${v}; known: ${VARIANTS.join(', ')}`);

type Measurement = { calls: number; seconds: number; p50: number; p99: number; cpuMs: number };
type McpVariant = 'sluice-mcp' | 'mcp-http' | 'upstream-direct' | 'sluice-upstream';
const MCP_VARIANTS: readonly Variant[] = ['sluice-mcp', 'mcp-http', 'upstream-direct', 'sluice-upstream'];

/** MCP clients (official SDK) and bare HTTP posters on their sessions, for the MCP variants. */
async function mcpSide(url: URL, key: string, maxClients: number, upstreamUrl: URL) {
  const mcpClients: Client[] = [];
  const sessionIds: string[] = [];
  // The same SDK client against the upstream MCP server directly: what the goal compares with.
  const upstreamClients: Client[] = [];
  for (let i = 0; i < maxClients; i++) {
    const client = new Client({ name: 'bench', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(upstreamUrl));
    upstreamClients.push(client);
    await client.callTool({ name: 'echo', arguments: { text: 'warm' } });
  }
  for (let i = 0; i < maxClients; i++) {
    const client = new Client({ name: 'bench', version: '1' });
    const transport = new StreamableHTTPClientTransport(url, { requestInit: { headers: { authorization: `Bearer ${key}` } } });
    await client.connect(transport);
    mcpClients.push(client);
    sessionIds.push(transport.sessionId!);
  }
  // Warm up (connections, analyser caches, JIT).
  for (const client of mcpClients) await client.callTool({ name: 'db__query', arguments: { sql: 'SELECT 1' } });
  for (const client of mcpClients) await client.callTool({ name: 'up__echo', arguments: { text: 'warm' } });
  const echo = (client: Client, name: string) => async () => {
    const result = await client.callTool({ name, arguments: { text: 'hello' } });
    if (result.isError) throw new Error(JSON.stringify(result.content));
  };
  const workersFor = (variant: McpVariant, clients: number): (() => Promise<void>)[] => {
    if (variant === 'upstream-direct') return upstreamClients.slice(0, clients).map((client) => echo(client, 'echo'));
    if (variant === 'sluice-upstream') return mcpClients.slice(0, clients).map((client) => echo(client, 'up__echo'));
    if (variant === 'sluice-mcp') {
      return mcpClients.slice(0, clients).map((client) => async () => {
        const result = await client.callTool({ name: 'db__query', arguments: { sql: 'SELECT 1' } });
        if (result.isError) throw new Error(JSON.stringify(result.content));
      });
    }
    return sessionIds.slice(0, clients).map((sessionId) => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'db__query', arguments: { sql: 'SELECT 1' } } });
      const headers = {
        authorization: `Bearer ${key}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-session-id': sessionId,
        'mcp-protocol-version': '2025-11-25',
      };
      return () =>
        new Promise<void>((resolve, reject) => {
          const req = http.request(url, { method: 'POST', agent, headers }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              if (res.statusCode !== 200 || !text.includes('"rowCount":1')) reject(new Error(`${res.statusCode}: ${text.slice(0, 300)}`));
              else resolve();
            });
          });
          req.on('error', reject);
          req.end(body);
        });
    });
  };
  return {
    measure: (variant: McpVariant, clients: number) => measure(workersFor(variant, clients)),
    close: async () => {
      await Promise.allSettled([...mcpClients, ...upstreamClients].map((client) => client.close()));
    },
  };
}

/** The child process: MCP clients that measure on request (IPC) and report back. */
async function child(): Promise<void> {
  const url = new URL(arg('url', ''));
  const side = await mcpSide(url, process.env.SLUICE_BENCH_KEY ?? '', Number(arg('max', '1')), new URL(arg('upstream', '')));
  process.send!({ ready: true });
  process.on('message', (message: { variant?: McpVariant; clients?: number; close?: boolean }) => {
    if (message.close) {
      void side.close().then(() => process.exit(0));
      return;
    }
    void side.measure(message.variant!, message.clients!).then(
      (m) => process.send!({ m }),
      (error: unknown) => process.send!({ error: String(error) }),
    );
  });
}

/** Starts the client child; its measure runs there. */
async function childSide(url: URL, key: string, maxClients: number, upstreamUrl: URL) {
  const proc = fork(new URL(import.meta.url), ['--child', '--url', url.href, '--upstream', upstreamUrl.href, '--max', String(maxClients), '--duration', String(durationMs / 1000)], {
    execArgv: ['--import', 'tsx'],
    // The key goes by environment, not on a command line other users can read.
    env: { ...process.env, SLUICE_BENCH_KEY: key },
  });
  const next = () =>
    new Promise<{ ready?: boolean; m?: Measurement; error?: string }>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`bench client process exited (${code})`));
      proc.once('exit', onExit);
      proc.once('message', (message: { ready?: boolean; m?: Measurement; error?: string }) => {
        proc.off('exit', onExit);
        resolve(message);
      });
    });
  const ready = await next();
  if (!ready.ready) throw new Error('bench client process did not start');
  return {
    measure: async (variant: McpVariant, clients: number): Promise<Measurement> => {
      const reply = next();
      proc.send({ variant, clients });
      const r = await reply;
      if (!r.m) throw new Error(r.error ?? 'no measurement');
      return r.m;
    },
    close: async () => {
      const exited = new Promise((resolve) => proc.once('exit', resolve));
      proc.send({ close: true });
      await exited;
    },
  };
}

/** Each worker calls `once` back to back until the time is up; latencies in ms. */
async function measure(workers: (() => Promise<void>)[]): Promise<Measurement> {
  const latencies: number[] = [];
  const cpu = process.cpuUsage();
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
  const used = process.cpuUsage(cpu);
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return { calls: latencies.length, seconds, p50: at(0.5), p99: at(0.99), cpuMs: (used.user + used.system) / 1000 };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-mcp-'));
  // `full` (the default) waits for the journal's fdatasync before a call runs; see docs/configuration.md.
  const storeSync = arg('store-sync', 'full') === 'normal' ? 'normal' : 'full';
  const maxClients = Math.max(...clientCounts);
  // An upstream MCP server over streamable HTTP with one read-only tool (stateless: a server per
  // request, as small HTTP MCP servers run).
  const upstream = http.createServer((req, res) => {
    const server = new Server({ name: 'bench-upstream', version: '1.0.0' }, { capabilities: { tools: {} } });
    server.setRequestHandler('tools/list', () => ({
      tools: [{ name: 'echo', description: 'Echoes its text', inputSchema: { type: 'object', properties: { text: { type: 'string' } } }, annotations: { readOnlyHint: true } }],
    }));
    server.setRequestHandler('tools/call', (request) => ({ content: [{ type: 'text', text: String((request.params.arguments as { text?: unknown } | undefined)?.text ?? '') }] }));
    const transport = new NodeStreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => void server.close());
    void server.connect(transport).then(() => transport.handleRequest(req, res));
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const upstreamUrl = new URL(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}/mcp`);
  const config = `
store: { url: sqlite:${join(dir, 'sluice.db')}, sync: ${storeSync} }
listeners: { api: { address: 127.0.0.1:0 } }
connections:
  db: { kind: postgres, database: test, user: root, max_connections: ${maxClients} }
  up: { kind: mcp, transport: http, url: '${upstreamUrl.href}' }
policy:
  rules:
    - { name: reads, connections: [db, up], when: 'intent.class == "read"', effect: allow }
`;
  const sluice = await startSluice(loadConfigText(config, join(dir, 'sluice.yaml'), dir));
  const key = (await createKey(sluice.runtime.store, { principal: 'bench', kind: 'agent', groups: [] })).key;
  const url = new URL(`${sluice.api.url}/mcp`);
  const sameProcess = process.argv.includes('--same-process');
  let mcp: Awaited<ReturnType<typeof mcpSide>> | undefined;
  const pgClients: pg.Client[] = [];
  const closers: (() => Promise<void>)[] = [];
  try {
    mcp = sameProcess ? await mcpSide(url, key, maxClients, upstreamUrl) : await childSide(url, key, maxClients, upstreamUrl);
    for (let i = 0; i < maxClients; i++) {
      const direct = new pg.Client(PG);
      await direct.connect();
      pgClients.push(direct);
    }
    for (const direct of pgClients) await direct.query('SELECT 1');

    const gate = sluice.runtime.gate;
    const principal = { kind: 'agent' as const, name: 'bench', groups: [] };
    // The same connection settings, built as the runtime builds them, for the connector layer.
    const connection = sluice.runtime.loaded.config.connections.db!;
    const { connector } = buildConnector('db', connection, dir);
    closers.push(() => connector.close());
    await connector.execute('SELECT 1', { session: 'bench' });
    await gate.run({ principal, session: 'bench', connection: 'db', door: 'bench', command: 'SELECT 1' });

    const workersFor = (variant: Exclude<Variant, McpVariant>, clients: number): (() => Promise<void>)[] => {
      const n = Array.from({ length: clients }, (_, i) => i);
      switch (variant) {
        case 'gate-run':
          return n.map((i) => async () => {
            const outcome = await gate.run({ principal, session: `bench-${i}`, connection: 'db', door: 'bench', command: 'SELECT 1' });
            if (outcome.status !== 'executed' || !outcome.result?.ok) throw new Error(JSON.stringify(outcome.result ?? outcome.status));
          });
        case 'gate-deferred':
          return n.map((i) => async () => {
            const admission = await gate.admit({ principal, session: `bench-${i}`, connection: 'db', door: 'bench', command: 'SELECT 1' });
            if (admission.status !== 'allowed' || !admission.connection) throw new Error(admission.status);
            const started = performance.now();
            const result = await admission.connection.connector.execute('SELECT 1', { session: `bench-${i}` });
            if (!result.ok) throw new Error(JSON.stringify(result.error));
            gate.complete(admission, { result, durationMs: performance.now() - started }).catch((error: unknown) => {
              console.error('outcome not recorded', error);
            });
          });
        case 'connector':
          return n.map((i) => async () => {
            const result = await connector.execute('SELECT 1', { session: `bench-${i}` });
            if (!result.ok) throw new Error(JSON.stringify(result.error));
          });
        case 'direct-pg':
          return pgClients.slice(0, clients).map((direct) => async () => {
            await direct.query('SELECT 1');
          });
      }
    };

    const p50s = new Map<string, number[]>();
    for (let round = 1; round <= rounds; round++) {
      for (const clients of clientCounts) {
        for (const variant of variants) {
          const m = MCP_VARIANTS.includes(variant) ? await mcp.measure(variant as McpVariant, clients) : await measure(workersFor(variant as Exclude<Variant, McpVariant>, clients));
          const key = `${clients}:${variant}`;
          p50s.set(key, [...(p50s.get(key) ?? []), m.p50]);
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
              // CPU per call of the measuring process (all its threads): for the MCP variants
              // the client child only, unless --same-process; else Sluice and the caller.
              cpu_ms_per_call: Number((m.cpuMs / m.calls).toFixed(3)),
            }),
          );
        }
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
    for (const clients of clientCounts) {
      const direct = median(p50s.get(`${clients}:direct-pg`) ?? []);
      const summary: Record<string, unknown> = { bench: 'mcp-door', summary: true, clients, store_sync: storeSync };
      for (const variant of variants) {
        const p50 = median(p50s.get(`${clients}:${variant}`) ?? []);
        summary[`${variant}_p50_ms`] = Number(p50.toFixed(3));
        if (variant !== 'direct-pg' && Number.isFinite(direct)) summary[`${variant}_added_p50_ms`] = Number((p50 - direct).toFixed(3));
      }
      // The goal's comparison: a proxied upstream tool call against the same call made directly.
      const viaSluice = median(p50s.get(`${clients}:sluice-upstream`) ?? []);
      const upstreamDirect = median(p50s.get(`${clients}:upstream-direct`) ?? []);
      if (Number.isFinite(viaSluice) && Number.isFinite(upstreamDirect)) summary['upstream_added_p50_ms'] = Number((viaSluice - upstreamDirect).toFixed(3));
      console.log(JSON.stringify(summary));
    }
  } finally {
    await mcp?.close();
    await Promise.allSettled(pgClients.map((client) => client.end()));
    await Promise.allSettled(closers.map((close) => close()));
    await sluice.stop();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv.includes('--child')) await child();
else await main();
