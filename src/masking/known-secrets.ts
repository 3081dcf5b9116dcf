// The credentials Sluice injects must never come back to the caller, even when a command
// prints them (`printenv`, `SHOW password`...). Every exact occurrence of a configured secret
// in a result is replaced before anything else sees it.
import type { ExecutionResult } from '../connectors/connector.js';

export const SECRET_PLACEHOLDER = '[secret]';

/** Secrets shorter than this are not searched for: they would match ordinary output. */
const MIN_SECRET_LENGTH = 4;

export function redactKnownSecrets(result: ExecutionResult, secrets: readonly string[]): { result: ExecutionResult; count: number } {
  const needles = [...new Set(secrets.filter((secret) => secret.length >= MIN_SECRET_LENGTH))].sort((a, b) => b.length - a.length);
  if (needles.length === 0) return { result, count: 0 };
  let count = 0;
  const scrub = (text: string): string => {
    let out = text;
    for (const needle of needles) {
      if (!out.includes(needle)) continue;
      const parts = out.split(needle);
      count += parts.length - 1;
      out = parts.join(SECRET_PLACEHOLDER);
    }
    return out;
  };
  const copy: ExecutionResult = { ...result };
  if (copy.stdout !== undefined) copy.stdout = scrub(copy.stdout);
  if (copy.stderr !== undefined) copy.stderr = scrub(copy.stderr);
  if (copy.error) copy.error = { ...copy.error, message: scrub(copy.error.message) };
  if (copy.rows) copy.rows = copy.rows.map((row) => row.map((cell) => (typeof cell === 'string' ? scrub(cell) : cell)));
  return { result: copy, count };
}
