// Programs that run another program: sudo rm, timeout 5 rm, env X=1 rm, xargs rm. The
// analyser looks through them to the command that really runs. The table is extensible
// through ShellAnalyserOptions.wrappers.
//
// Parsing is strict: an option a wrapper's entry does not list makes the command unknown,
// because an unlisted option might take the next word as its value, and then the "command"
// seen here would not be the one that runs.
import type { IntentClass } from '../gate/types.js';
import { canonicalOption, optionSet, type Call, type ScannedOption } from './shell-args.js';
import { dynamicWord, staticWord, type Word } from './shell-words.js';

export interface WrapperSpec {
  /** Options that take a value (attached, `=value`, or the next word), space separated. */
  values?: string;
  /** Options that take no value, space separated. */
  booleans?: string;
  /** Short options whose value, if any, is attached (`xargs -i{}`, `nsenter -m/proc/1/ns/mnt`). */
  optional?: string;
  /** Accept `-NUMBER` options (nice -19). */
  numeric?: boolean;
  /** Positional operands between the options and the command (timeout's DURATION). */
  operands?: number;
  /** `NAME=VALUE` words before the command set its environment (env). */
  assignments?: boolean;
  /** What the wrapper adds to the command it runs (sudo: privilege). */
  floor?: IntentClass;
  /** Flags added to the command it runs. */
  flags?: string[];
  /** Class when no command follows (env alone prints the environment). Default unknown. */
  alone?: IntentClass;
  /** Options that make the wrapper do something else than run a command, with its class. */
  terminal?: Record<string, IntentClass>;
  /** Options whose value is shell code (su -c, flock -c, env -S). */
  code?: string;
  /** Options after which the command words are joined and run by a shell (sudo -s). */
  shellWith?: string;
  /** The command words are joined and run by a shell unless one of these options is given (watch). */
  shellUnless?: string;
  /** Options whose value is a file the wrapper writes (time -o). */
  writes?: string;
  /** Options whose value is a file the wrapper reads (xargs -a). */
  reads?: string;
  /** The wrapped command receives extra arguments from standard input (xargs). */
  appendsInput?: boolean;
  /** Options naming a placeholder that is replaced by input (xargs -I). */
  replace?: string;
}

