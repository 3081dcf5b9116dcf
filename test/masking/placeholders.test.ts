// Placeholders and hashes come from keyed BLAKE2s written in JavaScript (blake2s.ts) under a
// subkey per scope and type, behind a bounded cache. The BLAKE2s bytes must be exactly
// node:crypto's (unkeyed) and the published vectors' (keyed); a placeholder must be the
// documented derivation, and a value must keep its placeholder after the cache has turned
// over or been shared with another scope.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { blake2s, KeyedBlake2s } from '../../src/masking/blake2s.js';
import { Placeholders } from '../../src/masking/placeholder.js';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

/** RFC 7693 Appendix E: the deterministic test sequence. */
function selftestSequence(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let a = Math.imul(0xdead4bad, seed);
  let b = 1;
  for (let i = 0; i < length; i++) {
    const t = (a + b) | 0;
    a = b;
    b = t;
    out[i] = (t >>> 24) & 0xff;
  }
  return out;
}

const counting = (length: number) => Uint8Array.from({ length }, (_, i) => i);

describe('BLAKE2s (blake2s.ts)', () => {
  it('unkeyed, equals node:crypto blake2s256 for random messages of 0 to 300 bytes', () => {
    for (let length = 0; length <= 300; length++) {
      const data = randomBytes(length);
      assert.equal(hex(blake2s(data)), createHash('blake2s256').update(data).digest('hex'), `length ${length}`);
    }
  });

  it('passes the RFC 7693 Appendix E self-test (keyed and unkeyed, 16 to 32-byte digests)', () => {
    const hashes: Uint8Array[] = [];
    for (const outLength of [16, 20, 28, 32]) {
      for (const inLength of [0, 3, 64, 65, 255, 1024]) {
        const input = selftestSequence(inLength, inLength);
        hashes.push(blake2s(input, undefined, outLength));
        hashes.push(blake2s(input, selftestSequence(outLength, outLength), outLength));
      }
    }
    const grand = blake2s(Buffer.concat(hashes));
    assert.equal(hex(grand), '6a411f08ce25adcdfb02aba641451cec53c598b24f4fc787fbdc88797f4c1dfe');
  });

  it('keyed, matches the BLAKE2 known-answer vectors (key 00..1f, input 00..n-1)', () => {
    const key = counting(32);
    const vectors: [number, string][] = [
      [0, '48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49'],
      [1, '40d15fee7c328830166ac3f918650f807e7e01e177258cdc0a39b11f598066f1'],
      [2, '6bb71300644cd3991b26ccd4d274acd1adeab8b1d7914546c1198bbe9fc9d803'],
      [78, '172ffc67153d12e0ca76a8b6cd5d4731885b39ce0cac93a8972a18006c8b8baf'],
      [164, '4f8ce1e51d2fe7f24043a904d898ebfc91975418753413aa099b795ecb35cedb'],
      [255, '3fb735061abc519dfe979e54c1ee5bfad0a9d858b3315bad34bde999efd724dd'],
    ];
    const keyed = new KeyedBlake2s(key);
    const out = new Uint8Array(32);
    for (const [length, expected] of vectors) {
      assert.equal(hex(blake2s(counting(length), key)), expected, `blake2s, length ${length}`);
      // The string form hashes UTF-8: bytes up to 127 are their own characters.
      if (length <= 128) {
        keyed.digest(String.fromCharCode(...counting(length)), out);
        assert.equal(hex(out), expected, `KeyedBlake2s, length ${length}`);
      }
    }
  });

  it('KeyedBlake2s of a string equals blake2s of its UTF-8 for every key length, ASCII or not', () => {
    const out = new Uint8Array(32);
    for (const keyLength of [1, 16, 31, 32]) {
      const key = randomBytes(keyLength);
      const keyed = new KeyedBlake2s(key);
      for (let length = 0; length <= 300; length += length < 130 ? 1 : 17) {
        for (const message of ['x'.repeat(length), `é${'a'.repeat(length)}`, `${'a'.repeat(length)}😀`, 'ü'.repeat(length)]) {
          keyed.digest(message, out);
          assert.equal(hex(out), hex(blake2s(Buffer.from(message, 'utf8'), key)), `key ${keyLength}, length ${message.length}`);
        }
      }
    }
    // Longer than the shared UTF-8 scratch buffer, then a short value through it again.
    const keyed = new KeyedBlake2s(counting(32));
    for (const message of ['é'.repeat(40_000), 'naïve']) {
      keyed.digest(message, out);
      assert.equal(hex(out), hex(blake2s(Buffer.from(message, 'utf8'), counting(32))));
    }
  });

  it('refuses keys and digest lengths outside the standard', () => {
    assert.throws(() => blake2s(new Uint8Array(1), new Uint8Array(33)), RangeError);
    assert.throws(() => blake2s(new Uint8Array(1), undefined, 33), RangeError);
    assert.throws(() => new KeyedBlake2s(new Uint8Array(0)), RangeError);
  });
});

