// The fast paths of the detectors (keyword-anchored sticky regexes, digit pre-checks, regexes
// run only around runs of number characters) find exactly what the reference paths (each
// regex over the whole text) find: on the labelled corpora, and on seeded random texts built
// from every rule's keywords, examples and look-alike fragments with random glue. A difference prints the seed and the text.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KeywordScanner } from '../../src/masking/detectors/anchors.js';
import { ScanContext } from '../../src/masking/detectors/context.js';
import { LABEL_KEYWORDS, scanAddress, scanAddressPlain, scanDateOfBirth, scanDateOfBirthPlain, scanName, scanNamePlain } from '../../src/masking/detectors/labelled.js';
import { loadSecretRuleData, scanAssignments, scanAssignmentsPlain, scanSecretRules, scanSecretRulesPlain, secretKeywords } from '../../src/masking/detectors/secrets.js';
import { scanIban, scanIbanPlain } from '../../src/masking/detectors/iban.js';
import { scanCard, scanCardPlain } from '../../src/masking/detectors/card.js';
import { scanPhone, scanPhonePlain } from '../../src/masking/detectors/phone.js';
import { scanSsn, scanSsnPlain } from '../../src/masking/detectors/ssn.js';
import type { Candidate } from '../../src/masking/types.js';
import { loadCorpus, unsplit } from './helpers.js';

type Scan = (ctx: ScanContext, out: Candidate[]) => void;

const PAIRS: [name: string, fast: Scan, plain: Scan][] = [
  ['secret rules', scanSecretRules, scanSecretRulesPlain],
  ['assignments', scanAssignments, scanAssignmentsPlain],
  ['dob', scanDateOfBirth, scanDateOfBirthPlain],
  ['name', scanName, scanNamePlain],
  ['address', scanAddress, scanAddressPlain],
  ['iban', scanIban, scanIbanPlain],
  ['card', scanCard, scanCardPlain],
  ['phone', scanPhone, scanPhonePlain],
  ['ssn', scanSsn, scanSsnPlain],
];

/** The engine's one-pass keyword scan (as the default profile builds it). */
const KEYWORDS = new KeywordScanner([...secretKeywords(), ...LABEL_KEYWORDS]);

function run(scan: Scan, text: string, keywords?: KeywordScanner, region = 'US'): Candidate[] {
  const out: Candidate[] = [];
  scan(new ScanContext(text, region, keywords), out);
  return out;
}

/** A scan of other detectors' keywords only (a detector must not trust it for its own). */
const LABELS_ONLY = new KeywordScanner(LABEL_KEYWORDS);

/** The fast path with the shared keyword scan and with per-keyword look-ups agree with the reference. */
function check(name: string, fast: Scan, plain: Scan, text: string, where: string, region = 'US'): number {
  const expected = run(plain, text, undefined, region);
  assert.deepEqual(run(fast, text, KEYWORDS, region), expected, `${name} (keyword scan), ${where}: ${JSON.stringify(text)}`);
  assert.deepEqual(run(fast, text, undefined, region), expected, `${name} (look-ups), ${where}: ${JSON.stringify(text)}`);
  assert.deepEqual(run(fast, text, LABELS_ONLY, region), expected, `${name} (partial scan), ${where}: ${JSON.stringify(text)}`);
  return expected.length;
}

