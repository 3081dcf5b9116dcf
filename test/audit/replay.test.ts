// Session replay and shell recordings: a real session through the gate (real PostgreSQL, real
// bash), read back as a timeline and as an asciicast, and a tampered recording detected.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startRuntime, type Runtime } from '../../src/app/runtime.js';
import { decideReview } from '../../src/approvals/reviews.js';
import { parseCast, readRecording, recordingRefOf, ShellRecorder, terminalSafe } from '../../src/audit/recording.js';
import { formatReplayText, loadSessionReplay, parseTimeArg, type SessionReplay } from '../../src/audit/replay.js';
import { loadConfigFile } from '../../src/config/load.js';
import { createShellConnector } from '../../src/connectors/shell.js';
import { outputTimingOf } from '../../src/connectors/output-timing.js';
import { unknownIntent } from '../../src/gate/gate.js';
import type { Action, Principal } from '../../src/gate/types.js';
import { directSql, tempDir, uniqueName } from '../helpers.js';

const BIN = resolve('bin/sluice.mjs');
const SESSION = 'replay-session-1';
const TOKEN = 'tok-replay-9c1e77-injected';

function sluice(args: string[], cwd: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, SLUICE_LOG_LEVEL: 'silent' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const copilot: Principal = { kind: 'agent', name: 'copilot', groups: ['agents'], onBehalfOf: 'alice' };

describe('sluice audit replay of a real session', () => {
  const dir = tempDir('sluice-replay-');
  const cwd = dir.path;
  const table = uniqueName('replay_items');
  let runtime: Runtime;
  let replay: SessionReplay;

  before(async () => {
    mkdirSync(join(cwd, 'files'));
    await directSql(`CREATE TABLE ${table} (id int PRIMARY KEY, email text, note text)`);
    await directSql(`INSERT INTO ${table} VALUES (1, 'ada@example.com', 'a'), (2, 'bob@example.com', 'b')`);
    process.env.SLUICE_TEST_REPLAY_TOKEN = TOKEN;
    writeFileSync(
      join(cwd, 'sluice.yaml'),
      `store: { url: sqlite:store/sluice.db }
connections:
  db: { kind: postgres, database: test, user: root, policy: guarded, mask: pii, max_connections: 2 }
  sh: { kind: shell, cwd: files, timeout: 10s, policy: read-only, mask: pii, env: { set: { API_TOKEN: { env: SLUICE_TEST_REPLAY_TOKEN } } } }
masking:
  profiles:
    pii: { detectors: [pii] }
approvals: { timeout: 20s }
audit: { recordings: recordings }
`,
    );
    runtime = await startRuntime(loadConfigFile(join(cwd, 'sluice.yaml')));
    const run = (connection: string, command: string) => runtime.gate.run({ principal: copilot, session: SESSION, connection, door: 'api', command });

    const first = await run('sh', 'echo "write to carol@example.org"; sleep 0.3; echo second line; echo warning >&2; printenv API_TOKEN');
    assert.equal(first.status, 'executed');
    assert.equal(first.decision.effect, 'allow');
    assert.equal((await run('sh', 'touch nope')).status, 'denied');
    const select = await run('db', `SELECT id, email FROM ${table} ORDER BY id`);
    assert.equal(select.status, 'executed');
    // A write is held until a human approves it.
    const update = run('db', `UPDATE ${table} SET note = 'approved' WHERE id = 1`);
    let reviewId: string | undefined;
    for (let i = 0; i < 200 && !reviewId; i++) {
      await new Promise((r) => setTimeout(r, 25));
      reviewId = (await runtime.store.listReviews({ status: 'pending' })).find((r) => (r.action as { session?: string }).session === SESSION)?.id;
    }
    assert.ok(reviewId, 'the update is held for review');
    await decideReview(runtime.store, runtime.ledger, reviewId, 'approved', 'bob');
    assert.equal((await update).status, 'executed');
    const escape = await run('sh', "printf '\\033]0;pwned\\007title\\033[2Jcleared\\n'");
    assert.equal(escape.status, 'executed');
    await runtime.ledger.flush();
    replay = (await loadSessionReplay(runtime.store, SESSION))!;
    await runtime.close();
  });

  after(async () => {
    await directSql(`DROP TABLE IF EXISTS ${table}`);
    dir.remove();
  });

  it('groups the records into one step per command, with who, decision, approver and result', () => {
    assert.ok(replay);
    assert.deepEqual(replay.actors, [{ name: 'copilot', kind: 'agent', onBehalfOf: 'alice' }]);
    assert.deepEqual(replay.connections, ['sh', 'db']);
    assert.equal(replay.steps.length, 5);
    assert.deepEqual(
      replay.steps.map((s) => [s.connection, s.effect, s.outcome?.outcome]),
      [
        ['sh', 'allow', 'succeeded'],
        ['sh', 'deny', undefined],
        ['db', 'allow', 'succeeded'],
        ['db', 'review', 'succeeded'],
        ['sh', 'allow', 'succeeded'],
      ],
    );
    const [shell, denied, select, update] = replay.steps;
    assert.equal(denied!.rule, 'read-only@sh/deny-write');
    assert.match(denied!.reason!, /writes are not allowed/);
    assert.equal(select!.outcome!.rows, 2);
    assert.deepEqual(select!.outcome!.masked?.columns, ['email']);
    assert.equal(update!.rule, 'guarded@db/review-writes');
    assert.ok(update!.reviews.some((r) => r.status === 'approved' && r.approver === 'bob'));
    assert.equal(update!.outcome!.approver, 'bob');
    assert.equal(update!.outcome!.rows, 1);
    assert.equal(shell!.outcome!.exitCode, 0);
    assert.equal(shell!.outcome!.secretsRedacted, 1);
    assert.ok((shell!.outcome!.masked?.values ?? 0) >= 1);
    assert.ok(shell!.intent?.class);
    assert.deepEqual(replay.counts, { commands: 5, allowed: 3, denied: 1, reviewed: 1, approved: 1, executed: 4, failed: 0 });
    // Offsets grow with the timeline.
    const offsets = replay.steps.map((s) => s.offsetMs);
    assert.deepEqual([...offsets].sort((a, b) => a - b), offsets);
  });

  it('prints the timeline as text and JSON from the CLI, recordings verified', () => {
    const text = sluice(['audit', 'replay', SESSION], cwd);
    assert.equal(text.code, 0, text.stderr + text.stdout);
    assert.match(text.stdout, /who +copilot \(agent\) for alice/);
    assert.match(text.stdout, /deny {2}rule read-only@sh\/deny-write {2}\[write\] {2}on sh/);
    assert.match(text.stdout, /command {2}touch nope\n {4}reason {3}read-only: writes are not allowed/);
    assert.match(text.stdout, /review .* approved by bob/);
    assert.match(text.stdout, /result .*succeeded, 1 row, [\d.]+ ms; approved by bob/);
    assert.match(text.stdout, /masked {3}2 values masked; columns email; email 2/);
    assert.match(text.stdout, /masked {3}1 value masked; email 1/);
    assert.match(text.stdout, /1 injected secret\(s\) cut out/);
    assert.match(text.stdout, /recording \d{4}-\d{2}-\d{2}\/[\w-]+\.cast \(verified\)/);
    // A command's control characters are shown, never sent to the auditor's terminal.
    assert.ok(!text.stdout.includes('\u001b'));
    assert.match(text.stdout, /printf '\\033\]0;pwned/);
    assert.equal(text.stdout, formatReplayText({ ...replay, steps: replay.steps.map((s) => (s.outcome?.recording ? { ...s, recordingCheck: { status: 'ok' as const } } : s)) }));

    const json = sluice(['audit', 'replay', SESSION, '--json'], cwd);
    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout) as SessionReplay;
    assert.equal(parsed.session, SESSION);
    assert.equal(parsed.steps.length, 5);
    assert.equal(parsed.steps[0]!.recordingCheck?.status, 'ok');

    const missing = sluice(['audit', 'replay', 'no-such-session'], cwd);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no records of session "no-such-session"/);
  });

  it('lists the session among those in a period', () => {
    const all = sluice(['audit', 'sessions', '--json'], cwd);
    assert.equal(all.code, 0, all.stderr);
    const sessions = JSON.parse(all.stdout) as { session: string; commands: number; denied: number; reviewed: number; actors: unknown[] }[];
    const mine = sessions.find((s) => s.session === SESSION);
    assert.ok(mine);
    assert.equal(mine.commands, 5);
    assert.equal(mine.denied, 1);
    assert.equal(mine.reviewed, 1);
    const text = sluice(['audit', 'sessions', '--from', '1h'], cwd);
    assert.match(text.stdout, new RegExp(`${SESSION}  copilot \\(agent\\) for alice  on sh, db  5 commands, 1 denied, 1 reviewed`));
    const later = sluice(['audit', 'sessions', '--from', new Date(Date.now() + 3_600_000).toISOString()], cwd);
    assert.equal(later.stdout, 'no sessions in this period\n');
    assert.equal(sluice(['audit', 'sessions', '--from', 'yesterday'], cwd).code, 2);
  });

  it('records each shell command as an asciicast v2 file named with its hash in the outcome record', () => {
    const shellSteps = replay.steps.filter((s) => s.connection === 'sh' && s.outcome);
    assert.equal(shellSteps.length, 2);
    const ref = recordingRefOf({ recording: shellSteps[0]!.outcome!.recording });
    assert.ok(ref && !('error' in ref));
    const file = join(cwd, 'recordings', ...ref.path.split('/'));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const text = readFileSync(file, 'utf8');
    assert.equal(Buffer.byteLength(text), ref.bytes);
    const cast = parseCast(text);
    assert.equal(cast.header.version, 2);
    assert.equal(cast.header.command, shellSteps[0]!.command);
    const output = cast.events.map((e) => e[2]).join('');
    assert.ok(output.startsWith('$ echo "write to hmac:'), 'the command line is echoed as the prompt, as the ledger keeps it (the email as its digest)');
    assert.ok(!text.includes('carol@example.org'), 'no clear value anywhere in the recording');
    // What the agent saw: the email masked, the injected token cut out, stderr included.
    const body = output.slice(output.indexOf('\r\n'));
    assert.ok(!body.includes('carol@example.org'), body);
    assert.ok(!text.includes(TOKEN));
    assert.match(body, /write to \S+\r\n/);
    assert.match(body, /second line\r\n/);
    assert.match(body, /warning\r\n/);
    assert.match(body, /\[secret\]\r\n/);
    // The sleep between the lines is in the event times.
    const at = (needle: string) => cast.events.slice(1).find((e) => e[2].includes(needle))![0];
    assert.ok(at('second line') - at('write to') >= 0.25, `times ${at('write to')} .. ${at('second line')}`);
    // No recording for the denied command or the SQL ones.
    assert.equal(readdirSync(join(cwd, 'recordings', ref.path.split('/')[0]!)).filter((f) => f.endsWith('.cast')).length, 2);
  });

  it('makes control characters visible in recordings', () => {
    const step = replay.steps[4]!;
    const ref = recordingRefOf({ recording: step.outcome!.recording });
    assert.ok(ref && !('error' in ref));
    const text = readFileSync(join(cwd, 'recordings', ...ref.path.split('/')), 'utf8');
    const cast = parseCast(text);
    const output = cast.events.map((e) => e[2]).join('');
    assert.ok(!output.includes('\u001b') && !output.includes('\u0007'));
    assert.match(output, /\^\[\]0;pwned\^Gtitle\^\[\[2Jcleared\r\n/);
    assert.equal(terminalSafe('a\r\nb\rc\n'), 'a\r\nb^Mc\r\n');
  });

  it('prints the whole session as one cast that players open', () => {
    const out = sluice(['audit', 'replay', SESSION, '--cast', '--out', 'session.cast'], cwd);
    assert.equal(out.code, 0, out.stderr);
    const cast = parseCast(readFileSync(join(cwd, 'session.cast'), 'utf8'));
    assert.equal(cast.header.version, 2);
    assert.ok(cast.header.width >= 80 && cast.header.height >= 24);
    const prompts = cast.events.filter((e) => e[2].startsWith('$ '));
    assert.equal(prompts.length, 2);
    // The second command starts after the first one's output, at its offset in the session.
    const times = cast.events.map((e) => e[0]);
    assert.deepEqual([...times].sort((a, b) => a - b), times);
    assert.ok(prompts[1]![0] >= times[times.indexOf(prompts[0]![0]) + 1]!);
    const stdout = sluice(['audit', 'replay', SESSION, '--cast'], cwd);
    assert.equal(stdout.stdout, readFileSync(join(cwd, 'session.cast'), 'utf8'));
  });

  it('detects a recording changed after the fact', () => {
    const ref = recordingRefOf({ recording: replay.steps[0]!.outcome!.recording });
    assert.ok(ref && !('error' in ref));
    const file = join(cwd, 'recordings', ...ref.path.split('/'));
    const original = readFileSync(file, 'utf8');
    writeFileSync(file, original.replace('second line', 'harmless!!!'));
    const text = sluice(['audit', 'replay', SESSION], cwd);
    assert.equal(text.code, 1);
    assert.match(text.stdout, /recording \S+ \(ALTERED: recording .* does not match its outcome record/);
    const cast = sluice(['audit', 'replay', SESSION, '--cast'], cwd);
    assert.equal(cast.code, 1);
    assert.equal(cast.stdout, '');
    assert.match(cast.stderr, /cannot replay the recording:\n {2}record \d+: recording .* does not match its outcome record/);
    writeFileSync(file, original);
    assert.equal(sluice(['audit', 'replay', SESSION], cwd).code, 0);
  });

  it('parses --from and --to as ISO times or durations ago', () => {
    const now = Date.parse('2026-11-24T12:00:00.000Z');
    assert.equal(parseTimeArg('24h', now), '2026-11-23T12:00:00.000Z');
    assert.equal(parseTimeArg('2026-11-20', now), '2026-11-20T00:00:00.000Z');
    assert.throws(() => parseTimeArg('last week', now), /not a time/);
  });
});

describe('shell recorder', () => {
  const action = (id: string): Action => ({
    id,
    time: new Date(),
    principal: copilot,
    session: 's',
    connection: { name: 'sh', kind: 'shell', labels: {} },
    door: 'api',
    command: 'echo one; printf two',
    intent: unknownIntent('shell', 'not analysed in this test'),
  });

  it('keeps the output timeline out of what callers get as JSON', async () => {
    const connector = createShellConnector({ cwd: '/tmp', timeoutMs: 5000, maxOutputBytes: 4096, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    try {
      const result = await connector.execute('echo one; printf two', { session: 's' });
      assert.deepEqual(JSON.parse(JSON.stringify(result)), { ok: true, stdout: 'one\ntwo', stderr: '', exitCode: 0, signal: null, truncated: false, timedOut: false });
      const timing = outputTimingOf({ ...result });
      assert.ok(timing && timing.chunks.length >= 1 && timing.chunks.every((c) => c.stream === 'stdout'));
      assert.equal(timing.chunks.reduce((n, c) => n + c.lines, 0), 1);
    } finally {
      await connector.close();
    }
  });

  it('says in the outcome detail when a recording cannot be written, without failing the command', async () => {
    const dir = tempDir('sluice-recorder-');
    try {
      writeFileSync(join(dir.path, 'not-a-dir'), '');
      const failed = await new ShellRecorder(join(dir.path, 'not-a-dir')).record(action('a1'), { ok: true, stdout: 'x\n', stderr: '' });
      assert.match(String(failed?.error), /ENOTDIR|not a directory/);
      const written = await new ShellRecorder(join(dir.path, 'rec')).record(action('a2'), { ok: true, stdout: 'x\n', stderr: '' });
      assert.equal(typeof written?.sha256, 'string');
      // Not a shell connection, or nothing ran: nothing to record.
      assert.equal(await new ShellRecorder(join(dir.path, 'rec')).record({ ...action('a3'), connection: { name: 'db', kind: 'postgres', labels: {} } }, { ok: true, rows: [] }), undefined);
      assert.equal(await new ShellRecorder(join(dir.path, 'rec')).record(action('a4'), { ok: false, error: { code: 'spawn_failed', message: 'x' } }), undefined);
    } finally {
      dir.remove();
    }
  });

  it('refuses recording paths that leave the recordings directory', async () => {
    for (const path of ['../outside.cast', '/etc/passwd', 'a//b.cast']) {
      assert.equal((await readRecording('/tmp/recordings', { path, sha256: '0'.repeat(64), bytes: 1 })).status, 'invalid');
    }
    assert.throws(() => parseCast('{"version":2,"width":80,"height":24}\n[1,"o","a"]\n[0.5,"o","b"]\n'), /line 3: event time 0.5 goes backwards/);
    assert.throws(() => parseCast('{"version":1,"width":80,"height":24}\n'), /not an asciicast version 2 header/);
  });
});
