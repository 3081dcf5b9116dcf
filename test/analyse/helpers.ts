// Shared assertions for the analyser tables: class, flags, objects.
import assert from 'node:assert/strict';
import type { Intent, IntentClass } from '../../src/gate/types.js';

export interface Expect {
  /** Flags that must be present. */
  flags?: string[];
  /** Flags that must be absent. */
  not?: string[];
  /** Tables as `r:name`, `w:schema.name`; each must be present. */
  tables?: string[];
  /** Exactly these tables (same notation). */
  onlyTables?: string[];
  functions?: string[];
  programs?: string[];
  /** Paths as `r:/etc/passwd` or `w:out.txt`. */
  paths?: string[];
  hosts?: string[];
  /** Part kinds, in order. */
  kinds?: string[];
  /** Text that must occur in the error of the intent or of some part. */
  error?: RegExp;
}

export type Case = [command: string, cls: IntentClass, expect?: Expect];

function tableKey(t: { schema?: string; name: string; access: string }): string {
  return `${t.access[0]}:${t.schema === undefined ? '' : `${t.schema}.`}${t.name}`;
}

export function checkIntent(intent: Intent, cls: IntentClass, e: Expect = {}, label = ''): void {
  const why = `${label}\n${JSON.stringify(intent, null, 1)}`;
  assert.equal(intent.class, cls, `class of ${why}`);
  for (const f of e.flags ?? []) assert.ok(intent.flags.includes(f), `flag ${f} missing in ${why}`);
  for (const f of e.not ?? []) assert.ok(!intent.flags.includes(f), `flag ${f} unexpected in ${why}`);
  const tables = intent.objects.tables.map(tableKey);
  for (const t of e.tables ?? []) assert.ok(tables.includes(t), `table ${t} missing in ${why}`);
  if (e.onlyTables) assert.deepEqual([...tables].sort(), [...e.onlyTables].sort(), `tables of ${why}`);
  for (const f of e.functions ?? []) assert.ok(intent.objects.functions.includes(f), `function ${f} missing in ${why}`);
  for (const p of e.programs ?? []) assert.ok(intent.objects.programs.includes(p), `program ${p} missing in ${why}`);
  const paths = intent.objects.paths.map((p) => `${p.access[0]}:${p.path}`);
  for (const p of e.paths ?? []) assert.ok(paths.includes(p), `path ${p} missing in ${why}`);
  for (const h of e.hosts ?? []) assert.ok(intent.objects.hosts.includes(h), `host ${h} missing in ${why}`);
  if (e.kinds) assert.deepEqual(intent.parts.map((p) => p.kind), e.kinds, `kinds of ${why}`);
  if (e.error) {
    const errors = [intent.error ?? '', ...intent.parts.map((p) => p.error ?? '')].join('\n');
    assert.match(errors, e.error, `error of ${why}`);
  }
  if (intent.class === 'unknown') {
    assert.ok(intent.error !== undefined || intent.parts.some((p) => p.class === 'unknown' && p.error), `unknown without a reason: ${why}`);
  }
  // Invariants of every Intent.
  assert.ok(intent.classes.includes(intent.class) || intent.parts.length === 0, `classes must include the class: ${why}`);
}

/** A deterministic pseudo-random generator for fuzz tests. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Check every case and report all failures at once (one line each). */
export function checkAll(cases: readonly Case[], analyse: (command: string) => Intent): void {
  const failures: string[] = [];
  for (const [command, cls, expect] of cases) {
    try {
      checkIntent(analyse(command), cls, expect, command);
    } catch (e) {
      const intent = analyse(command);
      const first = (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';
      failures.push(`${JSON.stringify(command)}: ${first} (got ${intent.class}, flags ${intent.flags.join(',')}; ${intent.error ?? intent.parts.map((p) => p.error ?? '').filter((x) => x).join('; ')})`);
    }
  }
  assert.deepEqual(failures, []);
}
