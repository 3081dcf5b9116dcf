// The analysis cache: bounds, recency, frozen results, and correctness with session state.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { Analyser, AnalysisSession } from '../../src/analyse/analyser.js';
import { CachingAnalyser, LruCache } from '../../src/analyse/cache.js';
import { analyserForKind, createAnalysers, languageForKind, UnknownAnalyser } from '../../src/analyse/index.js';
import { unknownIntent } from '../../src/analyse/intent.js';
import { createPostgresAnalyser, type PostgresAnalyser } from '../../src/analyse/postgres.js';
import { createShellAnalyser, type ShellAnalyser } from '../../src/analyse/shell.js';
import { postgresShape } from '../../src/analyse/sql-shape.js';
import type { Intent } from '../../src/gate/types.js';
import { directSql, uniqueName } from '../helpers.js';

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
    assert.deepEqual([...analysers.keys()].sort(), ['http', 'mcp', 'mysql', 'postgres', 'shell']);
    // mcp is not cached: a tool's class follows its upstream's annotations, which can change.
    for (const analyser of analysers.values()) assert.ok(analyser instanceof CachingAnalyser || analyser.language === 'mcp');
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

describe('shape cache', () => {
  let pg: PostgresAnalyser;
  before(async () => {
    pg = await createPostgresAnalyser();
  });

  function shaped(analyser: Analyser = pg): CachingAnalyser {
    return new CachingAnalyser(analyser, new LruCache<Intent>(), { shape: postgresShape });
  }

  it('serves a statement with other literals from the shape of the first, frozen', () => {
    const a = shaped();
    const first = a.analyse("SELECT * FROM orders WHERE customer_id = 1 AND status = 'open' LIMIT 20");
    const second = a.analyse("SELECT * FROM orders WHERE customer_id = 99 AND status = 'closed' LIMIT 5");
    assert.equal(second, first);
    assert.equal(a.shapeCache?.hits, 1);
    assert.ok(Object.isFrozen(second) && Object.isFrozen(second.objects.tables));
    // The miss was stored under its exact text too; the shape hit was not.
    assert.equal(a.cache.size, 1);
    assert.equal(a.shapeCache?.size, 1);
    // A literal the analyser does read is part of the shape: a different value is a miss.
    a.analyse("SELECT * FROM t WHERE a = 1 AND pg_read_file('x') = 'y'");
    const read = a.analyse("SELECT * FROM t WHERE a = 2 AND pg_read_file('/etc/passwd') = 'y'");
    assert.equal(a.shapeCache?.hits, 1);
    assert.deepEqual(read.flags, ['file_access', 'side_effect_function']);
  });

  it('keeps shapes apart from real texts: a text that spells a shape key is analysed itself', () => {
    const a = shaped();
    assert.equal(a.analyse('SELECT abalance FROM pgbench_accounts WHERE aid = 1;').class, 'read');
    const spelled = a.analyse('SELECT abalance FROM pgbench_accounts WHERE aid = $n;');
    assert.equal(spelled.class, 'unknown');
    assert.equal(a.shapeCache?.hits, 0);
    const one = new LruCache<Intent>();
    assert.throws(() => new CachingAnalyser(pg, one, { shape: postgresShape, shapeCache: one }), /must not be the text cache/);
  });

  it('never stores unknown or uncacheable results under a shape', async () => {
    const a = shaped();
    // A syntax error that quotes the token after the literal.
    const bad = a.analyse('SELECT * FROM t WHERE a = 1 AND b = 2 FOR FOR');
    assert.equal(bad.class, 'unknown');
    assert.match(bad.error ?? '', /syntax error/);
    assert.equal(a.shapeCache?.size, 0);
    assert.equal(a.cache.size, 1);
    // Too deep to analyse: not cacheable, stored nowhere.
    const shallow = shaped(await createPostgresAnalyser({ maxDepth: 4 }));
    assert.equal(shallow.analyse('SELECT * FROM t WHERE a = 1').class, 'unknown');
    assert.equal(shallow.shapeCache?.size, 0);
    assert.equal(shallow.cache.size, 0);
  });

  it('is used only by analysers that opt in: PostgreSQL, not MySQL', async () => {
    const analysers = await createAnalysers();
    const postgres = analysers.get('postgres') as CachingAnalyser;
    const mysql = analysers.get('mysql') as CachingAnalyser;
    postgres.analyse('SELECT * FROM t WHERE id = 1');
    postgres.analyse('SELECT * FROM t WHERE id = 2');
    assert.equal(postgres.shapeCache?.hits, 1);
    assert.equal(mysql.shapeCache, undefined);
    // An input limit below the shaped length would let long texts share short ones' Intents.
    const limited = (await createAnalysers({ postgres: { maxInputLength: 100 } })).get('postgres') as CachingAnalyser;
    assert.equal(limited.shapeCache, undefined);
  });
});

describe('shape cache with pgbench -S', () => {
  const database = uniqueName('shape_pgbench');
  let texts: string[] = [];
  let skip: string | false = false;
  let pg: PostgresAnalyser;

  before(async () => {
    pg = await createPostgresAnalyser();
    const run = promisify(execFile);
    try {
      await run('pgbench', ['--version']);
    } catch {
      skip = 'pgbench is not installed';
      return;
    }
    await directSql(`CREATE DATABASE ${database}`);
    const conn = ['-h', '127.0.0.1', '-p', '5432', '-U', 'root'];
    await run('pgbench', [...conn, '-i', '-s', '1', '-q', '-I', 'dtG', database]);
    // --debug prints every command as it is sent.
    const r = await run('pgbench', [...conn, '-S', '-M', 'simple', '-n', '-t', '20', '--debug', database]);
    texts = [...r.stderr.matchAll(/client \d+ sending (.*)$/gm)].map((m) => m[1] as string);
  });

  after(async () => {
    if (!skip) await directSql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  });

  it("serves pgbench -S's statement from the shape cache after the first miss", async (t) => {
    if (skip) return t.skip(skip);
    const distinct = new Set(texts);
    assert.ok(distinct.size >= 10, `pgbench sent ${texts.length} statements: ${texts.slice(0, 3).join(' | ')}`);
    const a = (await createAnalysers()).get('postgres') as CachingAnalyser;
    const intents = [...distinct].map((text) => a.analyse(text));
    assert.equal(a.shapeCache?.misses, 1);
    assert.equal(a.shapeCache?.hits, distinct.size - 1);
    for (const [i, text] of [...distinct].entries()) assert.deepEqual(intents[i], pg.analyse(text));
    assert.equal(intents[0]?.class, 'read');
    assert.deepEqual(intents[0]?.objects.tables, [{ name: 'pgbench_accounts', access: 'read' }]);
  });
});
