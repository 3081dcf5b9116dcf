// A real Sluice for the approval tests: the API and the PostgreSQL door on free loopback ports,
// identities with approver groups, review rules, a store (SQLite file or a PostgreSQL database).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { stringify } from 'yaml';
import { startSluice, type RunningSluice } from '../../src/app/server.js';
import { loadConfigText } from '../../src/config/load.js';
import { createKey } from '../../src/identity/keys.js';
import type { ReviewRecord } from '../../src/store/store.js';
import { PG } from '../helpers.js';

export const IDENTITIES = {
  bot: { kind: 'agent', groups: ['agents'], on_behalf_of: 'alice' },
  alice: { kind: 'human', groups: ['dba'] },
  bob: { kind: 'human', groups: ['dba'] },
  carol: { kind: 'human', groups: ['dba'] },
  erin: { kind: 'human', groups: ['dba'] },
  dave: { kind: 'human', groups: ['analysts'] },
  root: { kind: 'human', groups: ['admin'] },
};

export interface ApprovalSluiceOptions {
  /** Folder holding sluice.yaml and the embedded store; reuse it to restart on the same store. */
  dir: string;
  /** Store URL (default: SQLite in `dir`). */
  store?: string;
  /** The approvals section. */
  approvals?: Record<string, unknown>;
  /** Policy rules (default: reads allowed, writes and schema changes reviewed). */
  rules?: Record<string, unknown>[];
  /** Extra connections next to `test` (PostgreSQL 127.0.0.1:5432/test) and `sh` (shell). */
  connections?: Record<string, Record<string, unknown>>;
  mcpReview?: 'wait' | 'return-pending';
  /** Identities besides IDENTITIES. */
  identities?: Record<string, Record<string, unknown>>;
}

export const DEFAULT_RULES = [
  { name: 'reads', effect: 'allow', when: 'intent.class == "read"' },
  { name: 'writes', effect: 'review', when: 'intent.class == "write"' },
  { name: 'schema-changes', effect: 'review', when: 'intent.class == "schema"' },
];

/**
 * Two connections to the same database with different quorums: writes on `test` need one dba,
 * writes on `two` need two; reads are allowed. Spread into startApprovalSluice's options.
 */
export const QUORUM_OF_TWO = {
  connections: { two: { kind: 'postgres', host: '127.0.0.1', port: 5432, database: 'test', user: 'root' } },
  rules: [
    { name: 'reads', effect: 'allow', when: 'intent.class == "read"' },
    { name: 'writes', effect: 'review', when: 'intent.class == "write"', connections: ['test'] },
    { name: 'two-person', effect: 'review', when: 'intent.class == "write"', connections: ['two'] },
  ],
  approvals: { rules: { writes: { approvers: ['dba'] }, 'two-person': { approvers: ['dba'], quorum: 2 } } },
} satisfies Omit<ApprovalSluiceOptions, 'dir'>;

export interface ApprovalSluice {
  sluice: RunningSluice;
  /** The sluice.yaml written for this instance. */
  configFile: string;
  api: string;
  pgPort: number;
  /** A fresh API key of an identity above. */
  key(name: keyof typeof IDENTITIES): Promise<string>;
  /** node-postgres settings for the door as `principal` with `key`, on connection `database`. */
  pgClient(principal: string, key: string, database?: string): pg.ClientConfig;
  /** The pending review of `command`, once it exists. */
  pending(command: string): Promise<ReviewRecord>;
  /** Every audit record, parsed. */
  audit(): Promise<Record<string, any>[]>;
  /** POST /v1/reviews/ID/VERB as `key`. */
  vote(id: string, verb: 'approve' | 'reject', key: string, body?: Record<string, unknown>): Promise<{ status: number; body: Record<string, any> }>;
  get(path: string, key: string): Promise<{ status: number; body: Record<string, any> }>;
  post(path: string, key: string, body?: Record<string, unknown>): Promise<{ status: number; body: Record<string, any> }>;
  stop(): Promise<void>;
}

