// Column-name masking for tabular results: the first, simple masker. Values in columns whose
// names match a profile are replaced before a result leaves the gate. (The full detector
// engine with reversible placeholders replaces this behind the same call.)
import type { MaskingProfileConfig } from '../config/schema.js';
import type { ExecutionResult } from '../connectors/connector.js';

export interface CompiledMaskingProfile {
  name: string;
  matches(column: string): boolean;
  mask(value: unknown): unknown;
}

export function compileMaskingProfile(name: string, config: MaskingProfileConfig): CompiledMaskingProfile {
  const patterns = config.columns.map(
    (column) => new RegExp(`^${column.split('*').map(escapeRegExp).join('.*')}$`, 'i'),
  );
  const replace = config.replacement === 'partial' ? partial : redact;
  return {
    name,
    matches: (column) => patterns.some((pattern) => pattern.test(column)),
    mask: (value) => (value === null || value === undefined ? value : replace(String(value))),
  };
}

function redact(_value: string): string {
  return '[masked]';
}

/** Keeps the last four characters when the value is long enough that they do not identify it. */
function partial(value: string): string {
  return value.length >= 8 ? `****${value.slice(-4)}` : '[masked]';
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export interface MaskReport {
  /** Names of columns whose values were masked. */
  columns: string[];
  /** How many values were replaced. */
  values: number;
}

/** Returns a copy of the result with matching columns masked, and what was masked. */
export function maskResult(result: ExecutionResult, profile: CompiledMaskingProfile): { result: ExecutionResult; report: MaskReport } {
  if (!result.columns || !result.rows) return { result, report: { columns: [], values: 0 } };
  const masked = result.columns.map((column, index) => (profile.matches(column.name) ? index : -1)).filter((i) => i >= 0);
  if (masked.length === 0) return { result, report: { columns: [], values: 0 } };
  let values = 0;
  const rows = result.rows.map((row) => {
    const copy = [...row];
    for (const index of masked) {
      if (copy[index] !== null && copy[index] !== undefined) values++;
      copy[index] = profile.mask(copy[index]);
    }
    return copy;
  });
  return {
    result: { ...result, rows },
    report: { columns: masked.map((index) => result.columns![index]!.name), values },
  };
}
