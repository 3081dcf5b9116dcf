// The CEL environment rules are written against, and the activation (the variables) built
// from an Action. Variables are typed so that a typo such as `principal.gruops` or an
// unknown variable is a compile error at load time rather than a silent runtime deny.
//
// Activation objects are class instances whose list fields are computed on first access and
// cached: most rules only look at `intent.class` or `principal.groups`, so the per-decision
// cost stays at a few small allocations.
import { Environment, type ASTNode, type ParseResult } from '@marcbachmann/cel-js';
import { INTENT_CLASSES, classRank, type Action, type Intent, type IntentClass, type PartIntent, type Principal, type ConnectionRef } from '../gate/types.js';

const EMPTY_LIST: readonly string[] = Object.freeze([]);
const EMPTY_MAP: Readonly<Record<string, never>> = Object.freeze(Object.create(null) as Record<string, never>);
const VALID_CLASSES: ReadonlySet<string> = new Set(INTENT_CLASSES);
const WRITE_RANK = classRank('write');

/** Flags that mean a statement modifies data even if an analyser called it a read. */
const WRITE_FLAGS = ['data_modifying_cte'];

function tableName(t: { schema?: string; name: string }): string {
  return t.schema ? `${t.schema}.${t.name}` : t.name;
}

function uniq(values: Iterable<string>): string[] {
  return [...new Set(values)];
}

function validClass(c: unknown): IntentClass {
  return typeof c === 'string' && VALID_CLASSES.has(c) ? (c as IntentClass) : 'unknown';
}

/**
 * The class policy sees. Never lower than what any part says, `unknown` when the analyser
 * reported an error or an unrecognised class, and at least `write` when a table or path is
 * written, so one inconsistent analyser result cannot turn a write into a read.
 */
export function effectiveClass(intent: Intent): IntentClass {
  if (intent.error) return 'unknown';
  let worst = validClass(intent.class);
  const consider = (c: IntentClass): void => {
    if (classRank(c) > classRank(worst)) worst = c;
  };
  for (const c of intent.classes) consider(validClass(c));
  for (const p of intent.parts) {
    consider(validClass(p.class));
    if (p.error) consider('unknown');
  }
  if (classRank(worst) < WRITE_RANK) {
    const o = intent.objects;
    if (
      o.tables.some((t) => t.access === 'write') ||
      o.paths.some((p) => p.access === 'write') ||
      intent.flags.some((f) => WRITE_FLAGS.includes(f))
    ) {
      worst = 'write';
    }
  }
  return worst;
}

export class PrincipalVar {
  readonly name: string;
  readonly kind: string;
  readonly groups: readonly string[];
  constructor(p: Principal) {
    this.name = p.name;
    this.kind = p.kind;
    this.groups = p.groups ?? EMPTY_LIST;
  }
}

export class ConnectionVar {
  readonly name: string;
  readonly kind: string;
  readonly labels: Readonly<Record<string, string>>;
  constructor(c: ConnectionRef) {
    this.name = c.name;
    this.kind = c.kind;
    this.labels = c.labels ?? EMPTY_MAP;
  }
}

export class PartVar {
  readonly class: string;
  readonly kind: string;
  readonly flags: readonly string[];
  readonly #part: PartIntent;
  #tables?: string[];
  constructor(part: PartIntent) {
    this.#part = part;
    this.class = part.error ? 'unknown' : validClass(part.class);
    this.kind = part.kind;
    this.flags = part.flags;
  }
  get tables(): string[] {
    return (this.#tables ??= uniq(this.#part.objects.tables.map(tableName)));
  }
}

export class IntentVar {
  readonly class: IntentClass;
  readonly #intent: Intent;
  #classes?: string[];
  #kinds?: string[];
  #tables?: string[];
  #tablesRead?: string[];
  #tablesWritten?: string[];
  #names?: [string[], string[], string[]];
  #paths?: string[];
  #pathsRead?: string[];
  #pathsWritten?: string[];
  #parts?: PartVar[];

