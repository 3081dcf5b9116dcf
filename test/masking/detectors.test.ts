// Each detector on its own: what it must find and the look-alikes it must leave alone.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileMaskingProfile } from '../../src/masking/index.js';
import { isCardNumber, luhn } from '../../src/masking/detectors/card.js';
import { validSsn } from '../../src/masking/detectors/ssn.js';
import { columnType, normaliseColumn } from '../../src/masking/column-rules.js';
import { expandDetectors } from '../../src/masking/engine.js';
import { KEY, unsplit } from './helpers.js';

function found(detectors: string[], text: string, extra: { region?: string } = {}): string[] {
  const profile = compileMaskingProfile('t', { detectors: detectors as never, ...extra }, { key: KEY });
  return profile.maskText(text).findings.map((f) => `${f.type}:${text.slice(f.start, f.end)}`);
}

describe('detectors', () => {
  it('email: addresses in prose, not asset names, git remotes or npm scopes', () => {
    assert.deepEqual(found(['email'], 'Mail "Ada" <ada+news@mail.example.co.uk>. Or bob.o\'neil@example.com.'), ['email:ada+news@mail.example.co.uk', "email:bob.o'neil@example.com"]);
    assert.deepEqual(found(['email'], 'icon@2x.png git@github.com:org/repo.git @types/node user@localhost a@b.c'), []);
  });

  it('phone: international and national formats, validated; not dates, IPs, ISBNs or ids', () => {
    assert.deepEqual(found(['phone'], 'call +1 415 555 0132 or (212) 555-0187 or 650.555.0199 or +49 30 901820'), [
      'phone:+1 415 555 0132',
      'phone:(212) 555-0187',
      'phone:650.555.0199',
      'phone:+49 30 901820',
    ]);
    assert.deepEqual(found(['phone'], 'on 2024-03-05 10:22, host 10.20.30.40, isbn 978-3-16-148410-0, order 4155550132, +1 555, [12345.678901], 2125550187-2125550188'), []);
    assert.deepEqual(found(['phone'], 'phone: 4155550132'), ['phone:4155550132'], 'a bare number after a label');
    // The default region decides national numbers.
    assert.deepEqual(found(['phone'], 'Tel 020 7946 0958'), []);
    assert.deepEqual(found(['phone'], 'Tel 020 7946 0958', { region: 'GB' }), ['phone:020 7946 0958']);
  });

  it('card: Luhn and issuer checked, with spaces or dashes', () => {
    assert.ok(luhn('4242424242424242') && !luhn('4242424242424241'));
    assert.ok(isCardNumber('4242 4242 4242 4242') && isCardNumber('3782-822463-10005') && isCardNumber('5555555555554444'));
    assert.ok(!isCardNumber('4242 4242-4242 4242'), 'mixed separators');
    assert.ok(!isCardNumber('1234567812345670'), 'Luhn-valid but no issuer starts with 1');
    assert.deepEqual(found(['card'], 'pan 4111-1111-1111-1111, id 4242424242424241, ts 1709633000000, 12.4242424242424242'), ['card:4111-1111-1111-1111']);
  });

  it('iban: mod-97 via ibantools, grouped or compact', () => {
    assert.deepEqual(found(['iban'], 'to DE89 3704 0044 0532 0130 00 and NL91ABNA0417164300.'), ['iban:DE89 3704 0044 0532 0130 00', 'iban:NL91ABNA0417164300']);
    assert.deepEqual(found(['iban'], 'bad DE89 3704 0044 0532 0130 01, code AB12CDEF3456GHIJ'), []);
  });

  it('ssn: valid areas, groups and serials; undashed only after a label', () => {
    assert.ok(validSsn('123', '45', '6789'));
    assert.ok(!validSsn('000', '45', '6789') && !validSsn('666', '45', '6789') && !validSsn('912', '45', '6789') && !validSsn('123', '00', '6789') && !validSsn('123', '45', '0000'));
    assert.deepEqual(found(['ssn'], 'ssn 123-45-6789, bad 666-12-3456, part 2024-01-05'), ['ssn:123-45-6789']);
    assert.deepEqual(found(['ssn'], 'SSN: 123456789; order 123456789'), ['ssn:123456789']);
  });

  it('ipv4 and ipv6 only when enabled', () => {
    const text = 'from 192.168.1.20 and 2001:db8::8a2e:370:7334, version 1.2.3, time 10:22:33, mac 00:1a:2b:3c:4d:5e';
    assert.deepEqual(found(['pii'], text), []);
    assert.deepEqual(found(['ipv4', 'ipv6'], text), ['ipv4:192.168.1.20', 'ipv6:2001:db8::8a2e:370:7334']);
  });

  it('dob, name and address only after a label', () => {
    assert.deepEqual(found(['dob', 'name', 'address'], 'dob: 1984-03-12; full_name: "Ada Lovelace"; address: 221B Baker Street, London'), [
      'dob:1984-03-12',
      'name:Ada Lovelace',
      'address:221B Baker Street, London',
    ]);
    assert.deepEqual(found(['dob', 'name', 'address'], 'created 1984-03-12 by Ada Lovelace; name: nginx; ip address: 10.0.0.1; name: Web'), []);
  });

  it('secrets: token formats, URL passwords, assignments; not references or prose', () => {
    const text = unsplit('GITHUB_TOKEN=ghp' + '«»_abcdefghijklmnopqrstuvwxyzABCDEF0123 url=https://bob:pa55w0rd@git.example.com/x');
    assert.deepEqual(found(['secrets'], text), ['secret:ghp_abcdefghijklmnopqrstuvwxyzABCDEF0123', 'secret:pa55w0rd']);
    assert.deepEqual(found(['secrets'], 'password: "correct horse battery", db_password=hunter22, clientSecret: \'abc123XYZ\''), [
      'secret:correct horse battery',
      'secret:hunter22',
      'secret:abc123XYZ',
    ]);
    assert.deepEqual(
      found(['secrets'], 'password=${DB_PASSWORD} token: <your-token> api_key=process.env.KEY secret: null max_tokens=4096 password: ******** Reset your password: click the link below'),
      [],
    );
  });

  it('custom rules: RE2 regex with a group, dictionary words, and the pattern cannot backtrack', () => {
    const profile = compileMaskingProfile('c', { custom: [{ type: 'employee_id', regex: 'EMP-(\\d{6})', group: 1 }, { type: 'project', dictionary: ['Blue Falcon', 'apollo'] }] }, { key: KEY });
    const out = profile.maskText('EMP-123456 works on blue falcon and Apollo, not apollonia');
    assert.deepEqual(out.findings.map((f) => f.type), ['employee_id', 'project', 'project']);
    assert.match(out.text, /^EMP-SLUICE_EMPLOYEE_ID_[b-v]{14} works on SLUICE_PROJECT_[b-v]{14} and SLUICE_PROJECT_[b-v]{14}, not apollonia$/);
    // A pattern that is catastrophic for a backtracking engine runs in linear time under RE2.
    const evil = compileMaskingProfile('e', { custom: [{ type: 'x', regex: '(a+)+$' }] }, { key: KEY });
    const started = performance.now();
    evil.maskText(`${'a'.repeat(5000)}!`);
    assert.ok(performance.now() - started < 2000);
  });

  it('column-name rules', () => {
    assert.equal(normaliseColumn('customerEmailAddress'), 'customer_email_address');
    const all = expandDetectors(['all']);
    const cases: [string, string | undefined][] = [
      ['email', 'email'], ['contact_email', 'email'], ['phone_number', 'phone'], ['mobile', 'phone'], ['ssn', 'ssn'], ['card_number', 'card'],
      ['iban', 'iban'], ['password_hash', 'secret'], ['api_key', 'secret'], ['githubToken', 'secret'], ['client_secret', 'secret'], ['dob', 'dob'],
      ['date_of_birth', 'dob'], ['last_name', 'name'], ['billing_address', 'address'], ['address_line2', 'address'],
      ['name', undefined], ['ip_address', undefined], ['email_verified', undefined], ['max_tokens', undefined], ['token_count', undefined], ['card_type', undefined], ['id', undefined],
    ];
    for (const [column, type] of cases) assert.equal(columnType(column, all), type, column);
    assert.equal(columnType('email', expandDetectors(['secrets'])), undefined, 'only enabled types');
  });
});
