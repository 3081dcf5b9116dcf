// PostgreSQL door benchmark: pgbench select-only through a direct connection, PgBouncer
// (session mode) and Sluice's door, interleaved, medians of several rounds; proxy CPU per
// statement from /proc/PID/stat; and a 1M-row SELECT to psql with one column masked.
//
//   node --import tsx bench/postgres-door.ts [--duration 20] [--rounds 3] [--scale 10]
//        [--clients 1,16] [--modes simple,extended] [--store-sync full|normal] [--no-rows]
//        [--gate noop] [--no-pgbench]
//
// Needs psql, pgbench and pgbouncer (Debian: apt-get install -y postgresql-client pgbouncer)
// and a PostgreSQL at 127.0.0.1:5432 where `root` may create a database (trust). It creates
// and drops a database of its own; PgBouncer and Sluice run as child processes so their CPU
// can be read from /proc. Output: one JSON line per measurement, then a summary line.
//
// Sluice runs with the policy, audit and masking a real deployment has: three rules (one
// deny, one review, one allow with a masking profile on pgbench_accounts.filler), every
// statement analysed, decided and audited (decision before, outcome after) in the embedded
// store. --store-sync normal measures the same with SQLite synchronous=NORMAL (durable
// across a process crash, not a power loss), to show what the audit fsync costs.
// --gate noop replaces the gate by one that admits everything without analysis, policy or
// audit: a diagnosis of what the door's relay costs by itself, never a deployment mode.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import pg from 'pg';

const execFileAsync = promisify(execFile);
const PG = { host: '127.0.0.1', port: 5432, user: 'root' };

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

// ---------------------------------------------------------------------------------------
// Serve mode: the Sluice door in its own process.

async function serve(): Promise<void> {
  const { startRuntime } = await import('../src/app/runtime.js');
  const { loadConfigText } = await import('../src/config/load.js');
  const { startPostgresDoor } = await import('../src/doors/postgres/index.js');
  const { createKey } = await import('../src/identity/keys.js');
  const database = arg('database', '');
  const dir = arg('dir', '');
  const storeSync = arg('store-sync', 'full');
  const config = {
    store: { url: `sqlite:${join(dir, 'sluice.db')}` },
    identities: { bench: { kind: 'human', groups: ['analysts'] } },
    connections: { bench: { kind: 'postgres', host: PG.host, port: PG.port, database, user: PG.user, statement_timeout: '10m' } },
    masking: { profiles: { pii: { columns: ['filler', 'email'], replacement: 'redact' } } },
    policy: {
      rules: [
        { name: 'no-secrets', when: 'intent.tables.exists(t, t.startsWith("secret"))', effect: 'deny', reason: 'secret tables are off limits' },
        { name: 'review-writes', when: 'intent.class == "write" && principal.kind == "agent"', effect: 'review' },
        { name: 'analysts-read-masked', when: '"analysts" in principal.groups', effect: 'allow', mask: 'pii' },
      ],
    },
  };
  const loaded = loadConfigText(stringify(config), join(dir, 'sluice.yaml'), dir);
  const runtime = await startRuntime(loaded);
  if (storeSync === 'normal') {
    // The same runtime with SQLite synchronous=NORMAL on the store's connection (a
    // per-connection pragma, so setting it after opening is enough). Measurement only.
    const db = (runtime.store as unknown as { db?: { exec(sql: string): void } }).db;
    if (runtime.store.kind !== 'sqlite' || !db) throw new Error('--store-sync normal needs the embedded SQLite store');
    db.exec('PRAGMA synchronous = NORMAL');
  }
  const key = (await createKey(runtime.store, { principal: 'bench', kind: 'human', groups: [] })).key;
  if (arg('gate', 'real') === 'noop') {
    // Diagnosis only: a gate that admits everything at once, without analysis, policy or
    // audit, to measure what the door's byte relay costs by itself. Never a deployment mode.
    const { unknownIntent } = await import('../src/gate/gate.js');
    const intent = { ...unknownIntent('postgres', ''), class: 'read' as const, classes: ['read' as const], error: undefined };
    const decision = { effect: 'allow' as const, rule: 'noop', reason: 'noop', matched: [] };
    (runtime as { gate: unknown }).gate = {
      admit: async (request: { principal: never; session: string; connection: string; door: string; command: string }) => ({
        action: { id: 'noop', time: new Date(), principal: request.principal, session: request.session, connection: { name: request.connection, kind: 'postgres', labels: {} }, door: request.door, command: request.command, intent },
        decision,
        status: 'allowed',
        masking: { kind: 'none' },
      }),
      complete: async () => {},
    };
  }
  const door = await startPostgresDoor(runtime, { address: { host: '127.0.0.1', port: 0 }, maxConnections: 500 });
  process.stdout.write(`${JSON.stringify({ port: door.address.port, key })}\n`);
  process.on('SIGTERM', () => {
    void door.close().then(() => runtime.close()).then(() => process.exit(0));
  });
}

