// Files whose reading or writing is not an ordinary file access: the memory, environment,
// command lines and open files of processes (/proc/PID/...), raw devices (/dev/sda,
// /dev/mem), credential stores (/etc/shadow, ~/.ssh/id_rsa, ~/.aws/credentials, ~/.pgpass)
// and the files that decide who may log in or become root (/etc/sudoers, authorized_keys).
//
// Every path a command reads or writes (operands of file programs, redirections, `dd if=`,
// `curl -d @file`, ...) is checked against SENSITIVE_PATHS. A match adds the flag
// `sensitive_path` and raises the command's class to the rule's (at least `admin` for
// reads, `privilege` for writes that grant access).
//
// Paths are often not constants: `/proc/$PPID/environ`, `/proc/*/environ`,
// `/proc/$(pgrep node)/environ`, `"$HOME/.ssh/id_rsa"`. The text is matched as a pattern in
// which every expansion and glob stands for any text, so the literal parts decide: a path
// matches when SOME value of it could be a sensitive path. An expansion that ends the path
// may also contain slashes (`/proc/$x` may be `/proc/1/environ`). A path must be anchored by
// literal text to match: `cat "$f"` or `cat $DIR/environ` can name anything, and are not
// flagged (a documented gap, like every value known only at run time). Relative paths match
// the rules written `**/...` (`.ssh/id_rsa` from the home directory), and a relative path that
// climbs with `..` is also taken as possibly absolute (`../../proc/1/environ`).
//
// Harmless neighbours stay plain: `/proc/cpuinfo`, `/proc/meminfo`, `/proc/loadavg`,
// `/proc/self/status`, `/dev/null`, `/dev/stdout`, `/dev/urandom`, `~/.ssh/id_rsa.pub`,
// `~/.ssh/known_hosts`, `/etc/passwd` (read).
import { classRank, type IntentClass } from '../gate/types.js';

export interface SensitiveRule {
  /**
   * Path pattern, one entry per segment: a literal (may use `*` and `?` like a glob), `<pid>`
   * (a process id, `self` or `thread-self`), or `**` as the last segment (anything below,
   * including nothing). A pattern starting with `**` matches at any depth, relative paths
   * included; otherwise it is anchored at `/`.
   */
  pattern: string;
  /** Class of reading a matching path; undefined: reading is harmless. */
  read?: IntentClass;
  /** Class of writing a matching path; undefined: the usual write classification applies. */
  write?: IntentClass;
  /** Further flags (`device_read`). */
  flags?: string[];
  /**
   * What under a `**` is harmless after all, as the remaining path (`status` under
   * `/proc/<pid>/**`, the empty string for the directory itself). Only applies when that
   * remainder is known exactly (no expansion or glob in it).
   */
  harmless?: RegExp;
}

/** Per-process files that show no secrets (ids, limits, scheduling, memory totals). */
const PROC_HARMLESS = /^(stat|statm|status|comm|cgroup|limits|mountinfo|mounts|oom_score|oom_score_adj|io|sched|schedstat|wchan|cpuset|loginuid|sessionid|uid_map|gid_map)$/;
/** Device files that are not hardware, memory or another terminal (and /dev itself). */
const DEV_HARMLESS = /^(|null|zero|full|random|urandom|stdin|stdout|stderr|tty|fd\/\d+)$/;
/** What may be read in ~/.ssh: the directory, public keys, known hosts, the client configuration. */
const SSH_HARMLESS = /^(|[^/]*\.pub|known_hosts(\.old)?|config|authorized_keys2?)$/;

