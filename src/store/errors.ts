// Store errors carry a code callers can branch on and a message that is safe to print: it
// never contains a password from a connection URL.

export type StoreErrorCode =
  /** The server cannot be reached or refused the connection. */
  | 'unavailable'
  /** The database schema is newer than this code understands. */
  | 'schema_too_new'
  /** A record with that id already exists. */
  | 'conflict'
  /** Bad input (an unusable URL, a record that breaks the chain...). */
  | 'invalid'
  /** The store was closed. */
  | 'closed'
  /** A migration failed. */
  | 'migration_failed'
  /** Anything else the database reported. */
  | 'failed';

export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StoreError';
  }
}

const SECRET_PARAMS = /([?&](?:password|sslpassword|sslkey|pass|secret|token)=)([^&#]*)/gi;

/** Splits `scheme://userinfo@host...`; userinfo ends at the LAST `@` before the path. */
function splitAuthority(url: string): { head: string; user: string; password?: string; rest: string } | undefined {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)/i.exec(url);
  if (!m) return undefined;
  const head = m[1]!;
  const afterScheme = url.slice(head.length);
  const end = afterScheme.search(/[/?#]/);
  const authority = end === -1 ? afterScheme : afterScheme.slice(0, end);
  const at = authority.lastIndexOf('@');
  if (at === -1) return undefined;
  const userinfo = authority.slice(0, at);
  const colon = userinfo.indexOf(':');
  const rest = afterScheme.slice(at);
  if (colon === -1) return { head, user: userinfo, rest };
  return { head, user: userinfo.slice(0, colon), password: userinfo.slice(colon + 1), rest };
}

/**
 * Returns the URL with its password (and password-like query parameters) replaced by `***`.
 * Works on strings that do not parse as URLs too.
 */
export function redactUrl(url: string): string {
  const parts = splitAuthority(url);
  let out = parts?.password !== undefined ? `${parts.head}${parts.user}:***${parts.rest}` : url;
  out = out.replace(SECRET_PARAMS, '$1***');
  return out;
}

/** Secret strings found in a URL: the password, raw and decoded, and password-like params. */
export function urlSecrets(url: string): string[] {
  const found = new Set<string>();
  const password = splitAuthority(url)?.password;
  if (password) found.add(password);
  for (const q of url.matchAll(SECRET_PARAMS)) {
    if (q[2]) found.add(q[2]);
  }
  for (const s of [...found]) {
    try {
      found.add(decodeURIComponent(s));
    } catch {
      // Not valid percent-encoding: the raw form is already covered.
    }
  }
  return [...found].filter((s) => s.length > 0);
}

/** Replaces every occurrence of each secret in `text` with `***`. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  // Longest first, so a secret that contains another is removed whole.
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) out = out.split(s).join('***');
  return out;
}

/** A message for an unknown thrown value, with the given secrets removed. */
export function safeMessage(error: unknown, secrets: readonly string[] = []): string {
  const raw = error instanceof Error ? error.message : String(error);
  return redactSecrets(raw, secrets);
}
