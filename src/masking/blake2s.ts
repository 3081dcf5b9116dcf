// BLAKE2s (RFC 7693) in JavaScript, for placeholders and hashes. Keyed BLAKE2s is a MAC by
// design (prefix-key mode, RFC 7693 section 2.5): the key fills the first block. `KeyedBlake2s`
// keeps the state after that block, so a value of up to 64 bytes costs one compression, with
// no native call, Buffer or string built per value. Checked against node:crypto's unkeyed
// blake2s256 and the published keyed vectors (test/masking/placeholders.test.ts).

const IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19].map((word) => word | 0);
const [IV0, IV1, IV2, IV3, IV4, IV5, IV6, IV7] = IV as [number, number, number, number, number, number, number, number];

/** The message word schedule of the ten rounds, 16 indices per round. */
const S = Uint8Array.from([
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
  14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3,
  11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4,
  7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8,
  9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13,
  2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9,
  12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11,
  13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10,
  6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5,
  10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0,
]);

/** Compresses the block in `m` (16 little-endian words) into `h`; `t` counts the bytes so far, this block's included. */
function compress(h: Int32Array, m: Int32Array, t: number, last: boolean): void {
  let v0 = h[0]!;
  let v1 = h[1]!;
  let v2 = h[2]!;
  let v3 = h[3]!;
  let v4 = h[4]!;
  let v5 = h[5]!;
  let v6 = h[6]!;
  let v7 = h[7]!;
  let v8 = IV0;
  let v9 = IV1;
  let v10 = IV2;
  let v11 = IV3;
  let v12 = IV4 ^ (t | 0);
  let v13 = IV5 ^ (Math.floor(t / 0x100000000) | 0);
  let v14 = last ? ~IV6 : IV6;
  let v15 = IV7;
  for (let r = 0; r < 160; r += 16) {
    // Columns.
    v0 = (v0 + v4 + m[S[r + 0]!]!) | 0; v12 ^= v0; v12 = (v12 >>> 16) | (v12 << 16);
    v8 = (v8 + v12) | 0; v4 ^= v8; v4 = (v4 >>> 12) | (v4 << 20);
    v0 = (v0 + v4 + m[S[r + 1]!]!) | 0; v12 ^= v0; v12 = (v12 >>> 8) | (v12 << 24);
    v8 = (v8 + v12) | 0; v4 ^= v8; v4 = (v4 >>> 7) | (v4 << 25);
    v1 = (v1 + v5 + m[S[r + 2]!]!) | 0; v13 ^= v1; v13 = (v13 >>> 16) | (v13 << 16);
    v9 = (v9 + v13) | 0; v5 ^= v9; v5 = (v5 >>> 12) | (v5 << 20);
    v1 = (v1 + v5 + m[S[r + 3]!]!) | 0; v13 ^= v1; v13 = (v13 >>> 8) | (v13 << 24);
    v9 = (v9 + v13) | 0; v5 ^= v9; v5 = (v5 >>> 7) | (v5 << 25);
    v2 = (v2 + v6 + m[S[r + 4]!]!) | 0; v14 ^= v2; v14 = (v14 >>> 16) | (v14 << 16);
    v10 = (v10 + v14) | 0; v6 ^= v10; v6 = (v6 >>> 12) | (v6 << 20);
    v2 = (v2 + v6 + m[S[r + 5]!]!) | 0; v14 ^= v2; v14 = (v14 >>> 8) | (v14 << 24);
    v10 = (v10 + v14) | 0; v6 ^= v10; v6 = (v6 >>> 7) | (v6 << 25);
    v3 = (v3 + v7 + m[S[r + 6]!]!) | 0; v15 ^= v3; v15 = (v15 >>> 16) | (v15 << 16);
    v11 = (v11 + v15) | 0; v7 ^= v11; v7 = (v7 >>> 12) | (v7 << 20);
    v3 = (v3 + v7 + m[S[r + 7]!]!) | 0; v15 ^= v3; v15 = (v15 >>> 8) | (v15 << 24);
    v11 = (v11 + v15) | 0; v7 ^= v11; v7 = (v7 >>> 7) | (v7 << 25);
    // Diagonals.
    v0 = (v0 + v5 + m[S[r + 8]!]!) | 0; v15 ^= v0; v15 = (v15 >>> 16) | (v15 << 16);
    v10 = (v10 + v15) | 0; v5 ^= v10; v5 = (v5 >>> 12) | (v5 << 20);
    v0 = (v0 + v5 + m[S[r + 9]!]!) | 0; v15 ^= v0; v15 = (v15 >>> 8) | (v15 << 24);
    v10 = (v10 + v15) | 0; v5 ^= v10; v5 = (v5 >>> 7) | (v5 << 25);
    v1 = (v1 + v6 + m[S[r + 10]!]!) | 0; v12 ^= v1; v12 = (v12 >>> 16) | (v12 << 16);
    v11 = (v11 + v12) | 0; v6 ^= v11; v6 = (v6 >>> 12) | (v6 << 20);
    v1 = (v1 + v6 + m[S[r + 11]!]!) | 0; v12 ^= v1; v12 = (v12 >>> 8) | (v12 << 24);
    v11 = (v11 + v12) | 0; v6 ^= v11; v6 = (v6 >>> 7) | (v6 << 25);
    v2 = (v2 + v7 + m[S[r + 12]!]!) | 0; v13 ^= v2; v13 = (v13 >>> 16) | (v13 << 16);
    v8 = (v8 + v13) | 0; v7 ^= v8; v7 = (v7 >>> 12) | (v7 << 20);
    v2 = (v2 + v7 + m[S[r + 13]!]!) | 0; v13 ^= v2; v13 = (v13 >>> 8) | (v13 << 24);
    v8 = (v8 + v13) | 0; v7 ^= v8; v7 = (v7 >>> 7) | (v7 << 25);
    v3 = (v3 + v4 + m[S[r + 14]!]!) | 0; v14 ^= v3; v14 = (v14 >>> 16) | (v14 << 16);
    v9 = (v9 + v14) | 0; v4 ^= v9; v4 = (v4 >>> 12) | (v4 << 20);
    v3 = (v3 + v4 + m[S[r + 15]!]!) | 0; v14 ^= v3; v14 = (v14 >>> 8) | (v14 << 24);
    v9 = (v9 + v14) | 0; v4 ^= v9; v4 = (v4 >>> 7) | (v4 << 25);
  }
  h[0] = h[0]! ^ v0 ^ v8;
  h[1] = h[1]! ^ v1 ^ v9;
  h[2] = h[2]! ^ v2 ^ v10;
  h[3] = h[3]! ^ v3 ^ v11;
  h[4] = h[4]! ^ v4 ^ v12;
  h[5] = h[5]! ^ v5 ^ v13;
  h[6] = h[6]! ^ v6 ^ v14;
  h[7] = h[7]! ^ v7 ^ v15;
}

