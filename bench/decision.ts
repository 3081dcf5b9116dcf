// Decision speed for an already-analysed statement: a realistic policy of 20 hand-written
// rules plus the `guarded` preset on every connection and `read-only` on one, over a mix of
// reads, writes, DDL and shell commands. Target: median <= 20 µs per decide().
//
//   node --import tsx bench/decision.ts
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type { Action, Intent, IntentClass, PartIntent } from '../src/gate/types.js';
import { compilePolicy, type RuleConfig } from '../src/policy/index.js';

const RULES: RuleConfig[] = [
  { name: 'dba-anything', when: '"dba" in principal.groups && agent == ""', effect: 'allow', reason: 'DBAs may run anything' },
  { name: 'no-secrets-table', when: 'intent.tables.exists(t, t == "secrets" || t.endsWith(".secrets"))', effect: 'deny', reason: 'the secrets table is off limits' },
  { name: 'agents-mask', when: 'principal.kind == "agent"', effect: 'allow', mask: 'strict', connections: ['prod-db', 'staging-db'] },
  { name: 'agents-need-a-human', when: 'principal.kind == "agent" && on_behalf_of == ""', effect: 'deny', reason: 'agents must act for a human' },
  { name: 'prod-ddl-review', when: 'intent.class == "schema" && connection.labels.env == "prod"', effect: 'review' },
  { name: 'staging-ddl', when: 'intent.class == "schema"', effect: 'allow', connections: ['staging-db'] },
  { name: 'billing-writes-review', when: 'intent.tables_written.exists(t, t.startsWith("billing."))', effect: 'review' },
  { name: 'night-writes', when: 'intent.class == "write" && (time.getHours("UTC") < 6 || time.getHours("UTC") >= 22)', effect: 'review', reason: 'writes outside working hours need approval' },
  { name: 'weekend-freeze', when: 'intent.class in ["write", "schema"] && time.getDayOfWeek("UTC") in [0, 6] && connection.labels.env == "prod"', effect: 'deny' },
  { name: 'no-multi-statement-agents', when: 'agent != "" && "multi_statement" in intent.flags', effect: 'review' },
  { name: 'no-dynamic-sql', when: '"dynamic_sql" in intent.flags', effect: 'deny' },
  { name: 'analytics-read', when: '"analytics" in principal.groups && intent.class == "read"', effect: 'allow', connections: ['warehouse'] },
  { name: 'pii-tables-masked', when: 'intent.tables_read.exists(t, t in ["public.customers", "public.users"])', effect: 'allow', mask: 'pii' },
  { name: 'shell-safe-programs', when: 'intent.programs.all(p, p in ["ls", "cat", "grep", "git", "kubectl"])', effect: 'allow', doors: ['shell', 'api'], connections: ['ops-shell'] },
  { name: 'shell-no-rm', when: '"rm" in intent.programs', effect: 'review', connections: ['ops-shell'] },
  { name: 'shell-no-network', when: 'size(intent.hosts) > 0 && !intent.hosts.all(h, h.endsWith(".internal"))', effect: 'deny', connections: ['ops-shell'] },
  { name: 'mcp-query-limit', when: 'has(args.limit) && args.limit > 1000', effect: 'deny', doors: ['mcp'] },
  { name: 'oncall-admin', when: '"oncall" in principal.groups && intent.class == "admin"', effect: 'review' },
  { name: 'ci-service', when: 'principal.kind == "service" && principal.name == "ci" && intent.class in ["read", "write"]', effect: 'allow', connections: ['staging-db'] },
  { name: 'functions-blocklist', when: 'intent.functions.exists(f, f in ["pg_terminate_backend", "pg_cancel_backend", "dblink"])', effect: 'deny' },
  { preset: 'guarded' },
];

function part(cls: IntentClass, kind: string, tables: [string, 'read' | 'write'][], flags: string[] = [], programs: string[] = []): PartIntent {
  return {
    class: cls,
    kind,
    objects: {
      tables: tables.map(([t, access]) => {
        const [schema, name] = t.includes('.') ? t.split('.') : [undefined, t];
        return schema === undefined ? { name: name as string, access } : { schema, name: name as string, access };
      }),
      programs,
      paths: [],
      hosts: [],
      functions: [],
    },
    flags,
  };
}

function intent(parts: PartIntent[], language = 'postgres'): Intent {
  const order: IntentClass[] = ['read', 'transaction', 'session', 'write', 'network', 'schema', 'execute', 'admin', 'privilege', 'unknown'];
  const cls = parts.map((p) => p.class).reduce((a, b) => (order.indexOf(b) > order.indexOf(a) ? b : a), 'read' as IntentClass);
  return {
    language,
    class: cls,
    classes: [...new Set(parts.map((p) => p.class))],
    objects: {
      tables: parts.flatMap((p) => p.objects.tables),
      programs: parts.flatMap((p) => p.objects.programs),
      paths: [],
      hosts: [],
      functions: [],
    },
    flags: [...new Set(parts.flatMap((p) => p.flags))],
    parts,
  };
}

