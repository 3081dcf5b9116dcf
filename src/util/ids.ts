// Identifiers: random, URL-safe, and prefixed by what they name so they can be told apart
// in logs and CLI output.
import { randomBytes, randomUUID } from 'node:crypto';

export function newId(prefix: string, bytes = 9): string {
  return `${prefix}_${randomBytes(bytes).toString('base64url')}`;
}

export function newUuid(): string {
  return randomUUID();
}