/** The parameter block's first word folded into the IV (sequential mode, no salt). */
function init(h: Int32Array, keyLength: number, outLength: number): void {
  for (let i = 0; i < 8; i++) h[i] = IV[i]!;
  h[0] = h[0]! ^ 0x01010000 ^ (keyLength << 8) ^ outLength;
}

/** The 16 words of the 64-byte block at `bytes[offset..]`, zero past `end`. */
function load(m: Int32Array, bytes: Uint8Array, offset: number, end: number): void {
  for (let i = 0; i < 16; i++) {
    let word = 0;
    for (let k = 3; k >= 0; k--) {
      const at = offset + i * 4 + k;
      word = (word << 8) | (at < end ? bytes[at]! : 0);
    }
    m[i] = word;
  }
}

function store(h: Int32Array, out: Uint8Array, length: number): void {
  for (let i = 0; i < length; i++) out[i] = (h[i >> 2]! >>> ((i & 3) * 8)) & 0xff;
}

/** Hashes `bytes[0..n)` into `h`, after `prefix` bytes already compressed (the key block). */
function hashBytes(h: Int32Array, m: Int32Array, bytes: Uint8Array, n: number, prefix: number): void {
  let at = 0;
  do {
    const end = Math.min(at + 64, n);
    load(m, bytes, at, end);
    compress(h, m, prefix + end, end === n);
    at = end;
  } while (at < n);
}

