// An upstream tool's outputSchema as Sluice re-exports it. Masking replaces values inside
// structuredContent with placeholder text: a number under a masked key, an address that no
// longer passes `format: email`. Clients validate structuredContent against the outputSchema
// (the SDK clients do, formats included), so the schema is re-exported with every place that
// can hold a single value also accepting a string: `{anyOf: [<the upstream's schema>, {type:
// string}]}`. Objects and arrays keep their shape (masking never adds or removes keys or
// items); the upstream's own schema stays readable inside the anyOf. `oneOf` becomes `anyOf`
// (a placeholder could match several widened branches). `not` is left as it is.
//
// Before a result goes out, its structuredContent is checked against the widened schema with
// the SDK's own validator; a result that still does not match is withheld as a tool error
// (the client would reject it anyway, with a less useful message).
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/server/validators/ajv';
import type { Tool } from '@modelcontextprotocol/server';
import { log } from '../../util/log.js';

type Schema = Record<string, unknown>;
export type OutputSchema = NonNullable<Tool['outputSchema']>;

const MASKED = { type: 'string', description: 'a value masked by Sluice' } as const;
const SCALAR_TYPES = new Set(['string', 'number', 'integer', 'boolean', 'null']);
/** Keywords after which a string is no longer "any string". */
const STRING_LIMITS = ['format', 'pattern', 'minLength', 'maxLength', 'enum', 'const', 'contentEncoding', 'contentMediaType', 'not'];
/** Keywords whose value is one schema. */
const ONE_SCHEMA = ['additionalProperties', 'unevaluatedProperties', 'additionalItems', 'unevaluatedItems', 'contains', 'if', 'then', 'else'];
/** Keywords whose value maps names to schemas. */
const SCHEMA_MAPS = ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas'];
/** Keywords whose value is a list of schemas. */
const SCHEMA_LISTS = ['allOf', 'anyOf', 'prefixItems'];
const MAX_DEPTH = 64;

function isSchema(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function types(node: Schema): string[] | undefined {
  if (typeof node.type === 'string') return [node.type];
  if (Array.isArray(node.type)) return node.type.filter((t): t is string => typeof t === 'string');
  return undefined;
}

/** Whether the node can describe a single value (not only an object or an array). */
function canBeScalar(node: Schema): boolean {
  const listed = types(node);
  return listed === undefined || listed.some((t) => SCALAR_TYPES.has(t));
}

/** Whether every string already passes this node on its own. */
function acceptsAnyString(node: Schema): boolean {
  const listed = types(node);
  if (listed !== undefined && !listed.includes('string')) return false;
  if (listed === undefined) return false; // untyped nodes are mostly combinators or refs: wrap
  return !STRING_LIMITS.some((key) => key in node) && !SCHEMA_LISTS.some((key) => key in node) && !('oneOf' in node) && !('$ref' in node);
}

function widenNode(node: unknown, depth: number, root: boolean): unknown {
  if (!isSchema(node) || depth > MAX_DEPTH) return node;
  const copy: Schema = { ...node };
  for (const key of ONE_SCHEMA) if (isSchema(copy[key])) copy[key] = widenNode(copy[key], depth + 1, false);
  for (const key of SCHEMA_MAPS) {
    const map = copy[key];
    if (isSchema(map)) copy[key] = Object.fromEntries(Object.entries(map).map(([name, child]) => [name, widenNode(child, depth + 1, false)]));
  }
  for (const key of SCHEMA_LISTS) if (Array.isArray(copy[key])) copy[key] = (copy[key] as unknown[]).map((child) => widenNode(child, depth + 1, false));
  if (Array.isArray(copy.oneOf)) {
    const branches = (copy.oneOf as unknown[]).map((child) => widenNode(child, depth + 1, false));
    delete copy.oneOf;
    copy.anyOf = Array.isArray(copy.anyOf) ? [...(copy.anyOf as unknown[]), ...branches] : branches;
  }
  if (isSchema(copy.items)) copy.items = widenNode(copy.items, depth + 1, false);
  else if (Array.isArray(copy.items)) copy.items = (copy.items as unknown[]).map((child) => widenNode(child, depth + 1, false));
  if (root || !canBeScalar(copy) || acceptsAnyString(copy)) return copy;
  // $defs stay with the node that holds them, so that $ref paths keep working.
  const { $defs, definitions, $schema, $id, ...rest } = copy;
  return {
    ...($schema !== undefined ? { $schema } : {}),
    ...($id !== undefined ? { $id } : {}),
    ...($defs !== undefined ? { $defs } : {}),
    ...(definitions !== undefined ? { definitions } : {}),
    anyOf: [rest, MASKED],
  };
}

/** The upstream's outputSchema with room for masked values; undefined when it cannot be used. */
export function widenOutputSchema(schema: OutputSchema): OutputSchema | undefined {
  const widened = widenNode(schema, 0, true) as OutputSchema;
  return validatorFor(widened) ? widened : undefined;
}

const validator = new AjvJsonSchemaValidator();
const compiled = new WeakMap<object, (value: unknown) => { valid: boolean; errorMessage?: string }>();

function validatorFor(schema: OutputSchema): ((value: unknown) => { valid: boolean; errorMessage?: string }) | undefined {
  let check = compiled.get(schema);
  if (check) return check;
  try {
    check = validator.getValidator(schema as Parameters<typeof validator.getValidator>[0]);
  } catch (error) {
    log.warn({ err: error }, 'an upstream MCP tool has an outputSchema Sluice cannot compile; it is not re-exported');
    return undefined;
  }
  compiled.set(schema, check);
  return check;
}

/** Whether structured content matches a (widened) output schema; why not, when it does not. */
export function checkStructured(schema: OutputSchema, value: unknown): { ok: true } | { ok: false; reason: string } {
  const check = validatorFor(schema);
  if (!check) return { ok: false, reason: 'the output schema cannot be compiled' };
  const result = check(value);
  return result.valid ? { ok: true } : { ok: false, reason: result.errorMessage ?? 'does not match' };
}
