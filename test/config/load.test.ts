import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../src/config/errors.js';
import { loadConfigFile, loadConfigText } from '../../src/config/load.js';
import { resolveSecret } from '../../src/credentials/secrets.js';

const VALID = `
store:
  url: sqlite:.sluice/test.db
identities:
  alice: { kind: human, groups: [dba] }
  copilot: { kind: agent, groups: [agents], on_behalf_of: alice }
connections:
  db:
    kind: postgres
    database: test
    user: root
    password: { env: TEST_DB_PASSWORD }
    policy: guarded
    mask: pii
  sh:
    kind: shell
    cwd: /tmp
    run_as: { uid: 65534, gid: 65534 }
    timeout: 5s
    max_output: 64KiB
    policy: read-only
policy:
  rules:
    - name: dba-writes
      when: '"dba" in principal.groups && intent.class == "write"'
      connections: [db]
      effect: allow
masking:
  profiles:
    pii: { columns: [email, "card*"], replacement: partial }
`;

function load(text: string) {
  return loadConfigText(text, 'sluice.yaml', '/tmp');
}

function issuesOf(text: string) {
  try {
    load(text);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    return error.issues;
  }
  assert.fail('expected the config to be rejected');
}

describe('config loading', () => {
  it('accepts a full valid config and applies defaults', () => {
    const loaded = load(VALID);
    const db = loaded.config.connections.db!;
    assert.equal(db.kind, 'postgres');
    if (db.kind !== 'postgres') return;
    assert.equal(db.host, '127.0.0.1');
    assert.equal(db.port, 5432);
    assert.equal(db.statement_timeout, 30_000);
    const sh = loaded.config.connections.sh!;
    assert.equal(sh.kind === 'shell' && sh.timeout, 5000);
    assert.equal(sh.kind === 'shell' && sh.max_output, 64 * 1024);
    assert.equal(loaded.config.listeners.api.address, '127.0.0.1:8080');
    assert.equal(loaded.config.approvals.timeout, 15 * 60_000);
    assert.deepEqual(loaded.warnings, []);
    assert.ok(loaded.policy.rules.length > 1, 'presets are expanded into rules');
  });

  it('accepts an empty file with every default', () => {
    const loaded = load('');
    assert.deepEqual(loaded.config.connections, {});
    assert.equal(loaded.config.store.url, 'sqlite:.sluice/sluice.db');
    assert.equal(loaded.config.store.sync, 'full', 'audit commits reach the disk unless told otherwise');
  });

  it('a PostgreSQL store needs the checkpoint signing key file named (or checkpoints off)', () => {
    const issues = issuesOf('store:\n  url: postgres://sluice@127.0.0.1/sluice\n');
    assert.equal(issues[0]!.path, 'audit.checkpoint.key');
    assert.match(issues[0]!.message, /outside the database/);
    assert.equal(load('store:\n  url: postgres://sluice@127.0.0.1/sluice\naudit:\n  checkpoint: { key: /etc/sluice/audit.key }\n').config.audit.checkpoint.key, '/etc/sluice/audit.key');
    assert.equal(load('store:\n  url: postgres://sluice@127.0.0.1/sluice\naudit:\n  checkpoint: { enabled: false }\n').config.audit.checkpoint.enabled, false);
  });

  it('store.sync: normal is accepted for SQLite and refused for PostgreSQL with a pointer', () => {
    assert.equal(load('store:\n  url: sqlite:x.db\n  sync: normal\n').config.store.sync, 'normal');
    const issues = issuesOf('store:\n  url: postgres://sluice@127.0.0.1/sluice\n  sync: normal\n');
    assert.equal(issues[0]!.path, 'store.sync');
    assert.match(issues[0]!.message, /synchronous_commit/);
    assert.match(issuesOf('store:\n  sync: sometimes\n')[0]!.path, /^store\.sync$/);
  });

  it('reports an unknown key with its line and column', () => {
    const issues = issuesOf(VALID.replace('    user: root\n', '    user: root\n    pasword: { env: X }\n'));
    assert.equal(issues.length, 1);
    assert.equal(issues[0]!.path, 'connections.db.pasword');
    assert.match(issues[0]!.message, /unknown key "pasword"/);
    assert.equal(issues[0]!.line, 12);
    assert.equal(issues[0]!.column, 5);
  });

  it('reports an unknown top-level key', () => {
    const issues = issuesOf('conections: {}\n');
    assert.equal(issues[0]!.path, 'conections');
    assert.equal(issues[0]!.line, 1);
  });

  it('reports a wrong type at the value', () => {
    const issues = issuesOf(VALID.replace('    database: test\n', '    database: test\n    port: "abc"\n'));
    assert.equal(issues[0]!.path, 'connections.db.port');
    assert.equal(issues[0]!.line, 11);
    assert.match(issues[0]!.message, /number/);
  });

  it('reports a missing required field', () => {
    const issues = issuesOf('connections:\n  db:\n    kind: postgres\n    user: root\n');
    assert.equal(issues[0]!.path, 'connections.db.database');
    assert.match(issues[0]!.message, /required/);
  });

  it('reports an unknown connection kind', () => {
    const issues = issuesOf('connections:\n  x:\n    kind: oracle\n');
    assert.match(issues[0]!.message, /postgres, shell/);
    assert.equal(issues[0]!.line, 3);
  });

  it('reports malformed YAML with its line', () => {
    const issues = issuesOf('connections:\n  db: [unclosed\n');
    assert.ok(issues[0]!.line !== undefined && issues[0]!.line >= 2);
    assert.equal(issues[0]!.file, 'sluice.yaml');
  });

  it('reports duplicate keys', () => {
    const issues = issuesOf('connections: {}\nconnections: {}\n');
    assert.match(issues[0]!.message, /[Mm]ap keys must be unique|duplicate/);
  });

  it('rejects a plain-string password: secrets are given by reference', () => {
    const issues = issuesOf(VALID.replace('password: { env: TEST_DB_PASSWORD }', 'password: hunter2'));
    assert.equal(issues[0]!.path, 'connections.db.password');
    assert.match(issues[0]!.message, /secret reference/);
    assert.ok(!issues.some((issue) => issue.message.includes('hunter2')), 'the secret is not echoed');
  });

  it('warns about an inline secret without printing it', () => {
    const loaded = load(VALID.replace('password: { env: TEST_DB_PASSWORD }', 'password: { value: hunter2 }'));
    assert.equal(loaded.warnings.length, 1);
    assert.match(loaded.warnings[0]!, /connections\.db\.password: inline secret/);
    assert.ok(!loaded.warnings[0]!.includes('hunter2'));
  });

  it('warns when a shell connection runs commands as Sluice\'s own user', () => {
    const loaded = load(VALID.replace('    run_as: { uid: 65534, gid: 65534 }\n', ''));
    assert.equal(loaded.warnings.length, 1);
    assert.match(loaded.warnings[0]!, /connections\.sh: .*set run_as/);
  });

  it('configures the PostgreSQL door only when asked, with safe defaults', () => {
    assert.equal(load('').config.listeners.postgres, undefined);
    const door = load('listeners:\n  postgres: {}\n').config.listeners.postgres!;
    assert.deepEqual(door, { address: '127.0.0.1:15432', tls: 'self-signed', auth: 'scram-or-password', plaintext_password: 'loopback', max_connections: 100 });
    assert.match(issuesOf('listeners:\n  postgres: { auth: md5 }\n')[0]!.path, /^listeners\.postgres\.auth/);
    assert.deepEqual(load('').config.tokens, { default_ttl: 15 * 60_000, max_ttl: 12 * 3_600_000, max_live: 50 });
    assert.match(issuesOf('tokens: { default_ttl: 2h, max_ttl: 1h }\n')[0]!.message, /default_ttl must not be longer than max_ttl/);
    const issues = issuesOf('listeners:\n  postgres: { tls: { cert: x.pem } }\n');
    assert.match(issues[0]!.path, /^listeners\.postgres\.tls/);
  });

  it('reads the PostgreSQL door limits with units', () => {
    const door = load(
      'listeners:\n  postgres:\n    max_message_size: 16MiB\n    auth_timeout: 10s\n    connect_timeout: 500ms\n    idle_timeout: 15m\n    max_connections: 20\n',
    ).config.listeners.postgres!;
    assert.equal(door.max_message_size, 16 * 1024 * 1024);
    assert.equal(door.auth_timeout, 10_000);
    assert.equal(door.connect_timeout, 500);
    assert.equal(door.idle_timeout, 15 * 60_000);
    assert.equal(door.max_connections, 20);
    assert.equal(load('listeners:\n  postgres: { max_message_size: 65536 }\n').config.listeners.postgres!.max_message_size, 65536, 'plain bytes');
  });

  it('reports bad PostgreSQL door limits at their line', () => {
    const at = (yaml: string) => issuesOf(`listeners:\n  api: { address: 127.0.0.1:8080 }\n  postgres:\n${yaml}`)[0]!;
    const cases: [string, string, RegExp][] = [
      ['    max_message_size: lots\n', 'max_message_size', /"lots" is not a size/],
      ['    max_message_size: 512\n', 'max_message_size', /between 1KiB and 1GiB/],
      ['    max_message_size: 2GiB\n', 'max_message_size', /between 1KiB and 1GiB/],
      ['    max_message_size: -5\n', 'max_message_size', /./],
      ['    auth_timeout: 10\n', 'auth_timeout', /string/],
      ['    auth_timeout: soon\n', 'auth_timeout', /not a duration/],
      ['    connect_timeout: 0s\n', 'connect_timeout', /must be positive/],
      ['    connect_timeout: 30d\n', 'connect_timeout', /at most 24d/],
      ['    idle_timeout: 90d\n', 'idle_timeout', /at most 24d/],
      ['    max_msg_size: 1MiB\n', 'max_msg_size', /unknown key "max_msg_size"/],
    ];
    for (const [yaml, field, message] of cases) {
      const issue = at(yaml);
      assert.equal(issue.path, `listeners.postgres.${field}`, yaml);
      assert.match(issue.message, message, yaml);
      assert.equal(issue.line, 4, yaml);
    }
  });

  it('reports a bad duration', () => {
    const issues = issuesOf(VALID.replace('timeout: 5s', 'timeout: soon'));
    assert.equal(issues[0]!.path, 'connections.sh.timeout');
    assert.match(issues[0]!.message, /not a duration/);
  });

  it('reports an unknown preset with the field path and line', () => {
    const issues = issuesOf(VALID.replace('policy: read-only', 'policy: read-mostly'));
    assert.equal(issues[0]!.path, 'connections.sh.policy');
    assert.equal(issues[0]!.line, 21);
  });

  it('reports a CEL expression that does not compile, at its line', () => {
    const issues = issuesOf(VALID.replace(`when: '"dba" in principal.groups && intent.class == "write"'`, `when: 'principal.groups.(('`));
    assert.equal(issues[0]!.path, 'policy.rules[0].when');
    assert.equal(issues[0]!.line, 25);
  });

  it('reports a rule naming an unknown masking profile', () => {
    const issues = issuesOf(VALID.replace('      effect: allow\n', '      effect: allow\n      mask: secret-stuff\n'));
    assert.equal(issues[0]!.path, 'policy.rules[0].mask');
    assert.match(issues[0]!.message, /unknown masking profile "secret-stuff"/);
  });

  it('reports a policy scope naming an unknown connection', () => {
    const issues = issuesOf(VALID.replace('connections: [db]', 'connections: [dbb]'));
    assert.match(issues[0]!.path, /^policy\.rules\[0\]\.connections/);
  });

  it('refuses an agent acting for a non-human', () => {
    const issues = issuesOf(VALID.replace('alice: { kind: human', 'alice: { kind: service'));
    assert.equal(issues[0]!.path, 'identities.copilot.on_behalf_of');
  });

  it('refuses "none" as a masking profile name: it is reserved', () => {
    const issues = issuesOf(VALID.replace('    pii: {', '    none: { columns: [x] }\n    pii: {'));
    assert.equal(issues[0]!.path, 'masking.profiles.none');
  });

  it('loads from a file and names a missing file clearly', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-config-'));
    const file = join(dir, 'sluice.yaml');
    writeFileSync(file, VALID);
    assert.equal(loadConfigFile(file).baseDir, dir);
    assert.throws(() => loadConfigFile(join(dir, 'nope.yaml')), /file not found/);
  });
});

describe('secret references', () => {
  it('reads env and file references and never echoes values in errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-secret-'));
    writeFileSync(join(dir, 'pw'), 's3cret\n');
    assert.equal(resolveSecret({ file: 'pw' }, { baseDir: dir, label: 'x' }), 's3cret');
    assert.equal(resolveSecret({ env: 'SLUICE_T_PW' }, { baseDir: dir, label: 'x', env: { SLUICE_T_PW: 'v' } }), 'v');
    assert.throws(() => resolveSecret({ env: 'NOPE_NOT_SET' }, { baseDir: dir, label: 'connections.db.password', env: {} }), /connections\.db\.password: environment variable NOPE_NOT_SET is not set/);
    assert.throws(() => resolveSecret({ file: 'missing' }, { baseDir: dir, label: 'x' }), /cannot read secret file .*ENOENT/);
  });
});
