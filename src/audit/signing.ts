// The Ed25519 key that signs audit checkpoints. It lives in a file outside the audit tables
// (beside the embedded store, or at `audit.checkpoint.key`), created on first start with mode
// 0600. Whoever can write the audit table can recompute hashes, but cannot sign without it.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { createKeyFileOnce } from './key-file.js';

/** What a checkpoint signature covers. */
export interface CheckpointStatement {
  /** Records covered: seq 1..treeSize. */
  treeSize: number;
  /** RFC 6962 root over those records (hex; see merkle.ts). */
  rootHash: string;
  /** When it was signed (ISO-8601 UTC). */
  time: string;
  keyId: string;
}

export interface SignedCheckpoint extends CheckpointStatement {
  /** Ed25519 signature (base64) of checkpointMessage(). */
  signature: string;
}

/** The exact bytes signed: a small text a reader can reproduce by hand. */
export function checkpointMessage(c: CheckpointStatement): Buffer {
  return Buffer.from(`sluice-audit-checkpoint/v1\n${c.treeSize}\n${c.rootHash}\n${c.time}\n${c.keyId}\n`, 'utf8');
}

/** The 32 raw bytes of an Ed25519 public key. */
export function rawPublicKey(key: KeyObject): Buffer {
  const der = key.export({ type: 'spki', format: 'der' });
  return der.subarray(der.length - 32);
}

/** `ed25519:` + the first 16 hex digits of SHA-256 of the raw public key. */
export function keyIdOf(key: KeyObject): string {
  return `ed25519:${createHash('sha256').update(rawPublicKey(key)).digest('hex').slice(0, 16)}`;
}

export function publicKeyFromRaw(raw: Buffer): KeyObject {
  if (raw.length !== 32) throw new Error('an Ed25519 public key has 32 bytes');
  // SPKI DER for Ed25519 is a fixed 12-byte header followed by the key.
  const der = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]);
  return createPublicKey({ key: der, format: 'der', type: 'spki' });
}

export function publicKeyPem(key: KeyObject): string {
  return key.export({ type: 'spki', format: 'pem' }).toString();
}

/** Every Ed25519 public key in a PEM text (a file may hold several, e.g. before and after a rotation). */
export function parsePublicKeys(text: string): KeyObject[] {
  const blocks = text.match(/-----BEGIN PUBLIC KEY-----[\s\S]*?-----END PUBLIC KEY-----/g) ?? [];
  const keys = blocks.map((pem) => createPublicKey(pem));
  for (const k of keys) {
    if (k.asymmetricKeyType !== 'ed25519') throw new Error(`not an Ed25519 public key (${String(k.asymmetricKeyType)})`);
  }
  if (keys.length === 0) throw new Error('no PEM public key found');
  return keys;
}

export class CheckpointSigner {
  readonly publicKey: KeyObject;
  readonly keyId: string;

  constructor(private readonly privateKey: KeyObject) {
    if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error('the audit signing key must be an Ed25519 key');
    this.publicKey = createPublicKey(privateKey);
    this.keyId = keyIdOf(this.publicKey);
  }

  /** PKCS#8 PEM of the private key, for the key file only. */
  privateKeyPem(): string {
    return this.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  }

  static generate(): CheckpointSigner {
    return new CheckpointSigner(generateKeyPairSync('ed25519').privateKey);
  }

  sign(statement: Omit<CheckpointStatement, 'keyId'>): SignedCheckpoint {
    const c: CheckpointStatement = { ...statement, keyId: this.keyId };
    return { ...c, signature: sign(null, checkpointMessage(c), this.privateKey).toString('base64') };
  }
}

export function verifyCheckpointSignature(c: SignedCheckpoint, key: KeyObject): boolean {
  try {
    return verify(null, checkpointMessage(c), key, Buffer.from(c.signature, 'base64'));
  } catch {
    return false;
  }
}

/**
 * Loads the signing key from `path`, creating it (mode 0600, folder 0700) when the file does
 * not exist. A key file others can read is refused: fail closed rather than sign with a
 * key that may have leaked.
 */
export function loadOrCreateSigningKey(path: string): { signer: CheckpointSigner; created: boolean } {
  let pem: string;
  try {
    const st = statSync(path);
    if ((st.mode & 0o077) !== 0) {
      throw new Error(`the audit signing key ${path} is readable by others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
    }
    pem = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    const signer = CheckpointSigner.generate();
    // Nodes sharing the file may start together: the first to link its key wins, the others load it.
    if (createKeyFileOnce(path, signer.privateKeyPem())) return { signer, created: true };
    return loadOrCreateSigningKey(path);
  }
  return { signer: new CheckpointSigner(createPrivateKey(pem)), created: false };
}

/** The public half of the key file at `path`, without creating anything. */
export function readSigningPublicKey(path: string): KeyObject {
  return createPublicKey(createPrivateKey(readFileSync(path, 'utf8')));
}
