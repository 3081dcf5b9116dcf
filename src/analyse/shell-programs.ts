// What each program does, by name and arguments. A program that is not in this table is
// `unknown`. Entries are either a declarative ProgramSpec (class, which options take values,
// which options raise the class, what the operands are) or a handler function for programs
// whose arguments need real parsing (git, find, sed, curl, ssh, ...). The table is
// extensible through ShellAnalyserOptions.programs.
import type { IntentClass } from '../gate/types.js';
import {
  canonicalOption,
  hasOption,
  optionMatches,
  hostOf,
  isDevice,
  optionSet,
  optionValues,
  pathText,
  scanArgs,
  writePath,
  type Call,
  type ScannedArgs,
} from './shell-args.js';
import { scanAwk, scanSed } from './shell-scripts.js';
import { dynamicWord, isStatic, staticWord, type Word } from './shell-words.js';
import { isDangerousEnv } from './shell-wrappers.js';

export type ProgramHandler = (call: Call) => void;

export interface ProgramSpec {
  /** Class of the program when no option raises it. */
  class: IntentClass;
  /** Options that take a value, space separated (`-n --lines`). */
  values?: string;
  /** What the operands are: files read, files written, or not files. Default: not files. */
  operands?: 'read' | 'write' | 'none';
  /** Leading operands that are not files (chmod's mode). */
  skip?: number;
  /** Unless one of these options is given, the first operand is a pattern, not a file (grep -e). */
  patternUnless?: string;
  /** Options that raise the class (`--compress-program`: execute). */
  danger?: Record<string, IntentClass>;
  /** Options that add a flag (`-r`: recursive_delete). */
  flags?: Record<string, string>;
  /** Options whose value is a file written (`sort -o`). */
  writes?: string;
  /** Options whose value is a file read. */
  reads?: string;
  /**
   * No option or operand can make the program riskier, so an argument whose value is only
   * known at run time (`cat "$f"`) is harmless. Otherwise such an argument makes it unknown,
   * because `$x` may well be `-delete`.
   */
  dynamicSafe?: boolean;
  /** Runs after the generic handling, for what the fields above cannot say. */
  check?: (call: Call, args: ScannedArgs) => void;
}

export type ProgramEntry = ProgramSpec | ProgramHandler;

interface CompiledSpec {
  spec: ProgramSpec;
  values: ReadonlySet<string>;
  writes: ReadonlySet<string>;
  reads: ReadonlySet<string>;
  patternUnless: ReadonlySet<string>;
}

function compileSpec(spec: ProgramSpec): ProgramHandler {
  const c: CompiledSpec = {
    spec,
    values: optionSet(`${spec.values ?? ''} ${spec.writes ?? ''} ${spec.reads ?? ''}`),
    writes: optionSet(spec.writes ?? ''),
    reads: optionSet(spec.reads ?? ''),
    patternUnless: optionSet(spec.patternUnless ?? ''),
  };
  return (call) => applySpec(call, c);
}

function applySpec(call: Call, c: CompiledSpec): void {
  const { spec } = c;
  const part = call.part;
  part.raise(spec.class);
  const s = scanArgs(call.args, c.values);
  if (s.dynamic && spec.dynamicSafe !== true) dynamicArgs(call);
  for (const o of s.options) {
    for (const [name, d] of Object.entries(spec.danger ?? {})) {
      if (!optionMatches(o.name, name)) continue;
      part.raise(d);
      if (d === 'unknown') part.unknown(`${call.name} ${o.name} is not understood`);
    }
    for (const [name, f] of Object.entries(spec.flags ?? {})) if (optionMatches(o.name, name)) part.flag(f);
    if (o.value !== undefined && [...c.writes].some((n) => optionMatches(o.name, n))) writePath(call, o.value);
    if (o.value !== undefined && [...c.reads].some((n) => optionMatches(o.name, n))) part.path(pathText(o.value), 'read');
  }
  const operands = s.operands.slice(spec.skip ?? 0);
  if (c.patternUnless.size > 0 && !s.options.some((o) => [...c.patternUnless].some((n) => optionMatches(o.name, n)))) operands.shift();
  if (spec.operands === 'read') for (const w of operands) part.path(pathText(w), 'read');
  if (spec.operands === 'write') for (const w of operands) writePath(call, w);
  spec.check?.(call, s);
}

function dynamicArgs(call: Call): void {
  call.part.unknown(`an argument of ${call.name} is only known at run time and may be an option that changes what it does`).flag('dynamic_args');
}

/** The operands and options of a call, marking the part unknown if any is not a constant. */
function strictArgs(call: Call, values: string | ReadonlySet<string>, stopAtOperand = false): ScannedArgs {
  const s = scanArgs(call.args, typeof values === 'string' ? optionSet(values) : values, stopAtOperand);
  if (s.dynamic) dynamicArgs(call);
  return s;
}

function word(s: ScannedArgs, i: number): string | undefined {
  return s.operands[i]?.value ?? undefined;
}

// --- helpers for families of programs ------------------------------------------------------

const read = (values = '', operands: 'read' | 'none' = 'read', extra: Partial<ProgramSpec> = {}): ProgramSpec => ({
  class: 'read', values, operands, dynamicSafe: true, ...extra,
});

/** A program whose first operand (or first two) selects what it does. */
function subcommands(options: {
  values?: string;
  table: Record<string, IntentClass>;
  /** Class when no subcommand is given. */
  none?: IntentClass;
  check?: (call: Call, s: ScannedArgs, sub: string) => void;
}): ProgramHandler {
  const values = optionSet(options.values ?? '');
  return (call) => {
    const s = strictArgs(call, values);
    const a = word(s, 0);
    const b = word(s, 1);
    const two = a !== undefined && b !== undefined ? `${a} ${b}` : undefined;
    let sub = a ?? '';
    let cls: IntentClass | undefined;
    if (two !== undefined && options.table[two] !== undefined) {
      sub = two;
      cls = options.table[two];
    } else if (a !== undefined) {
      cls = options.table[a];
    } else {
      cls = hasOption(s, '--version', '-V', '--help', '-h') ? 'read' : options.none;
    }
    call.part.kind = sub === '' ? call.name : `${call.name} ${sub}`;
    if (cls === undefined || cls === 'unknown') {
      call.part.unknown(`${call.part.kind} is not in the program table`);
    } else {
      call.part.raise(cls);
    }
    options.check?.(call, s, sub);
  };
}

function table(classes: Partial<Record<IntentClass, string>>): Record<string, IntentClass> {
  const out: Record<string, IntentClass> = {};
  for (const [cls, list] of Object.entries(classes)) {
    for (const name of list.split(/\s*,\s*|\n/).map((x) => x.trim()).filter((x) => x !== '')) out[name] = cls as IntentClass;
  }
  return out;
}

// --- interpreters and shells ---------------------------------------------------------------

export const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'mksh', 'ash', 'yash', 'rbash', 'fish', 'csh', 'tcsh', 'posh']);

const INTERPRETERS = new Set([
  'python', 'python2', 'python3', 'pypy', 'pypy3', 'perl', 'ruby', 'irb', 'node', 'nodejs', 'deno', 'bun', 'php', 'lua',
  'luajit', 'Rscript', 'R', 'julia', 'tclsh', 'wish', 'expect', 'osascript', 'pwsh', 'powershell', 'java', 'jshell',
  'groovy', 'scala', 'kotlin', 'swift', 'ts-node', 'tsx', 'ghci', 'runghc', 'elixir', 'iex', 'erl', 'escript',
  'racket', 'guile', 'sbcl', 'clisp', 'ocaml', 'gdb', 'dotnet', 'npx', 'pnpx', 'bunx', 'uvx', 'pipx', 'make', 'gmake',
  'ninja', 'cmake', 'gradle', 'mvn', 'ant', 'rake', 'cargo', 'go', 'vim', 'vi', 'nvim', 'emacs', 'ed', 'ex', 'dc',
  'tmux', 'screen', 'at', 'batch', 'script', 'xdg-open', 'open', 'cpan', 'cpanm',
]);
const VERSIONED_INTERPRETER = /^(python|pypy|perl|ruby|php|lua|node)\d+(\.\d+)*$/;

export function isInterpreter(name: string): boolean {
  return INTERPRETERS.has(name) || VERSIONED_INTERPRETER.test(name);
}

const VERSION_ONLY = new Set(['--version', '-V', '-v', '--help', '-h', 'version', '--help-all']);
const INLINE_CODE = new Set(['-c', '-e', '-E', '-r', '--eval', '-p', '--print', '-x', '--execute', '-ex', '-eval', '--command', '-m']);

/** Interpreters run code, whether given inline, in a file, or on standard input. */
function interpreter(call: Call): void {
  const args = call.args;
  if (args.length > 0 && args.every((a) => a.value !== null && VERSION_ONLY.has(a.value))) {
    call.part.raise('read');
    return;
  }
  call.part.raise('execute');
  const values = args.map((a) => a.value);
  if (values.some((v) => v !== null && (INLINE_CODE.has(v) || /^-[a-zA-Z]*[ce]$/.test(v)))) call.part.flag('inline_code');
  const firstOperand = args.find((a) => a.value === null || !a.value.startsWith('-'));
  if (firstOperand === undefined || firstOperand.value === '-') stdinCode(call);
  else if (firstOperand.value !== null && !call.part.hasFlag('inline_code')) call.part.path(firstOperand.value, 'read');
}

function stdinCode(call: Call): void {
  if (call.stdin !== undefined) call.part.flag('heredoc');
  else if (call.stdinPiped) call.part.flag('pipe_to_interpreter');
}

/** bash -c CODE, bash script.sh, bash (reading code from standard input). */
function shell(call: Call): void {
  const part = call.part;
  let code = false;
  let fromStdin = false;
  let i = 0;
  const args = call.args;
  for (; i < args.length; i++) {
    const v = args[i]?.value;
    if (v === null || v === undefined) break;
    if (v === '--' || v === '-') {
      i++;
      break;
    }
    if (!/^[-+]/.test(v) || v.length < 2) break;
    if (v === '--version' || v === '--help') {
      part.raise('read');
      return;
    }
    if (v.startsWith('--')) {
      if (v === '--rcfile' || v === '--init-file') i++;
      continue;
    }
    // Clustered single-letter options; -o/-O take the next word.
    if (v.slice(1).includes('c')) code = true;
    if (v.startsWith('-') && v.slice(1).includes('s')) fromStdin = true;
    if (/[oO]/.test(v.slice(1))) i++;
  }
  const operand = args[i];
  if (code) {
    part.kind = `${call.name} -c`;
    if (operand === undefined) {
      part.unknown(`${call.name} -c without a command string`);
      return;
    }
    part.raise('read');
    call.code(operand, { flags: ['wrapper'] });
    return;
  }
  if (operand !== undefined && !fromStdin) {
    // Runs a script file: its contents are not visible here.
    part.raise('execute').flag('script').path(pathText(operand), 'read');
    return;
  }
  if (call.stdin !== undefined) {
    part.raise('read');
    call.code(call.stdin, { flags: ['wrapper', 'heredoc'] });
    return;
  }
  part.raise('execute');
  stdinCode(call);
}

// --- programs needing real parsing ---------------------------------------------------------

