// Who is deciding, for `sluice reviews approve|reject` and `sluice grants revoke`. Nobody may
// simply claim a name: either the CLI calls a running Sluice's API with the caller's own key
// (from $SLUICE_KEY or the variable named by --key-env, never the command line, where `ps` and
// shell history would show it), or it acts on the store directly as the OS user, who must be a
// human identity in the config (identities.NAME, same name) in an approver group.
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import type { Approver } from '../approvals/reviews.js';
import type { LoadedConfig } from '../config/load.js';
import { apiOrigin, keyFromEnv } from './api-client.js';
import { CliError, resolveConfig } from './context.js';

// grants.ts and reviews.ts call the API through here.
export { callApi } from './api-client.js';

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
    key = keyFromEnv(options.keyEnv);
  } else if (process.env.SLUICE_KEY) {
    key = process.env.SLUICE_KEY;
  }
  if (key) return { kind: 'api', key, api: apiOrigin(options.api, configOption) };
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
