// De-tokenisation: swapping the values of placeholders back into a command an agent sends,
// when the deciding policy rule says `detokenise: true`. Values only ever go where the
// language treats them as data, quoted for that place; a placeholder anywhere else makes the
// whole command a refusal, never a best effort:
//
//   SQL (PostgreSQL)  inside a string literal ('...', E'...', N'...'), quoted for it; a
//                     placeholder in code, an identifier, a dollar-quoted body or a bit or
//                     Unicode string is refused, as is any literal whose backslashes the
//                     server could read differently (standard_conforming_strings).
//   shell (bash)      as an argument or assignment value, single-quoted (inside "..." the
//                     quote is closed and reopened); never as a command name, in a redirect,
//                     here-document or parameter expansion.
//   MCP tool calls    inside JSON string values.
//
// On top of that the command with the values in must analyse to exactly the intent the
// policy decided on (class, flags, tables, programs, paths, hosts, functions): a value can
// change what a command touches only by being data, and then the decision still holds.
// Audit facts are the placeholders (never values); the command recorded is the one the
// agent sent.
import { createRequire } from 'node:module';
import { Language, Parser, type Node } from 'web-tree-sitter';
import type { Analyser } from '../analyse/analyser.js';
import type { Action, Decision, Intent } from '../gate/types.js';
import { PLACEHOLDER_PATTERN } from './placeholder.js';
import { callerScopes, VaultError, type PlaceholderVault } from './vault.js';

export type SwapResult = { ok: true; text: string; placeholders: string[] } | { ok: false; reason: string; placeholders: string[] };

/** Placeholders in a text, each once, in order of first appearance. */
export function placeholdersIn(text: string): string[] {
  if (!text.includes('SLUICE_')) return [];
  const found = new Set<string>();
  const pattern = new RegExp(PLACEHOLDER_PATTERN.source, 'g');
  for (let m = pattern.exec(text); m; m = pattern.exec(text)) found.add(m[0]);
  return [...found];
}

interface Occurrence {
  start: number;
  end: number;
  placeholder: string;
}

function occurrences(text: string, from = 0, to = text.length): Occurrence[] {
  const out: Occurrence[] = [];
  const pattern = new RegExp(PLACEHOLDER_PATTERN.source, 'g');
  pattern.lastIndex = from;
  for (let m = pattern.exec(text); m && m.index + m[0].length <= to; m = pattern.exec(text)) out.push({ start: m.index, end: m.index + m[0].length, placeholder: m[0] });
  return out;
}

function refuse(reason: string, placeholders: string[]): SwapResult {
  return { ok: false, reason, placeholders };
}

/** A value that no quoting can carry (the wire protocols end strings at NUL). */
function unsafeValue(value: string): boolean {
  return value.includes('\u0000');
}

// --- SQL (PostgreSQL) ----------------------------------------------------------------------

type SqlSegmentKind = 'code' | 'comment' | 'standard' | 'escape' | 'dollar' | 'identifier' | 'other-string';

interface SqlSegment {
  kind: SqlSegmentKind;
  /** The whole token (prefix and quotes included). */
  start: number;
  end: number;
  /** For strings: where the content between the quotes lies. */
  contentStart: number;
  contentEnd: number;
}

const IDENT_START = /[A-Za-z_\u0080-\uffff]/;
const IDENT_PART = /[A-Za-z0-9_$\u0080-\uffff]/;

