// Shell session recordings: asciicast v2 files (https://docs.asciinema.org/manual/asciicast/v2/)
// that standard players open, one per executed shell command, written when `audit.recordings`
// names a directory.
//
// What is recorded is what the caller was shown: the gate hands the recorder the result AFTER
// injected secrets were cut out and the masking profile ran, so a recording never holds a value
// the agent did not see. The connector's timeline (connectors/output-timing.ts) says when each
// line arrived; the masked text is laid over it line by line.
//
// Control characters are written in caret notation (ESC as `^[`), except newlines and tabs:
// output is attacker-controlled, and a recording played in an auditor's terminal must not be
// able to drive that terminal (move the cursor over lines, retitle windows, hide text).
//
// The outcome record names the file by its path relative to the recordings directory, its size
// and its SHA-256, so an edited, swapped or truncated recording is detected on replay.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { isAbsolute, join, posix, resolve, sep } from 'node:path';
import type { SluiceConfig } from '../config/schema.js';
import type { ExecutionResult } from '../connectors/connector.js';
import { outputTimingOf, type OutputStream, type OutputTiming } from '../connectors/output-timing.js';
import type { OutputRecorder } from '../gate/gate.js';
import type { Action } from '../gate/types.js';
import { log } from '../util/log.js';

/** How an outcome record names its recording (`detail.recording`). */
export interface RecordingRef {
  /** Relative to the recordings directory, with `/` separators. */
  path: string;
  sha256: string;
  bytes: number;
}

export interface CastHeader {
  version: 2;
  width: number;
  height: number;
  timestamp?: number;
  duration?: number;
  command?: string;
  title?: string;
  env?: Record<string, string>;
}

/** One output event: seconds since the start, and the text written. */
export type CastEvent = [number, 'o', string];

export interface Cast {
  header: CastHeader;
  events: CastEvent[];
}

export class CastError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CastError';
  }
}

const WIDTH = 120;
const HEIGHT = 40;
const SAFE_NAME = /^[A-Za-z0-9_-]{1,100}$/;

/** The recordings directory from the config (relative to the config file), or undefined when off. */
export function recordingsPath(config: SluiceConfig, baseDir: string): string | undefined {
  const dir = config.audit.recordings;
  if (!dir) return undefined;
  return isAbsolute(dir) ? dir : resolve(baseDir, dir);
}

/** Writes one cast per executed shell command into `dir`. */
export class ShellRecorder implements OutputRecorder {
  constructor(private readonly dir: string) {}

  async record(action: Action, result: ExecutionResult): Promise<Record<string, unknown> | undefined> {
    if (action.connection.kind !== 'shell' || (result.stdout === undefined && result.stderr === undefined)) return undefined;
    try {
      const text = encodeCast(commandCast(action, result));
      return { ...(await this.write(action, text)) };
    } catch (error) {
      // The command has run and its outcome must still be recorded: the record says the
      // recording is missing and why, rather than the result being lost.
      const message = (error as Error).message;
      log.warn({ actionId: action.id, err: message }, 'could not write the session recording');
      return { error: message };
    }
  }

  private async write(action: Action, text: string): Promise<RecordingRef> {
    // Filed under the day it is written, not the day the action came in (a review hold or a
    // long command can take days): retention (recording-retention.ts) relies on the outcome
    // record that names it being written the same day or the next.
    const day = new Date().toISOString().slice(0, 10);
    const name = SAFE_NAME.test(action.id) ? action.id : createHash('sha256').update(action.id).digest('hex').slice(0, 32);
    const rel = posix.join(day, `${name}.cast`);
    const folder = join(this.dir, day);
    await mkdir(folder, { recursive: true, mode: 0o700 });
    const final = join(folder, `${name}.cast`);
    const temp = `${final}.${randomBytes(6).toString('hex')}.tmp`;
    const bytes = Buffer.from(text, 'utf8');
    // Written whole and synced before it is renamed into place: the outcome record will vouch
    // for this file, so it must not be seen half written or lost in a crash after the record.
    const file = await open(temp, 'wx', 0o600);
    try {
      await file.writeFile(bytes);
      await file.sync();
    } finally {
      await file.close();
    }
    try {
      await rename(temp, final);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    await syncDirectory(folder);
    return { path: rel, sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length };
  }
}

async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Some file systems refuse fsync on a directory; the file itself is synced.
  }
}

