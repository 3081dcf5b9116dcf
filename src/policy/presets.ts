// Built-in presets: named rule lists usable from config as `- preset: NAME` in policy.rules
// or as `policy: NAME` on a connection. They are plain CEL rules like any other, so
// docs/policy.md can show them in full and users can copy and adapt them.
//
// Both presets rely on `intent.class` being the riskiest class of all parts (so a
// multi-statement input with one DROP is `schema`), and on these analyser flags:
//   no_where            UPDATE or DELETE without a WHERE clause (the whole table)
//   truncate            TRUNCATE (also recognised by the part kind `TRUNCATE`)
//   whole_table         any other statement that rewrites a whole table
//   dynamic_sql         SQL built at run time (EXECUTE in DO blocks, and the like)
//   file_access         server-side file access from SQL (COPY ... FROM/TO 'file', pg_read_file)
//   program_exec        server-side programs from SQL (COPY ... PROGRAM)
//   data_modifying_cte  a WITH clause holding INSERT/UPDATE/DELETE
import type { Effect } from '../gate/types.js';

export interface PresetRule {
  /** Short name; the compiled rule is named `PRESET/NAME`, e.g. `read-only/deny-write`. */
  name: string;
  effect: Effect;
  when: string;
  reason: string;
}

export const PRESET_NAMES = ['read-only', 'guarded'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

// Transaction control (BEGIN, COMMIT, SAVEPOINT) and session settings (SET search_path,
// SHOW) are allowed alongside reads: psql and drivers send them all the time and they change
// no data. Settings that change who you are (SET ROLE, SET SESSION AUTHORIZATION) are the
// `privilege` class, and server-wide ones (ALTER SYSTEM, LOAD) are `admin`, so those are denied.
const READ_LIKE = '["read", "transaction", "session"]';

// Flags that let a statement reach beyond the rows it names, whatever its class.
const SIDE_EFFECT_FLAGS = '["dynamic_sql", "file_access", "program_exec"]';

const WHOLE_TABLE = '(intent.flags.exists(f, f in ["no_where", "truncate", "whole_table"]) || "TRUNCATE" in intent.kinds)';

function denyClasses(preset: string): PresetRule[] {
  const reasons: [string, string][] = [
    ['schema', 'schema changes are not allowed'],
    ['privilege', 'privilege and role changes are not allowed'],
    ['admin', 'administrative commands are not allowed'],
    ['execute', 'running programs, procedures or code is not allowed'],
    ['network', 'network access is not allowed'],
    ['unknown', 'commands that could not be analysed are not allowed'],
  ];
  return reasons.map(([cls, reason]) => ({
    name: `deny-${cls}`,
    effect: 'deny',
    when: `intent.class == "${cls}"`,
    reason: `${preset}: ${reason}`,
  }));
}

export const PRESETS: Readonly<Record<PresetName, readonly PresetRule[]>> = Object.freeze({
  'read-only': Object.freeze([
    {
      name: 'allow-reads',
      effect: 'allow',
      when: `intent.class in ${READ_LIKE}`,
      reason: 'read-only: reads are allowed',
    },
    {
      name: 'deny-write',
      effect: 'deny',
      when: 'intent.class == "write"',
      reason: 'read-only: writes are not allowed',
    },
    ...denyClasses('read-only'),
    {
      name: 'deny-side-effects',
      effect: 'deny',
      when: `intent.flags.exists(f, f in ${SIDE_EFFECT_FLAGS})`,
      reason: 'read-only: dynamic SQL and server-side file or program access are not allowed',
    },
  ] satisfies PresetRule[]),
  guarded: Object.freeze([
    {
      name: 'allow-reads',
      effect: 'allow',
      when: `intent.class in ${READ_LIKE}`,
      reason: 'guarded: reads are allowed',
    },
    {
      name: 'review-writes',
      effect: 'review',
      when: 'intent.class == "write"',
      reason: 'guarded: writes need approval',
    },
    {
      name: 'deny-whole-table-writes',
      effect: 'deny',
      when: WHOLE_TABLE,
      reason: 'guarded: writes to a whole table (no WHERE, TRUNCATE) are not allowed',
    },
    ...denyClasses('guarded'),
    {
      name: 'deny-side-effects',
      effect: 'deny',
      when: `intent.flags.exists(f, f in ${SIDE_EFFECT_FLAGS})`,
      reason: 'guarded: dynamic SQL and server-side file or program access are not allowed',
    },
  ] satisfies PresetRule[]),
});

export function isPresetName(name: string): name is PresetName {
  return (PRESET_NAMES as readonly string[]).includes(name);
}