export async function startApprovalSluice(options: ApprovalSluiceOptions): Promise<ApprovalSluice> {
  mkdirSync(join(options.dir, 'files'), { recursive: true });
  const config = {
    store: { url: options.store ?? `sqlite:${join(options.dir, 'sluice.db')}` },
    listeners: {
      api: { address: '127.0.0.1:0', ...(options.mcpReview ? { mcp: { review: options.mcpReview } } : {}) },
      postgres: { address: '127.0.0.1:0', tls: false },
    },
    identities: { ...IDENTITIES, ...(options.identities ?? {}) },
    connections: {
      test: { kind: 'postgres', host: PG.host, port: PG.port, database: PG.database, user: PG.user },
      sh: { kind: 'shell', cwd: 'files' },
      ...(options.connections ?? {}),
    },
    policy: { rules: options.rules ?? DEFAULT_RULES },
    approvals: { timeout: '30s', ...(options.approvals ?? {}) },
    ...(options.store?.startsWith('postgres') ? { audit: { checkpoint: { enabled: false } } } : {}),
  };
  const file = join(options.dir, 'sluice.yaml');
  // On disk too, for CLI commands run against the same store.
  writeFileSync(file, stringify(config));
  const sluice = await startSluice(loadConfigText(stringify(config), file, options.dir));
  const api = sluice.api.url;
  const call = async (method: string, path: string, key: string, body?: Record<string, unknown>) => {
    const response = await fetch(`${api}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  };
  const pgPort = sluice.postgres!.address.port;
  return {
    sluice,
    configFile: file,
    api,
    pgPort,
    key: async (name) => {
      const identity = IDENTITIES[name];
      const created = await createKey(sluice.runtime.store, {
        principal: name,
        kind: identity.kind as 'human' | 'agent',
        groups: [],
        ...('on_behalf_of' in identity ? { onBehalfOf: identity.on_behalf_of } : {}),
      });
      return created.key;
    },
    pgClient: (principal, key, database = 'test') => ({ host: '127.0.0.1', port: pgPort, user: principal, password: key, database }),
    pending: (command) => pendingReview(sluice, command),
    audit: async () => {
      await sluice.runtime.ledger.flush();
      const rows = await sluice.runtime.store.readAudit({ limit: 100_000 });
      return rows.map((row) => JSON.parse(row.body) as Record<string, any>);
    },
    vote: (id, verb, key, body = {}) => call('POST', `/v1/reviews/${id}/${verb}`, key, body),
    get: (path, key) => call('GET', path, key),
    post: (path, key, body = {}) => call('POST', path, key, body),
    stop: () => sluice.stop(),
  };
}

export async function pendingReview(sluice: RunningSluice, command: string): Promise<ReviewRecord> {
  for (let i = 0; i < 400; i++) {
    const found = (await sluice.runtime.store.listReviews({ status: 'pending' })).find((r) => (r.action as { command?: string }).command === command);
    if (found) return found;
    await sleep(25);
  }
  throw new Error(`no pending review of ${command}`);
}

/** Runs `sql` on a fresh door connection; resolves to the result or the error. */
export async function query(config: pg.ClientConfig, sql: string): Promise<{ ok: true; rowCount: number | null; rows: unknown[] } | { ok: false; code?: string; message: string }> {
  const client = new pg.Client(config);
  await client.connect();
  try {
    const result = await client.query(sql);
    return { ok: true, rowCount: result.rowCount, rows: result.rows };
  } catch (error) {
    return { ok: false, code: (error as { code?: string }).code, message: (error as Error).message };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Runs on a door client the test keeps (one session). */
export async function run(client: pg.Client, sql: string): Promise<{ ok: true; rowCount: number | null } | { ok: false; code?: string; message: string }> {
  try {
    const result = await client.query(sql);
    return { ok: true, rowCount: result.rowCount };
  } catch (error) {
    return { ok: false, code: (error as { code?: string }).code, message: (error as Error).message };
  }
}

export async function eventually<T>(what: string, check: () => Promise<T | undefined>, tries = 400): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const value = await check();
    if (value !== undefined) return value;
    await sleep(25);
  }
  throw new Error(`gave up waiting for ${what}`);
}
