// Hand-built Intents and Actions for policy tests. The analysers live elsewhere; these
// mirror their output shape (riskiest class, union of objects and flags) without them.
import { riskiestClass, type Action, type Intent, type IntentClass, type PartIntent, type PathRef, type Principal, type TableRef } from '../../src/gate/types.js';

export interface PartSpec {
  /** `schema.table` or `table`, prefixed `w:` when written. */
  tables?: string[];
  flags?: string[];
  programs?: string[];
  /** A path, prefixed `w:` when written. */
  paths?: string[];
  hosts?: string[];
  functions?: string[];
  error?: string;
}

function table(spec: string): TableRef {
  const write = spec.startsWith('w:');
  const name = write ? spec.slice(2) : spec;
  const dot = name.indexOf('.');
  const access = write ? 'write' : 'read';
  return dot < 0 ? { name, access } : { schema: name.slice(0, dot), name: name.slice(dot + 1), access };
}

function path(spec: string): PathRef {
  return spec.startsWith('w:') ? { path: spec.slice(2), access: 'write' } : { path: spec, access: 'read' };
}

export function part(cls: IntentClass, kind: string, spec: PartSpec = {}): PartIntent {
  const p: PartIntent = {
    class: cls,
    kind,
    objects: {
      tables: (spec.tables ?? []).map(table),
      programs: spec.programs ?? [],
      paths: (spec.paths ?? []).map(path),
      hosts: spec.hosts ?? [],
      functions: spec.functions ?? [],
    },
    flags: spec.flags ?? [],
  };
  if (spec.error !== undefined) p.error = spec.error;
  return p;
}

/** Combines parts the way analysers do; `extraFlags` are input-level flags. */
export function intentOf(parts: PartIntent[], extraFlags: string[] = [], language = 'postgres'): Intent {
  const flags = [...new Set([...parts.flatMap((p) => p.flags), ...extraFlags, ...(parts.length > 1 ? ['multi_statement'] : [])])];
  return {
    language,
    class: riskiestClass(parts.map((p) => p.class)),
    classes: [...new Set(parts.map((p) => p.class))],
    objects: {
      tables: parts.flatMap((p) => p.objects.tables),
      programs: parts.flatMap((p) => p.objects.programs),
      paths: parts.flatMap((p) => p.objects.paths),
      hosts: parts.flatMap((p) => p.objects.hosts),
      functions: parts.flatMap((p) => p.objects.functions),
    },
    flags,
    parts,
  };
}

/** One-statement intent. */
export function sql(cls: IntentClass, kind: string, spec: PartSpec = {}): Intent {
  return intentOf([part(cls, kind, spec)]);
}

export function unparsable(error = 'syntax error at or near "SELEC"'): Intent {
  return { language: 'postgres', class: 'unknown', classes: ['unknown'], objects: { tables: [], programs: [], paths: [], hosts: [], functions: [] }, flags: [], parts: [], error };
}

export const alice: Principal = { kind: 'human', name: 'alice', groups: ['dba', 'eng'] };
export const bob: Principal = { kind: 'human', name: 'bob', groups: ['eng'] };
export const bot: Principal = { kind: 'agent', name: 'report-bot', groups: ['agents'], onBehalfOf: 'bob' };

export interface ActionSpec {
  principal?: Principal;
  connection?: string;
  connectionKind?: string;
  labels?: Record<string, string>;
  door?: string;
  command?: string;
  intent?: Intent;
  time?: Date;
  args?: Record<string, unknown>;
}

export function action(spec: ActionSpec = {}): Action {
  const a: Action = {
    id: 'act-1',
    time: spec.time ?? new Date('2025-03-04T10:00:00Z'),
    principal: spec.principal ?? bob,
    session: 'sess-1',
    connection: { name: spec.connection ?? 'prod-db', kind: spec.connectionKind ?? 'postgres', labels: spec.labels ?? { env: 'prod' } },
    door: spec.door ?? 'postgres',
    command: spec.command ?? 'SELECT 1',
    intent: spec.intent ?? sql('read', 'SELECT', { tables: ['public.orders'] }),
  };
  if (spec.args !== undefined) a.args = spec.args;
  return a;
}
