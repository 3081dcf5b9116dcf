// Secrets: the token-format rules kept as data in ../rules/secrets.json (vetted built-ins,
// run as V8 regexes behind keyword prefilters) and password/secret/token assignments in
// config, env and JSON syntax (code, because the value needs judging).
import { readFileSync } from 'node:fs';
import type { Candidate } from '../types.js';
import { PRIORITY, type ScanContext } from './context.js';

export interface SecretRuleData {
  id: string;
  description: string;
  regex: string;
  flags?: string;
  keywords: string[];
  /** Capture group that is the secret; 0 for the whole match. */
  group: number;
  examples: string[];
}

interface SecretRule {
  id: string;
  regex: RegExp;
  keywords: string[];
  group: number;
}

export function loadSecretRuleData(): SecretRuleData[] {
  const text = readFileSync(new URL('../rules/secrets.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { rules: SecretRuleData[] }).rules;
}

/** Rules scanned by hand (same semantics as their regex, which the tests compare). */
const BY_HAND = new Set(['url-password']);

let compiled: SecretRule[] | undefined;
function rules(): SecretRule[] {
  return (compiled ??= loadSecretRuleData().filter((rule) => !BY_HAND.has(rule.id)).map((rule) => ({
    id: rule.id,
    // `d`: indices of the secret's group; the regexes are vetted (RE2-compatible, linear).
    regex: new RegExp(rule.regex, `gd${rule.flags ?? ''}`),
    keywords: rule.keywords,
    group: rule.group,
  })));
}

const SCHEME = /[A-Za-z0-9+.-]/;
const USERINFO = /[^\s:/?#@"'<>]{1,128}:([^\s/?#@"'<>]{1,256})@/dy;

/**
 * Passwords in URLs (scheme://user:password@host). From each "://" outwards: as a regex
 * over the whole text, the scheme part would be retried at every letter.
 */
export function scanUrlPasswords(ctx: ScanContext, out: Candidate[]): void {
  const text = ctx.text;
  for (let at = text.indexOf('://'); at >= 0; at = text.indexOf('://', at + 3)) {
    let start = at;
    while (start > 0 && at - start < 21 && SCHEME.test(text[start - 1]!)) start--;
    if (at - start < 2 || !/[A-Za-z]/.test(text[start]!)) continue;
    USERINFO.lastIndex = at + 3;
    const m = USERINFO.exec(text);
    if (!m) continue;
    const span = m.indices![1]!;
    if (!isNotASecret(m[1]!)) out.push({ type: 'secret', start: span[0], end: span[1], priority: PRIORITY.secret, rule: 'url-password' });
  }
}

export function scanSecretRules(ctx: ScanContext, out: Candidate[]): void {
  const lower = ctx.lower;
  const text = ctx.text;
  if (lower.includes('://')) scanUrlPasswords(ctx, out);
  for (const rule of rules()) {
    if (rule.keywords.length > 0 && !rule.keywords.some((keyword) => lower.includes(keyword))) continue;
    const regex = rule.regex;
    regex.lastIndex = 0;
    for (let m = regex.exec(text); m; m = regex.exec(text)) {
      const span = m.indices?.[rule.group];
      if (span && span[1] > span[0] && !isNotASecret(text.slice(span[0], span[1]))) {
        out.push({ type: 'secret', start: span[0], end: span[1], priority: PRIORITY.secret, rule: rule.id });
      }
      // Trailing-context groups consume a character; step back so adjacent secrets are seen.
      if (m[0].length === 0) regex.lastIndex++;
      else if (span && span[1] < m.index + m[0].length) regex.lastIndex = span[1];
    }
  }
}

// Keys whose value is a credential: the name ends with one of these words
// (DB_PASSWORD, clientSecret, github_token, api-key, "private_key").
const ASSIGNMENT = new RegExp(
  String.raw`(?<![A-Za-z0-9])([A-Za-z0-9_.-]*?(?:password|passwd|pwd|passphrase|secret|token|api[_-]?key|apikey|access[_-]?key|secret[_-]?key|private[_-]?key|client[_-]?secret|credentials?|auth[_-]?key|session[_-]?key|signing[_-]?key|master[_-]?key|encryption[_-]?key)(?:[_-]?\d+)?)` +
    String.raw`(?:"|')?[ \t]*(?::=|=>|=|:)[ \t]*(?:"([^"\r\n]{1,512})"|'([^'\r\n]{1,512})'|([^\s"'\x60,;)}\]]{1,512}))`,
  'gdi',
);
const KEYWORDS = ['pass', 'pwd', 'secret', 'token', 'key', 'credential'];

/** Values that name, describe or reference a secret rather than being one. */
const NOT_SECRET_WORDS = new Set([
  'true', 'false', 'null', 'nil', 'none', 'undefined', 'yes', 'no', 'on', 'off', 'required', 'optional', 'empty',
  'redacted', 'masked', 'hidden', 'secret', 'password', 'token', 'string', 'example', 'bearer', 'basic', 'str', 'bool',
  'int', 'bytes', 'text', 'varchar', 'object', 'any', 'unknown', 'env', 'file', 'value', 'default', 'not set', 'unset',
]);

export function isNotASecret(value: string): boolean {
  const v = value.trim();
  if (v.length === 0) return true;
  if (NOT_SECRET_WORDS.has(v.toLowerCase())) return true;
  // References and templates: $VAR, ${VAR}, %VAR%, {{ x }}, <your-token>, env(...), process.env.X.
  if (/^(?:\$|%|\{\{|<|\(|\[)/.test(v) || /^(?:process\.env|os\.environ|os\.getenv|env\(|getenv|secrets\.|vault:|ENV\[)/i.test(v)) return true;
  // Masks and fillers: ****, xxxx, ....
  if (/^([*xX.#•_-])\1*$/.test(v)) return true;
  return false;
}

export function scanAssignments(ctx: ScanContext, out: Candidate[]): void {
  const lower = ctx.lower;
  if (!KEYWORDS.some((keyword) => lower.includes(keyword))) return;
  if (!/[:=]/.test(ctx.text)) return;
  const text = ctx.text;
  ASSIGNMENT.lastIndex = 0;
  for (let m = ASSIGNMENT.exec(text); m; m = ASSIGNMENT.exec(text)) {
    const group = m[2] !== undefined ? 2 : m[3] !== undefined ? 3 : 4;
    const span: [number, number] = [...m.indices![group]!];
    let value = m[group]!;
    const quoted = group !== 4;
    // A full stop after an unquoted value ends the sentence, not the value.
    if (!quoted && value.endsWith('.') && (span[1] === text.length || /\s/.test(text[span[1]]!))) {
      value = value.slice(0, -1);
      span[1]--;
    }
    // Unquoted values need some weight: a number or a word from prose is not a password.
    if (isNotASecret(value)) continue;
    if (!quoted && (value.length < 6 || /^\d+$/.test(value))) continue;
    if (quoted && value.length < 4) continue;
    // "password: this is the reset link" (prose after a colon) is not an assignment.
    if (quoted === false && /:\s/.test(m[0]) && /^[a-z]+$/.test(value) && /^[ \t]+[a-z]+ [a-z]/.test(text.slice(span[1], span[1] + 24))) continue;
    out.push({ type: 'secret', start: span[0], end: span[1], priority: PRIORITY.secret - 1, rule: 'assignment' });
  }
}
