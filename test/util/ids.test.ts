import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newUuid } from '../../src/util/ids.js';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('newUuid (UUIDv7)', () => {
  it('has the v7 layout and carries the millisecond time in its first 48 bits', () => {
    const at = Date.UTC(2026, 10, 24, 4, 30, 0, 123);
    const id = newUuid(at + 10_000_000);
    assert.match(id, V7);
    const ms = parseInt(id.replace(/-/g, '').slice(0, 12), 16);
    assert.equal(ms, at + 10_000_000);
  });

  it('is strictly increasing as text, also many times within one millisecond and when the clock goes back', () => {
    const base = Date.now() + 20_000_000;
    const ids: string[] = [];
    for (let i = 0; i < 10_000; i++) ids.push(newUuid(base + (i % 3 === 2 ? -5 : Math.floor(i / 5000))));
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i - 1]! < ids[i]!, `${ids[i - 1]} < ${ids[i]}`);
    assert.equal(new Set(ids).size, ids.length);
    for (const id of ids) assert.match(id, V7);
  });

  it('differs in its random part between ids', () => {
    const tails = new Set(Array.from({ length: 1000 }, () => newUuid().slice(19)));
    assert.ok(tails.size > 990);
  });
});
