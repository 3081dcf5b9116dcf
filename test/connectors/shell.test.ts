import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  buildShellEnvironment,
  completeUtf8Length,
  createShellConnector,
  isSecretEnvName,
  type ShellConnectorOptions,
} from '../../src/connectors/shell.js';
import { parseProcStat, sessionMembers } from '../../src/connectors/process-session.js';

const ctx = { session: 'test-session' };
let dir: string;
const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' };

function connector(overrides: Partial<ShellConnectorOptions> = {}) {
  return createShellConnector({ cwd: dir, timeoutMs: 10_000, maxOutputBytes: 64 * 1024, env, ...overrides });
}

// A killed orphan may stay a zombie until PID 1 reaps it; a zombie runs nothing, so it
// counts as dead here.
async function isAlive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

async function readPid(name: string): Promise<number> {
  const pid = Number((await readFile(join(dir, name), 'utf8')).trim());
  assert.ok(Number.isInteger(pid) && pid > 0, `pid file ${name} holds a pid`);
  return pid;
}

// Unique numbers used as the argument of long sleeps, so that /proc can tell whether any
// process of a test is still running. Random so that parallel runs do not collide.
const markerBase = 100_000 + Math.floor(Math.random() * 800_000) * 10;
let markerCount = 0;
const usedMarkers: string[] = [];
function marker(): string {
  const m = String(markerBase + markerCount++);
  usedMarkers.push(m);
  return m;
}

