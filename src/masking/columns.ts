// Masking of tabular results and command output in the gate. Column rules come first (a
// column whose name says what it holds is replaced whole), then, when the profile has
// content detectors, string values, stdout, stderr and error messages are scanned. Fails
// closed: a value the masker cannot handle is dropped, never passed through.
import type { ExecutionResult } from '../connectors/connector.js';
import { MAX_NOTED, newTally, noteMasked, type Tally } from './profile.js';
import type { CompiledMaskingProfile } from './profile.js';
import { errorMessageUnderMasking } from './error-text.js';
import type { MaskScope } from './types.js';

export { compileMaskingProfile, newTally, type CompiledMaskingProfile, type ColumnMasker, type CompileOptions, type MaskingProfileInput, type Tally } from './profile.js';

export interface MaskReport {
  /** Names of columns whose values were masked. */
  columns: string[];
  /** How many values were replaced (cells, and texts with findings). */
  values: number;
  /** Findings and whole-value replacements per type (no values). Absent for plain column profiles. */
  types?: Record<string, number>;
  /** Values dropped because the masker failed on them. */
  errors?: number;
}

/** Text that stands in for output the masker failed on. */
export const WITHHELD = '[withheld: masking failed]';

/** Returns a copy of the result with sensitive values masked, and what was masked. */
export function maskResult(result: ExecutionResult, profile: CompiledMaskingProfile, scope?: MaskScope): { result: ExecutionResult; report: MaskReport } {
  const scoped = scope ? profile.forScope(scope) : profile;
  const tally = newTally();
  const columns: string[] = [];
  let out = result;
  if (result.columns && result.rows) {
    const maskers = result.columns.map((column) => scoped.column(column.name));
    if (maskers.some((masker) => masker !== undefined)) {
      const changed = new Set<number>();
      const rows = result.rows.map((row) => {
        let copy: unknown[] | undefined;
        for (let i = 0; i < maskers.length; i++) {
          const masker = maskers[i];
          const value = row[i];
          if (!masker || value === null || value === undefined) continue;
          const before = tally.values + tally.errors;
          const masked = masker.maskValue(value, tally);
          if (tally.values + tally.errors === before && masker.kind === 'scan') continue;
          (copy ??= [...row])[i] = masked;
          changed.add(i);
        }
        return copy ?? row;
      });
      maskers.forEach((masker, i) => {
        if (masker?.kind === 'whole' || changed.has(i)) columns.push(result.columns![i]!.name);
      });
      out = { ...result, rows };
    }
  }
  if (out.error) out = { ...out, error: { ...out.error, message: errorMessageUnderMasking(out.error.code, out.error.message) } };
  if (scoped.scansContent) {
    const text = (value: string): string => maskOutput(scoped, value, tally);
    if (out.stdout !== undefined) out = { ...out, stdout: text(out.stdout) };
    if (out.stderr !== undefined) out = { ...out, stderr: text(out.stderr) };
    if (out.error) out = { ...out, error: { ...out.error, message: text(out.error.message) } };
  }
  return { result: out, report: reportOf(columns, tally) };
}

function maskOutput(profile: CompiledMaskingProfile, text: string, tally: Tally): string {
  try {
    const masked = profile.maskText(text);
    if (masked.findings.length > 0) {
      tally.values++;
      for (const finding of masked.findings) {
        tally.types[finding.type] = (tally.types[finding.type] ?? 0) + 1;
        noteMasked(tally, text.slice(finding.start, finding.end));
      }
    }
    return masked.text;
  } catch {
    tally.errors++;
    return WITHHELD;
  }
}

/** The audit report of a tally: type counts only when typed rules fired. */
export function reportOf(columns: string[], tally: Tally): MaskReport {
  const report: MaskReport = { columns, values: tally.values };
  if (Object.keys(tally.types).length > 0) report.types = { ...tally.types };
  if (tally.errors > 0) report.errors = tally.errors;
  if (tally.noted.size > 0 || tally.more) maskedValues.set(report, { values: [...tally.noted], more: tally.more });
  return report;
}

// The values behind a report live beside it, never in it: a report is shown to callers and
// serialised, the values only ever become keyed digests in the audit record (gate.ts).
const maskedValues = new WeakMap<MaskReport, { values: string[]; more: boolean }>();

/** The distinct values a report's masking replaced (at most MAX_NOTED), and whether there were more. */
export function maskedValuesOf(report: MaskReport): { values: readonly string[]; more: boolean } | undefined {
  return maskedValues.get(report);
}

/** Adds the masked values of `add` to those of `into` (one statement reported in parts). */
export function mergeMaskedValues(into: MaskReport, add: MaskReport): void {
  const extra = maskedValues.get(add);
  if (!extra) return;
  const mine = maskedValues.get(into);
  if (!mine) return void maskedValues.set(into, { values: [...extra.values], more: extra.more });
  const set = new Set(mine.values);
  for (const v of extra.values) {
    if (set.size < MAX_NOTED) set.add(v);
    else if (!set.has(v)) mine.more = true;
  }
  mine.values = [...set];
  mine.more ||= extra.more;
}
