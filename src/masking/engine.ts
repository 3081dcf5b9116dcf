// The masking engine: runs a profile's detectors over a text, resolves overlapping
// candidates, and replaces each finding as the profile says (placeholder, partial, hash,
// drop, redact). Built once per profile; scoped per caller with `withScope`.
import { scanCard } from './detectors/card.js';
import { ScanContext, type Detector } from './detectors/context.js';
import { compileCustomRule, type CustomTextRule } from './detectors/custom.js';
import { scanEmail } from './detectors/email.js';
import { scanIban } from './detectors/iban.js';
import { scanIpv4, scanIpv6 } from './detectors/ip.js';
import { KeywordScanner } from './detectors/anchors.js';
import { LABEL_KEYWORDS, scanAddress, scanDateOfBirth, scanName } from './detectors/labelled.js';
import { scanPhone } from './detectors/phone.js';
import { scanAssignments, scanSecretRules, secretKeywords } from './detectors/secrets.js';
import { scanSsn } from './detectors/ssn.js';
import { placeholderSpans, type Placeholders } from './placeholder.js';
import type { Candidate, Finding, MaskTextResult, PlaceholderSink, Replacement } from './types.js';

const BUILTIN_DETECTORS: Record<string, Detector[]> = {
  email: [scanEmail],
  phone: [scanPhone],
  card: [scanCard],
  iban: [scanIban],
  ssn: [scanSsn],
  ipv4: [scanIpv4],
  ipv6: [scanIpv6],
  dob: [scanDateOfBirth],
  name: [scanName],
  address: [scanAddress],
  secret: [scanSecretRules, scanAssignments],
};

/** Lower case of every placeholder's start (`hits` in the lower-case text: a superset). */
const PLACEHOLDER_KEYWORD = 'sluice_';

const DETECTOR_ORDER = ['secret', 'card', 'iban', 'ssn', 'email', 'ipv4', 'ipv6', 'dob', 'name', 'address', 'phone'];

export const PII_TYPES = ['email', 'phone', 'card', 'iban', 'ssn', 'dob', 'name', 'address'] as const;

/** Detector names from config (`secrets`, `pii`, `all` are groups) as the set of types they enable. */
export function expandDetectors(names: readonly string[]): Set<string> {
  const types = new Set<string>();
  for (const name of names) {
    if (name === 'pii' || name === 'all') PII_TYPES.forEach((type) => types.add(type));
    if (name === 'secrets' || name === 'all') types.add('secret');
    else if (name !== 'pii') types.add(name);
  }
  return types;
}

export interface EngineOptions {
  /** Built-in types recognised by content. */
  types: ReadonlySet<string>;
  region: string;
  /** Custom text rules (regex, dictionary). */
  custom: readonly CustomTextRule[];
  /** Replacement per type; types not listed get `fallback`. */
  replacements: Readonly<Record<string, Replacement>>;
  fallback: Replacement;
  placeholders: Placeholders;
}

export class MaskingEngine {
  private readonly detectors: Detector[] = [];
  /** The keywords of the enabled detectors, found in one pass over a text. */
  private readonly keywords: KeywordScanner | undefined;

  constructor(readonly options: EngineOptions) {
    // In a fixed order: the phone detector skips what the checksummed ones already found.
    for (const type of DETECTOR_ORDER) if (options.types.has(type)) this.detectors.push(...BUILTIN_DETECTORS[type]!);
    options.custom.forEach((rule, i) => this.detectors.push(...compileCustomRule(rule, i)));
    const keywords = [
      ...(options.types.has('secret') ? secretKeywords() : []),
      ...(['dob', 'name', 'address'].some((type) => options.types.has(type)) ? LABEL_KEYWORDS : []),
    ];
    // With a keyword scan anyway, it also tells whether the text holds placeholders.
    this.keywords = keywords.length > 0 ? new KeywordScanner([...keywords, PLACEHOLDER_KEYWORD]) : undefined;
  }

  /** Whether any detector looks at content. */
  get scansContent(): boolean {
    return this.detectors.length > 0;
  }

  /** Non-overlapping candidates in text order. Placeholders already in the text are left alone. */
  detect(text: string): Candidate[] {
    if (text.length === 0 || this.detectors.length === 0) return [];
    const ctx = new ScanContext(text, this.options.region, this.keywords);
    const found: Candidate[] = [];
    for (const detector of this.detectors) detector(ctx, found);
    if (found.length === 0) return found;
    const existing = this.keywords && ctx.hits(PLACEHOLDER_KEYWORD).length === 0 ? [] : placeholderSpans(text);
    const candidates = existing.length === 0 ? found : found.filter((c) => !existing.some(([s, e]) => c.start < e && s < c.end));
    return resolveOverlaps(candidates);
  }

  replacementFor(type: string): Replacement {
    return this.options.replacements[type] ?? this.options.fallback;
  }

