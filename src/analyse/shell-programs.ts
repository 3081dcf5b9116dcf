// What each program does, by name and arguments. A program that is not in this table is
// `unknown`. Entries are either a declarative ProgramSpec (class, which options take values,
// which options raise the class, what the operands are) or a handler function for programs
// whose arguments need real parsing: file tools in shell-files.ts, network tools in
// shell-net.ts, git/kubectl/docker in shell-tools.ts, shells, interpreters and builtins here.
// The table is extensible through ShellAnalyserOptions.programs.
import type { IntentClass } from '../gate/types.js';
import {
  classTable,
  dynamicArgs,
  hasOption,
  hostOf,
  operandAt,
  optionMatches,
  optionSet,
  optionValues,
  pathText,
  scanArgs,
  stdinCode,
  strictArgs,
  writePath,
  type Call,
  type ProgramHandler,
  type ScannedArgs,
} from './shell-args.js';
import {
  awk,
  chmodLike,
  compress,
  copyLike,
  dd,
  find,
  rm,
  sed,
  sevenZip,
  tar,
  tee,
  unzip,
  zip,
} from './shell-files.js';
import {
  curl,
  hostsFromOperands,
  httpie,
  netcat,
  rsync,
  scp,
  sftp,
  socat,
  ssh,
  wget,
} from './shell-net.js';
import { SYSTEMCTL, docker, git, kubectl } from './shell-tools.js';
import { isStatic, staticWord, type Word } from './shell-words.js';
import { isDangerousEnv } from './shell-wrappers.js';

export type { ProgramHandler } from './shell-args.js';

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
  // Options that write or run things make a run-time argument a risk: `$x` may be `-o /etc/x`.
  if (spec.danger !== undefined || spec.writes !== undefined) c.spec = { ...spec, dynamicSafe: false };
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
    const a = operandAt(s, 0);
    const b = operandAt(s, 1);
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

/**
 * A program that only reads when given one of `readWhen` (an option, or a first operand such
 * as `list`) and nothing but `harmless` options besides; otherwise it is `otherwise`.
 * `iptables -L` reads, `iptables -L -F` flushes.
 */
