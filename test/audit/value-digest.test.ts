// Keyed digests of values in audit records, their key (kept outside the audit tables), and
// `sluice audit search --value`, which finds records by value without printing values.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startRuntime } from '../../src/app/runtime.js';
import {
  DIGEST_KEY_ENV,
  ValueDigester,
  digestKeySource,
  digestPaths,
  isValueDigest,
  loadOrCreateDigestKey,
  openValueDigester,
  recordableJson,
  recordableParams,
  runtimeValueDigester,
} from '../../src/audit/value-digest.js';
import { loadConfigFile, loadConfigText } from '../../src/config/load.js';
import { openStore } from '../../src/store/open.js';
import { tempDir } from '../helpers.js';

const BIN = resolve('bin/sluice.mjs');
const dirs: { remove(): void }[] = [];
after(() => dirs.forEach((d) => d.remove()));

void describe('value digests', () => {
  void it('are HMAC-SHA-256 (RFC 4231 test case 6), cut to 128 bits, keyed', () => {
    const rfc = new ValueDigester(Buffer.alloc(131, 0xaa));
    assert.equal(rfc.digest('Test Using Larger Than Block-Size Key - Hash Key First'), 'hmac:60e431591ee0b67f0d8a26aacbf5b77f');
    const a = ValueDigester.generate();
    const b = ValueDigester.generate();
    assert.equal(a.digest('alice@example.com'), a.digest('alice@example.com'));
    assert.notEqual(a.digest('alice@example.com'), b.digest('alice@example.com'));
    assert.ok(isValueDigest(a.digest(42)));
    assert.equal(a.digest(42), a.digest('42'), 'a number is its JSON text');
    assert.equal(a.digest(Buffer.from('x')), a.digest('x'));
    assert.throws(() => new ValueDigester(Buffer.alloc(16)), /at least 32 bytes/);
  });

  void it('keep the shape of arguments and hide every value', () => {
    const d = ValueDigester.generate();
    const args = { email: 'alice@example.com', id: 42, ok: true, none: null, nested: { list: ['4111 1111 1111 1111', null] } };
    const out = d.digestJson(args) as Record<string, unknown>;
    assert.deepEqual(Object.keys(out), Object.keys(args));
    assert.equal(out.none, null);
    assert.equal(out.email, d.digest('alice@example.com'));
    assert.deepEqual((out.nested as { list: unknown[] }).list, [d.digest('4111 1111 1111 1111'), null]);
    const text = JSON.stringify(out);
    for (const raw of ['alice@example.com', '4111', '"id":42', 'true']) assert.ok(!text.includes(raw), raw);
    assert.deepEqual(d.digestParams(['7', null, Buffer.from([0, 1])]), [d.digest('7'), null, d.digest(Buffer.from([0, 1]))]);
    assert.deepEqual(digestPaths({ detail: out }, d.digest('4111 1111 1111 1111')), ['detail.nested.list[0]']);
    // What records keep: digests with a key; without one, the shape and no values at all.
    assert.deepEqual(recordableJson(args, d), out);
    assert.deepEqual(recordableJson(args, undefined), { email: null, id: null, ok: null, none: null, nested: { list: [null, null] } });
    assert.deepEqual(recordableParams(['7', null], d), [d.digest('7'), null]);
    assert.equal(recordableParams(['7', null], undefined), 2);
  });

  void it('record arguments nested deeper than 32 levels as a marker, without overflowing the stack', () => {
    let deep: unknown = 'secret-at-the-bottom';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const d = ValueDigester.generate();
    for (const kept of [recordableJson({ a: deep }, d), recordableJson({ a: deep }, undefined)]) {
      const text = JSON.stringify(kept);
      assert.ok(text.includes('[nested too deep to record]'));
      assert.ok(!text.includes('secret-at-the-bottom'));
    }
  });

  void it('have a key file created once, private to its owner, from the environment when set', () => {
    const dir = tempDir('sluice-hmac-');
    dirs.push(dir);
    const path = join(dir.path, 'keys', 'audit-hmac.key');
    const first = loadOrCreateDigestKey(path);
    assert.equal(first.created, true);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const second = loadOrCreateDigestKey(path);
    assert.equal(second.created, false);
    assert.equal(second.digester.digest('v'), first.digester.digest('v'));
    assert.equal(second.digester.keyId, first.digester.keyId);
    chmodSync(path, 0o644);
    assert.throws(() => loadOrCreateDigestKey(path), /readable by others/);

    const sqlite = loadConfigText('store:\n  url: sqlite:data/s.db\n', 'sluice.yaml', dir.path);
    assert.deepEqual(digestKeySource(sqlite.config, dir.path, {}), { file: join(dir.path, 'data', 'audit-hmac.key') });
    const key = Buffer.alloc(32, 7).toString('base64');
    const fromEnv = openValueDigester(sqlite, { env: { [DIGEST_KEY_ENV]: key } });
    assert.equal(fromEnv.source, DIGEST_KEY_ENV);
    assert.equal(fromEnv.digester.digest('v'), new ValueDigester(Buffer.alloc(32, 7)).digest('v'));
    const pg = loadConfigText('store:\n  url: postgres://u@h/db\naudit:\n  checkpoint:\n    enabled: false\n', 'sluice.yaml', dir.path);
    assert.throws(() => digestKeySource(pg.config, dir.path, {}), /set audit.hmac_key/);
    // A runtime on such a store starts, without a digester: its records leave values out.
    assert.equal(runtimeValueDigester(pg), undefined);
    const pgKeyed = loadConfigText('store:\n  url: postgres://u@h/db\naudit:\n  checkpoint:\n    key: /etc/sluice/signing.key\n', 'sluice.yaml', dir.path);
    assert.deepEqual(digestKeySource(pgKeyed.config, dir.path, {}), { file: '/etc/sluice/audit-hmac.key' });
  });
});

