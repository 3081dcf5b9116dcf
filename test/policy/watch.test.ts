import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { compilePolicy, PolicyHolder, type CompiledPolicy } from '../../src/policy/index.js';
import { action } from './helpers.js';

// The policy file in these tests is JSON: the holder never parses files itself, the
// loader the caller supplies does.
function policyText(effect: string, name = 'only'): string {
  return JSON.stringify({ rules: [{ name, effect }] });
}

async function waitFor(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

void describe('PolicyHolder', () => {
  let dir: string;
  let file: string;
  let loads: number;
  let errors: Error[];
  let changes: number;
  let holder: PolicyHolder | undefined;

  const load = async (): Promise<CompiledPolicy> => {
    loads++;
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { rules: unknown[] };
    return compilePolicy({ rules: parsed.rules as never });
  };

  async function start(extra: { debounceMs?: number; pollIntervalMs?: number } = {}): Promise<PolicyHolder> {
    holder = await PolicyHolder.start({
      files: file,
      load,
      onChange: () => changes++,
      onError: (e) => errors.push(e),
      debounceMs: 40,
      pollIntervalMs: 0,
      ...extra,
    });
    return holder;
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-policy-'));
    file = join(dir, 'sluice.json');
    writeFileSync(file, policyText('allow'));
    loads = 0;
    errors = [];
    changes = 0;
    holder = undefined;
  });

  afterEach(() => {
    holder?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  void it('loads at start and decides with the current policy', async () => {
    const h = await start();
    assert.equal(h.version, 1);
    assert.equal(h.decide(action()).effect, 'allow');
    assert.equal(h.current.rules[0]?.name, 'only');
  });

  void it('reloads when the file changes', async () => {
    const h = await start();
    writeFileSync(file, policyText('deny'));
    await waitFor(() => h.decide(action()).effect === 'deny', 'the new policy');
    assert.equal(h.version, 2);
    assert.equal(changes, 1);
    assert.deepEqual(errors, []);
  });

  void it('keeps the last good policy when the new file is broken, then recovers', async () => {
    const h = await start();
    writeFileSync(file, '{"rules": [{"name": "x", "effect": "permit"}]}');
    await waitFor(() => errors.length > 0, 'the error callback');
    assert.match(errors[0]?.message ?? '', /policy\.rules\[0\]\.effect/);
    assert.equal(h.decide(action()).effect, 'allow');
    assert.equal(h.version, 1);

    writeFileSync(file, '{ not json');
    await waitFor(() => errors.length > 1, 'the second error');
    assert.equal(h.decide(action()).effect, 'allow');

    writeFileSync(file, policyText('review'));
    await waitFor(() => h.decide(action()).effect === 'review', 'recovery');
    assert.equal(h.version, 2);
  });

  void it('follows editors that save by renaming a new file over the old one', async () => {
    const h = await start();
    for (const effect of ['deny', 'review']) {
      const tmp = join(dir, `.sluice.json.${effect}.swp`);
      writeFileSync(tmp, policyText(effect));
      renameSync(tmp, file);
      await waitFor(() => h.decide(action()).effect === effect, `the ${effect} policy`);
    }
  });

  void it('survives the file being deleted and created again', async () => {
    const h = await start();
    unlinkSync(file);
    await waitFor(() => errors.length > 0, 'the missing-file error');
    assert.equal(h.decide(action()).effect, 'allow');
    writeFileSync(file, policyText('deny'));
    await waitFor(() => h.decide(action()).effect === 'deny', 'the recreated file');
  });

  void it('debounces a burst of writes into one load', async () => {
    const h = await start({ debounceMs: 150 });
    const before = loads;
    for (let i = 0; i < 5; i++) {
      writeFileSync(file, policyText(i === 4 ? 'deny' : 'allow', `v${i}`));
      await sleep(10);
    }
    await waitFor(() => h.decide(action()).effect === 'deny', 'the last write');
    await sleep(200);
    assert.equal(loads - before, 1);
    assert.equal(h.current.rules[0]?.name, 'v4');
  });

  void it('notices changes by polling too', async () => {
    const h = new PolicyHolder(await load(), { files: [file], load, onError: (e) => errors.push(e), debounceMs: 10, pollIntervalMs: 50 });
    holder = h;
    h.watch();
    writeFileSync(file, policyText('deny'));
    await waitFor(() => h.decide(action()).effect === 'deny', 'the polled change');
  });

  void it('follows a symlink that is swapped to a new target (Kubernetes ConfigMap style)', async () => {
    for (const v of ['v1', 'v2']) {
      mkdirSync(join(dir, v));
      writeFileSync(join(dir, v, 'policy.json'), policyText(v === 'v1' ? 'allow' : 'deny'));
    }
    const link = join(dir, 'linked.json');
    symlinkSync(join(dir, 'v1', 'policy.json'), link);
    file = link;
    const h = await start({ pollIntervalMs: 50 });
    assert.equal(h.decide(action()).effect, 'allow');
    symlinkSync(join(dir, 'v2', 'policy.json'), `${link}.new`);
    renameSync(`${link}.new`, link);
    await waitFor(() => h.decide(action()).effect === 'deny', 'the swapped link');
  });

  void it('reload() reports success, never rejects, and folds concurrent calls', async () => {
    const h = await start();
    writeFileSync(file, '{');
    assert.equal(await h.reload(), false);
    writeFileSync(file, policyText('deny'));
    const before = loads;
    const results = await Promise.all([h.reload(), h.reload(), h.reload()]);
    assert.ok(results.every((r) => r === true));
    assert.ok(loads - before <= 2, `loads: ${loads - before}`);
    assert.equal(h.decide(action()).effect, 'deny');
  });

  void it('an error callback that throws does not escape', async () => {
    holder = await PolicyHolder.start({
      files: file,
      load,
      onError: () => {
        throw new Error('logger exploded');
      },
      debounceMs: 10,
      pollIntervalMs: 0,
    });
    writeFileSync(file, '{');
    assert.equal(await holder.reload(), false);
    assert.equal(holder.decide(action()).effect, 'allow');
  });

  void it('stops reloading after close()', async () => {
    const h = await start();
    h.close();
    writeFileSync(file, policyText('deny'));
    await sleep(150);
    assert.equal(h.decide(action()).effect, 'allow');
    assert.equal(await h.reload(), false);
  });

  void it('start() rejects when there is no good policy to begin with', async () => {
    writeFileSync(file, '{');
    await assert.rejects(PolicyHolder.start({ files: file, load, pollIntervalMs: 0 }));
  });
});
