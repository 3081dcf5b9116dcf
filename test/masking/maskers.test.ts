// Placeholders (format, stability per scope, survival in SQL, JSON and shell), replacements,
// the value masker per column, the gate's maskResult, the streaming masker split at every
// offset, and failing closed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { compileMaskingProfile, StreamMasker } from '../../src/masking/index.js';
import { maskResult, WITHHELD } from '../../src/masking/columns.js';
import { PLACEHOLDER_PATTERN } from '../../src/masking/placeholder.js';
import { directSql } from '../helpers.js';
import { defaultProfile, KEY, loadCorpus } from './helpers.js';

const FORMAT = /^SLUICE_[A-Z][A-Z0-9_]*_[bcdfghjkmnpqrstv]{14}$/;

describe('placeholders', () => {
  it('are typed, stable within a scope, different across scopes and keys', () => {
    const base = compileMaskingProfile('p', { detectors: ['email'] }, { key: KEY });
    const s1 = base.forScope({ session: 's1', principal: 'bot' });
    const a = s1.maskText('ada@example.com').text;
    assert.match(a, FORMAT);
    assert.ok(a.startsWith('SLUICE_EMAIL_'));
    assert.equal(s1.maskText('x ada@example.com y').text, `x ${a} y`, 'same value, same placeholder');
    assert.notEqual(s1.maskText('bob@example.com').text, a);
    assert.notEqual(base.forScope({ session: 's2', principal: 'bot' }).maskText('ada@example.com').text, a, 'session scope');
    const agent = compileMaskingProfile('p', { detectors: ['email'], scope: 'agent' }, { key: KEY });
    assert.equal(agent.forScope({ session: 's1', principal: 'bot' }).maskText('ada@example.com').text, agent.forScope({ session: 's2', principal: 'bot' }).maskText('ada@example.com').text);
    const other = compileMaskingProfile('p', { detectors: ['email'] }, { key: 'another-key-0123456789abcdef' }).forScope({ session: 's1', principal: 'bot' });
    assert.notEqual(other.maskText('ada@example.com').text, a, 'another key');
  });

  it('are not masked again and survive a SQL literal, a JSON string and a shell word', async () => {
    const profile = defaultProfile();
    const text = 'ada@example.com 4242 4242 4242 4242 DB_PASSWORD=hunter22 +1 415 555 0132';
    const once = profile.maskText(text).text;
    const placeholders = once.match(PLACEHOLDER_PATTERN)!;
    assert.equal(placeholders.length, 4);
    assert.equal(profile.maskText(once).text, once, 'idempotent');
    assert.deepEqual(profile.maskText(once).findings, []);
    for (const p of placeholders) {
      assert.match(p, FORMAT);
      assert.equal(JSON.stringify(p), `"${p}"`, 'JSON needs no escape');
      const sql = await directSql<{ v: string }>(`SELECT '${p}' AS v`);
      assert.equal(sql.rows[0]!.v, p, 'SQL literal');
      const shell = spawnSync('bash', ['-c', `printf '%s' ${p}`], { encoding: 'utf8' });
      assert.equal(shell.stdout, p, 'shell word');
    }
  });

  it('replacements: partial, hash, drop, redact per type', () => {
    const profile = compileMaskingProfile('r', { detectors: ['email', 'card', 'phone', 'ssn', 'iban'], replace: { email: 'partial', card: 'partial', phone: 'drop', ssn: 'hash', iban: 'redact' } }, { key: KEY });
    const out = profile.maskText('ada@example.com 4242-4242-4242-4242 +1 415 555 0132 123-45-6789 DE89370400440532013000').text;
    assert.match(out, /^a\*\*\*@example\.com \*\*\*\* 4242 {2}hash_[b-v]{16} \[masked\]$/);
  });
});

