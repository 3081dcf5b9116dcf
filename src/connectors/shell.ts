// The shell connector: runs a command line that the gate has allowed, with bash, in a
// configured directory, with a scrubbed environment, a timeout and an output limit.
//
// Process model. The command runs as `bash -c COMMAND` in a new session (detached), so it
// leads its own session and process group and has no controlling terminal. Timeout, abort,
// close() and the hard output limit stop the WHOLE session (see process-session.ts): SIGTERM
// to the group and to every process whose session id is bash's pid, then SIGKILL after a
// grace period, repeated until none is left. So `sleep 100 & wait`, grandchildren, and
// processes that moved to another process group of the session (`timeout`, `set -m` jobs,
// setpgid after a double fork) die with it. When bash itself exits, whatever it left running
// in its session is terminated the same way: a command is not allowed to leave daemons
// behind the gate's back. Without /proc only the process group is killed. A process that
// calls setsid() leaves the session and escapes this; containing that needs cgroups and is
// out of scope here.
//
// Identity. With `runAs`, bash runs with that uid and gid (and no supplementary groups), so
// a connection can run as an unprivileged user who cannot read the gateway's environment,
// config or store. Switching users needs root (or CAP_SETUID and CAP_SETGID).
//
// Output. Each stream keeps at most `maxOutputBytes`; past that the bytes are read and
// dropped (so the command still runs to completion and its exit status is meaningful) and
// `truncated` is set. A command that keeps writing past `hardOutputLimitBytes` in total is
// killed with error `output_limit`: it is almost certainly runaway (`yes`), and draining it
// until the timeout would only burn CPU. Output is decoded as UTF-8 with replacement
// characters; a multi-byte character cut by the limit is dropped rather than mangled.

import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import type { Connector, ExecutionContext, ExecutionResult } from './connector.js';
import { OutputTimeline, attachOutputTiming } from './output-timing.js';
import { terminateSession } from './process-session.js';

export interface ShellConnectorOptions {
  /** Absolute working directory for every command. */
  cwd: string;
  /** Wall-clock limit per command; the command's session is killed when it passes. */
  timeoutMs: number;
  /** Bytes kept per stream (stdout, stderr); the rest is dropped and `truncated` set. */
  maxOutputBytes: number;
  /** Shell binary, run as `SHELL -c COMMAND`. Must be bash: the gate analyses bash. Default /bin/bash. */
  shell?: string;
  /** The complete environment of the child; nothing is inherited. See buildShellEnvironment. */
  env: Record<string, string>;
  /** Time between SIGTERM and SIGKILL when the command's session is stopped. Default 2000 ms. */
  killGraceMs?: number;
  /** Total bytes (both streams) after which a still-writing command is killed. Default 64 × maxOutputBytes, at least 1 MiB. */
  hardOutputLimitBytes?: number;
  /**
   * Run commands as this user and group instead of the gateway's own (spawn's `uid`/`gid`;
   * supplementary groups are dropped). Both are non-negative integers (at most 2^31-1). The
   * gateway must be root (or hold CAP_SETUID and CAP_SETGID) for this to work; otherwise
   * every command fails with `spawn_failed`. Use it so that commands cannot read the
   * gateway's own environment (/proc/<gateway>/environ), config or store files: keep those
   * unreadable by this user.
   *
   * `env` is not adjusted: build it so that HOME, USER and LOGNAME describe this user, not
   * the gateway's (buildShellEnvironment passes the gateway's through by default; set them
   * explicitly, e.g. `set: { HOME: '/nonexistent', USER: 'nobody', LOGNAME: 'nobody' }`).
   * `cwd` must be searchable (and usually readable) by this user: the directory is entered
   * before the user is switched, so an inaccessible one does not fail the spawn, it just
   * leaves the command unable to use it.
   */
  runAs?: { uid: number; gid: number };
}

