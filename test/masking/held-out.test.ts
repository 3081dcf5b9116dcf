// Issue 6's acceptance check: the held-out corpus (test/masking/corpus/held-out.jsonl, not
// used to tune the detectors' unit tests) run through `sluice mask --jsonl` as a user runs
// it. Every planted value is gone and reported with its type and span, nothing else is
// reported, and every look-alike comes out unchanged.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { tempDir } from '../helpers.js';
import { loadCorpus } from './helpers.js';

const BIN = resolve('bin/sluice.mjs');

describe('held-out corpus through sluice mask --jsonl', () => {
  const dir = tempDir('sluice-held-out-');
  after(() => dir.remove());
  const corpus = loadCorpus(new URL('./corpus/held-out.jsonl', import.meta.url));

  it('covers every kind of text, every type, and look-alike-only lines', () => {
    assert.deepEqual([...new Set(corpus.map((line) => line.kind))].sort(), ['config', 'csv', 'json', 'log', 'ticket']);
    const types = new Set(corpus.flatMap((line) => line.planted.map((p) => p.type)));
    for (const type of ['email', 'phone', 'card', 'iban', 'ssn', 'dob', 'name', 'address', 'secret']) assert.ok(types.has(type), type);
    assert.ok(corpus.filter((line) => line.planted.length === 0).length >= 10);
    assert.ok(corpus.reduce((n, line) => n + line.keep.length, 0) >= 100, 'enough look-alikes');
  });

  it('every sensitive value is gone, every look-alike unchanged, no other finding', () => {
    const input = `${corpus.map((line) => JSON.stringify({ text: line.text })).join('\n')}\n`;
    const r = spawnSync(process.execPath, [BIN, 'mask', '--jsonl'], {
      cwd: dir.path,
      input,
      encoding: 'utf8',
      env: { ...process.env, SLUICE_LOG_LEVEL: 'silent', SLUICE_CONFIG: '' },
      timeout: 60_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const out = r.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { text: string; findings: { type: string; start: number; end: number }[] });
    assert.equal(out.length, corpus.length);
    const problems: string[] = [];
    corpus.forEach((line, i) => {
      const got = out[i]!;
      for (const p of line.planted) {
        if (got.text.includes(p.value)) problems.push(`line ${i + 1}: a planted ${p.type} is still in the output`);
        if (!got.findings.some((f) => f.type === p.type && f.start === p.start && f.end === p.end)) problems.push(`line ${i + 1}: ${p.type} at ${p.start}-${p.end} not reported`);
      }
      for (const f of got.findings) {
        if (!line.planted.some((p) => p.type === f.type && p.start === f.start && p.end === f.end)) problems.push(`line ${i + 1}: unexpected ${f.type} ${JSON.stringify(line.text.slice(f.start, f.end))}`);
      }
      for (const keep of line.keep) if (!got.text.includes(keep)) problems.push(`line ${i + 1}: look-alike changed: ${JSON.stringify(keep)}`);
    });
    assert.deepEqual(problems, []);
  });
});
