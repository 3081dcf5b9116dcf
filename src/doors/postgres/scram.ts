// SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL uses it, both halves, on node:crypto.
// The client half logs Sluice into the upstream server with the injected password. The
// server half lets a client log into Sluice, but only given a SCRAM verifier for the secret
// (salt, iterations, StoredKey, ServerKey): see docs/doors/postgres.md for why Sluice API keys
// stored as SHA-256 hashes cannot be checked by SCRAM, and what the door does instead.
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

export const SCRAM_MECHANISM = 'SCRAM-SHA-256';

function hmac(key: Buffer, data: string | Buffer): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/**
 * SASLprep, as PostgreSQL applies it: NFKC normalisation; a password that is not valid for
 * SASLprep is used as raw bytes (PostgreSQL does the same, so both sides agree).
 */
function saslPrep(password: string): string {
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

export interface ScramVerifier {
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
}

/** The verifier PostgreSQL would store for this password (also useful for tests). */
export function scramVerifier(password: string, salt = randomBytes(16), iterations = 4096): ScramVerifier {
  const salted = pbkdf2Sync(saslPrep(password), salt, iterations, 32, 'sha256');
  return {
    salt,
    iterations,
    storedKey: sha256(hmac(salted, 'Client Key')),
    serverKey: hmac(salted, 'Server Key'),
  };
}

export class ScramError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScramError';
  }
}

function attributes(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq === 1) out.set(part[0]!, part.slice(2));
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Client

export class ScramClient {
  private readonly clientNonce = randomBytes(18).toString('base64');
  private clientFirstBare = '';
  private expectedServerSignature: Buffer | undefined;

  constructor(private readonly password: string) {}

  /** client-first-message. PostgreSQL takes the user from the startup message, so n= is empty. */
  first(): string {
    this.clientFirstBare = `n=*,r=${this.clientNonce}`;
    return `n,,${this.clientFirstBare}`;
  }

  /** client-final-message for the server-first-message. */
  final(serverFirst: string): string {
    const attrs = attributes(serverFirst);
    const nonce = attrs.get('r');
    const salt = attrs.get('s');
    const iterations = Number(attrs.get('i'));
    if (!nonce || !salt || !Number.isInteger(iterations) || iterations < 1) {
      throw new ScramError('the server sent an invalid SCRAM server-first-message');
    }
    if (!nonce.startsWith(this.clientNonce) || nonce.length === this.clientNonce.length) {
      throw new ScramError('the server nonce does not extend the client nonce');
    }
    const salted = pbkdf2Sync(saslPrep(this.password), Buffer.from(salt, 'base64'), iterations, 32, 'sha256');
    const clientKey = hmac(salted, 'Client Key');
    const storedKey = sha256(clientKey);
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const proof = xor(clientKey, hmac(storedKey, authMessage));
    this.expectedServerSignature = hmac(hmac(salted, 'Server Key'), authMessage);
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** Checks the server-final-message: proves the server knew the verifier too. */
  verify(serverFinal: string): void {
    const attrs = attributes(serverFinal);
    if (attrs.has('e')) throw new ScramError(`the server refused SCRAM authentication (${attrs.get('e')})`);
    const signature = Buffer.from(attrs.get('v') ?? '', 'base64');
    const expected = this.expectedServerSignature;
    if (!expected || signature.length !== expected.length || !timingSafeEqual(signature, expected)) {
      throw new ScramError('the server signature does not match: the upstream server could not prove it knows the password');
    }
  }
}

// ---------------------------------------------------------------------------------------
// Server

/**
 * One SCRAM exchange on the server side. Several candidate verifiers may be given when they
 * share salt and iteration count (all keys of one principal, say): the proof is checked
 * against each, and the one that matches is reported.
 */
export class ScramServer<T> {
  private readonly serverNonce = randomBytes(18).toString('base64');
  private clientFirstBare = '';
  private serverFirst = '';
  private nonce = '';

  constructor(
    private readonly salt: Buffer,
    private readonly iterations: number,
    private readonly candidates: readonly { verifier: ScramVerifier; value: T }[],
  ) {}

  /** Takes the client-first-message, returns the server-first-message. */
  first(clientFirst: string): string {
    // gs2-header: "n,," (no channel binding) or "y,," (client could, thinks we cannot).
    // "p=..." asks for channel binding, which this server does not offer.
    const match = /^([ny]),(?:a=[^,]*)?,(.*)$/.exec(clientFirst);
    if (!match) throw new ScramError('malformed SCRAM client-first-message (channel binding is not offered by this server)');
    this.clientFirstBare = match[2]!;
    const clientNonce = attributes(this.clientFirstBare).get('r');
    if (!clientNonce || !/^[\x21-\x2b\x2d-\x7e]+$/.test(clientNonce)) throw new ScramError('malformed SCRAM client nonce');
    this.nonce = clientNonce + this.serverNonce;
    this.serverFirst = `r=${this.nonce},s=${this.salt.toString('base64')},i=${this.iterations}`;
    return this.serverFirst;
  }

  /**
   * Takes the client-final-message. Returns the matching candidate's value and the
   * server-final-message, or undefined when the proof matches no candidate.
   */
  final(clientFinal: string): { value: T; serverFinal: string } | undefined {
    const proofAt = clientFinal.lastIndexOf(',p=');
    if (proofAt < 0) throw new ScramError('malformed SCRAM client-final-message');
    const withoutProof = clientFinal.slice(0, proofAt);
    const attrs = attributes(withoutProof);
    if (attrs.get('r') !== this.nonce) throw new ScramError('SCRAM nonce mismatch');
    const binding = attrs.get('c');
    if (binding !== 'biws' && binding !== 'eSws') throw new ScramError('unexpected SCRAM channel binding data');
    const proof = Buffer.from(clientFinal.slice(proofAt + 3), 'base64');
    if (proof.length !== 32) return undefined;
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    let found: { value: T; serverFinal: string } | undefined;
    // Every candidate is checked (no early exit), so timing does not tell which one matched.
    for (const { verifier, value } of this.candidates) {
      const clientKey = xor(proof, hmac(verifier.storedKey, authMessage));
      if (timingSafeEqual(sha256(clientKey), verifier.storedKey) && !found) {
        found = { value, serverFinal: `v=${hmac(verifier.serverKey, authMessage).toString('base64')}` };
      }
    }
    return found;
  }
}

// ---------------------------------------------------------------------------------------
// md5 (upstream only; PostgreSQL's legacy method)

export function md5Password(user: string, password: string, salt: Buffer): string {
  const inner = createHash('md5').update(password + user, 'utf8').digest('hex');
  return `md5${createHash('md5').update(Buffer.concat([Buffer.from(inner, 'utf8'), salt])).digest('hex')}`;
}
