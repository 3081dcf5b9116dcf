// PostgreSQL door benchmark: pgbench select-only through a direct connection, PgBouncer
// (session mode) and Sluice's door, interleaved, medians of several rounds; proxy CPU per
// statement from /proc/PID/stat; and a 1M-row SELECT to psql with one column masked.
//
//   node --import tsx bench/postgres-door.ts [--duration 20] [--rounds 3] [--scale 10]
//        [--clients 1,16] [--modes simple,extended] [--store-sync full|normal] [--no-rows]
//        [--gate noop|pipe] [--no-pgbench]
//
// Needs psql and pgbench (Debian: apt-get install -y postgresql-client) and a PostgreSQL at
// 127.0.0.1:5432 where `root` may create a database (trust). PgBouncer comes from the Debian
// package: when it is not on PATH the bench runs `apt-get install -y pgbouncer` (as root;
// otherwise it stops and names the command). It creates a database and temp dirs of its own,
// runs PgBouncer (on a free port) and Sluice as child processes so their CPU can be read from
// /proc, and on the way out (normal end, error, SIGINT, SIGTERM) stops both, drops the
// database and removes the dirs. Output: one JSON line per measurement, a summary line per
// measured case (direct, PgBouncer and Sluice figures with the ratios), and a final line
// holding all summaries.
//
// Sluice runs with the policy, audit and masking a real deployment has: three rules (one
// deny, one review, one allow with a masking profile on pgbench_accounts.filler), every
// statement analysed, decided and audited (decision before, outcome after) in the embedded
// store. --store-sync normal measures the same with `store.sync: normal` (SQLite
// synchronous=NORMAL: durable across a process crash, not a power loss), to show what the
// audit fsync costs.
// --gate noop replaces the gate by one that admits everything without analysis, policy or
// audit: a diagnosis of what the door's relay costs by itself, never a deployment mode.
// --gate pipe runs no Sluice at all but a Node.js TCP relay that copies bytes both ways: what
// any proxy written for Node costs on this machine before it reads a single message.
// BENCH_CPU_PROF=DIR writes a V8 CPU profile of the Sluice process (each thread) into DIR.
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
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
  if (arg('gate', 'real') === 'pipe') return servePipe();
  const { startRuntime } = await import('../src/app/runtime.js');
  const { loadConfigText } = await import('../src/config/load.js');
  const { startPostgresDoor } = await import('../src/doors/postgres/index.js');
  const { createKey } = await import('../src/identity/keys.js');
  const database = arg('database', '');
  const dir = arg('dir', '');
  const storeSync = arg('store-sync', 'full');
  const config = {
    store: { url: `sqlite:${join(dir, 'sluice.db')}`, sync: storeSync },
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

/**
 * --gate pipe: no Sluice at all, a TCP relay that copies bytes both ways (no message
 * parsing, no gate): the least any Node.js proxy on this machine can cost, for comparison.
 */
async function servePipe(): Promise<void> {
  const { createServer: createTcpServer, connect } = await import('node:net');
  const server = createTcpServer({ noDelay: true }, (client) => {
    const upstream = connect({ host: PG.host, port: PG.port, noDelay: true });
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port, key: '' })}\n`);
  process.on('SIGTERM', () => process.exit(0));
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
  // Spawned through the cleanup, so that an interrupted bench stops it too.
  const child = cleanup.spawn(
    'pgbench',
    ['-h', '127.0.0.1', '-p', String(target.port), '-U', target.user, '-S', '-n', '-M', mode, '-c', String(clients), '-j', String(Math.min(clients, 2)), '-T', String(seconds), database],
    { env: { PATH: process.env.PATH ?? '', ...target.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`pgbench against ${target.name} exited with ${code ?? 'a signal'}: ${stderr.trim().split('\n').slice(-3).join(' / ')}`);
  const after = target.pid ? cpuMicros(target.pid) : 0;
  const tps = Number(/tps = ([\d.]+)/.exec(stdout)?.[1]);
  const transactions = Number(/actually processed: (\d+)/.exec(stdout)?.[1]);
  const failed = Number(/failed transactions: (\d+)/.exec(stdout)?.[1] ?? 0);
  return { tps, transactions, failed, ...(target.pid ? { cpuUsPerStatement: (after - before) / transactions } : {}) };
}

async function selectAll(target: Target, database: string): Promise<{ ms: number; bytes: number; maskedSample: boolean }> {
  const started = performance.now();
  const child = cleanup.spawn('psql', ['-X', '-q', '-A', '-t', '-h', '127.0.0.1', '-p', String(target.port), '-U', target.user, '-d', database, '-c', 'SELECT * FROM pgbench_accounts'], {
    env: { PATH: process.env.PATH ?? '', ...target.env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let bytes = 0;
  let sample = '';
  child.stdout!.on('data', (d: Buffer) => {
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
// Setup and cleanup: PgBouncer from the Debian package, children, the database, temp dirs.

/** A missing prerequisite: its message says what to do, a stack trace would not help. */
class SetupError extends Error {}

/** Installs PgBouncer with apt-get when it is missing (as root); otherwise says how. */
async function ensurePgbouncer(): Promise<void> {
  if (await onPath('pgbouncer')) return;
  const command = 'apt-get install -y pgbouncer';
  if (process.getuid?.() !== 0) throw new SetupError(`pgbouncer is not installed; install it as root first: sudo ${command}`);
  console.error(`pgbouncer is not on PATH: ${command} ...`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => execFileAsync('apt-get', ['install', '-y', 'pgbouncer'], { env, maxBuffer: 64 * 1024 * 1024 });
  try {
    await install();
  } catch {
    // A fresh container has no package lists yet.
    await execFileAsync('apt-get', ['update'], { env, maxBuffer: 64 * 1024 * 1024 });
    await install();
  }
  // The package starts its own PgBouncer (port 6432) where an init system runs; this bench
  // uses its own instance on a free port, so that one is left as the package set it up.
  if (!(await onPath('pgbouncer'))) throw new SetupError(`${command} ran, but pgbouncer is still not on PATH (${process.env.PATH ?? ''})`);
}

async function onPath(program: string): Promise<boolean> {
  return execFileAsync('sh', ['-c', `command -v ${program}`]).then(
    () => true,
    () => false,
  );
}

/** Everything the bench made, undone once: on the normal end, on an error and on SIGINT/SIGTERM. */
class Cleanup {
  readonly children = new Set<ChildProcess>();
  /** Set by SIGINT/SIGTERM: what fails after it is the interruption, not worth reporting. */
  interrupted: string | undefined;
  database: string | undefined;
  dirs: string[] = [];
  private done: Promise<void> | undefined;

  spawn(command: string, args: string[], options: SpawnOptions): ChildProcess {
    const child = spawn(command, args, options);
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  run(): Promise<void> {
    this.done ??= this.undo();
    return this.done;
  }

  private async undo(): Promise<void> {
    const alive = [...this.children].filter((c) => c.exitCode === null && c.signalCode === null);
    const exited = alive.map((c) => new Promise<void>((resolve) => c.once('exit', () => resolve())));
    for (const child of alive) child.kill('SIGTERM');
    const slow = setTimeout(() => alive.forEach((c) => c.kill('SIGKILL')), 5_000);
    await Promise.all(exited);
    clearTimeout(slow);
    if (this.database) {
      // A client of its own: the bench's may be busy or broken.
      const admin = new pg.Client({ ...PG, database: 'postgres' });
      try {
        await admin.connect();
        await admin.query(`DROP DATABASE IF EXISTS ${this.database} WITH (FORCE)`);
      } catch (error) {
        console.error(`could not drop database ${this.database}: ${(error as Error).message}`);
      } finally {
        await admin.end().catch(() => {});
      }
    }
    for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true });
  }
}

const cleanup = new Cleanup();

// ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (process.argv.includes('--serve')) return serve();

  const duration = Number(arg('duration', '20'));
  const rounds = Number(arg('rounds', '3'));
  const scale = Number(arg('scale', '10'));
  const clientsList = arg('clients', '1,16').split(',').map(Number);
  const modes = arg('modes', 'simple,extended').split(',');
  const storeSync = arg('store-sync', 'full');
  const gateMode = arg('gate', 'real');
  const withRows = !process.argv.includes('--no-rows');
  const withPgbench = !process.argv.includes('--no-pgbench');
  const database = `sluice_bench_pgdoor_${process.pid}`;

  for (const program of ['psql', 'pgbench']) {
    if (!(await onPath(program))) throw new SetupError(`${program} is not installed (Debian: apt-get install -y postgresql-client)`);
  }
  await ensurePgbouncer();

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      cleanup.interrupted = signal;
      console.error(`${signal}: stopping PgBouncer and Sluice, dropping ${database} ...`);
      void cleanup.run().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    });
  }
  const work = mkdtempSync(join(tmpdir(), 'sluice-bench-pgdoor-'));
  cleanup.dirs.push(work);

  try {
    const admin = new pg.Client({ ...PG, database: 'postgres' });
    await admin.connect();
    try {
      cleanup.database = database; // before CREATE: an interruption during it still drops it
      await admin.query(`CREATE DATABASE ${database}`);
    } finally {
      await admin.end();
    }
    console.error(`pgbench -i -s ${scale} into ${database} ...`);
    const init = execFileAsync('pgbench', ['-i', '-q', '-s', String(scale), '-h', PG.host, '-p', String(PG.port), '-U', PG.user, database], { env: { PATH: process.env.PATH ?? '' } });
    cleanup.children.add(init.child);
    await init;

    // PgBouncer, session mode, trust (auth happens once per connection; pgbench does not reconnect).
    const bouncerPort = await freePort();
    const bouncerDir = join(work, 'pgbouncer');
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
    // PgBouncer refuses to run as root: it runs as postgres, which must read its files.
    const asRoot = process.getuid?.() === 0;
    if (asRoot) {
      const uid = Number((await execFileAsync('id', ['-u', 'postgres'])).stdout.trim());
      const gid = Number((await execFileAsync('id', ['-g', 'postgres'])).stdout.trim());
      for (const p of [work, bouncerDir, join(bouncerDir, 'userlist.txt'), join(bouncerDir, 'pgbouncer.ini')]) chownSync(p, uid, gid);
    }
    const bouncer = cleanup.spawn('pgbouncer', [...(asRoot ? ['-u', 'postgres'] : []), join(bouncerDir, 'pgbouncer.ini')], { stdio: 'ignore' });
    const bouncerExit = new Promise<never>((_, reject) => bouncer.once('exit', (code) => reject(new Error(`pgbouncer exited with ${code}; see its log under ${bouncerDir}`))));
    bouncerExit.catch(() => {});
    await Promise.race([waitForPort(bouncerPort), bouncerExit]);

    // Sluice's door in its own process.
    const sluiceDir = join(work, 'sluice');
    mkdirSync(sluiceDir, { recursive: true });
    // BENCH_CPU_PROF=dir: write a V8 CPU profile of the Sluice process there (diagnosis).
    const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [];
    const sluice = cleanup.spawn(process.execPath, [...profile, '--import', 'tsx', new URL(import.meta.url).pathname, '--serve', '--database', database, '--dir', sluiceDir, '--store-sync', storeSync, '--gate', gateMode], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, SLUICE_LOG_LEVEL: 'warn' },
    });
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
      gateMode === 'pipe'
        ? { name: 'sluice', port: ready.port, user: PG.user, env: { PGSSLMODE: 'disable' }, pid: sluice.pid! }
        : { name: 'sluice', port: ready.port, user: 'bench', env: { PGSSLMODE: 'disable', PGPASSWORD: ready.key }, pid: sluice.pid! },
    ];
    const dbFor = (t: Target) => (t.name === 'sluice' && gateMode !== 'pipe' ? 'bench' : database);

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
          ...(gateMode === 'pipe' ? { gate: 'pipe (not Sluice: a Node.js TCP relay copying bytes, the floor of any Node proxy)' } : {}),
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
      const errors: string[] = [];
      for (let r = 0; r < rounds; r++) {
        const order = [...targets.slice(r % 3), ...targets.slice(0, r % 3)];
        for (const t of order) {
          let result;
          try {
            result = await selectAll(t, dbFor(t));
          } catch (error) {
            errors.push(`${t.name}: ${(error as Error).message}`);
            console.log(JSON.stringify({ bench: 'select-all-psql', round: r + 1, target: t.name, error: (error as Error).message }));
            continue;
          }
          times[t.name]!.push(result.ms);
          if (t.name === 'sluice') masked ||= result.maskedSample;
          console.log(JSON.stringify({ bench: 'select-all-psql', round: r + 1, target: t.name, ms: Math.round(result.ms), bytes: result.bytes }));
        }
      }
      const m = (name: string) => (times[name]!.length > 0 ? median(times[name]!) : Number.NaN);
      const ms = (name: string) => (Number.isNaN(m(name)) ? null : Math.round(m(name)));
      const ratio = (a: string, b: string) => (Number.isNaN(m(a) / m(b)) ? null : round2(m(a) / m(b)));
      const line = {
        bench: 'select-all-psql',
        summary: true,
        rows: scale * 100_000,
        rounds,
        masked_column: 'filler',
        sluice_output_masked: masked,
        direct_ms: ms('direct'),
        pgbouncer_ms: ms('pgbouncer'),
        sluice_ms: ms('sluice'),
        sluice_vs_direct: ratio('sluice', 'direct'),
        sluice_vs_pgbouncer: ratio('sluice', 'pgbouncer'),
        pgbouncer_vs_direct: ratio('pgbouncer', 'direct'),
        ...(errors.length > 0 ? { errors } : {}),
      };
      summary.push(line);
      console.log(JSON.stringify(line));
    }
    console.log(JSON.stringify({ bench: 'postgres-door', final: true, node: process.version, cpus: cpus().length, summaries: summary }));
  } finally {
    await cleanup.run();
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
  // After SIGINT/SIGTERM the signal handler finishes the cleanup and exits.
  if (cleanup.interrupted) return;
  console.error(error instanceof SetupError ? error.message : error);
  process.exit(1);
});
