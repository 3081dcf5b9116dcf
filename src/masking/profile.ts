// A masking profile compiled from config: which columns are replaced whole (by name), which
// are scanned by content, and how each type is replaced. `forScope` binds it to a caller
// (session or agent) so that placeholders are stable where the profile says.
import type { z } from 'zod';
import type { maskingProfileSchema } from '../config/schema.js';
import { columnType, globMatcher } from './column-rules.js';
import { expandDetectors, legacyPartial, MaskingEngine, REDACTED, type ScanResult } from './engine.js';
import { Placeholders } from './placeholder.js';
import type { MaskScope, MaskTextResult, PlaceholderScope, PlaceholderSink, Replacement } from './types.js';

/** Counts of one result's masking (values replaced, findings per type, masker failures). */
export interface Tally {
  values: number;
  types: Record<string, number>;
  errors: number;
  /** The first distinct values masked (at most MAX_NOTED), for keyed digests in the audit record; never shown. */
  noted: Set<string>;
  /** More distinct values were masked than `noted` holds. */
  more: boolean;
}

/** Distinct masked values one result keeps for the audit record's digests. */
export const MAX_NOTED = 100;

export function newTally(): Tally {
  return { values: 0, types: {}, errors: 0, noted: new Set(), more: false };
}

/** Longer masked values are not kept for digests (a result could otherwise pin huge cells in memory). */
export const MAX_NOTED_LENGTH = 1024;

/** Notes a value that was masked (the audit record gets its keyed digest, not the value). */
export function noteMasked(tally: Tally, value: string): void {
  if (value.length > MAX_NOTED_LENGTH) tally.more = true;
  else if (tally.noted.size < MAX_NOTED) tally.noted.add(value);
  else if (!tally.more && !tally.noted.has(value)) tally.more = true;
}

export interface ColumnMasker {
  /** `whole`: the column's name says what it holds, so every value is replaced; `scan`: text is searched. */
  readonly kind: 'whole' | 'scan';
  /** Type of a whole-value column (undefined for a plain `columns` entry). */
  readonly type?: string;
  /** Masks a text value; null means NULL. Never throws: a failure drops the value. */
  maskText(text: string, tally: Tally): string | null;
  /** Masks a decoded value (strings, numbers, JSON objects); never throws. */
  maskValue(value: unknown, tally: Tally): unknown;
}

export interface CompiledMaskingProfile {
  readonly name: string;
  /** Whether values are recognised by content (text columns and output must be scanned). */
  readonly scansContent: boolean;
  /** Whether a column's values are replaced whole because of its name. */
  matches(column: string): boolean;
  /** The whole-value replacement of a plain `columns` entry (kept for existing callers). */
  mask(value: unknown): unknown;
  /** How one column's values are masked; undefined when they pass untouched. */
  column(name: string): ColumnMasker | undefined;
  /** Masks free text (output, messages). Throws only on a bug; callers fail closed. */
  maskText(text: string): MaskTextResult;
  /** Findings and their replacements, for maskers that splice text themselves (streams). */
  scanText(text: string): ScanResult;
  /** The profile with placeholders scoped to this caller. */
  forScope(scope: MaskScope): CompiledMaskingProfile;
}

export interface CompileOptions {
  /** HMAC key for placeholders and hashes; a random per-process key without one. */
  key?: Buffer | string;
  /** Receives each placeholder handed out with its value (the vault). */
  sink?: PlaceholderSink;
}

interface ColumnPlan {
  kind: 'whole' | 'scan';
  type?: string;
  how: Replacement;
}

interface Shared {
  name: string;
  engine: MaskingEngine;
  plans: Map<string, ColumnPlan | null>;
  plan(column: string): ColumnPlan | null;
  legacy: (value: string) => string | null;
  scopeKind: PlaceholderScope;
  sink?: PlaceholderSink;
}

/** A profile as written in config (defaults not yet applied) or as parsed. */
export type MaskingProfileInput = z.input<typeof maskingProfileSchema>;

export function compileMaskingProfile(name: string, config: MaskingProfileInput, options: CompileOptions = {}): CompiledMaskingProfile {
  const types = expandDetectors(config.detectors ?? []);
  const custom = config.custom ?? [];
  const engine = new MaskingEngine({
    types,
    region: config.region ?? 'US',
    custom: custom.filter((rule) => rule.regex !== undefined || rule.dictionary !== undefined),
    replacements: {
      ...Object.fromEntries(custom.filter((rule) => rule.replacement).map((rule) => [rule.type, rule.replacement!])),
      ...(config.replace ?? {}),
    },
    fallback: 'placeholder',
    placeholders: new Placeholders(options.key),
  });
  const legacyColumns = globMatcher(config.columns ?? []);
  const customColumns = custom.filter((rule) => rule.columns).map((rule) => ({ type: rule.type, matches: globMatcher(rule.columns!) }));
  const legacyHow: Replacement = config.replacement ?? 'redact';
  const plans = new Map<string, ColumnPlan | null>();
  const shared: Shared = {
    name,
    engine,
    plans,
    plan(column) {
      let plan = plans.get(column);
      if (plan !== undefined) return plan;
      const customRule = customColumns.find((rule) => rule.matches(column));
      const builtin = customRule ? undefined : columnType(column, types);
      if (customRule) plan = { kind: 'whole', type: customRule.type, how: engine.replacementFor(customRule.type) };
      else if (legacyColumns(column)) plan = { kind: 'whole', how: legacyHow };
      else if (builtin) plan = { kind: 'whole', type: builtin, how: engine.replacementFor(builtin) };
      else plan = engine.scansContent ? { kind: 'scan', how: 'placeholder' } : null;
      if (plans.size < 10_000) plans.set(column, plan);
      return plan;
    },
    legacy: (value) => (legacyHow === 'partial' ? legacyPartial(value) : legacyHow === 'redact' ? REDACTED : engine.replace('value', value, 'global', options.sink, legacyHow)),
    scopeKind: config.scope ?? 'session',
    ...(options.sink ? { sink: options.sink } : {}),
  };
  return new ScopedProfile(shared, 'global');
}

