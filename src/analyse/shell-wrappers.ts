// Programs that run another program: sudo rm, timeout 5 rm, env X=1 rm, xargs rm. The
// analyser looks through them to the command that really runs. The table is extensible
// through ShellAnalyserOptions.wrappers.
import type { IntentClass } from '../gate/types.js';
import { optionSet, type Call, type ScannedOption } from './shell-args.js';
import { dynamicWord, staticWord, type Word } from './shell-words.js';

export interface WrapperSpec {
  /** Options that take a value (attached, `=value`, or the next word), space separated. */
  values?: string;
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
  /** The wrapped command receives extra arguments from standard input (xargs). */
  appendsInput?: boolean;
  /** Options naming a placeholder that is replaced by input (xargs -I). */
  replace?: string;
}

export const WRAPPERS: Record<string, WrapperSpec> = {
  sudo: {
    values: '-u -g -C -D -h -p -r -t -U -T -R --user --group --close-from --chdir --host --prompt --role --type --other-user --command-timeout --chroot',
    floor: 'privilege',
    flags: ['sudo'],
    // -k with a command still runs it; -h is --host when a value follows, so neither is here.
    terminal: { '-l': 'read', '--list': 'read', '-v': 'read', '--validate': 'read', '-V': 'read', '--version': 'read', '-K': 'read', '--remove-timestamp': 'read', '-e': 'privilege', '--edit': 'privilege', '--help': 'read' },
    shellWith: '-s --shell -i --login',
    alone: 'read',
  },
  doas: { values: '-u -C', floor: 'privilege', flags: ['sudo'], shellWith: '-s', alone: 'unknown' },
  pkexec: { values: '--user', floor: 'privilege', flags: ['sudo'], alone: 'privilege' },
  runuser: { values: '-u -g -G -s --user --group --supp-group --shell -w --whitelist-environment', code: '-c --command', floor: 'privilege', flags: ['sudo'], alone: 'privilege' },
  env: { values: '-u --unset -C --chdir', assignments: true, code: '-S --split-string', alone: 'read' },
  timeout: { values: '-s --signal -k --kill-after', operands: 1 },
  nice: { values: '-n --adjustment', alone: 'read' },
  nohup: {},
  setsid: {},
  stdbuf: { values: '-i -o -e --input --output --error' },
  ionice: { values: '-c -n --class --classdata', terminal: { '-p': 'admin', '-P': 'admin', '-u': 'admin', '--pid': 'admin', '--pgid': 'admin', '--uid': 'admin' }, alone: 'read' },
  chrt: { values: '-T -P -D --sched-runtime --sched-period --sched-deadline', operands: 1, terminal: { '-p': 'admin', '--pid': 'admin', '-m': 'read', '--max': 'read' } },
  taskset: { operands: 1, terminal: { '-p': 'admin', '--pid': 'admin' } },
  time: { values: '-f --format -o --output', writes: '-o --output', alone: 'read' },
  command: { terminal: { '-v': 'read', '-V': 'read' } },
  builtin: {},
  exec: { values: '-a', alone: 'read' },
  coproc: {},
  busybox: { alone: 'read', terminal: { '--list': 'read', '--help': 'read' } },
  unbuffer: {},
  xargs: {
    alone: 'read',
    values: '-a --arg-file -d --delimiter -E -I -L --max-lines -n --max-args -P --max-procs -s --max-chars --process-slot-var',
    appendsInput: true,
    replace: '-I -i --replace',
  },
  watch: { values: '-n --interval -d --differences -q --equexit', shellUnless: '-x --exec' },
  flock: { values: '-w --timeout -E --conflict-exit-code', code: '-c --command', operands: 1, alone: 'read' },
  sshpass: { values: '-p -f -d -P', flags: ['network'] },
  proxychains: { values: '-f', floor: 'network' },
  proxychains4: { values: '-f', floor: 'network' },
  torsocks: { values: '-u -p -a -P --user --pass --address --port', floor: 'network' },
  fakeroot: { values: '-l -s -i --lib --faked' },
  chroot: { values: '--userspec --groups', operands: 1, floor: 'admin', alone: 'admin' },
  nsenter: { values: '-t --target -S --setuid -G --setgid', floor: 'admin', alone: 'admin' },
  unshare: { values: '--map-user --map-group --setgroups --propagation', floor: 'admin', alone: 'admin' },
};

interface CompiledWrapper {
  spec: WrapperSpec;
  values: ReadonlySet<string>;
  terminal: Record<string, IntentClass>;
  code: ReadonlySet<string>;
  shellWith: ReadonlySet<string>;
  shellUnless: ReadonlySet<string>;
  writes: ReadonlySet<string>;
  replace: ReadonlySet<string>;
}

