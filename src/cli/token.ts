// `sluice token create`: asks a running Sluice (POST /v1/tokens) for a short-lived token of the
// caller's own identity. The caller's key is read from an environment variable, never from the
// command line, where it would show in `ps` and shell history.
import type { Command } from 'commander';
import { apiOrigin, callApi, keyFromEnv } from './api-client.js';
import { printJson } from './context.js';

interface CreateOptions {
  keyEnv: string;
  ttl?: string;
  api?: string;
  json?: boolean;
}

interface TokenAnswer {
  token: string;
  id: string;
  principal: string;
  kind: string;
  groups: string[];
  on_behalf_of: string | null;
  expires_at: string;
}

export function registerToken(program: Command, configOption: () => string | undefined): void {
  const token = program.command('token').description('short-lived Sluice tokens for your own identity');

  token
    .command('create')
    .description('create a token through the API of a running Sluice and print it once')
    .requiredOption('--key-env <NAME>', 'environment variable holding your API key (or a token)')
    .option('--ttl <duration>', 'lifetime such as 15m or 2h (default: tokens.default_ttl, 15m)')
    .option('--api <url>', 'the Sluice API (default: http://<listeners.api.address> of the config)')
    .option('--json', 'print JSON')
    .action(async (options: CreateOptions) => {
      const key = keyFromEnv(options.keyEnv);
      const api = apiOrigin(options.api, configOption);
      const body = await callApi({ key, api }, 'POST', '/v1/tokens', options.ttl !== undefined ? { ttl: options.ttl } : {}, { timeoutMs: 30_000 });
      const answer = body as unknown as TokenAnswer;
      if (options.json) {
        printJson(answer);
        return;
      }
      process.stdout.write(
        `${answer.token}\n` +
          `\nToken ${answer.id} for ${answer.kind} "${answer.principal}"` +
          (answer.groups.length ? ` (groups: ${answer.groups.join(', ')})` : '') +
          (answer.on_behalf_of ? `, acting for ${answer.on_behalf_of}` : '') +
          `, expires ${answer.expires_at}.\nThis is the only time the token is shown.\n`,
      );
    });
}
