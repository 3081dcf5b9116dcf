// `sluice up`: run the gateway from sluice.yaml until Ctrl-C.
import type { Command } from 'commander';
import { startSluice, type RunningSluice } from '../app/server.js';
import { log } from '../util/log.js';
import { resolveConfig } from './context.js';

export function registerUp(program: Command, configOption: () => string | undefined): void {
  program
    .command('up')
    .description('run Sluice with the configuration in sluice.yaml (or --config)')
    .option('--api <host:port>', 'API listener address (overrides listeners.api.address)')
    .action(async (options: { api?: string }) => {
      const loaded = resolveConfig(configOption());
      for (const warning of loaded.warnings) log.warn(warning);
      const running = await startSluice(loaded, { ...(options.api ? { apiAddress: options.api } : {}), watch: true });
      log.info({ api: running.api.url, connections: Object.keys(loaded.config.connections) }, 'sluice is up');
      await untilSignal(running);
    });
}

/** Resolves after SIGINT/SIGTERM once everything is stopped; a second signal exits at once. */
export function untilSignal(running: RunningSluice): Promise<void> {
  return new Promise((resolvePromise) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) process.exit(130);
      stopping = true;
      log.info({ signal }, 'stopping');
      running.stop().then(
        () => resolvePromise(),
        (error: unknown) => {
          log.error({ err: error }, 'error while stopping');
          process.exitCode = 1;
          resolvePromise();
        },
      );
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });
}