export const SENSITIVE_PATHS: readonly SensitiveRule[] = [
  // Processes: environment, memory, command lines, open files, root and cwd links.
  { pattern: '/proc/<pid>/**', read: 'admin', harmless: PROC_HARMLESS },
  { pattern: '/proc/<pid>/**', write: 'admin' },
  { pattern: '/proc/kcore', read: 'admin', write: 'admin' },
  // Kernel settings and triggers: writing them is sysctl.
  { pattern: '/proc/sys/**', write: 'admin' },
  { pattern: '/proc/sysrq-trigger', write: 'admin' },
  { pattern: '/sys/**', write: 'admin' },
  // Raw disks, memory, other terminals (writes to /dev are already admin: device_write).
  { pattern: '/dev/**', read: 'admin', flags: ['device_read'], harmless: DEV_HARMLESS },
  // Password hashes and who may become root.
  { pattern: '/etc/shadow', read: 'admin', write: 'privilege' },
  { pattern: '/etc/shadow-', read: 'admin', write: 'privilege' },
  { pattern: '/etc/gshadow', read: 'admin', write: 'privilege' },
  { pattern: '/etc/gshadow-', read: 'admin', write: 'privilege' },
  { pattern: '/etc/master.passwd', read: 'admin', write: 'privilege' },
  { pattern: '/etc/security/opasswd', read: 'admin', write: 'privilege' },
  { pattern: '/etc/sudoers', read: 'admin', write: 'privilege' },
  { pattern: '/etc/sudoers.d/**', read: 'admin', write: 'privilege' },
  { pattern: '/etc/doas.conf', write: 'privilege' },
  { pattern: '/etc/passwd', write: 'privilege' },
  { pattern: '/etc/group', write: 'privilege' },
  { pattern: '/etc/pam.d/**', write: 'privilege' },
  { pattern: '/etc/security/**', write: 'privilege' },
  // A library loaded into every program.
  { pattern: '/etc/ld.so.preload', write: 'execute' },
  // Server private keys and cluster credentials.
  { pattern: '/etc/ssh/ssh_host_*key', read: 'admin', write: 'privilege' },
  { pattern: '/etc/ssl/private/**', read: 'admin', write: 'privilege' },
  { pattern: '/etc/pki/tls/private/**', read: 'admin', write: 'privilege' },
  { pattern: '/etc/kubernetes/*.conf', read: 'admin', write: 'privilege' },
  { pattern: '/etc/kubernetes/pki/**', read: 'admin', write: 'privilege' },
  { pattern: '/var/run/secrets/**', read: 'admin', write: 'privilege' },
  { pattern: '/run/secrets/**', read: 'admin', write: 'privilege' },
  // Credentials in home directories (any home: ~, $HOME, /root, /home/NAME, relative).
  { pattern: '**/.ssh/**', read: 'admin', harmless: SSH_HARMLESS },
  { pattern: '**/.ssh/**', write: 'privilege' },
  { pattern: '**/.gnupg/**', read: 'admin', write: 'privilege' },
  { pattern: '**/.aws/**', read: 'admin', write: 'privilege' },
  { pattern: '**/.azure/**', read: 'admin', write: 'privilege' },
  { pattern: '**/.config/gcloud/**', read: 'admin', write: 'privilege' },
  { pattern: '**/.kube/config', read: 'admin', write: 'privilege' },
  { pattern: '**/.docker/config.json', read: 'admin', write: 'privilege' },
  { pattern: '**/.config/gh/hosts.yml', read: 'admin', write: 'privilege' },
  { pattern: '**/.terraform.d/credentials.tfrc.json', read: 'admin', write: 'privilege' },
  { pattern: '**/.cargo/credentials*', read: 'admin', write: 'privilege' },
  { pattern: '**/.password-store/**', read: 'admin', write: 'privilege' },
  { pattern: '**/.local/share/keyrings/**', read: 'admin', write: 'privilege' },
  ...['.pgpass', '.my.cnf', '.mylogin.cnf', '.netrc', '_netrc', '.git-credentials', '.npmrc', '.pypirc', '.vault-token',
    '.bash_history', '.zsh_history', '.psql_history', '.mysql_history'].map((f): SensitiveRule => ({ pattern: `**/${f}`, read: 'admin', write: 'privilege' })),
];

// --- path patterns ---------------------------------------------------------------------------

/** One element of a segment: a literal character, any text (`*`, `$x`), one character (`?`). */
type Tok = string | typeof ANY | typeof ONE;
const ANY = 0;
const ONE = 1;

interface Segment {
  toks: Tok[];
  /** The literal text, when the segment has no wildcard. */
  literal: string | undefined;
  /** Holds an expansion (which, unlike a glob, may contain `/`). */
  expansion: boolean;
  /** Has at least one literal character. */
  anchored: boolean;
}

interface Shape {
  absolute: boolean;
  segments: Segment[];
}

function segment(toks: Tok[], expansion: boolean): Segment {
  const literal = toks.every((t) => typeof t === 'string') ? toks.join('') : undefined;
  return { toks, literal, expansion, anchored: toks.some((t) => typeof t === 'string') };
}

/** Index just past the `)` that closes the `(` at `i`, skipping quotes; the end if unclosed. */
function closeParen(s: string, i: number): number {
  let depth = 0;
  for (let k = i; k < s.length; k++) {
    const c = s[k];
    if (c === '\\') k++;
    else if (c === "'") {
      const e = s.indexOf("'", k + 1);
      k = e < 0 ? s.length : e;
    } else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return k + 1;
  }
  return s.length;
}

/**
 * The shape of a path as written (or as evaluated, which is the same text without quotes):
 * its segments, with every expansion, substitution and glob turned into a wildcard.
 */