const DEFAULT_SHELL = '/bin/bash';
const DEFAULT_KILL_GRACE_MS = 2000;
// After the session is gone, how long to wait for the pipes to reach EOF. Only a process
// that escaped the session can hold them open longer; we stop waiting rather than hang.
const STREAM_DRAIN_MS = 500;
// spawn() accepts uid/gid as int32; -1 would mean "unchanged".
const MAX_ID = 2_147_483_647;
// Linux limits one exec argument to 128 KiB (MAX_ARG_STRLEN, including the NUL); the
// command is one argument of `bash -c`. Checked up front for a clear error instead of E2BIG.
const MAX_COMMAND_BYTES = 128 * 1024 - 1;

type StopReason = 'timeout' | 'aborted' | 'output_limit';

export function createShellConnector(options: ShellConnectorOptions): Connector {
  const shell = options.shell ?? DEFAULT_SHELL;
  const killGraceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  const hardLimit = options.hardOutputLimitBytes ?? Math.max(options.maxOutputBytes * 64, 1024 * 1024);
  validateOptions(options, shell, killGraceMs, hardLimit);
  // Copy so later mutation of the caller's object cannot change what commands see.
  const env = { ...options.env };
  const runAs = options.runAs ? { uid: options.runAs.uid, gid: options.runAs.gid } : undefined;
  const running = new Set<Promise<ExecutionResult>>();
  const closing = new AbortController();
  let closed = false;

  return {
    kind: 'shell',
    async execute(command: string, context: ExecutionContext): Promise<ExecutionResult> {
      if (closed) return failure('closed', 'the shell connector has been closed');
      const run = runCommand(command, {
        cwd: options.cwd,
        shell,
        env,
        timeoutMs: options.timeoutMs,
        maxOutputBytes: options.maxOutputBytes,
        hardLimit,
        killGraceMs,
        runAs,
        signals: context.signal ? [context.signal, closing.signal] : [closing.signal],
      });
      running.add(run);
      try {
        return await run;
      } finally {
        running.delete(run);
      }
    },
    async close(): Promise<void> {
      closed = true;
      // Running commands are stopped like an abort; close() returns once their sessions are gone.
      closing.abort();
      await Promise.allSettled([...running]);
    },
  };
}

interface RunOptions {
  cwd: string;
  shell: string;
  env: Record<string, string>;
  timeoutMs: number;
  maxOutputBytes: number;
  hardLimit: number;
  killGraceMs: number;
  runAs: { uid: number; gid: number } | undefined;
  /** The caller's signal and the connector's close signal; any of them stops the command. */
  signals: AbortSignal[];
}