  constructor(intent: Intent, cls: IntentClass) {
    this.#intent = intent;
    this.class = cls;
  }
  get language(): string {
    return this.#intent.language;
  }
  get classes(): string[] {
    // Include the effective class so `"write" in intent.classes` agrees with `intent.class`.
    return (this.#classes ??= uniq([...this.#intent.classes.map(validClass), ...this.#intent.parts.map((p) => validClass(p.class)), this.class]));
  }
  get kinds(): string[] {
    return (this.#kinds ??= uniq(this.#intent.parts.map((p) => p.kind)));
  }
  get tables(): string[] {
    return (this.#tables ??= uniq(this.#intent.objects.tables.map(tableName)));
  }
  get tables_read(): string[] {
    return (this.#tablesRead ??= uniq(this.#intent.objects.tables.filter((t) => t.access === 'read').map(tableName)));
  }
  get tables_written(): string[] {
    return (this.#tablesWritten ??= uniq(this.#intent.objects.tables.filter((t) => t.access === 'write').map(tableName)));
  }
  /**
   * Table names without their schema: `DELETE FROM public.orders` and `DELETE FROM orders`
   * both give "orders", so a rule on a table cannot be dodged by qualifying its name.
   */
  get table_names(): string[] {
    return this.names()[0];
  }
  get table_names_read(): string[] {
    return this.names()[1];
  }
  get table_names_written(): string[] {
    return this.names()[2];
  }
  private names(): [string[], string[], string[]] {
    const tables = this.#intent.objects.tables;
    return (this.#names ??= [
      uniq(tables.map((t) => t.name)),
      uniq(tables.filter((t) => t.access === 'read').map((t) => t.name)),
      uniq(tables.filter((t) => t.access === 'write').map((t) => t.name)),
    ]);
  }
  get programs(): readonly string[] {
    return this.#intent.objects.programs;
  }
  get paths(): string[] {
    return (this.#paths ??= uniq(this.#intent.objects.paths.map((p) => p.path)));
  }
  get paths_read(): string[] {
    return (this.#pathsRead ??= uniq(this.#intent.objects.paths.filter((p) => p.access === 'read').map((p) => p.path)));
  }
  get paths_written(): string[] {
    return (this.#pathsWritten ??= uniq(this.#intent.objects.paths.filter((p) => p.access === 'write').map((p) => p.path)));
  }
  get hosts(): readonly string[] {
    return this.#intent.objects.hosts;
  }
  get functions(): readonly string[] {
    return this.#intent.objects.functions;
  }
  get flags(): readonly string[] {
    return this.#intent.flags;
  }
  get error(): string {
    return this.#intent.error ?? '';
  }
  get parts(): PartVar[] {
    return (this.#parts ??= this.#intent.parts.map((p) => new PartVar(p)));
  }
}

// cel-js answers `time.getHours("Europe/Berlin")` (and the other timestamp methods that take
// a time zone) through `date.toLocaleString('en-US', {timeZone})`, which builds a new
// formatter on every call: about 47 µs, more than a whole decision may cost. The `time`
// value is therefore a Date carrying its own toLocaleString that returns the same wall-clock
// time, as `YYYY-MM-DDTHH:mm:ss` which `new Date()` parses as local time, computed from a
// cached UTC offset per zone and quarter hour (zone offsets only change on quarter hours).
const QUARTER_HOUR = 15 * 60 * 1000;
const ZONE_CACHE_LIMIT = 64;
const zones = new Map<string, { format: Intl.DateTimeFormat; bucket: number; offset: number | undefined }>();

function zoneEntry(timeZone: string): { format: Intl.DateTimeFormat; bucket: number; offset: number | undefined } {
  let z = zones.get(timeZone);
  if (z) return z;
  // Throws RangeError for an unknown zone, which fails the condition (and so denies).
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
  z = { format, bucket: Number.NaN, offset: undefined };
  // A zone taken from request data could be anything; only keep a bounded set.
  if (zones.size < ZONE_CACHE_LIMIT) zones.set(timeZone, z);
  return z;
}

/** Wall-clock time in the zone, as milliseconds of a UTC date with the same fields. */
function wallClock(format: Intl.DateTimeFormat, ms: number): number {
  const f: Record<string, number> = {};
  for (const p of format.formatToParts(ms)) if (p.type !== 'literal') f[p.type] = Number(p.value);
  const wall = Date.UTC(f.year ?? 0, (f.month ?? 1) - 1, f.day ?? 1, f.hour ?? 0, f.minute ?? 0, f.second ?? 0);
  // Date.UTC maps years 0-99 to 1900-1999; fix those up.
  return (f.year ?? 0) < 100 ? new Date(wall).setUTCFullYear(f.year ?? 0) : wall;
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

function fastToLocaleString(this: Date, locales?: Intl.LocalesArgument, options?: Intl.DateTimeFormatOptions): string {
  const keys = options ? Object.keys(options) : [];
  const ms = this.getTime();
  if (locales !== 'en-US' || keys.length !== 1 || typeof options?.timeZone !== 'string' || Number.isNaN(ms)) {
    return Date.prototype.toLocaleString.call(this, locales, options);
  }
  const z = zoneEntry(options.timeZone);
  const bucket = Math.floor(ms / QUARTER_HOUR);
  if (bucket !== z.bucket) {
    const startMs = bucket * QUARTER_HOUR;
    const offset = wallClock(z.format, startMs) - startMs;
    const endMs = startMs + QUARTER_HOUR - 1000;
    // Should a zone ever change offset inside a quarter hour, do not trust the cache there.
    z.offset = wallClock(z.format, endMs) - endMs === offset ? offset : undefined;
    z.bucket = bucket;
  }
  const wall = new Date(z.offset === undefined ? wallClock(z.format, ms) + (ms % 1000) : ms + z.offset);
  const year = wall.getUTCFullYear();
  if (year < 1 || year > 9999) return Date.prototype.toLocaleString.call(this, locales, options);
  return `${pad(year, 4)}-${pad(wall.getUTCMonth() + 1)}-${pad(wall.getUTCDate())}T${pad(wall.getUTCHours())}:${pad(wall.getUTCMinutes())}:${pad(wall.getUTCSeconds())}`;
}

function timeValue(t: Date): Date {
  const d = new Date(t.getTime());
  Object.defineProperty(d, 'toLocaleString', { value: fastToLocaleString });
  return d;
}

/** The variables a rule's `when` sees. Property names are the CEL variable names. */
export interface Activation {
  principal: PrincipalVar;
  agent: string;
  on_behalf_of: string;
  connection: ConnectionVar;
  door: string;
  command: string;
  session: string;
  intent: IntentVar;
  time: Date;
  args: Readonly<Record<string, unknown>>;
}

export function buildActivation(action: Action): Activation {
  const p = action.principal;
  return {
    principal: new PrincipalVar(p),
    agent: p.kind === 'agent' ? p.name : '',
    on_behalf_of: p.onBehalfOf ?? '',
    connection: new ConnectionVar(action.connection),
    door: action.door,
    command: action.command,
    session: action.session,
    intent: new IntentVar(action.intent, effectiveClass(action.intent)),
    time: timeValue(action.time),
    args: action.args ?? EMPTY_MAP,
  };
}

/** A plain JSON view of the variables, for `policy test` output and explanations. */
export function activationToJSON(a: Activation): Record<string, unknown> {
  const i = a.intent;
  return {
    principal: { name: a.principal.name, kind: a.principal.kind, groups: [...a.principal.groups] },
    agent: a.agent,
    on_behalf_of: a.on_behalf_of,
    connection: { name: a.connection.name, kind: a.connection.kind, labels: { ...a.connection.labels } },
    door: a.door,
    command: a.command,
    session: a.session,
    intent: {
      class: i.class,
      classes: i.classes,
      language: i.language,
      kinds: i.kinds,
      tables: i.tables,
      tables_read: i.tables_read,
      tables_written: i.tables_written,
      table_names: i.table_names,
      table_names_read: i.table_names_read,
      table_names_written: i.table_names_written,
      programs: [...i.programs],
      paths: i.paths,
      paths_read: i.paths_read,
      paths_written: i.paths_written,
      hosts: [...i.hosts],
      functions: [...i.functions],
      flags: [...i.flags],
      error: i.error,
      parts: i.parts.map((p) => ({ class: p.class, kind: p.kind, flags: [...p.flags], tables: p.tables })),
    },
    time: Number.isNaN(a.time.getTime()) ? null : a.time.toISOString(),
    args: { ...a.args },
  };
}

// Built once: creating an Environment is the expensive part of cel-js, evaluation is cheap.
const env = new Environment({ limits: { maxAstNodes: 2000, maxDepth: 64 } })
  .registerType('sluice.Principal', { ctor: PrincipalVar, fields: { name: 'string', kind: 'string', groups: 'list<string>' } })
  .registerType('sluice.Connection', { ctor: ConnectionVar, fields: { name: 'string', kind: 'string', labels: 'map<string, string>' } })
  .registerType('sluice.Part', { ctor: PartVar, fields: { class: 'string', kind: 'string', flags: 'list<string>', tables: 'list<string>' } })
  .registerType('sluice.Intent', {
    ctor: IntentVar,
    fields: {
      class: 'string',
      classes: 'list<string>',
      language: 'string',
      kinds: 'list<string>',
      tables: 'list<string>',
      tables_read: 'list<string>',
      tables_written: 'list<string>',
      table_names: 'list<string>',
      table_names_read: 'list<string>',
      table_names_written: 'list<string>',
      programs: 'list<string>',
      paths: 'list<string>',
      paths_read: 'list<string>',
      paths_written: 'list<string>',
      hosts: 'list<string>',
      functions: 'list<string>',
      flags: 'list<string>',
      error: 'string',
      parts: 'list<sluice.Part>',
    },
  })
  .registerVariable('principal', 'sluice.Principal')
  .registerVariable('agent', 'string')
  .registerVariable('on_behalf_of', 'string')
  .registerVariable('connection', 'sluice.Connection')
  .registerVariable('door', 'string')
  .registerVariable('command', 'string')
  .registerVariable('session', 'string')
  .registerVariable('intent', 'sluice.Intent')
  .registerVariable('time', 'google.protobuf.Timestamp')
  .registerVariable('args', 'map<string, dyn>');

export type Condition = (activation: Activation) => unknown;

export type CompileResult = { ok: true; fn: Condition } | { ok: false; message: string };

// Same text, same compiled function: reloads and presets used on many connections reuse it.
const cache = new Map<string, CompileResult>();
const CACHE_LIMIT = 10_000;

/** Compiles a `when` expression, or says in one line what is wrong with it. */
export function compileCondition(expr: string): CompileResult {
  let result = cache.get(expr);
  if (result) return result;
  result = compileUncached(expr);
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(expr, result);
  return result;
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0]?.trim() ?? msg;
}

function friendlier(msg: string): string {
  const variable = /^Unknown variable: (\S+)/.exec(msg);
  if (variable) return `unknown variable "${variable[1]}" (the variables are ${CEL_VARIABLES.join(', ')})`;
  const field = /^No such key: (\S+)/.exec(msg);
  if (field) return `unknown field "${field[1]}"`;
  return msg;
}

function compileUncached(expr: string): CompileResult {
  let parsed: ParseResult;
  try {
    parsed = env.parse(expr);
  } catch (e) {
    return { ok: false, message: `CEL does not parse: ${firstLine(e)}` };
  }
  const checked = parsed.check();
  if (!checked.valid) return { ok: false, message: `CEL does not type-check: ${friendlier(firstLine(checked.error))}` };
  if (checked.type !== 'bool' && checked.type !== 'dyn') {
    return { ok: false, message: `CEL condition must be a bool, but this one is a ${checked.type}` };
  }
  const unsafe = findUnsafeRegex(parsed.ast);
  if (unsafe) return { ok: false, message: unsafe };
  return { ok: true, fn: parsed as unknown as Condition };
}

// cel-js runs `matches` with JavaScript's backtracking RegExp over text the caller controls
// (the command, table names, args). A pattern taken from that text, or one with nested
// quantifiers like `(a+)+`, would let a caller stall the gateway, so both are refused.
function findUnsafeRegex(root: ASTNode): string | undefined {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (Array.isArray(node)) {
      stack.push(...(node as unknown[]));
      continue;
    }
    if (!isAst(node)) continue;
    if ((node.op === 'rcall' || node.op === 'call') && regexArg(node) !== undefined) {
      const arg = regexArg(node);
      if (!arg || arg.op !== 'value' || typeof arg.args !== 'string') {
        return 'matches() needs a literal pattern: a pattern built from request data could be chosen by the caller';
      }
      try {
        new RegExp(arg.args);
      } catch {
        return `matches() pattern ${JSON.stringify(arg.args)} is not a valid JavaScript regular expression (inline flags such as (?i) are not supported: compare against command.lowerAscii() instead)`;
      }
      const problem = nestedQuantifier(arg.args);
      if (problem) return `matches() pattern ${JSON.stringify(arg.args)} ${problem}`;
    }
    const args: unknown = node.args;
    if (typeof args === 'object' && args !== null) stack.push(args);
  }
  return undefined;
}

function isAst(v: unknown): v is ASTNode {
  return typeof v === 'object' && v !== null && 'op' in v && 'args' in v;
}

/** The pattern argument of a `matches` call, `null` if it has the wrong shape, undefined if not `matches`. */
function regexArg(node: ASTNode): ASTNode | null | undefined {
  if (node.op === 'rcall') {
    const [name, , args] = node.args;
    if (name !== 'matches') return undefined;
    return args[0] ?? null;
  }
  if (node.op === 'call') {
    const [name, args] = node.args;
    if (name !== 'matches') return undefined;
    return args[1] ?? null;
  }
  return undefined;
}

/**
 * A conservative check for patterns that can backtrack exponentially: a quantified group
 * that itself contains a quantifier or an alternation, and backreferences. It may refuse a
 * few safe patterns; rewriting them without nesting is always possible.
 */
export function nestedQuantifier(pattern: string): string | undefined {
  if (/\\[1-9]|\\k</.test(pattern)) return 'uses a backreference, which can backtrack exponentially';
  // For each open group: does it contain a quantifier or `|`?
  const stack: boolean[] = [];
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (ch === ']') inClass = false;
      continue;
    }
    if (ch === '[') inClass = true;
    else if (ch === '(') stack.push(false);
    else if (ch === ')') {
      const risky = stack.pop() ?? false;
      const next = pattern[i + 1];
      const quantified = next === '*' || next === '+' || next === '{' || next === '?';
      if (risky && quantified && next !== '?') {
        return 'has a repeated group that contains a repetition or alternative, which can backtrack exponentially';
      }
      if (stack.length > 0 && (risky || quantified)) stack[stack.length - 1] = true;
    } else if (ch === '*' || ch === '+' || ch === '{' || ch === '|' || (ch === '?' && pattern[i - 1] !== '(')) {
      // `(?:`, `(?=` and friends are group syntax, any other `?` is a quantifier.
      if (stack.length > 0) stack[stack.length - 1] = true;
    }
  }
  return undefined;
}

/** Names of the CEL variables, for documentation and error messages. */
export const CEL_VARIABLES = ['principal', 'agent', 'on_behalf_of', 'connection', 'door', 'command', 'session', 'intent', 'time', 'args'] as const;