  /**
   * The replacement text for one value of a type; null to drop it (a whole value becomes
   * NULL; inside a text it is removed).
   */
  replace(type: string, value: string, scope: string, sink?: PlaceholderSink, how: Replacement = this.replacementFor(type)): string | null {
    switch (how) {
      case 'placeholder': {
        const placeholder = this.options.placeholders.placeholder(scope, type, value);
        sink?.record({ placeholder, type, value, scope });
        return placeholder;
      }
      case 'partial':
        return partial(type, value);
      case 'hash':
        return this.options.placeholders.hash(type, value);
      case 'drop':
        return null;
      case 'redact':
        return REDACTED;
    }
  }

  /**
   * `replace` for one type and scope, bound once (a column's values): the placeholder minter
   * is looked up here, not per value.
   */
  replacer(type: string, scope: string, sink: PlaceholderSink | undefined, how: Replacement = this.replacementFor(type)): (value: string) => string | null {
    if (how === 'placeholder') {
      const minter = this.options.placeholders.minter(scope, type);
      if (sink === undefined) return (value) => minter.mint(value);
      return (value) => {
        const placeholder = minter.mint(value);
        sink.record({ placeholder, type, value, scope });
        return placeholder;
      };
    }
    if (how === 'hash') {
      const hasher = this.options.placeholders.hasher(type);
      return (value) => hasher.mint(value);
    }
    return (value) => this.replace(type, value, scope, sink, how);
  }

  /** Findings with their replacement texts (null: removed), for maskers that splice themselves. */
  scan(text: string, scope: string, sink?: PlaceholderSink): ScanResult {
    const candidates = this.detect(text);
    const findings: Finding[] = [];
    const replacements: (string | null)[] = [];
    for (const c of candidates) {
      const how = this.replacementFor(c.type);
      const replacement = this.replace(c.type, text.slice(c.start, c.end), scope, sink, how);
      const finding: Finding = { type: c.type, start: c.start, end: c.end };
      if (how === 'placeholder' && replacement) finding.placeholder = replacement;
      if (c.rule) finding.rule = c.rule;
      findings.push(finding);
      replacements.push(replacement);
    }
    return { findings, replacements };
  }

  maskText(text: string, scope: string, sink?: PlaceholderSink): MaskTextResult {
    const { findings, replacements } = this.scan(text, scope, sink);
    if (findings.length === 0) return { text, findings };
    return { text: splice(text, findings, replacements, 0, text.length), findings };
  }
}

export interface ScanResult {
  findings: Finding[];
  replacements: (string | null)[];
}

/** text[from, to) with the findings inside it replaced. */
export function splice(text: string, findings: readonly Finding[], replacements: readonly (string | null)[], from: number, to: number): string {
  let out = '';
  let at = from;
  for (let i = 0; i < findings.length; i++) {
    const f = findings[i]!;
    if (f.start < from || f.end > to) continue;
    out += text.slice(at, f.start) + (replacements[i] ?? '');
    at = f.end;
  }
  return out + text.slice(at, to);
}

export const REDACTED = '[masked]';

/**
 * Candidates sorted by position, overlaps resolved: the higher priority wins, then the
 * longer span (a card inside a secret assignment is part of the secret).
 */
export function resolveOverlaps(candidates: Candidate[]): Candidate[] {
  candidates.sort((a, b) => a.start - b.start || b.end - a.end);
  const kept: Candidate[] = [];
  for (const c of candidates) {
    let wins = true;
    while (kept.length > 0) {
      const last = kept[kept.length - 1]!;
      if (last.end <= c.start) break;
      if (c.priority > last.priority || (c.priority === last.priority && c.end - c.start > last.end - last.start)) {
        kept.pop();
        continue;
      }
      wins = false;
      break;
    }
    if (wins) kept.push(c);
  }
  return kept;
}

/** Partial masks that keep what is needed to tell values apart without identifying anyone. */
export function partial(type: string, value: string): string {
  switch (type) {
    case 'email': {
      const at = value.lastIndexOf('@');
      if (at > 0) return `${value[0]}***${value.slice(at)}`;
      break;
    }
    case 'card': {
      const digits = value.replace(/\D/g, '');
      if (digits.length >= 12) return `**** ${digits.slice(-4)}`;
      break;
    }
    case 'phone': {
      const digits = value.replace(/\D/g, '');
      if (digits.length >= 7) return `**** ${digits.slice(-4)}`;
      break;
    }
    case 'iban': {
      const compact = value.replace(/\s/g, '');
      if (compact.length >= 15) return `${compact.slice(0, 2)}** **** ${compact.slice(-4)}`;
      break;
    }
    case 'ssn': {
      const digits = value.replace(/\D/g, '');
      if (digits.length === 9) return `***-**-${digits.slice(-4)}`;
      break;
    }
    case 'secret':
      return REDACTED;
  }
  return legacyPartial(value);
}

/** The partial mask of plain column profiles: the last four characters of a long enough value. */
export function legacyPartial(value: string): string {
  return value.length >= 8 ? `****${value.slice(-4)}` : REDACTED;
}