async function runCommand(command: string, o: RunOptions): Promise<ExecutionResult> {
  if (o.signals.some((s) => s.aborted)) return failure('aborted', 'the command was aborted before it started');
  if (command.includes('\0')) return failure('invalid_command', 'the command contains a NUL byte');
  const size = Buffer.byteLength(command);
  if (size > MAX_COMMAND_BYTES) {
    return failure(
      'command_too_long',
      `the command is ${size} bytes; the shell connector accepts at most ${MAX_COMMAND_BYTES} (put long scripts in a file)`,
    );
  }

  const cwdProblem = await checkDirectory(o.cwd);
  if (cwdProblem) return failure('spawn_failed', cwdProblem);

  let child;
  try {
    child = spawn(o.shell, ['-c', command], {
      cwd: o.cwd,
      env: o.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      // A new session: bash leads it and its process group (setsid in the child).
      detached: true,
      windowsHide: true,
      ...(o.runAs ? { uid: o.runAs.uid, gid: o.runAs.gid } : {}),
    });
  } catch (err) {
    // Node throws synchronously for some errors, EPERM from setuid/setgid among them.
    return failure('spawn_failed', spawnFailure(o, err));
  }

  const stdout = new CappedBuffer(o.maxOutputBytes);
  const stderr = new CappedBuffer(o.maxOutputBytes);
  let stopReason: StopReason | undefined;
  let sessionStopped: Promise<void> | undefined;
  // bash leads a new session, so its pid is also the session id and the process group id.
  const leader = child.pid;

  const stopSession = (): Promise<void> => {
    sessionStopped ??= leader === undefined ? Promise.resolve() : terminateSession(leader, o.killGraceMs);
    return sessionStopped;
  };
  const stop = (reason: StopReason) => {
    stopReason ??= reason;
    void stopSession();
  };

  // When output arrived, for session recordings (audit.recordings); times and counts only.
  const timeline = new OutputTimeline();
  const onData = (buffer: CappedBuffer) => (chunk: Buffer) => {
    timeline.note(buffer === stdout ? 'stdout' : 'stderr', buffer.push(chunk));
    if (stdout.total + stderr.total > o.hardLimit) stop('output_limit');
  };
  child.stdout.on('data', onData(stdout));
  child.stderr.on('data', onData(stderr));
  const streamsClosed = Promise.all([streamEnd(child.stdout), streamEnd(child.stderr)]);

  const timer = setTimeout(() => stop('timeout'), o.timeoutMs);
  const onAbort = () => stop('aborted');
  for (const s of o.signals) s.addEventListener('abort', onAbort, { once: true });

  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null } | { error: Error }>(
    (resolve) => {
      // `on`, not `once`: a second 'error' without a listener would crash the gateway.
      child.on('error', (error) => resolve({ error }));
      child.once('exit', (code, signal) => resolve({ code, signal }));
    },
  );
  clearTimeout(timer);
  for (const s of o.signals) s.removeEventListener('abort', onAbort);

  if ('error' in exit) {
    // Spawn failed (no such shell, not executable): there is no session to clean up.
    child.stdout.destroy();
    child.stderr.destroy();
    return failure('spawn_failed', spawnFailure(o, exit.error));
  }

  // bash is gone; stop anything it left behind in its session, then collect the last output.
  await stopSession();
  let drainTimer: NodeJS.Timeout | undefined;
  const drained = await Promise.race([
    streamsClosed.then(() => true),
    new Promise<boolean>((resolve) => (drainTimer = setTimeout(() => resolve(false), STREAM_DRAIN_MS))),
  ]);
  clearTimeout(drainTimer);
  if (!drained) {
    child.stdout.destroy();
    child.stderr.destroy();
  }

  const truncated = stdout.truncated || stderr.truncated;
  const result: ExecutionResult = {
    ok: false,
    stdout: stdout.text(),
    stderr: stderr.text(),
    exitCode: exit.code,
    signal: exit.signal,
    truncated,
    timedOut: stopReason === 'timeout',
  };
  attachOutputTiming(result, timeline.finish());
  if (stopReason === 'timeout') {
    result.error = { code: 'timeout', message: `the command did not finish within ${o.timeoutMs} ms and was killed` };
  } else if (stopReason === 'aborted') {
    result.error = { code: 'aborted', message: 'the command was aborted and killed' };
  } else if (stopReason === 'output_limit') {
    result.error = {
      code: 'output_limit',
      message: `the command wrote more than ${o.hardLimit} bytes of output and was killed`,
    };
  } else if (exit.code === 0) {
    result.ok = true;
  } else if (exit.code !== null) {
    result.error = { code: 'exit_status', message: `the command exited with status ${exit.code}` };
  } else {
    result.error = { code: 'signal', message: `the command was killed by ${exit.signal ?? 'a signal'}` };
  }
  return result;
}

/** Keeps the first `limit` bytes of a stream and counts the rest. */
class CappedBuffer {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  total = 0;
  truncated = false;

  constructor(private readonly limit: number) {}

  /** Keeps what fits and returns the part kept. */
  push(chunk: Buffer): Buffer {
    this.total += chunk.length;
    const room = this.limit - this.kept;
    if (room <= 0) {
      if (chunk.length > 0) this.truncated = true;
      return chunk.subarray(0, 0);
    }
    if (chunk.length > room) {
      const kept = chunk.subarray(0, room);
      this.chunks.push(kept);
      this.kept += room;
      this.truncated = true;
      return kept;
    }
    this.chunks.push(chunk);
    this.kept += chunk.length;
    return chunk;
  }

  text(): string {
    let bytes = Buffer.concat(this.chunks, this.kept);
    if (this.truncated) bytes = bytes.subarray(0, completeUtf8Length(bytes));
    return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  }
}