/** mulberry32: a small seeded generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rules = loadSecretRuleData();
const FRAGMENTS = [
  ...rules.flatMap((rule) => rule.keywords.flatMap((k) => [k, k.toUpperCase(), k[0]!.toUpperCase() + k.slice(1)])),
  ...rules.flatMap((rule) => rule.examples.map(unsplit)),
  ...rules.flatMap((rule) => rule.examples.map((e) => unsplit(e).slice(0, Math.max(1, unsplit(e).length - 3)))),
  `${'a_'.repeat(32)}encryption_key=hunter22x`, `${'a_'.repeat(30)}password=hunter22x`, `${'x'.repeat(70)}_encryption_key: s3cr3t-v4lue`, `${'b.'.repeat(40)}client_secret=abcdef123`,
  'password', 'DB_PASSWORD', 'clientSecret', 'api_key', 'api-key', 'x.secret_key', 'github_token', 'private_key', '--password', 'max_tokens', 'credentials', 'pwd',
  '=', ': ', ':=', '=>', '"', "'", ' = ', '\n', '\r\n', '\t', ' ', ' ', ' ', ',', ';', '.', '-', '_', '/', '?', '&', '@', '://', '-----BEGIN ', ' PRIVATE KEY-----', '-----END ',
  'dob: ', 'date of birth', 'Date_of_Birth: ', 'born on ', 'birthday=', 'D.O.B. ', '1984-03-12', '12/03/1984', '3rd March 1984', 'March 3, 1984',
  'name: ', 'full_name=', 'Customer Name: ', 'patient: ', 'card holder: ', 'surname: ', 'Ada Lovelace', 'Grace B. Hopper', 'Production', "O'Brien-Smith",
  'address: ', 'Billing Address: ', 'ip address: ', 'street: ', 'home_address=', 'mailing address: ', '221B Baker Street, London', '1600 Amphitheatre Pkwy',
  ' 4111 1111 1111 1111 ', '5555-5555-5555-4444', ' +44 20 7946 0958 ', '(212) 555-0187', ' 415.555.0132 ', ' +683 4002 ', ' 123-45-6789 ', 'ssn: 123 45 6789', ' 4242', '555', '12', '7',
  ' DE89 3704 0044 0532 0130 00 ', ' iban GB82WEST12345698765432.', ' CH9300762011623852957 ', ' NO9386011117947 ', ' BE68 5390 0754 7034 ', ' AT61 1904 3002 3457 3201 ',
  'DE89 3704 0044 0532 0130 00', 'DE89370400440532013000', 'GB82WEST12345698765432', 'GB82 WEST 1234 5698 7654 33', 'NL91ABNA0417164300', 'FR14 2004 1010 0505 0001 3M02 606', 'AB12 CDEF',
  'dob: 1984-03-12', 'Date of Birth: 3 March 1984', 'DOB=12/03/1984', 'born on March 3, 1984', 'birth_date: 1990-01-31', 'date-of-birth, 01.02.1975',
  'Name: Ada Lovelace', 'first_name="Grace"', 'customer: John Smith', 'cardholder name: Ann Lee', 'employee name=Bob Stone', 'name: Production Server',
  'Address: 221B Baker Street, London', 'billing_address="1600 Amphitheatre Pkwy, Mountain View"', 'street: 12 High St. Leeds', 'server address: 10 Main St',
  'İ', 'K', 'ß', 'é', '😀', 'SLUICE_SECRET_bcdfghjkmnpqrs',
];
const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

function randomText(next: () => number): string {
  const parts: string[] = [];
  const count = 5 + Math.floor(next() * 60);
  for (let i = 0; i < count; i++) {
    const r = next();
    if (r < 0.6) parts.push(FRAGMENTS[Math.floor(next() * FRAGMENTS.length)]!);
    else {
      let word = '';
      const length = 1 + Math.floor(next() * (r < 0.9 ? 12 : 90));
      for (let j = 0; j < length; j++) word += ALNUM[Math.floor(next() * ALNUM.length)]!;
      parts.push(word);
    }
  }
  return parts.join('');
}

describe('the keyword pass (anchors.ts)', () => {
  /** Every occurrence of every keyword, by indexOf. */
  function naive(scanner: KeywordScanner, lower: string): number[][] {
    return scanner.keywords.map((keyword) => {
      const hits: number[] = [];
      for (let at = lower.indexOf(keyword); at >= 0; at = lower.indexOf(keyword, at + 1)) hits.push(at);
      return hits;
    });
  }

  it('finds every occurrence of every keyword, overlapping ones too, in short and long texts', () => {
    const sets = [KEYWORDS.keywords, LABEL_KEYWORDS, ['ab', 'b', 'abc', 'bcd', 'cd'], ['x'], ['pypi-ageichlwas5vcmc', 'pass', 'é']];
    const next = random(7);
    let found = 0;
    for (const keywords of sets) {
      const scanner = new KeywordScanner(keywords);
      for (let i = 0; i < 300; i++) {
        // Up to 6000 characters: keywords glued, cut and overlapping, and characters lower-casing changes.
        const target = Math.floor(next() * 6000);
        let text = '';
        while (text.length < target) {
          const r = next();
          text += r < 0.5 ? keywords[Math.floor(next() * keywords.length)]!.slice(Math.floor(next() * 3)) : r < 0.8 ? ' -_.:=~'[Math.floor(next() * 7)]! : 'éİxkK1abc'[Math.floor(next() * 9)]!;
        }
        const lower = text.toLowerCase();
        const expected = naive(scanner, lower);
        assert.deepEqual(scanner.scan(lower), expected, `keywords ${keywords.length}, text ${JSON.stringify(lower)}`);
        found += expected.reduce((sum, hits) => sum + hits.length, 0);
      }
    }
    assert.ok(found > 10_000);
  });
});

