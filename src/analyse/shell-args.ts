// The interface between the shell walker and the per-program tables: a resolved command
// (`Call`) and a getopt-like scanner for its arguments.
import type { IntentClass } from '../gate/types.js';
import type { PartBuilder } from './intent.js';
import type { Word } from './shell-words.js';

export interface RunOptions {
  /** Record the command as a part of its own (find -exec) instead of continuing this one. */
  separate?: boolean;
  flags?: readonly string[];
  /** Lowest class of whatever runs (sudo: privilege). */
  floor?: IntentClass;
}

export interface CodeOptions extends RunOptions {
  /** Hosts the code runs on (ssh): added to every part the code produces. */
  hosts?: readonly string[];
}

/** A simple command after its name has been resolved to a program. */
export interface Call {
  /** Program name as resolved (`rm` for `/bin/rm`, `\rm`, `r''m`). */
  readonly name: string;
  /** The words after the name. */
  readonly args: readonly Word[];
  /** The part this command contributes to the Intent. */
  readonly part: PartBuilder;
  /** Standard input comes from a pipe. */
  readonly stdinPiped: boolean;
  /** Heredoc or here-string given as standard input, if any. */
  readonly stdin: Word | undefined;
  /** Continue with a command this one runs (wrappers, find -exec, xargs). */
  run(argv: readonly Word[], options?: RunOptions): void;
  /** Analyse text that a shell will run (bash -c, eval, ssh HOST CMD). */
  code(text: Word | undefined, options?: CodeOptions): void;
}

export interface ScannedOption {
  /** `-x` or `--long`. */
  name: string;
  value?: Word;
}

export interface ScannedArgs {
  options: ScannedOption[];
  operands: Word[];
  /**
   * A word where an option may stand is not a constant (`$x`, or a glob such as `*` that a
   * file named `-rf` would turn into an option), so the program may get options nobody can
   * see. Values of options that take one do not count: they cannot become options.
   */
  dynamic: boolean;
}

