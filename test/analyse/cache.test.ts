// The analysis cache: bounds, recency, frozen results, and correctness with session state.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { Analyser, AnalysisSession } from '../../src/analyse/analyser.js';
import { CachingAnalyser, LruCache } from '../../src/analyse/cache.js';
import { analyserForKind, createAnalysers, languageForKind, UnknownAnalyser } from '../../src/analyse/index.js';
import { unknownIntent } from '../../src/analyse/intent.js';
import { createPostgresAnalyser, type PostgresAnalyser } from '../../src/analyse/postgres.js';
import { createShellAnalyser, type ShellAnalyser } from '../../src/analyse/shell.js';
import type { Intent } from '../../src/gate/types.js';

describe('LruCache', () => {
  it('evicts the least recently used entry beyond maxEntries', () => {
    const c = new LruCache<number>({ maxEntries: 3 });
    c.set('a', 1);
    c.set('b', 2);
    c.set('c', 3);
    assert.equal(c.get('a'), 1); // a is now the most recent
    c.set('d', 4);
    assert.equal(c.get('b'), undefined);
    assert.equal(c.get('a'), 1);
    assert.equal(c.get('c'), 3);
    assert.equal(c.get('d'), 4);
    assert.equal(c.size, 3);
  });

  it('bounds the total key length and skips keys that are too long', () => {
    const c = new LruCache<number>({ maxChars: 10, maxKeyLength: 6 });
    c.set('aaaa', 1);
    c.set('bbbb', 2);
    c.set('cccc', 3); // 12 chars: aaaa goes
    assert.equal(c.get('aaaa'), undefined);
    assert.equal(c.get('bbbb'), 2);
    c.set('toolongkey', 4);
    assert.equal(c.get('toolongkey'), undefined);
    c.set('bbbb', 5);
    assert.equal(c.get('bbbb'), 5);
    assert.equal(c.size, 2);
    c.delete('bbbb');
    c.clear();
    assert.equal(c.size, 0);
  });

  it('counts hits and misses', () => {
    const c = new LruCache<number>();
    c.get('x');
    c.set('x', 1);
    c.get('x');
    assert.equal(c.hits, 1);
    assert.equal(c.misses, 1);
  });
});

describe('CachingAnalyser', () => {
  let pg: PostgresAnalyser;
  let sh: ShellAnalyser;
  before(async () => {
    pg = await createPostgresAnalyser();
    sh = await createShellAnalyser();
  });

  it('serves repeated text from the cache, frozen', () => {
    const cache = new LruCache<Intent>();
    const a = new CachingAnalyser(pg, cache);
    const first = a.analyse('SELECT * FROM t WHERE id = 1');
    const second = a.analyse('SELECT * FROM t WHERE id = 1');
    assert.equal(second, first);
    assert.equal(cache.hits, 1);
    assert.ok(Object.isFrozen(first) && Object.isFrozen(first.objects.tables) && Object.isFrozen(first.parts[0]));
    assert.throws(() => {
      (first.flags as string[]).push('x');
    });
    assert.equal(a.analyse('SELECT * FROM t WHERE id = 1 ').class, 'read'); // different text, different entry
    assert.equal(cache.size, 2);
  });

  it('never serves PREPARE, EXECUTE or DEALLOCATE from the cache, so the session stays right', () => {
    const a = new CachingAnalyser(pg);
    const s: AnalysisSession = { prepared: new Map() };
    assert.equal(a.analyse('PREPARE p AS SELECT * FROM t', s).class, 'read');
    assert.equal(a.analyse('EXECUTE p', s).class, 'read');
    assert.equal(a.analyse('DEALLOCATE p', s).class, 'session');
    assert.equal(a.analyse('EXECUTE p', s).class, 'unknown');
    assert.equal(a.analyse('PREPARE p AS DELETE FROM t', s).class, 'write');
    assert.equal(a.analyse('EXECUTE p', s).class, 'write');
    // The same PREPARE text again still records into a fresh session.
    const s2: AnalysisSession = { prepared: new Map() };
    a.analyse('PREPARE p AS DELETE FROM t', s2);
    assert.equal(s2.prepared.get('p')?.class, 'write');
    assert.equal(a.analyse('EXECUTE p', { prepared: new Map() }).class, 'unknown');
    assert.equal(a.cache.size, 0);
  });

  it('keeps languages apart when analysers share one cache', () => {
    const cache = new LruCache<Intent>();
    const p = new CachingAnalyser(pg, cache);
    const s = new CachingAnalyser(sh, cache);
    assert.equal(s.analyse('ls').class, 'read');
    assert.equal(p.analyse('ls').class, 'unknown');
    assert.equal(s.analyse('ls').language, 'shell');
    assert.equal(cache.size, 2);
  });

  it('caches an analyser that cannot say only for calls without a session', () => {
    let calls = 0;
    const plain: Analyser = {
      language: 'x',
      analyse: () => {
        calls++;
        return unknownIntent('x', 'test');
      },
    };
    const a = new CachingAnalyser(plain);
    a.analyse('a');
    a.analyse('a');
    assert.equal(calls, 1);
    a.analyse('b', { prepared: new Map() });
    a.analyse('b', { prepared: new Map() });
    assert.equal(calls, 3);
  });
});

describe('analyser registry', () => {
  it('creates cached analysers for every language and maps connection kinds to them', async () => {
    const analysers = await createAnalysers();
    assert.deepEqual([...analysers.keys()].sort(), ['http', 'mysql', 'postgres', 'shell']);
    for (const analyser of analysers.values()) assert.ok(analyser instanceof CachingAnalyser);
    assert.equal(analyserForKind(analysers, 'postgres').analyse('DELETE FROM t').class, 'write');
    assert.equal(analyserForKind(analysers, 'PostgreSQL').language, 'postgres');
    assert.equal(analyserForKind(analysers, 'shell').analyse('rm x').class, 'write');
    assert.equal(analyserForKind(analysers, 'ssh').language, 'shell');
    assert.equal(analyserForKind(analysers, 'mariadb').analyse('/*!DELETE FROM t*/').class, 'write');
    assert.equal(analyserForKind(analysers, 'kubernetes').analyse('GET /api/v1/namespaces/a/pods').class, 'read');
    const other = analyserForKind(analysers, 'oracle');
    assert.ok(other instanceof UnknownAnalyser);
    const i = other.analyse('SELECT 1');
    assert.equal(i.class, 'unknown');
    assert.match(i.error ?? '', /no analyser/);
    assert.equal(languageForKind('oracle'), undefined);
  });
});
