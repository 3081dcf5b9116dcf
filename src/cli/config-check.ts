// `sluice config check [FILE]`: validate a config without starting anything.
import type { Command } from 'commander';
import { loadConfigFile } from '../config/load.js';
import { DEFAULT_CONFIG } from './context.js';

export function registerConfigCheck(program: Command, configOption: () => string | undefined): void {
  const config = program.command('config').description('work with sluice.yaml');
  config
    .command('check')
    .description('validate a config file: schema, references, policy (nothing starts, no secret is read or printed)')
    .argument('[file]', `config file (default: --config, $SLUICE_CONFIG or ./${DEFAULT_CONFIG})`)
    .action((file: string | undefined) => {
      const loaded = loadConfigFile(file ?? configOption() ?? process.env.SLUICE_CONFIG ?? DEFAULT_CONFIG);
      for (const warning of loaded.warnings) process.stderr.write(`warning: ${warning}\n`);
      const { connections, identities } = loaded.config;
      process.stdout.write(
        `${loaded.file}: ok (${Object.keys(connections).length} connections, ${Object.keys(identities).length} identities, ${loaded.policy.rules.length} policy rules)\n`,
      );
    });
}
