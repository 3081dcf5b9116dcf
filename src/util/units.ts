// Human-friendly durations ("30s", "15m", "30d") and sizes ("1MiB") used in config and CLI.

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** Parses `500ms`, `30s`, `15m`, `2h`, `30d` into milliseconds; throws on anything else. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a duration; use a number with ms, s, m, h or d (e.g. 30s, 15m, 30d)`);
  const value = Number(match[1]) * DURATION_UNITS[match[2]!]!;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`duration "${text}" must be positive`);
  return Math.round(value);
}

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1000,
  kib: 1024,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

/** Parses `512`, `64KiB`, `1MiB`, `10MB` into bytes; throws on anything else. */
export function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  const unit = (match?.[2] || 'b').toLowerCase();
  const factor = SIZE_UNITS[unit];
  if (!match || factor === undefined) throw new Error(`"${text}" is not a size; use bytes or KiB, MiB, GiB (e.g. 1MiB)`);
  const value = Math.round(Number(match[1]) * factor);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`size "${text}" must be positive`);
  return value;
}