export const WRAPPERS: Record<string, WrapperSpec> = {
  sudo: {
    values: '-u -g -C -D -h -p -r -t -U -T -R --user --group --close-from --chdir --host --prompt --role --type --other-user --command-timeout --chroot',
    booleans: `-A -b -E -H -i -k -n -P -S -s -B -N --askpass --background --preserve-env --set-home --login --reset-timestamp
      --non-interactive --preserve-groups --stdin --shell --bell --no-update`,
    floor: 'privilege',
    flags: ['sudo'],
    // -k with a command still runs it; -h is --host when a value follows, so neither is here.
    terminal: { '-l': 'read', '--list': 'read', '-v': 'read', '--validate': 'read', '-V': 'read', '--version': 'read', '-K': 'read', '--remove-timestamp': 'read', '-e': 'privilege', '--edit': 'privilege', '--help': 'read' },
    shellWith: '-s --shell -i --login',
    alone: 'read',
  },
  doas: { values: '-u -C', booleans: '-n -L -s', floor: 'privilege', flags: ['sudo'], shellWith: '-s', alone: 'read' },
  pkexec: { values: '--user', booleans: '--disable-internal-agent --keep-cwd', terminal: { '--version': 'read', '--help': 'read' }, floor: 'privilege', flags: ['sudo'], alone: 'privilege' },
  runuser: {
    values: '-u -g -G -s --user --group --supp-group --shell -w --whitelist-environment',
    booleans: '-l --login -m -p --preserve-environment -P --pty',
    code: '-c --command', floor: 'privilege', flags: ['sudo'], alone: 'privilege',
  },
  env: {
    values: '-u --unset -C --chdir',
    booleans: '-i --ignore-environment -0 --null -v --debug --ignore-signal --default-signal --block-signal --list-signal-handling',
    assignments: true, code: '-S --split-string', alone: 'read',
  },
  timeout: { values: '-s --signal -k --kill-after', booleans: '--preserve-status --foreground -v --verbose', operands: 1 },
  nice: { values: '-n --adjustment', numeric: true, alone: 'read' },
  nohup: {},
  // The command leaves the session, where the shell connector can no longer stop it.
  setsid: { booleans: '-c --ctty -f --fork -w --wait', floor: 'execute', flags: ['detached'] },
  stdbuf: { values: '-i -o -e --input --output --error' },
  ionice: {
    values: '-c -n --class --classdata', booleans: '-t --ignore',
    terminal: { '-p': 'admin', '-P': 'admin', '-u': 'admin', '--pid': 'admin', '--pgid': 'admin', '--uid': 'admin' }, alone: 'read',
  },
  chrt: {
    values: '-T -P -D --sched-runtime --sched-period --sched-deadline',
    booleans: '-a -b -d -f -i -o -r -e -R -v --all-tasks --batch --deadline --fifo --idle --other --rr --ext --reset-on-fork --verbose',
    operands: 1, terminal: { '-p': 'admin', '--pid': 'admin', '-m': 'read', '--max': 'read' },
  },
  taskset: { booleans: '-a --all-tasks -c --cpu-list', operands: 1, terminal: { '-p': 'admin', '--pid': 'admin' } },
  time: { values: '-f --format -o --output', booleans: '-p --portability -a --append -v --verbose -q --quiet', writes: '-o --output', alone: 'read' },
  command: { booleans: '-p', terminal: { '-v': 'read', '-V': 'read' } },
  builtin: {},
  exec: { values: '-a', booleans: '-c -l', alone: 'read' },
  coproc: {},
  busybox: { alone: 'read', terminal: { '--list': 'read', '--list-full': 'read', '--help': 'read' } },
  unbuffer: { booleans: '-p' },
  xargs: {
    alone: 'read',
    values: '-a --arg-file -d --delimiter -E -I -L -n --max-args -P --max-procs -s --max-chars --process-slot-var',
    reads: '-a --arg-file',
    booleans: '-0 --null -o --open-tty -p --interactive -r --no-run-if-empty -t --verbose -x --exit --replace --eof --max-lines',
    optional: '-i -e -l',
    appendsInput: true,
    replace: '-I -i --replace',
  },
  watch: {
    values: '-n --interval -q --equexit',
    booleans: '-b --beep -c --color -C --no-color -e --errexit -g --chgexit -t --no-title -p --precise -w --no-wrap -x --exec -r --no-rerun --differences',
    optional: '-d',
    shellUnless: '-x --exec',
  },
  flock: {
    values: '-w --timeout -E --conflict-exit-code',
    booleans: '-s --shared -x -e --exclusive -u --unlock -n --nb --nonblock -o --close -F --no-fork --verbose',
    code: '-c --command', operands: 1, alone: 'read',
  },
  sshpass: { values: '-p -f -d -P', booleans: '-e -v', flags: ['network'] },
  proxychains: { values: '-f', booleans: '-q', floor: 'network' },
  proxychains4: { values: '-f', booleans: '-q', floor: 'network' },
  torsocks: { values: '-u -p -a -P --user --pass --address --port', booleans: '-i -d -q -6 --isolate --quiet', floor: 'network' },
  fakeroot: { values: '-l -s -i --lib --faked', booleans: '-u --unknown-is-real' },
  chroot: { values: '--userspec --groups', booleans: '--skip-chdir', operands: 1, floor: 'admin', alone: 'admin' },
  nsenter: {
    values: '-t --target -S --setuid -G --setgid',
    booleans: `-a --all -m --mount -u --uts -i --ipc -n --net -p --pid -C --cgroup -U --user -T --time -r --root -w --wd -F
      --no-fork --preserve-credentials -Z --follow-context`,
    optional: '-m -u -i -n -p -C -U -T -r -w',
    floor: 'admin', alone: 'admin',
  },
  unshare: {
    values: '--map-user --map-group --setgroups --propagation --setuid --setgid --root --wd -S -G -R -w',
    booleans: `-m -u -i -n -p -U -C -T -f -r -c --mount --uts --ipc --net --pid --user --cgroup --time --fork --kill-child
      --map-root-user --map-current-user --mount-proc --keep-caps`,
    floor: 'admin', alone: 'admin',
  },
};

