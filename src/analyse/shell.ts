// Shell intent analyser. The text is parsed with tree-sitter-bash and every command that
// would run is found: in pipelines, lists, subshells, groups, loops, conditionals, function
// bodies, $(...), backticks, <(...), and in strings handed to bash -c, eval, ssh, watch,
// sudo -s and friends (parsed again, recursively). Each simple command is resolved through
// quoting tricks and wrappers to the program that really runs, then classified by the program
// table. Anything not understood is unknown.
import { createRequire } from 'node:module';
import { posix } from 'node:path';
import { Language, Parser, type Node, type Tree } from 'web-tree-sitter';
import { classRank } from '../gate/types.js';
import type { Intent, IntentClass, PartIntent } from '../gate/types.js';
import type { Analyser, AnalysisSession } from './analyser.js';
import { PartBuilder, combineParts, unknownIntent } from './intent.js';
import { isDevice, isSink, pathText, type Call, type CodeOptions, type RunOptions } from './shell-args.js';
import { compilePrograms, type CompiledPrograms, type ProgramEntry } from './shell-programs.js';
import { sensitivePath } from './shell-sensitive-paths.js';
import { compileWrappers, isDangerousEnv, unwrap, type WrapperSpec } from './shell-wrappers.js';
import { evaluateWord, heredocAsDoubleQuoted, joinContinuations, type Word } from './shell-words.js';

const LANGUAGE = 'shell';

/** Longest input (UTF-16 code units) that is parsed; longer input is `unknown`. */
export const MAX_SHELL_INPUT = 262_144;
/** Deepest syntax-tree nesting the walker follows. */
export const MAX_SHELL_DEPTH = 400;
/** How many times code inside code (bash -c "eval '...'") is parsed again. */
export const MAX_SHELL_NESTING = 8;
/** How many wrappers may stand in front of one command (sudo timeout nice ... rm). */
const MAX_WRAPPERS = 16;

export interface ShellAnalyserOptions {
  /** More wrapper programs, or replacements for built-in entries. */
  wrappers?: Record<string, WrapperSpec>;
  /** More programs, or replacements for built-in entries. */
  programs?: Record<string, ProgramEntry>;
  maxInputLength?: number;
}

/** Directories whose programs are taken to be the real thing (`/bin/rm` is rm, `./rm` is not). */
const SYSTEM_DIRS = new Set(['/bin', '/usr/bin', '/usr/local/bin', '/sbin', '/usr/sbin', '/usr/local/sbin']);

/** Builtins that take variable names, where `a[$(cmd)]` in a name runs cmd. */
const NAME_BUILTINS = new Set(['let', 'declare', 'typeset', 'local', 'export', 'readonly', 'read', 'unset', 'mapfile',
  'readarray', 'getopts', 'wait', 'printf', 'test', '[']);

/** Nodes that only group other nodes. */
const CONTAINERS = new Set(['program', 'list', 'compound_statement', 'subshell', 'do_group', 'if_statement',
  'elif_clause', 'else_clause', 'while_statement', 'case_statement', 'case_item', 'negated_command', 'for_statement',
  'c_style_for_statement']);

/** Nodes that make up words and expressions: visited only for the commands inside them. */
const WORDISH = new Set(['word', 'string', 'raw_string', 'ansi_c_string', 'translated_string', 'concatenation',
  'simple_expansion', 'command_name', 'number', 'brace_expression', 'string_content', 'variable_name',
  'special_variable_name', 'binary_expression', 'unary_expression', 'ternary_expression', 'postfix_expression',
  'parenthesized_expression', 'test_operator', 'regex', 'extglob_pattern', 'file_descriptor', 'heredoc_start',
  'heredoc_end', 'heredoc_content', 'heredoc_body', 'array', 'file_redirect', 'heredoc_redirect', 'herestring_redirect']);

