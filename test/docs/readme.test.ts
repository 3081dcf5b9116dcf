// The configuration example in README.md is what new users copy: it must load as written
// and mean what its comments say.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadConfigText } from '../../src/config/load.js';
import { createAnalysers } from '../../src/analyse/index.js';
import { Gate } from '../../src/gate/gate.js';

describe('README configuration example', () => {
  it('loads, and its DBA rule really lets DBAs past the preset', async () => {
    const readme = readFileSync('README.md', 'utf8');
    const yaml = /```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(yaml, 'README has a YAML example');
    const loaded = loadConfigText(yaml, 'README.md', '/tmp');
    const gate = new Gate({
      policy: () => loaded.policy,
      analysers: await createAnalysers(),
      audit: { append: () => Promise.reject(new Error('not used')) },
      reviews: { hold: () => Promise.reject(new Error('not used')) },
      connection: (name) => ({ ref: { name, kind: 'postgres', labels: {} }, language: 'postgres', connector: { kind: 'postgres', execute: () => Promise.reject(new Error('not used')), close: () => Promise.resolve() } }),
      maskingProfiles: new Map(),
    });
    const decide = (principal: { kind: 'human' | 'agent'; name: string; groups: string[] }, command: string) =>
      gate.decide(gate.buildAction({ principal, session: 's', connection: 'prod-db', door: 'api', command }).action).effect;
    const alice = { kind: 'human' as const, name: 'alice', groups: ['dba'] };
    const copilot = { kind: 'agent' as const, name: 'copilot', groups: ['agents'] };
    assert.equal(decide(alice, 'UPDATE orders SET a = 1 WHERE id = 1'), 'allow');
    assert.equal(decide(alice, 'DROP TABLE orders'), 'deny');
    assert.equal(decide(copilot, 'UPDATE orders SET a = 1 WHERE id = 1'), 'review');
    assert.equal(decide(copilot, 'SELECT * FROM orders'), 'allow');
  });
});