function byOptions(readWhen: string, otherwise: IntentClass, values = '', harmless = ''): ProgramHandler {
  const r = optionSet(readWhen);
  const ok = optionSet(`${readWhen} ${values} ${harmless}`);
  const v = optionSet(values);
  return (call) => {
    const s = strictArgs(call, v);
    const reading = s.options.some((o) => r.has(o.name)) || r.has(operandAt(s, 0) ?? '\u0000');
    const onlyHarmless = s.options.every((o) => [...ok].some((n) => optionMatches(o.name, n)));
    call.part.raise(reading && onlyHarmless ? 'read' : otherwise);
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
  return subcommands({ values, table: classTable({ read: readSubs, execute: runSubs }) });
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
  hexdump: read('-n -s -e -f'), strings: read('-n -t -e --bytes --radix --encoding'),
  // file -C writes a compiled magic file into the current directory: a write, but a harmless
  // one, so `file *` stays a read.
  file: read('-m -f -F -P --magic-file --files-from', 'read', { check: (call, s) => void (hasOption(s, '-C', '--compile') && call.part.raise('write')) }),
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
  jobs: read('', 'none'), bg: read('', 'none'), fg: read('', 'none'), times: read('', 'none'), help: read('', 'none'),
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
  set: setBuiltin, shopt: byOptions('-p -q', 'session', '', '-o'), umask: (call) => call.part.raise(call.args.some((a) => !(a.value ?? '-').startsWith('-')) ? 'session' : 'read'),
  ulimit: setBuiltin,
  hash: { class: 'read', values: '-p -t -d', danger: { '-p': 'unknown' } },
  mapfile: { class: 'read', values: '-d -n -O -s -u -c -C', danger: { '-C': 'execute' } },
  readarray: { class: 'read', values: '-d -n -O -s -u -c -C', danger: { '-C': 'execute' } },
  compgen: { class: 'read', values: '-A -G -W -P -S -X -o -F -C', danger: { '-C': 'execute', '-F': 'execute' } },
  fc: { class: 'execute' },
  // Lets background jobs outlive the shell: the gateway's supervision should not rely on it.
  disown: (call) => void call.part.raise('execute').flag('detached'),
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
    call.part.raise(hasOption(s, '--status-all') || operandAt(s, 1) === 'status' ? 'read' : 'admin');
  },
  helm: subcommands({
    values: '-n --namespace --kube-context -f --values --set --set-string --set-file --version -o --output --revision --repo --timeout',
    table: classTable({
      read: 'list, ls, status, get, history, show, search, template, version, lint, env, dependency list, repo list, plugin list, help, completion',
      write: 'install, upgrade, uninstall, delete, rollback',
      network: 'repo add, repo update, repo remove, pull, push, registry, dependency update, dependency build, package',
      execute: 'plugin, test, plugin install',
    }),
    check: (call, s) => {
      if (hasOption(s, '--kubeconfig', '--post-renderer')) call.part.raise('execute').flag('custom_config');
    },
  }),
  hostnamectl: subcommands({ table: classTable({ read: 'status, show', admin: 'hostname, set-hostname, icon-name, set-icon-name, chassis, set-chassis, deployment, set-deployment, location, set-location' }), none: 'read' }),
  timedatectl: subcommands({ table: classTable({ read: 'status, show, list-timezones, timesync-status, show-timesync', admin: 'set-time, set-timezone, set-local-rtc, set-ntp' }), none: 'read' }),
  localectl: subcommands({ table: classTable({ read: 'status, list-locales, list-keymaps, list-x11-keymap-models, list-x11-keymap-layouts', admin: 'set-locale, set-keymap, set-x11-keymap' }), none: 'read' }),

  // The machine itself.
  killall: { class: 'admin' }, pkill: { class: 'admin' }, shutdown: { class: 'admin' }, reboot: { class: 'admin' },
  poweroff: { class: 'admin' }, halt: { class: 'admin' }, init: { class: 'admin' }, telinit: { class: 'admin' },
  mke2fs: { class: 'admin' }, mkswap: { class: 'admin' }, wipefs: { class: 'admin' }, swapoff: { class: 'admin' },
  swapon: byOptions('-s --summary --show', 'admin', '', '--bytes --noheadings --raw'), umount: { class: 'admin' }, losetup: byOptions('-a --all -l --list -j --associated', 'admin', '-O --output', '-n --noheadings --raw --json'),
  fdisk: byOptions('-l --list', 'admin', '-o --output -b --sector-size', '-u --units -x --list-details'),
  sfdisk: byOptions('-l --list -d --dump -s --show-size', 'admin', '-o --output', '-q --quiet'), parted: byOptions('-l --list', 'admin', '', '-m --machine -s --script'),
  cryptsetup: { class: 'admin' }, modprobe: { class: 'admin' }, insmod: { class: 'admin' }, rmmod: { class: 'admin' }, depmod: { class: 'admin' },
  modinfo: read('-F -k --field', 'none'),
  iptables: byOptions('-L -S --list --list-rules', 'admin', '-t --table', '-n --numeric -v --verbose -x --exact --line-numbers -w --wait'),
  ip6tables: byOptions('-L -S --list --list-rules', 'admin', '-t --table', '-n --numeric -v --verbose -x --exact --line-numbers -w --wait'),
  'iptables-save': read('-t --table', 'none'), 'ip6tables-save': read('-t --table', 'none'), 'iptables-restore': { class: 'admin' },
  nft: byOptions('list', 'admin', '-I --includepath', '-a --handle -n --numeric -s --stateless -j --json -t --terse'), ufw: byOptions('status show', 'admin', '', '--dry-run'), 'firewall-cmd': { class: 'admin' },
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
  dpkg: byOptions('-l --list -L --listfiles -s --status -S --search --get-selections -p --print-avail -c --contents -I --info --compare-versions --print-architecture --print-foreign-architectures --audit -C --verify -V --version --help', 'execute', '--admindir --root'),
  'dpkg-query': read('-f --showformat', 'none'),
  rpm: byOptions('-q --query -V --verify --version --help', 'execute', '--queryformat --qf --root --dbpath', '-a --all -i --info -l --list -f --file -c --configfiles -d --docfiles -R --requires --provides --scripts --changelog -p --package --whatprovides --whatrequires'),
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
