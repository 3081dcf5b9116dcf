// The door's TLS certificate: the operator's files, or a self-signed one generated on first
// start and kept next to the store, so clients can pin it (`sslrootcert=` with
// `sslmode=verify-full`) and it survives restarts.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import tls from 'node:tls';
import { generateSelfSignedCertificate } from './certificate.js';

export type PostgresDoorTls =
  /** No TLS: SSLRequest is answered "no". */
  | false
  /** PEM files (relative paths are resolved against the config's directory). */
  | { certFile: string; keyFile: string }
  /** Generate a self-signed certificate in this directory on first start, then reuse it. */
  | { selfSignedDir: string; hosts?: string[] };

export interface LoadedTls {
  context: tls.SecureContext;
  /** The certificate file clients can pin, when known. */
  certFile?: string;
  fingerprint256: string;
  generated: boolean;
}

export const SELF_SIGNED_CERT = 'postgres-door.crt';
export const SELF_SIGNED_KEY = 'postgres-door.key';

export function loadDoorTls(option: Exclude<PostgresDoorTls, false>, baseDir = process.cwd()): LoadedTls {
  if ('certFile' in option) {
    const certFile = resolve(baseDir, option.certFile);
    const keyFile = resolve(baseDir, option.keyFile);
    let cert: string;
    let key: string;
    try {
      cert = readFileSync(certFile, 'utf8');
      key = readFileSync(keyFile, 'utf8');
    } catch (error) {
      throw new Error(`postgres door: cannot read the TLS certificate or key (${(error as NodeJS.ErrnoException).code ?? 'error'}): ${certFile}, ${keyFile}`);
    }
    const x509 = new X509Certificate(cert);
    if (!x509.checkPrivateKey(createPrivateKey(key))) throw new Error(`postgres door: the key in ${keyFile} does not belong to the certificate in ${certFile}`);
    return { context: tls.createSecureContext({ cert, key, minVersion: 'TLSv1.2' }), certFile, fingerprint256: x509.fingerprint256, generated: false };
  }

  const dir = resolve(baseDir, option.selfSignedDir);
  const certFile = join(dir, SELF_SIGNED_CERT);
  const keyFile = join(dir, SELF_SIGNED_KEY);
  if (existsSync(certFile) && existsSync(keyFile)) {
    const cert = readFileSync(certFile, 'utf8');
    const key = readFileSync(keyFile, 'utf8');
    const x509 = new X509Certificate(cert);
    // Reuse until a month before it expires; then make a new one.
    if (Date.parse(x509.validTo) - Date.now() > 30 * 86_400_000 && x509.checkPrivateKey(createPrivateKey(key))) {
      return { context: tls.createSecureContext({ cert, key, minVersion: 'TLSv1.2' }), certFile, fingerprint256: x509.fingerprint256, generated: false };
    }
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const made = generateSelfSignedCertificate({ commonName: 'sluice postgres door', ...(option.hosts ? { hosts: option.hosts } : {}) });
  // Key first, private from the start; files replaced atomically.
  writeFileSync(`${keyFile}.tmp`, made.keyPem, { mode: 0o600 });
  chmodSync(`${keyFile}.tmp`, 0o600);
  renameSync(`${keyFile}.tmp`, keyFile);
  writeFileSync(`${certFile}.tmp`, made.certPem, { mode: 0o644 });
  renameSync(`${certFile}.tmp`, certFile);
  return {
    context: tls.createSecureContext({ cert: made.certPem, key: made.keyPem, minVersion: 'TLSv1.2' }),
    certFile,
    fingerprint256: made.fingerprint256,
    generated: true,
  };
}
