// What changing a PostgreSQL run-time setting does, for SET, RESET and set_config().
import type { IntentClass } from '../gate/types.js';

export interface SettingEffect {
  class: IntentClass;
  flags: string[];
  /** Set when the change cannot be judged (the class is then `unknown`). */
  error?: string;
}

const FALSE_WORDS = new Set(['off', 'false', 'no', '0', 'f', 'n']);

/**
 * Classify a change of `name` to `values` (the words after `=`, or null when the value is
 * not a constant; an empty list means DEFAULT/RESET).
 */
export function settingEffect(rawName: string, values: string[] | null): SettingEffect {
  const name = rawName.toLowerCase();
  switch (name) {
    case 'role':
    case 'session_authorization':
      // Changes whose privileges every later statement runs with.
      return { class: 'privilege', flags: ['role_change'] };
    case 'session_replication_role':
      // `replica` disables triggers and foreign-key checks.
      return { class: 'admin', flags: [] };
    case 'search_path': {
      // PostgreSQL searches pg_catalog first unless the path names it later; a later
      // position lets a schema shadow built-in functions and operators, which would make
      // the function table in this analyser wrong.
      if (values === null) return { class: 'unknown', flags: ['search_path'], error: 'search_path set to a value that is not a constant' };
      const schemas = values.flatMap((v) => v.split(',')).map((v) => v.trim().replace(/^"|"$/g, '').toLowerCase());
      const at = schemas.indexOf('pg_catalog');
      if (at > 0) {
        return {
          class: 'unknown',
          flags: ['search_path'],
          error: 'search_path puts pg_catalog after other schemas, so built-in functions can be shadowed',
        };
      }
      return { class: 'session', flags: ['search_path'] };
    }
    case 'transaction_read_only':
    case 'default_transaction_read_only': {
      const off = values === null || values.some((v) => FALSE_WORDS.has(v.toLowerCase()));
      return { class: 'session', flags: off ? ['read_write'] : [] };
    }
    default:
      // Custom settings (`app.tenant_id`) are what row-level security policies usually read;
      // changing one can widen what the session may see.
      if (name.includes('.')) return { class: 'privilege', flags: ['custom_setting'] };
      return { class: 'session', flags: [] };
  }
}