/** The cast of one command: the prompt line, then the output as the caller was shown it. */
export function commandCast(action: Action, result: ExecutionResult): Cast {
  const timing = outputTimingOf(result);
  const events: CastEvent[] = [[0, 'o', `$ ${terminalSafe(action.command)}\r\n`]];
  const output: { t: number; order: number; text: string }[] = [];
  let order = 0;
  for (const stream of ['stdout', 'stderr'] as const) {
    const text = result[stream];
    if (!text) continue;
    for (const { t, text: line } of timeLines(text, stream, timing)) output.push({ t, order: order++, text: line });
  }
  output.sort((a, b) => a.t - b.t || a.order - b.order);
  for (const o of output) events.push([o.t / 1000, 'o', terminalSafe(o.text)]);
  const end = (timing?.endMs ?? 0) / 1000;
  if (!result.ok && result.error) {
    const last = output[output.length - 1];
    const newline = last && !last.text.endsWith('\n') ? '\r\n' : '';
    events.push([end, 'o', `${newline}${terminalSafe(`[${result.error.message}]`)}\r\n`]);
  }
  const header: CastHeader = {
    version: 2,
    width: WIDTH,
    height: HEIGHT,
    // When the command started (after any review), not when it was decided.
    timestamp: Math.floor((Date.now() - (timing?.endMs ?? 0)) / 1000),
    duration: round6(end),
    command: terminalSafe(action.command),
    title: terminalSafe(`${action.principal.name} on ${action.connection.name} (session ${action.session})`),
    env: { SHELL: '/bin/bash', TERM: 'xterm-256color' },
  };
  return { header, events: monotonic(events) };
}

/**
 * The lines of a (masked) stream with the time each arrived. Line i of m is given the time of
 * raw line ⌊i·n/m⌋ of n: the same line when masking kept the line count (it almost always
 * does), and a close one when a redaction spanned lines.
 */
function timeLines(text: string, stream: OutputStream, timing: OutputTiming | undefined): { t: number; text: string }[] {
  const lines = text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  const slots: number[] = [];
  let lastT: number | undefined;
  for (const chunk of timing?.chunks ?? []) {
    if (chunk.stream !== stream) continue;
    for (let i = 0; i < chunk.lines; i++) slots.push(chunk.t);
    lastT = chunk.t;
  }
  // An unterminated last line arrived with the stream's last chunk.
  if (!text.endsWith('\n')) slots.push(lastT ?? timing?.endMs ?? 0);
  if (slots.length === 0) return lines.map((line) => ({ t: timing?.endMs ?? 0, text: line }));
  return lines.map((line, i) => ({ t: slots[Math.min(slots.length - 1, Math.floor((i * slots.length) / lines.length))]!, text: line }));
}

/** Newlines as a terminal shows them (CR LF), other control characters made visible. */
export function terminalSafe(text: string): string {
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  return text.replace(/\r\n/g, '\n').replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, caret).replace(/\n/g, '\r\n');
}

function caret(c: string): string {
  const code = c.charCodeAt(0);
  if (code < 0x20) return `^${String.fromCharCode(code + 64)}`;
  if (code === 0x7f) return '^?';
  return `<U+${code.toString(16).toUpperCase().padStart(4, '0')}>`;
}

function round6(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}

/** Times rounded to microseconds and never going backwards. */
function monotonic(events: CastEvent[]): CastEvent[] {
  let last = 0;
  return events.map(([t, kind, data]) => {
    last = Math.max(last, round6(Math.max(0, t)));
    return [last, kind, data];
  });
}

export function encodeCast(cast: Cast): string {
  return `${JSON.stringify(cast.header)}\n${cast.events.map((e) => JSON.stringify(e)).join('\n')}${cast.events.length ? '\n' : ''}`;
}

