// The composition root: builds the store, ledger, analysers, policy, connectors and gate
// from a loaded config. `sluice up`, `sluice demo` and the CLI commands that need the
// store all start here.
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { createAnalysers } from '../analyse/index.js';
import { startCheckpoints } from '../audit/checkpoints-config.js';
import type { CheckpointWriter } from '../audit/checkpoints-writer.js';
import type { AuditStream } from '../audit/stream.js';
import { startAuditStream } from '../audit/stream-config.js';
import { AuditLedger } from '../audit/ledger.js';
import { openAuditJournal, type OpenedJournal } from '../audit/journal-open.js';
import { startRetention, type RetentionPruner } from '../audit/retention.js';
import { runtimeValueDigester, type ValueDigester } from '../audit/value-digest.js';
import { createCommandRedactor } from '../audit/command-redaction.js';
import { recordingsPath, ShellRecorder } from '../audit/recording.js';
import { ReviewNotifier } from '../approvals/notify.js';
import { StoreReviewHook } from '../approvals/reviews.js';
import type { LoadedConfig } from '../config/load.js';
import type { ConnectionConfig, McpConnectionConfig, SecretRef, SluiceConfig } from '../config/schema.js';
import type { Connector } from '../connectors/connector.js';
import { buildShellEnvironment, createPostgresConnector, createShellConnector } from '../connectors/index.js';
import { createMcpConnector } from '../connectors/mcp.js';
import { resolveSecret } from '../credentials/secrets.js';
import { Gate, type GateConnection, type GateObserver } from '../gate/gate.js';
import type { PolicyDecider } from '../gate/types.js';
import type { CompiledMaskingProfile } from '../masking/columns.js';
import { compileMaskingProfiles } from '../masking/index.js';
import { Detokeniser } from '../masking/detokenise.js';
import type { PlaceholderVault } from '../masking/vault.js';
import { createVault, vaultKey } from '../masking/vault-config.js';
import { openStore, parseStoreUrl } from '../store/open.js';
import type { Store } from '../store/store.js';
import { newId } from '../util/ids.js';

/** Opens the store a config names (relative sqlite paths are relative to the config file). */
export async function openConfiguredStore(loaded: Pick<LoadedConfig, 'config' | 'baseDir'>): Promise<Store> {
  const { url, password, sync } = loaded.config.store;
  const resolvedUrl = resolveStoreUrl(url, loaded.baseDir);
  if (!password) return openStore(resolvedUrl, { sqlite: { synchronous: sync } });
  if (!resolvedUrl.startsWith('postgres')) throw new Error('store.password is only used with a postgres:// store url');
  // The password joins the URL only here, in memory; the store redacts it from every error.
  const withPassword = new URL(resolvedUrl);
  withPassword.password = encodeURIComponent(resolveSecret(password, { baseDir: loaded.baseDir, label: 'store.password' }));
  return openStore(withPassword.toString());
}

/** The store URL with a relative SQLite path made absolute against the config's folder. */
export function resolveStoreUrl(url: string, baseDir: string): string {
  const target = parseStoreUrl(url);
  if (target.kind === 'postgres') return target.url;
  return `sqlite:${isAbsolute(target.path) ? target.path : resolve(baseDir, target.path)}`;
}

