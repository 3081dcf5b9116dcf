// Resolves secret references from config. The value is returned to the connector that
// injects it and is never printed: errors name the reference, not its content.
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { SecretRef } from '../config/schema.js';

export class SecretError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretError';
  }
}

export interface SecretContext {
  /** Relative `file` references are resolved against this directory (the config file's). */
  baseDir: string;
  /** Where the reference sits in config, for error messages (e.g. `connections.db.password`). */
  label: string;
  env?: NodeJS.ProcessEnv;
}

export function resolveSecret(ref: SecretRef, context: SecretContext): string {
  if ('env' in ref) {
    const value = (context.env ?? process.env)[ref.env];
    if (value === undefined || value === '') {
      throw new SecretError(`${context.label}: environment variable ${ref.env} is not set`);
    }
    return value;
  }
  if ('file' in ref) {
    const path = isAbsolute(ref.file) ? ref.file : resolve(context.baseDir, ref.file);
    let text: string;
    try {
      statSync(path);
      text = readFileSync(path, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      throw new SecretError(`${context.label}: cannot read secret file ${path} (${code})`);
    }
    // Files written by `echo` end with a newline that is not part of the secret.
    return text.replace(/\r?\n$/, '');
  }
  return ref.value;
}

/** Paths of inline secrets in a config object, for the "development only" warning. */
export function isInlineSecret(ref: SecretRef): boolean {
  return 'value' in ref;
}