const SUSPICIOUS = /\$\(|`/;
/**
 * Characters that tree-sitter-bash takes for blanks but bash takes for word characters
 * (carriage return, vertical tab, form feed, and a backslash before a tab): in `echo a\r#; rm x`
 * the parser sees a comment where bash runs rm.
 */
const SPLITS_DIFFERENTLY = /[\r\v\f]|\\\t/;
/** A backtick or $( not preceded by an escaping backslash. */
const UNPARSED_SUBSTITUTION = /(^|[^\\])(\\\\)*(`|\$\()/;

class TooDeep extends Error {}

interface Frame {
  floor: IntentClass | undefined;
  flags: readonly string[];
  hosts: readonly string[];
}

interface Ctx {
  /** Standard input is a pipe. */
  piped: boolean;
  /** Standard input is this heredoc or here-string. */
  stdin: Word | undefined;
}

const PLAIN: Ctx = { piped: false, stdin: undefined };
const TOP: Frame = { floor: undefined, flags: [], hosts: [] };

/** Raise a part that reads or writes process memory, raw devices, credentials and the like. */
function sensitive(part: PartBuilder): PartBuilder {
  for (const p of part.pathList) {
    const e = sensitivePath(p.path, p.access);
    if (e !== undefined) part.raise(e.class).flag(...e.flags);
  }
  return part;
}

function riskier(a: IntentClass | undefined, b: IntentClass | undefined): IntentClass | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return classRank(a) >= classRank(b) ? a : b;
}

/**
 * What the arithmetic-injection check needs, shared by the input and every piece of code
 * found inside it (`x='a[$(id)]' bash -c 'echo $((x))'` splits the two halves).
 */
interface Taint {
  /** Some text is evaluated as arithmetic or as a variable name. */
  arithmetic: boolean;
  /** Some literal contains $( or a backtick. */
  suspicious: boolean;
}

/** Walks one piece of shell code (the input, or a string found inside it). */
class Walk {
  private readonly items: Array<PartBuilder | PartIntent> = [];
  private readonly functions = new Map<string, number>();
  /** Functions whose bodies are being walked, innermost last. */
  private readonly defining: string[] = [];
  /** For each function defined here, the commands its bodies run (by name). */
  private readonly calls = new Map<string, Set<string>>();
  private depth = 0;
  /** The text being walked, for checks that need whole lines. */
  private source = '';

  constructor(
    private readonly analyser: ShellAnalyser,
    private readonly nesting: number,
    private readonly frame: Frame,
    private readonly taint: Taint = { arithmetic: false, suspicious: false },
  ) {}


  /** Parse and walk `text`; returns its parts, or undefined on a syntax error. */
  run(text: string): PartIntent[] | undefined {
    if (SPLITS_DIFFERENTLY.test(text)) return undefined;
    const parsed = this.analyser.parse(text);
    if (parsed === null) return undefined;
    const { tree, source } = parsed;
    this.source = source;
    try {
      if (tree.rootNode.hasError) return undefined;
      this.visit(tree.rootNode, PLAIN);
    } finally {
      tree.delete();
    }
    const loop = this.recursion();
    if (loop !== undefined) {
      // `:(){ :|:& };:` and `f(){ f & f; }`: a function that runs itself, directly or through
      // others, multiplies processes until something gives out.
      this.newPart(loop).unknown(`function ${loop} calls itself`).flag('recursive_function');
    }
    if (this.nesting === 0 && this.taint.arithmetic && this.taint.suspicious) {
      // `x='a[$(id)]'; echo $((x))` runs id: arithmetic evaluates array subscripts found in
      // variable values, so a literal holding $( or ` plus any arithmetic is not safe to pass.
      this.newPart('arithmetic').unknown('arithmetic evaluation of text that contains a command substitution').flag('dynamic_command');
    }
    return this.items.map((i) => (i instanceof PartBuilder ? sensitive(i).build() : i));
  }

  /** A function defined here that runs itself, directly or through other functions, if any. */
  private recursion(): string | undefined {
    // Depth-first search for a cycle, with an explicit stack (the input may define thousands).
    const done = new Set<string>();
    for (const root of this.calls.keys()) {
      if (done.has(root)) continue;
      const active = new Set<string>([root]);
      const stack: Array<{ name: string; next: Iterator<string> }> = [{ name: root, next: (this.calls.get(root) ?? new Set<string>()).values() }];
      while (stack.length > 0) {
        const top = stack[stack.length - 1] as { name: string; next: Iterator<string> };
        const step = top.next.next();
        if (step.done === true) {
          stack.pop();
          active.delete(top.name);
          done.add(top.name);
          continue;
        }
        const g = step.value;
        const callees = this.calls.get(g);
        if (callees === undefined || done.has(g)) continue;
        if (active.has(g)) return g;
        active.add(g);
        stack.push({ name: g, next: callees.values() });
      }
    }
    return undefined;
  }

  newPart(kind: string): PartBuilder {
    const p = new PartBuilder(kind);
    if (this.frame.floor !== undefined) p.raise(this.frame.floor);
    p.flag(...this.frame.flags);
    for (const h of this.frame.hosts) p.host(h);
    this.items.push(p);
    return p;
  }

  private word(node: Node): Word {
    const w = evaluateWord(node);
    if (w.value !== null && SUSPICIOUS.test(w.value)) this.taint.suspicious = true;
    return w;
  }

  private visitChildren(node: Node, ctx: Ctx): void {
    for (let i = 0; i < node.childCount; i++) {
      const c = node.child(i);
      if (c !== null && c.isNamed) this.visit(c, ctx);
    }
  }

  visit(node: Node, ctx: Ctx): void {
    if (++this.depth > MAX_SHELL_DEPTH) throw new TooDeep();
    const type = node.type;
    switch (type) {
      case 'command':
        this.command(node, ctx, []);
        break;
      case 'redirected_statement':
        this.redirected(node, ctx);
        break;
      case 'pipeline': {
        let k = 0;
        for (let i = 0; i < node.childCount; i++) {
          const c = node.child(i);
          if (c === null || !c.isNamed) continue;
          this.visit(c, k++ === 0 ? ctx : { piped: true, stdin: undefined });
        }
        break;
      }
      case 'variable_assignment':
        this.assignment(node, this.newPart('assignment').raise('read'));
        this.visitChildren(node, PLAIN);
        break;
      case 'variable_assignments':
        this.visitChildren(node, ctx);
        break;
      case 'declaration_command':
        this.declaration(node);
        break;
      case 'unset_command':
        this.newPart('unset').raise('read');
        this.taint.arithmetic = true;
        this.visitChildren(node, PLAIN);
        break;
      case 'test_command':
        this.newPart('test').raise('read');
        if (/\s-(eq|ne|lt|le|gt|ge|v)\s/.test(node.text)) this.taint.arithmetic = true;
        this.visitChildren(node, PLAIN);
        break;
      case 'function_definition': {
        const name = node.childForFieldName('name');
        const fname = name === null ? undefined : (evaluateWord(name).value ?? name.text);
        if (fname !== undefined) {
          this.functions.set(fname, node.endIndex);
          if (!this.calls.has(fname)) this.calls.set(fname, new Set());
          this.defining.push(fname);
        }
        try {
          this.visitChildren(node, PLAIN);
        } finally {
          if (fname !== undefined) this.defining.pop();
        }
        break;
      }
      case 'command_substitution':
      case 'process_substitution':
        this.visitChildren(node, PLAIN);
        break;
      case 'arithmetic_expansion':
      case 'subscript':
        this.taint.arithmetic = true;
        this.visitChildren(node, PLAIN);
        break;
      case 'expansion':
        // ${x@P} expands the value as a prompt, which runs command substitutions in it.
        if (/@P\s*\}$/.test(node.text)) this.newPart('expansion').unknown('prompt expansion ${...@P} can run commands').flag('dynamic_command');
        // Substring offsets, subscripts and ${!name} evaluate text as arithmetic or as a name.
        if (/^\$\{[^}]*:[^-=?+]/.test(node.text) || node.text.startsWith('${!')) this.taint.arithmetic = true;
        this.visitChildren(node, PLAIN);
        break;
      case 'comment':
      case 'heredoc_body':
        // Heredoc bodies are analysed with their redirection (see heredocValue).
        break;
      default:
        if (CONTAINERS.has(type)) {
          if (type === 'c_style_for_statement' || (type === 'compound_statement' && node.child(0)?.type === '((')) this.taint.arithmetic = true;
          // Everything inside a group or loop shares its standard input (a pipe, a heredoc).
          this.visitChildren(node, ctx);
        } else if (WORDISH.has(type)) {
          if ((type === 'raw_string' || type === 'string_content' || type === 'ansi_c_string' || type === 'word') && SUSPICIOUS.test(node.text)) {
            this.taint.suspicious = true;
          }
          // tree-sitter-bash leaves `...` inside ${...} (and any substitution it fails to
          // recognise) as plain text, but bash runs it.
          if ((type === 'word' || type === 'regex' || type === 'extglob_pattern') && UNPARSED_SUBSTITUTION.test(node.text)) {
            this.newPart('substitution').unknown('command substitution that the parser did not recognise').flag('dynamic_command');
          }
          // The grammar joins words across "``" (an empty backtick substitution), which also
          // swallows the boundary between two substitutions: `a` `b` becomes one word.
          if (type === 'concatenation' && node.children.some((c) => c !== null && c.type === '``')) {
            this.newPart('substitution').unknown('backtick substitutions the parser could not separate').flag('dynamic_command');
          }
          // An unquoted word never spans lines in bash; tree-sitter-bash sometimes glues the
          // next line to a word (`ls x<newline>\rm y` as one argument), hiding a command.
          if (type === 'word' && node.text.includes('\n')) {
            this.newPart('word').unknown('a word spanning lines, which bash would split into commands').flag('dynamic_command');
          }
          this.visitChildren(node, PLAIN);
        } else if (node.isNamed) {
          this.newPart(type).unknown(`unsupported shell syntax: ${type}`);
        }
    }
    this.depth--;
  }

  private assignment(node: Node, part: PartBuilder): void {
    const name = node.childForFieldName('name');
    const n = name?.type === 'subscript' ? name.childForFieldName('name') : name;
    if (n !== null && n !== undefined && isDangerousEnv(n.text)) part.raise('execute').flag('env_injection');
  }

  private declaration(node: Node): void {
    const keyword = node.child(0)?.type ?? 'declare';
    const part = this.newPart(keyword).raise('read');
    this.taint.arithmetic = true;
    for (let i = 1; i < node.childCount; i++) {
      const c = node.child(i);
      if (c === null || !c.isNamed) continue;
      if (c.type === 'variable_assignment') {
        this.assignment(c, part);
        this.visitChildren(c, PLAIN);
        continue;
      } else if (c.type !== 'variable_name' && c.type !== 'word' && c.type !== 'comment') {
        // `export $x`: the name (and so what is exported) is known only at run time.
        const w = this.word(c);
        if (w.value === null) part.unknown(`${keyword} with a name known only at run time`).flag('dynamic_command');
      }
      this.visit(c, PLAIN);
    }
  }

  private redirected(node: Node, ctx: Ctx): void {
    const body = node.childForFieldName('body');
    const redirects = node.childrenForFieldName('redirect').filter((r): r is Node => r !== null);
    if (body !== null && body.type === 'command') {
      this.command(body, ctx, redirects);
      return;
    }
    if (body !== null) this.visit(body, ctx);
    if (redirects.length > 0) {
      const part = this.newPart('redirect').raise('read');
      for (const r of redirects) {
        if (r.type === 'file_redirect' && r.childrenForFieldName('destination').length > 1) {
          part.unknown('words after a redirection of a compound command');
        }
        this.visit(r, PLAIN);
      }
      this.redirects(redirects, part);
    }
  }

  /** Apply redirections to a part; returns what standard input will be, if a heredoc/here-string. */
  private redirects(list: readonly Node[], part: PartBuilder): Word | undefined {
    let stdin: Word | undefined;
    for (const r of list) {
      if (r.type === 'file_redirect') {
        this.fileRedirect(r, part);
      } else if (r.type === 'heredoc_redirect') {
        let body: Node | undefined;
        let start = '';
        let end: Node | undefined;
        let op = '<<';
        for (let i = 0; i < r.childCount; i++) {
          const c = r.child(i);
          if (c === null) continue;
          if (c.type === 'heredoc_body') body = c;
          else if (c.type === 'heredoc_start') start = c.text;
          else if (c.type === 'heredoc_end') end = c;
          else if (c.type === '<<-') op = '<<-';
          else if (c.type === 'file_redirect') this.fileRedirect(c, part);
        }
        this.checkHeredocEnd(start, end, op === '<<-', part);
        const text = body?.text ?? '';
        const quoted = /['"\\]/.test(start);
        stdin = { value: quoted ? text : this.heredocValue(text, part), raw: text, pattern: false };
      } else if (r.type === 'herestring_redirect') {
        const target = r.namedChildren.find((c) => c !== null);
        const w = target ? this.word(target) : undefined;
        stdin = w === undefined ? undefined : { value: w.value === null ? null : `${w.value}\n`, raw: w.raw, pattern: false };
      }
    }
    return stdin;
  }

  /**
   * bash ends a heredoc only at a line that is exactly the delimiter (after leading tabs, for
   * <<-). tree-sitter-bash also ends it at `EOF # text`, taking the rest for a comment where
   * bash keeps reading (and expanding) the body.
   */
  private checkHeredocEnd(start: string, end: Node | undefined, stripTabs: boolean, part: PartBuilder): void {
    const delimiter = start.replace(/["'\\]/g, '');
    if (end === undefined) {
      part.unknown('heredoc without an end line');
      return;
    }
    const from = this.source.lastIndexOf('\n', end.startIndex - 1) + 1;
    const to = this.source.indexOf('\n', end.startIndex);
    let line = this.source.slice(from, to < 0 ? this.source.length : to);
    if (stripTabs) line = line.replace(/^\t+/, '');
    if (line !== delimiter) part.unknown('a heredoc end line that bash would not take as the end').flag('dynamic_command');
  }

  /**
   * An unquoted heredoc body is expanded like a double-quoted string: its $(...) run. The
   * grammar's own parse of bodies misses some (after a leading tab, for one), so the body is
   * parsed again as the string it is equivalent to. Returns its value, or null if it has
   * expansions.
   */
  private heredocValue(text: string, part: PartBuilder): string | null {
    const parsed = this.analyser.parse(`: ${heredocAsDoubleQuoted(text)}`);
    if (parsed === null) {
      part.unknown('heredoc body not understood');
      return null;
    }
    const { tree } = parsed;
    try {
      const string = tree.rootNode.hasError ? undefined : tree.rootNode.namedChild(0)?.namedChildren.find((c) => c?.type === 'string');
      if (string === undefined || string === null) {
        part.unknown('heredoc body not understood');
        return null;
      }
      this.visit(string, PLAIN);
      return this.word(string).value;
    } finally {
      tree.delete();
    }
  }

  private fileRedirect(r: Node, part: PartBuilder): void {
    let op = '';
    for (let i = 0; i < r.childCount; i++) {
      const c = r.child(i);
      if (c !== null && !c.isNamed && /^[<>&|-]+$/.test(c.type)) {
        op = c.type;
        break;
      }
    }
    const dest = r.childrenForFieldName('destination')[0];
    if (dest === undefined || dest === null) return;
    const w = this.word(dest);
    const v = w.value;
    // 2>&1, >&2, <&0, >&-: descriptors, not files.
    if ((op === '>&' || op === '<&' || op === '>&-' || op === '<&-') && (v === null ? false : /^(\d+-?|-)$/.test(v))) return;
    const tcp = v === null ? null : /^\/dev\/(tcp|udp)\/([^/]+)\/([^/]+)$/.exec(v);
    if (tcp !== null) {
      // bash opens a network connection for these names.
      part.raise('network').flag('dev_tcp').host((tcp[2] as string).toLowerCase());
      return;
    }
    if (op.includes('>')) {
      if (isSink(v)) return;
      if (isDevice(v)) {
        part.raise('admin').flag('device_write').path(pathText(w), 'write');
        return;
      }
      part.raise('write').flag('redirect_write').path(pathText(w), 'write');
    } else if (op === '<' || op === '<&') {
      part.path(pathText(w), 'read');
    }
  }

  private command(node: Node, ctx: Ctx, outer: readonly Node[]): void {
    const part = this.newPart('?');
    let nameNode: Node | undefined;
    const argNodes: Node[] = [];
    const redirects: Node[] = [...outer];
    const assigns: Node[] = [];
    for (let i = 0; i < node.childCount; i++) {
      const c = node.child(i);
      if (c === null) continue;
      const field = node.fieldNameForChild(i);
      if (field === 'name') nameNode = c;
      else if (field === 'argument') argNodes.push(c);
      else if (field === 'redirect' || c.type.endsWith('_redirect')) redirects.push(c);
      else if (c.type === 'variable_assignment') assigns.push(c);
      else if (c.isNamed && c.type !== 'comment') part.unknown(`unexpected ${c.type} in a command`);
    }
    // bash takes words after a redirection's target as arguments (`sudo >/dev/null rm x`).
    for (const r of redirects) {
      if (r.type !== 'file_redirect') continue;
      const dests = r.childrenForFieldName('destination');
      for (let k = 1; k < dests.length; k++) {
        const d = dests[k];
        if (d !== undefined && d !== null) argNodes.push(d);
      }
    }
    argNodes.sort((a, b) => a.startIndex - b.startIndex);
    // Commands inside the words run first, wherever they are.
    for (const n of [...(nameNode ? [nameNode] : []), ...argNodes, ...redirects]) this.visit(n, PLAIN);
    for (const a of assigns) this.visitChildren(a, PLAIN);
    for (const a of assigns) this.assignment(a, part);
    const stdin = this.redirects(redirects, part) ?? ctx.stdin;
    if (nameNode === undefined) {
      part.kind = 'assignment';
      part.raise('read');
      return;
    }
    const nameWord = nameNode.type === 'command_name' ? (nameNode.namedChild(0) ?? nameNode) : nameNode;
    const argv = this.words([nameWord, ...argNodes]);
    this.exec(argv, part, { piped: ctx.piped, stdin }, 0, node.startIndex);
  }

  /**
   * The words of a command. tree-sitter-bash splits a word at a backtick substitution that
   * has text on both sides (`/proc/`pidof x`/environ` becomes `/proc/` and `` `pidof x`/environ ``);
   * bash keeps one word wherever no blank separates the pieces, so adjacent nodes are joined.
   */
  private words(nodes: readonly Node[]): Word[] {
    const out: Word[] = [];
    let end = -1;
    for (const n of nodes) {
      const w = this.word(n);
      const prev = out[out.length - 1];
      if (prev !== undefined && n.startIndex === end) {
        out[out.length - 1] = {
          value: prev.value === null || w.value === null ? null : prev.value + w.value,
          raw: prev.raw + w.raw,
          pattern: prev.pattern || w.pattern,
        };
      } else {
        out.push(w);
      }
      end = n.endIndex;
    }
    return out;
  }

  /** Classify one simple command given as words; wrappers call back into this. */
  private exec(argv: readonly Word[], part: PartBuilder, ctx: Ctx, level: number, position: number): void {
    const name = argv[0];
    if (level > MAX_WRAPPERS) {
      part.unknown('too many wrapper programs');
      return;
    }
    if (name === undefined) {
      part.unknown('empty command');
      return;
    }
    if (name.value === null || name.pattern) {
      part.kind = name.raw;
      part.unknown('the program name is only known at run time').flag('dynamic_command');
      return;
    }
    let prog = name.value;
    if (prog.includes('/')) {
      const norm = posix.normalize(prog);
      if (SYSTEM_DIRS.has(posix.dirname(norm))) {
        prog = posix.basename(norm);
      } else {
        part.kind = prog;
        part.program(prog);
        part.unknown(`${prog} is a program outside the system directories`).flag('local_program');
        return;
      }
    }
    part.kind = prog;
    if (prog === '') {
      part.unknown('empty program name');
      return;
    }
    const caller = this.defining[this.defining.length - 1];
    if (caller !== undefined) this.calls.get(caller)?.add(prog);
    // A shell function defined earlier in the same input: its body has been analysed already.
    const fn = this.functions.get(prog);
    if (level === 0 && fn !== undefined && fn <= position) {
      part.raise('read').flag('function_call');
      return;
    }
    if (NAME_BUILTINS.has(prog)) this.taint.arithmetic = true;
    const call: Call = {
      name: prog,
      args: argv.slice(1),
      part,
      stdinPiped: ctx.piped,
      stdin: ctx.stdin,
      run: (inner, options?: RunOptions) => {
        const target = options?.separate === true ? this.newPart('?') : part;
        if (options?.floor !== undefined) target.raise(options.floor);
        if (options?.flags !== undefined) target.flag(...options.flags);
        if (options?.separate === true) for (const h of part.hostList) target.host(h);
        this.exec(inner, target, options?.separate === true ? PLAIN : ctx, level + 1, position);
      },
      code: (text, options?: CodeOptions) => this.code(text, part, options),
    };
    const wrapper = this.analyser.wrappers.get(prog);
    if (wrapper !== undefined) {
      unwrap(call, wrapper);
      return;
    }
    part.program(prog);
    const handler = this.analyser.programs.get(prog);
    if (handler === undefined) {
      part.unknown(`${prog} is not in the program table`);
      return;
    }
    handler(call);
  }

  /** Analyse a string that a shell will run, as if it stood here, inheriting what wraps it. */
  private code(text: Word | undefined, part: PartBuilder, options: CodeOptions = {}): void {
    if (text === undefined || text.value === null) {
      part.unknown('shell code that is only known at run time').flag('dynamic_command');
      return;
    }
    if (this.nesting + 1 > MAX_SHELL_NESTING) {
      part.unknown('shell code nested too deeply');
      return;
    }
    // Code runs under whatever wraps the command (sudo, ssh, env X=...), unless it is run
    // separately (ssh's ProxyCommand runs locally, an alias body wherever it is used).
    const outer = options.separate === true ? { floor: undefined, flags: [], hosts: [] } : { floor: part.current(), flags: part.flagList, hosts: part.hostList };
    const frame: Frame = {
      floor: riskier(riskier(this.frame.floor, outer.floor), options.floor),
      flags: [...new Set([...this.frame.flags, ...outer.flags, ...(options.flags ?? [])])],
      hosts: [...new Set([...this.frame.hosts, ...outer.hosts, ...(options.hosts ?? [])])],
    };
    const sub = new Walk(this.analyser, this.nesting + 1, frame, this.taint);
    const parts = sub.run(text.value);
    if (parts === undefined) {
      const bad = new PartBuilder('?');
      if (frame.floor !== undefined) bad.raise(frame.floor);
      this.items.push(bad.flag(...frame.flags).unknown('shell code with a syntax error').build());
      return;
    }
    this.items.push(...parts);
  }
}

export class ShellAnalyser implements Analyser {
  readonly language = LANGUAGE;
  readonly programs: CompiledPrograms;
  readonly wrappers: ReturnType<typeof compileWrappers>;
  private readonly maxInput: number;

  /** Use createShellAnalyser(): the parser must be initialised first. */
  constructor(
    private readonly parser: Parser,
    options: ShellAnalyserOptions = {},
  ) {
    this.programs = compilePrograms(options.programs);
    this.wrappers = compileWrappers(options.wrappers);
    this.maxInput = options.maxInputLength ?? MAX_SHELL_INPUT;
  }

  analyse(command: string, _session?: AnalysisSession): Intent {
    return this.analyseCacheable(command).intent;
  }

  /** Shell analysis depends only on the text, so every result may be cached. */
  analyseCacheable(command: string, _session?: AnalysisSession): { intent: Intent; cacheable: boolean } {
    try {
      return { intent: this.run(command), cacheable: true };
    } catch (e) {
      const reason = e instanceof TooDeep ? 'command nested too deeply to analyse' : `analysis failed: ${e instanceof Error ? e.message : String(e)}`;
      return { intent: unknownIntent(LANGUAGE, reason), cacheable: false };
    }
  }

  /** @internal Parse text (after joining line continuations); `source` is what was parsed. */
  parse(text: string): { tree: Tree; source: string } | null {
    const source = joinContinuations(text);
    const tree = this.parser.parse(source);
    return tree === null ? null : { tree, source };
  }

  private run(command: string): Intent {
    if (typeof command !== 'string') return unknownIntent(LANGUAGE, 'command is not a string');
    if (command.length > this.maxInput) {
      return unknownIntent(LANGUAGE, `input of ${command.length} characters is over the ${this.maxInput} limit for analysis`);
    }
    if (command.includes('\u0000')) return unknownIntent(LANGUAGE, 'input contains a NUL character');
    if (SPLITS_DIFFERENTLY.test(command)) {
      return unknownIntent(LANGUAGE, 'input contains a carriage return, vertical tab or form feed, which bash and the parser split differently');
    }
    const parts = new Walk(this, 0, TOP).run(command);
    if (parts === undefined) return unknownIntent(LANGUAGE, 'syntax error');
    if (parts.length === 0) return combineParts(LANGUAGE, [new PartBuilder('EMPTY', 'read').build()]);
    return combineParts(LANGUAGE, parts, parts.length > 1 ? ['multi_statement'] : []);
  }
}

let ready: Promise<Language> | undefined;

async function loadBash(): Promise<Language> {
  await Parser.init();
  const wasm = createRequire(import.meta.url).resolve('tree-sitter-bash/tree-sitter-bash.wasm');
  return Language.load(wasm);
}

/** Load tree-sitter and the bash grammar (once per process) and return an analyser. */
export async function createShellAnalyser(options: ShellAnalyserOptions = {}): Promise<ShellAnalyser> {
  ready ??= loadBash();
  const language = await ready;
  const parser = new Parser();
  parser.setLanguage(language);
  return new ShellAnalyser(parser, options);
}