void describe('key files shared by nodes that start together', () => {
  void it('are created once: every process gets the same signing key and HMAC key', async () => {
    const dir = tempDir('sluice-keyrace-');
    dirs.push(dir);
    const script = [
      `import { loadOrCreateSigningKey } from ${JSON.stringify(resolve('src/audit/signing.ts'))};`,
      `import { loadOrCreateDigestKey } from ${JSON.stringify(resolve('src/audit/value-digest.ts'))};`,
      `const s = loadOrCreateSigningKey(${JSON.stringify(join(dir.path, 'shared', 'signing.key'))});`,
      `const d = loadOrCreateDigestKey(${JSON.stringify(join(dir.path, 'shared', 'hmac.key'))});`,
      'console.log(JSON.stringify({ signing: s.signer.keyId, hmac: d.digester.keyId }));',
    ].join('\n');
    const runs = await Promise.all(
      Array.from({ length: 6 }, () => new Promise<string>((done, fail) => {
        const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
        child.on('exit', (code) => (code === 0 ? done(out.trim()) : fail(new Error(`exit ${code}`))));
      })),
    );
    assert.equal(new Set(runs).size, 1, runs.join('\n'));
    assert.deepEqual(readdirSync(join(dir.path, 'shared')).sort(), ['hmac.key', 'signing.key'], 'no temporary files left');
  });
});

void describe('sluice audit search --value', () => {
  const dir = tempDir('sluice-search-');
  dirs.push(dir);
  const cwd = dir.path;
  const sluice = (args: string[], input?: string) => {
    const r = spawnSync(process.execPath, [BIN, ...args], { cwd, input, encoding: 'utf8', env: { ...process.env, SLUICE_LOG_LEVEL: 'silent' } });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };

  void it('finds the records that carry a value as a digest and prints no values', async () => {
    writeFileSync(join(cwd, 'sluice.yaml'), 'version: 1\nstore:\n  url: sqlite:data/sluice.db\n');
    const runtime = await startRuntime(loadConfigFile(join(cwd, 'sluice.yaml')));
    const d = runtime.valueDigester!;
    let seqs: number[];
    try {
      const rows = await Promise.all([
        runtime.ledger.append({
          kind: 'decision',
          principal: 'agent-7',
          connection: 'crm',
          session: 'ses_1',
          door: 'mcp',
          command: 'lookup',
          detail: { args: d.digestJson({ email: 'alice@example.com', limit: 42 }) },
        }),
        runtime.ledger.append({
          kind: 'decision',
          principal: 'agent-8',
          connection: 'orders',
          door: 'postgres',
          command: 'SELECT * FROM orders WHERE email = $1 AND n = $2',
          detail: { params: d.digestParams(['alice@example.com', null]) },
        }),
        runtime.ledger.append({ kind: 'decision', principal: 'agent-9', connection: 'crm', command: 'lookup', detail: { args: d.digestJson({ email: 'bob@example.com' }) } }),
      ]);
      seqs = rows.map((r) => r.seq);
    } finally {
      await runtime.close();
    }
    assert.equal(statSync(join(cwd, 'data', 'audit-hmac.key')).mode & 0o777, 0o600, 'the key is created beside the store');

    const found = sluice(['audit', 'search', '--value', 'alice@example.com']);
    assert.equal(found.code, 0, found.stdout + found.stderr);
    const lines = found.stdout.trim().split('\n');
    assert.equal(lines.length, 2, found.stdout);
    assert.match(lines[0]!, new RegExp(`^\\s*${seqs[0]}  \\S+  decision  agent-7  @crm  session ses_1  in detail\\.args\\.email$`));
    assert.match(lines[1]!, new RegExp(`^\\s*${seqs[1]}  .*agent-8  @orders  in detail\\.params\\[0\\]$`));
    assert.match(found.stderr, /2 record\(s\) carry that value \(digest key [0-9a-f]{16}\)/);
    assert.ok(!found.stdout.includes('alice'), 'no value printed');

    const json = sluice(['audit', 'search', '--value', '-', '--json'], '42\n');
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), { seq: seqs[0], time: JSON.parse(json.stdout).time, kind: 'decision', principal: 'agent-7', session: 'ses_1', connection: 'crm', paths: ['detail.args.limit'] });

    const none = sluice(['audit', 'search', '--value', 'carol@example.com']);
    assert.equal(none.code, 1);
    assert.equal(none.stdout, '');

    // And the ledger holds no clear value anywhere.
    const store = await openStore(join(cwd, 'data', 'sluice.db'));
    try {
      const bodies = (await store.readAudit({ limit: 1000 })).map((r) => r.body).join('\n');
      assert.ok(!bodies.includes('alice@example.com') && !bodies.includes('bob@example.com'));
    } finally {
      await store.close();
    }
    assert.ok(readFileSync(join(cwd, 'data', 'audit-hmac.key'), 'utf8').trim().length >= 43);
  });
});
