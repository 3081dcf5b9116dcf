import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildShellEnvironment,
  completeUtf8Length,
  createShellConnector,
  isSecretEnvName,
  type ShellConnectorOptions,
} from '../../src/connectors/shell.js';

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

before(async () => {
  dir = await realpath(await mkdtemp(join(tmpdir(), 'sluice-shell-test-')));
});
after(async () => {
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
