// pgbench through the door, unchanged: `pgbench -i` (DROP/CREATE, COPY FROM STDIN, VACUUM,
// primary keys) and select-only runs in the simple, extended and prepared protocols, in a
// database made for this file. Only correctness is checked here; speed is bench/postgres-door.ts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { directSql, uniqueName } from '../../helpers.js';
import { hasProgram, run, startFixture, type DoorFixture } from './helpers.js';

const database = uniqueName('pgdoor_bench');

describe('postgres door: pgbench', () => {
  let f: DoorFixture;
  let key: string;
  let skip: string | false = false;

  before(async () => {
    if (!(await hasProgram('pgbench'))) {
      skip = 'pgbench is not installed';
      return;
    }
    await directSql(`CREATE DATABASE ${database}`);
    f = await startFixture({ connections: { bench: { kind: 'postgres', host: '127.0.0.1', port: 5432, database, user: 'root' } } });
    key = await f.key('alice');
  });

  after(async () => {
    await f?.close();
    if (!skip) await directSql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  });

  function pgbench(args: string[]) {
    return run('pgbench', ['-h', '127.0.0.1', '-p', String(f.door.address.port), '-U', 'alice', ...args, 'bench'], {
      env: { PGPASSWORD: key, PGSSLMODE: 'disable' },
      timeoutMs: 120_000,
    });
  }

  it('pgbench -i initialises through the door (COPY, VACUUM, keys)', async (t) => {
    if (skip) return t.skip(skip);
    const r = await pgbench(['-i', '-s', '1', '-q']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /done in/);
    // pgbench_accounts lives in the bench database, not in test: check through the door.
    const check = await run('psql', ['-X', '-A', '-t', '-d', f.url('alice', key, 'bench'), '-c', 'SELECT count(*) FROM pgbench_accounts'], {});
    assert.equal(check.stdout.trim(), '100000');
  });

  for (const mode of ['simple', 'extended', 'prepared']) {
    it(`pgbench -S -M ${mode} runs every transaction without failures`, async (t) => {
      if (skip) return t.skip(skip);
      const seen = new Set((await f.audit()).map((x) => x.actionId));
      const r = await pgbench(['-S', '-M', mode, '-c', '4', '-j', '2', '-t', '250', '-n']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /number of transactions actually processed: 1000\/1000/);
      assert.match(r.stdout, /number of failed transactions: 0/);
      // Every statement passed the gate: one decision per statement text sent (per Parse of
      // the named statement in prepared mode), and one outcome per execution.
      const records = (await f.audit()).filter((x) => !seen.has(x.actionId) && x.connection === 'bench' && /FROM pgbench_accounts WHERE aid =/.test(String(x.command ?? '')));
      const decisions = records.filter((x) => x.kind === 'decision');
      const sessions = new Set(decisions.map((x) => x.session)).size;
      assert.equal(sessions, 4, 'four pgbench clients');
      assert.equal(decisions.length, mode === 'prepared' ? 4 : 1000, `${mode}: decisions`);
      assert.ok(decisions.every((x) => x.effect === 'allow' && x.intent.class === 'read'));
      const ids = new Set(decisions.map((x) => x.actionId));
      const outcomes = (await f.audit({ kind: 'outcome' })).filter((x) => ids.has(x.actionId));
      assert.equal(outcomes.length, 1000, `${mode}: one outcome per execution`);
    });
  }

  it('pgbench TPC-B-like (writes, transactions) in prepared mode', async (t) => {
    if (skip) return t.skip(skip);
    const r = await pgbench(['-M', 'prepared', '-c', '2', '-t', '100', '-n']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /number of transactions actually processed: 200\/200/);
  });
});
