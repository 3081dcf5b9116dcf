// docs/policy.md must stay true: its YAML examples compile and its preset tables are the presets.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { compilePolicy, PRESETS, PRESET_NAMES } from '../../src/policy/index.js';

const doc = readFileSync(new URL('../../docs/policy.md', import.meta.url), 'utf8');

void describe('docs/policy.md', () => {
  void it('has YAML examples that compile', () => {
    const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
    assert.ok(blocks.length >= 3);
    for (const block of blocks) {
      const parsed = parse(block) as { policy?: { rules?: unknown[] }; connections?: Record<string, { policy?: string }> };
      const connectionPresets = Object.fromEntries(
        Object.entries(parsed.connections ?? {}).flatMap(([name, c]) => (c.policy ? [[name, c.policy]] : [])),
      );
      compilePolicy({ rules: (parsed.policy?.rules ?? []) as never, connectionPresets });
    }
  });

  void it('lists every preset rule with its condition and reason', () => {
    for (const preset of PRESET_NAMES) {
      const section = doc.split(`### \`${preset}\``)[1]?.split('\n### ')[0] ?? '';
      for (const rule of PRESETS[preset]) {
        const row = section.split('\n').find((l) => l.startsWith(`| \`${rule.name}\` |`));
        assert.ok(row, `${preset}/${rule.name} is not documented`);
        assert.ok(row.replaceAll('\\|', '|').includes(`\`${rule.when}\``), `${preset}/${rule.name}: condition differs`);
        assert.ok(row.includes(`| ${rule.effect} |`), `${preset}/${rule.name}: effect differs`);
        assert.ok(row.includes(rule.reason), `${preset}/${rule.name}: reason differs`);
      }
    }
  });
});