/** The scope string placeholders are derived with. */
export function scopeKey(kind: PlaceholderScope, scope: MaskScope): string {
  if (kind === 'global') return 'global';
  if (kind === 'agent') return scope.principal !== undefined ? `agent:${scope.principal}` : scope.session !== undefined ? `session:${scope.session}` : 'global';
  return scope.session !== undefined ? `session:${scope.session}` : scope.principal !== undefined ? `agent:${scope.principal}` : 'global';
}

class ScopedProfile implements CompiledMaskingProfile {
  private readonly maskers = new Map<string, ColumnMasker | null>();

  constructor(
    private readonly shared: Shared,
    private readonly scope: string,
  ) {}

  get name(): string {
    return this.shared.name;
  }

  get scansContent(): boolean {
    return this.shared.engine.scansContent;
  }

  matches(column: string): boolean {
    return this.shared.plan(column)?.kind === 'whole';
  }

  mask(value: unknown): unknown {
    if (value === null || value === undefined) return value;
    return this.shared.legacy(stringify(value));
  }

  forScope(scope: MaskScope): CompiledMaskingProfile {
    return new ScopedProfile(this.shared, scopeKey(this.shared.scopeKind, scope));
  }

  maskText(text: string): MaskTextResult {
    return this.shared.engine.maskText(text, this.scope, this.shared.sink);
  }

  scanText(text: string): ScanResult {
    return this.shared.engine.scan(text, this.scope, this.shared.sink);
  }

  column(name: string): ColumnMasker | undefined {
    let masker = this.maskers.get(name);
    if (masker === undefined) {
      const plan = this.shared.plan(name);
      masker = plan ? this.buildMasker(plan) : null;
      if (this.maskers.size < 10_000) this.maskers.set(name, masker);
    }
    return masker ?? undefined;
  }

  private buildMasker(plan: ColumnPlan): ColumnMasker {
    const { engine, sink } = this.shared;
    const scope = this.scope;
    if (plan.kind === 'whole') {
      const type = plan.type;
      const replaceText = type === undefined ? (text: string) => this.shared.legacy(text) : engine.replacer(type, scope, sink, plan.how);
      const maskText = (text: string, tally: Tally): string | null => {
        try {
          const out = replaceText(text);
          tally.values++;
          noteMasked(tally, text);
          if (type !== undefined) tally.types[type] = (tally.types[type] ?? 0) + 1;
          return out;
        } catch {
          tally.errors++;
          return null;
        }
      };
      return {
        kind: 'whole',
        ...(type !== undefined ? { type } : {}),
        maskText,
        maskValue: (value, tally) => (value === null || value === undefined ? value : maskText(stringify(value), tally)),
      };
    }
    const maskText = (text: string, tally: Tally): string | null => {
      try {
        const result = engine.maskText(text, scope, sink);
        if (result.findings.length === 0) return text;
        tally.values++;
        for (const finding of result.findings) {
          tally.types[finding.type] = (tally.types[finding.type] ?? 0) + 1;
          noteMasked(tally, text.slice(finding.start, finding.end));
        }
        return result.text;
      } catch {
        tally.errors++;
        return null;
      }
    };
    const maskValue = (value: unknown, tally: Tally): unknown => {
      if (typeof value === 'string') return maskText(value, tally);
      if (typeof value === 'number' || typeof value === 'bigint') {
        const text = String(value);
        if (text.length < 7) return value;
        const out = maskText(text, tally);
        return out === text ? value : out;
      }
      if (value !== null && typeof value === 'object' && !(value instanceof Date) && !Buffer.isBuffer(value) && !ArrayBuffer.isView(value)) {
        try {
          return maskDeep(value, (text) => maskText(text, tally), 0);
        } catch {
          tally.errors++;
          return null;
        }
      }
      return value;
    };
    return { kind: 'scan', maskText, maskValue };
  }
}

/** Masks the strings inside a JSON-like value (arrays, plain objects), keys included. */
function maskDeep(value: unknown, mask: (text: string) => string | null, depth: number): unknown {
  if (depth > 64) throw new Error('value nested too deeply to mask');
  if (typeof value === 'string') return mask(value);
  if (Array.isArray(value)) return value.map((item) => maskDeep(item, mask, depth + 1));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[mask(key) ?? ''] = maskDeep(item, mask, depth + 1);
    return out;
  }
  return value;
}

function stringify(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    try {
      return JSON.stringify(value) ?? String(value);
    } catch {
      return String(value);
    }
  }
  return String(value);
}
