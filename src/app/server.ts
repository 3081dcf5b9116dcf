// A running Sluice: runtime + API listener + policy reload, and a clean stop.
import type { LoadedConfig } from '../config/load.js';
import type { PolicyDecider } from '../gate/types.js';
import { loadConfigFile } from '../config/load.js';
import { dirname, resolve } from 'node:path';
import { parseStoreUrl } from '../store/open.js';
import { startPostgresDoor, type PostgresDoor, type PostgresDoorTls } from '../doors/postgres/index.js';
import { loginVerifiers } from '../identity/keys.js';
import { startApi, type ApiServer } from '../server/api.js';
import { createMetrics } from '../server/metrics.js';
import { PolicyHolder } from '../policy/index.js';
import { log } from '../util/log.js';
import { resolveStoreUrl, startRuntime, type Runtime } from './runtime.js';

/** A loaded config in the shape the policy watcher holds. */
interface ReloadedConfig extends PolicyDecider {
  loaded: LoadedConfig;
}

/** The generated certificate lives beside the embedded store (or in .sluice/ next to the config). */
function doorTls(option: 'self-signed' | false | { cert_file: string; key_file: string }, loaded: LoadedConfig): PostgresDoorTls {
  const baseDir = loaded.baseDir;
  if (option === false) return false;
  if (option === 'self-signed') {
    const store = parseStoreUrl(resolveStoreUrl(loaded.config.store.url, baseDir));
    return { selfSignedDir: store.kind === 'sqlite' ? dirname(store.path) : resolve(baseDir, '.sluice') };
  }
  return { certFile: resolve(baseDir, option.cert_file), keyFile: resolve(baseDir, option.key_file) };
}

function asDecider(loaded: LoadedConfig): ReloadedConfig {
  return { loaded, decide: (action) => loaded.policy.decide(action) };
}

export interface RunningSluice {
  runtime: Runtime;
  api: ApiServer;
  /** The PostgreSQL door, when `listeners.postgres` is configured. */
  postgres?: PostgresDoor;
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

  let postgres: PostgresDoor | undefined;
  const pgListener = loaded.config.listeners.postgres;
  if (pgListener) {
    try {
      postgres = await startPostgresDoor(runtime, {
        address: parseAddress(pgListener.address),
        tls: doorTls(pgListener.tls, loaded),
        plaintextPassword: pgListener.plaintext_password,
        auth: pgListener.auth,
        // SCRAM verifiers come from the store, read at each login (keys made since start count).
        scram: (user) => loginVerifiers(runtime.store, user),
        maxConnections: pgListener.max_connections,
        ...(pgListener.idle_timeout !== undefined ? { idleTimeoutMs: pgListener.idle_timeout } : {}),
        ...(pgListener.max_message_size !== undefined ? { maxMessageSize: pgListener.max_message_size } : {}),
        ...(pgListener.auth_timeout !== undefined ? { authTimeoutMs: pgListener.auth_timeout } : {}),
        ...(pgListener.connect_timeout !== undefined ? { connectTimeoutMs: pgListener.connect_timeout } : {}),
      });
    } catch (error) {
      await api.close();
      await runtime.close();
      if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        throw new Error(`the PostgreSQL door address ${pgListener.address} is in use; set listeners.postgres.address`);
      }
      throw error;
    }
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
    ...(postgres ? { postgres } : {}),
    async stop() {
      holder?.close();
      await postgres?.close();
      await api.close();
      await runtime.close();
    },
  };
}