export function pathShape(text: string): Shape {
  const segments: Segment[] = [];
  let toks: Tok[] = [];
  let expansion = false;
  let quoted = false;
  const lastClose = text.lastIndexOf(']');
  const end = (): void => {
    segments.push(segment(toks, expansion));
    toks = [];
    expansion = false;
  };
  const any = (exp: boolean): void => {
    if (toks[toks.length - 1] !== ANY) toks.push(ANY);
    if (exp) expansion = true;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '/') {
      end();
    } else if (c === '"') {
      quoted = !quoted;
    } else if (c === '\\' && i + 1 < text.length) {
      toks.push(text[++i] as string);
    } else if (c === "'" && !quoted) {
      const e = text.indexOf("'", i + 1);
      const lit = text.slice(i + 1, e < 0 ? text.length : e);
      for (const ch of lit) if (ch === '/') end();
      else toks.push(ch);
      i = e < 0 ? text.length : e;
    } else if (c === '$' && text[i + 1] === '(') {
      i = closeParen(text, i + 1) - 1;
      any(true);
    } else if (c === '$' && text[i + 1] === '{') {
      const e = text.indexOf('}', i);
      i = e < 0 ? text.length : e;
      any(true);
    } else if (c === '$' && /[A-Za-z0-9_@*#?$!-]/.test(text[i + 1] ?? '')) {
      i++;
      if (/[A-Za-z_]/.test(text[i] as string)) while (/[A-Za-z0-9_]/.test(text[i + 1] ?? '')) i++;
      any(true);
    } else if (c === '`') {
      const e = text.indexOf('`', i + 1);
      i = e < 0 ? text.length : e;
      any(true);
    } else if (c === '~' && i === 0) {
      // ~ and ~user: some home directory.
      while (i + 1 < text.length && text[i + 1] !== '/') i++;
      any(false);
    } else if (quoted) {
      toks.push(c);
    } else if (c === '*') {
      any(false);
    } else if (c === '?') {
      toks.push(ONE);
    } else if (c === '[') {
      const e = i + 2 <= lastClose ? text.indexOf(']', i + 2) : -1;
      if (e < 0) toks.push(c);
      else {
        toks.push(ONE);
        i = e;
      }
    } else if (c === '{' || ((c === '@' || c === '!' || c === '+') && text[i + 1] === '(')) {
      // Brace expansion and extglobs: any text, possibly with slashes.
      const e = c === '{' ? text.indexOf('}', i) : closeParen(text, i + 1) - 1;
      i = e < 0 ? text.length : e;
      any(true);
    } else {
      toks.push(c);
    }
  }
  end();
  const absolute = segments.length > 1 && segments[0]?.toks.length === 0;
  // Resolve `.`, `..` and empty segments where the text allows it.
  const out: Segment[] = [];
  let climbs = false;
  for (const s of segments) {
    if (s.literal === '' || s.literal === '.') continue;
    if (s.literal === '..') {
      if (out.length > 0) out.pop();
      else if (!absolute) climbs = true;
      continue;
    }
    out.push(s);
  }
  return { absolute: absolute || climbs, segments: out };
}

/** Longest segment with wildcards that is compared exactly (see intersects). */
const MAX_PATTERN_SEGMENT = 512;

/** Whether some text matches both globs (token lists). Dynamic programming over suffixes. */
function intersects(a: readonly Tok[], b: readonly Tok[]): boolean {
  // An absurdly long pattern segment is taken to match (bounding the work per path).
  if (a.length > MAX_PATTERN_SEGMENT || b.length > MAX_PATTERN_SEGMENT) return true;
  const B = b.length;
  // below[j]: a[i+1..] and b[j..] can match; row[j]: a[i..] and b[j..] can match.
  let below = new Uint8Array(B + 1);
  for (let i = a.length; i >= 0; i--) {
    const row = new Uint8Array(B + 1);
    for (let j = B; j >= 0; j--) {
      let r: boolean;
      if (i === a.length && j === B) r = true;
      else if (i < a.length && a[i] === ANY) r = below[j] === 1 || (j < B && row[j + 1] === 1);
      else if (j < B && b[j] === ANY) r = row[j + 1] === 1 || (i < a.length && below[j] === 1);
      else if (i < a.length && j < B) r = (a[i] === ONE || b[j] === ONE || a[i] === b[j]) && below[j + 1] === 1;
      else r = false;
      row[j] = r ? 1 : 0;
    }
    below = row;
  }
  return below[0] === 1;
}

function globToks(text: string): Tok[] {
  return [...text].map((c) => (c === '*' ? ANY : c === '?' ? ONE : c));
}

const PID_NAMES = ['self', 'thread-self'].map(globToks);
const PID = /^(\d+|self|thread-self)$/;

/** One segment of a rule: whether a path segment may be what it names. */
type SegmentTest = (s: Segment) => boolean;