/** Pids of live processes with `arg` as one of their arguments (zombies have no cmdline). */
async function processesWithArg(arg: string): Promise<number[]> {
  const found: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const args = (await readFile(`/proc/${name}/cmdline`, 'utf8')).split('\0');
      if (args.includes(arg) && (await isAlive(Number(name)))) found.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

async function assertNoneLeft(arg: string): Promise<void> {
  const left = await processesWithArg(arg);
  assert.deepEqual(left, [], `processes with argument ${arg} are still running: ${left.join(', ')}`);
}

before(async () => {
  dir = await realpath(await mkdtemp(join(tmpdir(), 'sluice-shell-test-')));
});
after(async () => {
  // If a test failed, do not leave its 600-second sleeps behind.
  for (const m of usedMarkers) {
    for (const pid of await processesWithArg(m)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  await rm(dir, { recursive: true, force: true });
});

void describe('shell connector: running commands', () => {
  void it('captures stdout and stderr separately and reports exit 0 as ok', async () => {
    const c = connector();
    const r = await c.execute('echo out; echo err >&2', ctx);
    assert.equal(r.ok, true);
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
    assert.equal(r.exitCode, 0);
    assert.equal(r.signal, null);
    assert.equal(r.truncated, false);
    assert.equal(r.timedOut, false);
    assert.equal(r.error, undefined);
    await c.close();
  });

  void it('reports a non-zero exit status without throwing', async () => {
    const c = connector();
    const r = await c.execute('echo partial; exit 3', ctx);
    assert.equal(r.ok, false);
    assert.equal(r.exitCode, 3);
    assert.equal(r.stdout, 'partial\n');
    assert.deepEqual(r.error, { code: 'exit_status', message: 'the command exited with status 3' });
  });

  void it('reports death by signal', async () => {
    const r = await connector().execute('kill -USR1 $$', ctx);
    assert.equal(r.ok, false);
    assert.equal(r.exitCode, null);
    assert.equal(r.signal, 'SIGUSR1');
    assert.equal(r.error?.code, 'signal');
  });

  void it('runs with bash, not sh', async () => {
    const r = await connector().execute('a=(x y z); [[ ${#a[@]} == 3 ]] && echo "bash ${BASH_VERSINFO[0]}"', ctx);
    assert.equal(r.ok, true, r.stderr);
    assert.match(r.stdout ?? '', /^bash \d+\n$/);
  });

  void it('honours the working directory', async () => {
    const r = await connector().execute('pwd', ctx);
    assert.equal(r.stdout, `${dir}\n`);
  });

  void it('gives the command a closed stdin', async () => {
    // `cat` would block forever on an open stdin; with /dev/null it sees EOF at once.
    const r = await connector({ timeoutMs: 3000 }).execute('cat; echo done', ctx);
    assert.equal(r.ok, true);
    assert.equal(r.stdout, 'done\n');
  });

  void it('fails clearly when the working directory does not exist', async () => {
    const missing = join(dir, 'no-such-dir');
    const r = await connector({ cwd: missing }).execute('true', ctx);
    assert.equal(r.ok, false);
    assert.equal(r.error?.code, 'spawn_failed');
    assert.equal(r.error?.message, `the working directory ${missing} does not exist`);
  });

  void it('fails clearly when the working directory is a file', async () => {
    const file = join(dir, 'a-file');
    await writeFile(file, 'x');
    const r = await connector({ cwd: file }).execute('true', ctx);
    assert.equal(r.error?.code, 'spawn_failed');
    assert.match(r.error?.message ?? '', /is not a directory/);
  });

  void it('fails clearly when the shell does not exist', async () => {
    const r = await connector({ shell: '/nonexistent/bash' }).execute('true', ctx);
    assert.equal(r.ok, false);
    assert.equal(r.error?.code, 'spawn_failed');
    assert.match(r.error?.message ?? '', /could not start \/nonexistent\/bash: no such file/);
  });

  void it('refuses a command too long for one exec argument, and one with a NUL byte', async () => {
    const c = connector({ maxOutputBytes: 256 * 1024 });
    const long = await c.execute(`echo ${'x'.repeat(10 * 1024 * 1024)}`, ctx);
    assert.equal(long.ok, false);
    assert.equal(long.error?.code, 'command_too_long');
    assert.match(long.error?.message ?? '', /at most 131071/);
    const justFits = await c.execute(`printf %s ${'y'.repeat(128 * 1024 - 1 - 10)}`, ctx);
    assert.equal(justFits.ok, true, justFits.error?.message);
    assert.equal(justFits.stdout?.length, 128 * 1024 - 11);
    const nul = await c.execute('echo a\0b', ctx);
    assert.equal(nul.error?.code, 'invalid_command');
  });

  void it('rejects invalid options at construction', () => {
    assert.throws(() => connector({ cwd: 'relative/dir' }), TypeError);
    assert.throws(() => connector({ timeoutMs: 0 }), TypeError);
    assert.throws(() => connector({ timeoutMs: 2 ** 40 }), TypeError);
    assert.throws(() => connector({ maxOutputBytes: -1 }), TypeError);
    assert.throws(() => connector({ env: { 'A=B': 'x' } }), TypeError);
    assert.throws(() => connector({ maxOutputBytes: 1000, hardOutputLimitBytes: 10 }), TypeError);
  });
});

void describe('shell connector: stopping the process group', () => {
  void it('kills the whole group on timeout, background jobs and grandchildren included', async () => {
    const c = connector({ timeoutMs: 400, killGraceMs: 500 });
    const started = Date.now();
    const r = await c.execute(
      'sleep 100 & echo $! > t1-child; bash -c "sleep 101 & echo \\$! > t1-grandchild; wait" & wait',
      ctx,
    );
    const elapsed = Date.now() - started;
    assert.equal(r.ok, false);
    assert.equal(r.timedOut, true);
    assert.equal(r.error?.code, 'timeout');
    assert.match(r.error?.message ?? '', /did not finish within 400 ms/);
    assert.ok(elapsed < 5000, `returned after ${elapsed} ms`);
    assert.equal(await isAlive(await readPid('t1-child')), false, 'background child is dead');
    assert.equal(await isAlive(await readPid('t1-grandchild')), false, 'grandchild is dead');
  });

  void it('escalates to SIGKILL when the group ignores SIGTERM', async () => {
    const c = connector({ timeoutMs: 300, killGraceMs: 300 });
    const started = Date.now();
    // An ignored signal stays ignored across exec, so sleep ignores SIGTERM too.
    const r = await c.execute("trap '' TERM; sleep 100 & echo $! > t2-child; wait; wait", ctx);
    const elapsed = Date.now() - started;
    assert.equal(r.timedOut, true);
    assert.equal(r.signal, 'SIGKILL');
    assert.ok(elapsed >= 550 && elapsed < 5000, `returned after ${elapsed} ms`);
    assert.equal(await isAlive(await readPid('t2-child')), false);
  });

  void it('stops what a finished command left running in its group', async () => {
    const c = connector({ timeoutMs: 5000 });
    const started = Date.now();
    const r = await c.execute('sleep 100 & echo $! > t3-child; echo launched', ctx);
    assert.equal(r.ok, true);
    assert.equal(r.stdout, 'launched\n');
    assert.ok(Date.now() - started < 3000);
    assert.equal(await isAlive(await readPid('t3-child')), false);
  });

  void it('kills the group when the caller aborts', async () => {
    const c = connector({ timeoutMs: 30_000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const r = await c.execute('sleep 100 & echo $! > t4-child; wait', { session: 's', signal: controller.signal });
    assert.equal(r.ok, false);
    assert.equal(r.timedOut, false);
    assert.equal(r.error?.code, 'aborted');
    assert.equal(await isAlive(await readPid('t4-child')), false);
  });

  void it('does not start a command whose signal is already aborted', async () => {
    const r = await connector().execute('touch t5-ran', { session: 's', signal: AbortSignal.abort() });
    assert.equal(r.error?.code, 'aborted');
    await assert.rejects(readFile(join(dir, 't5-ran')));
  });

  void it('close() stops running commands and refuses new ones', async () => {
    const c = connector({ timeoutMs: 30_000 });
    const running = c.execute('sleep 100 & echo $! > t6-child; wait', ctx);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await c.close();
    const r = await running;
    assert.equal(r.error?.code, 'aborted');
    assert.equal(await isAlive(await readPid('t6-child')), false);
    const after = await c.execute('true', ctx);
    assert.equal(after.error?.code, 'closed');
  });
});

void describe('shell connector: stopping the whole session', () => {
  // `timeout` puts itself into a new process group of the same session, so a group kill
  // misses it and the sleep it watches. Everything in the session must still die.
  void it('kills `timeout CMD` on timeout, which leaves the process group', async () => {
    const m = marker();
    const c = connector({ timeoutMs: 1500, killGraceMs: 500 });
    const started = Date.now();
    const r = await c.execute(`timeout 600 sleep ${m}; echo done`, ctx);
    const elapsed = Date.now() - started;
    assert.equal(r.error?.code, 'timeout');
    assert.equal(r.stdout, '');
    assert.ok(elapsed < 5000, `returned after ${elapsed} ms`);
    await assertNoneLeft(m);
  });

  void it('kills a background `timeout CMD` on timeout', async () => {
    const m = marker();
    const r = await connector({ timeoutMs: 1500, killGraceMs: 500 }).execute(`timeout 600 sleep ${m} & wait`, ctx);
    assert.equal(r.error?.code, 'timeout');
    await assertNoneLeft(m);
  });

  void it('kills a double-forked orphan, also one in its own process group', async () => {
    const m1 = marker();
    const m2 = marker();
    const m3 = marker();
    // `set -m` (job control) gives each job its own process group even without a terminal.
    const r = await connector({ timeoutMs: 1500, killGraceMs: 500 }).execute(
      `(sleep ${m1} &) ; (set -m; (sleep ${m2} &); (timeout 600 sleep ${m3} &)) ; sleep 100`,
      ctx,
    );
    assert.equal(r.error?.code, 'timeout');
    await assertNoneLeft(m1);
    await assertNoneLeft(m2);
    await assertNoneLeft(m3);
  });

  void it('stops `timeout CMD` left running by a command that exits normally', async () => {
    const m = marker();
    const started = Date.now();
    const r = await connector({ timeoutMs: 5000, killGraceMs: 500 }).execute(
      `timeout 600 sleep ${m} & (set -m; sleep ${marker()} &); echo launched`,
      ctx,
    );
    assert.equal(r.ok, true, r.error?.message);
    assert.equal(r.stdout, 'launched\n');
    assert.ok(Date.now() - started < 3000);
    await assertNoneLeft(m);
    await assertNoneLeft(usedMarkers.at(-1)!);
  });

  void it('escalates to SIGKILL for a session member outside the group that ignores SIGTERM', async () => {
    const m = marker();
    const c = connector({ timeoutMs: 500, killGraceMs: 300 });
    // timeout forwards SIGTERM to sleep, which ignores it (inherited), and keeps waiting.
    const r = await c.execute(`trap '' TERM; timeout 600 sleep ${m} & wait`, ctx);
    assert.equal(r.error?.code, 'timeout');
    await assertNoneLeft(m);
  });

  void it('kills escaped session members on abort, close() and the hard output limit', async () => {
    const aborted = marker();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const a = await connector({ timeoutMs: 30_000, killGraceMs: 500 }).execute(`timeout 600 sleep ${aborted} & wait`, {
      session: 's',
      signal: controller.signal,
    });
    assert.equal(a.error?.code, 'aborted');
    await assertNoneLeft(aborted);

    const closed = marker();
    const c = connector({ timeoutMs: 30_000, killGraceMs: 500 });
    const running = c.execute(`timeout 600 sleep ${closed} & wait`, ctx);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await c.close();
    assert.equal((await running).error?.code, 'aborted');
    await assertNoneLeft(closed);

    const flooded = marker();
    const f = await connector({ maxOutputBytes: 1000, hardOutputLimitBytes: 1024 * 1024, killGraceMs: 500 }).execute(
      `timeout 600 sleep ${flooded} & yes`,
      ctx,
    );
    assert.equal(f.error?.code, 'output_limit');
    await assertNoneLeft(flooded);
  });

  void it('finds session members whose command name has spaces and parentheses', async () => {
    const m = marker();
    const odd = join(dir, 'x) (y z');
    await copyFile('/bin/sleep', odd);
    await chmod(odd, 0o755);
    const r = await connector({ timeoutMs: 1000, killGraceMs: 300 }).execute(
      `timeout 600 './x) (y z' ${m} & sleep 0.2; grep -l '(x) (y z) ' /proc/[0-9]*/stat 2>/dev/null | wc -l; wait`,
      ctx,
    );
    assert.equal(r.error?.code, 'timeout');
    assert.equal(r.stdout, '1\n', 'the odd command name showed up in /proc as expected');
    await assertNoneLeft(m);
  });

  void it('sessionMembers lists the live processes of a session from /proc', async () => {
    const child = spawn('/bin/bash', ['-c', 'timeout 60 sleep 60 & (sleep 60 &); wait'], {
      detached: true,
      stdio: 'ignore',
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const members = await sessionMembers(child.pid!);
      // bash, the subshell's orphaned sleep, timeout and its sleep.
      assert.equal(members?.length, 4, `members: ${members?.join(', ')}`);
      assert.ok(members?.includes(child.pid!));
      assert.deepEqual(await sessionMembers(process.pid), [], 'never lists the caller itself');
    } finally {
      for (const pid of (await sessionMembers(child.pid!)) ?? []) process.kill(pid, 'SIGKILL');
    }
  });

  void it('parseProcStat reads state, parent, group and session after a tricky command name', () => {
    const tail = ' 0 -1 4194560 96 0 0 0 0 0 0 0 20 0 1 0 1234 5000 100';
    assert.deepEqual(parseProcStat(`4321 (a) b (c) S 17 4300 4299${tail}`), {
      pid: 4321,
      state: 'S',
      ppid: 17,
      pgrp: 4300,
      session: 4299,
    });
    assert.deepEqual(parseProcStat(`7 (x) 1 2 3 4) Z 1 7 7${tail}`), { pid: 7, state: 'Z', ppid: 1, pgrp: 7, session: 7 });
    assert.deepEqual(parseProcStat(`8 () R 1 8 8${tail}`), { pid: 8, state: 'R', ppid: 1, pgrp: 8, session: 8 });
    assert.equal(parseProcStat(''), undefined);
    assert.equal(parseProcStat('garbage'), undefined);
    assert.equal(parseProcStat('9 (cut'), undefined);
    assert.equal(parseProcStat('9 (x) S 1 x 9'), undefined);
  });
});

void describe('shell connector: runAs', () => {
  const root = process.getuid?.() === 0;
  const nobody = { uid: 65534, gid: 65534 };

  void it('rejects an invalid runAs at construction', () => {
    for (const runAs of [
      { uid: -1, gid: 0 },
      { uid: 0, gid: -1 },
      { uid: 1.5, gid: 0 },
      { uid: 2 ** 31, gid: 0 },
      { uid: Number.NaN, gid: 0 },
      { uid: '0', gid: 0 },
      { uid: 0 },
      null,
    ]) {
      assert.throws(() => connector({ runAs: runAs as never }), TypeError, JSON.stringify(runAs));
    }
    assert.doesNotThrow(() => connector({ runAs: { uid: 0, gid: 0 } }));
  });

  void it(
    'runs commands as the given user, who cannot read the gateway environment or its files',
    { skip: root ? false : 'needs root' },
    async () => {
      const home = await realpath(await mkdtemp(join(tmpdir(), 'sluice-shell-runas-')));
      try {
        await chmod(home, 0o755);
        const secretFile = join(home, 'gateway-config.json');
        await writeFile(secretFile, '{"key":"gateway-secret"}', { mode: 0o600 });
        const c = connector({
          cwd: home,
          runAs: nobody,
          env: { ...env, HOME: '/nonexistent', USER: 'nobody', LOGNAME: 'nobody' },
        });
        const id = await c.execute('id -u; id -g; id -G; pwd; ls', ctx);
        assert.equal(id.ok, true, id.stderr);
        assert.equal(id.stdout, `65534\n65534\n65534\n${home}\ngateway-config.json\n`);

        const environ = await c.execute(`cat /proc/${process.pid}/environ`, ctx);
        assert.equal(environ.ok, false);
        assert.equal(environ.exitCode, 1);
        assert.equal(environ.stdout, '');
        assert.match(environ.stderr ?? '', /Permission denied/);

        const config = await c.execute(`cat ${secretFile}`, ctx);
        assert.equal(config.ok, false);
        assert.match(config.stderr ?? '', /Permission denied/);
        assert.doesNotMatch(config.stdout ?? '', /gateway-secret/);

        // The session kill reaches the other user's processes too.
        const m = marker();
        const t = await connector({ cwd: home, runAs: nobody, timeoutMs: 1000, killGraceMs: 300 }).execute(
          `timeout 600 sleep ${m} & wait`,
          ctx,
        );
        assert.equal(t.error?.code, 'timeout');
        await assertNoneLeft(m);
      } finally {
        await rm(home, { recursive: true, force: true });
      }
    },
  );

  void it(
    'fails with spawn_failed naming run_as when the user cannot run the shell',
    { skip: root ? false : 'needs root' },
    async () => {
      // A private directory (0700, root's) that nobody cannot traverse.
      const privateDir = join(dir, 'private');
      await mkdir(privateDir, { mode: 0o700 });
      const shell = join(privateDir, 'bash');
      await copyFile('/bin/bash', shell);
      await chmod(shell, 0o755);
      assert.equal((await connector({ shell }).execute('echo root can', ctx)).stdout, 'root can\n');
      const r = await connector({ shell, runAs: nobody }).execute('echo nobody cannot', ctx);
      assert.equal(r.ok, false);
      assert.equal(r.error?.code, 'spawn_failed');
      assert.equal(
        r.error?.message,
        `could not start ${shell} as run_as uid 65534 gid 65534: permission denied (the run_as user needs execute permission on ${shell} and its directories)`,
      );
    },
  );

  void it(
    'fails with spawn_failed naming run_as when the gateway may not switch users',
    { skip: root ? false : 'needs root (to start the unprivileged gateway)' },
    async () => {
      // Run a gateway-like process as nobody that asks for runAs root: setuid fails (EPERM).
      const scriptDir = await realpath(await mkdtemp(join(tmpdir(), 'sluice-shell-eperm-')));
      try {
        await chmod(scriptDir, 0o755);
        const script = join(scriptDir, 'probe.mts');
        const shellModule = fileURLToPath(new URL('../../src/connectors/shell.ts', import.meta.url));
        await writeFile(
          script,
          `import { createShellConnector } from ${JSON.stringify(shellModule)};\n` +
            `const c = createShellConnector({ cwd: '/', timeoutMs: 5000, maxOutputBytes: 1000, env: {}, runAs: { uid: 0, gid: 0 } });\n` +
            `console.log(JSON.stringify(await c.execute('id -u', { session: 's' })));\n`,
          { mode: 0o644 },
        );
        const child = spawn(process.execPath, ['--import', 'tsx', script], {
          cwd: fileURLToPath(new URL('../..', import.meta.url)),
          uid: nobody.uid,
          gid: nobody.gid,
          env: { PATH: env.PATH, HOME: scriptDir },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        let err = '';
        child.stdout.on('data', (b: Buffer) => (out += b.toString()));
        child.stderr.on('data', (b: Buffer) => (err += b.toString()));
        const code = await new Promise((resolve) => child.on('close', resolve));
        assert.equal(code, 0, err);
        const r = JSON.parse(out) as { ok: boolean; error?: { code: string; message: string } };
        assert.equal(r.ok, false);
        assert.equal(r.error?.code, 'spawn_failed');
        assert.match(r.error?.message ?? '', /^could not start \/bin\/bash as run_as uid 0 gid 0: operation not permitted/);
        assert.match(r.error?.message ?? '', /must run as root, or hold CAP_SETUID and CAP_SETGID/);
      } finally {
        await rm(scriptDir, { recursive: true, force: true });
      }
    },
  );
});

void describe('shell connector: output limits', () => {
  void it('keeps at most maxOutputBytes per stream and marks the result truncated', async () => {
    const c = connector({ maxOutputBytes: 1000 });
    const r = await c.execute("head -c 100000 /dev/zero | tr '\\0' a; head -c 5000 /dev/zero | tr '\\0' b >&2", ctx);
    assert.equal(r.ok, true, 'the command still completes');
    assert.equal(r.truncated, true);
    assert.equal(r.stdout, 'a'.repeat(1000));
    assert.equal(r.stderr, 'b'.repeat(1000));
  });

  void it('is not truncated at exactly the limit', async () => {
    const r = await connector({ maxOutputBytes: 10 }).execute('printf 0123456789', ctx);
    assert.equal(r.stdout, '0123456789');
    assert.equal(r.truncated, false);
  });

  void it('kills a command that keeps writing past the hard limit', async () => {
    const c = connector({ maxOutputBytes: 1000, hardOutputLimitBytes: 1024 * 1024, timeoutMs: 20_000 });
    const started = Date.now();
    const r = await c.execute('yes', ctx);
    assert.equal(r.ok, false);
    assert.equal(r.error?.code, 'output_limit');
    assert.equal(r.truncated, true);
    assert.equal(r.stdout?.length, 1000);
    assert.ok(Date.now() - started < 10_000);
  });

  void it('decodes UTF-8, drops a character cut by the limit and replaces invalid bytes', async () => {
    const cut = await connector({ maxOutputBytes: 5 }).execute("printf 'ééé'", ctx);
    assert.equal(cut.stdout, 'éé');
    assert.equal(cut.truncated, true);
    const invalid = await connector().execute("printf 'a\\xffb'", ctx);
    assert.equal(invalid.stdout, 'a\uFFFDb');
  });

  void it('completeUtf8Length trims only an incomplete trailing sequence', () => {
    const bytes = (s: string) => new TextEncoder().encode(s);
    assert.equal(completeUtf8Length(bytes('abc')), 3);
    assert.equal(completeUtf8Length(bytes('aé')), 3);
    assert.equal(completeUtf8Length(bytes('aé').subarray(0, 2)), 1);
    assert.equal(completeUtf8Length(bytes('a😀').subarray(0, 4)), 1);
    assert.equal(completeUtf8Length(bytes('a😀')), 5);
    assert.equal(completeUtf8Length(new Uint8Array([])), 0);
  });
});

void describe('shell environment', () => {
  void it('passes only the allowed, non-secret names and nothing is inherited', async () => {
    const base = {
      PATH: env.PATH,
      HOME: '/home/agent',
      SLUICE_SECRET: 'gateway-secret-value',
      SLUICE_MASTER_KEY: 'k',
      FOO_TOKEN: 'token-value',
      AWS_SECRET_ACCESS_KEY: 'aws',
      PGPASSWORD: 'pgpw',
      SSH_AUTH_SOCK: '/tmp/agent.sock',
      DATABASE_URL: 'postgres://app:pw@db/app',
      PROXY_LINK: 'http://user:hunter2@proxy:3128',
      MY_VAR: 'visible',
      NOT_ALLOWED: 'hidden',
    };
    const built = buildShellEnvironment({
      base,
      allow: ['SLUICE_SECRET', 'FOO_TOKEN', 'AWS_SECRET_ACCESS_KEY', 'PGPASSWORD', 'SSH_AUTH_SOCK', 'DATABASE_URL', 'PROXY_LINK', 'MY_VAR'],
    });
    assert.deepEqual(built, { PATH: env.PATH, HOME: '/home/agent', MY_VAR: 'visible' });

    // The gateway's own environment must not leak either: the child gets `env` and nothing else.
    process.env.SLUICE_TEST_LEAK = 'must-not-leak';
    try {
      const r = await connector({ env: built }).execute('env', ctx);
      assert.equal(r.ok, true);
      const names = (r.stdout ?? '')
        .trim()
        .split('\n')
        .map((line) => line.slice(0, line.indexOf('=')))
        .sort();
      // bash itself adds PWD, SHLVL and _.
      assert.deepEqual(names, ['HOME', 'MY_VAR', 'PATH', 'PWD', 'SHLVL', '_']);
      assert.doesNotMatch(r.stdout ?? '', /must-not-leak|gateway-secret-value|token-value/);
    } finally {
      delete process.env.SLUICE_TEST_LEAK;
    }
  });

  void it('includes values set explicitly by config, even secret-looking ones', () => {
    const built = buildShellEnvironment({ base: {}, set: { FOO_TOKEN: 'configured', TZ: 'UTC' } });
    assert.deepEqual(built, { FOO_TOKEN: 'configured', TZ: 'UTC' });
  });

  void it('uses the default allow list from process.env', () => {
    const built = buildShellEnvironment();
    for (const name of Object.keys(built)) {
      assert.ok(['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TERM', 'USER', 'LOGNAME', 'SHELL', 'TMPDIR'].includes(name));
    }
  });

  void it('classifies secret-looking names', () => {
    for (const name of ['SLUICE_API_KEY', 'GITHUB_TOKEN', 'client_secret', 'DB_PASSWORD', 'PGPASSFILE', 'AWS_REGION', 'OPENAI_API_KEY', 'GOOGLE_APPLICATION_CREDENTIALS', 'SSH_AUTH_SOCK', 'REDIS_URL', 'DB_PWD']) {
      assert.equal(isSecretEnvName(name), true, name);
    }
    for (const name of ['PATH', 'HOME', 'LANG', 'PWD', 'TERM', 'TMPDIR', 'EDITOR']) {
      assert.equal(isSecretEnvName(name), false, name);
    }
  });

  void it('rejects names and values the OS cannot carry, without echoing the value', () => {
    assert.throws(() => buildShellEnvironment({ set: { '': 'x' } }), TypeError);
    assert.throws(() => buildShellEnvironment({ allow: ['A=B'] }), TypeError);
    assert.throws(
      () => buildShellEnvironment({ set: { API: 'sec\0ret' } }),
      (err: Error) => err instanceof TypeError && !err.message.includes('sec'),
    );
  });
});