export interface Runtime {
  /** The config in force: replaced on reload, so read it at the time of use. */
  loaded: LoadedConfig;
  store: Store;
  ledger: AuditLedger;
  /** Signed audit checkpoints, unless audit.checkpoint.enabled is false. */
  checkpoints?: CheckpointWriter;
  /** Delivery of audit records to SIEM targets (audit.stream), when any is configured. */
  stream?: AuditStream;
  /** Periodic pruning of old audit records (audit.retention), when configured. */
  retention?: RetentionPruner;
  /**
   * Keyed digests for values the audit records must not hold in clear (audit/value-digest.ts);
   * absent when a PostgreSQL store names no shared key: then records leave such values out.
   */
  valueDigester?: ValueDigester;
  gate: Gate;
  /** Held commands: reviews, grants, the holder heartbeat (approvals/reviews.ts). */
  reviews: StoreReviewHook;
  /**
   * Puts a newly loaded config in force: policy, identities, masking profiles, audit readers.
   * Connections, listeners and the store keep running as they are; returns the sections
   * that changed and need a restart.
   */
  apply(next: LoadedConfig): string[];
  /** The connector of a connection (doors that list what a connection offers, e.g. upstream MCP tools). */
  connector(name: string): Connector | undefined;
  /** The placeholder vault (masking.vault), absent when no key is configured. */
  vault?: PlaceholderVault;
  /** The masking profiles in force, updated in place on reload (the MCP door masks upstream notifications with them). */
  maskingProfiles?: ReadonlyMap<string, CompiledMaskingProfile>;
  close(): Promise<void>;
}

export async function startRuntime(loaded: LoadedConfig, options: { observer?: GateObserver } = {}): Promise<Runtime> {
  // Before the store opens, so a key file that cannot be read stops the start with nothing to clean up.
  const valueDigester = runtimeValueDigester(loaded);
  // A malformed vault key stops the start before anything is opened.
  const placeholderVaultKey = vaultKey(loaded.config, loaded.baseDir);
  const store = await openConfiguredStore(loaded);
  const vault = createVault(loaded.config, placeholderVaultKey, store);
  // The journal (embedded store) is the durable commit of gate records; what a crashed process
  // journaled is copied into the ledger before anything else is appended.
  let journal: OpenedJournal | undefined;
  try {
    journal = await openAuditJournal(store);
  } catch (error) {
    await store.close();
    throw new Error(`cannot recover the audit journal: ${(error as Error).message}`, { cause: error });
  }
  const ledger = new AuditLedger(store, journal ? { journal: journal.journal } : {});
  if (journal && journal.recovered.records > 0) {
    await ledger.append({ kind: 'system', detail: { event: 'audit_journal_recovered', ...journal.recovered } });
  }
  let checkpoints: CheckpointWriter | undefined;
  let stream: AuditStream | undefined;
  try {
    checkpoints = await startCheckpoints(loaded, store, ledger);
    stream = await startAuditStream(loaded, store);
  } catch (error) {
    await checkpoints?.close().catch(() => undefined);
    await ledger.close();
    await store.close();
    throw error;
  }
  const retention = startRetention(loaded.config, store, ledger, recordingsPath(loaded.config, loaded.baseDir));
  const analysers = await createAnalysers();
  let policy: PolicyDecider = loaded.policy;
  const connections = buildConnections(loaded);
  const maskingProfiles = new Map<string, CompiledMaskingProfile>();
  const setMaskingProfiles = (config: SluiceConfig, baseDir: string) => {
    // Compiled before the old set is cleared: a key that cannot be read keeps the old profiles.
    const next = compileMaskingProfiles(config, baseDir, vault ? { sink: vault } : {});
    maskingProfiles.clear();
    for (const [name, profile] of next) maskingProfiles.set(name, profile);
  };
  setMaskingProfiles(loaded.config, loaded.baseDir);
  // Targets are read at each review, so a reload that changes them applies to the next one.
  let current = loaded;
  const notifier = new ReviewNotifier(
    () =>
      current.config.approvals.notify.map((t) => ({
        url: t.url,
        format: t.format,
        ...(t.secret ? { secret: resolveSecret(t.secret, { baseDir: current.baseDir, label: 'approvals.notify.secret' }) } : {}),
      })),
    {
      apiUrl: `http://${loaded.config.listeners.api.address}`,
      recent: async (session) =>
        (await ledger.flush().then(() => store.readAudit({ session, limit: 12, descending: true })))
          .filter((row) => row.kind === 'decision')
          .slice(1, 6)
          .reverse()
          .map((row) => {
            const body = JSON.parse(row.body) as { command?: string; effect?: string };
            return { time: row.time, command: body.command ?? '', effect: body.effect ?? '' };
          }),
    },
  );
  // Shell session recordings (off unless audit.recordings names a directory); needs a restart to change.
  const recordings = recordingsPath(loaded.config, loaded.baseDir);
  // PostgreSQL wakes held callers through LISTEN/NOTIFY; polling is only the safety net there.
  const reviews = new StoreReviewHook(store, ledger, {
    timeoutMs: loaded.config.approvals.timeout,
    notifier,
    settings: () => current.config.approvals,
    node: newId('node'),
    pollMs: store.kind === 'postgres' ? 2000 : 200,
  });
  reviews.start();
  const commandRedactor = createCommandRedactor(loaded.config.audit.redact_commands, valueDigester);
  const gate = new Gate({
    policy: () => policy,
    analysers,
    audit: ledger,
    reviews,
    connection: (name) => connections.get(name),
    maskingProfiles,
    detokeniser: new Detokeniser({ vault: () => vault, analysers }),
    ...(options.observer ? { observer: options.observer } : {}),
    ...(recordings ? { recorder: new ShellRecorder(recordings) } : {}),
    ...(valueDigester ? { valueDigester } : {}),
    ...(commandRedactor ? { commandRedactor } : {}),
  });
  const runtime: Runtime = {
    loaded,
    store,
    maskingProfiles,
    ledger,
    ...(checkpoints ? { checkpoints } : {}),
    ...(stream ? { stream } : {}),
    ...(retention ? { retention } : {}),
    ...(valueDigester ? { valueDigester } : {}),
    gate,
    reviews,
    apply(next) {
      const restart = (['store', 'listeners', 'connections'] as const).filter(
        (section) => JSON.stringify(next.config[section]) !== JSON.stringify(runtime.loaded.config[section]),
      );
      setMaskingProfiles(next.config, next.baseDir);
      policy = next.policy;
      runtime.loaded = next;
      current = next;
      return restart;
    },
    connector: (name) => connections.get(name)?.connector,
    ...(vault ? { vault } : {}),
    async close() {
      await Promise.allSettled([...connections.values()].map((c) => c.connector.close()));
      reviews.close();
      await notifier.close();
      await retention?.close();
      // The last checkpoint covers everything up to shutdown; a failure must not keep the store open.
      await checkpoints?.close().catch(() => undefined);
      // What the stream has not delivered yet (the last checkpoint too) goes out after the next start.
      await stream?.close();
      await vault?.close().catch(() => undefined);
      await ledger.close();
      await store.close();
    },
  };
  return runtime;
}

