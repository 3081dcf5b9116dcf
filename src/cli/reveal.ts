// `sluice reveal PLACEHOLDER --scope SCOPE`: asks a running Sluice (POST /v1/reveal) for the
// value behind a placeholder. The policy decides (intent class `reveal`); a reveal held for
// review waits here until an approver decides. The caller's key is read from an environment
// variable, never from the command line, where it would show in `ps` and shell history.
import type { Command } from 'commander';
import { CliError, printJson, resolveConfig } from './context.js';

interface RevealOptions {
  scope: string;
  keyEnv: string;
  api?: string;
  json?: boolean;
  timeout: string;
}

interface RevealAnswer {
  action_id: string;
  placeholder: string;
  scope: string;
  type: string;
  value: string;
  review?: { id: string; status: string; by?: string };
}

export function registerReveal(program: Command, configOption: () => string | undefined): void {
  program
    .command('reveal')
    .description('show the value behind a placeholder (a policy decision, possibly held for review, and audited)')
    .argument('<placeholder>', 'the placeholder, e.g. SLUICE_EMAIL_kqbvtnmdrcfgph')
    .requiredOption('--scope <scope>', 'where it was handed out: session:ID, agent:NAME or global')
    .requiredOption('--key-env <NAME>', 'environment variable holding your API key (or a token)')
    .option('--api <url>', 'the Sluice API (default: http://<listeners.api.address> of the config)')
    .option('--timeout <seconds>', 'how long to wait, a review included', '900')
    .option('--json', 'print JSON')
    .action(async (placeholder: string, options: RevealOptions) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(options.keyEnv)) throw new CliError(`--key-env: "${options.keyEnv}" is not an environment variable name`);
      const key = process.env[options.keyEnv];
      if (!key) throw new CliError(`--key-env: the environment variable ${options.keyEnv} is not set or empty`);
      const seconds = Number(options.timeout);
      if (!Number.isFinite(seconds) || seconds <= 0) throw new CliError(`--timeout: "${options.timeout}" is not a positive number of seconds`);
      const api = apiUrl(options.api, configOption);
      let response: Response;
      try {
        response = await fetch(new URL('/v1/reveal', api), {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
          body: JSON.stringify({ placeholder, scope: options.scope }),
          signal: AbortSignal.timeout(seconds * 1000),
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
      const answer = body as RevealAnswer;
      if (options.json) {
        printJson(answer);
        return;
      }
      process.stdout.write(`${answer.value}\n`);
      process.stderr.write(`${answer.placeholder} (${answer.type}, ${answer.scope}); action ${answer.action_id}${answer.review ? `, approved in review ${answer.review.id}${answer.review.by ? ` by ${answer.review.by}` : ''}` : ''}\n`);
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