const FIND_VALUES = optionSet(`-name -iname -path -ipath -wholename -iwholename -regex -iregex -type -xtype -size -perm
  -user -group -uid -gid -newer -anewer -cnewer -mtime -mmin -atime -amin -ctime -cmin -maxdepth -mindepth -links -inum
  -samefile -lname -ilname -fstype -used -printf -regextype -context -files0-from -D -O`);

function find(call: Call): void {
  const part = call.part.raise('read');
  const args = call.args;
  if (args.some((a) => a.value === null || a.pattern)) dynamicArgs(call);
  const starts: Word[] = [];
  let i = 0;
  while (i < args.length && /^-[HLP]$/.test(args[i]?.value ?? '')) i++;
  for (; i < args.length; i++) {
    const v = args[i]?.value;
    if (v === null || v === undefined || v.startsWith('-') || v === '(' || v === '!' || v === ')' || v === ',') break;
    starts.push(args[i] as Word);
  }
  for (const s of starts) part.path(pathText(s), 'read');
  for (; i < args.length; i++) {
    const v = args[i]?.value ?? '';
    if (v === '-exec' || v === '-execdir' || v === '-ok' || v === '-okdir') {
      const argv: Word[] = [];
      for (i++; i < args.length; i++) {
        const t = args[i] as Word;
        if (t.value === ';' || t.value === '+') break;
        // {} is replaced by each file found.
        argv.push(t.value !== null && t.value.includes('{}') ? dynamicWord(t.raw) : t);
      }
      part.flag('find_exec');
      if (argv.length === 0) part.unknown(`find ${v} without a command`);
      else call.run(argv, { separate: true, flags: ['find_exec'] });
    } else if (v === '-delete') {
      part.raise('write').flag('find_delete');
      for (const s of starts) part.path(pathText(s), 'write');
    } else if (v === '-fprint' || v === '-fprint0' || v === '-fls' || v === '-fprintf') {
      const target = args[++i];
      if (target !== undefined) writePath(call, target);
      if (v === '-fprintf') i++;
    } else if (FIND_VALUES.has(v) || /^-newer[aBcmt][aBcmt]$/.test(v)) {
      i++;
    }
  }
}

const SED_VALUES = optionSet('-e -f -l --expression --file --line-length');

function sed(call: Call): void {
  const part = call.part.raise('read');
  const s = strictArgs(call, SED_VALUES);
  const scripts = optionValues(s, '-e', '--expression');
  const files = optionValues(s, '-f', '--file');
  const operands = [...s.operands];
  if (scripts.length === 0 && files.length === 0) {
    const first = operands.shift();
    if (first !== undefined) scripts.push(first);
  }
  if (files.length > 0) part.unknown('sed script read from a file').flag('script_file');
  const sandbox = hasOption(s, '--sandbox');
  for (const sc of scripts) {
    if (sc.value === null) {
      part.unknown('sed script is not a constant').flag('dynamic_args');
      continue;
    }
    const fx = scanSed(sc.value);
    if (!fx.ok) part.unknown(`sed script not understood: ${fx.error ?? ''}`);
    if (fx.execute && !sandbox) part.raise('execute').flag('program_exec');
    if (!sandbox) for (const w of fx.writes) writePath(call, staticWord(w.trim()));
  }
  const inPlace = hasOption(s, '-i', '--in-place');
  if (inPlace) part.raise('write').flag('in_place');
  for (const w of operands) part.path(pathText(w), inPlace ? 'write' : 'read');
}

const AWK_VALUES = optionSet('-F -v -f -i -l -E -e --field-separator --assign --file --include --load --exec --source');

function awk(call: Call): void {
  const part = call.part.raise('read');
  const s = strictArgs(call, AWK_VALUES);
  if (hasOption(s, '-f', '--file', '-E', '--exec', '-i', '--include')) part.unknown('awk program read from a file').flag('script_file');
  if (hasOption(s, '-l', '--load')) part.raise('execute').flag('program_exec');
  const operands = [...s.operands];
  // gawk -e/--source: program text in options (any number of them).
  const sources = optionValues(s, '-e', '--source');
  for (const p of sources) awkProgram(call, p);
  if (!hasOption(s, '-f', '--file', '-E', '--exec') && sources.length === 0) {
    const program = operands.shift();
    if (program === undefined) {
      part.unknown('awk without a program');
    } else {
      awkProgram(call, program);
    }
  }
  for (const w of operands) if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(w.value ?? '')) part.path(pathText(w), 'read');
}

const TAR_LONG = [
  '--extract', '--get', '--create', '--list', '--append', '--update', '--catenate', '--concatenate', '--delete', '--diff',
  '--compare', '--test-label', '--file', '--directory', '--use-compress-program', '--to-command', '--checkpoint-action',
  '--info-script', '--new-volume-script', '--rsh-command', '--rmt-command', '--force-local', '--exclude', '--files-from',
  '--owner', '--group', '--mode', '--transform', '--xform', '--blocking-factor', '--record-size', '--label', '--tape-length',
  '--newer', '--after-date', '--newer-mtime', '--exclude-from', '--format', '--strip-components', '--suffix', '--checkpoint',
  '--verbose', '--gzip', '--bzip2', '--xz', '--zstd', '--auto-compress', '--same-permissions', '--preserve-permissions',
  '--numeric-owner', '--overwrite', '--keep-old-files', '--skip-old-files', '--absolute-names', '--one-file-system',
];

function awkProgram(call: Call, program: Word): void {
  if (program.value === null) {
    call.part.unknown('awk program is not a constant').flag('dynamic_args');
    return;
  }
  const fx = scanAwk(program.value);
  if (fx.execute) call.part.raise('execute').flag('program_exec');
  if (fx.writes.length > 0) call.part.raise('write').flag('redirect_write');
}

function tar(call: Call): void {
  const part = call.part;
  const args = call.args;
  if (args.some((a) => a.value === null || a.pattern)) dynamicArgs(call);
  const modes = new Set<string>();
  const archives: Word[] = [];
  let chdir = false;
  const rest: Word[] = [];
  const longValue = new Set(['--file', '--directory', '--use-compress-program', '--to-command', '--checkpoint-action',
    '--info-script', '--new-volume-script', '--rsh-command', '--rmt-command', '--exclude', '--files-from', '--owner',
    '--group', '--mode', '--transform', '--xform', '--blocking-factor', '--record-size', '--label', '--tape-length',
    '--newer', '--after-date', '--newer-mtime', '--exclude-from', '--format', '--strip-components', '--suffix']);
  const shortValue = 'fCbIKLNTVXg';
  const take = (letter: string, value: Word | undefined): void => {
    if (letter === 'f' && value !== undefined) archives.push(value);
    if (letter === 'C') chdir = true;
    if (letter === 'I') part.raise('execute').flag('program_exec');
  };
  let i = 0;
  // Old style: the first word is a cluster of letters without a dash (`tar xzf a.tgz`).
  const first = args[0]?.value;
  if (first !== null && first !== undefined && !first.startsWith('-') && /^[A-Za-z]+$/.test(first)) {
    i = 1;
    for (const l of first) {
      modes.add(l);
      if (shortValue.includes(l)) take(l, args[i++]);
    }
  }
  for (; i < args.length; i++) {
    const v = args[i]?.value ?? '';
    if (v.startsWith('--')) {
      const eq = v.indexOf('=');
      const given = eq < 0 ? v : v.slice(0, eq);
      const name = canonicalOption(given, TAR_LONG) ?? given;
      const value = eq >= 0 ? staticWord(v.slice(eq + 1)) : longValue.has(name) ? args[++i] : undefined;
      if (/^--(extract|get)$/.test(name)) modes.add('x');
      else if (/^--(create)$/.test(name)) modes.add('c');
      else if (/^--(list)$/.test(name)) modes.add('t');
      else if (/^--(append|update|catenate|concatenate|delete)$/.test(name)) modes.add('r');
      else if (/^--(diff|compare|test-label)$/.test(name)) modes.add('d');
      else if (name === '--file' && value !== undefined) archives.push(value);
      else if (name === '--directory') chdir = true;
      else if (/^--(to-command|use-compress-program|info-script|new-volume-script|rsh-command|rmt-command)$/.test(name)) {
        part.raise('execute').flag('program_exec');
      } else if (name === '--checkpoint-action' && /exec/.test(value?.value ?? 'exec')) part.raise('execute').flag('program_exec');
      else if (name === '--force-local') modes.add('L');
    } else if (v.startsWith('-') && v.length > 1) {
      for (let j = 1; j < v.length; j++) {
        const l = v[j] as string;
        modes.add(l);
        if (shortValue.includes(l)) {
          take(l, j + 1 < v.length ? staticWord(v.slice(j + 1)) : args[++i]);
          if (l === 'F') part.raise('execute').flag('program_exec');
          break;
        }
        if (l === 'F') part.raise('execute').flag('program_exec');
      }
    } else {
      rest.push(args[i] as Word);
    }
  }
  const writing = modes.has('x') ? 'extract' : ['c', 'r', 'u', 'A'].some((m) => modes.has(m)) ? 'archive' : undefined;
  if (writing === undefined && !modes.has('t') && !modes.has('d')) {
    part.unknown('tar without a known operation');
    return;
  }
  part.raise(writing === undefined ? 'read' : 'write');
  for (const a of archives) {
    const p = a.value;
    // An archive named host:path is fetched or written through rsh/ssh.
    if (p !== null && !modes.has('L') && /^[^/]*:/.test(p)) {
      part.raise('network').host(hostOf(p.slice(0, p.indexOf(':'))) ?? p);
    }
    if (writing === 'archive') writePath(call, a);
    else part.path(pathText(a), 'read');
  }
  if (writing === 'extract') {
    part.flag('extract');
    if (chdir) part.flag('extract_elsewhere');
  }
  for (const r of rest) part.path(pathText(r), writing === 'archive' ? 'read' : writing === 'extract' ? 'write' : 'read');
}

function dd(call: Call): void {
  const part = call.part.raise('read');
  if (call.args.some((a) => a.value === null || a.pattern)) dynamicArgs(call);
  for (const a of call.args) {
    const v = a.value ?? '';
    if (v.startsWith('if=')) {
      const p = v.slice(3);
      // Reading a raw disk or memory reads every file on it.
      if (isDevice(p) && !p.startsWith('/dev/tty')) part.raise('admin').flag('device_read');
      part.path(p, 'read');
    } else if (v.startsWith('of=')) {
      writePath(call, staticWord(v.slice(3)));
    }
  }
}

// Copies and moves: the destination is written, the sources read (mv: removed, so written).
function copyLike(mode: 'cp' | 'mv' | 'ln' | 'install'): ProgramHandler {
  const values = optionSet('-t --target-directory -S --suffix -m --mode -o --owner -g --group --context -T');
  return (call) => {
    const part = call.part.raise('write');
    const s = scanArgs(call.args, values);
    if (mode === 'install' && hasOption(s, '-o', '--owner', '-g', '--group', '-m', '--mode')) part.raise('privilege');
    const target = optionValues(s, '-t', '--target-directory')[0];
    const ops = s.operands;
    const dest = target ?? (hasOption(s, '-d', '--directory') && mode === 'install' ? undefined : ops[ops.length - 1]);
    const sources = target !== undefined ? ops : ops.slice(0, -1);
    for (const w of sources) part.path(pathText(w), mode === 'mv' ? 'write' : 'read');
    if (dest !== undefined) writePath(call, dest);
    if (mode === 'install' && hasOption(s, '-d', '--directory')) for (const w of ops) writePath(call, w);
    if (hasOption(s, '-r', '-R', '--recursive', '-a', '--archive')) part.flag('recursive');
  };
}