function buildConnections(loaded: LoadedConfig): Map<string, GateConnection> {
  const out = new Map<string, GateConnection>();
  for (const [name, config] of Object.entries(loaded.config.connections)) {
    const { connector, secrets } = buildConnector(name, config, loaded.baseDir);
    out.set(name, {
      ref: { name, kind: config.kind, labels: config.labels },
      language: config.kind,
      connector,
      secrets,
      ...(config.mask ? { mask: config.mask } : {}),
    });
  }
  return out;
}

/** The connector for a connection, and the secrets it injects (to redact from results). */
export function buildConnector(name: string, config: ConnectionConfig, baseDir: string): { connector: Connector; secrets: string[] } {
  const label = `connections.${name}`;
  if (config.kind === 'postgres') {
    const password = config.password ? resolveSecret(config.password, { baseDir, label: `${label}.password` }) : undefined;
    const ssl =
      config.ssl === false
        ? false
        : config.ssl === true
          ? { rejectUnauthorized: true }
          : {
              rejectUnauthorized: config.ssl.reject_unauthorized,
              ...(config.ssl.ca_file ? { ca: readFileSync(resolve(baseDir, config.ssl.ca_file), 'utf8') } : {}),
            };
    const connector = createPostgresConnector({
      host: config.host,
      port: config.port,
      database: config.database,
      user: config.user,
      ...(password !== undefined ? { password } : {}),
      ssl,
      maxConnections: config.max_connections,
      statementTimeoutMs: config.statement_timeout,
      maxRows: config.max_rows,
      applicationName: `sluice:${name}`,
    });
    return { connector, secrets: password !== undefined ? [password] : [] };
  }
  if (config.kind === 'mcp') return buildMcpConnector(name, config, baseDir);
  const set: Record<string, string> = {};
  const secrets: string[] = [];
  for (const [variable, value] of Object.entries(config.env.set)) {
    // Plain strings are configuration; values given by reference are secrets.
    set[variable] = typeof value === 'string' ? value : resolveSecret(value, { baseDir, label: `${label}.env.set.${variable}` });
    if (typeof value !== 'string') secrets.push(set[variable]);
  }
  const cwd = isAbsolute(config.cwd) ? config.cwd : resolve(baseDir, config.cwd);
  const env = buildShellEnvironment({ allow: config.env.allow, set });
  if (config.run_as) {
    // The gateway user's identity and home must not follow commands run as someone else.
    for (const variable of ['HOME', 'USER', 'LOGNAME']) if (!(variable in set)) delete env[variable];
    if (!('HOME' in set)) env.HOME = cwd;
  }
  const connector = createShellConnector({
    cwd,
    timeoutMs: config.timeout,
    maxOutputBytes: config.max_output,
    shell: config.shell,
    env,
    ...(config.run_as ? { runAs: { uid: config.run_as.uid, gid: config.run_as.gid } } : {}),
  });
  return { connector, secrets };
}