export interface CompiledWrapper {
  spec: WrapperSpec;
  values: ReadonlySet<string>;
  /** Every option the entry knows. */
  known: ReadonlySet<string>;
  optional: ReadonlySet<string>;
  terminal: Record<string, IntentClass>;
  code: ReadonlySet<string>;
  shellWith: ReadonlySet<string>;
  shellUnless: ReadonlySet<string>;
  writes: ReadonlySet<string>;
  reads: ReadonlySet<string>;
  replace: ReadonlySet<string>;
}

export function compileWrappers(extra: Record<string, WrapperSpec> = {}): Map<string, CompiledWrapper> {
  const out = new Map<string, CompiledWrapper>();
  for (const [name, spec] of Object.entries({ ...WRAPPERS, ...extra })) {
    const values = optionSet(`${spec.values ?? ''} ${spec.code ?? ''} ${spec.writes ?? ''} ${spec.reads ?? ''} ${spec.replace === undefined ? '' : '-I'}`);
    const all = `${spec.values ?? ''} ${spec.booleans ?? ''} ${spec.optional ?? ''} ${spec.code ?? ''} ${spec.writes ?? ''} ${spec.reads ?? ''}
      ${spec.shellWith ?? ''} ${spec.shellUnless ?? ''} ${spec.replace ?? ''} ${Object.keys(spec.terminal ?? {}).join(' ')}`;
    out.set(name, {
      spec,
      values,
      known: optionSet(all),
      optional: optionSet(spec.optional ?? ''),
      terminal: spec.terminal ?? {},
      code: optionSet(spec.code ?? ''),
      shellWith: optionSet(spec.shellWith ?? ''),
      shellUnless: optionSet(spec.shellUnless ?? ''),
      writes: optionSet(spec.writes ?? ''),
      reads: optionSet(spec.reads ?? ''),
      replace: optionSet(spec.replace ?? ''),
    });
  }
  return out;
}

/**
 * Variables that make programs load code or run commands, so setting them is execution.
 * (IFS is not here: bash does not take it from the environment, and the analysis never
 * relies on how expansion results are split.)
 */
const DANGEROUS_ENV = /^(LD_|DYLD_|GIT_CONFIG|BASH_FUNC_)|^(PATH|BASH_ENV|ENV|SHELLOPTS|BASHOPTS|PS4|PROMPT_COMMAND|PAGER|MANPAGER|GIT_PAGER|SYSTEMD_PAGER|EDITOR|VISUAL|GIT_EDITOR|SUDO_EDITOR|GIT_SSH|GIT_SSH_COMMAND|GIT_EXTERNAL_DIFF|GIT_ASKPASS|SSH_ASKPASS|SUDO_ASKPASS|GIT_EXEC_PATH|GIT_DIR|GIT_TEMPLATE_DIR|LESSOPEN|LESSCLOSE|LESSKEY|PYTHONPATH|PYTHONSTARTUP|PYTHONHOME|PERL5LIB|PERL5OPT|PERLLIB|RUBYOPT|RUBYLIB|NODE_OPTIONS|NODE_PATH|JAVA_TOOL_OPTIONS|_JAVA_OPTIONS|JDK_JAVA_OPTIONS|CLASSPATH|KUBECTL_EXTERNAL_DIFF|KUBE_EDITOR|KUBECONFIG|DOCKER_CONFIG|BROWSER|TERMINAL|XDG_CONFIG_HOME|HOME|ZDOTDIR|INPUTRC|TMUX|CDPATH|GLOBIGNORE|BASH_XTRACEFD|HISTFILE|LOCPATH|GCONV_PATH|MALLOC_CHECK_|TZDIR|NLSPATH)$/;

export function isDangerousEnv(name: string): boolean {
  return DANGEROUS_ENV.test(name);
}

const ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_]*)=/;