/** Parses and checks an asciicast v2 text: a header line, then events with times in order. */
export function parseCast(text: string): Cast {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0) throw new CastError('empty recording');
  const header = parseLine(lines[0]!, 1) as Partial<CastHeader> | unknown[];
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new CastError('line 1: the header must be a JSON object');
  if (header.version !== 2) throw new CastError('line 1: not an asciicast version 2 header');
  if (!positiveInt(header.width) || !positiveInt(header.height)) throw new CastError('line 1: width and height must be whole numbers >= 1');
  const events: CastEvent[] = [];
  let last = 0;
  for (let i = 1; i < lines.length; i++) {
    const e = parseLine(lines[i]!, i + 1);
    if (!Array.isArray(e) || e.length !== 3 || typeof e[0] !== 'number' || typeof e[1] !== 'string' || typeof e[2] !== 'string') {
      throw new CastError(`line ${i + 1}: an event must be [time, code, data]`);
    }
    if (!Number.isFinite(e[0]) || e[0] < last) throw new CastError(`line ${i + 1}: event time ${String(e[0])} goes backwards (previous ${last})`);
    last = e[0];
    if (e[1] === 'o') events.push([e[0], 'o', e[2]]);
  }
  return { header: header as CastHeader, events };
}

function parseLine(line: string, n: number): unknown {
  try {
    return JSON.parse(line) as unknown;
  } catch {
    throw new CastError(`line ${n}: not valid JSON`);
  }
}

function positiveInt(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1;
}

/** A recording reference as found in an outcome record's detail, or undefined when it is not one. */
export function recordingRefOf(detail: unknown): RecordingRef | { error: string } | undefined {
  const r = (detail as { recording?: unknown } | undefined)?.recording;
  if (typeof r !== 'object' || r === null) return undefined;
  const o = r as Record<string, unknown>;
  if (typeof o.error === 'string') return { error: o.error };
  if (typeof o.path !== 'string' || typeof o.sha256 !== 'string' || typeof o.bytes !== 'number') return undefined;
  return { path: o.path, sha256: o.sha256, bytes: o.bytes };
}

export type RecordingCheck =
  | { status: 'ok'; file: string; text: string }
  | { status: 'missing' | 'altered' | 'invalid'; file?: string; message: string };

/** Reads a recording and checks it against the size and SHA-256 its outcome record names. */
export async function readRecording(dir: string, ref: RecordingRef): Promise<RecordingCheck> {
  // The reference comes from the ledger; it must still not lead outside the directory.
  if (isAbsolute(ref.path) || ref.path.split(/[\\/]/).some((part) => part === '..' || part === '')) {
    return { status: 'invalid', message: `recording path ${JSON.stringify(ref.path)} is not a plain relative path` };
  }
  const root = resolve(dir);
  const file = resolve(root, ...ref.path.split('/'));
  if (!file.startsWith(root + sep)) return { status: 'invalid', message: `recording path ${JSON.stringify(ref.path)} leaves the recordings directory` };
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { status: 'missing', file, message: code === 'ENOENT' ? `recording ${file} is missing` : `recording ${file} cannot be read: ${(error as Error).message}` };
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (bytes.length !== ref.bytes || sha256 !== ref.sha256) {
    return {
      status: 'altered',
      file,
      message: `recording ${file} does not match its outcome record (${bytes.length} bytes, sha256 ${sha256}; the record says ${ref.bytes} bytes, sha256 ${ref.sha256})`,
    };
  }
  return { status: 'ok', file, text: bytes.toString('utf8') };
}

/**
 * One cast for a whole session from the casts of its commands, each shifted to when the
 * command ran (ms since the session's first record).
 */
export function sessionCast(title: string, startMs: number, parts: { offsetMs: number; cast: Cast }[]): Cast {
  const events: CastEvent[] = [];
  for (const { offsetMs, cast } of parts) {
    for (const [t, kind, data] of cast.events) events.push([offsetMs / 1000 + t, kind, data]);
  }
  const ordered = monotonic(events);
  return {
    header: {
      version: 2,
      // reduce, not Math.max(...spread): a long session has more parts than a call takes arguments.
      width: parts.reduce((w, p) => Math.max(w, p.cast.header.width), WIDTH),
      height: parts.reduce((h, p) => Math.max(h, p.cast.header.height), HEIGHT),
      timestamp: Math.floor(startMs / 1000),
      duration: ordered.length ? ordered[ordered.length - 1]![0] : 0,
      title: terminalSafe(title),
      env: { SHELL: '/bin/bash', TERM: 'xterm-256color' },
    },
    events: ordered,
  };
}
