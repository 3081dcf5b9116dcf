// Secrets and personal data inside the command text an agent sends (a password in ALTER USER,
// a token in a curl header, an email in a WHERE clause) must not land in the ledger in clear.
// Before a decision is recorded, its command is scanned with the masking engine's detectors
// and each value found is replaced by its keyed digest (`hmac:...`, audit/value-digest.ts): an
// auditor who knows the value finds the record with `sluice audit search --value`, a reader of
// the ledger learns nothing. Without a digest key the value becomes `[redacted:<type>]`. Only
// the record changes: the command that runs is the one that was decided on.
//
// The same statement text often repeats (a prepared statement parsed again, a polling agent):
// recent results are remembered.
import type { MASKING_DETECTORS } from '../config/schema.js';
import { compileMaskingProfile, type CompiledMaskingProfile } from '../masking/profile.js';
import type { ValueDigester } from './value-digest.js';

export interface RedactedCommand {
  /** The command as recorded. */
  command: string;
  /** Values replaced, by type (absent when none). */
  redacted?: Readonly<Record<string, number>>;
}

/** Commands remembered per generation (two generations make a cheap LRU). */
const CACHE_SIZE = 1024;
/** Longer commands are scanned every time: the cache stays small. */
const MAX_CACHED = 4096;

export class CommandRedactor {
  private recent = new Map<string, RedactedCommand>();
  private older = new Map<string, RedactedCommand>();

  /** `profile` chooses the detectors (its replacements are not used); `digester` makes the digests. */
  constructor(
    private readonly profile: CompiledMaskingProfile,
    private readonly digester: ValueDigester | undefined,
  ) {}

  redact(command: string): RedactedCommand {
    if (command.length > MAX_CACHED) return this.scan(command);
    let out = this.recent.get(command) ?? this.older.get(command);
    if (out === undefined) out = this.scan(command);
    if (this.recent.size >= CACHE_SIZE) {
      this.older = this.recent;
      this.recent = new Map();
    }
    this.recent.set(command, out);
    return out;
  }

  private scan(command: string): RedactedCommand {
    const { findings } = this.profile.scanText(command);
    if (findings.length === 0) return { command };
    const counts: Record<string, number> = {};
    let text = '';
    let at = 0;
    // Findings come in text order without overlaps (the engine resolves them).
    for (const f of findings) {
      if (f.start < at) continue;
      const value = command.slice(f.start, f.end);
      text += command.slice(at, f.start) + (this.digester ? this.digester.digest(value) : `[redacted:${f.type}]`);
      at = f.end;
      counts[f.type] = (counts[f.type] ?? 0) + 1;
    }
    return { command: text + command.slice(at), redacted: counts };
  }
}

/**
 * Passwords in SQL statements, which no content detector sees as secrets: PostgreSQL's
 * `PASSWORD '...'` (CREATE/ALTER ROLE/USER) and MySQL's `IDENTIFIED BY '...'`.
 */
const SQL_PASSWORD_RULES = [
  { type: 'secret', regex: String.raw`\b(?:PASSWORD|IDENTIFIED\s+(?:WITH\s+\w+\s+)?BY)\s+'((?:[^']|'')*)'`, group: 1, case_insensitive: true, keywords: ['password', 'identified'] },
];

/** The gate's command redactor for `audit.redact_commands` (undefined when off). */
export function createCommandRedactor(setting: boolean | readonly (typeof MASKING_DETECTORS)[number][], digester: ValueDigester | undefined): CommandRedactor | undefined {
  if (setting === false) return undefined;
  const detectors = setting === true ? (['secrets', 'pii'] as const) : setting;
  const profile = compileMaskingProfile('audit-commands', { detectors: [...detectors], custom: SQL_PASSWORD_RULES });
  return new CommandRedactor(profile, digester);
}
