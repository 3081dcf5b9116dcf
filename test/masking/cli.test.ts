// `sluice mask` as a user runs it: stdin to stdout with the built-in profile or a profile
// from a config, --jsonl, and refusals.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tempDir } from '../helpers.js';
import { loadCorpus, unsplit } from './helpers.js';

const BIN = resolve('bin/sluice.mjs');

function sluice(args: string[], input: string, cwd: string, env: NodeJS.ProcessEnv = {}) {
  const result = spawnSync(process.execPath, [BIN, ...args], { cwd, input, encoding: 'utf8', env: { ...process.env, SLUICE_LOG_LEVEL: 'silent', SLUICE_CONFIG: '', ...env }, timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('sluice mask', () => {
  const dir = tempDir('sluice-mask-');
  after(() => dir.remove());

  it('masks stdin to stdout with the built-in profile (PII and secrets as placeholders)', () => {
    const input = unsplit('user ada@example.com paid with 4242 4242 4242 4242\nGITHUB_TOKEN=ghp«»_abcdefghijklmnopqrstuvwxyzABCDEF0123\nversion 1.2.3\n').repeat(3000);
    const r = sluice(['mask'], input, dir.path);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.equal(lines.length, 9001);
    assert.match(lines[0]!, /^user SLUICE_EMAIL_[b-v]{14} paid with SLUICE_CARD_[b-v]{14}$/);
    assert.match(lines[1]!, /^GITHUB_TOKEN=SLUICE_SECRET_[b-v]{14}$/);
    assert.equal(lines[2], 'version 1.2.3');
    assert.equal(lines[3], lines[0], 'stable within the run');
    assert.ok(!r.stdout.includes('ada@example.com') && !r.stdout.includes('ghp_'));
  });

  it('--jsonl: masked text and findings with offsets; a bad line is reported without its content', () => {
    const corpus = loadCorpus();
    const input = `${corpus.map((line) => JSON.stringify({ text: line.text })).join('\n')}\n{"text": 5, "x": "ada@example.com"}\n`;
    const r = sluice(['mask', '--jsonl'], input, dir.path);
    assert.notEqual(r.code, 0);
    const out = r.stdout.trim().split('\n').map((line) => JSON.parse(line) as { text?: string; findings?: { type: string; start: number; end: number }[]; error?: string });
    assert.equal(out.length, corpus.length + 1);
    corpus.forEach((line, i) => {
      const got = out[i]!;
      for (const p of line.planted) {
        assert.ok(!got.text!.includes(p.value), `line ${i + 1}: ${p.type} gone`);
        assert.ok(got.findings!.some((f) => f.type === p.type && f.start === p.start && f.end === p.end), `line ${i + 1}: ${p.type} reported with its span`);
      }
      for (const keep of line.keep) assert.ok(got.text!.includes(keep), `line ${i + 1}: ${keep} kept`);
      for (const f of got.findings!) assert.deepEqual(Object.keys(f).sort(), ['end', 'start', 'type']);
    });
    assert.equal(out[corpus.length]!.error, `line ${corpus.length + 1}: expected {"text": "..."}`);
    assert.ok(!r.stdout.endsWith('ada@example.com"}\n'));
  });

  it('--profile from --config, with the config key (placeholders stable across runs)', () => {
    const config = join(dir.path, 'sluice.yaml');
    writeFileSync(
      config,
      [
        'masking:',
        '  key: { env: MASK_KEY }',
        '  profiles:',
        '    emails-partial:',
        '      detectors: [email]',
        '      replace: { email: partial }',
        '    tokens:',
        '      detectors: [secrets, email]',
        '      scope: global',
        '',
      ].join('\n'),
    );
    const env = { MASK_KEY: 'a-long-enough-masking-key-123456' };
    const partial = sluice(['mask', '--profile', 'emails-partial', '--config', config], 'ada@example.com, card 4242 4242 4242 4242', dir.path, env);
    assert.equal(partial.code, 0, partial.stderr);
    assert.equal(partial.stdout, 'a***@example.com, card 4242 4242 4242 4242');
    const one = sluice(['mask', '--profile', 'tokens', '--config', config], 'ada@example.com', dir.path, env);
    const two = sluice(['mask', '--profile', 'tokens', '--config', config], 'ada@example.com', dir.path, env);
    assert.match(one.stdout, /^SLUICE_EMAIL_[b-v]{14}$/);
    assert.equal(one.stdout, two.stdout);
    const missing = sluice(['mask', '--profile', 'nope', '--config', config], 'x', dir.path, env);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no masking profile "nope" .*\(profiles: emails-partial, tokens\)/);
  });
});
