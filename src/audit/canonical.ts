// Canonical JSON: one byte-exact text for one JSON value, so that a hash over it means the
// same thing on every node, in every version, after any number of parse/serialise round trips.
//
// Rules (close to RFC 8785 / JCS, which is what the number and string rules come from):
// - object keys sorted by UTF-16 code units (JavaScript's default string order), no whitespace;
// - strings and numbers exactly as JSON.stringify writes them (ECMAScript shortest
//   round-trip number form; `-0` is written `0`);
// - object properties whose value is `undefined` are left out (the way optional fields look in
//   TypeScript); everything else that JSON cannot represent is an error rather than silently
//   changed: `undefined` in arrays or at the top, functions, symbols, bigints, NaN, ±Infinity,
//   cycles, and objects that are not plain (Map, Set, class instances, Buffers...). A valid Date
//   is written as its ISO string, an invalid Date is an error.

export class CanonicalJsonError extends Error {
  /** JSONPath-like location of the offending value, e.g. `$.detail.items[3]`. */
  readonly path: string;
  constructor(path: PathSegs, what: string, hint?: string) {
    const where = formatPath(path);
    super(`cannot encode ${what} at ${where} as canonical JSON${hint ? ` (${hint})` : ''}`);
    this.name = 'CanonicalJsonError';
    this.path = where;
  }
}

/** Deeper nesting than this is refused instead of risking a stack overflow. */
export const MAX_CANONICAL_DEPTH = 64;

export function canonicalJson(value: unknown): string {
  return encode(value, [], []);
}

/**
 * Canonical JSON of a value that sits at `path` inside a larger document (error messages name
 * the full path). For callers that assemble an object's entries themselves.
 */
export function canonicalJsonAt(value: unknown, path: readonly (string | number)[]): string {
  return encode(value, [...path], []);
}

/** JSON text of an object key; keys repeat a lot, so short ones are cached (bounded). */
export function encodeKey(key: string): string {
  let json = keyCache.get(key);
  if (json === undefined) {
    json = JSON.stringify(key);
    if (key.length <= 64 && keyCache.size < 4096) keyCache.set(key, json);
  }
  return json;
}
const keyCache = new Map<string, string>();

// `path` holds the keys/indexes down to the current value; it is only formatted into a string
// when there is an error, so the happy path allocates nothing for it.
type PathSegs = (string | number)[];

function encode(value: unknown, path: PathSegs, stack: object[]): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalJsonError(path, `the number ${String(value)}`);
      // JSON.stringify(-0) is already "0"; the shortest round-trip form is the ES default.
      return JSON.stringify(value);
    case 'undefined':
      throw new CanonicalJsonError(path, 'undefined');
    case 'bigint':
      throw new CanonicalJsonError(path, 'a bigint', 'convert it to a string or a safe number first');
    case 'function':
      throw new CanonicalJsonError(path, 'a function');
    case 'symbol':
      throw new CanonicalJsonError(path, 'a symbol');
    case 'object':
      break;
  }
  if (value === null) return 'null';
  const obj = value as object;
  if (stack.length >= MAX_CANONICAL_DEPTH) throw new CanonicalJsonError(path, `nesting deeper than ${MAX_CANONICAL_DEPTH}`);
  // Deeply immutable values (frozen, with nothing mutable inside, such as cached Intents) are
  // encoded once: every audit record of a statement shape carries the same intent objects.
  const frozen = Object.isFrozen(obj);
  if (frozen) {
    const known = immutableJson.get(obj);
    if (known !== undefined) return known;
  }
  if (stack.includes(obj)) throw new CanonicalJsonError(path, 'a circular reference');

  if (Array.isArray(obj)) {
    stack.push(obj);
    let out = '[';
    let immutable = frozen;
    for (let i = 0; i < obj.length; i++) {
      if (i > 0) out += ',';
      path.push(i);
      // Holes read as undefined and are refused like explicit undefined.
      const item: unknown = obj[i];
      out += encode(item, path, stack);
      if (immutable && !isImmutable(item)) immutable = false;
      path.pop();
    }
    stack.pop();
    out += ']';
    if (immutable) immutableJson.set(obj, out);
    return out;
  }
  if (obj instanceof Date) {
    if (Number.isNaN(obj.getTime())) throw new CanonicalJsonError(path, 'an invalid Date');
    return JSON.stringify(obj.toISOString());
  }
  assertPlainObject(obj, path);
  const record = obj as Record<string, unknown>;
  // Default sort compares UTF-16 code units, which is the JCS order.
  const keys = Object.keys(record);
  if (keys.length > 1) keys.sort();
  stack.push(obj);
  let out = '{';
  let first = true;
  let immutable = frozen;
  for (const key of keys) {
    const v = record[key];
    if (v === undefined) continue;
    path.push(key);
    const json = encode(v, path, stack);
    if (immutable && !isImmutable(v)) immutable = false;
    path.pop();
    out += (first ? '' : ',') + encodeKey(key) + ':' + json;
    first = false;
  }
  stack.pop();
  out += '}';
  if (immutable) immutableJson.set(obj, out);
  return out;
}

/** Canonical JSON of deeply immutable objects and arrays, by identity. */
const immutableJson = new WeakMap<object, string>();

/** A primitive, or an object already known to be deeply immutable (encoded just before). */
function isImmutable(v: unknown): boolean {
  return typeof v !== 'object' || v === null || immutableJson.has(v);
}

function assertPlainObject(obj: object, path: PathSegs): void {
  const proto: unknown = Object.getPrototypeOf(obj);
  if (proto !== Object.prototype && proto !== null) {
    const name = (obj as { constructor?: { name?: unknown } }).constructor?.name;
    throw new CanonicalJsonError(path, `an object of class ${typeof name === 'string' && name ? name : '(anonymous)'}`);
  }
  // JSON.stringify would silently drop symbol keys; a canonical form must not hide data.
  const symbols = Object.getOwnPropertySymbols(obj);
  if (symbols.length > 0 && symbols.some((sym) => Object.prototype.propertyIsEnumerable.call(obj, sym))) {
    throw new CanonicalJsonError(path, 'an object with symbol keys');
  }
}

function formatPath(path: PathSegs): string {
  let out = '$';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(seg) ? `.${seg}` : `[${JSON.stringify(seg)}]`;
  }
  return out;
}
