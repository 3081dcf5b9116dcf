// Fixtures for the PostgreSQL door tests: a real runtime (embedded store, real policy) built
// from YAML, the door listening on a free port, keys for test identities, and runners for
// the clients people use (psql, pgbench, node-postgres).
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type pg from 'pg';
import net from 'node:net';
import { startRuntime, type Runtime } from '../../../src/app/runtime.js';
import { loadConfigText } from '../../../src/config/load.js';
import { startPostgresDoor, type PostgresDoor, type PostgresDoorOptions } from '../../../src/doors/postgres/index.js';
import { createKey } from '../../../src/identity/keys.js';
import { PG, directSql, tempDir } from '../../helpers.js';

export interface DoorFixture {
  runtime: Runtime;
  door: PostgresDoor;
  dir: string;
  /** A fresh API key for an identity declared in the config. */
  key(principal: string): Promise<string>;
  /** node-postgres client settings for the door. */
  client(principal: string, key: string, database?: string): pg.ClientConfig;
  /** A libpq connection string for the door. */
  url(principal: string, key: string, database?: string, extra?: string): string;
  /** Audit records as parsed JSON, oldest first. */
  audit(filter?: { session?: string; kind?: string }): Promise<Record<string, any>[]>;
  /**
   * The outcome records of an action, once there are `count` of them (outcomes are written
   * with the session's next decision, or a few milliseconds later).
   */
  outcomes(actionId: string | undefined, count?: number): Promise<Record<string, any>[]>;
  close(): Promise<void>;
}

export interface FixtureOptions {
  /** Policy rules (YAML objects). Default: allow everything. */
  rules?: Record<string, unknown>[];
  /** Extra connections (merged over the default `test` connection to 127.0.0.1:5432/test). */
  connections?: Record<string, Record<string, unknown>>;
  /** Masking profiles. */
  profiles?: Record<string, Record<string, unknown>>;
  approvalTimeout?: string;
  door?: Partial<PostgresDoorOptions>;
}

export const IDENTITIES = {
  alice: { kind: 'human', groups: ['dba'] },
  bot: { kind: 'agent', groups: ['agents'], on_behalf_of: 'alice' },
  carol: { kind: 'human', groups: ['analysts'] },
};

export async function startFixture(options: FixtureOptions = {}): Promise<DoorFixture> {
  const dir = tempDir('sluice-pgdoor-');
  const config = {
    store: { url: `sqlite:${join(dir.path, 'sluice.db')}` },
    identities: IDENTITIES,
    connections: {
      test: { kind: 'postgres', host: PG.host, port: PG.port, database: PG.database, user: PG.user },
      ...(options.connections ?? {}),
    },
    masking: { profiles: options.profiles ?? { pii: { columns: ['email', '*_secret'], replacement: 'redact' } } },
    approvals: { timeout: options.approvalTimeout ?? '30s' },
    policy: { rules: options.rules ?? [{ name: 'allow-all', effect: 'allow' }] },
  };
  const file = join(dir.path, 'sluice.yaml');
  let runtime: Runtime;
  try {
    runtime = await startRuntime(loadConfigText(stringify(config), file, dir.path));
  } catch (error) {
    dir.remove();
    throw error;
  }
  let door: PostgresDoor;
  try {
    door = await startPostgresDoor(runtime, { address: { host: '127.0.0.1', port: 0 }, ...options.door });
  } catch (error) {
    await runtime.close();
    dir.remove();
    throw error;
  }
  const fixture: DoorFixture = {
    runtime,
    door,
    dir: dir.path,
    async key(principal) {
      const identity = IDENTITIES[principal as keyof typeof IDENTITIES];
      const created = await createKey(runtime.store, {
        principal,
        kind: (identity?.kind ?? 'human') as 'human' | 'agent' | 'service',
        groups: [],
        ...(identity && 'on_behalf_of' in identity ? { onBehalfOf: identity.on_behalf_of } : {}),
      });
      return created.key;
    },
    client(principal, key, database = 'test') {
      return { host: '127.0.0.1', port: door.address.port, user: principal, password: key, database };
    },
    url(principal, key, database = 'test', extra = '') {
      return `postgresql://${encodeURIComponent(principal)}:${encodeURIComponent(key)}@127.0.0.1:${door.address.port}/${encodeURIComponent(database)}${extra ? `?${extra}` : ''}`;
    },
    async audit(filter = {}) {
      await runtime.ledger.flush();
      const rows = await runtime.store.readAudit({ limit: 100_000, ...(filter.session ? { session: filter.session } : {}) });
      return rows.map((row) => JSON.parse(row.body) as Record<string, any>).filter((r) => !filter.kind || r.kind === filter.kind);
    },
    async outcomes(actionId, count = 1) {
      return eventually(`${count} outcome record(s) of ${actionId}`, async () => {
        const found = (await fixture.audit({ kind: 'outcome' })).filter((r) => r.actionId === actionId);
        return found.length >= count ? found : undefined;
      });
    },
    async close() {
      await door.close();
      await runtime.close();
      dir.remove();
    },
  };
  return fixture;
}

