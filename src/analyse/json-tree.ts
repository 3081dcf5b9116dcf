// Small readers for parser output given as plain JSON (libpg-query and sqlparser-ts both
// return their trees that way). They never throw: a shape the walker does not expect reads
// as absent, and the walker then classes the statement `unknown`.

export type Json = Record<string, unknown>;

/** Node type keys are capitalised (`SelectStmt`, `Query`); field names are not. */
export function isNodeKey(key: string): boolean {
  const c = key.charCodeAt(0);
  return c >= 65 && c <= 90;
}

export function obj(v: unknown): Json | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
}

export function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