/** Splits PostgreSQL text into code, comments, strings and quoted identifiers; undefined when a token never ends. */
export function sqlSegments(text: string): SqlSegment[] | undefined {
  const out: SqlSegment[] = [];
  let codeStart = 0;
  const flushCode = (until: number) => {
    if (until > codeStart) out.push({ kind: 'code', start: codeStart, end: until, contentStart: codeStart, contentEnd: until });
  };
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (c === '-' && text[i + 1] === '-') {
      flushCode(i);
      const nl = text.indexOf('\n', i);
      const end = nl < 0 ? n : nl;
      out.push({ kind: 'comment', start: i, end, contentStart: i, contentEnd: end });
      i = codeStart = end;
      continue;
    }
    if (c === '/' && text[i + 1] === '*') {
      flushCode(i);
      let depth = 1;
      let j = i + 2;
      while (j < n && depth > 0) {
        if (text[j] === '/' && text[j + 1] === '*') {
          depth++;
          j += 2;
        } else if (text[j] === '*' && text[j + 1] === '/') {
          depth--;
          j += 2;
        } else j++;
      }
      if (depth > 0) return undefined;
      out.push({ kind: 'comment', start: i, end: j, contentStart: i, contentEnd: j });
      i = codeStart = j;
      continue;
    }
    if (IDENT_START.test(c)) {
      let j = i + 1;
      while (j < n && IDENT_PART.test(text[j]!)) j++;
      const word = text.slice(i, j);
      // A one-letter prefix right before a quote makes a special string constant.
      if (text[j] === "'" && /^[EeNnBbXx]$/.test(word)) {
        flushCode(i);
        const kind: SqlSegmentKind = /[Ee]/.test(word) ? 'escape' : /[Nn]/.test(word) ? 'standard' : 'other-string';
        const end = quotedEnd(text, j, kind === 'escape');
        if (end < 0) return undefined;
        out.push({ kind, start: i, end, contentStart: j + 1, contentEnd: end - 1 });
        i = codeStart = end;
        continue;
      }
      if (/^[Uu]$/.test(word) && text[j] === '&' && (text[j + 1] === "'" || text[j + 1] === '"')) {
        flushCode(i);
        const end = text[j + 1] === "'" ? quotedEnd(text, j + 1, false) : identifierEnd(text, j + 1);
        if (end < 0) return undefined;
        out.push({ kind: text[j + 1] === "'" ? 'other-string' : 'identifier', start: i, end, contentStart: j + 2, contentEnd: end - 1 });
        i = codeStart = end;
        continue;
      }
      i = j;
      continue;
    }
    if (c === "'") {
      flushCode(i);
      const end = quotedEnd(text, i, false);
      if (end < 0) return undefined;
      out.push({ kind: 'standard', start: i, end, contentStart: i + 1, contentEnd: end - 1 });
      i = codeStart = end;
      continue;
    }
    if (c === '"') {
      flushCode(i);
      const end = identifierEnd(text, i);
      if (end < 0) return undefined;
      out.push({ kind: 'identifier', start: i, end, contentStart: i + 1, contentEnd: end - 1 });
      i = codeStart = end;
      continue;
    }
    if (c === '$') {
      const tag = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(text.slice(i, i + 130));
      if (tag) {
        flushCode(i);
        const close = text.indexOf(tag[0], i + tag[0].length);
        if (close < 0) return undefined;
        const end = close + tag[0].length;
        out.push({ kind: 'dollar', start: i, end, contentStart: i + tag[0].length, contentEnd: close });
        i = codeStart = end;
        continue;
      }
    }
    i++;
  }
  flushCode(n);
  return out;
}

/** End (exclusive) of a '...' string starting at `open`; doubled quotes (and \' in E'...') stay inside. */
function quotedEnd(text: string, open: number, backslashEscapes: boolean): number {
  for (let j = open + 1; j < text.length; j++) {
    const c = text[j];
    if (backslashEscapes && c === '\\') {
      j++;
      continue;
    }
    if (c === "'") {
      if (text[j + 1] === "'") {
        j++;
        continue;
      }
      return j + 1;
    }
  }
  return -1;
}

function identifierEnd(text: string, open: number): number {
  for (let j = open + 1; j < text.length; j++) {
    if (text[j] === '"') {
      if (text[j + 1] === '"') {
        j++;
        continue;
      }
      return j + 1;
    }
  }
  return -1;
}

/**
 * PostgreSQL text with each placeholder inside a string literal replaced by its value, quoted
 * for that literal. `values` maps placeholders to values; a placeholder in a literal that has
 * no value is refused (unknown, expired or of another scope). Placeholders in comments stay.
 */
