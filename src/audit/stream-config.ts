// Builds the audit stream of a runtime from `audit.stream` and `audit.checkpoint.anchor.webhook`
// (the anchor webhook is one more stream target, so checkpoints reach it with the same retries
// and durable cursor), and says where the cursor file lives.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { AuditStreamTargetConfig, SecretRef, SluiceConfig } from '../config/schema.js';
import { resolveSecret } from '../credentials/secrets.js';
import { parseStoreUrl } from '../store/open.js';
import type { Store } from '../store/store.js';
import { AuditStream, type StreamTarget } from './stream.js';
import { FileCursorStore, MemoryCursorStore, type StreamCursorStore } from './stream-cursor.js';
import { SyslogTransport } from './stream-syslog.js';
import { WebhookTransport } from './stream-webhook.js';

export const STREAM_STATE_FILE = 'audit-stream.json';
/** The stream target that carries checkpoints to audit.checkpoint.anchor.webhook. */
export const ANCHOR_TARGET = 'checkpoint-anchor';

/**
 * The cursor file: `audit.stream.state` (relative to the config), else beside an embedded
 * store's file. Undefined for an in-memory store (cursors live as long as the process).
 */
export function streamStatePath(config: SluiceConfig, baseDir: string): string | undefined {
  const configured = config.audit.stream?.state;
  if (configured) return isAbsolute(configured) ? configured : resolve(baseDir, configured);
  const target = parseStoreUrl(config.store.url);
  if (target.kind === 'postgres') throw new Error('audit.stream.state must name the stream cursor file when the store is PostgreSQL');
  if (target.path === ':memory:' || target.path === '') return undefined;
  const storePath = isAbsolute(target.path) ? target.path : resolve(baseDir, target.path);
  return resolve(dirname(storePath), STREAM_STATE_FILE);
}

/** Starts the audit stream, or returns undefined when no target is configured. */
export async function startAuditStream(loaded: { config: SluiceConfig; baseDir: string }, store: Store): Promise<AuditStream | undefined> {
  const { config, baseDir } = loaded;
  const cfg = config.audit.stream;
  const targets: StreamTarget[] = [];
  for (const [name, target] of Object.entries(cfg?.targets ?? {})) targets.push(buildTarget(name, target, baseDir));
  const anchor = config.audit.checkpoint.enabled ? config.audit.checkpoint.anchor?.webhook : undefined;
  if (anchor) {
    if (cfg?.targets?.[ANCHOR_TARGET]) throw new Error(`audit.stream.targets.${ANCHOR_TARGET}: the name is used by audit.checkpoint.anchor.webhook`);
    targets.push({
      name: ANCHOR_TARGET,
      format: 'anchor',
      batchSize: 500,
      transport: new WebhookTransport({
        url: anchor.url,
        ...(anchor.secret ? { secret: secret(anchor.secret, baseDir, 'audit.checkpoint.anchor.webhook.secret') } : {}),
        headers: headers(anchor.headers, baseDir, 'audit.checkpoint.anchor.webhook.headers'),
        timeoutMs: anchor.timeout,
      }),
    });
  }
  if (targets.length === 0) return undefined;
  const path = streamStatePath(config, baseDir);
  const cursors: StreamCursorStore = path ? new FileCursorStore(path) : new MemoryCursorStore();
  const kinds = new Map<string, string>(Object.entries(config.connections).map(([name, c]) => [name, c.kind]));
  const stream = new AuditStream(store, cursors, targets, {
    pollIntervalMs: cfg?.poll_interval ?? 1000,
    retryInitialMs: cfg?.retry.initial ?? 1000,
    retryMaxMs: cfg?.retry.max ?? 300_000,
    lagWarning: cfg?.lag_warning ?? 10_000,
    ocsf: { connectionKind: (name) => kinds.get(name), productVersion: packageVersion() },
  });
  await stream.start();
  return stream;
}

function buildTarget(name: string, t: AuditStreamTargetConfig, baseDir: string): StreamTarget {
  const label = `audit.stream.targets.${name}`;
  const common = { name, format: t.format, batchSize: t.batch, start: t.start, ...(t.kinds ? { kinds: t.kinds } : {}) };
  if (t.kind === 'webhook') {
    return {
      ...common,
      transport: new WebhookTransport({
        url: t.url,
        ...(t.secret ? { secret: secret(t.secret, baseDir, `${label}.secret`) } : {}),
        headers: headers(t.headers, baseDir, `${label}.headers`),
        timeoutMs: t.timeout,
      }),
    };
  }
  const split = t.address.lastIndexOf(':');
  const host = t.address.slice(0, split).replace(/^\[(.*)\]$/, '$1');
  return {
    ...common,
    transport: new SyslogTransport({
      host,
      port: Number(t.address.slice(split + 1)),
      transport: t.transport,
      facility: t.facility,
      appName: t.app_name,
      ...(t.max_message !== undefined ? { maxMessage: t.max_message } : {}),
      timeoutMs: t.timeout,
    }),
  };
}

function secret(ref: SecretRef, baseDir: string, label: string): string {
  return resolveSecret(ref, { baseDir, label });
}

function headers(values: Record<string, string | SecretRef>, baseDir: string, label: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(values)) out[name] = typeof value === 'string' ? value : secret(value, baseDir, `${label}.${name}`);
  return out;
}

let version: string | undefined;
function packageVersion(): string {
  if (version === undefined) {
    try {
      version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      version = '';
    }
  }
  return version;
}