// ---------------------------------------------------------------------------------------
// Measuring

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const CLK_TCK = 100;

/** utime + stime of a process, in microseconds. */
function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / CLK_TCK;
}

interface Target {
  name: 'direct' | 'pgbouncer' | 'sluice';
  port: number;
  user: string;
  env: Record<string, string>;
  pid?: number;
}

interface PgbenchResult {
  tps: number;
  transactions: number;
  failed: number;
  cpuUsPerStatement?: number;
}

async function pgbench(target: Target, database: string, mode: string, clients: number, seconds: number): Promise<PgbenchResult> {
  const before = target.pid ? cpuMicros(target.pid) : 0;
  const { stdout } = await execFileAsync(
    'pgbench',
    ['-h', '127.0.0.1', '-p', String(target.port), '-U', target.user, '-S', '-n', '-M', mode, '-c', String(clients), '-j', String(Math.min(clients, 2)), '-T', String(seconds), database],
    { env: { PATH: process.env.PATH ?? '', ...target.env }, maxBuffer: 16 * 1024 * 1024 },
  );
  const after = target.pid ? cpuMicros(target.pid) : 0;
  const tps = Number(/tps = ([\d.]+)/.exec(stdout)?.[1]);
  const transactions = Number(/actually processed: (\d+)/.exec(stdout)?.[1]);
  const failed = Number(/failed transactions: (\d+)/.exec(stdout)?.[1] ?? 0);
  return { tps, transactions, failed, ...(target.pid ? { cpuUsPerStatement: (after - before) / transactions } : {}) };
}

