import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Intent } from '../../src/gate/types.js';
import { compilePolicy, DEFAULT_DENY_RULE, type RuleConfig } from '../../src/policy/index.js';
import { action, alice, bob, bot, intentOf, part, sql, type ActionSpec } from './helpers.js';

function decide(rules: RuleConfig[], spec: ActionSpec = {}, connectionPresets?: Record<string, string>) {
  return compilePolicy(connectionPresets ? { rules, connectionPresets } : { rules }).decide(action(spec));
}

/** Whether a rule with this condition matches the action. */
function holds(when: string, spec: ActionSpec = {}): boolean {
  const d = decide([{ name: 'probe', when, effect: 'allow' }], spec);
  assert.notEqual(d.rule, 'probe-error');
  if (d.rule === 'probe' && d.effect === 'deny') assert.fail(`condition failed to evaluate: ${d.reason}`);
  return d.rule === 'probe';
}

void describe('combining', () => {
  void it('denies by default, naming default-deny and what was asked', () => {
    const d = decide([], { intent: sql('write', 'UPDATE', { tables: ['w:public.orders'] }) });
    assert.equal(d.effect, 'deny');
    assert.equal(d.rule, DEFAULT_DENY_RULE);
    assert.match(d.reason, /^no policy rule allows this command on connection "prod-db" via door "postgres" \(write: UPDATE on public\.orders\)$/);
    assert.deepEqual(d.matched, []);
  });

  void it('deny overrides review overrides allow, whatever the order', () => {
    const allow: RuleConfig = { name: 'a', effect: 'allow' };
    const review: RuleConfig = { name: 'r', effect: 'review' };
    const deny: RuleConfig = { name: 'd', effect: 'deny' };
    for (const rules of [
      [allow, review, deny],
      [deny, review, allow],
      [review, deny, allow],
    ]) {
      const d = decide(rules);
      assert.equal(d.effect, 'deny');
      assert.equal(d.rule, 'd');
      assert.equal(d.matched.length, 3);
      assert.deepEqual(
        d.matched.map((m) => m.rule),
        rules.map((r) => (r as { name: string }).name),
      );
    }
    assert.equal(decide([allow, review]).effect, 'review');
    assert.equal(decide([review, allow]).rule, 'r');
    assert.equal(decide([allow]).effect, 'allow');
  });

  void it('the first matching rule with the winning effect decides', () => {
    const d = decide([
      { name: 'first', effect: 'allow', reason: 'first reason' },
      { name: 'second', effect: 'allow', reason: 'second reason' },
    ]);
    assert.equal(d.rule, 'first');
    assert.match(d.reason, /^first reason \(read: SELECT on public\.orders\)$/);
  });

  void it('makes a default reason from the name and effect', () => {
    assert.match(decide([{ name: 'x', effect: 'allow' }]).reason, /^allowed by rule x \(read: /);
    assert.match(decide([{ name: 'x', effect: 'deny' }]).reason, /^denied by rule x \(read: /);
    assert.match(decide([{ name: 'x', effect: 'review' }]).reason, /^rule x requires approval \(read: /);
  });

  void it('carries the mask of the deciding rule, or of another matching allow', () => {
    assert.equal(decide([{ name: 'a', effect: 'allow', mask: 'strict' }]).mask, 'strict');
    const d = decide([
      { name: 'broad', effect: 'allow' },
      { name: 'masked', effect: 'allow', mask: 'pii' },
    ]);
    assert.equal(d.rule, 'broad');
    assert.equal(d.mask, 'pii');
    const r = decide([
      { name: 'masked', effect: 'allow', mask: 'pii' },
      { name: 'needs-ok', effect: 'review' },
    ]);
    assert.equal(r.effect, 'review');
    assert.equal(r.mask, 'pii');
    assert.equal(decide([{ name: 'a', effect: 'allow' }]).mask, undefined);
    assert.equal('mask' in decide([{ name: 'a', effect: 'allow' }]), false);
  });

  void it('keeps rules out of scope by connection and door', () => {
    const rules: RuleConfig[] = [
      { name: 'prod-only', effect: 'allow', connections: ['prod-db'] },
      { name: 'api-only', effect: 'review', doors: ['api'] },
      { name: 'both', effect: 'deny', connections: ['staging-db'], doors: ['mcp'] },
    ];
    assert.equal(decide(rules, { connection: 'prod-db', door: 'postgres' }).rule, 'prod-only');
    assert.equal(decide(rules, { connection: 'staging-db', door: 'postgres' }).rule, DEFAULT_DENY_RULE);
    assert.equal(decide(rules, { connection: 'prod-db', door: 'api' }).rule, 'api-only');
    assert.equal(decide(rules, { connection: 'staging-db', door: 'mcp' }).rule, 'both');
    assert.equal(decide(rules, { connection: 'prod-db', door: 'mcp' }).rule, 'prod-only');
    // Scopes are exact names, not patterns.
    assert.equal(decide(rules, { connection: 'prod-db-2' }).rule, DEFAULT_DENY_RULE);
  });

  void it('applies a connection preset to that connection only, and deny in it is a ceiling', () => {
    const rules: RuleConfig[] = [{ name: 'dba', when: '"dba" in principal.groups', effect: 'allow' }];
    const update = sql('write', 'UPDATE', { tables: ['w:public.orders'] });
    const onProd = decide(rules, { principal: alice, intent: update }, { 'prod-db': 'read-only' });
    assert.equal(onProd.effect, 'deny');
    assert.equal(onProd.rule, 'read-only@prod-db/deny-write');
    assert.equal(onProd.reason, 'read-only: writes are not allowed (write: UPDATE on public.orders)');
    assert.deepEqual(onProd.matched, [
      { rule: 'dba', effect: 'allow' },
      { rule: 'read-only@prod-db/deny-write', effect: 'deny' },
    ]);
    const elsewhere = decide(rules, { principal: alice, intent: update, connection: 'dev-db' }, { 'prod-db': 'read-only' });
    assert.equal(elsewhere.rule, 'dba');
    assert.equal(decide(rules, { principal: bob }, { 'prod-db': 'read-only' }).rule, 'read-only@prod-db/allow-reads');
  });

  void it('narrows a preset entry by scope and by an ANDed condition', () => {
    const rules: RuleConfig[] = [
      { preset: 'read-only', when: '!("dba" in principal.groups)', connections: ['prod-db'] },
      { name: 'dba', when: '"dba" in principal.groups', effect: 'allow' },
    ];
    const update = sql('write', 'UPDATE', { tables: ['w:public.orders'] });
    assert.equal(decide(rules, { principal: alice, intent: update }).rule, 'dba');
    assert.equal(decide(rules, { principal: bob, intent: update }).rule, 'read-only/deny-write');
    assert.equal(decide(rules, { principal: bob, intent: update, connection: 'dev-db' }).rule, DEFAULT_DENY_RULE);
    const policy = compilePolicy({ rules });
    const r = policy.rules.find((x) => x.name === 'read-only/deny-write');
    assert.equal(r?.when, '(!("dba" in principal.groups)) && (intent.class == "write")');
    assert.deepEqual(r?.connections, ['prod-db']);
    assert.equal(r?.preset, 'read-only');
    assert.equal(r?.source, 'policy.rules[0]');
  });

  void it('exposes the compiled rules in policy order', () => {
    const p = compilePolicy({
      rules: [{ name: 'x', effect: 'allow', when: 'true', description: 'd', mask: 'm', reason: 'because' }, { preset: 'guarded' }],
      connectionPresets: { 'prod-db': 'read-only' },
    });
    assert.equal(p.rules[0]?.name, 'x');
    assert.equal(p.rules[0]?.reason, 'because');
    assert.equal(p.rules[0]?.source, 'policy.rules[0]');
    assert.deepEqual(
      p.rules.map((r) => r.index),
      p.rules.map((_, i) => i),
    );
    assert.ok(p.rules[1]?.name.startsWith('guarded/'));
    const last = p.rules[p.rules.length - 1];
    assert.ok(last?.name.startsWith('read-only@prod-db/'));
    assert.equal(last?.source, 'connections.prod-db.policy');
    assert.equal(new Set(p.rules.map((r) => r.name)).size, p.rules.length);
  });

  void it('shares identical conditions between rules', () => {
    const p = compilePolicy({
      rules: [
        { name: 'a', when: 'principal.kind == "agent"', effect: 'allow' },
        { name: 'b', when: 'principal.kind == "agent"', effect: 'review' },
      ],
    });
    assert.equal(p.conditionCount, 1);
    assert.deepEqual(p.decide(action({ principal: bot })).matched, [
      { rule: 'a', effect: 'allow' },
      { rule: 'b', effect: 'review' },
    ]);
  });

  void it('explains every rule', () => {
    const p = compilePolicy({
      rules: [
        { name: 'scoped', effect: 'allow', connections: ['other'] },
        { name: 'nope', effect: 'allow', when: 'false' },
        { name: 'yes', effect: 'review', when: 'true' },
        { name: 'broken', effect: 'allow', when: 'args.ticket == "x"' },
      ],
    });
    const e = p.explain(action());
    assert.equal(e.decision.effect, 'deny');
    assert.equal(e.decision.rule, 'broken');
    assert.deepEqual(
      e.rules.map((r) => [r.rule, r.outcome]),
      [
        ['scoped', 'out_of_scope'],
        ['nope', 'no_match'],
        ['yes', 'match'],
        ['broken', 'error'],
      ],
    );
    assert.match(e.rules[3]?.error ?? '', /ticket/);
    const vars = e.variables as { intent: { class: string; tables: string[] }; principal: { name: string } };
    assert.equal(vars.intent.class, 'read');
    assert.deepEqual(vars.intent.tables, ['public.orders']);
    assert.equal(vars.principal.name, 'bob');
    assert.deepEqual(JSON.parse(JSON.stringify(e.variables)), e.variables);
  });
});

void describe('CEL variables', () => {
  void it('principal: name, kind, groups', () => {
    assert.ok(holds('principal.name == "alice" && principal.kind == "human" && "dba" in principal.groups', { principal: alice }));
    assert.ok(!holds('"dba" in principal.groups', { principal: bob }));
    assert.ok(holds('principal.groups.exists(g, g.startsWith("ag"))', { principal: bot }));
    assert.ok(holds('size(principal.groups) == 0', { principal: { kind: 'service', name: 'ci', groups: [] } }));
  });

  void it('agent and on_behalf_of', () => {
    assert.ok(holds('agent == "report-bot" && on_behalf_of == "bob"', { principal: bot }));
    assert.ok(holds('agent == "" && on_behalf_of == ""', { principal: alice }));
    assert.ok(holds('agent != "" && on_behalf_of == ""', { principal: { kind: 'agent', name: 'lone', groups: [] } }));
  });

  void it('connection, door, command, session', () => {
    const spec: ActionSpec = { connection: 'prod-db', connectionKind: 'postgres', labels: { env: 'prod', team: 'core' }, door: 'mcp', command: 'SELECT 1' };
    assert.ok(holds('connection.name == "prod-db" && connection.kind == "postgres"', spec));
    assert.ok(holds('connection.labels.env == "prod" && connection.labels["team"] == "core"', spec));
    assert.ok(holds('"env" in connection.labels && !("region" in connection.labels)', spec));
    assert.ok(holds('door == "mcp" && command.startsWith("SELECT") && session == "sess-1"', spec));
  });

  void it('intent class, classes, kinds and language', () => {
    const multi = intentOf([part('transaction', 'BEGIN'), part('write', 'UPDATE', { tables: ['w:public.orders'] }), part('transaction', 'COMMIT')]);
    assert.ok(holds('intent.class == "write" && "transaction" in intent.classes && "write" in intent.classes', { intent: multi }));
    assert.ok(holds('intent.kinds == ["BEGIN", "UPDATE", "COMMIT"] && intent.language == "postgres"', { intent: multi }));
    assert.ok(holds('intent.parts.exists(p, p.kind == "UPDATE" && p.class == "write" && "public.orders" in p.tables)', { intent: multi }));
  });

  void it('intent tables read and written, with and without schema', () => {
    const it = sql('write', 'INSERT', { tables: ['w:audit_log', 'public.orders', 'public.orders'] });
    assert.ok(holds('intent.tables == ["audit_log", "public.orders"]', { intent: it }));
    assert.ok(holds('intent.tables_written == ["audit_log"] && intent.tables_read == ["public.orders"]', { intent: it }));
  });

  void it('intent programs, paths, hosts, functions', () => {
    const shell = intentOf([part('network', 'curl', { programs: ['curl'], hosts: ['api.example.com'], paths: ['w:/tmp/out', '/etc/hosts'] })], [], 'shell');
    assert.ok(holds('"curl" in intent.programs && intent.hosts == ["api.example.com"]', { intent: shell }));
    assert.ok(holds('intent.paths == ["/tmp/out", "/etc/hosts"] && intent.paths_written == ["/tmp/out"] && intent.paths_read == ["/etc/hosts"]', { intent: shell }));
    const fn = sql('read', 'SELECT', { functions: ['pg_sleep', 'public.my_fn'] });
    assert.ok(holds('"pg_sleep" in intent.functions && intent.functions.exists(f, f.startsWith("public."))', { intent: fn }));
  });

  void it('intent flags, including input-level ones', () => {
    const two = intentOf([part('read', 'SELECT'), part('write', 'DELETE', { tables: ['w:t'], flags: ['no_where'] })]);
    assert.ok(holds('"multi_statement" in intent.flags && "no_where" in intent.flags', { intent: two }));
    assert.ok(!holds('"dynamic_sql" in intent.flags', { intent: two }));
  });

  void it('intent error for what did not parse', () => {
    const bad = { ...sql('unknown', 'UNKNOWN'), error: 'syntax error at or near "SELEC"' };
    assert.ok(holds('intent.class == "unknown" && intent.error.contains("syntax")', { intent: bad }));
    assert.ok(holds('intent.error == ""'));
  });

  void it('time, in UTC and in a time zone', () => {
    const t = new Date('2025-03-08T23:30:00Z'); // a Saturday; Sunday 00:30 in Berlin
    assert.ok(holds('time.getHours() == 23 && time.getDayOfWeek() == 6', { time: t }));
    assert.ok(holds('time.getHours("Europe/Berlin") == 0 && time.getDayOfWeek("Europe/Berlin") == 0', { time: t }));
    assert.ok(holds('time.getHours("America/New_York") == 18 && time.getMinutes("Asia/Kolkata") == 0', { time: t }));
    assert.ok(holds('time > timestamp("2025-01-01T00:00:00Z") && time < timestamp("2026-01-01T00:00:00Z")', { time: t }));
    assert.ok(holds('time - timestamp("2025-03-08T23:00:00Z") == duration("30m")', { time: t }));
  });

  void it('time zones agree with cel-js across daylight-saving changes', async () => {
    const { Environment } = await import('@marcbachmann/cel-js');
    const { buildActivation } = await import('../../src/policy/cel.js');
    const ref = new Environment().registerVariable('time', 'google.protobuf.Timestamp');
    const zones = ['Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kathmandu', 'UTC'];
    for (const start of ['2025-03-30T00:00:00Z', '2025-10-26T00:00:00Z', '2025-03-09T06:00:00Z', '2025-04-05T14:00:00Z']) {
      for (let k = 0; k < 48; k++) {
        const t = new Date(new Date(start).getTime() + k * 5 * 60_000 + 7_250);
        const fast = buildActivation(action({ time: t })).time;
        for (const tz of zones) {
          for (const m of ['getHours', 'getMinutes', 'getDayOfWeek', 'getDate']) {
            const e = `time.${m}("${tz}")`;
            assert.equal(ref.evaluate(e, { time: fast }), ref.evaluate(e, { time: t }), `${e} at ${t.toISOString()}`);
          }
        }
      }
    }
  });

  void it('args, empty when absent', () => {
    assert.ok(holds('size(args) == 0'));
    assert.ok(holds('!has(args.limit)'));
    const spec: ActionSpec = { door: 'mcp', args: { limit: 5000, table: 'orders', opts: { dry_run: true }, ids: [1, 2] } };
    assert.ok(holds('args.limit > 1000 && args.table == "orders"', spec));
    assert.ok(holds('args.opts.dry_run == true && size(args.ids) == 2', spec));
    assert.ok(holds('has(args.limit) && !has(args.other)', spec));
  });
});

describe('table names without schema', () => {
  it('a rule on a table name also matches the schema-qualified name', () => {
    const policy = compilePolicy({
      rules: [
        { name: 'allow-all', effect: 'allow' },
        { name: 'protect-accounts', when: '"accounts" in intent.table_names_written', effect: 'deny' },
      ],
    });
    const intent = (schema?: string) =>
      ({
        language: 'postgres',
        class: 'write',
        classes: ['write'],
        objects: { tables: [{ ...(schema ? { schema } : {}), name: 'accounts', access: 'write' }], programs: [], paths: [], hosts: [], functions: [] },
        flags: [],
        parts: [],
      }) as const;
    const action = (schema?: string) => ({
      id: 'a',
      time: new Date(),
      principal: { kind: 'agent' as const, name: 'bot', groups: [] },
      session: 's',
      connection: { name: 'db', kind: 'postgres', labels: {} },
      door: 'api',
      command: 'DELETE FROM accounts WHERE id = 1',
      intent: structuredClone(intent(schema)) as unknown as Intent,
    });
    assert.equal(policy.decide(action()).rule, 'protect-accounts');
    assert.equal(policy.decide(action('public')).rule, 'protect-accounts');
  });
});

void describe('decisions remembered for cached Intents', () => {
  // The analysis cache hands out one frozen Intent per statement shape; the policy remembers
  // its decision per principal, and must never reuse it where the answer could differ.
  const shared = Object.freeze(sql('read', 'SELECT', { tables: ['orders'] }));
  const base = action({ principal: bob }); // one connection object, as a door session has
  const ask = (policy: ReturnType<typeof compilePolicy>, over: Partial<ReturnType<typeof action>>) => policy.decide({ ...base, intent: shared, ...over });

  void it('re-decides when a rule reads the command text', () => {
    const policy = compilePolicy({ rules: [{ name: 'no-drop', when: 'command.contains("pg_sleep")', effect: 'deny' }, { name: 'reads', when: 'intent.class == "read"', effect: 'allow' }] });
    assert.equal(ask(policy, { command: 'SELECT * FROM orders WHERE id = 1' }).effect, 'allow');
    assert.equal(ask(policy, { command: 'SELECT * FROM orders WHERE id = 1 AND pg_sleep(1) IS NULL' }).effect, 'deny');
  });

  void it('reuses a decision only for the same session, connection and door', () => {
    const policy = compilePolicy({ rules: [{ name: 'first-session', when: 'session == "sess-1" && door == "postgres"', effect: 'allow' }] });
    const first = ask(policy, {});
    assert.equal(first.effect, 'allow');
    assert.equal(ask(policy, {}), first, 'the same question gets the remembered answer');
    assert.equal(ask(policy, { session: 'sess-2' }).rule, DEFAULT_DENY_RULE);
    assert.equal(ask(policy, { door: 'mcp' }).rule, DEFAULT_DENY_RULE);
    assert.equal(ask(policy, { principal: alice }).rule, 'first-session', 'another principal is decided for itself');
    assert.ok(Object.isFrozen(first), 'a remembered decision cannot be altered by a caller');
  });
});
