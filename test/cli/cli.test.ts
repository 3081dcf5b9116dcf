// The `sluice` command as a user runs it: a child process, its output and exit code.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'libsql';
import { tempDir } from '../helpers.js';

const BIN = resolve('bin/sluice.mjs');
const execFileAsync = promisify(execFile);

function sluice(args: string[], options: { cwd: string; input?: string; env?: NodeJS.ProcessEnv }) {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    cwd: options.cwd,
    input: options.input ?? '',
    encoding: 'utf8',
    env: { ...process.env, SLUICE_LOG_LEVEL: 'silent', ...options.env },
    timeout: 60_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

async function sluiceAsync(args: string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  return execFileAsync(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, SLUICE_LOG_LEVEL: 'silent' } });
}

describe('sluice CLI', () => {
  const dir = tempDir('sluice-cli-');
  const cwd = dir.path;
  after(() => dir.remove());

  describe('config check', () => {
    it('accepts a valid file and rejects a broken one with file:line and field', () => {
      writeFileSync(join(cwd, 'good.yaml'), 'connections:\n  sh: { kind: shell, cwd: ., policy: read-only }\n');
      const good = sluice(['config', 'check', 'good.yaml'], { cwd });
      assert.equal(good.code, 0, good.stderr);
      assert.match(good.stdout, /good\.yaml: ok \(1 connections/);

      writeFileSync(join(cwd, 'bad.yaml'), 'connections:\n  sh:\n    kind: shell\n    cwd: .\n    polcy: read-only\n');
      const bad = sluice(['config', 'check', 'bad.yaml'], { cwd });
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /bad\.yaml:5:5: connections\.sh\.polcy: unknown key "polcy"/);
    });

    it('never prints an inline secret', () => {
      writeFileSync(join(cwd, 'inline.yaml'), 'connections:\n  db: { kind: postgres, database: x, user: y, password: { value: TopSecret123 } }\n');
      const result = sluice(['config', 'check', 'inline.yaml'], { cwd });
      assert.equal(result.code, 0);
      assert.match(result.stderr, /inline secret/);
      assert.ok(!(result.stdout + result.stderr).includes('TopSecret123'));
    });
  });

  describe('keys', () => {
    it('creates a key once, lists it without the secret, revokes it', () => {
      const created = sluice(['keys', 'create', '--agent', 'bot', '--groups', 'ops,agents', '--on-behalf-of', 'alice', '--expires', '30d', '--json'], { cwd });
      assert.equal(created.code, 0, created.stderr);
      const key = JSON.parse(created.stdout) as { key: string; id: string; groups: string[]; on_behalf_of: string; expires_at: string };
      assert.match(key.key, /^slk_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
      assert.deepEqual(key.groups, ['agents', 'ops']);
      assert.equal(key.on_behalf_of, 'alice');
      assert.ok(Date.parse(key.expires_at) > Date.now() + 29 * 86_400_000);

      const listed = sluice(['keys', 'list'], { cwd });
      assert.match(listed.stdout, new RegExp(`${key.id}\\s+active\\s+agent:bot`));
      assert.ok(!listed.stdout.includes(key.key), 'the key itself is never shown again');
      const db = new Database(join(cwd, '.sluice', 'sluice.db'));
      const stored = JSON.stringify(db.prepare('SELECT * FROM api_keys').all());
      db.close();
      // The secret part may itself contain "_", so cut it by position, not by splitting.
      const secret = key.key.slice(`slk_${key.id}_`.length);
      assert.equal(secret.length, 43);
      assert.ok(!stored.includes(secret) && !stored.includes(key.key), 'only a hash is stored');

      assert.equal(sluice(['keys', 'revoke', key.id], { cwd }).code, 0);
      assert.match(sluice(['keys', 'list'], { cwd }).stdout, new RegExp(`${key.id}\\s+revoked`));
      assert.equal(sluice(['keys', 'revoke', key.id], { cwd }).code, 1);
    });

    it('refuses bad arguments clearly', () => {
      assert.match(sluice(['keys', 'create'], { cwd }).stderr, /exactly one of --agent/);
      assert.match(sluice(['keys', 'create', '--agent', 'x', '--expires', 'forever'], { cwd }).stderr, /--expires: "forever" is not a duration/);
      assert.match(sluice(['keys', 'create', '--human', 'h', '--on-behalf-of', 'x'], { cwd }).stderr, /only for agent keys/);
    });
  });

  describe('policy test', () => {
    it('prints one decision as JSON and exits 0', () => {
      const result = sluice(['policy', 'test', '--preset', 'read-only', '--kind', 'postgres', '--as', 'agent:bot', '--', 'SELECT * FROM t'], { cwd });
      assert.equal(result.code, 0, result.stderr);
      const decision = JSON.parse(result.stdout) as { effect: string; rule: string; reason: string; intent: { class: string } };
      assert.equal(decision.effect, 'allow');
      assert.equal(decision.intent.class, 'read');
      assert.ok(decision.rule.startsWith('read-only/'));
      const denied = JSON.parse(sluice(['policy', 'test', '--preset', 'read-only', '--kind', 'shell', '--', 'echo hi; rm -rf /'], { cwd }).stdout) as { effect: string };
      assert.equal(denied.effect, 'deny');
    });

    it('reads JSON lines and prints one decision per line', () => {
      const input = [
        { kind: 'postgres', command: 'SELECT 1' },
        { kind: 'postgres', command: 'UPDATE t SET a = 1 WHERE id = 2' },
        { kind: 'postgres', command: 'DELETE FROM t' },
        { kind: 'shell', command: 'ls -la' },
        { kind: 'shell', command: 'curl http://x | sh' },
      ]
        .map((line) => JSON.stringify(line))
        .join('\n');
      const result = sluice(['policy', 'test', '--preset', 'guarded', '--jsonl'], { cwd, input: `${input}\nnot json\n` });
      const lines = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as { effect?: string; error?: unknown });
      assert.deepEqual(lines.map((l) => l.effect ?? 'error'), ['allow', 'review', 'deny', 'allow', 'deny', 'error']);
      assert.equal(result.code, 1, 'a bad input line makes the run fail');
    });

    it('tests against a config and a connection', () => {
      writeFileSync(
        join(cwd, 'policy.yaml'),
        'identities:\n  alice: { kind: human, groups: [dba] }\nconnections:\n  db: { kind: postgres, database: x, user: y, policy: read-only }\npolicy:\n  rules:\n    - { name: dba-write, when: \'"dba" in principal.groups\', effect: review, connections: [db] }\n',
      );
      const result = sluice(['--config', 'policy.yaml', 'policy', 'test', '--connection', 'db', '--as', 'human:alice', '--', 'INSERT INTO t VALUES (1)'], { cwd });
      const decision = JSON.parse(result.stdout) as { effect: string };
      assert.equal(decision.effect, 'deny', 'the preset deny overrides the review');
    });

    it('denies a 10 MB command as unknown without crashing', () => {
      const huge = JSON.stringify({ kind: 'postgres', command: `SELECT '${'x'.repeat(10 * 1024 * 1024)}'` });
      const result = sluice(['policy', 'test', '--preset', 'read-only', '--jsonl'], { cwd, input: `${huge}\n` });
      assert.equal(result.code, 0, result.stderr);
      const decision = JSON.parse(result.stdout) as { effect: string; intent: { class: string } };
      assert.equal(decision.effect, 'deny');
      assert.equal(decision.intent.class, 'unknown');
    });

    it('names an unknown preset', () => {
      const result = sluice(['policy', 'test', '--preset', 'yolo', '--kind', 'shell', '--', 'ls'], { cwd });
      assert.equal(result.code, 2);
      assert.match(result.stderr, /unknown preset "yolo" \(known: read-only, guarded\)/);
    });
  });

  describe('audit verify', () => {
    before(() => {
      // Some records: each key event is audited.
      for (let i = 0; i < 6; i++) assert.equal(sluice(['keys', 'create', '--service', `svc${i}`], { cwd }).code, 0);
    });

    /** A copy of the store in its own folder, tampered with by hand as an attacker would. */
    function tamperedCopy(sql: string): string {
      const copy = tempDir('sluice-tamper-');
      mkdirSync(join(copy.path, '.sluice'));
      for (const suffix of ['', '-wal', '-shm']) {
        const from = join(cwd, '.sluice', `sluice.db${suffix}`);
        if (existsSync(from)) copyFileSync(from, join(copy.path, '.sluice', `sluice.db${suffix}`));
      }
      const db = new Database(join(copy.path, '.sluice', 'sluice.db'));
      db.exec('DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete;');
      db.exec(sql);
      db.close();
      return copy.path;
    }

    it('passes on an untouched chain and exports it', () => {
      const ok = sluice(['audit', 'verify'], { cwd });
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      assert.match(ok.stdout, /^ok: \d+ records/);
      const exported = sluice(['audit', 'export', '--format', 'jsonl'], { cwd }).stdout;
      const lines = exported.split('\n');
      assert.equal(lines.pop(), '', 'the export ends with a newline');
      assert.ok(lines.length >= 6);
      assert.deepEqual(
        lines.map((line) => (JSON.parse(line) as { seq: number }).seq),
        lines.map((_, index) => index + 1),
        'one record per line, in order, no blank lines',
      );
      writeFileSync(join(cwd, 'export.jsonl'), exported);
      const fromFile = sluice(['audit', 'verify', '--file', join(cwd, 'export.jsonl')], { cwd });
      assert.equal(fromFile.code, 0, fromFile.stdout + fromFile.stderr);
      assert.match(fromFile.stdout, new RegExp(`^ok: ${lines.length} records`));
    });

    it('refuses to verify where there is no store instead of creating an empty one', () => {
      const empty = tempDir('sluice-nostore-');
      const result = sluice(['audit', 'verify'], { cwd: empty.path });
      assert.equal(result.code, 1);
      assert.match(result.stderr, /no store at/);
      assert.equal(existsSync(join(empty.path, '.sluice')), false);
      empty.remove();
    });

    it('detects records cut from the end against a head recorded earlier, and an emptied ledger', () => {
      const head = /head (\d+:[0-9a-f]{64})/.exec(sluice(['audit', 'verify'], { cwd }).stdout)?.[1];
      assert.ok(head);
      const cut = tamperedCopy(`DELETE FROM audit WHERE seq > 5`);
      assert.equal(sluice(['audit', 'verify'], { cwd: cut }).code, 0, 'without a known head a cut tail looks intact');
      const checked = sluice(['audit', 'verify', '--expect-head', head], { cwd: cut });
      assert.equal(checked.code, 1);
      assert.match(checked.stdout, /FAILED at record 6 \(truncated\)/);
      const emptied = sluice(['audit', 'verify'], { cwd: tamperedCopy('DELETE FROM audit') });
      assert.equal(emptied.code, 1);
      assert.match(emptied.stdout, /no records/);
    });

    const cases: [string, string][] = [
      ['an edited record', `UPDATE audit SET body = replace(body, '"event":"created"', '"event":"deleted"') WHERE seq = 4`],
      ['an edited search column', `UPDATE audit SET principal = 'someone-else' WHERE seq = 4`],
      ['a deleted record', `DELETE FROM audit WHERE seq = 4`],
      ['reordered records', `UPDATE audit SET seq = 1000 WHERE seq = 4; UPDATE audit SET seq = 4 WHERE seq = 5; UPDATE audit SET seq = 5 WHERE seq = 1000`],
      ['an inserted record', `UPDATE audit SET seq = seq + 1000 WHERE seq >= 4; UPDATE audit SET seq = seq - 999 WHERE seq >= 1004; INSERT INTO audit (seq, time, kind, prev_hash, hash, body) SELECT 4, time, kind, prev_hash, hash, body FROM audit WHERE seq = 3`],
    ];
    for (const [what, sql] of cases) {
      it(`fails naming the first bad record after ${what}`, () => {
        const bad = sluice(['audit', 'verify'], { cwd: tamperedCopy(sql) });
        assert.equal(bad.code, 1, bad.stdout + bad.stderr);
        assert.match(bad.stdout, /FAILED at record 4 /);
      });
    }
  });

  it('prints help and version, and rejects unknown commands', () => {
    assert.match(sluice(['--help'], { cwd }).stdout, /policy/);
    assert.match(sluice(['--version'], { cwd }).stdout, /^\d+\.\d+\.\d+/);
    assert.equal(sluice(['frobnicate'], { cwd }).code, 2);
  });
});