export function detokeniseSql(text: string, values: ReadonlyMap<string, string>): SwapResult {
  const all = placeholdersIn(text);
  if (all.length === 0) return { ok: true, text, placeholders: [] };
  const segments = sqlSegments(text);
  if (!segments) return refuse('the statement has an unterminated string, identifier or comment, so the places of its placeholders cannot be told', all);
  // A backslash in any plain literal reads as an escape under standard_conforming_strings=off:
  // the server could then see literals end elsewhere than Sluice does, and a value in code.
  if (segments.some((seg) => seg.kind === 'standard' && text.slice(seg.contentStart, seg.contentEnd).includes('\\'))) {
    return refuse('the statement has a backslash in a string literal, which the server may read as an escape; use E\'...\' for such literals', all);
  }
  const used = new Set<string>();
  let out = '';
  let at = 0;
  // Every placeholder found once, then handed to segments in order: linear in the text, also
  // for a long statement with many literals (a search per segment would be quadratic).
  const every = occurrences(text);
  let next = 0;
  for (const seg of segments) {
    while (next < every.length && every[next]!.start < seg.contentStart) next++;
    const found: Occurrence[] = [];
    while (next < every.length && every[next]!.end <= seg.contentEnd) found.push(every[next++]!);
    if (found.length === 0 || seg.kind === 'comment') continue;
    const names = [...new Set(found.map((o) => o.placeholder))];
    if (seg.kind === 'code') return refuse(`placeholder ${names[0]} is outside a string literal; only a quoted value ('${names[0]}') can be replaced`, all);
    if (seg.kind === 'identifier') return refuse(`placeholder ${names[0]} is inside a quoted identifier; only string literals can carry values`, all);
    if (seg.kind === 'dollar') return refuse(`placeholder ${names[0]} is inside a dollar-quoted string, which may be code (a function body); use a '...' literal`, all);
    if (seg.kind === 'other-string') return refuse(`placeholder ${names[0]} is inside a bit-string or Unicode-escape literal; use a plain '...' literal`, all);
    if (seg.kind === 'escape' && text.slice(seg.contentStart, seg.contentEnd).includes('\\')) {
      return refuse(`the escape string holding ${names[0]} contains backslash escapes; use a plain '...' literal`, all);
    }
    for (const name of names) {
      const value = values.get(name);
      if (value === undefined) return refuse(`placeholder ${name} is unknown here: it expired, was never stored, or belongs to another session or agent`, all);
      if (unsafeValue(value)) return refuse(`the value of ${name} contains a NUL character, which SQL text cannot carry`, all);
      used.add(name);
    }
    // The literal's content decoded (doubled quotes undone) with the values in, then quoted
    // afresh: a plain literal doubles quotes; a value with a backslash needs an escape string
    // (E'...'), which reads the same whatever standard_conforming_strings says.
    let decoded = '';
    let last = seg.contentStart;
    for (const o of found) {
      decoded += text.slice(last, o.start).replace(/''/g, "'") + values.get(o.placeholder)!;
      last = o.end;
    }
    decoded += text.slice(last, seg.contentEnd).replace(/''/g, "'");
    const escaped = () => decoded.replace(/\\/g, '\\\\').replace(/'/g, "''");
    let literal: string;
    if (seg.kind === 'escape') literal = `E'${escaped()}'`;
    else if (decoded.includes('\\')) literal = ` E'${escaped()}'`;
    else literal = `${text.slice(seg.start, seg.contentStart - 1)}'${decoded.replace(/'/g, "''")}'`;
    out += text.slice(at, seg.start) + literal;
    at = seg.end;
  }
  out += text.slice(at);
  return { ok: true, text: out, placeholders: [...used] };
}

// --- shell (bash) ---------------------------------------------------------------------------

/** Programs whose arguments can be code or another command: a value there is never just data. */
const CODE_PROGRAMS = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'fish', 'csh', 'tcsh', 'eval', 'exec', 'source', '.', 'xargs', 'find',
  'env', 'sudo', 'su', 'doas', 'ssh', 'watch', 'nohup', 'timeout', 'nice', 'time', 'parallel', 'awk', 'gawk', 'mawk', 'nawk', 'sed', 'perl',
  'python', 'python2', 'python3', 'ruby', 'node', 'nodejs', 'deno', 'bun', 'php', 'lua', 'tclsh', 'expect', 'jq', 'yq', 'psql', 'mysql', 'sqlite3',
  'kubectl', 'docker', 'podman', 'git', 'make', 'crontab', 'at', 'script', 'busybox', 'command', 'builtin', 'trap', 'alias']);

let bashParser: Promise<Parser> | undefined;

/** A tree-sitter parser for bash (loaded once per process). */
export function shellParser(): Promise<Parser> {
  bashParser ??= (async () => {
    await Parser.init();
    const language = await Language.load(createRequire(import.meta.url).resolve('tree-sitter-bash/tree-sitter-bash.wasm'));
    const parser = new Parser();
    parser.setLanguage(language);
    return parser;
  })();
  return bashParser;
}

