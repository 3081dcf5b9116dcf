import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openStore, parseStoreUrl } from '../../src/store/open.js';
import { StoreError, redactSecrets, redactUrl, urlSecrets } from '../../src/store/errors.js';
import type { SqliteStore } from '../../src/store/sqlite.js';
import { tempDir } from '../helpers.js';

void describe('store URLs', () => {
  void it('names the right store', () => {
    const cases: [string, ReturnType<typeof parseStoreUrl>][] = [
      ['postgres://u:p@h:5432/db', { kind: 'postgres', url: 'postgres://u:p@h:5432/db' }],
      ['postgresql://h/db', { kind: 'postgres', url: 'postgresql://h/db' }],
      ['POSTGRES://h/db', { kind: 'postgres', url: 'POSTGRES://h/db' }],
      ['sqlite:.sluice/sluice.db', { kind: 'sqlite', path: '.sluice/sluice.db' }],
      ['sqlite:///var/lib/sluice.db', { kind: 'sqlite', path: '/var/lib/sluice.db' }],
      ['sqlite://rel/x.db', { kind: 'sqlite', path: 'rel/x.db' }],
      ['sqlite::memory:', { kind: 'sqlite', path: ':memory:' }],
      ['file:data/x.db', { kind: 'sqlite', path: 'data/x.db' }],
      ['file:///tmp/a%20b.db', { kind: 'sqlite', path: '/tmp/a b.db' }],
      ['./x.db', { kind: 'sqlite', path: './x.db' }],
      ['/abs/x.db', { kind: 'sqlite', path: '/abs/x.db' }],
      [':memory:', { kind: 'sqlite', path: ':memory:' }],
      ['C:\\data\\x.db', { kind: 'sqlite', path: 'C:\\data\\x.db' }],
    ];
    for (const [url, expected] of cases) assert.deepStrictEqual(parseStoreUrl(url), expected, url);
  });

  void it('refuses empty and unknown URLs without echoing a password', () => {
    for (const url of ['', '   ', 'sqlite:', 'file:', 'mysql://root:topsecret@h/db', 'redis://:topsecret@h']) {
      assert.throws(
        () => parseStoreUrl(url),
        (e: unknown) => e instanceof StoreError && e.code === 'invalid' && !e.message.includes('topsecret'),
        url,
      );
    }
  });

  void it('redacts passwords in URLs and messages', () => {
    assert.equal(redactUrl('postgres://u:p%40ss@h:5432/db'), 'postgres://u:***@h:5432/db');
    assert.equal(redactUrl('postgres://u:pa@ss@h/db'), 'postgres://u:***@h/db');
    assert.equal(redactUrl('postgres://u@h/db'), 'postgres://u@h/db');
    assert.equal(redactUrl('postgres://h/db?sslmode=require&password=x&sslpassword=y'), 'postgres://h/db?sslmode=require&password=***&sslpassword=***');
    assert.equal(redactUrl('postgres://u:@h/db'), 'postgres://u:***@h/db');
    assert.deepStrictEqual(urlSecrets('postgres://u:p%40ss@h/db?password=q').sort(), ['p%40ss', 'p@ss', 'q'].sort());
    assert.equal(redactSecrets('failed for p@ss and p%40ss', urlSecrets('postgres://u:p%40ss@h/db')), 'failed for *** and ***');
  });

  void it('opens and migrates an embedded store from each URL form', async () => {
    const dir = tempDir();
    try {
      for (const url of [`sqlite:${join(dir.path, 'a.db')}`, `file:${join(dir.path, 'b.db')}`, join(dir.path, 'c', 'c.db'), 'sqlite::memory:']) {
        const store = await openStore(url);
        assert.equal(store.kind, 'sqlite');
        assert.equal((await store.auditHead()).seq, 0);
        await store.close();
      }
    } finally {
      dir.remove();
    }
  });

  void it('with migrate: false, checks the version but changes nothing', async () => {
    const dir = tempDir();
    try {
      const file = join(dir.path, 'x.db');
      const s = await openStore(file, { migrate: false });
      assert.equal(await (s as SqliteStore).schemaVersion(), 0);
      await s.close();
    } finally {
      dir.remove();
    }
  });
});