/** The word may turn into an option (or several words) when the shell expands it. */
export function mayBeOption(w: Word): boolean {
  if (w.value === null) return true;
  return w.pattern && /^[-*?[{@!+]/.test(w.value);
}

export function optionSet(list: string): ReadonlySet<string> {
  return new Set(list.split(/\s+/).filter((w) => w !== ''));
}

/**
 * Whether an option as given names the listed one. GNU getopt_long (and curl, tar, git's
 * subcommands) accept any unambiguous prefix of a long option, so `--compress=x` is
 * `--compress-program=x` to sort: matching prefixes keeps such spellings from slipping past.
 * An ambiguous prefix makes the real program fail, so matching it too is harmless.
 */
export function optionMatches(given: string, listed: string): boolean {
  if (given === listed) return true;
  return given.length > 3 && given.startsWith('--') && listed.startsWith(given);
}

/** The listed option an option as given stands for, if any (exact match first). */
export function canonicalOption(given: string, listed: Iterable<string>): string | undefined {
  let found: string | undefined;
  for (const l of listed) {
    if (l === given) return l;
    if (found === undefined && optionMatches(given, l)) found = l;
  }
  return found;
}

/**
 * Split arguments into options and operands, GNU style: short options may be clustered
 * (`-rf`), a short option that takes a value takes the rest of its cluster or the next word,
 * long options take `=value` or the next word. Options after operands still count (GNU
 * programs permute) unless `stopAtOperand` is set; `--` ends options.
 */
export function scanArgs(args: readonly Word[], values: ReadonlySet<string>, stopAtOperand = false): ScannedArgs {
  const out: ScannedArgs = { options: [], operands: [], dynamic: false };
  let ended = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as Word;
    if (mayBeOption(a)) out.dynamic = true;
    const v = a.value;
    if (ended || v === null || v === '-' || !v.startsWith('-')) {
      out.operands.push(a);
      if (stopAtOperand) ended = true;
      continue;
    }
    if (v === '--') {
      ended = true;
      continue;
    }
    if (v.startsWith('--')) {
      const eq = v.indexOf('=');
      const name = eq < 0 ? v : v.slice(0, eq);
      if (eq >= 0) {
        out.options.push({ name, value: { value: v.slice(eq + 1), raw: v.slice(eq + 1), pattern: a.pattern } });
      } else if ((values.has(name) || canonicalOption(name, values) !== undefined) && i + 1 < args.length) {
        out.options.push({ name, value: args[++i] as Word });
      } else {
        out.options.push({ name });
      }
      continue;
    }
    for (let j = 1; j < v.length; j++) {
      const name = `-${v[j]}`;
      if (values.has(name)) {
        if (j + 1 < v.length) {
          const rest = v.slice(j + 1);
          out.options.push({ name, value: { value: rest, raw: rest, pattern: a.pattern } });
        } else if (i + 1 < args.length) {
          out.options.push({ name, value: args[++i] as Word });
        } else {
          out.options.push({ name });
        }
        break;
      }
      out.options.push({ name });
    }
  }
  return out;
}

export function hasOption(s: ScannedArgs, ...names: string[]): boolean {
  return s.options.some((o) => names.some((n) => optionMatches(o.name, n)));
}

export function optionValues(s: ScannedArgs, ...names: string[]): Word[] {
  const out: Word[] = [];
  for (const o of s.options) if (o.value !== undefined && names.some((n) => optionMatches(o.name, n))) out.push(o.value);
  return out;
}

/** The text to record for a path: its value, or its source text when not a constant. */
export function pathText(w: Word): string {
  return w.value ?? w.raw;
}

/** Where output to this path goes nowhere that matters. */
export function isSink(path: string | null): boolean {
  return path === '/dev/null' || path === '/dev/stdout' || path === '/dev/stderr' || path === '/dev/tty' ||
    path === '-' || path === '/dev/fd/1' || path === '/dev/fd/2';
}

/** Block devices, memory and the like: writing them (or reading raw disks) is administration. */
export function isDevice(path: string | null): boolean {
  return path !== null && path.startsWith('/dev/') && !isSink(path) && path !== '/dev/zero' && path !== '/dev/random' &&
    path !== '/dev/urandom' && path !== '/dev/stdin' && path !== '/dev/fd/0';
}

/** Record a path written by the command: a device is admin, a sink is nothing, else write. */
export function writePath(call: Call, w: Word): void {
  const p = w.value;
  if (isSink(p)) return;
  if (isDevice(p)) {
    call.part.raise('admin').flag('device_write').path(pathText(w), 'write');
    return;
  }
  call.part.raise('write').path(pathText(w), 'write');
}

/** The host of a URL or `[user@]host[:port]` word, if it names one. */
export function hostOf(text: string): string | undefined {
  let t = text.trim();
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(t);
  if (scheme) {
    if (scheme[1]?.toLowerCase() === 'file') return undefined;
    t = t.slice(scheme[0].length);
  }
  t = t.replace(/[/?#].*$/s, '');
  const at = t.lastIndexOf('@');
  if (at >= 0) t = t.slice(at + 1);
  if (t.startsWith('[')) {
    const end = t.indexOf(']');
    return end > 0 ? t.slice(1, end).toLowerCase() : undefined;
  }
  t = t.replace(/:\d*$/, '');
  if (t === '' || /[\s"'`$;|&<>]/.test(t)) return undefined;
  return t.toLowerCase();
}

/** What a program table entry does with a command: raise its part's class, add flags, paths. */
export type ProgramHandler = (call: Call) => void;

/** Mark the part unknown: an argument only known at run time may be an option. */
export function dynamicArgs(call: Call): void {
  call.part.unknown(`an argument of ${call.name} is only known at run time and may be an option that changes what it does`).flag('dynamic_args');
}

/** The operands and options of a call, marking the part unknown if any might be an unseen option. */
export function strictArgs(call: Call, values: string | ReadonlySet<string>, stopAtOperand = false): ScannedArgs {
  const s = scanArgs(call.args, typeof values === 'string' ? optionSet(values) : values, stopAtOperand);
  if (s.dynamic) dynamicArgs(call);
  return s;
}

/** The value of the i-th operand, if it is a constant. */
export function operandAt(s: ScannedArgs, i: number): string | undefined {
  return s.operands[i]?.value ?? undefined;
}

/** A table from class to comma-separated names, turned into name → class. */
export function classTable(classes: Partial<Record<IntentClass, string>>): Record<string, IntentClass> {
  const out: Record<string, IntentClass> = {};
  for (const [cls, list] of Object.entries(classes)) {
    for (const name of list.split(/\s*,\s*|\n/).map((x) => x.trim()).filter((x) => x !== '')) out[name] = cls as IntentClass;
  }
  return out;
}

/** A program reading code from standard input: note where it comes from. */
export function stdinCode(call: Call): void {
  if (call.stdin !== undefined) call.part.flag('heredoc');
  else if (call.stdinPiped) call.part.flag('pipe_to_interpreter');
}
