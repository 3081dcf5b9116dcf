// `sluice token create`: asks a running Sluice (POST /v1/tokens) for a short-lived token of the
// caller's own identity. The caller's key is read from an environment variable, never from the
// command line, where it would show in `ps` and shell history.
import type { Command } from 'commander';
import { CliError, printJson, resolveConfig } from './context.js';

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
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(options.keyEnv)) throw new CliError(`--key-env: "${options.keyEnv}" is not an environment variable name`);
      const key = process.env[options.keyEnv];
      if (!key) throw new CliError(`--key-env: the environment variable ${options.keyEnv} is not set or empty`);
      const api = apiUrl(options.api, configOption);
      let response: Response;
      try {
        response = await fetch(new URL('/v1/tokens', api), {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
          body: JSON.stringify(options.ttl !== undefined ? { ttl: options.ttl } : {}),
          signal: AbortSignal.timeout(30_000),
        });
      } catch (error) {
        const cause = (error as { cause?: { code?: string; message?: string } }).cause;
        throw new CliError(`cannot reach the Sluice API at ${api}: ${cause?.code ?? cause?.message ?? (error as Error).message}; is \`sluice up\` running? (--api URL)`, 1);
      }
      const text = await response.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new CliError(`the Sluice API at ${api} answered ${response.status} with something that is not JSON`, 1);
      }
      if (!response.ok) {
        const error = (body as { error?: { code?: string; message?: string } }).error;
        throw new CliError(`${error?.code ?? `HTTP ${response.status}`}: ${error?.message ?? 'the API refused the request'}`, 1);
      }
      const answer = body as TokenAnswer;
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

function apiUrl(explicit: string | undefined, configOption: () => string | undefined): string {
  let url = explicit;
  if (url === undefined) {
    const address = resolveConfig(configOption(), { optional: true }).config.listeners.api.address;
    url = `http://${address}`;
  }
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http');
    return parsed.origin;
  } catch {
    throw new CliError(`--api: "${url}" is not an http:// or https:// URL`);
  }
}
