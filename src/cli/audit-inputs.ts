// What the `sluice audit` commands read besides the store: repeated options, files given on the
// command line (an unreadable or malformed one is a CLI error that names it) and the local
// signing key's public half.
import type { KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { signingKeyPath } from '../audit/checkpoints-config.js';
import { parsePublicKeys, readSigningPublicKey } from '../audit/signing.js';
import type { LoadedConfig } from '../config/load.js';
import { CliError } from './context.js';

/** Commander's collector for an option that may be given several times. */
export function collectRepeated(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Reads a file and parses its text; any failure becomes a CLI error naming the file. */
export function readParsedFile<T>(file: string, parse: (text: string) => T): T {
  try {
    return parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new CliError(`${file}: ${(error as Error).message}`);
  }
}

/** The public keys in the given PEM files (--public-key). */
export function readPublicKeyFiles(files: readonly string[]): KeyObject[] {
  return files.flatMap((file) => readParsedFile(file, parsePublicKeys));
}

/** A base file written by `sluice audit base`, parsed (verify checks what it says). */
export function readBaseFile(file: string): unknown {
  return readParsedFile(file, (text) => JSON.parse(text) as unknown);
}

/**
 * The local signing key's public half, when there is one this user can read; otherwise
 * undefined, and the caller falls back to the keys passed with --public-key.
 */
export function localSigningPublicKey(loaded: LoadedConfig): KeyObject[] | undefined {
  try {
    const path = signingKeyPath(loaded.config, loaded.baseDir);
    if (!path || !existsSync(path)) return undefined;
    return [readSigningPublicKey(path)];
  } catch {
    return undefined;
  }
}