function segmentTest(text: string): SegmentTest {
  if (text === '<pid>') {
    return (s) => s.literal !== undefined ? PID.test(s.literal)
      : s.toks.every((t) => typeof t !== 'string' || (t >= '0' && t <= '9')) || PID_NAMES.some((n) => intersects(s.toks, n));
  }
  const toks = globToks(text);
  if (toks.every((t) => typeof t === 'string')) return (s) => (s.literal !== undefined ? s.literal === text : intersects(s.toks, toks));
  const re = new RegExp(`^${toks.map((t) => (t === ANY ? '.*' : t === ONE ? '.' : t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('')}$`, 's');
  return (s) => (s.literal !== undefined ? re.test(s.literal) : intersects(s.toks, toks));
}

interface CompiledRule {
  rule: SensitiveRule;
  floating: boolean;
  tests: SegmentTest[];
  /** Ends with `**`. */
  below: boolean;
  /** The first segment, when it is a plain name (for the index below). */
  first: string | undefined;
}

function compile(rule: SensitiveRule): CompiledRule {
  let parts = rule.pattern.split('/').filter((p) => p !== '');
  const floating = parts[0] === '**';
  if (floating) parts = parts.slice(1);
  const below = parts[parts.length - 1] === '**';
  if (below) parts = parts.slice(0, -1);
  const first = parts[0] !== undefined && !/[*?<]/.test(parts[0]) ? parts[0] : undefined;
  return { rule, floating, below, tests: parts.map(segmentTest), first };
}

/** Rules by their first segment, so that a literal path segment is compared with few rules. */
interface RuleIndex {
  byFirst: Map<string, CompiledRule[]>;
  /** Rules whose first segment is not a plain name, tried everywhere. */
  others: CompiledRule[];
  all: CompiledRule[];
}

function index(rules: CompiledRule[]): RuleIndex {
  const byFirst = new Map<string, CompiledRule[]>();
  const others: CompiledRule[] = [];
  for (const r of rules) {
    if (r.first === undefined) others.push(r);
    else byFirst.set(r.first, [...(byFirst.get(r.first) ?? []), r]);
  }
  return { byFirst, others, all: rules };
}

const COMPILED = SENSITIVE_PATHS.map(compile);
const ANCHORED = index(COMPILED.filter((r) => !r.floating));
const FLOATING = index(COMPILED.filter((r) => r.floating));

function candidates(ix: RuleIndex, s: Segment): readonly CompiledRule[] {
  if (s.literal === undefined) return ix.all;
  const named = ix.byFirst.get(s.literal);
  return named === undefined ? ix.others : [...named, ...ix.others];
}

/** Whether the rule matches the shape's segments from `start`. */
function matchAt(r: CompiledRule, segs: readonly Segment[], start: number): boolean {
  const last = segs.length - 1;
  for (let k = 0; k < r.tests.length; k++) {
    const i = start + k;
    const s = segs[i];
    if (s === undefined || !(r.tests[k] as SegmentTest)(s)) return false;
    // An expansion ending the path may hold the rest of the pattern, slashes and all.
    if (i === last && s.expansion && k < r.tests.length - 1) return true;
  }
  const rest = segs.slice(start + r.tests.length);
  if (rest.length > 0 && !r.below) return false;
  const harmless = r.rule.harmless;
  if (harmless !== undefined) {
    // Only a remainder known exactly can be harmless (`/proc/$x` may be `/proc/1/environ`).
    const open = rest.length === 0 && segs[last]?.expansion === true;
    if (!open && rest.every((s) => s.literal !== undefined) && harmless.test(rest.map((s) => s.literal).join('/'))) return false;
  }
  return true;
}

export interface SensitiveEffect {
  class: IntentClass;
  flags: string[];
}

/** What reading or writing the path amounts to, if it is sensitive (see above). */
export function sensitivePath(text: string, access: 'read' | 'write'): SensitiveEffect | undefined {
  if (!/[/.~_]/.test(text)) return undefined;
  const shape = pathShape(text);
  const segs = shape.segments;
  const matched = new Set<CompiledRule>();
  const first = segs[0];
  if (shape.absolute && first !== undefined) for (const r of candidates(ANCHORED, first)) if (matchAt(r, segs, 0)) matched.add(r);
  segs.forEach((s, start) => {
    if (s.anchored) for (const r of candidates(FLOATING, s)) if (!matched.has(r) && matchAt(r, segs, start)) matched.add(r);
  });
  let found: SensitiveEffect | undefined;
  for (const r of matched) {
    const cls = access === 'read' ? r.rule.read : r.rule.write;
    if (cls === undefined) continue;
    found ??= { class: cls, flags: ['sensitive_path'] };
    if (classRank(cls) > classRank(found.class)) found.class = cls;
    for (const f of r.rule.flags ?? []) if (!found.flags.includes(f)) found.flags.push(f);
  }
  return found;
}