describe('Placeholders', () => {
  const key = 'test-masking-key-0123456789abcdef';
  const alphabet = 'bcdfghjkmnpqrstv';
  /** The documented derivation, from node:crypto's HMAC and the vector-checked blake2s(). */
  function expected(parts: string[], value: string, bytes: number): string {
    const subkey = createHmac('sha256', key).update(JSON.stringify(parts)).digest();
    let letters = '';
    for (const byte of blake2s(Buffer.from(value, 'utf8'), subkey).subarray(0, bytes)) letters += alphabet[byte >> 4]! + alphabet[byte & 15]!;
    return letters;
  }

  it('are keyed BLAKE2s of the value under a subkey of scope and type, as documented', () => {
    const placeholders = new Placeholders(key);
    assert.equal(placeholders.placeholder('session:a', 'email', 'ada@example.com'), `SLUICE_EMAIL_${expected(['placeholder', 'session:a', 'email'], 'ada@example.com', 7)}`);
    assert.equal(placeholders.hash('email', 'ada@example.com'), `hash_${expected(['hash', 'email'], 'ada@example.com', 8)}`);
    assert.equal(placeholders.placeholder('global', 'api_key', ''), `SLUICE_API_KEY_${expected(['placeholder', 'global', 'api_key'], '', 7)}`);
    assert.match(placeholders.placeholder('global', 'email', 'x@example.com'), /^SLUICE_EMAIL_[bcdfghjkmnpqrstv]{14}$/);
    assert.match(placeholders.hash('card', '4242424242424242'), /^hash_[bcdfghjkmnpqrstv]{16}$/);
    // Another key: unrelated placeholders.
    assert.notEqual(new Placeholders('another-masking-key-0123456789').placeholder('session:a', 'email', 'ada@example.com'), placeholders.placeholder('session:a', 'email', 'ada@example.com'));
  });

  it('keep scope and type apart whatever they contain', () => {
    const placeholders = new Placeholders(key);
    // With plain NUL-joined input these two would be the same subkey.
    const a = placeholders.placeholder('session:a\0email', 'x', 'v').slice(-14);
    const b = placeholders.placeholder('session:a', 'email\0x', 'v').slice(-14);
    assert.notEqual(a, b);
  });

  it('stay the same after the cache has turned over, and differ by scope, type and value', () => {
    const placeholders = new Placeholders(key);
    const fresh = new Placeholders(key);
    const first = placeholders.placeholder('session:a', 'email', 'user0@example.com');
    for (let i = 0; i < 20_000; i++) placeholders.placeholder('session:a', 'email', `user${i}@example.com`);
    assert.equal(placeholders.placeholder('session:a', 'email', 'user0@example.com'), first);
    assert.equal(fresh.placeholder('session:a', 'email', 'user19999@example.com'), placeholders.placeholder('session:a', 'email', 'user19999@example.com'));
    assert.notEqual(placeholders.placeholder('session:b', 'email', 'user0@example.com'), first);
    assert.notEqual(placeholders.placeholder('session:a', 'phone', 'user0@example.com').slice(-14), first.slice(-14));
    assert.notEqual(placeholders.placeholder('session:a', 'email', 'user1@example.com'), first);
    assert.notEqual(placeholders.hash('email', 'user0@example.com'), placeholders.hash('email', 'user1@example.com'));
  });

  it('one value in turn in several scopes, types and hashes (one cache entry) gives each its own', () => {
    const placeholders = new Placeholders(key);
    const value = 'ada@example.com';
    const want = {
      a: `SLUICE_EMAIL_${expected(['placeholder', 'session:a', 'email'], value, 7)}`,
      b: `SLUICE_EMAIL_${expected(['placeholder', 'session:b', 'email'], value, 7)}`,
      name: `SLUICE_NAME_${expected(['placeholder', 'session:a', 'name'], value, 7)}`,
      hash: `hash_${expected(['hash', 'email'], value, 8)}`,
    };
    const minterA = placeholders.minter('session:a', 'email');
    for (let round = 0; round < 3; round++) {
      assert.equal(minterA.mint(value), want.a);
      assert.equal(placeholders.placeholder('session:b', 'email', value), want.b);
      assert.equal(placeholders.placeholder('session:a', 'name', value), want.name);
      assert.equal(placeholders.hash('email', value), want.hash);
      assert.equal(placeholders.placeholder('session:a', 'email', value), want.a);
    }
  });

  it('long values (not cached, own buffer) are the same derivation as short ones', () => {
    const placeholders = new Placeholders(key);
    for (const value of ['x'.repeat(300), 'é'.repeat(5000), `${'a'.repeat(2000)}😀`]) {
      const want = `SLUICE_NOTE_${expected(['placeholder', 'global', 'note'], value, 7)}`;
      assert.equal(placeholders.placeholder('global', 'note', value), want);
      assert.equal(placeholders.placeholder('global', 'note', value), want);
    }
    // A short value after a long one still uses the reusable buffer correctly.
    assert.equal(placeholders.placeholder('session:a', 'email', 'adé@example.com'), new Placeholders(key).placeholder('session:a', 'email', 'adé@example.com'));
  });

  it('survive many scopes (subkeys dropped and made again)', () => {
    const placeholders = new Placeholders(key);
    const first = placeholders.placeholder('session:0', 'email', 'ada@example.com');
    for (let i = 0; i < 5000; i++) placeholders.placeholder(`session:${i}`, 'email', 'ada@example.com');
    assert.equal(placeholders.placeholder('session:0', 'email', 'ada@example.com'), first);
  });
});