describe('maskers', () => {
  it('column rules first, then content in string, number and JSON values; report counts per type', () => {
    const profile = compileMaskingProfile('v', { detectors: ['all'], replace: { email: 'partial' } }, { key: KEY });
    const result = {
      ok: true,
      columns: [{ name: 'id' }, { name: 'email' }, { name: 'note' }, { name: 'doc' }, { name: 'n' }],
      rows: [
        [1, 'not-an-email', 'write to bob@example.com', { contact: { phone: '+1 415 555 0132' } }, 4242424242424242],
        [2, null, 'nothing here', null, 42],
      ],
    };
    const { result: out, report } = maskResult(result as never, profile, { session: 's' });
    const rows = out.rows!;
    assert.equal(rows[0]![0], 1);
    assert.equal(rows[0]![1], '****mail', 'replaced whole by column name (partial of a value that is no address)');
    assert.equal(rows[0]![2], 'write to b***@example.com');
    assert.match(JSON.stringify(rows[0]![3]), /"phone":"SLUICE_PHONE_[b-v]{14}"/);
    assert.match(rows[0]![4] as string, /^SLUICE_CARD_/);
    assert.deepEqual(rows[1], [2, null, 'nothing here', null, 42]);
    assert.deepEqual(report.columns, ['email', 'note', 'doc', 'n']);
    assert.deepEqual(report.types, { email: 2, phone: 1, card: 1 });
    assert.equal(report.values, 4);
    assert.equal(JSON.stringify(report).includes('bob'), false, 'no values in the report');
  });

  it('plain column profiles keep their meaning and do not scan content', () => {
    const redact = compileMaskingProfile('old', { columns: ['email', '*_secret'] });
    const partial = compileMaskingProfile('old', { columns: ['card'], replacement: 'partial' });
    const result = { ok: true, columns: [{ name: 'email' }, { name: 'api_secret' }, { name: 'note' }], rows: [['a@b.io', 'sk', 'mail c@d.io']], stdout: 'c@d.io' };
    const out = maskResult(result as never, redact);
    assert.deepEqual(out.result.rows, [['[masked]', '[masked]', 'mail c@d.io']]);
    assert.equal(out.result.stdout, 'c@d.io');
    assert.deepEqual(out.report, { columns: ['email', 'api_secret'], values: 2 });
    assert.equal(partial.mask('4242424242424242'), '****4242');
    assert.equal(partial.mask('short'), '[masked]');
    assert.equal(redact.scansContent, false);
  });

  it('command output and error messages are scanned when the profile has detectors', () => {
    const profile = defaultProfile();
    const { result, report } = maskResult({ ok: false, stdout: 'TOKEN=ghp_abcdefghijklmnopqrstuvwxyzABCDEF0123\n', stderr: 'ok', error: { code: 'x', message: 'duplicate key ada@example.com' } }, profile);
    assert.match(result.stdout!, /^TOKEN=SLUICE_SECRET_[b-v]{14}\n$/);
    assert.equal(result.stderr, 'ok');
    assert.match(result.error!.message, /^duplicate key SLUICE_EMAIL_/);
    assert.deepEqual(report.types, { secret: 1, email: 1 });
  });

  it('fails closed: a value the masker cannot handle is dropped, output withheld, a stream stops', () => {
    const failing = { record: () => { throw new Error('vault down'); } };
    const profile = compileMaskingProfile('f', { detectors: ['email'] }, { key: KEY, sink: failing });
    const { result, report } = maskResult({ ok: true, columns: [{ name: 'email' }, { name: 'note' }], rows: [['a@b.io', 'to c@d.io'], ['x', 'fine']], stdout: 'c@d.io' } as never, profile);
    assert.deepEqual(result.rows, [[null, null], [null, 'fine']]);
    assert.equal(result.stdout, WITHHELD);
    assert.equal(report.errors, 4);
    assert.throws(() => new StreamMasker(profile, { tail: 8 }).push('mail c@d.io and more text here, enough'.repeat(2)));
  });
});

describe('streaming masker', () => {
  const profile = defaultProfile();
  const texts = loadCorpus().map((line) => line.text).slice(0, 12);
  const whole = (text: string) => profile.maskText(text);

  it('gives the same output and findings as masking the whole text, split at every offset', () => {
    for (const text of texts) {
      const expected = whole(text);
      for (let cut = 0; cut <= text.length; cut++) {
        const s = new StreamMasker(profile, { tail: 160, context: 64 });
        const a = s.push(text.slice(0, cut));
        const b = s.push(text.slice(cut));
        const c = s.end();
        assert.equal(a.text + b.text + c.text, expected.text, `split at ${cut}`);
        assert.deepEqual([...a.findings, ...b.findings, ...c.findings].map(({ type, start, end }) => ({ type, start, end })), expected.findings.map(({ type, start, end }) => ({ type, start, end })));
      }
    }
  });

  it('finds values split across many small chunks of a long stream, holding back a bounded tail', () => {
    const text = texts.join('\n').repeat(20);
    const expected = whole(text).text;
    for (const size of [1, 7, 64, 1000]) {
      const s = new StreamMasker(profile, { tail: 256 });
      let out = '';
      let held = 0;
      for (let i = 0; i < text.length; i += size) {
        out += s.push(text.slice(i, i + size)).text;
        held = Math.max(held, (s as unknown as { pending: string }).pending.length);
      }
      out += s.end().text;
      assert.equal(out, expected, `chunks of ${size}`);
      assert.ok(held <= 2 * 256 + size + 200, `held back at most about two tails (${held})`);
    }
  });
});
