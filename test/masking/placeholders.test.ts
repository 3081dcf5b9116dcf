// Placeholders and hashes come from an HMAC-SHA256 written in JavaScript (hmac.ts) behind a
// bounded cache: the bytes must be exactly node:crypto's, for every key length and for
// multi-byte text, and a value must keep its placeholder after the cache has turned over.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { HmacSha256 } from '../../src/masking/hmac.js';
import { Placeholders } from '../../src/masking/placeholder.js';

describe('HMAC-SHA256 (hmac.ts)', () => {
  it('equals node:crypto for keys of 16 to 100 bytes and messages of 0 to 300 characters, ASCII or not', () => {
    const out = new Uint8Array(32);
    for (const keyLength of [16, 32, 63, 64, 65, 100]) {
      const key = randomBytes(keyLength);
      const hmac = new HmacSha256(key);
      for (let length = 0; length <= 300; length += 7) {
        for (const message of ['x'.repeat(length), `p\0session:s\0email\0${'é'.repeat(length)}`, `${'a'.repeat(length)}😀`]) {
          hmac.digest(message, out);
          assert.deepEqual(Buffer.from(out), createHmac('sha256', key).update(message, 'utf8').digest(), `key ${keyLength}, length ${message.length}`);
        }
      }
    }
  });
});

describe('Placeholders', () => {
  const key = 'test-masking-key-0123456789abcdef';

  it('are the documented HMAC of scope, type and value', () => {
    const digest = createHmac('sha256', key).update('p\0session:a\0email\0ada@example.com').digest();
    const alphabet = 'bcdfghjkmnpqrstv';
    let letters = '';
    for (const byte of digest.subarray(0, 7)) letters += alphabet[byte >> 4]! + alphabet[byte & 15]!;
    assert.equal(new Placeholders(key).placeholder('session:a', 'email', 'ada@example.com'), `SLUICE_EMAIL_${letters}`);
    const hashDigest = createHmac('sha256', key).update('h\0email\0ada@example.com').digest();
    let hashLetters = '';
    for (const byte of hashDigest.subarray(0, 8)) hashLetters += alphabet[byte >> 4]! + alphabet[byte & 15]!;
    assert.equal(new Placeholders(key).hash('email', 'ada@example.com'), `hash_${hashLetters}`);
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

  it('long values (not cached, own buffer) are the same HMAC as short ones', () => {
    const placeholders = new Placeholders(key);
    for (const value of ['x'.repeat(300), 'é'.repeat(5000), `${'a'.repeat(2000)}😀`]) {
      const digest = createHmac('sha256', key).update(`p\0global\0note\0${value}`).digest();
      const alphabet = 'bcdfghjkmnpqrstv';
      let letters = '';
      for (const byte of digest.subarray(0, 7)) letters += alphabet[byte >> 4]! + alphabet[byte & 15]!;
      assert.equal(placeholders.placeholder('global', 'note', value), `SLUICE_NOTE_${letters}`);
      assert.equal(placeholders.placeholder('global', 'note', value), `SLUICE_NOTE_${letters}`);
    }
    // A short value after a long one still uses the reusable buffer correctly.
    assert.equal(placeholders.placeholder('session:a', 'email', 'ada@example.com'), new Placeholders(key).placeholder('session:a', 'email', 'ada@example.com'));
  });
});