/**
 * BLAKE2s of `data`, keyed with up to 32 bytes or not, `outLength` (1 to 32) bytes long.
 * The general form, for tests and one-off uses; `KeyedBlake2s` is the fast one.
 */
export function blake2s(data: Uint8Array, key: Uint8Array = new Uint8Array(0), outLength = 32): Uint8Array {
  if (key.length > 32) throw new RangeError('a BLAKE2s key is at most 32 bytes');
  if (outLength < 1 || outLength > 32) throw new RangeError('a BLAKE2s digest is 1 to 32 bytes');
  const h = new Int32Array(8);
  const m = new Int32Array(16);
  init(h, key.length, outLength);
  if (key.length > 0) {
    load(m, key, 0, key.length);
    compress(h, m, 64, data.length === 0);
    if (data.length > 0) hashBytes(h, m, data, data.length, 64);
  } else {
    // Unkeyed, an empty message is still one (zero) block.
    if (data.length === 0) compress(h, m.fill(0), 0, true);
    else hashBytes(h, m, data, data.length, 0);
  }
  const out = new Uint8Array(outLength);
  store(h, out, outLength);
  return out;
}

const encoder = new TextEncoder();
// Scratch shared by every instance: JavaScript runs one digest at a time.
const H = new Int32Array(8);
const M = new Int32Array(16);
let scratch = new Uint8Array(1024);

/** Keyed BLAKE2s-256 of strings (UTF-8) under one key, the key block compressed once. */
export class KeyedBlake2s {
  /** The state after the key block, which is not the last one (the message is not empty). */
  private readonly keyed = new Int32Array(8);
  /** The digest of the empty message (the key block is then the last one). */
  private readonly empty: Uint8Array;

  constructor(key: Uint8Array) {
    if (key.length < 1 || key.length > 32) throw new RangeError('a BLAKE2s key is 1 to 32 bytes');
    const m = new Int32Array(16);
    load(m, key, 0, key.length);
    init(this.keyed, key.length, 32);
    compress(this.keyed, m, 64, false);
    const h = new Int32Array(8);
    init(h, key.length, 32);
    compress(h, m, 64, true);
    this.empty = new Uint8Array(32);
    store(h, this.empty, 32);
  }

  /** The 32-byte MAC of a string's UTF-8 bytes, written into `out` (reused by the caller). */
  digest(message: string, out: Uint8Array): void {
    const n = message.length;
    if (n === 0) {
      out.set(this.empty);
      return;
    }
    let ascii = true;
    for (let i = 0; i < n; i++) {
      if (message.charCodeAt(i) > 127) {
        ascii = false;
        break;
      }
    }
    const h = H;
    const m = M;
    h.set(this.keyed);
    if (ascii) {
      // Most values: the characters are the bytes, read straight into the message words.
      let at = 0;
      for (;;) {
        const end = at + 64;
        if (end < n) {
          for (let i = 0, j = at; i < 16; i++, j += 4) {
            m[i] = message.charCodeAt(j) | (message.charCodeAt(j + 1) << 8) | (message.charCodeAt(j + 2) << 16) | (message.charCodeAt(j + 3) << 24);
          }
          compress(h, m, 64 + end, false);
          at = end;
          continue;
        }
        for (let i = 0, j = at; i < 16; i++, j += 4) {
          let word = 0;
          for (let k = 3; k >= 0; k--) word = (word << 8) | (j + k < n ? message.charCodeAt(j + k) : 0);
          m[i] = word;
        }
        compress(h, m, 64 + n, true);
        break;
      }
    } else {
      // UTF-8 into the scratch buffer; a long value gets a buffer of its own, so that one
      // large cell does not pin memory for good.
      const size = n * 3;
      let bytes = scratch;
      if (size > bytes.length) {
        bytes = new Uint8Array(size);
        if (size <= 65536) scratch = bytes;
      }
      hashBytes(h, m, bytes, encoder.encodeInto(message, bytes).written, 64);
    }
    store(h, out, 32);
  }
}
