// The labelled corpus (logs, configs, CSV, JSON, tickets) through the default profile:
// every planted value is found with its type and span and is gone from the output; every
// look-alike (invalid checksums, UUIDs, SHAs, versions, timestamps, ISBNs, amounts, prose
// about passwords) comes out unchanged. Precision and recall per type are printed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { defaultProfile, loadCorpus } from './helpers.js';

describe('masking corpus', () => {
  const corpus = loadCorpus();
  const profile = defaultProfile();

  it('has every kind of text and every type planted, and look-alikes', () => {
    const kinds = new Set(corpus.map((line) => line.kind));
    assert.deepEqual([...kinds].sort(), ['config', 'csv', 'json', 'log', 'ticket']);
    const types = new Set(corpus.flatMap((line) => line.planted.map((p) => p.type)));
    for (const type of ['email', 'phone', 'card', 'iban', 'ssn', 'dob', 'name', 'address', 'secret']) assert.ok(types.has(type), type);
    assert.ok(corpus.filter((line) => line.planted.length === 0).length >= 8, 'enough lines with look-alikes only');
  });

  it('recall 1.0 and no false positives, per type', () => {
    const stats: Record<string, { planted: number; found: number; reported: number; correct: number }> = {};
    const stat = (type: string) => (stats[type] ??= { planted: 0, found: 0, reported: 0, correct: 0 });
    const problems: string[] = [];
    for (const [n, line] of corpus.entries()) {
      const { text, findings } = profile.maskText(line.text);
      for (const p of line.planted) {
        stat(p.type).planted++;
        const hit = findings.find((f) => f.type === p.type && f.start === p.start && f.end === p.end);
        if (hit) stat(p.type).found++;
        else problems.push(`line ${n + 1}: missed ${p.type} at ${p.start}-${p.end} (found: ${JSON.stringify(findings.map(({ type, start, end }) => ({ type, start, end })))})`);
        if (text.includes(p.value)) problems.push(`line ${n + 1}: a planted ${p.type} is still in the output`);
      }
      for (const f of findings) {
        stat(f.type).reported++;
        if (line.planted.some((p) => p.type === f.type && p.start === f.start && p.end === f.end)) stat(f.type).correct++;
        else problems.push(`line ${n + 1}: false positive ${f.type} ${JSON.stringify(line.text.slice(f.start, f.end))}`);
      }
      for (const keep of line.keep) if (!text.includes(keep)) problems.push(`line ${n + 1}: look-alike changed: ${JSON.stringify(keep)}`);
    }
    const table = Object.entries(stats).map(([type, s]) => ({
      type,
      planted: s.planted,
      recall: s.planted ? s.found / s.planted : 1,
      precision: s.reported ? s.correct / s.reported : 1,
    }));
    console.log(JSON.stringify({ corpus: corpus.length, perType: table }));
    assert.deepEqual(problems, []);
  });
});
