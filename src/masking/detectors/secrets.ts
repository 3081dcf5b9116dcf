// Secrets: the token-format rules kept as data in ../rules/secrets.json (vetted built-ins,
// run as V8 regexes at their keywords) and password/secret/token assignments in config, env
// and JSON syntax (code, because the value needs judging). One keyword pass serves both.
import { readFileSync } from 'node:fs';
import type { Candidate } from '../types.js';
import { matchAt, startsAround, type KeywordScanner } from './anchors.js';
import { PRIORITY, type ScanContext } from './context.js';

export interface SecretRuleData {
  id: string;
  description: string;
  regex: string;
  flags?: string;
  keywords: string[];
  /**
   * Where a match can start relative to an occurrence of a keyword: [from, to] characters
   * after it (negative: before). Without it the rule runs over the whole text when a
   * keyword occurs.
   */
  anchor?: [number, number];
  /** Capture group that is the secret; 0 for the whole match. */
  group: number;
  examples: string[];
}

interface SecretRule {
  id: string;
  /** Global, for whole-text scans. */
  regex: RegExp;
  /** Sticky, for anchored scans. */
  sticky: RegExp;
  keywords: string[];
  anchor: [number, number] | undefined;
  group: number;
}

export function loadSecretRuleData(): SecretRuleData[] {
  const text = readFileSync(new URL('../rules/secrets.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { rules: SecretRuleData[] }).rules;
}

/** Rules scanned by hand (same semantics as their regex, which the tests compare). */
const BY_HAND = new Set(['url-password']);

/** Words one of which every assignment key contains (password, api_key, clientSecret ...). */
const ASSIGNMENT_KEYWORDS = ['pass', 'pwd', 'secret', 'token', 'key', 'credential'];

let compiled: SecretRule[] | undefined;
function rules(): SecretRule[] {
  return (compiled ??= loadSecretRuleData()
    .filter((rule) => !BY_HAND.has(rule.id))
    .map((rule) => ({
      id: rule.id,
      // `d`: indices of the secret's group; the regexes are vetted (RE2-compatible, linear).
      regex: new RegExp(rule.regex, `gd${rule.flags ?? ''}`),
      sticky: new RegExp(rule.regex, `yd${rule.flags ?? ''}`),
      keywords: rule.keywords,
      anchor: rule.anchor,
      group: rule.group,
    })));
}

/** Rule indexes by keyword; rules without keywords under "". */
let byKeyword: Map<string, number[]> | undefined;
function rulesOf(keyword: string): readonly number[] {
  if (!byKeyword) {
    const map = new Map<string, number[]>([['', []]]);
    rules().forEach((rule, i) => (rule.keywords.length > 0 ? rule.keywords : ['']).forEach((k) => map.set(k, [...(map.get(k) ?? []), i])));
    byKeyword = map;
  }
  return byKeyword.get(keyword) ?? [];
}

/** Whether a keyword scan covers every rule keyword (the engine's does; otherwise ask per rule). */
const covering = new WeakMap<KeywordScanner, boolean>();
function covers(scanner: KeywordScanner): boolean {
  let all = covering.get(scanner);
  if (all === undefined) {
    all = rules().every((rule) => rule.keywords.every((keyword) => scanner.id(keyword) !== undefined));
    covering.set(scanner, all);
  }
  return all;
}

/** The rules (in rule order) that have a keyword in the text. */
function rulesPresent(ctx: ScanContext): readonly SecretRule[] {
  const all = rules();
  const present = ctx.keywords && covers(ctx.keywords) ? ctx.presentKeywords() : undefined;
  if (!present) return all;
  const picked = new Set<number>(rulesOf(''));
  for (const keyword of present) for (const i of rulesOf(keyword)) picked.add(i);
  return [...picked].sort((a, b) => a - b).map((i) => all[i]!);
}

/** The words the secret detectors are anchored at (the engine scans for them with the others). */
export function secretKeywords(): string[] {
  return [...rules().flatMap((rule) => rule.keywords), ...ASSIGNMENT_KEYWORDS];
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

/** The token rules, each tried only where its keywords allow (see anchors.ts). */
export function scanSecretRules(ctx: ScanContext, out: Candidate[]): void {
  if (!ctx.aligned) return scanSecretRulesPlain(ctx, out);
  const text = ctx.text;
  if (text.includes('://')) scanUrlPasswords(ctx, out);
  for (const rule of rulesPresent(ctx)) {
    const lists = rule.keywords.map((keyword) => ctx.hits(keyword)).filter((h) => h.length > 0);
    if (lists.length === 0 && rule.keywords.length > 0) continue;
    const anchor = rule.anchor;
    if (!anchor || rule.keywords.length === 0) {
      scanWhole(rule, text, out);
      continue;
    }
    const starts = startsAround(lists.map((h) => [h, anchor[0], anchor[1]] as const));
    matchAt(rule.sticky, text, starts, (m) => visitRule(rule, text, m, out));
  }
}

/** The same rules, each run over the whole text when one of its keywords occurs (the reference path). */
export function scanSecretRulesPlain(ctx: ScanContext, out: Candidate[]): void {
  const lower = ctx.lower;
  if (lower.includes('://')) scanUrlPasswords(ctx, out);
  for (const rule of rules()) {
    if (rule.keywords.length > 0 && !rule.keywords.some((keyword) => lower.includes(keyword))) continue;
    scanWhole(rule, ctx.text, out);
  }
}

function scanWhole(rule: SecretRule, text: string, out: Candidate[]): void {
  const regex = rule.regex;
  regex.lastIndex = 0;
  for (let m = regex.exec(text); m; m = regex.exec(text)) regex.lastIndex = visitRule(rule, text, m, out);
}

/** Records a rule's match; returns where scanning continues. */
function visitRule(rule: SecretRule, text: string, m: RegExpExecArray, out: Candidate[]): number {
  const span = m.indices?.[rule.group];
  if (span && span[1] > span[0] && !isNotASecret(text.slice(span[0], span[1]))) {
    out.push({ type: 'secret', start: span[0], end: span[1], priority: PRIORITY.secret, rule: rule.id });
  }
  const end = m.index + m[0].length;
  // Trailing-context groups consume a character; step back so adjacent secrets are seen.
  if (m[0].length === 0) return end + 1;
  if (span && span[1] < end) return span[1];
  return end;
}

// Keys whose value is a credential: the name ends with one of these words
// (DB_PASSWORD, clientSecret, github_token, api-key, "private_key"). At most 64 characters
// before the word: unbounded, a long run of "a_a_a_..." made every attempt scan to its end
// (quadratic time on output an agent can shape).
const ASSIGNMENT = new RegExp(
  String.raw`(?<![A-Za-z0-9])([A-Za-z0-9_.-]{0,64}?(?:password|passwd|pwd|passphrase|(?<![A-Za-z])pass|secret|token|api[_-]?key|apikey|access[_-]?key|secret[_-]?key|private[_-]?key|client[_-]?secret|credentials?|auth[_-]?key|session[_-]?key|signing[_-]?key|master[_-]?key|encryption[_-]?key)(?:[_-]?\d+)?)` +
    String.raw`(?:"|')?[ \t]*(?::=|=>|=|:)[ \t]*(?:"([^"\r\n]{1,512})"|'([^'\r\n]{1,512})'|([^\s"'\x60,;)}\]]{1,512}))`,
  'gdi',
);
const ASSIGNMENT_STICKY = new RegExp(ASSIGNMENT.source, 'ydi');

/** Values that name, describe or reference a secret rather than being one. */
const NOT_SECRET_WORDS = new Set([
  'true', 'false', 'null', 'nil', 'none', 'undefined', 'yes', 'no', 'on', 'off', 'required', 'optional', 'empty',
  'redacted', 'masked', 'hidden', 'secret', 'password', 'token', 'string', 'example', 'bearer', 'basic', 'str', 'bool',
  'int', 'bytes', 'text', 'varchar', 'object', 'any', 'unknown', 'env', 'file', 'value', 'default', 'not set', 'unset',
  // States a config or URL reports about a credential ("?token=expired").
  'expired', 'invalid', 'missing', 'revoked', 'disabled', 'enabled', 'pending', 'present', 'absent', 'provided', 'rotated', 'changed',
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

/** Assignments, tried only from the start of each key that contains a keyword. */
export function scanAssignments(ctx: ScanContext, out: Candidate[]): void {
  if (!ctx.aligned) return scanAssignmentsPlain(ctx, out);
  const text = ctx.text;
  if (!/[:=]/.test(text)) return;
  const lists = ASSIGNMENT_KEYWORDS.map((keyword) => ctx.hits(keyword)).filter((h) => h.length > 0);
  if (lists.length === 0) return;
  const keywordAt = startsAround(lists.map((h) => [h, 0, 0] as const));
  // A key is a run of [A-Za-z0-9_.-] before its keyword; the regex may start at the run's
  // beginning or after any "_", "." or "-" in it (its lookbehind wants no letter or digit),
  // at most 64 characters before the key word, which holds its keyword at most 11 characters
  // in ("encryption_key").
  const starts: number[] = [];
  let floor = 0;
  for (const at of keywordAt) {
    let s = at;
    while (s > floor && s > at - 80 && KEY_CHAR[text.charCodeAt(s - 1)] === 1) s--;
    for (let q = s; q <= at; q++) if (q === 0 || ALNUM[text.charCodeAt(q - 1)] !== 1) starts.push(q);
    floor = at + 1;
  }
  matchAt(ASSIGNMENT_STICKY, text, starts, (m) => {
    visitAssignment(text, m, out);
    return m.index + m[0].length;
  });
}

/** The reference path: the assignment regex over the whole text. */
export function scanAssignmentsPlain(ctx: ScanContext, out: Candidate[]): void {
  const lower = ctx.lower;
  if (!ASSIGNMENT_KEYWORDS.some((keyword) => lower.includes(keyword))) return;
  if (!/[:=]/.test(ctx.text)) return;
  const text = ctx.text;
  ASSIGNMENT.lastIndex = 0;
  for (let m = ASSIGNMENT.exec(text); m; m = ASSIGNMENT.exec(text)) visitAssignment(text, m, out);
}

const KEY_CHAR = new Uint8Array(65536);
const ALNUM = new Uint8Array(65536);
for (const c of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789') {
  KEY_CHAR[c.charCodeAt(0)] = 1;
  ALNUM[c.charCodeAt(0)] = 1;
}
for (const c of '_.-') KEY_CHAR[c.charCodeAt(0)] = 1;

function visitAssignment(text: string, m: RegExpExecArray, out: Candidate[]): void {
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
  if (isNotASecret(value)) return;
  if (!quoted && (value.length < 6 || /^\d+$/.test(value))) return;
  if (quoted && value.length < 4) return;
  // "password: this is the reset link" (prose after a colon) is not an assignment.
  if (quoted === false && /:\s/.test(m[0]) && /^[a-z]+$/.test(value) && /^[ \t]+[a-z]+ [a-z]/.test(text.slice(span[1], span[1] + 24))) return;
  out.push({ type: 'secret', start: span[0], end: span[1], priority: PRIORITY.secret - 1, rule: 'assignment' });
}