function tee(call: Call): void {
  call.part.raise('read');
  const s = scanArgs(call.args, optionSet('--output-error'));
  for (const w of s.operands) writePath(call, w);
}

// --- network programs ------------------------------------------------------------------------

const SSH_VALUES = optionSet('-B -b -c -D -E -e -F -I -i -J -L -l -m -O -o -p -Q -R -S -W -w');

/** Options shared by ssh, scp, sftp and rsync -e that run local commands or load config. */
function sshOptions(call: Call, s: ScannedArgs): void {
  const part = call.part;
  for (const o of s.options) {
    const v = o.value?.value ?? '';
    if (o.name === '-F') part.unknown(`${call.name} -F reads a config file that can run local commands`).flag('custom_config');
    if (o.name === '-J') for (const h of v.split(',')) part.host(hostOf(h) ?? h);
    if (o.name === '-L' || o.name === '-R' || o.name === '-D' || o.name === '-W' || o.name === '-w') part.flag('port_forward');
    if (o.name === '-E' && o.value !== undefined) writePath(call, o.value);
    if (o.name === '-S' && call.name !== 'ssh' && o.value !== undefined) {
      // scp/sftp -S: the program used instead of ssh.
      call.run([o.value], { separate: true });
    }
    if (o.name === '-o') {
      const m = /^\s*([A-Za-z]+)\s*[= ]\s*(.*)$/s.exec(v);
      const key = m?.[1]?.toLowerCase() ?? '';
      const value = m?.[2] ?? '';
      if ((key === 'proxycommand' || key === 'localcommand' || key === 'knownhostscommand') && value.toLowerCase() !== 'none') {
        part.flag('program_exec');
        call.code(staticWord(value), { separate: true, flags: ['wrapper'] });
      }
      if (key === 'proxyjump') for (const h of value.split(',')) part.host(hostOf(h) ?? h);
      if (o.value?.value === null) part.unknown(`${call.name} -o value is not a constant`);
    }
  }
}

function ssh(call: Call): void {
  const part = call.part.raise('network');
  const args = call.args;
  let s = scanArgs(args, SSH_VALUES, true);
  if (s.options.some((o) => o.value !== undefined && o.value.value === null)) dynamicArgs(call);
  // OpenSSH accepts more options right after the destination (`ssh host -p 22 cmd`).
  const destIndex = args.indexOf(s.operands[0] as Word);
  let cmdStart = destIndex + 1;
  if (destIndex >= 0) {
    let j = destIndex + 1;
    while (j < args.length && (args[j]?.value ?? '').startsWith('-') && args[j]?.value !== '--') {
      const more = scanArgs(args.slice(j, j + 2), SSH_VALUES, true);
      const used = more.options.length > 0 && more.options[more.options.length - 1]?.value !== undefined &&
        !(args[j]?.value ?? '').slice(2).length ? 2 : 1;
      s = { ...s, options: [...s.options, ...more.options.slice(0, used === 2 ? undefined : more.options.length)] };
      j += used;
    }
    if (args[j]?.value === '--') j++;
    cmdStart = j;
  }
  sshOptions(call, s);
  const dest = s.operands[0];
  if (dest === undefined) {
    part.unknown('ssh without a destination');
    return;
  }
  if (dest.value === null) {
    part.unknown('ssh destination is not a constant').flag('dynamic_args');
    return;
  }
  const host = hostOf(dest.value) ?? dest.value;
  part.host(host);
  const command = destIndex >= 0 ? args.slice(cmdStart) : [];
  if (command.length === 0) {
    // A remote shell reading commands from standard input.
    if (call.stdin !== undefined) {
      call.code(call.stdin, { flags: ['remote', 'wrapper', 'heredoc'], floor: 'network', hosts: [host] });
    } else {
      part.raise('execute').flag('remote_shell');
      stdinCode(call);
    }
    return;
  }
  // The remote side joins the words with spaces and runs them with the user's shell.
  const joined = command.every((c) => c.value !== null) ? staticWord(command.map((c) => c.value).join(' ')) : undefined;
  call.code(joined, { flags: ['remote', 'wrapper'], floor: 'network', hosts: [host] });
}