/** Polls until `check` returns a value, or fails after `ms`. Waiting, not timing: no speed is asserted. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The upstream backend of a door session, found by the application_name the door gives it. */
export async function upstreamBackend(principal: string, app: string): Promise<{ pid: number; state: string; wait_event: string | null; query: string } | undefined> {
  const r = await directSql(`SELECT pid, state, wait_event, query FROM pg_stat_activity WHERE application_name = $1`, [`sluice/${principal}/${app}`]);
  return r.rows[0] as { pid: number; state: string; wait_event: string | null; query: string } | undefined;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion (psql, pgbench) with a clean libpq environment. */
export function run(program: string, args: string[], options: { input?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', LC_ALL: 'C.UTF-8', PGCONNECT_TIMEOUT: '10', ...options.env };
    const child = spawn(program, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** psql with -X (no ~/.psqlrc), quiet, unaligned, tuples only, stop on error unless told otherwise. */
export function psql(url: string, sql: string, options: { args?: string[]; env?: Record<string, string>; stopOnError?: boolean } = {}): Promise<RunResult> {
  return run('psql', ['-X', '-q', '-A', '-t', ...(options.stopOnError === false ? [] : ['-v', 'ON_ERROR_STOP=1']), ...(options.args ?? []), '-d', url], {
    input: sql,
    ...(options.env ? { env: options.env } : {}),
  });
}

export function hasProgram(program: string): Promise<boolean> {
  return new Promise((resolve) => execFile('which', [program], (error) => resolve(!error)));
}

// ---------------------------------------------------------------------------------------
// A raw protocol client, for what libpq and node-postgres never send: pipelines built by
// hand, malformed and truncated frames, unread results.

export interface BackendMessage {
  type: string;
  bytes: Buffer;
}

export class RawClient {
  readonly socket: net.Socket;
  private buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  closed = false;
  processId = 0;
  secretKey = 0;
  status = '';

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  static async connect(port: number): Promise<RawClient> {
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    return new RawClient(socket);
  }

  /** Connects and logs in with a cleartext password; resolves at the first ReadyForQuery. */
  static async login(port: number, user: string, key: string, database = 'test', extra: Record<string, string> = {}): Promise<RawClient> {
    const c = await RawClient.connect(port);
    c.send(startupPacket({ user, database, ...extra }));
    for (;;) {
      const m = await c.next();
      if (m.type === 'R' && m.bytes.readInt32BE(5) === 3) c.send(frame('p', cstr(key)));
      else if (m.type === 'K') {
        c.processId = m.bytes.readInt32BE(5);
        c.secretKey = m.bytes.readInt32BE(9);
      } else if (m.type === 'E') throw new Error(`login failed: ${errorText(m)}`);
      else if (m.type === 'Z') {
        c.status = String.fromCharCode(m.bytes[5]!);
        return c;
      }
    }
  }

  send(...buffers: Buffer[]): void {
    this.socket.write(Buffer.concat(buffers));
  }

  /** The next backend message; rejects if the connection closes first. */
  async next(timeoutMs = 20_000): Promise<BackendMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.buffer.length >= 5) {
        const length = this.buffer.readInt32BE(1);
        if (this.buffer.length >= length + 1) {
          const bytes = this.buffer.subarray(0, length + 1);
          this.buffer = this.buffer.subarray(length + 1);
          return { type: String.fromCharCode(bytes[0]!), bytes };
        }
      }
      if (this.closed) throw new Error('connection closed');
      if (Date.now() > deadline) throw new Error('no message in time');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Messages up to and including the next ReadyForQuery. */
  async untilReady(): Promise<BackendMessage[]> {
    const out: BackendMessage[] = [];
    for (;;) {
      const m = await this.next();
      out.push(m);
      if (m.type === 'Z') {
        this.status = String.fromCharCode(m.bytes[5]!);
        return out;
      }
    }
  }

  /** Waits for the server to close the connection; returns the messages it sent first. */
  async untilClosed(): Promise<BackendMessage[]> {
    const out: BackendMessage[] = [];
    for (;;) {
      try {
        out.push(await this.next());
      } catch {
        return out;
      }
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

export function frame(type: string, body: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

export function cstr(s: string): Buffer {
  return Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);
}

function int16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

export function startupPacket(params: Record<string, string>, version = 196608): Buffer {
  const body = Buffer.concat([int32(version), ...Object.entries(params).flatMap(([k, v]) => [cstr(k), cstr(v)]), Buffer.from([0])]);
  return Buffer.concat([int32(body.length + 4), body]);
}

export const msg = {
  query: (sql: string) => frame('Q', cstr(sql)),
  parse: (name: string, sql: string) => frame('P', Buffer.concat([cstr(name), cstr(sql), int16(0)])),
  /** Bind with text parameters (null for NULL). */
  bind: (portal: string, statement: string, params: (string | null)[] = []) =>
    frame(
      'B',
      Buffer.concat([
        cstr(portal),
        cstr(statement),
        int16(0),
        int16(params.length),
        ...params.map((p) => (p === null ? int32(-1) : Buffer.concat([int32(Buffer.byteLength(p)), Buffer.from(p)]))),
        int16(0),
      ]),
    ),
  describe: (kind: 'S' | 'P', name: string) => frame('D', Buffer.concat([Buffer.from(kind), cstr(name)])),
  execute: (portal: string, maxRows = 0) => frame('E', Buffer.concat([cstr(portal), int32(maxRows)])),
  sync: () => frame('S'),
  flush: () => frame('H'),
  close: (kind: 'S' | 'P', name: string) => frame('C', Buffer.concat([Buffer.from(kind), cstr(name)])),
  terminate: () => frame('X'),
};

/** Field code → value of an ErrorResponse or NoticeResponse. */
export function errorFields(m: BackendMessage): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 5;
  while (pos < m.bytes.length && m.bytes[pos] !== 0) {
    const end = m.bytes.indexOf(0, pos + 1);
    out[String.fromCharCode(m.bytes[pos]!)] = m.bytes.toString('utf8', pos + 1, end);
    pos = end + 1;
  }
  return out;
}

export function errorText(m: BackendMessage): string {
  const f = errorFields(m);
  return `${f.C}: ${f.M}`;
}

/** The text values of a DataRow. */
export function dataRow(m: BackendMessage): (string | null)[] {
  const count = m.bytes.readInt16BE(5);
  const out: (string | null)[] = [];
  let pos = 7;
  for (let i = 0; i < count; i++) {
    const len = m.bytes.readInt32BE(pos);
    pos += 4;
    if (len < 0) out.push(null);
    else {
      out.push(m.bytes.toString('utf8', pos, pos + len));
      pos += len;
    }
  }
  return out;
}

export function types(messages: BackendMessage[]): string {
  return messages.map((m) => m.type).join('');
}