/**
 * Length of `bytes` without a trailing, incomplete UTF-8 sequence, so that a character cut
 * by the output limit disappears instead of becoming U+FFFD. Invalid bytes elsewhere are
 * left for the decoder to replace.
 */
export function completeUtf8Length(bytes: Uint8Array): number {
  const end = bytes.length;
  // A sequence is at most 4 bytes, so only the last 3 can start an incomplete one.
  for (let i = end - 1; i >= 0 && i >= end - 3; i--) {
    const b = bytes[i]!;
    if ((b & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return end - i < need ? i : end;
  }
  return end;
}

function streamEnd(stream: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve) => {
    stream.once('close', resolve);
    stream.once('end', resolve);
    stream.once('error', () => resolve());
  });
}

async function checkDirectory(dir: string): Promise<string | undefined> {
  try {
    const info = await stat(dir);
    if (!info.isDirectory()) return `the working directory ${dir} is not a directory`;
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return `the working directory ${dir} does not exist`;
    if (code === 'EACCES') return `the working directory ${dir} is not accessible`;
    return `the working directory ${dir} cannot be used: ${errorText(err)}`;
  }
}

function validateOptions(o: ShellConnectorOptions, shell: string, killGraceMs: number, hardLimit: number): void {
  if (typeof o.cwd !== 'string' || !isAbsolute(o.cwd)) {
    throw new TypeError('shell connector: cwd must be an absolute path');
  }
  if (!isAbsolute(shell)) throw new TypeError('shell connector: shell must be an absolute path');
  positive('timeoutMs', o.timeoutMs);
  // setTimeout fires at once for delays past 2^31-1 ms, which would kill every command.
  if (o.timeoutMs > 2_147_483_647) throw new TypeError('shell connector: timeoutMs is too large');
  positive('maxOutputBytes', o.maxOutputBytes);
  positive('killGraceMs', killGraceMs);
  positive('hardOutputLimitBytes', hardLimit);
  if (hardLimit < o.maxOutputBytes) {
    throw new TypeError('shell connector: hardOutputLimitBytes must be at least maxOutputBytes');
  }
  if (o.env === null || typeof o.env !== 'object') throw new TypeError('shell connector: env must be an object');
  for (const [name, value] of Object.entries(o.env)) checkEnvEntry(name, value);
  if (o.runAs !== undefined) {
    if (o.runAs === null || typeof o.runAs !== 'object') {
      throw new TypeError('shell connector: runAs must be an object with uid and gid');
    }
    for (const key of ['uid', 'gid'] as const) {
      const id: unknown = o.runAs[key];
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > MAX_ID) {
        throw new TypeError(`shell connector: runAs.${key} must be an integer from 0 to ${MAX_ID}`);
      }
    }
  }
}

function positive(name: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) {
    throw new TypeError(`shell connector: ${name} must be a positive number`);
  }
}

function spawnFailure(o: RunOptions, err: unknown): string {
  if (!o.runAs) return `could not start ${o.shell}: ${errorText(err)}`;
  const who = `as run_as uid ${o.runAs.uid} gid ${o.runAs.gid}`;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  let hint = '';
  if (code === 'EPERM') hint = ' (the gateway must run as root, or hold CAP_SETUID and CAP_SETGID, to use run_as)';
  else if (code === 'EACCES') hint = ` (the run_as user needs execute permission on ${o.shell} and its directories)`;
  return `could not start ${o.shell} ${who}: ${errorText(err)}${hint}`;
}

function failure(code: string, message: string): ExecutionResult {
  return { ok: false, error: { code, message } };
}

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'no such file';
    if (code === 'EACCES') return 'permission denied';
    if (code === 'EPERM') return 'operation not permitted';
    return err.message;
  }
  return String(err);
}

// ---------------------------------------------------------------------------------------
// Environment

/** Names passed through from the gateway's environment by default (when present). */
export const DEFAULT_SHELL_ENV_ALLOW: readonly string[] = [
  'PATH',
  'HOME',
  'LANG',
  'LC_ALL',
  'TZ',
  'TERM',
  'USER',
  'LOGNAME',
  'SHELL',
  'TMPDIR',
];