async function selectAll(target: Target, database: string): Promise<{ ms: number; bytes: number; maskedSample: boolean }> {
  const started = performance.now();
  const child = spawn('psql', ['-X', '-q', '-A', '-t', '-h', '127.0.0.1', '-p', String(target.port), '-U', target.user, '-d', database, '-c', 'SELECT * FROM pgbench_accounts'], {
    env: { PATH: process.env.PATH ?? '', ...target.env },
  });
  let bytes = 0;
  let sample = '';
  child.stdout.on('data', (d: Buffer) => {
    if (sample.length < 200) sample += d.toString('utf8', 0, Math.min(d.length, 200));
    bytes += d.length;
  });
  // A stuck peer must not hang the whole bench (PgBouncer 1.18 once left a client unaccepted).
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(timer);
  if (code !== 0) throw new Error(`psql against ${target.name} exited with ${code ?? 'a signal'}`);
  return { ms: performance.now() - started, bytes, maskedSample: sample.includes('[masked]') };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const round2 = (n: number) => Math.round(n * 100) / 100;

// ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (process.argv.includes('--serve')) return serve();

  const duration = Number(arg('duration', '20'));
  const rounds = Number(arg('rounds', '3'));
  const scale = Number(arg('scale', '10'));
  const clientsList = arg('clients', '1,16').split(',').map(Number);
  const modes = arg('modes', 'simple,extended').split(',');
  const storeSync = arg('store-sync', 'full');
  const withRows = !process.argv.includes('--no-rows');
  const withPgbench = !process.argv.includes('--no-pgbench');
  const database = `sluice_bench_pgdoor_${process.pid}`;
  const work = mkdtempSync(join(tmpdir(), 'sluice-bench-pgdoor-'));
  const children: ChildProcess[] = [];

  const admin = new pg.Client({ ...PG, database: 'postgres' });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${database}`);
    console.error(`pgbench -i -s ${scale} into ${database} ...`);
    await execFileAsync('pgbench', ['-i', '-q', '-s', String(scale), '-h', PG.host, '-p', String(PG.port), '-U', PG.user, database], { env: { PATH: process.env.PATH ?? '' } });

    // PgBouncer, session mode, trust (auth happens once per connection; pgbench does not reconnect).
    const bouncerPort = await freePort();
    const bouncerDir = join(work, 'pgbouncer');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(bouncerDir, { recursive: true });
    writeFileSync(join(bouncerDir, 'userlist.txt'), `"${PG.user}" ""\n`);
    writeFileSync(
      join(bouncerDir, 'pgbouncer.ini'),
      [
        '[databases]',
        `${database} = host=${PG.host} port=${PG.port} dbname=${database} user=${PG.user}`,
        '[pgbouncer]',
        'listen_addr = 127.0.0.1',
        `listen_port = ${bouncerPort}`,
        'unix_socket_dir =',
        'auth_type = trust',
        `auth_file = ${join(bouncerDir, 'userlist.txt')}`,
        'pool_mode = session',
        'max_client_conn = 500',
        'default_pool_size = 64',
        'ignore_startup_parameters = extra_float_digits',
        `logfile = ${join(bouncerDir, 'pgbouncer.log')}`,
        '',
      ].join('\n'),
    );
    const asRoot = process.getuid?.() === 0;
    if (asRoot) {
      const uid = Number((await execFileAsync('id', ['-u', 'postgres'])).stdout.trim());
      const gid = Number((await execFileAsync('id', ['-g', 'postgres'])).stdout.trim());
      for (const p of [work, bouncerDir, join(bouncerDir, 'userlist.txt'), join(bouncerDir, 'pgbouncer.ini')]) chownSync(p, uid, gid);
    }
    const bouncer = spawn('pgbouncer', [...(asRoot ? ['-u', 'postgres'] : []), join(bouncerDir, 'pgbouncer.ini')], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(bouncer);
    await waitForPort(bouncerPort);

    // Sluice's door in its own process.
    const sluiceDir = join(work, 'sluice');
    mkdirSync(sluiceDir, { recursive: true });
    const gateMode = arg('gate', 'real');
    const sluice = spawn(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, '--serve', '--database', database, '--dir', sluiceDir, '--store-sync', storeSync, '--gate', gateMode], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, SLUICE_LOG_LEVEL: 'warn' },
    });
    children.push(sluice);
    const ready = await new Promise<{ port: number; key: string }>((resolve, reject) => {
      let out = '';
      sluice.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const line = out.split('\n')[0];
        if (out.includes('\n')) resolve(JSON.parse(line!) as { port: number; key: string });
      });
      sluice.once('exit', (code) => reject(new Error(`sluice exited with ${code}`)));
    });

    const targets: Target[] = [
      { name: 'direct', port: PG.port, user: PG.user, env: { PGSSLMODE: 'disable' } },
      { name: 'pgbouncer', port: bouncerPort, user: PG.user, env: { PGSSLMODE: 'disable' }, pid: bouncer.pid! },
      { name: 'sluice', port: ready.port, user: 'bench', env: { PGSSLMODE: 'disable', PGPASSWORD: ready.key }, pid: sluice.pid! },
    ];
    const dbFor = (t: Target) => (t.name === 'sluice' ? 'bench' : database);

    // Warm-up: connections, caches, JIT.
    for (const t of targets) await pgbench(t, dbFor(t), 'extended', 2, 3);

    const summary: Record<string, unknown>[] = [];
    for (const mode of withPgbench ? modes : []) {
      for (const clients of clientsList) {
        const runs: Record<string, PgbenchResult[]> = { direct: [], pgbouncer: [], sluice: [] };
        for (let r = 0; r < rounds; r++) {
          // Rotate the order so no target always runs first (or right after another).
          const order = [...targets.slice(r % 3), ...targets.slice(0, r % 3)];
          for (const t of order) {
            const result = await pgbench(t, dbFor(t), mode, clients, duration);
            runs[t.name]!.push(result);
            console.log(JSON.stringify({ bench: 'pgbench-S', mode, clients, round: r + 1, target: t.name, tps: round2(result.tps), failed: result.failed, ...(result.cpuUsPerStatement !== undefined ? { cpu_us_per_statement: round2(result.cpuUsPerStatement) } : {}) }));
          }
        }
        const tps = (name: string) => median(runs[name]!.map((x) => x.tps));
        const cpu = (name: string) => median(runs[name]!.map((x) => x.cpuUsPerStatement ?? 0));
        const line = {
          bench: 'pgbench-S',
          summary: true,
          mode,
          clients,
          scale,
          seconds: duration,
          rounds,
          store_sync: storeSync,
          ...(gateMode === 'noop' ? { gate: 'noop (no analysis, policy or audit: diagnosis only)' } : {}),
          direct_tps: round2(tps('direct')),
          pgbouncer_tps: round2(tps('pgbouncer')),
          sluice_tps: round2(tps('sluice')),
          sluice_vs_direct: round2(tps('sluice') / tps('direct')),
          sluice_vs_pgbouncer: round2(tps('sluice') / tps('pgbouncer')),
          pgbouncer_vs_direct: round2(tps('pgbouncer') / tps('direct')),
          pgbouncer_cpu_us_per_statement: round2(cpu('pgbouncer')),
          sluice_cpu_us_per_statement: round2(cpu('sluice')),
          sluice_failed: runs.sluice!.reduce((n, x) => n + x.failed, 0),
        };
        summary.push(line);
        console.log(JSON.stringify(line));
      }
    }

    if (withRows) {
      const times: Record<string, number[]> = { direct: [], pgbouncer: [], sluice: [] };
      let masked = false;
      for (let r = 0; r < rounds; r++) {
        const order = [...targets.slice(r % 3), ...targets.slice(0, r % 3)];
        for (const t of order) {
          let result;
          try {
            result = await selectAll(t, dbFor(t));
          } catch (error) {
            console.log(JSON.stringify({ bench: 'select-all-psql', round: r + 1, target: t.name, error: (error as Error).message }));
            continue;
          }
          times[t.name]!.push(result.ms);
          if (t.name === 'sluice') masked ||= result.maskedSample;
          console.log(JSON.stringify({ bench: 'select-all-psql', round: r + 1, target: t.name, ms: Math.round(result.ms), bytes: result.bytes }));
        }
      }
      const m = (name: string) => median(times[name]!);
      const line = {
        bench: 'select-all-psql',
        summary: true,
        rows: scale * 100_000,
        masked_column: 'filler',
        sluice_output_masked: masked,
        direct_ms: Math.round(m('direct')),
        pgbouncer_ms: Math.round(m('pgbouncer')),
        sluice_ms: Math.round(m('sluice')),
        sluice_vs_direct: round2(m('sluice') / m('direct')),
        pgbouncer_vs_direct: round2(m('pgbouncer') / m('direct')),
      };
      summary.push(line);
      console.log(JSON.stringify(line));
    }
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 500));
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => {});
    await admin.end();
    rmSync(work, { recursive: true, force: true });
  }
}

async function waitForPort(port: number): Promise<void> {
  const net = await import('node:net');
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`nothing listens on ${port}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