/** The options the wrapper was given, or a reason why they cannot be trusted. */
function parseOptions(call: Call, w: CompiledWrapper): { options: ScannedOption[]; next: number } | string {
  const args = call.args;
  const options: ScannedOption[] = [];
  const known = (name: string): string | undefined => (name.startsWith('--') ? canonicalOption(name, w.known) : w.known.has(name) ? name : undefined);
  let i = 0;
  // Options end at the first word that is not one (wrappers stop there, leaving the
  // command's own options alone).
  for (; i < args.length; i++) {
    const a = args[i] as Word;
    if (a.value === null || a.pattern) return `argument ${a.raw} of ${call.name} is not a constant, so what it runs is unknown`;
    const v = a.value;
    if (v === '--') return { options, next: i + 1 };
    if (w.spec.assignments === true && ASSIGNMENT.test(v)) {
      options.push({ name: '=', value: a });
      continue;
    }
    if (!v.startsWith('-') || v === '-') break;
    if (w.spec.numeric === true && /^-\d+$/.test(v)) continue;
    if (v.startsWith('--')) {
      const eq = v.indexOf('=');
      const name = known(eq < 0 ? v : v.slice(0, eq));
      if (name === undefined) return `${call.name} option ${v} is not understood`;
      if (eq >= 0) options.push({ name, value: staticWord(v.slice(eq + 1)) });
      else if (w.values.has(name)) options.push({ name, value: args[++i] ?? dynamicWord('') });
      else options.push({ name });
      continue;
    }
    for (let j = 1; j < v.length; j++) {
      const name = `-${v[j]}`;
      if (known(name) === undefined) return `${call.name} option ${name} is not understood`;
      if (w.values.has(name)) {
        options.push({ name, value: j + 1 < v.length ? staticWord(v.slice(j + 1)) : (args[++i] ?? dynamicWord('')) });
        break;
      }
      if (w.optional.has(name) && j + 1 < v.length) {
        options.push({ name, value: staticWord(v.slice(j + 1)) });
        break;
      }
      options.push({ name });
    }
  }
  return { options, next: i };
}

/** Look through a wrapper to the command it runs. */
export function unwrap(call: Call, w: CompiledWrapper): void {
  const { spec } = w;
  const part = call.part;
  part.flag('wrapper', ...(spec.flags ?? []));
  if (spec.floor !== undefined) part.raise(spec.floor);
  const parsed = parseOptions(call, w);
  if (typeof parsed === 'string') {
    part.unknown(parsed).flag('dynamic_command');
    return;
  }
  const { options } = parsed;
  for (const o of options) {
    if (o.name === '=') {
      if (isDangerousEnv(ASSIGNMENT.exec(o.value?.value ?? '')?.[1] ?? '')) part.raise('execute').flag('env_injection');
      continue;
    }
    if (o.value !== undefined && o.value.value === null) {
      part.unknown(`option ${o.name} of ${call.name} is not a constant`).flag('dynamic_command');
      return;
    }
    if (w.writes.has(o.name) && o.value !== undefined) part.raise('write').path(o.value.value ?? o.value.raw, 'write');
    if (w.reads.has(o.name) && o.value !== undefined) part.path(o.value.value ?? o.value.raw, 'read');
  }
  for (const o of options) {
    if (w.code.has(o.name)) {
      part.raise('read');
      call.code(o.value, { flags: ['wrapper'] });
      return;
    }
  }
  for (const o of options) {
    const t = w.terminal[o.name];
    if (t !== undefined) {
      part.raise(t);
      return;
    }
  }
  const args = call.args;
  const i = parsed.next + (spec.operands ?? 0);
  let rest = args.slice(i);
  const shellOption = w.shellWith.size > 0 && options.some((o) => w.shellWith.has(o.name));
  if (rest.length === 0 && shellOption) {
    // sudo -s, sudo -i: an interactive shell reading commands from standard input.
    part.raise('execute').flag('interactive_shell');
    return;
  }
  if (rest.length === 0 || i > args.length) {
    const alone = spec.alone ?? 'unknown';
    part.raise(alone);
    if (alone === 'unknown') part.unknown(`${call.name} without a command to run`);
    return;
  }
  const replaced = options.find((o) => w.replace.has(o.name));
  if (replaced !== undefined) {
    // xargs -I{}: every word containing the placeholder is replaced by input.
    const marker = replaced.value?.value ?? '{}';
    rest = rest.map((r) => (r.value !== null && marker !== '' && r.value.includes(marker) ? dynamicWord(r.raw) : r));
  }
  const shell = shellOption || (w.shellUnless.size > 0 && !options.some((o) => w.shellUnless.has(o.name)));
  if (shell) {
    // The words are joined with spaces and run by a shell.
    const joined = rest.every((r) => r.value !== null) ? staticWord(rest.map((r) => r.value).join(' ')) : undefined;
    part.raise('read');
    call.code(joined, { flags: ['wrapper'] });
    return;
  }
  if (spec.appendsInput === true && replaced === undefined) rest = [...rest, dynamicWord('(input)')];
  call.run(rest);
}