// Names that look like they carry a secret. Matching is deliberately broad: a false positive
// costs an explicit `set` in config, a false negative leaks a credential to an agent.
const SECRET_NAME_PATTERNS: readonly RegExp[] = [
  /^SLUICE_/i, // the gateway's own configuration and keys
  /TOKEN/i,
  /SECRET/i,
  /PASS/i, // PASSWORD, PASSWD, PGPASSFILE, PASSPHRASE
  /PWD$/i, // DB_PWD; PWD itself is handled below
  /KEY/i, // API_KEY, PRIVATE_KEY, PGSSLKEY
  /CREDENTIAL/i,
  /AUTH/i, // SSH_AUTH_SOCK would hand over the operator's SSH agent
  /COOKIE/i,
  /SESSION/i,
  /PRIVATE/i,
  /^AWS_/i,
  /^AZURE_/i,
  /^(GOOGLE|GCP|GCLOUD)_/i,
  /^(DATABASE|REDIS|MONGO(DB)?|AMQP|POSTGRES(QL)?|MYSQL)_?UR[IL]$/i, // connection URLs embed passwords
  /DSN$/i,
];

/** True when an environment variable name looks like it holds a secret. */
export function isSecretEnvName(name: string): boolean {
  if (name === 'PWD') return false;
  return SECRET_NAME_PATTERNS.some((re) => re.test(name));
}

// A URL with a password in it (`scheme://user:pass@host`), whatever the variable is called.
const URL_WITH_PASSWORD = /[a-z][a-z0-9+.-]*:\/\/[^\s/@]*:[^\s/@]*@/i;

export interface ShellEnvironmentOptions {
  /** Where passed-through values come from. Default: process.env. */
  base?: NodeJS.ProcessEnv;
  /** Extra names to pass through from `base`, in addition to DEFAULT_SHELL_ENV_ALLOW. */
  allow?: string[];
  /** Values set explicitly by configuration; always included, even if they look secret. */
  set?: Record<string, string>;
}

/**
 * Builds the environment for shell commands.
 *
 * Starts empty. Names in DEFAULT_SHELL_ENV_ALLOW and `allow` are copied from `base` when
 * present, EXCEPT names that look secret (SLUICE_*, *TOKEN*, *SECRET*, *PASS*, *KEY*, *AUTH*,
 * AWS_*, cloud credential prefixes, DATABASE_URL and similar) and values that are URLs with
 * an embedded password: those are dropped even when allowed by name, because an allow list
 * in config is easy to get wrong and the agent must never see the gateway's credentials.
 * Entries in `set` are then applied as given: setting a variable explicitly in config is the
 * one way to hand a value (even a secret-looking one) to commands.
 *
 * Throws TypeError for names or values the OS cannot carry (empty, `=` in a name, NUL).
 */
export function buildShellEnvironment(options: ShellEnvironmentOptions = {}): Record<string, string> {
  const base = options.base ?? process.env;
  const env: Record<string, string> = {};
  const names = new Set([...DEFAULT_SHELL_ENV_ALLOW, ...(options.allow ?? [])]);
  for (const name of names) {
    checkEnvName(name);
    const value = base[name];
    if (value === undefined || isSecretEnvName(name) || URL_WITH_PASSWORD.test(value) || value.includes('\0')) {
      continue;
    }
    env[name] = value;
  }
  for (const [name, value] of Object.entries(options.set ?? {})) {
    checkEnvEntry(name, value);
    env[name] = value;
  }
  return env;
}

function checkEnvName(name: string): void {
  if (typeof name !== 'string' || name.length === 0 || name.includes('=') || name.includes('\0')) {
    throw new TypeError(`invalid environment variable name ${JSON.stringify(name)}`);
  }
}

function checkEnvEntry(name: string, value: unknown): void {
  checkEnvName(name);
  if (typeof value !== 'string' || value.includes('\0')) {
    // The value is not echoed: it may be a secret.
    throw new TypeError(`environment variable ${name} must be a string without NUL bytes`);
  }
}
