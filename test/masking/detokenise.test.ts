// De-tokenisation per language: values go only into data positions, quoted so that the real
// parser (PostgreSQL, bash) reads back exactly the value, whatever quotes or backslashes it
// holds; placeholders in code positions are refused, never concatenated in.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { detokeniseShell, detokeniseSql, detokeniseToolCall, placeholdersIn, shellParser } from '../../src/masking/detokenise.js';
import { PG } from '../helpers.js';

const P = 'SLUICE_EMAIL_bbbbbbbbbbbbbb';
const Q = 'SLUICE_NAME_cccccccccccccc';
const NASTY = [
  "o'brien@example.com",
  "x'); DROP TABLE users; --",
  'back\\slash\\\' end\\',
  "two '' quotes and $$ dollars $x$ and \"double\"",
  'unicode é ü 漢字 \u{1F600}',
  '--comment /* open',
];

async function pgValue(sql: string, setup = ''): Promise<unknown> {
  const client = new pg.Client(PG);
  await client.connect();
  try {
    if (setup) await client.query(setup);
    const r = await client.query<{ v: unknown }>(sql);
    return r.rows[0]?.v;
  } finally {
    await client.end();
  }
}

describe('detokeniseSql', () => {
  it('puts values into literals so that PostgreSQL reads back exactly the value (also with standard_conforming_strings off)', async () => {
    for (const value of NASTY) {
      const values = new Map([[P, value]]);
      for (const [sql, expect] of [
        [`SELECT '${P}' AS v`, value],
        [`SELECT 'mail: ${P}!' AS v`, `mail: ${value}!`],
        [`SELECT E'it''s ${P}' AS v`, `it's ${value}`],
        [`SELECT N'${P}' AS v`, value],
        [`SELECT 'a''b' || '${P}' AS v -- ${P} in a comment stays`, `a'b${value}`],
      ] as const) {
        const out = detokeniseSql(sql, values);
        assert.ok(out.ok, `${sql}: ${!out.ok && out.reason}`);
        assert.deepEqual(out.placeholders, [P]);
        assert.equal(await pgValue(out.text), expect, `${sql} with ${JSON.stringify(value)} -> ${out.text}`);
        assert.equal(await pgValue(out.text, 'SET standard_conforming_strings = off'), expect, `scs off: ${out.text}`);
      }
    }
  });

  it('the round trip from the issue: a WHERE clause on the real value', async () => {
    const out = detokeniseSql(`SELECT v FROM (VALUES ('ada@example.com'), ('grace@example.com')) AS t(v) WHERE v = '${P}'`, new Map([[P, 'grace@example.com']]));
    assert.ok(out.ok);
    assert.equal(await pgValue(out.text), 'grace@example.com');
  });

  it('refuses placeholders outside string literals and in literals that could be code or be read differently', () => {
    const values = new Map([[P, 'ada@example.com'], [Q, 'Ada']]);
    const refused: [string, RegExp][] = [
      [`SELECT * FROM t WHERE email = ${P}`, /outside a string literal/],
      [`SELECT ${P}`, /outside a string literal/],
      [`SELECT * FROM "${P}"`, /quoted identifier/],
      [`DO $$ BEGIN PERFORM '${P}'; END $$`, /dollar-quoted/],
      [`SELECT $q$${P}$q$`, /dollar-quoted/],
      [`SELECT U&'${P}'`, /Unicode-escape/],
      [`SELECT B'${P}'`, /bit-string/],
      [`SELECT 'a\\' , '${P}'`, /backslash/],
      [`SELECT E'\\x41${P}'`, /backslash escapes/],
      [`SELECT '${P}`, /unterminated/],
      [`SELECT '${P}' /* open`, /unterminated/],
      [`SELECT '${P}', '${Q}', 'SLUICE_SSN_dddddddddddddd'`, /SLUICE_SSN_dddddddddddddd is unknown/],
    ];
    for (const [sql, reason] of refused) {
      const out = detokeniseSql(sql, values);
      assert.equal(out.ok, false, sql);
      assert.match(!out.ok ? out.reason : '', reason, sql);
      assert.ok(!(!out.ok && out.reason.includes('ada@example.com')), 'a refusal never carries a value');
    }
    assert.equal(detokeniseSql(`SELECT 1 -- ${P}`, new Map()).ok, true, 'a placeholder only in a comment is left alone');
    assert.equal(detokeniseSql('SELECT 1', values).ok, true);
  });

  it('handles a long statement with many literals in one pass (no search per literal): a gateway an agent cannot stall', { timeout: 10_000 }, () => {
    const ph = 'SLUICE_EMAIL_bcdfghjkmnpqrs';
    // 100,000 literals before the one that holds the placeholder: a search per literal would
    // scan the rest of the text each time (about 10^11 steps here).
    const text = `SELECT ${Array.from({ length: 100_000 }, (_, i) => `'v${i}'`).join(', ')}, '${ph}'`;
    const out = detokeniseSql(text, new Map([[ph, 'ada@example.com']]));
    assert.equal(out.ok, true);
    assert.ok(out.ok && out.text.endsWith(`, 'ada@example.com'`));
    assert.ok(out.ok && out.text.startsWith(`SELECT 'v0', 'v1', `));
  });

  it('refuses a value SQL text cannot carry (NUL)', () => {
    const out = detokeniseSql(`SELECT '${P}'`, new Map([[P, 'a\u0000b']]));
    assert.equal(out.ok, false);
  });
});

