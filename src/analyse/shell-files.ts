// Programs that read and change files and whose arguments need parsing to tell which:
// find (-exec, -delete), sed and awk (their scripts), tar, dd, cp/mv/ln/install, tee, the
// compressors, chmod and friends, rm.
import {
  canonicalOption,
  dynamicArgs,
  hasOption,
  hostOf,
  isDevice,
  operandAt,
  optionSet,
  optionValues,
  pathText,
  scanArgs,
  strictArgs,
  writePath,
  type Call,
  type ProgramHandler,
} from './shell-args.js';
import { scanAwk, scanSed } from './shell-scripts.js';
import { dynamicWord, staticWord, type Word } from './shell-words.js';

const FIND_VALUES = optionSet(`-name -iname -path -ipath -wholename -iwholename -regex -iregex -type -xtype -size -perm
  -user -group -uid -gid -newer -anewer -cnewer -mtime -mmin -atime -amin -ctime -cmin -maxdepth -mindepth -links -inum
  -samefile -lname -ilname -fstype -used -printf -regextype -context -files0-from -D -O`);

export function find(call: Call): void {
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

export function sed(call: Call): void {
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

export function awk(call: Call): void {
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

export function tar(call: Call): void {
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

export function dd(call: Call): void {
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
export function copyLike(mode: 'cp' | 'mv' | 'ln' | 'install'): ProgramHandler {
  const values = optionSet('-t --target-directory -S --suffix -m --mode -o --owner -g --group --context -T');
  return (call) => {
    const part = call.part.raise('write');
    const s = scanArgs(call.args, values);
    // install's -m/-o/-g change permissions, so a run-time argument there may be one of them.
    if (mode === 'install' && s.dynamic) dynamicArgs(call);
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

export function tee(call: Call): void {
  call.part.raise('read');
  const s = scanArgs(call.args, optionSet('--output-error'));
  for (const w of s.operands) writePath(call, w);
}

export function compress(call: Call): void {
  const s = strictArgs(call, optionSet('-S --suffix -b -T --threads -o -L --level'));
  const toStdout = hasOption(s, '-c', '--stdout', '--to-stdout', '-l', '--list', '-t', '--test', '--info');
  const part = call.part.raise(toStdout ? 'read' : 'write');
  for (const w of s.operands) part.path(pathText(w), toStdout ? 'read' : 'write');
  for (const o of optionValues(s, '-o')) writePath(call, o);
}

export function unzip(call: Call): void {
  const s = strictArgs(call, optionSet('-d -P -x'));
  const listing = hasOption(s, '-l', '-v', '-t', '-Z', '-p', '-c', '-z');
  const part = call.part.raise(listing ? 'read' : 'write');
  const first = s.operands[0];
  if (first !== undefined) part.path(pathText(first), 'read');
  for (const d of optionValues(s, '-d')) part.path(pathText(d), 'write');
  if (!listing) part.flag('extract');
}

export function zip(call: Call): void {
  const s = strictArgs(call, optionSet('-b -n -t -tt -P -O --output-file -TT --unzip-command -i -x -Z'));
  const part = call.part.raise('write');
  // -TT is one option (the command that tests the archive), not two -T.
  if (hasOption(s, '--unzip-command') || call.args.some((a) => (a.value ?? '').startsWith('-TT'))) part.raise('execute').flag('program_exec');
  const [archive, ...files] = s.operands;
  if (archive !== undefined) writePath(call, archive);
  for (const f of files) part.path(pathText(f), 'read');
}

export function sevenZip(call: Call): void {
  const s = strictArgs(call, optionSet(''), true);
  const sub = operandAt(s, 0) ?? '';
  if (sub === 'l' || sub === 't' || sub === 'i' || sub === 'h') call.part.raise('read');
  else if (['x', 'e', 'a', 'u', 'd', 'rn'].includes(sub)) call.part.raise('write');
  else call.part.unknown(`${call.name} ${sub} is not in the program table`);
}

export function chmodLike(skip: number): ProgramHandler {
  return (call) => {
    const s = strictArgs(call, optionSet('--reference -m -M -x -X --set --set-file -n'));
    const part = call.part.raise('privilege');
    const n = hasOption(s, '--reference') ? 0 : skip;
    for (const w of s.operands.slice(n)) part.path(pathText(w), 'write');
  };
}

export function rm(call: Call): void {
  const part = call.part.raise('write');
  const s = scanArgs(call.args, optionSet('--interactive --preserve-root'));
  if (hasOption(s, '-r', '-R', '--recursive')) part.flag('recursive_delete');
  if (hasOption(s, '--no-preserve-root')) part.flag('no_preserve_root');
  for (const w of s.operands) part.path(pathText(w), 'write');
  if (s.operands.some((w) => w.value === '/' || w.value === '/*' || w.raw === '/*')) part.flag('delete_root');
}
