// The secret rules kept as data: each compiles under RE2 semantics (re2js) and as a
// JavaScript RegExp, finds the same span in its own examples with both engines, and has a
// keyword that occurs in each example (otherwise the prefilter would skip it).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RE2JS } from 're2js';
import { loadSecretRuleData } from '../../src/masking/detectors/secrets.js';
import { unsplit } from './helpers.js';

describe('secret rules (src/masking/rules/secrets.json)', () => {
  const rules = loadSecretRuleData();

  it('every rule but those scanned by hand is anchored to its keywords', () => {
    assert.deepEqual(rules.filter((rule) => !rule.anchor).map((rule) => rule.id), ['url-password']);
  });

  it('has unique ids and covers the providers the issue names', () => {
    const ids = rules.map((rule) => rule.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const id of ['aws-access-key-id', 'aws-secret-access-key', 'gcp-api-key', 'azure-storage-account-key', 'azure-ad-client-secret', 'github-token', 'gitlab-token', 'slack-token', 'stripe-key', 'openai-key', 'anthropic-key', 'npm-token', 'sendgrid-key', 'jwt', 'private-key', 'url-password']) {
      assert.ok(ids.includes(id), id);
    }
  });

  for (const rule of rules) {
    it(`${rule.id}: RE2 and V8 agree on its examples`, () => {
      const re2 = RE2JS.compile(rule.regex, rule.flags?.includes('i') ? RE2JS.CASE_INSENSITIVE : 0);
      const v8 = new RegExp(rule.regex, `d${rule.flags ?? ''}`);
      assert.ok(rule.examples.length > 0, 'every rule has an example');
      for (const example of rule.examples.map(unsplit)) {
        const m = re2.matcher(example);
        assert.ok(m.find(), `RE2 matches ${rule.id}`);
        const v = v8.exec(example);
        assert.ok(v, `V8 matches ${rule.id}`);
        assert.deepEqual([m.start(rule.group), m.end(rule.group)], v.indices![rule.group], 'same secret span');
        assert.ok(m.end(rule.group) > m.start(rule.group));
        assert.ok(rule.keywords.some((keyword) => example.toLowerCase().includes(keyword)), 'a keyword occurs in the example');
        assert.ok(rule.keywords.every((keyword) => keyword === keyword.toLowerCase()), 'keywords are lower case');
        if (rule.anchor) {
          // The engine tries the rule only at [from, to] from a keyword: the example's match starts there.
          const [from, to] = rule.anchor;
          const lower = example.toLowerCase();
          const near = rule.keywords.some((keyword) => {
            for (let at = lower.indexOf(keyword); at >= 0; at = lower.indexOf(keyword, at + 1)) if (m.start() - at >= from && m.start() - at <= to) return true;
            return false;
          });
          assert.ok(near, `the match starts within the anchor range of a keyword`);
        }
      }
    });
  }
});

describe('rules scanned by hand', () => {
  it('url-password: the same spans as its regex', async () => {
    const { scanUrlPasswords } = await import('../../src/masking/detectors/secrets.js');
    const { ScanContext } = await import('../../src/masking/detectors/context.js');
    const rule = loadSecretRuleData().find((r) => r.id === 'url-password')!;
    const regex = new RegExp(rule.regex, 'gd');
    const text = 'a postgres://app:s3cr3t@db:5432/x b redis://:only-pw@cache c https://user@host d mongodb+srv://u:p%40ss@c.example.net/db e x://a:b@c f ftp://anon:@h';
    const expected = [...text.matchAll(regex)].map((m) => m.indices![1]);
    const found: { start: number; end: number }[] = [];
    scanUrlPasswords(new ScanContext(text, 'US'), found as never);
    assert.deepEqual(found.map((c) => [c.start, c.end]), expected);
    assert.equal(expected.length, 2);
  });
});
