// Differential test against real bash: generated command lines run in bash with stub
// programs on an isolated PATH (each stub logs its name), and every stub that bash ran must
// be among the programs the analyser reported, unless the analyser said `unknown`. This is
// how the parser differences documented in src/analyse/shell.ts were found.
//
// Safety: the generated text only names the stubs and harmless builtins (no absolute paths,
// no kill/rm/cd), runs with an empty environment and PATH = the stub directory, in a
// temporary directory, with a time limit.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createShellAnalyser, type ShellAnalyser } from '../../src/analyse/shell.js';
import { rng } from './helpers.js';

const BASH = '/bin/bash';
const STUBS = ['qq', 'ww', 'ee'];

function generator(seed: number): () => string {
  const rnd = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const sq = (c: string): string => `'${c.replace(/'/g, "'\\''")}'`;
  const dq = (c: string): string => `"${c.replace(/[\\"$`]/g, (m) => `\\${m}`)}"`;
  const noise = ['\\\n', '\\ ', "\\'", '\\"', "$'\\n'", '|&', '<<<', '((', '[[', ']]', ' ', ';', '&&', '||', '|', '\n',
    '$(', ')', '`', '"', "'", '\\', '#', '{', '}', '(', '$', '=', 'a=', '<<', 'EOF', '>', '<', '&', '!', 'if ', ' then ',
    ' fi', ' do ', ' done', '*', '?', '[', ']', '-', '\t', '$((', '))', '${', '<(', 'eval ', 'bash -c ', 'qq', 'ww', 'ee'];
  function name(d: number): string {
    const s = pick(STUBS);
    const forms = [s, s, `'${s}'`, `"${s}"`, `\\${s}`, `${s[0]}''${s.slice(1)}`, `$'${s}'`, `${s[0]}\\${s.slice(1)}`];
    if (d > 0) forms.push(`${pick(['nice', 'env', 'command', 'time', 'timeout 5', 'nohup', 'exec', 'xargs -r'])} ${s}`);
    return pick(forms);
  }
  function word(d: number): string {
    const ws = ['x', 'y', '-n', "'a b'", '"c"', '$x', '$((1+1))', '\\#', 'a#b', '#c', '{a,b}', '*', '~'];
    if (d > 0) ws.push(`$(${gen(d - 1)})`, `\`${gen(d - 1)}\``, `"$(${gen(d - 1)})"`, `<(${gen(d - 1)})`, `\${x:-$(${gen(d - 1)})}`);
    return pick(ws);
  }
  function simple(d: number): string {
    let out = rnd() < 0.15 ? 'a=1 ' : '';
    if (d > 0 && rnd() < 0.12) return `${pick(['bash -c', 'sh -c', 'eval'])} ${pick([sq, dq])(gen(d - 1))}`;
    out += name(d);
    const n = Math.floor(rnd() * 3);
    for (let k = 0; k < n; k++) out += ` ${word(d)}`;
    if (rnd() < 0.1) out += pick([' > o', ' 2>/dev/null', ` >/dev/null ${name(0)}`, ' <<< x', ' < /dev/null']);
    return out;
  }
  function gen(d: number): string {
    const r = rnd();
    if (d <= 0 || r < 0.35) return simple(d);
    if (r < 0.55) return `${gen(d - 1)}${pick(['; ', ' && ', ' || ', ' | ', '\n', ' & '])}${gen(d - 1)}`;
    if (r < 0.62) return `(${gen(d - 1)})`;
    if (r < 0.69) return `{ ${gen(d - 1)}; }`;
    if (r < 0.75) return `if ${gen(d - 1)}; then ${gen(d - 1)}; fi`;
    if (r < 0.8) return `for i in 1; do ${gen(d - 1)}; done`;
    if (r < 0.85) return `f() { ${gen(d - 1)}; }; f`;
    if (r < 0.88) return `case x in x|y) ${gen(d - 1)};; esac`;
    if (r < 0.9) return `cat <<EOF | ${name(0)}\n${pick(['', '\t', ' ', 'a "b" \\ '])}$(${gen(d - 1)})\nEOF`;
    if (r < 0.91) return `cat <<'EOF'\n$(${gen(d - 1)})\nEOF\n${gen(d - 1)}`;
    if (r < 0.92) return `(( $(${gen(d - 1)}) ))`;
    if (r < 0.93) return `[[ $(${gen(d - 1)}) == x ]] && ${gen(d - 1)}`;
    if (r < 0.94) return `function g { ${gen(d - 1)}; }; g`;
    if (r < 0.95) return `${gen(d - 1)} \\\n ${gen(d - 1)}`;
    if (r < 0.96) return `x=(a $(${gen(d - 1)})); ${gen(d - 1)}`;
    if (r < 0.97) return `${name(0)} <<< "$(${gen(d - 1)})"`;
    if (r < 0.98) return `${gen(d - 1)} # ${gen(d - 1)}`;
    if (r < 0.99) return `while false; do ${gen(d - 1)}; done; ${gen(d - 1)}`;
    return `! ${gen(d - 1)}`;
  }
  return () => {
    let cmd = gen(3);
    for (let k = Math.floor(rnd() * 3); k > 0; k--) {
      const at = Math.floor(rnd() * (cmd.length + 1));
      cmd = cmd.slice(0, at) + pick(noise) + cmd.slice(at);
    }
    return cmd;
  };
}

describe('shell analyser against bash', { skip: !existsSync(BASH) && 'no /bin/bash' }, () => {
  let analyser: ShellAnalyser;
  let dir: string;
  before(async () => {
    analyser = await createShellAnalyser({
      programs: Object.fromEntries(STUBS.map((s) => [s, { class: 'read', dynamicSafe: true }])),
    });
    dir = mkdtempSync(join(tmpdir(), 'sluice-shell-diff-'));
    for (const s of STUBS) {
      const stub = join(dir, s);
      writeFileSync(stub, `#!/bin/sh\nprintf '%s\\n' ${s} >> "$FUZZLOG"\n`);
      chmodSync(stub, 0o755);
    }
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('never misses a program that bash runs (generated command lines)', () => {
    const next = generator(20261124);
    const log = join(dir, 'log');
    const missed: string[] = [];
    let ran = 0;
    for (let n = 0; n < 1200 && ran < 400; n++) {
      const cmd = next();
      const intent = analyser.analyse(cmd);
      if (intent.class === 'unknown') continue;
      rmSync(log, { force: true });
      spawnSync(BASH, ['-c', cmd], { cwd: dir, env: { PATH: dir, FUZZLOG: log }, input: '', timeout: 3000, killSignal: 'SIGKILL' });
      ran++;
      const executed = existsSync(log) ? [...new Set(readFileSync(log, 'utf8').split('\n').filter((x) => x !== ''))] : [];
      const unseen = executed.filter((p) => !intent.objects.programs.includes(p));
      if (unseen.length > 0) missed.push(`${JSON.stringify(cmd)} ran ${unseen.join(',')}`);
    }
    assert.ok(ran >= 200, `only ${ran} generated commands were analysable`);
    assert.deepEqual(missed, []);
  });
});