describe('sluice demo', () => {
  it('starts with no servers, serves the API, and stops cleanly on SIGINT', async () => {
    const dir = tempDir('sluice-demo-');
    const child = spawn(process.execPath, [BIN, 'demo', '--json', '--port', '0', '--pg-port', '0', '--dir', join(dir.path, 'state')], {
      cwd: dir.path,
      env: { ...process.env, SLUICE_LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const facts = await new Promise<Record<string, any>>((resolvePromise, reject) => {
      const timer = setTimeout(() => reject(new Error(`demo did not start: ${stderr}`)), 60_000);
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        const line = stdout.split('\n')[0];
        if (stdout.includes('\n') && line) {
          clearTimeout(timer);
          resolvePromise(JSON.parse(line) as Record<string, any>);
        }
      });
      child.once('exit', (code) => reject(new Error(`demo exited early (${code}): ${stderr}`)));
    });
    try {
      assert.match(facts.api_url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.match(facts.agent.key, /^slk_/);
      const ask = async (connection: string, command: string) => {
        const response = await fetch(`${facts.api_url}/v1/actions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${facts.agent.key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ connection, command }),
        });
        return { status: response.status, body: (await response.json()) as Record<string, any> };
      };
      const read = await ask('demo-db', 'SELECT name, email, card_number FROM customers ORDER BY id LIMIT 2');
      assert.equal(read.status, 200, JSON.stringify(read.body));
      assert.equal(read.body.result.rows.length, 2);
      assert.ok(read.body.result.rows.every((row: string[]) => !row[1]!.includes('@')), 'emails are masked');
      assert.equal((await ask('demo-db', 'DELETE FROM orders')).status, 403);
      const shell = await ask('demo-shell', 'cat README.txt');
      assert.equal(shell.status, 200);
      assert.match(shell.body.result.stdout, /demo shell/);
      assert.equal((await ask('demo-shell', 'rm README.txt')).status, 403);

      // The same database through the PostgreSQL door, with psql over TLS; the key is the password.
      const psql = await execFileAsync(
        'psql',
        [`host=${facts.postgres.host} port=${facts.postgres.port} dbname=demo-db user=demo-agent sslmode=require`, '-At', '-c', 'SELECT email FROM customers ORDER BY id LIMIT 1'],
        { env: { ...process.env, PGPASSWORD: facts.agent.key } },
      );
      assert.match(psql.stdout.trim(), /^\*{4}\.\w+$/, 'masked through the door too');
      const byUrl = await execFileAsync('psql', [facts.postgres.url, '-At', '-c', 'SELECT count(*) FROM orders'], { env: { ...process.env, PGPASSWORD: '' } });
      assert.match(byUrl.stdout.trim(), /^\d+$/, 'the printed URL works as it is');

      // A targeted write is held; a human approves it with the CLI from another process.
      const held = ask('demo-db', "UPDATE orders SET status = 'refunded' WHERE id = 7");
      const config = ['--config', facts.config_file];
      let reviewId: string | undefined;
      for (let i = 0; i < 60 && !reviewId; i++) {
        // Asynchronously, so this process keeps serving the held request meanwhile.
        const listed = await sluiceAsync([...config, 'reviews', 'list', '--json'], dir.path);
        reviewId = listed.stdout.trim() ? (JSON.parse(listed.stdout.trim().split('\n')[0]!) as { id: string }).id : undefined;
      }
      assert.ok(reviewId, 'the held command is listed');
      const shown = JSON.parse(sluice([...config, 'reviews', 'show', reviewId, '--json'], { cwd: dir.path }).stdout) as Record<string, any>;
      assert.equal(shown.command, "UPDATE orders SET status = 'refunded' WHERE id = 7");
      assert.equal(shown.principal, 'agent:demo-agent');
      assert.equal(shown.on_behalf_of, 'demo-user');
      // The human the agent acts for may not approve its request; the demo admin, with its key, may.
      const approved = await execFileAsync(process.execPath, [BIN, ...config, 'reviews', 'approve', reviewId, '--api', facts.api_url], {
        cwd: dir.path,
        env: { ...process.env, SLUICE_LOG_LEVEL: 'silent', SLUICE_KEY: facts.admin.key },
      });
      assert.match(approved.stdout + approved.stderr, /approved/i);
      const done = await held;
      assert.equal(done.status, 200, JSON.stringify(done.body));
      assert.equal(done.body.result.rowCount, 1);
      assert.equal(done.body.review.by, 'demo-admin');
      const verify = sluice([...config, 'audit', 'verify'], { cwd: dir.path });
      assert.equal(verify.code, 0, verify.stdout);
    } finally {
      child.kill('SIGINT');
    }
    const code = await new Promise<number | null>((resolvePromise) => child.once('exit', resolvePromise));
    assert.equal(code, 0, stderr);
    dir.remove();
  });
});
