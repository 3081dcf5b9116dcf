// The review-rule settings in sluice.yaml: keyed by a policy rule that holds commands, strict,
// and turned into the requirements a review carries.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { requirementsFor } from '../../src/approvals/config.js';
import { unknownIntent } from '../../src/gate/gate.js';
import type { Action } from '../../src/gate/types.js';
import { loadConfigText } from '../../src/config/load.js';

const base = `
policy:
  rules:
    - { name: writes, effect: review, when: 'intent.class == "write"' }
    - { name: reads, effect: allow, when: 'intent.class == "read"' }
    - { preset: guarded, name: shop }
`;

function load(approvals: string) {
  return loadConfigText(`${base}approvals:\n${approvals}`, '/tmp/sluice.yaml', '/tmp');
}

function action(cls: 'write' | 'schema'): Action {
  const intent = { ...unknownIntent('postgres', ''), class: cls, classes: [cls] };
  delete (intent as { error?: string }).error;
  return { id: 'a', time: new Date(), principal: { name: 'bot', kind: 'agent', groups: [] }, session: 's', connection: { name: 'db', kind: 'postgres', labels: {} }, door: 'api', command: 'x', intent };
}

describe('approvals config', () => {
  it('accepts rules keyed by a review rule or a preset-generated name, and refuses other names and unknown fields', () => {
    const ok = load('  rules:\n    writes: { approvers: [dba], quorum: 2, justification: true, timeout: 5m, grants: [once, pattern], max_grant: 1h }\n    shop/review-writes: { quorum: 2 }\n');
    assert.equal(ok.config.approvals.rules.writes?.quorum, 2);
    assert.equal(ok.config.approvals.rules.writes?.timeout, 300_000);
    assert.throws(() => load('  rules:\n    wrties: { quorum: 2 }\n'), /there is no policy rule named "wrties"/);
    assert.throws(() => load('  rules:\n    reads: { quorum: 2 }\n'), /has effect allow/);
    assert.throws(() => load('  rules:\n    writes: { qourum: 2 }\n'), /qourum/);
    assert.throws(() => load('  rules:\n    writes: { quorum: 0 }\n'), /quorum/);
    assert.throws(() => load('  destructive: [nonsense]\n'), /destructive/);
  });

  it('requirements: the rule\'s approvers, quorum, timeout and grants; destructive classes are approved once only', () => {
    const { config } = load('  approvers: [admin]\n  rules:\n    writes: { approvers: [dba], quorum: 2, timeout: 5m, max_grant: 20h }\n');
    const write = requirementsFor(config.approvals, 'writes', action('write'));
    assert.deepEqual(write.requirements.approvers, ['dba']);
    assert.equal(write.requirements.quorum, 2);
    assert.equal(write.timeoutMs, 300_000);
    assert.deepEqual(write.requirements.grants, ['once', 'session', 'pattern']);
    assert.equal(write.requirements.maxGrantMs, 8 * 3_600_000, 'never longer than approvals.grants.max');
    const schema = requirementsFor(config.approvals, 'writes', action('schema'));
    assert.deepEqual(schema.requirements.grants, ['once']);
    const other = requirementsFor(config.approvals, 'unlisted', action('write'));
    assert.deepEqual(other.requirements.approvers, ['admin']);
    assert.equal(other.requirements.quorum, 1);
    assert.equal(other.timeoutMs, config.approvals.timeout);
  });
});
