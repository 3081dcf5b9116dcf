// `sluice reveal PLACEHOLDER --scope SCOPE`: asks a running Sluice (POST /v1/reveal) for the
// value behind a placeholder. The policy decides (intent class `reveal`); a reveal held for
// review waits here until an approver decides. The caller's key is read from an environment
// variable, never from the command line, where it would show in `ps` and shell history.
import type { Command } from 'commander';
import { apiOrigin, callApi, keyFromEnv } from './api-client.js';
import { CliError, printJson } from './context.js';

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
      const key = keyFromEnv(options.keyEnv);
      const seconds = Number(options.timeout);
      if (!Number.isFinite(seconds) || seconds <= 0) throw new CliError(`--timeout: "${options.timeout}" is not a positive number of seconds`);
      const api = apiOrigin(options.api, configOption);
      const body = await callApi({ key, api }, 'POST', '/v1/reveal', { placeholder, scope: options.scope }, { timeoutMs: seconds * 1000 });
      const answer = body as unknown as RevealAnswer;
      if (options.json) {
        printJson(answer);
        return;
      }
      process.stdout.write(`${answer.value}\n`);
      process.stderr.write(`${answer.placeholder} (${answer.type}, ${answer.scope}); action ${answer.action_id}${answer.review ? `, approved in review ${answer.review.id}${answer.review.by ? ` by ${answer.review.by}` : ''}` : ''}\n`);
    });
}
