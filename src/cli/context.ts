// Shared CLI plumbing: finding the config, opening the store, printing, errors.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '../config/errors.js';
import { loadConfigFile, loadConfigText, type LoadedConfig } from '../config/load.js';
import { openConfiguredStore, resolveStoreUrl } from '../app/runtime.js';
import { parseStoreUrl } from '../store/open.js';
import type { Store } from '../store/store.js';

/** An error the CLI reports as one clear line (no stack) with an exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const DEFAULT_CONFIG = 'sluice.yaml';

/**
 * The config a command uses: --config, else $SLUICE_CONFIG, else ./sluice.yaml if present.
 * With `optional`, a missing default file yields the built-in defaults (store under
 * ./.sluice/), so store-only commands such as `keys` and `audit` work next to `sluice demo`.
 */
export function resolveConfig(explicit: string | undefined, options: { optional?: boolean } = {}): LoadedConfig {
  const chosen = explicit ?? process.env.SLUICE_CONFIG;
  if (chosen) return loadConfigFile(chosen);
  if (existsSync(DEFAULT_CONFIG)) return loadConfigFile(DEFAULT_CONFIG);
  if (options.optional) return loadConfigText('{}', '<defaults>', resolve('.'));
  throw new CliError(
    `no ${DEFAULT_CONFIG} here and no --config given; run \`sluice demo\` to try Sluice, or write a config (see docs/configuration.md)`,
  );
}

/**
 * Opens the configured store for a command. With `mustExist` (commands that only read or
 * change existing records) an embedded store that does not exist yet is an error instead of
 * a new empty store: verifying an empty ledger in the wrong folder would say "ok".
 */
export async function withStore<T>(
  configPath: string | undefined,
  fn: (store: Store, loaded: LoadedConfig) => Promise<T>,
  options: { mustExist?: boolean } = {},
): Promise<T> {
  const loaded = resolveConfig(configPath, { optional: true });
  if (options.mustExist) {
    const target = parseStoreUrl(resolveStoreUrl(loaded.config.store.url, loaded.baseDir));
    if (target.kind === 'sqlite' && !existsSync(target.path)) {
      throw new CliError(
        `no store at ${target.path}; run this where Sluice keeps its store (the folder of its sluice.yaml), or pass --config`,
        1,
      );
    }
  }
  const store = await openConfiguredStore(loaded);
  try {
    return await fn(store, loaded);
  } finally {
    await store.close();
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

export function describeError(error: unknown): { message: string; exitCode: number } {
  if (error instanceof CliError) return { message: error.message, exitCode: error.exitCode };
  if (error instanceof ConfigError) return { message: `invalid configuration:\n${error.message}`, exitCode: 2 };
  return { message: (error as Error)?.message ?? String(error), exitCode: 1 };
}

/** Parses `agent:NAME`, `human:NAME` or `service:NAME`. */
export function parsePrincipalSpec(spec: string): { kind: 'agent' | 'human' | 'service'; name: string } {
  const match = /^(agent|human|service):(.+)$/.exec(spec);
  if (!match) throw new CliError(`--as must be KIND:NAME with KIND agent, human or service (got "${spec}")`);
  return { kind: match[1] as 'agent' | 'human' | 'service', name: match[2]! };
}

export function splitList(text: string | undefined): string[] {
  return text ? text.split(',').map((item) => item.trim()).filter(Boolean) : [];
}

/** `withStore` for commands that must not create a store. */
export function withExistingStore<T>(configPath: string | undefined, fn: (store: Store, loaded: LoadedConfig) => Promise<T>): Promise<T> {
  return withStore(configPath, fn, { mustExist: true });
}
