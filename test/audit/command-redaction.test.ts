// Command redaction (src/audit/command-redaction.ts): secrets and personal data in the command
// text are recorded as keyed digests that `sluice audit search --value` finds, through the
// real gate and ledger; plain commands are recorded as sent.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createCommandRedactor } from '../../src/audit/command-redaction.js';
import { ValueDigester } from '../../src/audit/value-digest.js';
import { ScanContext } from '../../src/masking/detectors/context.js';
import { compileCustomRule } from '../../src/masking/detectors/custom.js';
import { startRuntime } from '../../src/app/runtime.js';
import { loadConfigFile } from '../../src/config/load.js';
import { tempDir } from '../helpers.js';

const BIN = resolve('bin/sluice.mjs');
const TOKEN = 'ghp_abcdefghijklmnopqrstuvwxyz0123456789';

void describe('command redaction', () => {
  const digester = ValueDigester.generate();
  const redactor = createCommandRedactor(true, digester)!;

  void it('replaces secrets, personal data and SQL passwords by their keyed digests, and leaves plain commands alone', () => {
    const cases: [string, string[], Record<string, number>][] = [
      [`curl -H "Authorization: Bearer ${TOKEN}" https://api.github.com/user`, [TOKEN], { secret: 1 }],
      ["SELECT * FROM users WHERE email = 'ada@example.com'", ['ada@example.com'], { email: 1 }],
      ["ALTER ROLE app WITH LOGIN PASSWORD 'It''s-s3cret'", ["It''s-s3cret"], { secret: 1 }],
      ["CREATE USER 'app'@'%' IDENTIFIED BY 'pw-1234-x'", ['pw-1234-x'], { secret: 1 }],
      ["INSERT INTO cards VALUES ('4242 4242 4242 4242', '123-45-6789')", ['4242 4242 4242 4242', '123-45-6789'], { card: 1, ssn: 1 }],
    ];
    for (const [command, values, counts] of cases) {
      const out = redactor.redact(command);
      for (const v of values) {
        assert.ok(!out.command.includes(v), `${v} left in ${out.command}`);
        assert.ok(out.command.includes(digester.digest(v)), `the digest of ${v} is searchable in ${out.command}`);
      }
      assert.deepEqual(out.redacted, counts);
    }
    for (const plain of ['SELECT abalance FROM pgbench_accounts WHERE aid = 41555;', 'SELECT password FROM users', "UPDATE t SET note = 'the password is set'", 'ls -la /var/log']) {
      assert.deepEqual(redactor.redact(plain), { command: plain });
    }
    assert.equal(createCommandRedactor(false, digester), undefined);
    const withoutKey = createCommandRedactor(true, undefined)!;
    assert.equal(withoutKey.redact("SELECT 1 WHERE 'ada@example.com' = ''").command, "SELECT 1 WHERE '[redacted:email]' = ''");
  });

  void it('runs the SQL password rule only where it can match, including case-folded spellings', () => {
    // The rule's keyword prefilter must never skip a text the regex matches: RE2's case folding
    // folds the long s, so "PAſſWORD" matches though its lower case holds no "password".
    for (const command of ["ALTER ROLE app PAſſWORD 'hunter2-x'", "alter role app password 'hunter2-x'", "ALTER ROLE app PASSWORD\n  'hunter2-x'"]) {
      const out = redactor.redact(command);
      assert.ok(!out.command.includes('hunter2-x'), `left in ${out.command}`);
      assert.deepEqual(out.redacted, { secret: 1 });
    }
    // Differential: the same rule with and without the prefilter finds the same spans.
    const rule = { type: 'secret', regex: String.raw`\b(?:PASSWORD|IDENTIFIED\s+(?:WITH\s+\w+\s+)?BY)\s+'((?:[^']|'')*)'`, group: 1, case_insensitive: true };
    const plain = compileCustomRule(rule, 0)[0]!;
    const filtered = compileCustomRule({ ...rule, keywords: ['password', 'identified'] }, 0)[0]!;
    const words = ['PASSWORD', 'PAſſWORD', 'password', 'IDENTIFIED BY', 'IDENTIFIED WITH x BY', 'ıdentıfıed by', 'SELECT', 'pass word', 'ıd'];
    for (const a of words) {
      for (const b of words) {
        const text = `${a} 'v1' ${b} 'v2'`;
        const found = (d: typeof plain) => {
          const out: { start: number; end: number }[] = [];
          d(new ScanContext(text, 'US'), out as never);
          return out.map((c) => [c.start, c.end]);
        };
        assert.deepEqual(found(filtered), found(plain), text);
      }
    }
  });

  void it('through the gate: the decision record holds the digest, the command ran with the value, masked output is kept as digests, and audit search finds both', async () => {
    const dir = tempDir('sluice-redact-');
    after(() => dir.remove());
    writeFileSync(
      join(dir.path, 'sluice.yaml'),
      [
        'version: 1',
        'store:',
        '  url: sqlite:data/sluice.db',
        'identities:',
        '  bot: { kind: agent, on_behalf_of: alice }',
        'connections:',
        '  sh: { kind: shell, cwd: ".", policy: read-only }',
        '  masked: { kind: shell, cwd: ".", policy: read-only, mask: pii }',
        'masking:',
        '  profiles:',
        '    pii: { detectors: [pii] }',
        'audit:',
        '  recordings: recordings',
        '',
      ].join('\n'),
    );
    const runtime = await startRuntime(loadConfigFile(join(dir.path, 'sluice.yaml')));
    let actionId: string;
    try {
      const principal = { kind: 'agent' as const, name: 'bot', groups: [], onBehalfOf: 'alice' };
      const outcome = await runtime.gate.run({ principal, session: 's1', connection: 'sh', door: 'api', command: `echo ${TOKEN}` });
      assert.equal(outcome.status, 'executed');
      assert.equal(outcome.result?.stdout, `${TOKEN}\n`, 'the command ran as sent');
      actionId = outcome.action.id;
      await runtime.ledger.flush();
      const [decision] = await runtime.store.readAudit({ actionId, limit: 10 });
      const body = JSON.parse(decision!.body) as { command: string; detail: { redacted?: Record<string, number> } };
      assert.equal(body.command, `echo ${runtime.valueDigester!.digest(TOKEN)}`);
      assert.deepEqual(body.detail.redacted, { secret: 1 });
      // The shell recording shows the command and the output as the ledger keeps them: the
      // caller saw the token (no masking applies to it), the recording holds its digest.
      const casts = readdirSync(join(dir.path, 'recordings'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.cast'));
      assert.equal(casts.length, 1);
      const cast = readFileSync(join(dir.path, 'recordings', casts[0]!), 'utf8');
      assert.ok(!cast.includes(TOKEN), 'no clear token in the recording');
      assert.equal(cast.split(runtime.valueDigester!.digest(TOKEN)).length - 1, 3, 'the digest in the header, the prompt line and the output');

      // Output masked on the way back: the outcome keeps the masked values' digests only.
      const shown = await runtime.gate.run({ principal, session: 's1', connection: 'masked', door: 'api', command: 'printf "%s %s\\n" ada@example.com grace@example.com' });
      assert.match(shown.result?.stdout ?? '', /^SLUICE_EMAIL_\w+ SLUICE_EMAIL_\w+\n$/);
      await runtime.ledger.flush();
      const rows = await runtime.store.readAudit({ actionId: shown.action.id, limit: 10 });
      const maskedOutcome = rows.map((r) => JSON.parse(r.body) as { kind: string; detail: { masked?: { digests?: string[] } } }).find((r) => r.kind === 'outcome');
      assert.deepEqual(maskedOutcome?.detail.masked?.digests, ['ada@example.com', 'grace@example.com'].map((v) => runtime.valueDigester!.digest(v)));
      assert.ok(!rows.some((r) => r.body.includes('ada@example.com')));
    } finally {
      await runtime.close();
    }
    const r = spawnSync(process.execPath, [BIN, 'audit', 'search', '--value', TOKEN], { cwd: dir.path, encoding: 'utf8', env: { ...process.env, SLUICE_LOG_LEVEL: 'silent' } });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /decision {2}bot {2}@sh {2}session s1 {2}in command$/m);
    const masked = spawnSync(process.execPath, [BIN, 'audit', 'search', '--value', 'grace@example.com'], { cwd: dir.path, encoding: 'utf8', env: { ...process.env, SLUICE_LOG_LEVEL: 'silent' } });
    assert.equal(masked.status, 0, masked.stdout + masked.stderr);
    assert.match(masked.stdout, /outcome +bot +@masked .*in detail\.masked\.digests\[1\]$/m);
    assert.ok(!r.stdout.includes(TOKEN));
  });
});