describe('detokeniseShell', () => {
  it('puts values in as single-quoted words that bash reads back exactly', async () => {
    const parser = await shellParser();
    for (const value of [...NASTY, '$(touch /tmp/sluice-pwned)', '`id`', "it's", '*', '~root', '; rm -rf /', 'a\nb']) {
      const values = new Map([[P, value]]);
      for (const [cmd, args] of [
        [`printf '%s\\n' ${P}`, [value]],
        [`printf '%s\\n' "to: ${P} now"`, [`to: ${value} now`]],
        [`printf '%s\\n' 'lit ${P}'`, [`lit ${value}`]],
        [`printf '%s\\n' --to=${P}. "$(printf '%s' ${P})"`, [`--to=${value}.`, value]],
        [`X=${P}; printf '%s\\n' "$X" # ${P} in a comment`, [value]],
      ] as const) {
        const out = detokeniseShell(cmd, values, parser, ['printf']);
        assert.ok(out.ok, `${cmd}: ${!out.ok && out.reason}`);
        const printed = execFileSync('bash', ['-c', out.text], { encoding: 'utf8', env: {}, stdio: ['ignore', 'pipe', 'pipe'] });
        assert.deepEqual(printed.split('\n').slice(0, -1).join('\n'), args.join('\n'), `${cmd} with ${JSON.stringify(value)} -> ${out.text}`);
      }
    }
  });

  it('refuses command names, redirects, here-documents, expansions and programs that run their arguments', async () => {
    const parser = await shellParser();
    const values = new Map([[P, 'ada@example.com']]);
    const refused: [string, string[], RegExp][] = [
      [`${P} --help`, [], /command name/],
      [`echo hi > ${P}`, ['echo'], /file redirect/],
      [`cat <<EOF\n${P}\nEOF`, ['cat'], /here-document|heredoc/],
      [`echo \${${P}}`, ['echo'], /variable name|expansion/],
      [`echo $'${P}'`, ['echo'], /ansi c string/],
      [`bash -c "echo ${P}"`, ['bash', 'echo'], /runs bash/],
      [`awk '{print "${P}"}' f`, ['awk'], /runs awk/],
      [`xargs echo ${P}`, ['echo'], /line continuations|runs|xargs/],
    ];
    for (const [cmd, programs, reason] of refused) {
      const out = detokeniseShell(cmd, values, parser, cmd.startsWith('xargs') ? ['xargs', 'echo'] : programs);
      assert.equal(out.ok, false, cmd);
      assert.match(!out.ok ? out.reason : '', reason, cmd);
    }
    assert.equal(detokeniseShell(`echo ${P}`, new Map(), parser, ['echo']).ok, false, 'unknown placeholder');
  });
});

describe('detokeniseToolCall', () => {
  it('replaces placeholders in JSON string values, refuses them in keys', () => {
    const values = new Map([[P, 'a"b\\c']]);
    const out = detokeniseToolCall(`search({"q":"${P}","n":1,"deep":[{"x":"to ${P}"}]})`, values);
    assert.ok(out.ok);
    assert.equal(out.text.slice(0, 7), 'search(');
    assert.deepEqual(JSON.parse(out.text.slice(7, -1)), { q: 'a"b\\c', n: 1, deep: [{ x: 'to a"b\\c' }] });
    assert.equal(detokeniseToolCall(`search({"${P}":1})`, values).ok, false);
    assert.equal(detokeniseToolCall(`search({"q":"SLUICE_SSN_dddddddddddddd"})`, values).ok, false);
  });

  it('keeps an argument named __proto__ as an argument', () => {
    const values = new Map([[P, 'v']]);
    const out = detokeniseToolCall(`search({"__proto__":{"x":"${P}"},"q":"${P}"})`, values);
    assert.ok(out.ok);
    assert.equal(out.text, `search({"__proto__":{"x":"v"},"q":"v"})`);
  });

  it('finds each placeholder once', () => {
    assert.deepEqual(placeholdersIn(`${P} ${Q} ${P} SLUICE_X_bad`), [P, Q]);
  });
});