describe('fast detector paths find what the reference paths find', () => {
  it('on the labelled corpora', () => {
    const texts = [...loadCorpus(), ...loadCorpus(new URL('./corpus/held-out.jsonl', import.meta.url))].map((line) => line.text);
    assert.ok(texts.length > 100);
    let found = 0;
    for (const text of texts) {
      for (const [name, fast, plain] of PAIRS) found += check(name, fast, plain, text, 'corpus');
    }
    assert.ok(found > 50, 'the corpora exercise the detectors');
  });

  it('on 3000 seeded random texts', () => {
    const found: Record<string, number> = {};
    for (let seed = 1; seed <= 3000; seed++) {
      const text = randomText(random(seed));
      for (const [name, fast, plain] of PAIRS) found[name] = (found[name] ?? 0) + check(name, fast, plain, text, `seed ${seed}`);
    }
    // The generator reaches every detector (a test that finds nothing proves nothing).
    for (const [name] of PAIRS) assert.ok((found[name] ?? 0) > 20, `${name}: ${found[name] ?? 0} findings`);
  });

  it('on every fragment alone and in pairs (short values, as in a column)', () => {
    let found = 0;
    for (const a of FRAGMENTS) {
      for (const text of [a, ` ${a} `, `x=${a}`]) for (const [name, fast, plain] of PAIRS) found += check(name, fast, plain, text, 'fragment');
    }
    for (let i = 0; i < FRAGMENTS.length; i += 3) {
      for (let j = 1; j < FRAGMENTS.length; j += 5) for (const [name, fast, plain] of PAIRS) found += check(name, fast, plain, `${FRAGMENTS[i]} ${FRAGMENTS[j]}`, 'pair');
    }
    assert.ok(found > 100);
  });

  it('on 20000 seeded number shapes, with and without labels, in four regions (number runs, phone grouping)', () => {
    const next = random(42);
    const pick = <T,>(items: readonly T[]) => items[Math.floor(next() * items.length)]!;
    const before = ['', ' ', 'x', 'phone: ', 'Tel ', 'mobile=', 'call ', 'ssn: ', 'card ', 'id-', '.', '/', ':', '+', 'a ', '\n'];
    const after = ['', ' ', 'x', '.', '-1', '/', '@', ',', ' ok', '.5', '\n'];
    function shape(): string {
      let number = pick(['', '', '+', '(', '0', '1', '4', '5', '978', '979-', '9-7-8']);
      const groups = 1 + Math.floor(next() * 5);
      const separator = pick([' ', '-', '.', '', ') ', ' (']);
      for (let g = 0; g < groups; g++) {
        if (g > 0) number += next() < 0.9 ? separator : pick([' ', '-', '.', '  ']);
        const length = 1 + Math.floor(next() * 8);
        for (let d = 0; d < length; d++) number += String(Math.floor(next() * 10));
      }
      return `${pick(before)}${number}${pick(after)}`;
    }
    const found: Record<string, number> = {};
    for (let i = 0; i < 20_000; i++) {
      // Alone (a short value is scanned whole) and, one in four, several in a text longer
      // than 256 characters (the regexes run on number runs only).
      let text = shape();
      if (i % 4 === 0) while (text.length <= 300) text += pick([' ', 'text ', '\n', ', ', 'x']) + shape();
      // Outside North America libphonenumber accepts more groupings, so the grouping rules decide.
      const region = pick(['US', 'DE', 'GB', 'FR']);
      for (const [name, fast, plain] of PAIRS.filter(([name]) => name === 'phone' || name === 'card' || name === 'ssn')) {
        found[name] = (found[name] ?? 0) + check(name, fast, plain, text, `number shape ${i} (${region})`, region);
      }
    }
    for (const name of ['phone', 'card', 'ssn']) assert.ok((found[name] ?? 0) > 20, `${name}: ${found[name] ?? 0} findings`);
  });

  it('falls back to the reference path where lower-casing moves offsets (U+0130)', () => {
    const text = unsplit('İİ token=ghp«»_abcdefghijklmnopqrstuvwxyzABCDEF0123 and DB_PASSWORD=hunter2hunter2');
    assert.notEqual(text.toLowerCase().length, text.length);
    for (const [name, fast, plain] of PAIRS) check(name, fast, plain, text, 'U+0130');
    assert.ok(run(scanSecretRules, text).length >= 1);
  });
});
