// A door session lives only as long as the key or token it logged in with: expiry and
// revocation end sessions that are already open, not only new logins.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createKey } from '../../../src/identity/keys.js';
import { startFixture, type DoorFixture } from './helpers.js';

describe('postgres door: credential lifetime', () => {
  let f: DoorFixture;
  before(async () => {
    f = await startFixture({ door: { credentialRecheckMs: 200 } });
  });
  after(async () => {
    await f.close();
  });

  async function connect(key: string): Promise<{ client: pg.Client; ended: Promise<Error | undefined> }> {
    const client = new pg.Client(f.client('alice', key));
    let error: Error | undefined;
    const ended = new Promise<Error | undefined>((resolve) => {
      client.on('error', (e) => (error ??= e));
      client.on('end', () => resolve(error));
    });
    await client.connect();
    return { client, ended };
  }

  it('ends an open session when its token expires', { timeout: 20_000 }, async () => {
    const token = await createKey(f.runtime.store, { principal: 'alice', kind: 'human', groups: [], ttlMs: 1500, token: true });
    const { client, ended } = await connect(token.key);
    assert.equal((await client.query('SELECT 1 AS one')).rows[0].one, 1, 'usable before expiry');
    const error = await ended;
    assert.ok(error, 'the client was told why');
    assert.match(String(error.message), /expired/);
    assert.equal((error as { code?: string }).code, '28P01');
    await assert.rejects(client.query('SELECT 1'));
  });

  it('ends an open session when its key is revoked', { timeout: 20_000 }, async () => {
    const key = await createKey(f.runtime.store, { principal: 'alice', kind: 'human', groups: [] });
    const { client, ended } = await connect(key.key);
    assert.equal((await client.query('SELECT 2 AS two')).rows[0].two, 2);
    assert.equal(await f.runtime.store.revokeKey(key.record.id, new Date().toISOString()), true);
    const error = await ended;
    assert.ok(error);
    assert.match(String(error.message), /revoked/);
    await assert.rejects(client.query('SELECT 1'));
  });

  it('leaves a session with a valid key alone', async () => {
    const key = await createKey(f.runtime.store, { principal: 'alice', kind: 'human', groups: [] });
    const { client } = await connect(key.key);
    try {
      // Several recheck periods pass; the session keeps working.
      await new Promise((r) => setTimeout(r, 800));
      assert.equal((await client.query('SELECT 3 AS three')).rows[0].three, 3);
    } finally {
      await client.end();
    }
  });
});
