import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { INTENT_CLASSES, type Effect, type Intent } from '../../src/gate/types.js';
import { compilePolicy, DEFAULT_DENY_RULE, PRESETS, PRESET_NAMES, type PresetName } from '../../src/policy/index.js';
import { action, intentOf, part, sql, unparsable } from './helpers.js';

interface Case {
  what: string;
  intent: Intent;
  readOnly: [Effect, string];
  guarded: [Effect, string];
}

const UPDATE_WHERE = sql('write', 'UPDATE', { tables: ['w:public.orders'] });

const CASES: Case[] = [
  { what: 'SELECT', intent: sql('read', 'SELECT', { tables: ['public.orders'] }), readOnly: ['allow', 'allow-reads'], guarded: ['allow', 'allow-reads'] },
  { what: 'BEGIN', intent: sql('transaction', 'BEGIN'), readOnly: ['allow', 'allow-reads'], guarded: ['allow', 'allow-reads'] },
  { what: 'SET search_path', intent: sql('session', 'SET'), readOnly: ['allow', 'allow-reads'], guarded: ['allow', 'allow-reads'] },
  {
    what: 'BEGIN; SELECT; COMMIT',
    intent: intentOf([part('transaction', 'BEGIN'), part('read', 'SELECT', { tables: ['t'] }), part('transaction', 'COMMIT')]),
    readOnly: ['allow', 'allow-reads'],
    guarded: ['allow', 'allow-reads'],
  },
  { what: 'UPDATE ... WHERE', intent: UPDATE_WHERE, readOnly: ['deny', 'deny-write'], guarded: ['review', 'review-writes'] },
  { what: 'INSERT', intent: sql('write', 'INSERT', { tables: ['w:public.orders'] }), readOnly: ['deny', 'deny-write'], guarded: ['review', 'review-writes'] },
  {
    what: 'DELETE without WHERE',
    intent: sql('write', 'DELETE', { tables: ['w:public.orders'], flags: ['no_where'] }),
    readOnly: ['deny', 'deny-write'],
    guarded: ['deny', 'deny-whole-table-writes'],
  },
  {
    what: 'UPDATE without WHERE',
    intent: sql('write', 'UPDATE', { tables: ['w:public.orders'], flags: ['no_where'] }),
    readOnly: ['deny', 'deny-write'],
    guarded: ['deny', 'deny-whole-table-writes'],
  },
  { what: 'TRUNCATE as a write', intent: sql('write', 'TRUNCATE', { tables: ['w:public.orders'] }), readOnly: ['deny', 'deny-write'], guarded: ['deny', 'deny-whole-table-writes'] },
  { what: 'TRUNCATE by flag', intent: sql('write', 'TRUNCATE TABLE', { tables: ['w:t'], flags: ['truncate'] }), readOnly: ['deny', 'deny-write'], guarded: ['deny', 'deny-whole-table-writes'] },
  { what: 'TRUNCATE as schema', intent: sql('schema', 'TRUNCATE', { tables: ['w:t'] }), readOnly: ['deny', 'deny-schema'], guarded: ['deny', 'deny-whole-table-writes'] },
  { what: 'whole_table flag', intent: sql('write', 'COPY', { tables: ['w:t'], flags: ['whole_table'] }), readOnly: ['deny', 'deny-write'], guarded: ['deny', 'deny-whole-table-writes'] },
  { what: 'CREATE TABLE', intent: sql('schema', 'CREATE TABLE', { tables: ['w:t'] }), readOnly: ['deny', 'deny-schema'], guarded: ['deny', 'deny-schema'] },
  { what: 'GRANT', intent: sql('privilege', 'GRANT'), readOnly: ['deny', 'deny-privilege'], guarded: ['deny', 'deny-privilege'] },
  { what: 'SET ROLE', intent: sql('privilege', 'SET ROLE'), readOnly: ['deny', 'deny-privilege'], guarded: ['deny', 'deny-privilege'] },
  { what: 'ALTER SYSTEM', intent: sql('admin', 'ALTER SYSTEM'), readOnly: ['deny', 'deny-admin'], guarded: ['deny', 'deny-admin'] },
  { what: 'CALL', intent: sql('execute', 'CALL', { functions: ['do_things'] }), readOnly: ['deny', 'deny-execute'], guarded: ['deny', 'deny-execute'] },
  {
    what: 'COPY TO PROGRAM',
    intent: sql('execute', 'COPY', { tables: ['t'], flags: ['program_exec'] }),
    readOnly: ['deny', 'deny-execute'],
    guarded: ['deny', 'deny-execute'],
  },
  {
    what: 'curl',
    intent: intentOf([part('network', 'curl', { programs: ['curl'], hosts: ['example.com'] })], [], 'shell'),
    readOnly: ['deny', 'deny-network'],
    guarded: ['deny', 'deny-network'],
  },
  { what: 'unknown statement', intent: sql('unknown', 'UNKNOWN'), readOnly: ['deny', 'deny-unknown'], guarded: ['deny', 'deny-unknown'] },
  { what: 'parse error', intent: unparsable(), readOnly: ['deny', 'deny-unknown'], guarded: ['deny', 'deny-unknown'] },
  {
    what: 'SELECT; DROP TABLE',
    intent: intentOf([part('read', 'SELECT', { tables: ['t'] }), part('schema', 'DROP TABLE', { tables: ['w:t'] })]),
    readOnly: ['deny', 'deny-schema'],
    guarded: ['deny', 'deny-schema'],
  },
  {
    what: 'UPDATE WHERE; DELETE without WHERE',
    intent: intentOf([part('write', 'UPDATE', { tables: ['w:a'] }), part('write', 'DELETE', { tables: ['w:b'], flags: ['no_where'] })]),
    readOnly: ['deny', 'deny-write'],
    guarded: ['deny', 'deny-whole-table-writes'],
  },
  {
    what: 'two writes that name their rows',
    intent: intentOf([part('write', 'UPDATE', { tables: ['w:a'] }), part('write', 'DELETE', { tables: ['w:b'] })]),
    readOnly: ['deny', 'deny-write'],
    guarded: ['review', 'review-writes'],
  },
  {
    what: 'SELECT with a part that did not parse',
    intent: intentOf([part('read', 'SELECT'), part('unknown', 'UNKNOWN', { error: 'cannot parse' })]),
    readOnly: ['deny', 'deny-unknown'],
    guarded: ['deny', 'deny-unknown'],
  },
  {
    what: 'data-modifying CTE mislabelled as a read',
    intent: { ...sql('read', 'SELECT', { tables: ['w:public.orders'], flags: ['data_modifying_cte'] }) },
    readOnly: ['deny', 'deny-write'],
    guarded: ['review', 'review-writes'],
  },
  {
    what: 'data-modifying CTE without WHERE',
    intent: sql('write', 'SELECT', { tables: ['w:public.orders'], flags: ['data_modifying_cte', 'no_where'] }),
    readOnly: ['deny', 'deny-write'],
    guarded: ['deny', 'deny-whole-table-writes'],
  },
  {
    what: 'a "read" that writes a table',
    intent: sql('read', 'SELECT INTO', { tables: ['w:copy'] }),
    readOnly: ['deny', 'deny-write'],
    guarded: ['review', 'review-writes'],
  },
  {
    what: 'top-level class lower than a part',
    intent: { ...intentOf([part('read', 'SELECT'), part('admin', 'VACUUM')]), class: 'read' },
    readOnly: ['deny', 'deny-admin'],
    guarded: ['deny', 'deny-admin'],
  },
  {
    what: 'a class the policy does not know',
    intent: { ...sql('read', 'SELECT'), class: 'mystery' as never, classes: ['mystery' as never] },
    readOnly: ['deny', 'deny-unknown'],
    guarded: ['deny', 'deny-unknown'],
  },
  { what: 'dynamic SQL in a read', intent: sql('read', 'SELECT', { flags: ['dynamic_sql'] }), readOnly: ['deny', 'deny-side-effects'], guarded: ['deny', 'deny-side-effects'] },
  { what: 'server file read', intent: sql('read', 'SELECT', { functions: ['pg_read_file'], flags: ['file_access'] }), readOnly: ['deny', 'deny-side-effects'], guarded: ['deny', 'deny-side-effects'] },
  { what: 'shell ls', intent: intentOf([part('read', 'ls', { programs: ['ls'], paths: ['/srv'] })], [], 'shell'), readOnly: ['allow', 'allow-reads'], guarded: ['allow', 'allow-reads'] },
  {
    what: 'shell rm',
    intent: intentOf([part('write', 'rm', { programs: ['rm'], paths: ['w:/srv/tmp/x'] })], [], 'shell'),
    readOnly: ['deny', 'deny-write'],
    guarded: ['review', 'review-writes'],
  },
];

