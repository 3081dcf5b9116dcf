// The gitleaks rule set kept as data (src/masking/rules/gitleaks.json): attributed, licensed,
// and every rule checked for RE2 semantics. The file's RE2 verdicts are re-checked here with
// re2js, and a few rules are run on made-up tokens to show the data is usable as RE2.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { RE2JS } from 're2js';
import { unsplit } from './helpers.js';

interface GitleaksData {
  source: { project: string; licence: string; copyright: string; via: string; sha256: string };
  rules: { id: string; description: string; regex?: string; path?: string; secretGroup?: number; entropy?: number; keywords: string[]; allowlists?: { regexes?: string[] }[] }[];
  rejected: { id: string; error: string }[];
}

const dir = new URL('../../src/masking/rules/', import.meta.url);
const data = JSON.parse(readFileSync(new URL('gitleaks.json', dir), 'utf8')) as GitleaksData;

function compiles(pattern: string): boolean {
  try {
    RE2JS.compile(pattern);
    return true;
  } catch {
    return false;
  }
}

describe('gitleaks rule set (src/masking/rules/gitleaks.json)', () => {
  it('names its source and licence, and the MIT licence text with the copyright is beside it', () => {
    assert.match(data.source.project, /gitleaks/);
    assert.equal(data.source.licence, 'MIT');
    assert.equal(data.source.copyright, 'Copyright (c) 2019 Zachary Rice');
    assert.match(data.source.sha256, /^[0-9a-f]{64}$/);
    const licence = readFileSync(new URL('gitleaks.LICENSE', dir), 'utf8');
    assert.ok(licence.includes('MIT License') && licence.includes(data.source.copyright) && licence.includes('The above copyright notice and this permission notice shall be included'));
  });

  it('has the whole rule set with unique ids and lower-case keywords', () => {
    assert.ok(data.rules.length >= 200, `${data.rules.length} rules`);
    const ids = data.rules.map((rule) => rule.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const rule of data.rules) {
      assert.ok(rule.regex !== undefined || rule.path !== undefined, rule.id);
      assert.ok(rule.keywords.every((keyword) => keyword === keyword.toLowerCase()), rule.id);
    }
  });

  it('lists exactly the rules RE2 rejects', () => {
    const rejected = new Set(data.rejected.map((r) => r.id));
    for (const rule of data.rules) {
      const patterns = [rule.regex, rule.path, ...(rule.allowlists ?? []).flatMap((a) => a.regexes ?? [])].filter((p): p is string => p !== undefined);
      assert.equal(patterns.every(compiles), !rejected.has(rule.id), rule.id);
    }
  });

  it('runs as RE2: rules find made-up tokens in their formats and their secret group', () => {
    const find = (id: string, text: string): string | undefined => {
      const rule = data.rules.find((r) => r.id === id)!;
      const matcher = RE2JS.compile(rule.regex!).matcher(text);
      if (!matcher.find()) return undefined;
      const group = rule.secretGroup ?? (matcher.groupCount() > 0 ? 1 : 0);
      return matcher.group(group) ?? undefined;
    };
    assert.equal(find('age-secret-key', unsplit('key: AGE-SECRET-KEY-1«»QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7LQPZRY9X8GF2TVDW0S3JN54KHCE')), unsplit('AGE-SECRET-KEY-1«»QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7LQPZRY9X8GF2TVDW0S3JN54KHCE'));
    assert.equal(find('github-pat', unsplit('token ghp«»_abcdefghijklmnopqrstuvwxyzABCDEF0123 end')), unsplit('ghp«»_abcdefghijklmnopqrstuvwxyzABCDEF0123'));
    assert.equal(find('adafruit-api-key', 'adafruit_key = "abcdefghijklmnopqrstuvwxyz012345"'), 'abcdefghijklmnopqrstuvwxyz012345');
    assert.equal(find('github-pat', 'version 1.2.3 and nothing else'), undefined);
  });
});
