// SCRAM-SHA-256 verifiers for Sluice keys and tokens (RFC 5802, RFC 7677), so the PostgreSQL
// door can check a key without the key ever crossing the wire.
//
// A verifier is computed once, when the key is created (the only moment Sluice holds the key),
// and stored beside the key's SHA-256 hash in PostgreSQL's own text form:
//   SCRAM-SHA-256$<iterations>:<salt base64>$<StoredKey base64>:<ServerKey base64>
// The server sends the salt before it knows which key the client holds, so all keys of one
// principal share one salt: HMAC-SHA-256(installation secret, principal name), first 16 bytes.
// The same derivation gives an unknown name a stable salt for the mock exchange, so the salt
// never tells whether a principal exists.
import { createHash, createHmac, pbkdf2 } from 'node:crypto';
import { promisify } from 'node:util';

export const SCRAM_ITERATIONS = 4096;
export const SCRAM_SALT_BYTES = 16;

const pbkdf2Async = promisify(pbkdf2);

export interface ScramVerifier {
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
}

function hmac(key: Buffer, data: string | Buffer): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/**
 * SASLprep, as PostgreSQL applies it: NFKC normalisation; a password that is not valid for
 * SASLprep is used as raw bytes (PostgreSQL does the same, so both sides agree). Sluice keys
 * are ASCII, so for them this is the identity; the door's client half needs the full rule.
 */
export function saslPrep(password: string): string {
  // RFC 4013 §2.1: some characters map to nothing, non-ASCII spaces to a space; then NFKC.
  let mapped = '';
  for (const ch of password) {
    const cp = ch.codePointAt(0)!;
    if (cp === 0xad || cp === 0x34f || cp === 0x1806 || (cp >= 0x180b && cp <= 0x180d) || (cp >= 0x200b && cp <= 0x200d) || cp === 0x2060 || (cp >= 0xfe00 && cp <= 0xfe0f) || cp === 0xfeff) continue;
    mapped += cp === 0xa0 || cp === 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp === 0x202f || cp === 0x205f || cp === 0x3000 ? ' ' : ch;
  }
  const normalised = mapped.normalize('NFKC');
  // Prohibited: control characters; then fall back to the raw password like PostgreSQL.
  for (const ch of normalised) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) return password;
  }
  return normalised;
}

function fromSalted(salted: Buffer, salt: Buffer, iterations: number): ScramVerifier {
  return {
    salt,
    iterations,
    storedKey: createHash('sha256').update(hmac(salted, 'Client Key')).digest(),
    serverKey: hmac(salted, 'Server Key'),
  };
}

/** The verifier for a secret, off the event loop (PBKDF2 runs in libuv's thread pool). */
export async function computeScramVerifier(secret: string, salt: Buffer, iterations = SCRAM_ITERATIONS): Promise<ScramVerifier> {
  return fromSalted(await pbkdf2Async(saslPrep(secret), salt, iterations, 32, 'sha256'), salt, iterations);
}

/** The principal's salt: the same for all its keys, and for a name no key belongs to. */
export function principalSalt(installationSecret: Buffer, principal: string): Buffer {
  return createHmac('sha256', installationSecret).update(principal, 'utf8').digest().subarray(0, SCRAM_SALT_BYTES);
}

/** PostgreSQL's text form of a verifier (as in pg_authid.rolpassword). */
export function encodeScramVerifier(v: ScramVerifier): string {
  return `SCRAM-SHA-256$${v.iterations}:${v.salt.toString('base64')}$${v.storedKey.toString('base64')}:${v.serverKey.toString('base64')}`;
}

const VERIFIER = /^SCRAM-SHA-256\$(\d{1,9}):([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2}):([A-Za-z0-9+/]+={0,2})$/;

/** Parses the text form; undefined for anything malformed (such a key cannot use SCRAM). */
export function decodeScramVerifier(text: string): ScramVerifier | undefined {
  const m = VERIFIER.exec(text);
  if (!m) return undefined;
  const iterations = Number(m[1]);
  const salt = Buffer.from(m[2]!, 'base64');
  const storedKey = Buffer.from(m[3]!, 'base64');
  const serverKey = Buffer.from(m[4]!, 'base64');
  if (iterations < 1 || salt.length === 0 || storedKey.length !== 32 || serverKey.length !== 32) return undefined;
  return { salt, iterations, storedKey, serverKey };
}
