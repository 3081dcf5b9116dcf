// The `sluice` command line.
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerAnalyse } from './analyse.js';
import { registerAudit } from './audit.js';
import { registerConfigCheck } from './config-check.js';
import { describeError } from './context.js';
import { registerDemo } from './demo.js';
import { registerGrants } from './grants.js';
import { registerKeys } from './keys.js';
import { registerMask } from './mask.js';
import { registerMcp } from './mcp.js';
import { registerPolicyTest } from './policy-test.js';
import { registerReviews } from './reviews.js';
import { registerReveal } from './reveal.js';
import { registerToken } from './token.js';
import { registerUp } from './up.js';

export function buildProgram(): Command {
  const program = new Command('sluice')
    .description('A gateway that makes AI agents safe to let near real infrastructure.')
    .version(packageVersion(), '-V, --version')
    .option('-c, --config <file>', 'config file (default: $SLUICE_CONFIG or ./sluice.yaml)')
    .showHelpAfterError()
    .exitOverride();
  const configOption = () => program.opts<{ config?: string }>().config;
  registerDemo(program);
  registerUp(program, configOption);
  registerConfigCheck(program, configOption);
  registerKeys(program, configOption);
  registerToken(program, configOption);
  registerPolicyTest(program, configOption);
  registerAnalyse(program);
  registerReviews(program, configOption);
  registerGrants(program, configOption);
  registerAudit(program, configOption);
  registerMcp(program);
  registerMask(program, configOption);
  registerReveal(program, configOption);
  for (const command of program.commands) command.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has already printed usage errors and help.
      process.exitCode = error.exitCode === 0 ? 0 : 2;
      return;
    }
    const { message, exitCode } = describeError(error);
    process.stderr.write(`sluice: ${message}\n`);
    process.exitCode = exitCode;
  }
}

function packageVersion(): string {
  const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}