/** rsync -e COMMAND: the transport rsync runs (normally ssh, whose options still matter). */
function transport(call: Call, value: Word): void {
  if (value.value === null) {
    call.part.unknown('rsync transport is not a constant').flag('dynamic_command');
    return;
  }
  const words = value.value.split(/\s+/).filter((x) => x !== '').map(staticWord);
  const program = (words[0]?.value ?? '').replace(/^\/(usr\/)?bin\//, '');
  if (program === 'ssh' || program === 'rsh') {
    sshOptions(call, scanArgs(words.slice(1), SSH_VALUES));
  } else if (words.length > 0) {
    call.part.raise('execute').flag('program_exec');
    call.run(words, { separate: true, flags: ['wrapper'] });
  }
}

function remoteHost(text: string | null): string | undefined {
  if (text === null) return undefined;
  if (/^[a-z]+:\/\//i.test(text)) return hostOf(text);
  // [user@]host:path, but not a local path containing a colon after a slash.
  const m = /^([^/:]+):/.exec(text);
  return m ? hostOf(m[1] as string) : undefined;
}

function scp(call: Call): void {
  const part = call.part.raise('network');
  const s = strictArgs(call, optionSet('-c -D -F -i -J -l -o -P -S -X'));
  sshOptions(call, s);
  const ops = s.operands;
  for (let k = 0; k < ops.length; k++) {
    const w = ops[k] as Word;
    const host = remoteHost(w.value);
    if (host !== undefined) part.host(host);
    else if (k === ops.length - 1) writePath(call, w);
    else part.path(pathText(w), 'read');
  }
  if (ops.length > 0 && remoteHost(ops[ops.length - 1]?.value ?? null) !== undefined) part.flag('upload');
}

function sftp(call: Call): void {
  const part = call.part.raise('network');
  const s = strictArgs(call, optionSet('-B -b -c -D -F -i -J -l -o -P -R -S -s -X'));
  sshOptions(call, s);
  if (hasOption(s, '-b')) part.unknown('sftp batch file commands can run local programs');
  if (call.stdin !== undefined || call.stdinPiped) part.unknown('sftp commands from standard input can run local programs');
  for (const w of s.operands) {
    const h = remoteHost(w.value) ?? hostOf(w.value ?? '');
    if (h !== undefined) part.host(h);
  }
}

function rsync(call: Call): void {
  const part = call.part;
  const s = strictArgs(call, optionSet('-e --rsh --rsync-path -f --filter --exclude --include --exclude-from --include-from --files-from -T --temp-dir --log-file --partial-dir --backup-dir --suffix --chmod --chown --usermap --groupmap --password-file --port --address --bwlimit --timeout --contimeout -B --block-size --max-size --min-size --compare-dest --copy-dest --link-dest --write-batch --only-write-batch --read-batch --out-format --log-file-format --info --debug --sockopts --outbuf --iconv --checksum-choice --compress-choice --compress-level'));
  for (const o of s.options) {
    const v = o.value;
    if ((o.name === '-e' || o.name === '--rsh') && v !== undefined) transport(call, v);
    if (o.name === '--rsync-path' && v !== undefined) call.code(v, { separate: true, flags: ['remote', 'wrapper'], floor: 'network' });
    if ((o.name === '--log-file' || o.name === '--write-batch' || o.name === '--only-write-batch') && v !== undefined) writePath(call, v);
    if ((o.name === '--files-from' || o.name === '--exclude-from' || o.name === '--include-from' || o.name === '--password-file') && v !== undefined) {
      part.path(pathText(v), 'read');
    }
  }
  if (hasOption(s, '--delete', '--delete-before', '--delete-during', '--delete-after', '--delete-delay', '--delete-excluded', '--remove-source-files')) {
    part.flag('delete');
  }
  const ops = s.operands;
  let remote = false;
  for (let k = 0; k < ops.length; k++) {
    const w = ops[k] as Word;
    const host = w.value !== null && /^rsync:\/\//i.test(w.value) ? hostOf(w.value) : remoteHost(w.value);
    if (host !== undefined) {
      remote = true;
      part.host(host);
    } else if (k === ops.length - 1 && ops.length > 1) {
      writePath(call, w);
    } else {
      part.path(pathText(w), 'read');
    }
  }
  part.raise(remote ? 'network' : 'write');
}

const CURL_VALUES = optionSet(`-o --output -T --upload-file -d --data --data-binary --data-raw --data-urlencode --data-ascii
  --json -F --form --form-string -K --config -H --header -X --request -u --user -A --user-agent -e --referer -b --cookie
  -c --cookie-jar -D --dump-header --trace --trace-ascii --stderr -x --proxy -U --proxy-user -w --write-out -m --max-time
  --connect-timeout -r --range -C --continue-at -E --cert --key --cacert --capath --resolve --connect-to --interface
  --unix-socket --abstract-unix-socket --url -y --speed-time -Y --speed-limit -z --time-cond --retry --retry-delay
  --retry-max-time --max-filesize --limit-rate --libcurl --output-dir --oauth2-bearer --aws-sigv4 --request-target
  -Q --quote --mail-from --mail-rcpt --variable --expand-url --expand-data --cert-type --key-type --pass --ciphers
  --proto --proto-redir --max-redirs --dns-servers --doh-url --local-port --netrc-file -t --telnet-option --hostpubmd5`);

const CURL_LONG = [...CURL_VALUES].filter((n) => n.startsWith('--')).concat(['--remote-name', '--remote-name-all', '--remote-header-name']);

function curl(call: Call): void {
  const part = call.part.raise('network');
  const s = strictArgs(call, CURL_VALUES);
  const urls: Word[] = [...s.operands, ...optionValues(s, '--url')];
  for (const o of s.options) {
    const v = o.value;
    switch (o.name.startsWith('--') ? (canonicalOption(o.name, CURL_LONG) ?? o.name) : o.name) {
      case '-o': case '--output': case '-c': case '--cookie-jar': case '-D': case '--dump-header': case '--trace':
      case '--trace-ascii': case '--stderr': case '--libcurl':
        if (v !== undefined) writePath(call, v);
        break;
      case '-O': case '--remote-name': case '--remote-name-all': case '-J': case '--remote-header-name':
        part.raise('write').flag('download');
        break;
      case '-K': case '--config':
        part.unknown('curl -K reads options from a file').flag('custom_config');
        break;
      case '-T': case '--upload-file': case '--netrc-file': case '-E': case '--cert': case '--key': case '-b': case '--cookie':
        if (v !== undefined && (o.name !== '-b' && o.name !== '--cookie' || !(v.value ?? '').includes('='))) {
          part.path(pathText(v), 'read');
          if (o.name === '-T' || o.name === '--upload-file') part.flag('upload');
        }
        break;
      case '-d': case '--data': case '--data-binary': case '--data-ascii': case '--data-urlencode': case '--json':
      case '-F': case '--form': {
        const t = v?.value ?? '';
        const at = /(?:^|=)[@<]([^;]+)/.exec(t);
        if (at !== null) part.path(at[1] as string, 'read').flag('upload');
        break;
      }
      case '--unix-socket': case '--abstract-unix-socket':
        if (v !== undefined) part.path(pathText(v), 'read').flag('unix_socket');
        break;
      default:
        break;
    }
  }
  for (const u of urls) {
    const t = u.value ?? '';
    if (/^file:/i.test(t)) part.path(t.replace(/^file:(\/\/)?/i, ''), 'read');
    const h = hostOf(t);
    if (h !== undefined) part.host(h);
  }
}

const WGET_VALUES = optionSet(`-O --output-document -o --output-file -a --append-output -P --directory-prefix -i --input-file
  --post-file --body-file --post-data --body-data -e --execute --use-askpass -U --user-agent --header --user --password
  --http-user --http-password -t --tries -T --timeout -w --wait -Q --quota -l --level -A --accept -R --reject -D --domains
  --method --limit-rate --load-cookies --save-cookies --ca-certificate --certificate --private-key -B --base
  --default-page --referer`);

const WGET_LONG = [...WGET_VALUES].filter((n) => n.startsWith('--'));

function wget(call: Call): void {
  const part = call.part.raise('network');
  const s = strictArgs(call, WGET_VALUES);
  let output = false;
  for (const o of s.options) {
    const v = o.value;
    switch (o.name.startsWith('--') ? (canonicalOption(o.name, WGET_LONG) ?? o.name) : o.name) {
      case '-O': case '--output-document':
        output = true;
        if (v !== undefined) writePath(call, v);
        break;
      case '-o': case '--output-file': case '-a': case '--append-output': case '-P': case '--directory-prefix': case '--save-cookies':
        if (v !== undefined) writePath(call, v);
        break;
      case '-i': case '--input-file': case '--post-file': case '--body-file': case '--load-cookies':
        if (v !== undefined) part.path(pathText(v), 'read');
        if (o.name === '--post-file' || o.name === '--body-file') part.flag('upload');
        break;
      case '-e': case '--execute':
        part.unknown('wget -e runs a wgetrc command').flag('custom_config');
        break;
      case '--use-askpass':
        part.raise('execute').flag('program_exec');
        break;
      default:
        break;
    }
  }
  if (!output && !hasOption(s, '--spider')) part.raise('write').flag('download');
  for (const u of s.operands) {
    const h = hostOf(u.value ?? '');
    if (h !== undefined) part.host(h);
  }
}

function netcat(call: Call): void {
  const part = call.part.raise('network');
  const s = strictArgs(call, optionSet('-e -c --exec --sh-exec --lua-exec -p -s -w -i -q -o -x -X -P -O -I -T -V -W --output --proxy --source'));
  for (const o of s.options) {
    if ((o.name === '-e' || o.name === '--exec') && o.value !== undefined) {
      part.raise('execute').flag('program_exec');
      call.run([o.value], { separate: true });
    }
    if ((o.name === '-c' || o.name === '--sh-exec') && o.value !== undefined) {
      // The command talks to the network peer: a remote shell whatever it is.
      part.raise('execute').flag('program_exec');
      call.code(o.value, { separate: true, flags: ['wrapper'] });
    }
    if (o.name === '--lua-exec') part.raise('execute').flag('program_exec');
    if ((o.name === '-o' || o.name === '--output') && o.value !== undefined) writePath(call, o.value);
  }
  if (hasOption(s, '-l', '--listen')) part.flag('listen');
  for (const w of s.operands) if (w.value !== null && !/^\d+(-\d+)?$/.test(w.value)) part.host(hostOf(w.value) ?? w.value);
}

function socat(call: Call): void {
  const part = call.part.raise('network');
  if (call.args.some((a) => a.value === null)) dynamicArgs(call);
  for (const a of call.args) {
    const v = a.value ?? '';
    if (/(^|[,!])\s*(EXEC|SYSTEM)\s*:/i.test(v)) part.raise('execute').flag('program_exec');
    const m = /(?:^|[,!])\s*(?:TCP[46]?|UDP[46]?|TCP[46]?-CONNECT|UDP[46]?-SENDTO|OPENSSL|SSL|SCTP-CONNECT|PROXY)\s*:\s*([^:,]+):/i.exec(v);
    if (m) part.host((m[1] as string).toLowerCase());
    if (/(^|[,!])\s*(OPEN|CREATE|GOPEN|CREAT)\s*:/i.test(v)) part.raise('write');
  }
}

function hostsFromOperands(values = ''): ProgramHandler {
  const set = optionSet(values);
  return (call) => {
    call.part.raise('network');
    const s = strictArgs(call, set);
    for (const w of s.operands) {
      const v = (w.value ?? '').replace(/^@/, '');
      const h = hostOf(v);
      if (h !== undefined && /[.:]|^localhost$/.test(h)) call.part.host(h);
    }
  };
}

function httpie(call: Call): void {
  const part = call.part.raise('network');
  const s = strictArgs(call, optionSet('-o --output -a --auth -A --auth-type --session --session-read-only --cert --cert-key --verify --timeout -p --print --proxy'));
  for (const o of optionValues(s, '-o', '--output')) writePath(call, o);
  if (hasOption(s, '-d', '--download')) part.raise('write').flag('download');
  for (const w of s.operands) {
    const v = w.value ?? '';
    if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(v) || /^[\w.-]+(:\d+)?(\/|$)/.test(v) && !/[=:@]=?/.test(v.replace(/^[\w.-]+:\d+/, ''))) {
      const h = hostOf(v);
      if (h !== undefined) part.host(h);
    } else {
      const at = /^[^=]*=?@(.+)$/.exec(v);
      if (at) part.path(at[1] as string, 'read').flag('upload');
    }
  }
}

// --- version control and orchestration --------------------------------------------------------

const GIT_GLOBAL_VALUES = optionSet('-C -c --git-dir --work-tree --namespace --super-prefix --config-env --exec-path --list-cmds');
/** `git -c` keys that only change presentation; any other key may name a program to run. */
const GIT_SAFE_CONFIG = /^(color\.|advice\.|user\.(name|email)$|core\.(quotepath|abbrev|autocrlf|safecrlf|longpaths)$|log\.|diff\.(renames|noprefix|mnemonicprefix|colormoved|algorithm|context|interhunkcontext)$|format\.pretty$|i18n\.|column\.|init\.defaultbranch$|safe\.directory$|status\.|branch\.sort$|tag\.sort$|blame\.|grep\.(linenumber|patterntype|extendedregexp|column|fullname)$|merge\.conflictstyle$|pull\.(rebase|ff)$|push\.default$|fetch\.prune$)/i;

const GIT = table({
  read: `status, log, diff, show, blame, annotate, shortlog, describe, rev-parse, rev-list, ls-files, ls-tree, cat-file,
    show-ref, show-branch, for-each-ref, name-rev, merge-base, grep, whatchanged, count-objects, fsck, version, help,
    var, check-ignore, check-attr, check-ref-format, cherry, range-diff, diff-tree, diff-files, diff-index, verify-commit,
    verify-tag, verify-pack, get-tar-commit-id, reflog show, stash list, stash show, worktree list, notes list, notes show,
    submodule status, submodule summary, remote show, remote get-url, config get, config list, bisect log, bisect view,
    archive, column, show-index`,
  write: `add, commit, checkout, switch, restore, reset, merge, rebase, cherry-pick, revert, rm, mv, clean, init, am,
    apply, stash, stash push, stash pop, stash apply, stash drop, stash clear, stash save, gc, prune, repack, notes add,
    notes remove, notes edit, worktree add, worktree remove, worktree prune, update-index, update-ref, replace,
    read-tree, write-tree, commit-tree, mktree, pack-refs, maintenance, sparse-checkout, format-patch, bundle, tag,
    branch, bisect, bisect start, bisect good, bisect bad, bisect reset, bisect skip, reflog expire, reflog delete,
    remote add, remote remove, remote rm, remote rename, remote set-url, remote set-head, remote set-branches,
    submodule init, submodule deinit, submodule add, submodule absorbgitdirs, symbolic-ref, hash-object, citool`,
  network: `push, pull, fetch, clone, ls-remote, submodule update, submodule sync, remote update, remote prune,
    send-email, request-pull, fetch-pack, send-pack`,
  execute: `filter-branch, filter-repo, bisect run, submodule foreach, difftool, mergetool, instaweb, daemon,
    http-backend, shell, upload-pack, receive-pack, config, credential, credential-store, credential-cache, gui, gitk`,
});
const GIT_SUB_VALUES = optionSet('-m -F -C -c -b -B -n --format --pretty -o --output -S -G --author --since --until --grep -U --unified -L --depth --shallow-since --template -O --open-files-in-pager -e -f -t -X --strategy --exec -x --onto --config --upload-pack --receive-pack -u --origin --branch --reference --separate-git-dir --message --file');

function git(call: Call): void {
  const part = call.part;
  const args = call.args;
  let i = 0;
  // Global options come before the subcommand.
  for (; i < args.length; i++) {
    const a = args[i] as Word;
    const v = a.value;
    if (v === null || a.pattern) {
      dynamicArgs(call);
      return;
    }
    if (!v.startsWith('-')) break;
    const eq = v.indexOf('=');
    const name = v.startsWith('--') && eq > 0 ? v.slice(0, eq) : v;
    let value: string | null | undefined = v.startsWith('--') && eq > 0 ? v.slice(eq + 1) : undefined;
    if (value === undefined && GIT_GLOBAL_VALUES.has(name)) value = args[++i]?.value ?? null;
    if (name.startsWith('-c') && name.length > 2 && !name.startsWith('--')) value = name.slice(2);
    if (name === '-c' || (name.startsWith('-c') && !name.startsWith('--'))) {
      const key = (value ?? '').split('=')[0] ?? '';
      if (value === null || !GIT_SAFE_CONFIG.test(key)) part.raise('execute').flag('git_config');
    } else if (name === '--config-env' || name === '--exec-path') {
      if (name === '--config-env' || value !== undefined) part.raise('execute').flag('git_config');
    } else if (value === null) {
      dynamicArgs(call);
    }
  }
  const rest = args.slice(i);
  if (rest.length === 0) {
    part.raise('read');
    return;
  }
  const s = scanArgs(rest, GIT_SUB_VALUES);
  // `git rebase $x` with x=--exec=...: a word that may be an option makes any subcommand unknown.
  if (s.dynamic) dynamicArgs(call);
  const sub = rest[0]?.value ?? '';
  const second = s.operands[1]?.value ?? '';
  let cls = GIT[`${sub} ${second}`] ?? GIT[sub];
  let label = GIT[`${sub} ${second}`] !== undefined ? `${sub} ${second}` : sub;
  const ops = s.operands.slice(1);
  switch (sub) {
    case 'branch': {
      // Listing unless it creates, deletes, moves, copies or configures a branch.
      const changing = hasOption(s, '-d', '-D', '--delete', '-m', '-M', '--move', '-c', '-C', '--copy', '-f', '--force',
        '-u', '--set-upstream-to', '--unset-upstream', '--edit-description', '-t', '--track', '--no-track');
      const listing = hasOption(s, '-l', '--list', '-a', '--all', '-r', '--remotes', '--contains', '--no-contains', '--merged',
        '--no-merged', '--points-at', '--show-current');
      cls = !changing && (ops.length === 0 || listing) ? 'read' : 'write';
      break;
    }
    case 'tag': {
      const changing = hasOption(s, '-d', '--delete', '-a', '--annotate', '-s', '--sign', '-u', '--local-user', '-f', '--force',
        '-m', '--message', '-F', '--file', '-e', '--edit');
      const listing = hasOption(s, '-l', '--list', '-v', '--verify', '--contains', '--no-contains', '--merged', '--no-merged', '--points-at');
      cls = !changing && (ops.length === 0 || listing) ? 'read' : 'write';
      break;
    }
    case 'remote':
      if (ops.length === 0) cls = 'read';
      break;
    case 'stash':
      if (ops.length === 0) cls = 'write';
      break;
    case 'config': {
      const reading = hasOption(s, '--get', '--get-all', '--get-regexp', '--get-urlmatch', '--list', '-l', '--get-color',
        '--get-colorbool', '--show-origin', '--show-scope', '--name-only') || second === 'get' || second === 'list' ||
        (ops.length === 1 && !hasOption(s, '--unset', '--unset-all', '--add', '--replace-all', '--remove-section', '--rename-section', '-e', '--edit'));
      // Many keys name programs git runs later (core.pager, core.sshCommand, alias.*).
      const key = (second === 'set' ? s.operands[2]?.value : second) ?? '';
      cls = reading ? 'read' : GIT_SAFE_CONFIG.test(key) ? 'write' : 'execute';
      if (!reading) part.flag('git_config');
      label = 'config';
      break;
    }
    case 'bisect':
      if (second === 'run') cls = 'execute';
      break;
    case 'archive':
      if (hasOption(s, '--remote')) cls = 'network';
      break;
    default:
      break;
  }
  part.kind = `git ${label}`;
  if (cls === undefined) {
    part.unknown(`git ${sub} is not in the program table (it may be an alias)`);
    return;
  }
  part.raise(cls);
  const is = (o: { name: string }, ...names: string[]): boolean => names.some((n) => optionMatches(o.name, n));
  for (const o of s.options) {
    if (is(o, '-O', '--open-files-in-pager', '--ext-diff', '--textconv', '--exec', '--upload-pack', '--receive-pack') ||
      (o.name === '-x' && sub === 'rebase') || (o.name === '-u' && ['clone', 'fetch', 'pull', 'ls-remote', 'archive'].includes(sub))) {
      part.raise('execute').flag('program_exec');
    }
    if ((is(o, '--output') || (o.name === '-o' && sub !== 'commit' && sub !== 'clone')) && o.value !== undefined) writePath(call, o.value);
    if ((o.name === '-c' || is(o, '--config')) && sub === 'clone' && !GIT_SAFE_CONFIG.test((o.value?.value ?? '').split('=')[0] ?? '')) {
      part.raise('execute').flag('git_config');
    }
  }
  if (cls === 'network') {
    for (const w of ops) {
      const h = remoteHost(w.value) ?? (w.value !== null && /^[a-z]+:\/\//i.test(w.value) ? hostOf(w.value) : undefined);
      if (h !== undefined) part.host(h);
      // ext:: and fd:: transports run programs.
      if (w.value !== null && /^(ext|fd)::/i.test(w.value)) part.raise('execute').flag('program_exec');
    }
  }
}

const KUBECTL_VALUES = optionSet(`-n --namespace --context --cluster --user -s --server --token --as --as-group --as-uid
  --kubeconfig --request-timeout --certificate-authority --client-certificate --client-key --tls-server-name -v --v
  --cache-dir -l --selector --field-selector -o --output -f --filename -c --container --sort-by --template --since
  --since-time --tail --limit-bytes --timeout --type --image --replicas --port --from-literal --from-file --from-env-file
  -k --kustomize --for -L --label-columns --chunk-size --max-log-requests -p --patch --subresource --raw --resource-version
  --grace-period --cascade --dry-run --field-manager --overrides --env --target --profile --session-name --copy-to
  --context-name --namespace-name --show-labels-columns --prefix --pod-running-timeout --address --local-port --mode
  --protocol --name --revision --to-revision --wait-for --selector-key`);

const KUBECTL = table({
  read: `get, describe, logs, log, top, explain, api-resources, api-versions, version, cluster-info, diff, events, wait,
    auth can-i, auth whoami, config view, config get-contexts, config current-context, config get-clusters,
    config get-users, rollout status, rollout history, plugin list, kustomize, completion, options, help, alpha events`,
  write: `apply, create, patch, replace, edit, set, label, annotate, scale, autoscale, expose, delete, rollout,
    rollout restart, rollout undo, rollout pause, rollout resume, config use-context, config set-context, config set-cluster,
    config set, config unset, config delete-context, config delete-cluster, config delete-user, config rename-context`,
  execute: `exec, attach, port-forward, proxy, cp, debug, run, config set-credentials, plugin`,
  admin: `drain, cordon, uncordon, taint, certificate`,
  privilege: `certificate approve, certificate deny, auth reconcile, create role, create clusterrole, create rolebinding,
    create clusterrolebinding, create serviceaccount, create token`,
});

function kubectl(call: Call): void {
  const part = call.part;
  const s = strictArgs(call, KUBECTL_VALUES);
  for (const o of s.options) {
    if (o.name === '--as' || o.name === '--as-group' || o.name === '--as-uid') part.raise('privilege').flag('impersonation');
    // A kubeconfig can name an exec credential plugin: a program kubectl runs.
    if (o.name === '--kubeconfig') part.raise('execute').flag('custom_config');
    if (o.name === '-s' || o.name === '--server') part.host(hostOf(o.value?.value ?? '') ?? '');
    if (o.name === '--raw') part.flag('raw_api');
  }
  const a = word(s, 0) ?? '';
  const b = word(s, 1) ?? '';
  const two = `${a} ${b}`;
  let cls = KUBECTL[two] ?? KUBECTL[a];
  const label = KUBECTL[two] !== undefined ? two : a;
  if (a === '') cls = 'read';
  if (a === 'kustomize' && hasOption(s, '--enable-alpha-plugins', '--enable-exec')) cls = 'execute';
  part.kind = `kubectl ${label}`.trim();
  if (cls === undefined) {
    part.unknown(`kubectl ${a} is not in the program table (it may be a plugin)`);
    return;
  }
  part.raise(cls);
  for (const f of optionValues(s, '-f', '--filename')) part.path(pathText(f), 'read');
}

const DOCKER_VALUES = optionSet('-H --host --context -c --config -l --log-level --tlscacert --tlscert --tlskey -f --filter --format -n --tail --since --until -a --attach -e --env -v --volume -p --publish -w --workdir -u --user --name --network --entrypoint --mount -t --tag --platform --env-file --label -s --signal --time');
const DOCKER = table({
  read: `ps, images, inspect, logs, version, info, top, port, diff, events, history, search, stats, container ls,
    container list, container ps, container inspect, container logs, container top, container port, container diff,
    container stats, image ls, image list, image inspect, image history, volume ls, volume list, volume inspect,
    network ls, network list, network inspect, system df, system info, system events, context ls, context list,
    context show, context inspect, compose ps, compose ls, compose logs, compose config, compose images, compose top,
    compose version, compose port, manifest inspect, buildx ls, buildx inspect, node ls, service ls, service ps,
    service inspect, service logs, stack ls, stack ps, stack services, secret ls, config ls, plugin ls`,
  execute: `run, exec, start, restart, create, build, attach, compose, compose up, compose run, compose exec,
    compose build, compose start, compose restart, compose create, container run, container exec, container start,
    container restart, container create, container attach, buildx, buildx build, image build, plugin install,
    plugin enable, service create, stack deploy`,
  admin: `stop, kill, rm, rmi, pause, unpause, update, rename, prune, system prune, container stop, container kill,
    container rm, container prune, container pause, container unpause, container update, container rename, image rm,
    image prune, volume rm, volume prune, volume create, network rm, network prune, network create, network connect,
    network disconnect, compose down, compose stop, compose kill, compose rm, compose pause, service rm, stack rm,
    swarm, node, secret, config, plugin rm, plugin disable, context use, context create, context rm`,
  network: 'pull, push, login, logout, image pull, image push, compose pull, compose push, manifest push, trust',
  write: 'cp, commit, tag, save, load, import, export, image tag, image save, image load, image import, container cp, container commit, container export',
});

function docker(call: Call): void {
  const part = call.part;
  const s = strictArgs(call, DOCKER_VALUES);
  for (const o of s.options) {
    if (o.name === '-H' || o.name === '--host') part.host(hostOf(o.value?.value ?? '') ?? '');
    if (o.name === '--config') part.raise('execute').flag('custom_config');
  }
  if (hasOption(s, '--privileged') || optionValues(s, '-v', '--volume').some((v) => (v.value ?? '').startsWith('/:')) ||
    optionValues(s, '--pid', '--network').some((v) => v.value === 'host')) {
    part.raise('admin').flag('privileged_container');
  }
  const a = word(s, 0) ?? '';
  const b = word(s, 1) ?? '';
  const two = `${a} ${b}`;
  const cls = a === '' ? 'read' : (DOCKER[two] ?? DOCKER[a]);
  part.kind = `${call.name} ${DOCKER[two] !== undefined ? two : a}`.trim();
  if (cls === undefined) {
    part.unknown(`${call.name} ${a} is not in the program table`);
    return;
  }
  part.raise(cls);
}

const SYSTEMCTL = table({
  read: `status, show, cat, list-units, list-unit-files, list-timers, list-sockets, list-dependencies, list-jobs,
    list-machines, list-automounts, list-paths, is-active, is-enabled, is-failed, is-system-running, get-default,
    show-environment, help, version`,
  admin: `start, stop, restart, reload, try-restart, reload-or-restart, try-reload-or-restart, enable, disable, reenable,
    mask, unmask, daemon-reload, daemon-reexec, kill, reboot, poweroff, halt, suspend, hibernate, isolate, set-default,
    set-environment, unset-environment, import-environment, reset-failed, link, revert, preset, preset-all, add-wants,
    add-requires, set-property, clean, freeze, thaw, default, rescue, emergency, exit, switch-root, kexec, soft-reboot`,
  execute: 'edit',
});

// --- small programs whose arguments decide ------------------------------------------------------

function date(call: Call): void {
  const part = call.part.raise('read');
  const s = strictArgs(call, optionSet('-d --date -f --file -r --reference -s --set -I --iso-8601 --rfc-3339'));
  if (hasOption(s, '-s', '--set')) part.raise('admin');
  for (const w of s.operands) if (!(w.value ?? '').startsWith('+')) part.raise('admin');
}

function hostname(call: Call): void {
  const s = strictArgs(call, optionSet('-F --file'));
  call.part.raise(s.operands.length > 0 || hasOption(s, '-F', '--file', '-b', '--boot') ? 'admin' : 'read');
}

const IP_READ = new Set(['show', 'list', 'ls', 'lst', 'get', 'help', 'monitor']);

/** ip takes single-dash long options that may be abbreviated (`-br` is -brief, `-b` is -batch). */
function ip(call: Call): void {
  const part = call.part;
  const operands: Word[] = [];
  const args = call.args;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as Word;
    if (a.value === null || a.pattern) {
      dynamicArgs(call);
      return;
    }
    if (!a.value.startsWith('-') || operands.length > 0) {
      operands.push(a);
      continue;
    }
    const n = a.value.replace(/^--?/, '');
    const is = (full: string, min: number): boolean => n.length >= min && full.startsWith(n);
    if (is('brief', 2) || is('json', 1) || is('pretty', 1) || is('details', 1) || is('stats', 1) || is('statistics', 1) ||
      is('oneline', 1) || is('color', 1) || is('resolve', 1) || is('all', 1) || is('timestamp', 1) || is('tshort', 2) ||
      is('iec', 1) || is('human', 1) || is('Version', 1) || n === '4' || n === '6' || n === '0' || n === 'M' || n === 'B' ||
      n.startsWith('color=')) {
      continue;
    }
    if (is('netns', 1) || is('rcvbuf', 2) || is('loops', 1) || is('family', 1)) {
      i++;
      continue;
    }
    // -batch, -force and anything else: commands that are not visible here.
    part.unknown(`ip option ${a.value} is not understood`);
    return;
  }
  const object = operands[0]?.value ?? undefined;
  const command = operands[1]?.value ?? undefined;
  if (object === 'netns' && command === 'exec') {
    // ip netns exec NAME CMD...
    part.raise('admin').flag('wrapper');
    call.run(operands.slice(3), { floor: 'admin' });
    return;
  }
  part.kind = `ip ${object ?? ''} ${command ?? ''}`.trim();
  part.raise(command === undefined || IP_READ.has(command) ? 'read' : 'admin');
}

function sysctl(call: Call): void {
  const s = strictArgs(call, optionSet('-p --load -r --pattern'));
  const writing = hasOption(s, '-w', '--write', '-p', '--load', '--system') || s.operands.some((w) => (w.value ?? '').includes('='));
  call.part.raise(writing ? 'admin' : 'read');
}

function mount(call: Call): void {
  const s = strictArgs(call, optionSet('-t --types -O --test-opts -L -U --label --uuid -o --options'));
  call.part.raise(s.operands.length === 0 && !hasOption(s, '-a', '--all', '-o', '--options', '--bind', '--move', '-B', '-M') ? 'read' : 'admin');
}

function kill(call: Call): void {
  const s = scanArgs(call.args, optionSet('-s -n --signal'));
  call.part.raise(hasOption(s, '-l', '-L', '--list', '--table') ? 'read' : 'admin');
}

function crontab(call: Call): void {
  const s = strictArgs(call, optionSet('-u'));
  if (hasOption(s, '-l')) call.part.raise('read');
  else if (hasOption(s, '-r')) call.part.raise('write');
  // Installing a crontab schedules commands that are not visible here.
  else call.part.raise('execute').flag('scheduled');
}

function compress(call: Call): void {
  const s = strictArgs(call, optionSet('-S --suffix -b -T --threads -o -L --level'));
  const toStdout = hasOption(s, '-c', '--stdout', '--to-stdout', '-l', '--list', '-t', '--test', '--info');
  const part = call.part.raise(toStdout ? 'read' : 'write');
  for (const w of s.operands) part.path(pathText(w), toStdout ? 'read' : 'write');
  for (const o of optionValues(s, '-o')) writePath(call, o);
}

function unzip(call: Call): void {
  const s = strictArgs(call, optionSet('-d -P -x'));
  const listing = hasOption(s, '-l', '-v', '-t', '-Z', '-p', '-c', '-z');
  const part = call.part.raise(listing ? 'read' : 'write');
  const first = s.operands[0];
  if (first !== undefined) part.path(pathText(first), 'read');
  for (const d of optionValues(s, '-d')) part.path(pathText(d), 'write');
  if (!listing) part.flag('extract');
}

function zip(call: Call): void {
  const s = strictArgs(call, optionSet('-b -n -t -tt -P -O --output-file -TT --unzip-command -i -x -Z'));
  const part = call.part.raise('write');
  // -TT is one option (the command that tests the archive), not two -T.
  if (hasOption(s, '--unzip-command') || call.args.some((a) => (a.value ?? '').startsWith('-TT'))) part.raise('execute').flag('program_exec');
  const [archive, ...files] = s.operands;
  if (archive !== undefined) writePath(call, archive);
  for (const f of files) part.path(pathText(f), 'read');
}

function sevenZip(call: Call): void {
  const s = strictArgs(call, optionSet(''), true);
  const sub = word(s, 0) ?? '';
  if (sub === 'l' || sub === 't' || sub === 'i' || sub === 'h') call.part.raise('read');
  else if (['x', 'e', 'a', 'u', 'd', 'rn'].includes(sub)) call.part.raise('write');
  else call.part.unknown(`${call.name} ${sub} is not in the program table`);
}

function chmodLike(skip: number): ProgramHandler {
  return (call) => {
    const s = strictArgs(call, optionSet('--reference -m -M -x -X --set --set-file -n'));
    const part = call.part.raise('privilege');
    const n = hasOption(s, '--reference') ? 0 : skip;
    for (const w of s.operands.slice(n)) part.path(pathText(w), 'write');
  };
}

/** su [-] [user] [-c CODE]: without -c, an interactive shell as another user. */
function su(call: Call): void {
  const part = call.part.raise('privilege').flag('sudo');
  const s = strictArgs(call, optionSet('-c --command -s --shell -g --group -G --supp-group -w --whitelist-environment'));
  const code = optionValues(s, '-c', '--command');
  if (code.length === 0) {
    part.raise('execute').flag('interactive_shell');
    stdinCode(call);
    return;
  }
  for (const c of code) call.code(c, { flags: ['wrapper', 'sudo'], floor: 'privilege' });
}

function rm(call: Call): void {
  const part = call.part.raise('write');
  const s = scanArgs(call.args, optionSet('--interactive --preserve-root'));
  if (hasOption(s, '-r', '-R', '--recursive')) part.flag('recursive_delete');
  if (hasOption(s, '--no-preserve-root')) part.flag('no_preserve_root');
  for (const w of s.operands) part.path(pathText(w), 'write');
  if (s.operands.some((w) => w.value === '/' || w.value === '/*' || w.raw === '/*')) part.flag('delete_root');
}

/** Declarations (`export`, `declare`, ...) run as ordinary commands (`builtin export X=1`). */
function declaration(call: Call): void {
  const part = call.part.raise('read');
  for (const a of call.args) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(\[[^\]]*\])?\+?=/.exec(a.value ?? '');
    if (m && isDangerousEnv(m[1] as string)) part.raise('execute').flag('env_injection');
    if (a.value === null) dynamicArgs(call);
  }
}

