// SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL uses it, both halves, on node:crypto.
// The client half logs Sluice into the upstream server with the injected password. The
// server half lets a client log into Sluice with a key or token whose verifier was stored when
// it was created (src/identity/scram.ts); see docs/doors/postgres.md.
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { saslPrep, type ScramVerifier } from '../../identity/scram.js';

export type { ScramVerifier } from '../../identity/scram.js';

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

/** The verifier PostgreSQL would store for this password (synchronous; for tests and tools). */
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
 * share salt and iteration count (all keys of one principal): the proof is checked against
 * each, and the one that matches is reported. With no candidates the exchange is a mock, as
 * PostgreSQL runs for an unknown user: it completes and fails like a wrong password.
 */
export class ScramServer<T> {
  private readonly serverNonce = randomBytes(18).toString('base64');
  private gs2Header = '';
  private clientFirstBare = '';
  private serverFirst = '';
  private nonce = '';
  private readonly candidates: readonly { verifier: ScramVerifier; value: T | undefined }[];

  constructor(
    private readonly salt: Buffer,
    private readonly iterations: number,
    candidates: readonly { verifier: ScramVerifier; value: T }[],
  ) {
    for (const c of candidates) {
      // A verifier made with another salt or count could never match what the client computes.
      if (!c.verifier.salt.equals(salt) || c.verifier.iterations !== iterations) throw new Error('SCRAM candidates must share the salt and iteration count');
    }
    // A mock exchange still does the same work, so its timing is that of a wrong password.
    this.candidates = candidates.length > 0 ? candidates : [{ verifier: { salt, iterations, storedKey: randomBytes(32), serverKey: randomBytes(32) }, value: undefined }];
  }

  /** Takes the client-first-message, returns the server-first-message. */
  first(clientFirst: string): string {
    // gs2-header: "n,," (no channel binding) or "y,," (client could, thinks we cannot: true,
    // this server offers no -PLUS mechanism). "p=..." asks for channel binding: refused.
    const match = /^([ny],(?:a=[^,]*)?,)(n=[^,]*,r=[^,]*(?:,.*)?)$/.exec(clientFirst);
    if (!match) throw new ScramError('malformed SCRAM client-first-message (channel binding is not offered by this server)');
    this.gs2Header = match[1]!;
    this.clientFirstBare = match[2]!;
    const attrs = attributes(this.clientFirstBare);
    // RFC 5802: a mandatory extension this server does not know must fail the exchange.
    if (attrs.has('m')) throw new ScramError('unsupported SCRAM extension');
    const clientNonce = attrs.get('r');
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
    if (!this.serverFirst) throw new ScramError('SCRAM client-final-message before client-first-message');
    const proofAt = clientFinal.lastIndexOf(',p=');
    if (proofAt < 0) throw new ScramError('malformed SCRAM client-final-message');
    const withoutProof = clientFinal.slice(0, proofAt);
    const attrs = attributes(withoutProof);
    // The channel binding attribute must repeat the gs2 header of the first message exactly,
    // or a man in the middle could have downgraded it.
    if (attrs.get('c') !== Buffer.from(this.gs2Header, 'utf8').toString('base64')) throw new ScramError('SCRAM channel binding data does not match the first message');
    if (attrs.get('r') !== this.nonce) throw new ScramError('SCRAM nonce mismatch');
    const proof = Buffer.from(clientFinal.slice(proofAt + 3), 'base64');
    if (proof.length !== 32) return undefined;
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    let found: { value: T; serverFinal: string } | undefined;
    // Every candidate is checked (no early exit), so timing does not tell which one matched.
    for (const { verifier, value } of this.candidates) {
      const clientKey = xor(proof, hmac(verifier.storedKey, authMessage));
      if (timingSafeEqual(sha256(clientKey), verifier.storedKey) && !found && value !== undefined) {
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
