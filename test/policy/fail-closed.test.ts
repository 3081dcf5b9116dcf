import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Action } from '../../src/gate/types.js';
import { compilePolicy, POLICY_ERROR_RULE, type RuleConfig } from '../../src/policy/index.js';
import { action, sql, type ActionSpec } from './helpers.js';

function decide(rules: RuleConfig[], spec: ActionSpec = {}) {
  return compilePolicy({ rules }).decide(action(spec));
}

void describe('fail closed at decision time', () => {
  void it('a missing field makes an allow rule deny, and says so', () => {
    const d = decide([{ name: 'ticketed', when: 'args.ticket.startsWith("OPS-")', effect: 'allow' }]);
    assert.equal(d.effect, 'deny');
    assert.equal(d.rule, 'ticketed');
    assert.match(d.reason, /^rule ticketed denies because its condition failed to evaluate \(fail-closed\): .*ticket.* \(read: SELECT on public\.orders\)$/);
    assert.deepEqual(d.matched, [{ rule: 'ticketed', effect: 'deny' }]);
  });

  void it('beats another rule that allows', () => {
    const d = decide([
      { name: 'everyone', effect: 'allow' },
      { name: 'limit', when: 'args.limit < 100', effect: 'allow' },
    ]);
    assert.equal(d.effect, 'deny');
    assert.equal(d.rule, 'limit');
  });

  void it('the same condition written safely does not fail', () => {
    const d = decide([{ name: 'ticketed', when: 'has(args.ticket) && args.ticket.startsWith("OPS-")', effect: 'allow' }]);
    assert.equal(d.rule, 'default-deny');
  });

  void it('a run-time type error denies', () => {
    const d = decide([{ name: 'limit', when: 'args.limit > 10', effect: 'allow' }], { args: { limit: 'lots' } });
    assert.equal(d.effect, 'deny');
    assert.equal(d.rule, 'limit');
  });

  void it('a dyn condition that is not a bool denies', () => {
    const d = decide([{ name: 'flag', when: 'args.approved', effect: 'allow' }], { args: { approved: 'yes' } });
    assert.equal(d.effect, 'deny');
    assert.match(d.reason, /not a bool/);
    assert.equal(decide([{ name: 'flag', when: 'args.approved', effect: 'allow' }], { args: { approved: true } }).effect, 'allow');
  });

  void it('an index out of range denies', () => {
    assert.equal(decide([{ name: 'first', when: 'intent.tables[3] == "x"', effect: 'allow' }]).effect, 'deny');
  });

  void it('an unknown time zone denies', () => {
    const d = decide([{ name: 'office-hours', when: 'time.getHours(connection.labels.tz) < 18', effect: 'allow' }], { labels: { tz: 'Mars/Olympus' } });
    assert.equal(d.effect, 'deny');
    assert.equal(d.rule, 'office-hours');
  });

  void it('a missing label denies, because a map lookup of an absent key is an error', () => {
    const d = decide([{ name: 'dev', when: 'connection.labels.env == "dev"', effect: 'allow' }], { labels: {} });
    assert.equal(d.effect, 'deny');
    const safe = decide([{ name: 'dev', when: '"env" in connection.labels && connection.labels.env == "dev"', effect: 'allow' }], { labels: {} });
    assert.equal(safe.rule, 'default-deny');
  });

  void it('a failing preset-entry condition makes each preset rule deny', () => {
    const p = compilePolicy({ rules: [{ preset: 'guarded', when: 'args.team == "core"' }] });
    const d = p.decide(action());
    assert.equal(d.effect, 'deny');
    assert.equal(d.rule, 'guarded/allow-reads');
    assert.ok(d.matched.length === p.rules.length && d.matched.every((m) => m.effect === 'deny'));
  });

  void it('never throws, even for a malformed Action', () => {
    const p = compilePolicy({ rules: [{ preset: 'read-only' }, { name: 'x', when: 'intent.tables.size() > 0', effect: 'allow' }] });
    const broken = [
      { ...action(), intent: undefined },
      { ...action(), intent: { class: 'read' } },
      { ...action(), principal: undefined },
      { ...action(), connection: undefined },
      { ...action(), time: undefined },
      { ...action(), intent: { ...sql('read', 'SELECT'), objects: undefined } },
    ] as unknown as Action[];
    for (const a of broken) {
      const d = p.decide(a);
      assert.equal(d.effect, 'deny', JSON.stringify(d));
      assert.ok(d.rule === POLICY_ERROR_RULE || d.reason.includes('fail'), d.reason);
      const e = p.explain(a);
      assert.equal(e.decision.effect, 'deny');
    }
    assert.equal(p.decide(undefined as unknown as Action).rule, POLICY_ERROR_RULE);
  });

  void it('keeps control characters and long names out of reasons', () => {
    const d = decide([{ name: 'a', effect: 'allow' }], { intent: sql('read', 'SELECT', { tables: [`evil\u001b[31m\nname${'x'.repeat(200)}`, 'b', 'c', 'd', 'e'] }) });
    assert.doesNotMatch(d.reason, /\p{Cc}/u);
    assert.ok(d.reason.length < 400, d.reason);
    assert.match(d.reason, /and 2 more\)$/);
  });
});
