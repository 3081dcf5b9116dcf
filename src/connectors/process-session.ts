// Stopping everything a shell command started.
//
// The shell connector starts each command as the leader of a new session (and therefore of
// a new process group whose id is the same number). Killing the process group is not
// enough: `timeout`, job control (`set -m`) and any program calling setpgid() move
// themselves into another group of the SAME session, and survive a group kill. A session
// can only be left with setsid(), so on Linux we kill by session: every process whose
// session id (field 6 of /proc/PID/stat) is the leader's pid. The group is still signalled
// as well, which is atomic for the processes that stayed in it and is the only mechanism
// where /proc is not available.
//
// Why the session id is a safe key: Linux does not hand out a pid number again while any
// process still uses it as a process, group or session id, so as long as one process of the
// session lives, no unrelated process can have that number as its session id. Individual
// pids read from /proc are signalled a moment later; a pid could in principle be reused in
// between (the process exits, is reaped, and the pid space wraps around to it), which this
// code accepts as it needs thousands of process creations within a few milliseconds.
//
// Not contained: a process that calls setsid() (e.g. `setsid sleep 100`) leaves the session.
// Containing that needs cgroups (or a pid namespace) and is out of scope here.

import { readdir } from 'node:fs/promises';
import { readFileSync } from 'node:fs';

const POLL_MS = 25;
// /proc/PID/stat is generated in memory; reading it synchronously takes microseconds, while
// an async read costs four thread-pool round trips. Every command ends with a scan, so the
// scan reads synchronously in chunks and yields to the event loop between them.
const SCAN_CHUNK = 128;
// After SIGKILL, how long to keep re-killing and waiting for the session to empty. SIGKILL
// cannot be ignored; this bounds the wait for the kernel (and for a process that keeps
// forking new members faster than we see them), so that nothing can hang the gate.
const KILL_PHASE_MS = 2000;

export interface ProcStat {
  pid: number;
  /** One letter: R, S, D, Z (zombie), T, X (dead), ... */
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
}

/**
 * Parses the fields up to the session id of a /proc/PID/stat line: `pid (comm) state ppid
 * pgrp session ...`. The command name (comm) is in parentheses and may itself contain
 * spaces and parentheses, so the fields after it are found from the LAST `)`: every later
 * field is a number or the one-letter state, none contains `)`.
 */
export function parseProcStat(text: string): ProcStat | undefined {
  const open = text.indexOf(' (');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const pid = Number(text.slice(0, open));
  const fields = text.slice(close + 2).split(' ');
  const [state, ppid, pgrp, session] = [fields[0], Number(fields[1]), Number(fields[2]), Number(fields[3])];
  if (!state || !/^[A-Za-z]$/.test(state)) return undefined;
  if (![pid, ppid, pgrp, session].every((n) => Number.isInteger(n) && n >= 0)) return undefined;
  return { pid, state, ppid, pgrp, session };
}

let procUsable: boolean | undefined;

/** Whether /proc is a Linux procfs we can read: our own stat entry parses and names us. */
function procfsUsable(): boolean {
  if (procUsable === undefined) {
    try {
      procUsable = parseProcStat(readFileSync(`/proc/${process.pid}/stat`, 'utf8'))?.pid === process.pid;
    } catch {
      procUsable = false;
    }
  }
  return procUsable;
}

/**
 * Pids of the live (not zombie) processes in session `sid` or process group `sid`, from a
 * scan of /proc. Zombies run nothing; killed orphans are reaped by PID 1, which in
 * containers can take long or never happen, so they must not count as survivors.
 * Undefined when /proc cannot be used.
 */
export async function sessionMembers(sid: number): Promise<number[] | undefined> {
  if (!procfsUsable()) return undefined;
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return undefined;
  }
  const pids: number[] = [];
  const numeric = entries.filter((name) => /^\d+$/.test(name));
  for (let i = 0; i < numeric.length; i += SCAN_CHUNK) {
    if (i > 0) await new Promise((resolve) => setImmediate(resolve));
    for (const name of numeric.slice(i, i + SCAN_CHUNK)) {
      const st = readStat(name);
      if (st === undefined || st.state === 'Z' || st.state === 'X') continue;
      // A process group never spans sessions, so `pgrp === sid` is implied by `session === sid`;
      // it is checked as well for robustness. Never ourselves, never init.
      if ((st.session === sid || st.pgrp === sid) && st.pid !== process.pid && st.pid > 1) pids.push(st.pid);
    }
  }
  return pids;
}

function readStat(pid: string): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined; // exited since readdir
  }
}

/**
 * Stops every process of the session led by `leader` (which also leads the process group
 * of the same id): SIGTERM to the group and to each member, up to `graceMs` for them to
 * go (members that appear meanwhile are sent SIGTERM too), then SIGKILL, repeated until no
 * member is left or a bound passes. Returns at once when nothing is left. Without /proc,
 * only the process group is signalled and probed.
 */
export async function terminateSession(leader: number, graceMs: number): Promise<void> {
  // kill(0) and kill(-1) mean "our own group" and "every process we may signal".
  if (!Number.isInteger(leader) || leader <= 1) return;
  let members = await liveMembers(leader);
  if (!members) return;

  const termed = new Set<number>();
  signalMembers(leader, members, 'SIGTERM', termed);
  const termDeadline = Date.now() + graceMs;
  for (;;) {
    await delay(POLL_MS);
    members = await liveMembers(leader);
    if (!members) return;
    if (Date.now() >= termDeadline) break;
    // Forked since the last round: ask those too, so they get the same grace.
    signalMembers(
      leader,
      members.filter((pid) => !termed.has(pid)),
      'SIGTERM',
      termed,
      false,
    );
  }

  const killDeadline = Date.now() + KILL_PHASE_MS;
  for (;;) {
    signalMembers(leader, members, 'SIGKILL');
    await delay(POLL_MS);
    members = await liveMembers(leader);
    if (!members || Date.now() >= killDeadline) return;
  }
}

/** Live members (empty array when /proc is unavailable but the group still exists), or undefined when none are left. */
async function liveMembers(leader: number): Promise<number[] | undefined> {
  const pids = await sessionMembers(leader);
  if (pids === undefined) return signalGroup(leader, 0) ? [] : undefined;
  return pids.length > 0 ? pids : undefined;
}

function signalMembers(
  leader: number,
  pids: number[],
  signal: NodeJS.Signals,
  record?: Set<number>,
  includeGroup = true,
): void {
  if (includeGroup) signalGroup(leader, signal);
  for (const pid of pids) {
    if (pid <= 1 || pid === process.pid) continue;
    try {
      process.kill(pid, signal);
    } catch {
      // ESRCH: gone since the scan. EPERM: not ours to signal (cannot be a member then).
    }
    record?.add(pid);
  }
}

/** Sends a signal to every process in the group; false when the group no longer exists. */
function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    // ESRCH: the group is empty. EPERM would mean the id now belongs to someone else's
    // group; either way there is nothing of ours left to signal.
    return false;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
