// Where the checkpoint signing key and anchor file live, from the config, and starting the
// checkpoint writer for a runtime.
import { dirname, resolve } from 'node:path';
import type { SluiceConfig } from '../config/schema.js';
import { parseStoreUrl } from '../store/open.js';
import type { Store } from '../store/store.js';
import { log } from '../util/log.js';
import { CheckpointWriter } from './checkpoints-writer.js';
import type { AuditLedger } from './ledger.js';
import { CheckpointSigner, loadOrCreateSigningKey } from './signing.js';

export const SIGNING_KEY_FILE = 'audit-signing.key';

/**
 * The signing key file: `audit.checkpoint.key` (relative to the config), else beside an
 * embedded store's file. Undefined for an in-memory store; a PostgreSQL store must name one,
 * because a key inside (or beside nothing of) the database could be rewritten with it.
 */
export function signingKeyPath(config: SluiceConfig, baseDir: string): string | undefined {
  const configured = config.audit.checkpoint.key;
  // resolve() keeps an absolute path as it is.
  if (configured) return resolve(baseDir, configured);
  const target = parseStoreUrl(config.store.url);
  if (target.kind === 'postgres') {
    throw new Error('audit.checkpoint.key must name the signing key file when the store is PostgreSQL (or set audit.checkpoint.enabled: false)');
  }
  return besideEmbeddedStore(config, baseDir, SIGNING_KEY_FILE);
}

export const ANCHOR_FILE = 'audit-anchor.jsonl';

/**
 * The anchor file: `audit.checkpoint.anchor.file` (relative to the config), else, for an
 * embedded store's file, one beside it: a copy of every checkpoint outside the database, so
 * records cut from the end of the database are found without any setup (kept on another host
 * it also survives someone who can write to the store's directory). Undefined otherwise.
 */
export function anchorPath(config: SluiceConfig, baseDir: string): string | undefined {
  const file = config.audit.checkpoint.anchor?.file;
  if (file) return resolve(baseDir, file);
  return besideEmbeddedStore(config, baseDir, ANCHOR_FILE);
}

/** `name` in the directory of an embedded store's file; undefined for PostgreSQL or an in-memory store. */
function besideEmbeddedStore(config: SluiceConfig, baseDir: string, name: string): string | undefined {
  const target = parseStoreUrl(config.store.url);
  if (target.kind === 'postgres' || target.path === ':memory:' || target.path === '') return undefined;
  return resolve(dirname(resolve(baseDir, target.path)), name);
}

/** Starts signed checkpoints for a runtime, or returns undefined when they are off. */
export async function startCheckpoints(
  loaded: { config: SluiceConfig; baseDir: string },
  store: Store,
  ledger: AuditLedger,
): Promise<CheckpointWriter | undefined> {
  const cfg = loaded.config.audit.checkpoint;
  if (!cfg.enabled) return undefined;
  const path = signingKeyPath(loaded.config, loaded.baseDir);
  let signer: CheckpointSigner;
  if (path) {
    const { signer: s, created } = loadOrCreateSigningKey(path);
    signer = s;
    if (created) log.info({ file: path, keyId: s.keyId }, 'created the audit checkpoint signing key');
  } else {
    signer = CheckpointSigner.generate();
    log.warn({ keyId: signer.keyId }, 'in-memory store: audit checkpoints are signed with a key that is not kept');
  }
  const anchorFile = anchorPath(loaded.config, loaded.baseDir);
  const writer = new CheckpointWriter(store, ledger, signer, {
    every: cfg.every,
    intervalMs: cfg.interval,
    ...(anchorFile ? { anchorFile } : {}),
    // Tells two nodes on one host apart in their key announcements.
    ...(path ? { keyFile: path } : {}),
  });
  await writer.start();
  return writer;
}
