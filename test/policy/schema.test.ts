import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { compilePolicy, policyConfigSchema, PolicyError, presetNameSchema, type PolicyIssue } from '../../src/policy/index.js';

/** Compiles and returns the PolicyError it must throw. */
function compileError(input: Parameters<typeof compilePolicy>[0]): PolicyError {
  try {
    compilePolicy(input);
  } catch (e) {
    assert.ok(e instanceof PolicyError, `expected PolicyError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected compilePolicy to throw');
}

function issueAt(issues: readonly PolicyIssue[], path: string): PolicyIssue {
  const found = issues.find((i) => JSON.stringify(i.path) === path);
  assert.ok(found, `no issue at ${path}; issues: ${JSON.stringify(issues)}`);
  return found;
}

void describe('policy schema', () => {
  void it('accepts the documented example', () => {
    const parsed = policyConfigSchema.parse({
      rules: [
        {
          name: 'dba-can-do-anything',
          description: 'optional text',
          when: '"dba" in principal.groups',
          connections: ['prod-db'],
          doors: ['api', 'postgres'],
          effect: 'allow',
          reason: 'DBAs may run anything',
          mask: 'strict',
        },
        { preset: 'guarded', connections: ['prod-db'] },
      ],
    });
    assert.equal(parsed.rules.length, 2);
  });

  void it('defaults to no rules', () => {
    assert.deepEqual(policyConfigSchema.parse({}), { rules: [] });
  });

  void it('rejects unknown keys in a rule, with the key in the path', () => {
    const e = compileError({ rules: [{ name: 'a', effect: 'allow' }, { name: 'b', effect: 'allow', conections: ['x'] }] });
    assert.deepEqual(e.pathSegments, ['policy', 'rules', 1, 'conections']);
    assert.equal(e.path, 'policy.rules[1].conections');
    assert.equal(e.ruleIndex, 1);
    assert.equal(e.ruleName, 'b');
    assert.match(e.message, /unknown key "conections"/);
  });

  void it('rejects unknown keys at the policy level when embedded', () => {
    const whole = z.strictObject({ policy: policyConfigSchema });
    const r = whole.safeParse({ policy: { rules: [], defaults: {} } });
    assert.equal(r.success, false);
    assert.deepEqual(r.error?.issues[0]?.path, ['policy']);
    assert.equal(r.error?.issues[0]?.code, 'unrecognized_keys');
  });

  void it('rejects a bad effect', () => {
    const e = compileError({ rules: [{ name: 'a', effect: 'permit' }] });
    assert.equal(e.path, 'policy.rules[0].effect');
    assert.match(e.detail, /allow, deny, review/);
  });

  void it('requires name and effect on a rule', () => {
    const e = compileError({ rules: [{ when: 'true' }] });
    const paths = e.issues.map((i) => i.path.join('.'));
    assert.ok(paths.includes('policy.rules.0.name'), paths.join());
    assert.ok(paths.includes('policy.rules.0.effect'), paths.join());
  });

  void it('rejects bad rule names', () => {
    for (const name of ['Upper', '-dash-first', 'has space', 'slash/name', '']) {
      const e = compileError({ rules: [{ name, effect: 'allow' }] });
      assert.equal(e.path, 'policy.rules[0].name', name);
    }
  });

  void it('rejects CEL that does not parse', () => {
    const e = compileError({ rules: [{ name: 'a', effect: 'allow' }, { name: 'b', effect: 'deny', when: 'principal.name ==' }] });
    assert.equal(e.path, 'policy.rules[1].when');
    assert.match(e.detail, /CEL does not parse/);
  });

  void it('rejects unknown variables and fields', () => {
    const v = compileError({ rules: [{ name: 'a', effect: 'allow', when: 'user.name == "x"' }] });
    assert.equal(v.path, 'policy.rules[0].when');
    assert.match(v.detail, /unknown variable "user"/);
    const f = compileError({ rules: [{ name: 'a', effect: 'allow', when: '"dba" in principal.gruops' }] });
    assert.match(f.detail, /unknown field "gruops"/);
    const g = compileError({ rules: [{ name: 'a', effect: 'allow', when: 'intent.table == "x"' }] });
    assert.match(g.detail, /unknown field "table"/);
  });

  void it('rejects type errors and non-bool conditions', () => {
    assert.match(compileError({ rules: [{ name: 'a', effect: 'allow', when: 'principal.groups + 1' }] }).detail, /type-check/);
    assert.match(compileError({ rules: [{ name: 'a', effect: 'allow', when: 'principal.name' }] }).detail, /must be a bool/);
  });

  void it('rejects empty conditions and empty scope lists', () => {
    assert.equal(compileError({ rules: [{ name: 'a', effect: 'allow', when: '  ' }] }).path, 'policy.rules[0].when');
    const e = compileError({ rules: [{ name: 'a', effect: 'allow', connections: [] }] });
    assert.equal(e.path, 'policy.rules[0].connections');
    assert.match(e.detail, /omit the key/);
  });

  void it('rejects an unknown preset in rules and on a connection', () => {
    const e = compileError({ rules: [{ name: 'a', effect: 'allow' }, { preset: 'readonly' }] });
    assert.equal(e.path, 'policy.rules[1].preset');
    assert.match(e.detail, /unknown preset "readonly".*read-only, guarded/);
    const c = compileError({ rules: [], connectionPresets: { 'prod-db': 'yolo' } });
    assert.deepEqual(c.pathSegments, ['connections', 'prod-db', 'policy']);
    assert.equal(c.path, 'connections.prod-db.policy');
    assert.equal(presetNameSchema.safeParse('guarded').success, true);
    assert.equal(presetNameSchema.safeParse('nope').success, false);
  });

  void it('rejects effect, reason or mask on a preset entry', () => {
    const e = compileError({ rules: [{ preset: 'guarded', effect: 'allow' }] });
    assert.equal(e.path, 'policy.rules[0].effect');
  });

  void it('rejects duplicate names, pointing at the second one', () => {
    const e = compileError({
      rules: [
        { name: 'a', effect: 'allow' },
        { name: 'b', effect: 'allow' },
        { name: 'a', effect: 'deny' },
      ],
    });
    assert.equal(e.path, 'policy.rules[2].name');
    assert.match(e.detail, /duplicate rule name "a".*rules\[0\]/);
  });

  void it('rejects the same preset twice unless the entries are named', () => {
    const e = compileError({ rules: [{ preset: 'guarded', connections: ['a'] }, { preset: 'guarded', connections: ['b'] }] });
    assert.equal(e.path, 'policy.rules[1].preset');
    assert.match(e.detail, /own `name:`/);
    const ok = compilePolicy({ rules: [{ preset: 'guarded', connections: ['a'] }, { preset: 'guarded', name: 'guarded-b', connections: ['b'] }] });
    assert.ok(ok.rules.some((r) => r.name === 'guarded-b/review-writes'));
  });

  void it('rejects scopes naming unknown connections or doors when told what exists', () => {
    const e = compileError({
      rules: [{ name: 'a', effect: 'deny', connections: ['prod-db', 'prdo-db'] }],
      known: { connections: ['prod-db'] },
    });
    assert.equal(e.path, 'policy.rules[0].connections[1]');
    const d = compileError({ rules: [{ name: 'a', effect: 'deny', doors: ['sql'] }], known: { doors: ['postgres', 'api'] } });
    assert.equal(d.path, 'policy.rules[0].doors[0]');
    const c = compileError({ rules: [], connectionPresets: { ghost: 'read-only' }, known: { connections: ['prod-db'] } });
    assert.equal(c.path, 'connections.ghost.policy');
  });

  void it('reports every problem, the first one in the message', () => {
    const e = compileError({
      rules: [
        { name: 'a', effect: 'maybe' },
        { name: 'b', effect: 'allow', when: 'nope' },
      ],
    });
    assert.ok(e.issues.length >= 2);
    issueAt(e.issues, '["policy","rules",0,"effect"]');
    issueAt(e.issues, '["policy","rules",1,"when"]');
    assert.match(e.message, /^policy\.rules\[0\]\.effect: .*\(and \d+ more problem/);
  });

  void it('refuses regexes a caller could use to stall the gateway', () => {
    assert.match(compileError({ rules: [{ name: 'a', effect: 'deny', when: 'command.matches("^(a+)+$")' }] }).detail, /backtrack/);
    assert.match(compileError({ rules: [{ name: 'a', effect: 'deny', when: 'command.matches("(x|xy)*z")' }] }).detail, /backtrack/);
    assert.match(compileError({ rules: [{ name: 'a', effect: 'deny', when: 'command.matches("(a)\\\\1")' }] }).detail, /backreference/);
    assert.match(compileError({ rules: [{ name: 'a', effect: 'deny', when: 'command.matches(command)' }] }).detail, /literal pattern/);
    assert.match(compileError({ rules: [{ name: 'a', effect: 'deny', when: 'command.matches(principal.name + "x")' }] }).detail, /literal pattern/);
    assert.match(compileError({ rules: [{ name: 'a', effect: 'deny', when: 'command.matches("(?i)drop")' }] }).detail, /lowerAscii/);
    // Ordinary patterns are fine.
    compilePolicy({ rules: [{ name: 'a', effect: 'deny', when: 'command.lowerAscii().matches("^\\\\s*drop\\\\s+table") || command.matches("^(SELECT|WITH) [a-z_]+$")' }] });
  });
});
