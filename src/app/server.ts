// A running Sluice: runtime + API listener + policy reload, and a clean stop.
import type { LoadedConfig } from '../config/load.js';
import type { PolicyDecider } from '../gate/types.js';
import { loadConfigFile } from '../config/load.js';
import { startApi, type ApiServer } from '../server/api.js';
import { createMetrics } from '../server/metrics.js';
import { PolicyHolder } from '../policy/index.js';
import { log } from '../util/log.js';
import { startRuntime, type Runtime } from './runtime.js';

/** A loaded config in the shape the policy watcher holds. */
interface ReloadedConfig extends PolicyDecider {
  loaded: LoadedConfig;
}

function asDecider(loaded: LoadedConfig): ReloadedConfig {
  return { loaded, decide: (action) => loaded.policy.decide(action) };
}

export interface RunningSluice {
  runtime: Runtime;
  api: ApiServer;
  stop(): Promise<void>;
}

export function parseAddress(address: string): { host: string; port: number } {
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address);
  if (!match) throw new Error(`"${address}" is not HOST:PORT`);
  return { host: match[1]!, port: Number(match[2]) };
}

export async function startSluice(loaded: LoadedConfig, options: { apiAddress?: string; watch?: boolean } = {}): Promise<RunningSluice> {
  const metrics = createMetrics();
  const runtime = await startRuntime(loaded, { observer: metrics.observer });
  let api: ApiServer;
  try {
    api = await startApi(runtime, metrics, parseAddress(options.apiAddress ?? loaded.config.listeners.api.address));
  } catch (error) {
    await runtime.close();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      throw new Error(`the API address ${options.apiAddress ?? loaded.config.listeners.api.address} is in use; set listeners.api.address or pass --port`);
    }
    throw error;
  }

  let holder: PolicyHolder<ReloadedConfig> | undefined;
  if (options.watch) {
    // The config reloads when the file changes; a broken file keeps the last good one.
    holder = new PolicyHolder<ReloadedConfig>(asDecider(loaded), {
      files: loaded.file,
      load: () => Promise.resolve(asDecider(loadConfigFile(loaded.file))),
      onChange: ({ loaded: next }) => {
        const restart = runtime.apply(next);
        log.info({ file: next.file, rules: next.policy.rules.length }, 'configuration reloaded: policy, identities, masking');
        if (restart.length > 0) log.warn({ sections: restart }, 'these sections changed but only take effect after a restart');
        runtime.ledger
          .append({ kind: 'config', detail: { event: 'reloaded', file: next.file, rules: next.policy.rules.length, restartNeeded: restart } })
          .catch((error: unknown) => log.error({ err: error }, 'could not record the reload in the audit log'));
      },
      onError: (error) => log.error({ file: loaded.file, error: (error as Error).message }, 'config reload failed; keeping the last good config'),
    });
    holder.watch();
  }

  return {
    runtime,
    api,
    async stop() {
      holder?.close();
      await api.close();
      await runtime.close();
    },
  };
}
