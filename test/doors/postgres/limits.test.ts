// The door's limits as configured in sluice.yaml (listeners.postgres), through the real
// composition (startSluice: config, store, API, door): max_message_size refuses a larger
// statement from psql with 54000, auth_timeout closes a client that never logs in, and
// connect_timeout gives up on an upstream that accepts but never answers.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startSluice, type RunningSluice } from '../../../src/app/server.js';
import { loadConfigText } from '../../../src/config/load.js';
import { createKey } from '../../../src/identity/keys.js';
import { PG, tempDir } from '../../helpers.js';
import { RawClient, errorFields, psql, startupPacket } from './helpers.js';

describe('postgres door: limits from the config', () => {
  const dir = tempDir('sluice-pglimits-');
  let sluice: RunningSluice;
  let silent: net.Server;
  const held: net.Socket[] = [];
  let key: string;

  before(async () => {
    // An "upstream" that accepts connections and never says a word.
    silent = net.createServer((socket) => held.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const config = {
      store: { url: `sqlite:${join(dir.path, 'sluice.db')}` },
      listeners: {
        api: { address: '127.0.0.1:0' },
        postgres: { address: '127.0.0.1:0', tls: false, auth: 'password', max_message_size: '4KiB', auth_timeout: '1500ms', connect_timeout: '300ms' },
      },
      identities: { alice: { kind: 'human', groups: ['dba'] } },
      connections: {
        test: { kind: 'postgres', host: PG.host, port: PG.port, database: PG.database, user: PG.user },
        mute: { kind: 'postgres', host: '127.0.0.1', port: (silent.address() as net.AddressInfo).port, database: 'mute', user: 'nobody' },
      },
      policy: { rules: [{ name: 'allow-all', effect: 'allow' }] },
    };
    sluice = await startSluice(loadConfigText(stringify(config), join(dir.path, 'sluice.yaml'), dir.path));
    key = (await createKey(sluice.runtime.store, { principal: 'alice', kind: 'human', groups: [] })).key;
  });

  after(async () => {
    await sluice?.stop();
    for (const socket of held) socket.destroy();
    silent?.close();
    dir.remove();
  });

  const url = () => `postgresql://alice:${encodeURIComponent(key)}@127.0.0.1:${sluice.postgres!.address.port}/test?sslmode=disable`;

  it('max_message_size: a statement under it runs, one over it is refused with 54000 (psql)', async () => {
    const small = await psql(url(), `SELECT length('${'s'.repeat(3000)}');\n`);
    assert.equal(small.code, 0, small.stderr);
    assert.equal(small.stdout.trim(), '3000');
    const big = await psql(url(), `\\set VERBOSITY verbose\nSELECT length('${'b'.repeat(5000)}');\n`);
    assert.notEqual(big.code, 0);
    assert.match(big.stderr, /FATAL: {2}54000: message of type 'Q' is \d+ bytes, more than the limit of 4096 bytes/);
    assert.doesNotMatch(big.stdout, /5000/);
  });

  it('auth_timeout: a client that connects and never logs in is closed with 08006', async () => {
    const c = await RawClient.connect(sluice.postgres!.address.port);
    const got = await c.untilClosed();
    assert.equal(errorFields(got[0]!).C, '08006');
    assert.match(errorFields(got[0]!).M!, /did not finish within 1500 ms/);
  });

  it('connect_timeout: an upstream that never answers fails the login with 08006', async () => {
    const c = await RawClient.connect(sluice.postgres!.address.port);
    c.send(startupPacket({ user: 'alice', database: 'mute' }));
    const got: string[] = [];
    for (;;) {
      const m = await c.next().catch(() => undefined);
      if (!m) break;
      if (m.type === 'R' && m.bytes.readInt32BE(5) === 3) c.send(Buffer.concat([Buffer.from('p'), int32(key.length + 5), Buffer.from(key), Buffer.from([0])]));
      if (m.type === 'E') got.push(`${errorFields(m).C} ${errorFields(m).M}`);
    }
    assert.equal(got.length, 1, got.join('\n'));
    assert.match(got[0]!, /^08006 .*connection "mute".*within 300 ms/);
  });
});

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}