export function compileWrappers(extra: Record<string, WrapperSpec> = {}): Map<string, CompiledWrapper> {
  const out = new Map<string, CompiledWrapper>();
  for (const [name, spec] of Object.entries({ ...WRAPPERS, ...extra })) {
    out.set(name, {
      spec,
      values: optionSet(`${spec.values ?? ''} ${spec.code ?? ''} ${spec.writes ?? ''} ${spec.replace === undefined ? '' : '-I'}`),
      terminal: spec.terminal ?? {},
      code: optionSet(spec.code ?? ''),
      shellWith: optionSet(spec.shellWith ?? ''),
      shellUnless: optionSet(spec.shellUnless ?? ''),
      writes: optionSet(spec.writes ?? ''),
      replace: optionSet(spec.replace ?? ''),
    });
  }
  return out;
}

/** Variables that make programs load code or run commands, so setting them is execution. */
const DANGEROUS_ENV = /^(LD_|DYLD_|GIT_CONFIG|BASH_FUNC_)|^(PATH|BASH_ENV|ENV|IFS|SHELLOPTS|BASHOPTS|PS4|PROMPT_COMMAND|PAGER|MANPAGER|GIT_PAGER|SYSTEMD_PAGER|EDITOR|VISUAL|GIT_EDITOR|SUDO_EDITOR|GIT_SSH|GIT_SSH_COMMAND|GIT_EXTERNAL_DIFF|GIT_ASKPASS|SSH_ASKPASS|SUDO_ASKPASS|GIT_EXEC_PATH|GIT_DIR|GIT_TEMPLATE_DIR|LESSOPEN|LESSCLOSE|LESSKEY|PYTHONPATH|PYTHONSTARTUP|PYTHONHOME|PERL5LIB|PERL5OPT|PERLLIB|RUBYOPT|RUBYLIB|NODE_OPTIONS|NODE_PATH|JAVA_TOOL_OPTIONS|_JAVA_OPTIONS|JDK_JAVA_OPTIONS|CLASSPATH|KUBECTL_EXTERNAL_DIFF|KUBE_EDITOR|KUBECONFIG|DOCKER_CONFIG|BROWSER|TERMINAL|XDG_CONFIG_HOME|HOME|ZDOTDIR|INPUTRC|TMUX|CDPATH|GLOBIGNORE|BASH_XTRACEFD|HISTFILE|LOCPATH|GCONV_PATH|MALLOC_CHECK_|TZDIR|NLSPATH)$/;

export function isDangerousEnv(name: string): boolean {
  return DANGEROUS_ENV.test(name);
}

const ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_]*)=/;

/** Look through a wrapper to the command it runs. */
export function unwrap(call: Call, w: CompiledWrapper): void {
  const { spec } = w;
  const part = call.part;
  part.flag('wrapper', ...(spec.flags ?? []));
  if (spec.floor !== undefined) part.raise(spec.floor);
  const args = call.args;
  const options: ScannedOption[] = [];
  let i = 0;
  // Options end at the first word that is not one (wrappers stop there so that the command's
  // own options are left alone).
  for (; i < args.length; i++) {
    const a = args[i] as Word;
    if (a.value === null || a.pattern) {
      part.unknown(`argument ${a.raw} of ${call.name} is not a constant, so what it runs is unknown`).flag('dynamic_command');
      return;
    }
    const v = a.value;
    if (v === '--') {
      i++;
      break;
    }
    if (spec.assignments === true) {
      const m = ASSIGNMENT.exec(v);
      if (m) {
        if (isDangerousEnv(m[1] as string)) part.raise('execute').flag('env_injection');
        continue;
      }
    }
    if (!v.startsWith('-') || v === '-') break;
    if (v.startsWith('--')) {
      const eq = v.indexOf('=');
      const name = eq < 0 ? v : v.slice(0, eq);
      if (eq >= 0) options.push({ name, value: staticWord(v.slice(eq + 1)) });
      else if (w.values.has(name)) options.push({ name, value: args[++i] ?? dynamicWord('') });
      else options.push({ name });
      continue;
    }
    for (let j = 1; j < v.length; j++) {
      const name = `-${v[j]}`;
      if (w.values.has(name)) {
        options.push({ name, value: j + 1 < v.length ? staticWord(v.slice(j + 1)) : (args[++i] ?? dynamicWord('')) });
        break;
      }
      options.push({ name });
    }
  }
  for (const o of options) {
    if (o.value !== undefined && o.value.value === null) {
      part.unknown(`option ${o.name} of ${call.name} is not a constant`).flag('dynamic_command');
      return;
    }
    if (w.writes.has(o.name) && o.value !== undefined) part.raise('write').path(o.value.value ?? o.value.raw, 'write');
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
      if (t === 'unknown') part.unknown(`${call.name} ${o.name} is not understood`);
      return;
    }
  }
  i += spec.operands ?? 0;
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
  const shell = shellOption ||
    (w.shellUnless.size > 0 && !options.some((o) => w.shellUnless.has(o.name)));
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