function alias(call: Call): void {
  call.part.raise('read');
  for (const a of call.args) {
    if (a.value === null) {
      dynamicArgs(call);
      continue;
    }
    const eq = a.value.indexOf('=');
    // An alias body is code that runs wherever the alias is used.
    if (eq > 0) call.code(staticWord(a.value.slice(eq + 1)), { separate: true, flags: ['alias'] });
  }
}

function trap(call: Call): void {
  call.part.raise('read');
  const ops = call.args.filter((a) => !['-l', '-p', '-P', '--'].includes(a.value ?? ''));
  if (ops.length < 2 || ops[0]?.value === '-' || ops[0]?.value === '') return;
  call.code(ops[0], { separate: true, flags: ['trap'] });
}

function evalCommand(call: Call): void {
  call.part.raise('read');
  const args = call.args;
  if (args.length === 0) return;
  const joined = args.every(isStatic) ? staticWord(args.map((a) => a.value).join(' ')) : undefined;
  call.code(joined, { flags: ['wrapper'] });
}

function letCommand(call: Call): void {
  call.part.raise('read').flag('arithmetic');
  // Arithmetic evaluates array subscripts, and `a[$(cmd)]` runs cmd.
  for (const a of call.args) if (a.value === null || /[$`]/.test(a.value)) call.part.unknown('arithmetic with expansions can run commands').flag('dynamic_command');
}

function source(call: Call): void {
  const part = call.part.raise('execute').flag('script');
  const file = call.args[0];
  if (file !== undefined) part.path(pathText(file), 'read');
}

function setBuiltin(call: Call): void {
  call.part.raise(call.args.length === 0 ? 'read' : 'session');
}

function byOptions(readWhen: string, otherwise: IntentClass, values = ''): ProgramHandler {
  const r = optionSet(readWhen);
  const v = optionSet(values);
  return (call) => {
    const s = strictArgs(call, v);
    call.part.raise(s.options.some((o) => r.has(o.name)) || r.has(word(s, 0) ?? '\u0000') ? 'read' : otherwise);
  };
}

function parallel(call: Call): void {
  const part = call.part;
  const args = call.args;
  const sep = args.findIndex((a) => a.value === ':::' || a.value === '::::' || a.value === ':::+' || a.value === '::::+');
  const before = sep < 0 ? args : args.slice(0, sep);
  const s = scanArgs(before, optionSet('-j --jobs -S --sshlogin --sshloginfile -a --arg-file -d --delimiter -I --colsep -C --joblog --results --tmpdir --workdir -N -n --max-args -L --max-lines --env --basefile --return --transfer-file --tag-string --timeout --delay --retries --halt -E'), true);
  for (const h of optionValues(s, '-S', '--sshlogin')) {
    part.raise('network');
    for (const x of (h.value ?? '').split(',')) part.host(hostOf(x) ?? x);
  }
  const template = s.operands;
  if (template.length === 0) {
    part.unknown('parallel runs commands read from its input').flag('dynamic_command');
    return;
  }
  const joined = template.every((t) => t.value !== null) ? staticWord(template.map((t) => t.value).join(' ')) : undefined;
  part.raise('read');
  call.code(joined, { flags: ['wrapper'] });
}

function packageManager(readSubs: string, runSubs: string, values = ''): ProgramHandler {
  return subcommands({ values, table: table({ read: readSubs, execute: runSubs }) });
}

// --- the table ---------------------------------------------------------------------------------

const HEAD_TAIL = '-n -c --lines --bytes --pid -s --sleep-interval --max-unchanged-stats';
const GREP_VALUES = `-e -f -m -A -B -C -d -D --regexp --file --max-count --context --after-context --before-context
  --directories --devices --include --exclude --exclude-dir --exclude-from --label --binary-files --group-separator`;

const PROGRAMS: Record<string, ProgramEntry> = {
  // Read files or print information, with nothing in their options that changes anything.
  cat: read('--'), tac: read('-s --separator'), nl: read('-b -d -f -h -i -l -n -s -v -w'), head: read(HEAD_TAIL), tail: read(HEAD_TAIL),
  wc: read('--files0-from'), cut: read('-d -f -b -c --delimiter --fields --bytes --characters --output-delimiter'),
  paste: read('-d --delimiters'), join: read('-t -1 -2 -j -o -e'), comm: read('--output-delimiter'),
  column: read('-s -c -o -N -R -E -H -W -l -d --separator --output-separator --table-columns'),
  fold: read('-w --width'), fmt: read('-w -p -g --width --prefix --goal'), pr: read('-h -l -w -o -N -s -S -e -i -n -W'),
  rev: read(), tr: read('', 'none'), shuf: { class: 'read', operands: 'read', values: '-n -o -e -i --head-count --output --random-source', writes: '-o --output' },
  objdump: read('-j -M --section --disassembler-options --start-address --stop-address'), readelf: read('-x -p -R --hex-dump --string-dump'),
  nm: read(), size: read(), locate: read('-d -l -n --database --limit', 'none'), last: read('-n -f', 'none'), lastlog: read('-u -b -t', 'none'),
  lastb: read('-n -f', 'none'), expand: read('-t --tabs'), unexpand: read('-t --tabs'), od: read('-A -t -N -j -w -S'),
  hexdump: read('-n -s -e -f'), strings: read('-n -t -e --bytes --radix --encoding'), file: read('-m -f -F -P --magic-file --files-from'),
  stat: read('-c --format --printf'), du: read('-d --max-depth -B --block-size -t --threshold --exclude -X --exclude-from --time-style --files0-from'),
  df: read('-B --block-size -t --type -x --exclude-type --output'), ls: read('-I --ignore -w --width -T --tabsize --block-size --format --sort --time-style --hide --indicator-style --quoting-style --time'),
  dir: read('-I --ignore -w --width -T'), vdir: read('-I --ignore -w --width -T'), realpath: read('--relative-to --relative-base'),
  readlink: read(), md5sum: read(), sha1sum: read(), sha224sum: read(), sha256sum: read(), sha384sum: read(), sha512sum: read(),
  b2sum: read('-l --length'), cksum: read('-a --algorithm -l --length'), sum: read(), cmp: read('-i -n --ignore-initial --bytes'),
  diff: read('-C -U -I -F -x -X -S -L --label --to-file --from-file --exclude --exclude-from --ignore-matching-lines --context --unified --horizon-lines --line-format --color'),
  diff3: read('-L --label'), base64: read('-w --wrap'), base32: read('-w --wrap'), basenc: read('-w --wrap'),
  lsattr: read(), getfacl: read(), getcap: read(), namei: read(), tree: read('-L -P -I -o --charset --filelimit --timefmt -H -T --sort', 'read', { writes: '-o' }),
  grep: read(GREP_VALUES, 'read', { patternUnless: '-e -f --regexp --file' }),
  egrep: read(GREP_VALUES, 'read', { patternUnless: '-e -f --regexp --file' }),
  fgrep: read(GREP_VALUES, 'read', { patternUnless: '-e -f --regexp --file' }),
  zgrep: read(GREP_VALUES, 'read', { patternUnless: '-e -f --regexp --file' }),
  zcat: read(), bzcat: read(), xzcat: read(), zstdcat: read(), lz4cat: read(), zless: read(), zmore: read(), zdiff: read(), zcmp: read(),
  rg: {
    class: 'read', operands: 'read', patternUnless: '-e -f --regexp --file',
    values: `-e -f -g -t -T -m -A -B -C -j -M -E -r --regexp --file --glob --iglob --type --type-not --type-add --max-count
      --context --after-context --before-context --threads --max-columns --encoding --replace --sort --sortr --pre-glob
      --colors --max-depth --max-filesize --path-separator --dfa-size-limit --regex-size-limit --ignore-file --pre`,
    danger: { '--pre': 'execute' },
  },
  jq: read('-f --from-file --arg --argjson --slurpfile --rawfile --indent -L', 'read', { patternUnless: '-f --from-file' }),
  yq: { class: 'read', operands: 'read', values: '-o -p -I --output-format --input-format --indent --from-file', skip: 1, danger: { '-i': 'write', '--inplace': 'write' } },
  sort: {
    class: 'read', operands: 'read',
    values: '-k -t -o -S -T --key --field-separator --output --buffer-size --temporary-directory --parallel --files0-from --batch-size --compress-program --random-source',
    writes: '-o --output', danger: { '--compress-program': 'execute' },
  },
  uniq: { class: 'read', values: '-f -s -w --skip-fields --skip-chars --check-chars', dynamicSafe: false, check: inputOutput },
  xxd: { class: 'read', values: '-c -g -l -s -o -n --cols --groupsize --len --seek --offset --name', check: inputOutput },
  iconv: { class: 'read', operands: 'read', values: '-f -t -o --from-code --to-code --output', writes: '-o --output' },
  sdiff: { class: 'read', operands: 'read', values: '-o -w -I --output --width', writes: '-o --output' },
  less: { class: 'read', operands: 'read', values: '-b -h -j -p -P -t -T -x -y -z -# -o -O -k --log-file --LOG-FILE --lesskey-file', writes: '-o -O --log-file --LOG-FILE', danger: { '-k': 'unknown', '--lesskey-file': 'unknown' }, check: plusCommands },
  more: { class: 'read', operands: 'read', values: '-n --lines', check: plusCommands },
  man: { class: 'read', values: '-P -H -M -S -s -L -m -C -E -R --pager --html --manpath --sections --locale --systems --config-file --encoding --recode', danger: { '-P': 'execute', '--pager': 'execute', '-H': 'execute', '--html': 'execute' } },
  echo: read('', 'none'), printf: read('-v', 'none'), true: read('', 'none'), false: read('', 'none'), ':': read('', 'none'),
  yes: read('', 'none'), seq: read('-f -s -w --format --separator', 'none'), sleep: read('', 'none'), expr: read('', 'none'),
  test: read('', 'none'), '[': read('', 'none'), basename: read('-s --suffix', 'none'), dirname: read('', 'none'), pwd: read('', 'none'),
  whoami: read('', 'none'), id: read('', 'none'), groups: read('', 'none'), logname: read('', 'none'), users: read('', 'none'),
  who: read('', 'none'), w: read('', 'none'), uptime: read('', 'none'), uname: read('', 'none'), arch: read('', 'none'), nproc: read('', 'none'),
  getconf: read('', 'none'), locale: read('', 'none'), tty: read('', 'none'), free: read('-s -c --seconds --count', 'none'),
  vmstat: read('-s -S -d -p -w -t -c', 'none'), iostat: read('-c -d -p -o -j', 'none'), mpstat: read('-P -o -I -N', 'none'),
  ps: read('-o -p -u -U -g -G -t -C --pid --ppid --sort --format --cols --columns --rows -O -q', 'none'), pgrep: read('-d -g -G -P -s -t -u -U --delimiter --group --parent --session --terminal --euid --uid --ns --nslist --signal -F --pidfile', 'none'),
  pidof: read('-o -S', 'none'), pstree: read('', 'none'), top: read('-b -n -d -p -u -U -o -O -w -E -e -s -H -c -i -S', 'none'),
  lscpu: read('', 'none'), lsblk: read('-o -I -e -x --output --include --exclude --sort', 'none'), lsusb: read('-s -d -D', 'none'),
  lspci: read('-s -d -i -p -A -O', 'none'), lsmod: read('', 'none'), blkid: read('-c -o -s -t -L -U -O -S -p', 'none'),
  findmnt: read('-o -t -O -S -T -N -F -M --output --types --options --source --target --task --tab-file --mountpoint', 'none'),
  lsof: read('-p -u -g -c -d -s -i -a -t -F -D -E -k -S -T -o +D +d', 'none'), netstat: read('-A --protocol', 'none'),
  ss: { class: 'read', values: '-A -f --query --family -F --filter', danger: { '-K': 'admin', '--kill': 'admin' } },
  printenv: read('', 'none'), cal: read('', 'none'), ncal: read('', 'none'), factor: read('', 'none'), numfmt: read('--format --from --to --field --padding --suffix --grouping --invalid --round', 'none'),
  tput: read('-T', 'none'), clear: read('', 'none'), which: read('', 'none'), whereis: read('-B -M -S -f', 'none'), whatis: read('', 'none'),
  apropos: read('', 'none'), type: read('', 'none'), cd: read('', 'none'), pushd: read('', 'none'), popd: read('', 'none'),
  dirs: read('', 'none'), read: read('-a -d -i -n -N -p -t -u', 'none'), getopts: read('', 'none'), shift: read('', 'none'),
  exit: read('', 'none'), return: read('', 'none'), break: read('', 'none'), continue: read('', 'none'), wait: read('-n -p', 'none'),
  jobs: read('', 'none'), bg: read('', 'none'), fg: read('', 'none'), disown: read('', 'none'), times: read('', 'none'), help: read('', 'none'),
  caller: read('', 'none'), logout: read('', 'none'), unset: read('', 'none'), bc: read('', 'read'),
  lsns: read('-o -t -p --output --type --task', 'none'), getent: read('-s --service', 'none'),
  journalctl: {
    class: 'read',
    values: `-u -n -p -t -S -U -o -D -M -g -F --since --until --unit --user-unit --lines --priority --identifier --output --directory
      --file --grep --facility --field --cursor --after-cursor --root --namespace --image --output-fields --boot -b`,
    danger: Object.fromEntries(['--vacuum-size', '--vacuum-time', '--vacuum-files', '--rotate', '--flush', '--sync', '--relinquish-var',
      '--smart-relinquish-var', '--setup-keys', '--update-catalog'].map((o) => [o, 'admin' as IntentClass])),
  },
  dmesg: {
    class: 'read', values: '-f -l -s -F --facility --level --buffer-size --file --time-format',
    danger: Object.fromEntries(['-c', '-C', '--clear', '--read-clear', '-D', '-E', '--console-off', '--console-on', '-n', '--console-level'].map((o) => [o, 'admin' as IntentClass])),
  },
  history: (call) => call.part.raise(call.args.length === 0 ? 'read' : 'session'),
  set: setBuiltin, shopt: byOptions('-p -q', 'session'), umask: (call) => call.part.raise(call.args.some((a) => !(a.value ?? '-').startsWith('-')) ? 'session' : 'read'),
  ulimit: setBuiltin,
  hash: { class: 'read', values: '-p -t -d', danger: { '-p': 'unknown' } },
  mapfile: { class: 'read', values: '-d -n -O -s -u -c -C', danger: { '-C': 'execute' } },
  readarray: { class: 'read', values: '-d -n -O -s -u -c -C', danger: { '-C': 'execute' } },
  compgen: { class: 'read', values: '-A -G -W -P -S -X -o -F -C', danger: { '-C': 'execute', '-F': 'execute' } },
  fc: { class: 'execute' },
  date, hostname, ip, sysctl, mount, kill, crontab, find, sed, awk, gawk: awk, mawk: awk, nawk: awk,
  tar, gtar: tar, bsdtar: tar, dd, tee,
  let: letCommand, eval: evalCommand, source, '.': source, alias, trap,
  export: declaration, declare: declaration, typeset: declaration, local: declaration, readonly: declaration,
  parallel,

  // Change files.
  rm, rmdir: { class: 'write', operands: 'write', dynamicSafe: true }, unlink: { class: 'write', operands: 'write', dynamicSafe: true },
  shred: { class: 'write', operands: 'write', values: '-n -s --iterations --size --random-source', dynamicSafe: true },
  mkdir: { class: 'write', operands: 'write', values: '-m --mode --context', dynamicSafe: true },
  touch: { class: 'write', operands: 'write', values: '-d -t -r --date --reference --time', reads: '-r --reference', dynamicSafe: true },
  truncate: { class: 'write', operands: 'write', values: '-s -r --size --reference', dynamicSafe: true },
  mktemp: { class: 'write', values: '-p --tmpdir -t --suffix', dynamicSafe: true },
  split: { class: 'write', operands: 'read', values: '-l -b -C -n -a -t --additional-suffix --filter --lines --bytes --line-bytes --number --suffix-length --separator', danger: { '--filter': 'execute' } },
  csplit: { class: 'write', operands: 'read', values: '-b -f -n --suffix-format --prefix --digits' },
  patch: { class: 'write', values: '-p -i -o -d -D -F -r -V -z -B -Y --input --output --directory --strip --reject-file', reads: '-i --input', writes: '-o --output -r --reject-file' },
  cp: copyLike('cp'), mv: copyLike('mv'), ln: copyLike('ln'), install: copyLike('install'),
  chmod: chmodLike(1), chown: chmodLike(1), chgrp: chmodLike(1), chattr: chmodLike(1), setcap: chmodLike(1), setfacl: chmodLike(0),
  chcon: chmodLike(1), restorecon: chmodLike(0),
  gzip: compress, gunzip: compress, bzip2: compress, bunzip2: compress, xz: compress, unxz: compress, zstd: compress,
  unzstd: compress, lz4: compress, unlz4: compress, compress, uncompress: compress, lzma: compress, unlzma: compress,
  unzip, zip, '7z': sevenZip, '7za': sevenZip, '7zr': sevenZip,
  sudoedit: { class: 'privilege', operands: 'write' },

  // The network.
  curl, wget, ssh, scp, sftp, rsync, nc: netcat, ncat: netcat, netcat, socat,
  telnet: hostsFromOperands(), ping: hostsFromOperands('-c -i -w -W -s -t -I -p -Q -l -M -m'), ping6: hostsFromOperands('-c -i -w -W -s -t -I -p -Q -l'),
  traceroute: hostsFromOperands('-f -g -i -m -N -p -t -w -q -s -z'), traceroute6: hostsFromOperands('-f -g -i -m -N -p -t -w -q -s -z'),
  tracepath: hostsFromOperands('-l -m -p'), mtr: hostsFromOperands('-c -i -s -m -f -a -B -Q -P -L'), dig: hostsFromOperands('-b -c -f -k -p -q -t -x -y'),
  nslookup: hostsFromOperands(), host: hostsFromOperands('-c -N -R -t -W -m'), whois: hostsFromOperands('-h -p'),
  ftp: hostsFromOperands(), http: httpie, https: httpie, xh: httpie,
  nmap: { class: 'network', values: '-p -iL -oN -oX -oG -oA -oS --script --script-args -e -S -D --exclude --excludefile -T', writes: '-oN -oX -oG -oA -oS', danger: { '--script': 'execute', '-sC': 'execute' } },

  // Version control, containers, orchestration, services.
  git, kubectl, oc: kubectl, docker, podman: docker, nerdctl: docker,
  systemctl: subcommands({ values: '-H --host -M --machine -t --type -p --property --state -n --lines -o --output -s --signal --kill-whom --root --job-mode', table: SYSTEMCTL, none: 'read' }),
  service: (call) => {
    const s = strictArgs(call, optionSet(''));
    call.part.raise(hasOption(s, '--status-all') || word(s, 1) === 'status' ? 'read' : 'admin');
  },
  helm: subcommands({
    values: '-n --namespace --kube-context -f --values --set --set-string --set-file --version -o --output --revision --repo --timeout',
    table: table({
      read: 'list, ls, status, get, history, show, search, template, version, lint, env, dependency list, repo list, plugin list, help, completion',
      write: 'install, upgrade, uninstall, delete, rollback',
      network: 'repo add, repo update, repo remove, pull, push, registry, dependency update, dependency build, package',
      execute: 'plugin, test, plugin install',
    }),
    check: (call, s) => {
      if (hasOption(s, '--kubeconfig', '--post-renderer')) call.part.raise('execute').flag('custom_config');
    },
  }),
  hostnamectl: subcommands({ table: table({ read: 'status, show', admin: 'hostname, set-hostname, icon-name, set-icon-name, chassis, set-chassis, deployment, set-deployment, location, set-location' }), none: 'read' }),
  timedatectl: subcommands({ table: table({ read: 'status, show, list-timezones, timesync-status, show-timesync', admin: 'set-time, set-timezone, set-local-rtc, set-ntp' }), none: 'read' }),
  localectl: subcommands({ table: table({ read: 'status, list-locales, list-keymaps, list-x11-keymap-models, list-x11-keymap-layouts', admin: 'set-locale, set-keymap, set-x11-keymap' }), none: 'read' }),

  // The machine itself.
  killall: { class: 'admin' }, pkill: { class: 'admin' }, shutdown: { class: 'admin' }, reboot: { class: 'admin' },
  poweroff: { class: 'admin' }, halt: { class: 'admin' }, init: { class: 'admin' }, telinit: { class: 'admin' },
  mke2fs: { class: 'admin' }, mkswap: { class: 'admin' }, wipefs: { class: 'admin' }, swapoff: { class: 'admin' },
  swapon: byOptions('-s --summary --show', 'admin'), umount: { class: 'admin' }, losetup: byOptions('-a --all -l --list -j --associated', 'admin'),
  fdisk: byOptions('-l --list', 'admin'), sfdisk: byOptions('-l --list -d --dump -s --show-size', 'admin'), parted: byOptions('-l --list', 'admin'),
  cryptsetup: { class: 'admin' }, modprobe: { class: 'admin' }, insmod: { class: 'admin' }, rmmod: { class: 'admin' }, depmod: { class: 'admin' },
  modinfo: read('-F -k --field', 'none'),
  iptables: byOptions('-L -S --list --list-rules', 'admin', '-t --table'), ip6tables: byOptions('-L -S --list --list-rules', 'admin', '-t --table'),
  'iptables-save': read('-t --table', 'none'), 'ip6tables-save': read('-t --table', 'none'), 'iptables-restore': { class: 'admin' },
  nft: byOptions('list', 'admin', '-f --file -I --includepath'), ufw: byOptions('status show', 'admin'), 'firewall-cmd': { class: 'admin' },
  ldconfig: byOptions('-p --print-cache', 'admin'), 'update-alternatives': byOptions('--display --list --query --get-selections', 'admin'),
  'systemd-run': { class: 'admin' },
  useradd: { class: 'privilege' }, userdel: { class: 'privilege' }, usermod: { class: 'privilege' }, groupadd: { class: 'privilege' },
  groupdel: { class: 'privilege' }, groupmod: { class: 'privilege' }, passwd: byOptions('-S --status', 'privilege'), chpasswd: { class: 'privilege' },
  chage: byOptions('-l --list', 'privilege'), gpasswd: { class: 'privilege' }, visudo: byOptions('-c --check', 'privilege'), vipw: { class: 'privilege' },
  vigr: { class: 'privilege' }, adduser: { class: 'privilege' }, deluser: { class: 'privilege' }, addgroup: { class: 'privilege' },
  delgroup: { class: 'privilege' }, chsh: { class: 'privilege' }, chfn: { class: 'privilege' }, newgrp: { class: 'privilege' },
  su,

  // Package managers: queries read, installs run the packages' scripts.
  apt: packageManager('list, show, search, policy, depends, rdepends, showsrc, changelog, help', 'install, remove, purge, upgrade, full-upgrade, dist-upgrade, autoremove, update, reinstall, build-dep, source, download, clean, autoclean, edit-sources, satisfy'),
  'apt-get': packageManager('check, help, changelog', 'install, remove, purge, upgrade, dist-upgrade, autoremove, update, reinstall, build-dep, source, download, clean, autoclean, satisfy'),
  'apt-cache': packageManager('show, search, policy, depends, rdepends, showpkg, showsrc, stats, dump, pkgnames, madison, unmet', ''),
  dpkg: byOptions('-l --list -L --listfiles -s --status -S --search --get-selections -p --print-avail -c --contents -I --info --compare-versions --print-architecture --print-foreign-architectures --audit -C --verify -V --version --help', 'execute'),
  'dpkg-query': read('-f --showformat', 'none'),
  rpm: byOptions('-q --query -V --verify --version --help', 'execute'),
  pip: packageManager('list, show, freeze, check, help, config, debug, inspect, index, cache, hash', 'install, uninstall, download, wheel', '--python --log --proxy --cache-dir'),
  pip3: packageManager('list, show, freeze, check, help, config, debug, inspect, index, cache, hash', 'install, uninstall, download, wheel', '--python --log --proxy --cache-dir'),
  npm: packageManager('ls, list, ll, la, view, v, info, show, outdated, help, config get, config list, root, prefix, bin, explain, why, query, search, audit, doctor, whoami, ping', 'install, i, ci, add, uninstall, remove, rm, update, upgrade, run, run-script, start, test, t, exec, x, rebuild, link, publish, pack, init, create, prune, dedupe, audit fix, version, config set, set-script', '--prefix -C -w --workspace --registry'),
  brew: packageManager('list, ls, info, search, deps, uses, leaves, outdated, config, doctor, home, --prefix, --cellar, --cache, --version, help, desc', 'install, uninstall, remove, upgrade, update, reinstall, tap, untap, link, unlink, cleanup, services, bundle, pin, unpin'),
  gem: packageManager('list, search, info, query, contents, dependency, environment, help, which, specification', 'install, uninstall, update, build, push, cleanup, pristine'),
};

/** uniq and xxd take an optional second operand: the output file. */
function inputOutput(call: Call, s: ScannedArgs): void {
  if (s.dynamic) dynamicArgs(call);
  const [input, output] = s.operands;
  if (input !== undefined) call.part.path(pathText(input), 'read');
  if (output !== undefined) writePath(call, output);
}

/** less +CMD and more +CMD run pager commands at start, which can include shell escapes. */
function plusCommands(call: Call): void {
  for (const a of call.args) {
    if (a.value !== null && a.value.startsWith('+') && a.value.length > 1 && !/^\+\d+$/.test(a.value)) {
      call.part.unknown(`${call.name} ${a.value} runs pager commands`);
    }
  }
}

export interface CompiledPrograms {
  get(name: string): ProgramHandler | undefined;
}

export function compilePrograms(extra: Record<string, ProgramEntry> = {}): CompiledPrograms {
  const map = new Map<string, ProgramHandler>();
  for (const [name, entry] of Object.entries({ ...PROGRAMS, ...extra })) {
    map.set(name, typeof entry === 'function' ? entry : compileSpec(entry));
  }
  for (const s of SHELLS) if (!(s in extra)) map.set(s, shell);
  return {
    get(name: string): ProgramHandler | undefined {
      const h = map.get(name);
      if (h !== undefined) return h;
      if (isInterpreter(name)) return interpreter;
      if (name.startsWith('mkfs')) return (call) => call.part.raise('admin');
      return undefined;
    },
  };
}

/** For callers that feed argv directly (tests): words from plain strings. */
export function words(...values: string[]): Word[] {
  return values.map(staticWord);
}
