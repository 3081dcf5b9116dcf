// Short, safe descriptions of an intent for decision reasons: "write: UPDATE on public.orders".
// Reasons go back to the caller and into logs, so every piece taken from the command is
// stripped of control characters and cut short (a table name can be anything a caller wrote).
import type { Intent, IntentClass } from '../gate/types.js';

const MAX_ITEMS = 3;
const MAX_ITEM_CHARS = 64;
const MAX_ERROR_CHARS = 160;

export function clean(s: string, max: number): string {
  // eslint-disable-next-line no-control-regex
  const flat = s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function list(items: string[]): string {
  const unique = [...new Set(items.map((i) => clean(i, MAX_ITEM_CHARS)).filter((i) => i !== ''))];
  if (unique.length <= MAX_ITEMS) return unique.join(', ');
  return `${unique.slice(0, MAX_ITEMS).join(', ')} and ${unique.length - MAX_ITEMS} more`;
}

/** `class: KINDS on OBJECTS`, e.g. `write: UPDATE on public.orders`. */
export function describeIntent(intent: Intent, cls: IntentClass): string {
  if (cls === 'unknown' && intent.error) return `unknown: ${clean(intent.error, MAX_ERROR_CHARS)}`;
  const kinds = list(intent.parts.map((p) => p.kind));
  const o = intent.objects;
  const objects =
    o.tables.length > 0
      ? list(o.tables.map((t) => (t.schema ? `${t.schema}.${t.name}` : t.name)))
      : o.hosts.length > 0
        ? list(o.hosts)
        : o.paths.length > 0
          ? list(o.paths.map((p) => p.path))
          : '';
  let out: string = cls;
  if (kinds) out += `: ${kinds}`;
  if (objects) out += `${kinds ? '' : ':'} on ${objects}`;
  if (cls === 'unknown') {
    const why = intent.parts.find((p) => p.error)?.error;
    if (why) out += ` (${clean(why, MAX_ERROR_CHARS)})`;
  }
  return out;
}