const INTENTS: Intent[] = [
  intent([part('read', 'SELECT', [['public.orders', 'read'], ['public.customers', 'read']])]),
  intent([part('read', 'SELECT', [['public.products', 'read']])]),
  intent([part('write', 'UPDATE', [['public.orders', 'write']])]),
  intent([part('write', 'DELETE', [['public.orders', 'write']], ['no_where'])]),
  intent([part('schema', 'CREATE TABLE', [['public.tmp', 'write']])]),
  intent([part('write', 'INSERT', [['billing.invoices', 'write']])]),
  intent([part('transaction', 'BEGIN', []), part('write', 'UPDATE', [['public.orders', 'write']]), part('transaction', 'COMMIT', [])]),
  intent([part('read', 'ls', [], [], ['ls'])], 'shell'),
];

const PRINCIPALS = [
  { kind: 'human' as const, name: 'alice', groups: ['dba', 'eng'] },
  { kind: 'agent' as const, name: 'report-bot', groups: ['agents'], onBehalfOf: 'bob' },
  { kind: 'human' as const, name: 'carol', groups: ['analytics', 'oncall'] },
];
const CONNECTIONS = [
  { name: 'prod-db', kind: 'postgres', labels: { env: 'prod' } },
  { name: 'staging-db', kind: 'postgres', labels: { env: 'staging' } },
  { name: 'ops-shell', kind: 'shell', labels: { env: 'prod' } },
];

function actions(): Action[] {
  const out: Action[] = [];
  let n = 0;
  for (const it of INTENTS) {
    for (const principal of PRINCIPALS) {
      const connection = it.language === 'shell' ? CONNECTIONS[2]! : CONNECTIONS[n % 2]!;
      out.push({
        id: `a${n++}`,
        // Decisions happen "now": a few seconds apart, late on a weekday so the night rule matches.
        time: new Date(Date.UTC(2025, 2, 4, 22, 10, n)),
        principal,
        session: 's1',
        connection,
        door: it.language === 'shell' ? 'shell' : 'postgres',
        command: 'SELECT * FROM orders WHERE id = 1',
        intent: it,
      });
    }
  }
  return out;
}

export interface DecisionBenchResult {
  rules: number;
  decisions: number;
  medianUs: number;
  p99Us: number;
  meanUs: number;
  decisionsPerSecond: number;
}

function measure(policy: ReturnType<typeof compilePolicy>, iterations: number): DecisionBenchResult {
  const acts = actions();
  // Warm up so the JIT has settled before timing.
  for (let i = 0; i < 50_000; i++) policy.decide(acts[i % acts.length]!);

  const samples = new Float64Array(iterations);
  let sink = 0;
  const start = performance.now();
  for (let i = 0; i < iterations; i++) {
    const a = acts[i % acts.length]!;
    const t0 = performance.now();
    const d = policy.decide(a);
    samples[i] = performance.now() - t0;
    sink += d.matched.length;
  }
  const total = performance.now() - start;
  if (sink < 0) console.log(sink);
  samples.sort();
  const at = (q: number): number => (samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? 0) * 1000;
  return {
    rules: policy.rules.length,
    decisions: iterations,
    medianUs: at(0.5),
    p99Us: at(0.99),
    meanUs: (total * 1000) / iterations,
    decisionsPerSecond: Math.round(iterations / (total / 1000)),
  };
}

/** The realistic policy: 20 written rules, `guarded` everywhere, `read-only` on prod-db. */
export function runDecisionBench(iterations = 200_000): DecisionBenchResult {
  return measure(compilePolicy({ rules: RULES, connectionPresets: { 'prod-db': 'read-only' } }), iterations);
}

/** A single preset, as `sluice policy test --preset guarded` uses. */
export function runPresetBench(iterations = 200_000): DecisionBenchResult {
  return measure(compilePolicy({ rules: [{ preset: 'guarded' }] }), iterations);
}

function print(label: string, r: DecisionBenchResult): void {
  console.log(`${label}: ${r.rules} compiled rules, ${r.decisions} decisions`);
  console.log(
    `  median ${r.medianUs.toFixed(2)} µs   p99 ${r.p99Us.toFixed(2)} µs   mean ${r.meanUs.toFixed(2)} µs (incl. timer)   ${r.decisionsPerSecond.toLocaleString('en-US')} decisions/s`,
  );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(`node ${process.version}`);
  const r = runDecisionBench();
  print('policy decision, 20 written rules + guarded + read-only on prod-db', r);
  print('policy decision, guarded preset only', runPresetBench());
  console.log(`target median <= 20 µs (realistic policy): ${r.medianUs <= 20 ? 'met' : 'MISSED'}`);
  if (r.medianUs > 20) process.exitCode = 1;
}
