// Shared types of the masking engine: what a detector reports, what a masker returns, and
// the hook a placeholder vault plugs into. Findings never carry the value they stand for.

/** Built-in types. Custom rules add their own (lowercase names). */
export const BUILTIN_TYPES = ['email', 'phone', 'card', 'iban', 'ssn', 'ipv4', 'ipv6', 'dob', 'name', 'address', 'secret'] as const;
export type BuiltinType = (typeof BUILTIN_TYPES)[number];

/** A span a detector recognised in a text: [start, end) in UTF-16 code units. */
export interface Candidate {
  type: string;
  start: number;
  end: number;
  /** Higher wins an overlap (secrets over PII, checksummed over plain). */
  priority: number;
  /** The rule that found it (secret rule id, custom rule), for the audit record. */
  rule?: string;
}

/** What a masker reports about one replaced span. Never the value. */
export interface Finding {
  type: string;
  start: number;
  end: number;
  /** The placeholder put in, when the replacement is a placeholder. */
  placeholder?: string;
  rule?: string;
}

export interface MaskTextResult {
  text: string;
  findings: Finding[];
}

/** How a value of one type is replaced. `redact` is the fixed text `[masked]`. */
export type Replacement = 'placeholder' | 'partial' | 'hash' | 'drop' | 'redact';

/**
 * Where placeholders are scoped: the same value gives the same placeholder within one
 * session, for one agent (principal) across sessions, or everywhere.
 */
export type PlaceholderScope = 'session' | 'agent' | 'global';

/** The identity of the caller a result is masked for; picks the placeholder scope. */
export interface MaskScope {
  session?: string;
  principal?: string;
}

/**
 * Receives every placeholder the masker hands out, with the value it stands for, so that a
 * vault can store the mapping (encrypted) and swap values back in later. Called
 * synchronously; it must not throw (a throw fails the masking closed).
 */
export interface PlaceholderSink {
  record(entry: { placeholder: string; type: string; value: string; scope: string }): void;
}
