// Small scanners for the mini-languages of sed and awk, which can write files and run
// commands from inside a "harmless" text filter: sed's `e` and `w`, awk's system() and pipes.

export interface ScriptEffects {
  /** The scanner understood the script. */
  ok: boolean;
  /** The script runs commands. */
  execute: boolean;
  /** The script writes files (paths, when known). */
  writes: string[];
  /** Why ok is false. */
  error?: string;
}

/**
 * Walk a sed script command by command (GNU syntax). Anything it cannot follow makes the
 * result not ok, so an unusual script is never taken for a harmless one.
 */
export function scanSed(script: string): ScriptEffects {
  const fx: ScriptEffects = { ok: true, execute: false, writes: [] };
  const s = script;
  let i = 0;
  const fail = (why: string): ScriptEffects => ({ ok: false, execute: fx.execute, writes: fx.writes, error: why });
  const restOfLine = (): string => {
    const end = s.indexOf('\n', i);
    const text = s.slice(i, end < 0 ? s.length : end);
    i = end < 0 ? s.length : end + 1;
    return text;
  };
  const skipBlanks = (): void => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  };
  // Read up to an unescaped delimiter; returns false if the text ends first.
  const delimited = (d: string): boolean => {
    while (i < s.length) {
      const c = s[i];
      if (c === '\\') {
        i += 2;
        continue;
      }
      if (c === d) {
        i++;
        return true;
      }
      if (c === '\n' && d !== '\n') return false;
      i++;
    }
    return false;
  };
  const address = (): boolean => {
    const c = s[i];
    if (c === undefined) return true;
    if (/[0-9]/.test(c)) {
      while (i < s.length && /[0-9~]/.test(s[i] as string)) i++;
    } else if (c === '$') {
      i++;
    } else if (c === '/' || c === '\\') {
      let d = '/';
      if (c === '\\') {
        d = s[i + 1] ?? '';
        i++;
      }
      i++;
      if (d === '' || !delimited(d)) return false;
      while (i < s.length && (s[i] === 'I' || s[i] === 'M')) i++;
    } else if (c === '+' || c === '~') {
      i++;
      while (i < s.length && /[0-9]/.test(s[i] as string)) i++;
    }
    return true;
  };
  let depth = 0;
  while (i < s.length) {
    const c0 = s[i] as string;
    if (/[\s;]/.test(c0)) {
      i++;
      continue;
    }
    if (c0 === '#') {
      restOfLine();
      continue;
    }
    if (!address()) return fail('unterminated address');
    skipBlanks();
    if (s[i] === ',') {
      i++;
      skipBlanks();
      if (!address()) return fail('unterminated address');
      skipBlanks();
    }
    while (s[i] === '!' || s[i] === ' ') i++;
    const cmd = s[i];
    if (cmd === undefined) return fail('address without a command');
    i++;
    switch (cmd) {
      case '{':
        depth++;
        break;
      case '}':
        if (--depth < 0) return fail('unbalanced }');
        break;
      case '=': case 'd': case 'D': case 'g': case 'G': case 'h': case 'H': case 'n': case 'N': case 'p': case 'P':
      case 'x': case 'z': case 'F':
        break;
      case 'q': case 'Q': case 'l': case 'L':
        skipBlanks();
        while (i < s.length && /[0-9]/.test(s[i] as string)) i++;
        break;
      case 'a': case 'i': case 'c': {
        // Text to the end of the line; a trailing backslash continues it.
        let line = restOfLine();
        while (line.endsWith('\\') && i < s.length) line = restOfLine();
        break;
      }
      case ':':
        if (s.slice(i).trim() === '') return fail('label without a name');
        restOfLine();
        break;
      case 'b': case 't': case 'T': {
        while (i < s.length && s[i] !== ';' && s[i] !== '\n' && s[i] !== '}') i++;
        break;
      }
      case 'r': case 'R':
        restOfLine();
        break;
      case 'w': case 'W':
        skipBlanks();
        fx.writes.push(restOfLine());
        break;
      case 'e':
        fx.execute = true;
        restOfLine();
        break;
      case 'v':
        while (i < s.length && s[i] !== ';' && s[i] !== '\n') i++;
        break;
      case 's': {
        const d = s[i];
        if (d === undefined || d === '\n' || d === '\\') return fail('bad s command');
        i++;
        if (!delimited(d) || !delimited(d)) return fail('unterminated s command');
        while (i < s.length) {
          const f = s[i] as string;
          if (/[gpiImM0-9]/.test(f)) {
            i++;
          } else if (f === 'e') {
            fx.execute = true;
            i++;
          } else if (f === 'w') {
            i++;
            skipBlanks();
            fx.writes.push(restOfLine());
            break;
          } else {
            break;
          }
        }
        break;
      }
      case 'y': {
        const d = s[i];
        if (d === undefined || d === '\n' || d === '\\') return fail('bad y command');
        i++;
        if (!delimited(d) || !delimited(d)) return fail('unterminated y command');
        break;
      }
      default:
        return fail(`unknown sed command ${JSON.stringify(cmd)}`);
    }
  }
  return fx;
}

/**
 * Look for what makes an awk program more than a filter: system(), pipes to or from
 * commands, output redirection to files, and gawk's extension loading. String and regex
 * literals are skipped, so `/a|b/` and `"system"` do not count.
 */
export function scanAwk(program: string): ScriptEffects {
  const fx: ScriptEffects = { ok: true, execute: false, writes: [] };
  // Keep code, blank out literals.
  let code = '';
  let prev = '';
  for (let i = 0; i < program.length; i++) {
    const c = program[i] as string;
    if (c === '"') {
      i++;
      while (i < program.length && program[i] !== '"') i += program[i] === '\\' ? 2 : 1;
      code += '""';
      prev = '"';
      continue;
    }
    if (c === '/' && (prev === '' || /[(,{;!~&|\n=?:]/.test(prev))) {
      // A regex literal can only start where an operand is expected.
      i++;
      while (i < program.length && program[i] !== '/' && program[i] !== '\n') {
        if (program[i] === '[') {
          while (i < program.length && program[i] !== ']' && program[i] !== '\n') i++;
        }
        i += program[i] === '\\' ? 2 : 1;
      }
      code += '//';
      prev = '/';
      continue;
    }
    if (c === '#') {
      while (i < program.length && program[i] !== '\n') i++;
      code += '\n';
      prev = '\n';
      continue;
    }
    code += c;
    if (!/\s/.test(c) || c === '\n') prev = c;
  }
  // gawk's indirect calls (`f = "system"; @f("id")`) can reach system() by name.
  if (/\bsystem\s*\(/.test(code) || /\|&?/.test(code.replace(/\|\|/g, '')) || /@load\b/.test(code) || /\bextension\s*\(/.test(code) ||
    /@[A-Za-z_][A-Za-z0-9_]*\s*\(/.test(code)) {
    fx.execute = true;
  }
  // Inside print/printf, `>` and `>>` redirect output to a file (unless parenthesised, which
  // this treats as a redirect anyway: over-reporting is the safe side).
  if (/\bprintf?\b[^;{}\n]*>/.test(code)) fx.writes.push('?');
  return fx;
}