function singleQuoted(value: string): string {
  return value.replace(/'/g, "'\\''");
}

/** Where a placeholder sits in the bash syntax tree, or why it cannot be replaced there. */
function shellContext(leaf: Node): 'word' | 'double' | 'single' | 'comment' | string {
  let context: 'word' | 'double' | 'single' | 'comment';
  let node: Node | null = leaf;
  switch (leaf.type) {
    case 'comment':
      return 'comment';
    case 'word':
      context = 'word';
      break;
    case 'string_content':
      if (leaf.parent?.type !== 'string') return 'it is inside a here-document or expansion';
      context = 'double';
      node = leaf.parent;
      break;
    case 'raw_string':
      context = 'single';
      break;
    default:
      return `it is inside a ${leaf.type.replace(/_/g, ' ')}`;
  }
  // Up to the command or assignment that takes the word: only quoting and concatenation between.
  for (let parent = node.parent; parent; node = parent, parent = parent.parent) {
    if (parent.type === 'concatenation') continue;
    if (parent.type === 'command') {
      return parent.childForFieldName('name')?.equals(node) ? 'it is a command name' : context;
    }
    if (parent.type === 'variable_assignment') return parent.childForFieldName('value')?.equals(node) ? context : 'it is a variable name';
    if (parent.type === 'command_name') return 'it is a command name';
    return `it is inside a ${parent.type.replace(/_/g, ' ')}`;
  }
  return 'its place in the command is not understood';
}

/**
 * Bash text with each placeholder in an argument or assignment value replaced by its value as
 * a single-quoted word (`'...'\''...'`; inside "..." the double quote is closed around it).
 * Placeholders in comments stay. `programs` are the programs the command runs (from its
 * intent): with a program that takes code or a command as an argument, nothing is replaced.
 */
export function detokeniseShell(text: string, values: ReadonlyMap<string, string>, parser: Parser, programs: readonly string[] = []): SwapResult {
  const all = placeholdersIn(text);
  if (all.length === 0) return { ok: true, text, placeholders: [] };
  const code = programs.find((p) => CODE_PROGRAMS.has(p.split('/').pop()!));
  if (code) return refuse(`the command runs ${code}, which can treat an argument as code or another command, so ${all[0]} is not replaced`, all);
  if (text.includes('\\\n') || /[\r\v\f]/.test(text) || text.includes('\u0000')) return refuse('the command has line continuations or control characters, so the places of its placeholders cannot be told safely', all);
  const tree = parser.parse(text);
  if (!tree) return refuse('the command could not be parsed', all);
  try {
    if (tree.rootNode.hasError) return refuse('the command does not parse as bash', all);
    const used = new Set<string>();
    let out = '';
    let at = 0;
    for (const o of occurrences(text)) {
      const leaf = tree.rootNode.descendantForIndex(o.start, o.end - 1);
      const context = leaf ? shellContext(leaf) : 'it is not in the syntax tree';
      if (context === 'comment') continue;
      if (context !== 'word' && context !== 'double' && context !== 'single') return refuse(`placeholder ${o.placeholder} cannot be replaced: ${context}`, all);
      const value = values.get(o.placeholder);
      if (value === undefined) return refuse(`placeholder ${o.placeholder} is unknown here: it expired, was never stored, or belongs to another session or agent`, all);
      if (unsafeValue(value)) return refuse(`the value of ${o.placeholder} contains a NUL character, which a shell word cannot carry`, all);
      const quoted = singleQuoted(value);
      out += text.slice(at, o.start) + (context === 'single' ? quoted : context === 'double' ? `"'${quoted}'"` : `'${quoted}'`);
      at = o.end;
      used.add(o.placeholder);
    }
    out += text.slice(at);
    return { ok: true, text: out, placeholders: [...used] };
  } finally {
    tree.delete();
  }
}

// --- MCP tool calls (JSON) -----------------------------------------------------------------

/**
 * A `tool({...})` command (connectors/mcp.ts) with placeholders in JSON string values replaced
 * by their values (JSON-escaped by serialisation). A placeholder in an object key is refused.
 */
export function detokeniseToolCall(text: string, values: ReadonlyMap<string, string>): SwapResult {
  const all = placeholdersIn(text);
  if (all.length === 0) return { ok: true, text, placeholders: [] };
  const open = text.indexOf('(');
  if (open <= 0 || !text.endsWith(')')) return refuse('the command is not a call of the form tool({...})', all);
  let args: unknown;
  try {
    args = JSON.parse(text.slice(open + 1, -1));
  } catch {
    return refuse('the tool arguments are not valid JSON', all);
  }
  const used = new Set<string>();
  let problem: string | undefined;
  const swap = (value: unknown, depth: number): unknown => {
    if (problem) return value;
    if (depth > 64) {
      problem = 'the tool arguments are nested too deeply';
      return value;
    }
    if (typeof value === 'string') return swapString(value);
    if (Array.isArray(value)) return value.map((item) => swap(item, depth + 1));
    if (value !== null && typeof value === 'object') {
      const entries: [string, unknown][] = [];
      for (const [key, item] of Object.entries(value)) {
        if (placeholdersIn(key).length > 0) problem ??= `placeholder ${placeholdersIn(key)[0]} is in an argument name; only values can be replaced`;
        entries.push([key, swap(item, depth + 1)]);
      }
      // fromEntries defines own properties: an argument named __proto__ stays an argument.
      return Object.fromEntries(entries);
    }
    return value;
  };
  const swapString = (s: string): string => {
    let out = '';
    let at = 0;
    for (const o of occurrences(s)) {
      const value = values.get(o.placeholder);
      if (value === undefined) {
        problem ??= `placeholder ${o.placeholder} is unknown here: it expired, was never stored, or belongs to another session or agent`;
        return s;
      }
      out += s.slice(at, o.start) + value;
      at = o.end;
      used.add(o.placeholder);
    }
    return out + s.slice(at);
  };
  const swapped = swap(args, 0);
  if (problem) return refuse(problem, all);
  return { ok: true, text: `${text.slice(0, open)}(${JSON.stringify(swapped)})`, placeholders: [...used] };
}

// --- the gate's hook -----------------------------------------------------------------------

export type DetokeniseOutcome = { ok: true; command: string } | { ok: false; error: { code: 'detokenise_refused'; message: string } };

/** Bound parameter values with placeholders swapped for their values, and which placeholders those were. */
export type DetokenisedValues =
  | { ok: true; values: (string | null)[]; placeholders: string[] }
  | { ok: false; error: { code: 'detokenise_refused'; message: string }; placeholders: string[] };

/** Flags that mean a literal or argument may be run as code or name a file or program. */
const REFUSED_FLAGS = new Set(['dynamic_sql', 'dynamic_command', 'dynamic_args', 'inline_code', 'program_exec', 'pipe_to_interpreter',
  'remote', 'remote_shell', 'find_exec', 'wrapper', 'file_access', 'script_file', 'set_config', 'custom_setting', 'side_effect_function']);

export interface DetokeniserOptions {
  /** The vault; undefined when none is configured (placeholders are one-way). */
  vault: () => PlaceholderVault | undefined;
  /** Analysers by language, to check the command with values in keeps its intent. */
  analysers: ReadonlyMap<string, Analyser>;
}

/**
 * What the gate calls before a connector (or a door's upstream) runs an allowed command: the
 * command with the placeholders' values in, when the deciding rule says `detokenise: true`;
 * otherwise the command as sent. Adds `detokenised: {placeholders, refused?}` to the action's
 * detail, so the outcome record names the placeholders (never the values).
 */
export class Detokeniser {
  constructor(private readonly options: DetokeniserOptions) {}

  async command(action: Action, decision: Decision, language: string): Promise<DetokeniseOutcome> {
    if (decision.detokenise !== true || !action.command.includes('SLUICE_')) return { ok: true, command: action.command };
    const placeholders = placeholdersIn(action.command);
    if (placeholders.length === 0) return { ok: true, command: action.command };
    const result = await this.swap(action, language, placeholders);
    action.detail = { ...action.detail, detokenised: { placeholders: result.placeholders, ...(result.ok ? {} : { refused: result.reason }) } };
    if (!result.ok) return { ok: false, error: { code: 'detokenise_refused', message: `Sluice did not put the values of placeholders into this command: ${result.reason}` } };
    return { ok: true, command: result.text };
  }

  /**
   * Bound parameters (a PostgreSQL Bind): every placeholder in a value is swapped for its
   * value as it stands. A bound parameter is data by construction, so no quoting applies, but
   * the statement must not be one that runs, reads or names what a value says (its flags).
   */
  async values(action: Action, decision: Decision, values: readonly (string | null)[]): Promise<DetokenisedValues> {
    const placeholders = [...new Set(values.flatMap((v) => (v === null ? [] : placeholdersIn(v))))];
    if (decision.detokenise !== true || placeholders.length === 0) return { ok: true, values: [...values], placeholders: [] };
    const refused = (reason: string): DetokenisedValues => ({
      ok: false,
      error: { code: 'detokenise_refused', message: `Sluice did not put the values of placeholders into the parameters: ${reason}` },
      placeholders,
    });
    const vault = this.options.vault();
    if (!vault) return refused('placeholders are one-way here: no vault is configured (masking.vault.key or SLUICE_VAULT_KEY)');
    const flag = action.intent.flags.find((f) => REFUSED_FLAGS.has(f));
    if (flag) return refused(`the statement is flagged ${flag}: a value could become code, a file or a program there`);
    let found: Map<string, string>;
    try {
      const entries = await vault.lookup(placeholders, callerScopes({ session: action.session, principal: action.principal.name }));
      found = new Map([...entries].map(([placeholder, entry]) => [placeholder, entry.value]));
    } catch (error) {
      return refused(error instanceof VaultError ? error.message : 'the vault could not be read');
    }
    const missing = placeholders.find((p) => !found.has(p));
    if (missing) return refused(`placeholder ${missing} is unknown here: it expired, was never stored, or belongs to another session or agent`);
    if ([...found.values()].some(unsafeValue)) return refused('a value holds a NUL character, which the protocol cannot carry');
    const pattern = new RegExp(PLACEHOLDER_PATTERN.source, 'g');
    return { ok: true, values: values.map((v) => (v === null || !v.includes('SLUICE_') ? v : v.replace(pattern, (p) => found.get(p)!))), placeholders };
  }

  private async swap(action: Action, language: string, placeholders: string[]): Promise<SwapResult> {
    const vault = this.options.vault();
    if (!vault) return refuse('placeholders are one-way here: no vault is configured (masking.vault.key or SLUICE_VAULT_KEY)', placeholders);
    const flag = action.intent.flags.find((f) => REFUSED_FLAGS.has(f));
    if (flag) return refuse(`the command is flagged ${flag}: a value could become code, a file or a program there`, placeholders);
    let values: Map<string, string>;
    try {
      const found = await vault.lookup(placeholders, callerScopes({ session: action.session, principal: action.principal.name }));
      values = new Map([...found].map(([placeholder, entry]) => [placeholder, entry.value]));
    } catch (error) {
      return refuse(error instanceof VaultError ? error.message : 'the vault could not be read', placeholders);
    }
    let result: SwapResult;
    if (language === 'postgres') result = detokeniseSql(action.command, values);
    else if (language === 'shell') result = detokeniseShell(action.command, values, await shellParser(), action.intent.objects.programs);
    else if (language === 'mcp') result = detokeniseToolCall(action.command, values);
    else return refuse(`de-tokenisation is not supported for ${language} commands`, placeholders);
    if (!result.ok || result.text === action.command) return result;
    // The decision was made on the command with placeholders; it holds only if the values
    // change nothing the policy looked at.
    const analyser = this.options.analysers.get(language);
    if (!analyser) return refuse(`there is no ${language} analyser to check the command with the values in`, placeholders);
    let after: Intent;
    try {
      after = analyser.analyse(result.text);
    } catch {
      return refuse('the command with the values in could not be analysed', placeholders);
    }
    if (intentKey(after) !== intentKey(action.intent)) return refuse('with the values in, the command would do something else than what the policy decided on (other objects, class or flags)', placeholders);
    return result;
  }
}

function intentKey(intent: Intent): string {
  const sorted = (list: readonly string[]) => [...list].sort();
  return JSON.stringify([
    intent.class,
    sorted(intent.classes),
    sorted(intent.flags),
    intent.error ?? null,
    sorted(intent.objects.tables.map((t) => `${t.schema ?? ''}.${t.name}:${t.access}`)),
    sorted(intent.objects.programs),
    sorted(intent.objects.paths.map((p) => `${p.path}:${p.access}`)),
    sorted(intent.objects.hosts),
    sorted(intent.objects.functions),
  ]);
}