/** An upstream MCP server: env values and headers given by reference are its secrets. */
function buildMcpConnector(name: string, config: McpConnectionConfig, baseDir: string): { connector: Connector; secrets: string[] } {
  const label = `connections.${name}`;
  const secrets: string[] = [];
  const resolveAll = (values: Record<string, string | SecretRef>, where: string): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const [key, value] of Object.entries(values)) {
      out[key] = typeof value === 'string' ? value : resolveSecret(value, { baseDir, label: `${label}.${where}.${key}` });
      if (typeof value !== 'string') secrets.push(out[key]);
    }
    return out;
  };
  const transport =
    config.transport === 'stdio'
      ? {
          kind: 'stdio' as const,
          command: config.command!,
          args: config.args,
          env: buildShellEnvironment({ allow: config.env.allow, set: resolveAll(config.env.set, 'env.set') }),
          cwd: config.cwd ? (isAbsolute(config.cwd) ? config.cwd : resolve(baseDir, config.cwd)) : baseDir,
        }
      : {
          kind: 'http' as const,
          url: config.url!,
          headers: resolveAll(config.headers, 'headers'),
          ...(config.oauth ? { oauth: mcpOAuth(config.oauth, secrets, (ref) => resolveSecret(ref, { baseDir, label: `${label}.oauth.client_secret` })) } : {}),
        };
  const connector = createMcpConnector({
    name,
    transport,
    timeoutMs: config.timeout,
    restart: { initialMs: config.restart.initial, maxMs: config.restart.max },
    secrets,
  });
  return { connector, secrets };
}

/** An upstream's OAuth client-credentials settings; the client secret joins the connection's secrets. */
function mcpOAuth(oauth: NonNullable<McpConnectionConfig['oauth']>, secrets: string[], resolveRef: (ref: SecretRef) => string) {
  const clientSecret = resolveRef(oauth.client_secret);
  secrets.push(clientSecret);
  return {
    tokenUrl: oauth.token_url,
    clientId: oauth.client_id,
    clientSecret,
    authMethod: oauth.auth_method,
    ...(oauth.scope ? { scope: oauth.scope } : {}),
    ...(oauth.audience ? { audience: oauth.audience } : {}),
    ...(oauth.resource ? { resource: oauth.resource } : {}),
  };
}

export type { SluiceConfig };
