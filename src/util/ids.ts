// Identifiers: random, URL-safe, and prefixed by what they name so they can be told apart
// in logs and CLI output.
import { randomBytes, randomFillSync } from 'node:crypto';

export function newId(prefix: string, bytes = 9): string {
  return `${prefix}_${randomBytes(bytes).toString('base64url')}`;
}

// UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then randomness. Action ids are indexed
// in the audit store; time-ordered ids append to the end of that index instead of touching a
// random leaf page per record, which makes each audit commit write far fewer pages. Within one
// millisecond a 12-bit counter in rand_a keeps ids generated here in order.
const random = Buffer.alloc(4096);
let randomPos = random.length;
let lastMs = -1;
let counter = 0;

function randomChunk(n: number): Buffer {
  if (randomPos + n > random.length) {
    randomFillSync(random);
    randomPos = 0;
  }
  const chunk = random.subarray(randomPos, randomPos + n);
  randomPos += n;
  return chunk;
}

export function newUuid(now: number = Date.now()): string {
  let ms = now;
  if (ms <= lastMs) {
    ms = lastMs;
    counter++;
    if (counter > 0xfff) {
      // 4096 ids in one millisecond: borrow the next millisecond rather than repeat an order.
      ms = lastMs + 1;
      counter = 0;
    }
  } else {
    counter = 0;
  }
  lastMs = ms;
  const r = randomChunk(8);
  const b = Buffer.allocUnsafe(16);
  b.writeUIntBE(ms, 0, 6);
  b[6] = 0x70 | (counter >> 8);
  b[7] = counter & 0xff;
  b[8] = 0x80 | (r[0]! & 0x3f);
  r.copy(b, 9, 1, 8);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