const policies = Object.fromEntries(PRESET_NAMES.map((p) => [p, compilePolicy({ rules: [{ preset: p }] })])) as Record<PresetName, ReturnType<typeof compilePolicy>>;

for (const [preset, pick] of [
  ['read-only', (c: Case) => c.readOnly],
  ['guarded', (c: Case) => c.guarded],
] as const) {
  void describe(`preset ${preset}`, () => {
    for (const c of CASES) {
      void it(`${c.what} → ${pick(c).join(' ')}`, () => {
        const [effect, rule] = pick(c);
        const d = policies[preset].decide(action({ intent: c.intent }));
        assert.equal(d.effect, effect, d.reason);
        assert.equal(d.rule, `${preset}/${rule}`, d.reason);
        assert.ok(d.reason.startsWith(`${preset}: `), d.reason);
      });
    }
  });
}

void describe('presets', () => {
  void it('give reasons that say why and what', () => {
    assert.equal(policies['read-only'].decide(action({ intent: UPDATE_WHERE })).reason, 'read-only: writes are not allowed (write: UPDATE on public.orders)');
    assert.equal(policies.guarded.decide(action({ intent: UPDATE_WHERE })).reason, 'guarded: writes need approval (write: UPDATE on public.orders)');
    assert.match(policies.guarded.decide(action({ intent: unparsable() })).reason, /^guarded: commands that could not be analysed are not allowed \(unknown: syntax error/);
  });

  void it('decide every intent class explicitly, never by default-deny', () => {
    for (const preset of PRESET_NAMES) {
      // `reveal` is no command's class (POST /v1/reveal): presets leave it to rules that name it.
      for (const cls of INTENT_CLASSES.filter((c) => c !== 'reveal')) {
        const d = policies[preset].decide(action({ intent: sql(cls, cls.toUpperCase()) }));
        assert.notEqual(d.rule, DEFAULT_DENY_RULE, `${preset} ${cls}`);
        assert.equal(d.effect === 'allow', ['read', 'transaction', 'session'].includes(cls), `${preset} ${cls}: ${d.effect}`);
      }
    }
  });

  void it('are plain rule lists with unique names', () => {
    for (const preset of PRESET_NAMES) {
      const names = PRESETS[preset].map((r) => r.name);
      assert.equal(new Set(names).size, names.length);
      assert.ok(Object.isFrozen(PRESETS[preset]));
    }
  });

  void it('keep denying when combined with a broad allow', () => {
    const p = compilePolicy({ rules: [{ name: 'everyone', effect: 'allow' }, { preset: 'guarded' }] });
    assert.equal(p.decide(action({ intent: sql('schema', 'DROP TABLE', { tables: ['w:t'] }) })).effect, 'deny');
    assert.equal(p.decide(action({ intent: UPDATE_WHERE })).effect, 'review');
  });
});
