// The masking section of sluice.yaml: the documented example loads, the plain profile form
// keeps working, mistakes are refused with their place, and the key is used.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadConfigText } from '../../src/config/load.js';
import { compileMaskingProfiles } from '../../src/masking/index.js';

const load = (yaml: string) => loadConfigText(yaml, '/tmp/sluice.yaml', '/tmp');

describe('masking config', () => {
  it('the example in docs/masking.md loads and compiles', () => {
    const doc = readFileSync(new URL('../../docs/masking.md', import.meta.url), 'utf8');
    // The guide's profiles example: the yaml block under masking: that defines profiles.
    const blocks = doc.split('```yaml\n').slice(1).map((b) => b.slice(0, b.indexOf('```')));
    const yaml = blocks.find((b) => b.startsWith('masking:') && b.includes('  profiles:'))!;
    const loaded = load(yaml);
    const agents = loaded.config.masking.profiles.agents!;
    assert.deepEqual(agents.detectors, ['all']);
    assert.equal(agents.scope, 'agent');
    process.env.SLUICE_MASKING_KEY = 'doc-example-key-0123456789abcdef';
    let profiles;
    try {
      profiles = compileMaskingProfiles(loaded.config, loaded.baseDir, {});
    } finally {
      delete process.env.SLUICE_MASKING_KEY;
    }
    assert.ok(profiles.get('agents')!.scansContent);
    assert.equal(profiles.get('pii')!.scansContent, false);
  });

  it('the plain form keeps its defaults', () => {
    const loaded = load('masking:\n  profiles:\n    pii:\n      columns: [email]\n');
    assert.deepEqual(loaded.config.masking.profiles.pii, { columns: ['email'], replacement: 'redact', detectors: [], replace: {}, region: 'US', scope: 'session', custom: [] });
  });

  it('refuses unknown keys, empty profiles, bad detectors and patterns RE2 cannot run', () => {
    assert.throws(() => load('masking:\n  profiles:\n    p:\n      columns: [email]\n      replacment: partial\n'), /replacment/);
    assert.throws(() => load('masking:\n  profiles:\n    p: {}\n'), /needs columns, detectors or custom rules/);
    assert.throws(() => load('masking:\n  profiles:\n    p:\n      detectors: [emails]\n'), /detectors/);
    assert.throws(() => load("masking:\n  profiles:\n    p:\n      custom:\n        - type: x\n          regex: '(a)\\1'\n"), /not a valid RE2 regex/);
    assert.throws(() => load('masking:\n  profiles:\n    p:\n      custom:\n        - type: Bad-Type\n          dictionary: [a]\n'), /masking type/);
    assert.throws(() => load('masking:\n  profiles:\n    p:\n      detectors: [email]\n      region: usa\n'), /region/);
  });

  it('the key from config makes placeholders the same across compilations, and is required to be long', () => {
    const yaml = 'masking:\n  key: { env: TEST_MASKING_KEY }\n  profiles:\n    p:\n      detectors: [email]\n      scope: global\n';
    process.env.TEST_MASKING_KEY = 'a-sufficiently-long-key-0123456789';
    try {
      const one = compileMaskingProfiles(load(yaml).config, '/tmp').get('p')!.maskText('ada@example.com').text;
      const two = compileMaskingProfiles(load(yaml).config, '/tmp').get('p')!.maskText('ada@example.com').text;
      assert.equal(one, two);
      process.env.TEST_MASKING_KEY = 'short';
      assert.throws(() => compileMaskingProfiles(load(yaml).config, '/tmp'), /at least 16 bytes/);
    } finally {
      delete process.env.TEST_MASKING_KEY;
    }
  });
});
