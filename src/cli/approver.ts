// Who is deciding, for `sluice reviews approve|reject` and `sluice grants revoke`. Nobody may
// simply claim a name: either the CLI calls a running Sluice's API with the caller's own key
// (from $SLUICE_KEY or the variable named by --key-env, never the command line, where `ps` and
// shell history would show it), or it acts on the store directly as the OS user, who must be a
// human identity in the config (identities.NAME, same name) in an approver group.
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import type { Approver } from '../approvals/reviews.js';
import type { LoadedConfig } from '../config/load.js';
import { CliError, resolveConfig } from './context.js';

export interface ApproverOptions {
  keyEnv?: string;
  api?: string;
}

export type Decider = { kind: 'api'; key: string; api: string } | { kind: 'local' };

export function addApproverOptions(command: Command): Command {
  return command
    .option('--key-env <NAME>', 'environment variable holding your API key: decide through the API of a running Sluice (default: SLUICE_KEY when set)')
    .option('--api <url>', 'the Sluice API (default: http://<listeners.api.address> of the config)');
}

/** API with a key when one is given (or $SLUICE_KEY is set); otherwise the store, as the OS user. */
export function decider(options: ApproverOptions, configOption: () => string | undefined): Decider {
  let key: string | undefined;
  if (options.keyEnv !== undefined) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(options.keyEnv)) throw new CliError(`--key-env: "${options.keyEnv}" is not an environment variable name`);
    key = process.env[options.keyEnv];
    if (!key) throw new CliError(`--key-env: the environment variable ${options.keyEnv} is not set or empty`);
  } else if (process.env.SLUICE_KEY) {
    key = process.env.SLUICE_KEY;
  }
  if (key) return { kind: 'api', key, api: apiUrl(options.api, configOption) };
  if (options.api !== undefined) throw new CliError('--api needs a key: set SLUICE_KEY or pass --key-env NAME');
  return { kind: 'local' };
}

/** The OS user as an approver: a human identity of the same name in the config. */
export function localApprover(loaded: LoadedConfig): Approver & { osUser: string } {
  let osUser: string;
  try {
    osUser = userInfo().username;
  } catch {
    throw new CliError('cannot tell which OS user runs this; decide through the API instead (SLUICE_KEY)', 1);
  }
  const identity = loaded.config.identities[osUser];
  if (!identity || identity.kind !== 'human') {
    throw new CliError(
      `the OS user "${osUser}" is not a human identity in ${loaded.file} (identities.${osUser}), so it cannot decide here; ` +
        'add it with an approver group, or decide through the API with your key (SLUICE_KEY=... sluice reviews approve ID)',
      1,
    );
  }
  return { name: osUser, kind: 'human', groups: identity.groups, osUser };
}

export function loadedFor(configOption: () => string | undefined): LoadedConfig {
  return resolveConfig(configOption(), { optional: true });
}

/** One JSON call to the API; API errors become CLI errors with the API's code. */
export async function callApi(decider: { key: string; api: string }, method: 'GET' | 'POST', path: string, body?: unknown): Promise<Record<string, unknown>> {
  let response: Response;
  try {
    response = await fetch(new URL(path, decider.api), {
      method,
      headers: { authorization: `Bearer ${decider.key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new CliError(`cannot reach the Sluice API at ${decider.api}: ${cause?.code ?? cause?.message ?? (error as Error).message}; is \`sluice up\` running? (--api URL)`, 1);
  }
  const text = await response.text();
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new CliError(`the Sluice API at ${decider.api} answered ${response.status} with something that is not JSON`, 1);
  }
  if (!response.ok) {
    const error = json.error as { code?: string; message?: string } | undefined;
    throw new CliError(`${error?.code ?? `HTTP ${response.status}`}: ${error?.message ?? 'the API refused the request'}`, 1);
  }
  return json;
}

function apiUrl(explicit: string | undefined, configOption: () => string | undefined): string {
  const url = explicit ?? `http://${resolveConfig(configOption(), { optional: true }).config.listeners.api.address}`;
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http');
    return parsed.origin;
  } catch {
    throw new CliError(`--api: "${url}" is not an http:// or https:// URL`);
  }
}
