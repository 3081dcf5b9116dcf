// A running Sluice: runtime + API listener + policy reload, and a clean stop.
import type { LoadedConfig } from '../config/load.js';
import { loadConfigFile } from '../config/load.js';
import { startApi, type ApiServer } from '../server/api.js';
import { createMetrics } from '../server/metrics.js';
import { PolicyHolder } from '../policy/index.js';
import { log } from '../util/log.js';
import { startRuntime, type Runtime } from './runtime.js';

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

  let holder: PolicyHolder | undefined;
  if (options.watch) {
    // Policy reloads when the file changes; a broken file keeps the last good policy.
    holder = new PolicyHolder(loaded.policy, {
      files: loaded.file,
      load: () => Promise.resolve(loadConfigFile(loaded.file).policy),
      onChange: (policy) => {
        runtime.setPolicy(policy);
        log.info({ file: loaded.file }, 'policy reloaded');
      },
      onError: (error) => log.error({ file: loaded.file, error: (error as Error).message }, 'policy reload failed; keeping the last good policy'),
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
