// A self-signed TLS certificate, made with node:crypto alone. Node can create keys and sign,
// but has no certificate builder; rather than shell out to the `openssl` CLI (absent on
// Windows and in slim containers, and one more thing to go wrong on first start) this file
// writes the X.509 DER by hand: an ECDSA P-256 key, SHA-256 signature, subjectAltName for the
// names the door listens on, basicConstraints CA:TRUE so that a client can use the
// certificate itself as its root (`sslrootcert=` with `sslmode=verify-full`), as
// `openssl req -x509` does.
import { createHash, generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';

// --- DER encoding -----------------------------------------------------------------------

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  let header: Buffer;
  if (n < 0x80) header = Buffer.from([tag, n]);
  else if (n < 0x100) header = Buffer.from([tag, 0x81, n]);
  else if (n < 0x10000) header = Buffer.from([tag, 0x82, n >> 8, n & 0xff]);
  else header = Buffer.from([tag, 0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
  return Buffer.concat([header, content]);
}

const seq = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items));
const octets = (b: Buffer) => tlv(0x04, b);
const bitString = (b: Buffer) => tlv(0x03, Buffer.concat([Buffer.from([0]), b]));
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));
const explicit = (n: number, inner: Buffer) => tlv(0xa0 + n, inner);

function integer(bytes: Buffer): Buffer {
  let b = bytes;
  while (b.length > 1 && b[0] === 0 && (b[1]! & 0x80) === 0) b = b.subarray(1);
  if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
}

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const bytes = [40 * parts[0]! + parts[1]!];
  for (const part of parts.slice(2)) {
    const stack = [part & 0x7f];
    let v = part >>> 7;
    while (v > 0) {
      stack.unshift((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    bytes.push(...stack);
  }
  return tlv(0x06, Buffer.from(bytes));
}

function time(date: Date): Buffer {
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const y = date.getUTCFullYear();
  const rest = `${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}Z`;
  // RFC 5280: UTCTime through 2049, GeneralizedTime from 2050.
  return y < 2050 ? tlv(0x17, Buffer.from(`${pad(y % 100)}${rest}`)) : tlv(0x18, Buffer.from(`${pad(y, 4)}${rest}`));
}

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  // IPv6: expand "::".
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g || '0', 16), i * 2));
  return out;
}

// --- The certificate --------------------------------------------------------------------

export interface SelfSignedOptions {
  /** Subject common name. Default `sluice`. */
  commonName?: string;
  /** DNS names and IP addresses for subjectAltName. Default localhost, 127.0.0.1, ::1. */
  hosts?: string[];
  /** Validity in days. Default 825 (what browsers accept, a sane upper bound anyway). */
  days?: number;
}

export interface GeneratedCertificate {
  certPem: string;
  keyPem: string;
  /** SHA-256 fingerprint, colon-separated hex, for logs. */
  fingerprint256: string;
}

export function generateSelfSignedCertificate(options: SelfSignedOptions = {}): GeneratedCertificate {
  const commonName = options.commonName ?? 'sluice';
  const hosts = options.hosts ?? ['localhost', '127.0.0.1', '::1'];
  const days = options.days ?? 825;
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });

  const ecdsaWithSha256 = seq(oid('1.2.840.10045.4.3.2'));
  const name = seq(set(seq(oid('2.5.4.3'), utf8(commonName))));
  const now = Date.now();
  const notBefore = new Date(now - 60 * 60 * 1000);
  const notAfter = new Date(now + days * 86_400_000);
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f;

  // The subject public key bit string, hashed for the key identifiers (RFC 5280 method 1).
  const keyBits = spki.subarray(spki.length - 65);
  const keyId = createHash('sha1').update(keyBits).digest();

  const altNames = hosts.map((h) => (isIP(h) ? tlv(0x87, ipBytes(h)) : tlv(0x82, Buffer.from(h, 'ascii'))));
  const extensions = seq(
    seq(oid('2.5.29.19'), bool(true), octets(seq(bool(true)))), // basicConstraints: critical, CA:TRUE
    seq(oid('2.5.29.14'), octets(octets(keyId))), // subjectKeyIdentifier
    seq(oid('2.5.29.35'), octets(seq(tlv(0x80, keyId)))), // authorityKeyIdentifier
    seq(oid('2.5.29.17'), octets(seq(...altNames))), // subjectAltName
  );

  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))), // v3
    integer(serial),
    ecdsaWithSha256,
    name,
    seq(time(notBefore), time(notAfter)),
    name,
    spki,
    explicit(3, extensions),
  );
  const signature = sign('sha256', tbs, privateKey); // DER-encoded ECDSA signature
  const der = seq(tbs, ecdsaWithSha256, bitString(signature));

  const certPem = `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`;
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const x509 = new X509Certificate(certPem);
  if (!x509.verify(publicKey)) throw new Error('the generated certificate does not verify');
  return { certPem, keyPem, fingerprint256: x509.fingerprint256 };
}
