// The MySQL grammar: sqlparser-rs compiled to WASM (@guanmingchiu/sqlparser-ts), kept behind
// this small interface so it can be replaced.
//
// Two properties of that parser shape this module (both measured on 0.62.0):
// - A parse tree deeper than about 700 levels (a chain of 700 ORs) overflows the WASM stack.
//   The trap leaves the instance broken for good: every later parse fails. So each instance
//   is disposable: after a trap we switch to a spare instance, loaded ahead of time.
// - Some nestings backtrack exponentially (30 nested CAST(...) near the recursion limit,
//   20 chained INTERVALs take seconds). Statements that could go deep are parsed under a
//   time limit (node:vm interrupts WASM too), and a timed-out instance is replaced as well.
// The caller measures statements first (see complexity() in mysql-lexer.ts) and says which
// need the time limit; the limit costs a thread per call, so ordinary statements go without.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import vm from 'node:vm';

// The WebAssembly global is not in this project's type libraries; only what is used here.
interface WasmModule {
  readonly __brand?: 'WebAssembly.Module';
}
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
const WebAssemblyApi = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<WasmModule> } }).WebAssembly;

interface Glue {
  initSync(module: { module: WasmModule }): { memory?: WasmMemory };
  parse_sql_with_comments(dialect: string, sql: string): unknown;
}

export type GrammarResult =
  | { ok: true; statements: unknown[]; comments: unknown[] }
  | { ok: false; error: string; /** true when the statement broke or outran the parser, not a syntax error */ fault: boolean };

/** An instance is retired once its memory grows past this (WASM memory never shrinks). */
const MAX_INSTANCE_MEMORY = 512 * 1024 * 1024;

interface Compiled {
  module: WasmModule;
  /** Evaluates a private copy of the glue code, or undefined when its shape is unexpected. */
  makeGlue: (() => Glue) | undefined;
  glueUrl: string;
}

let compiled: Promise<Compiled> | undefined;
let generation = 0;

function locate(): { glueUrl: URL; wasmUrl: URL } {
  // The package's main entry is dist/index.cjs; the WASM build sits in ../wasm/.
  const main = createRequire(import.meta.url).resolve('@guanmingchiu/sqlparser-ts');
  const base = new URL('../wasm/', pathToFileURL(main));
  return { glueUrl: new URL('sqlparser_rs_wasm.js', base), wasmUrl: new URL('sqlparser_rs_wasm_bg.wasm', base) };
}

/**
 * The wasm-bindgen glue keeps its instance in module scope, and an ES module is never
 * unloaded, so a retired instance (and its memory) would live forever. Evaluating the glue's
 * source in a function scope instead makes each copy collectable. The source is a plain
 * module whose only module syntax is `export`; if that ever changes, fall back to importing
 * it under a distinct URL.
 */
function glueFactory(source: string): (() => Glue) | undefined {
  const body = source
    .replace(/^export function /gm, 'function ')
    .replace(/^export \{[^}]*\};?\s*$/gm, '')
    .replace(/import\.meta\.url/g, "'file:///'");
  if (/^\s*(export|import)\b/m.test(body) || /\bimport\s*\(/.test(body)) return undefined;
  try {
    const make = new Function(`"use strict";\n${body}\nreturn { initSync, parse_sql_with_comments };`) as () => Glue;
    const probe = make();
    return typeof probe.initSync === 'function' && typeof probe.parse_sql_with_comments === 'function' ? make : undefined;
  } catch {
    return undefined;
  }
}

async function compile(): Promise<Compiled> {
  const { glueUrl, wasmUrl } = locate();
  const [bytes, source] = await Promise.all([readFile(wasmUrl), readFile(glueUrl, 'utf8')]);
  const module = await WebAssemblyApi.compile(bytes);
  return { module, makeGlue: glueFactory(source), glueUrl: glueUrl.href };
}

interface Instance {
  glue: Glue;
  memory: WasmMemory | undefined;
}

async function instantiate(): Promise<Instance> {
  compiled ??= compile();
  const { module, makeGlue, glueUrl } = await compiled;
  const glue = makeGlue !== undefined ? makeGlue() : ((await import(`${glueUrl}?instance=${++generation}`)) as Glue);
  const exports = glue.initSync({ module });
  return { glue, memory: exports.memory };
}

export class MysqlGrammar {
  private current: Instance | undefined;
  private spare: Instance | undefined;
  private loading: Promise<void> | undefined;
  private failures = 0;
  private readonly context: vm.Context;
  private readonly script = new vm.Script('result = glue.parse_sql_with_comments("mysql", sql)');
  /** Instances replaced so far (after a trap, a timeout or memory growth). */
  replaced = 0;

  private constructor() {
    this.context = vm.createContext({ glue: undefined, sql: '', result: undefined });
  }

  static async load(): Promise<MysqlGrammar> {
    const g = new MysqlGrammar();
    const [a, b] = await Promise.all([instantiate(), instantiate()]);
    g.current = a;
    g.spare = b;
    return g;
  }

  /** Wait until a spare instance is ready (tests use this after provoking a failure). */
  async ready(): Promise<void> {
    if (this.loading !== undefined) await this.loading;
  }

  /**
   * Parse one statement's text. With `timeoutMs`, the parse is interrupted after that long.
   * Never throws.
   */
  parse(sql: string, timeoutMs?: number): GrammarResult {
    const inst = this.current;
    if (inst === undefined) return { ok: false, error: 'the MySQL parser is restarting', fault: true };
    let raw: unknown;
    try {
      if (timeoutMs === undefined) {
        raw = inst.glue.parse_sql_with_comments('mysql', sql);
      } else {
        this.context.glue = inst.glue;
        this.context.sql = sql;
        this.context.result = undefined;
        try {
          this.script.runInContext(this.context, { timeout: timeoutMs });
          raw = this.context.result;
        } finally {
          this.context.glue = undefined;
          this.context.sql = '';
          this.context.result = undefined;
        }
      }
    } catch (e) {
      // A syntax error is a plain object with a message; anything else (a trap, a stack
      // overflow, a timeout) may have left the instance in a broken state.
      const timedOut = (e as { code?: unknown } | null)?.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT';
      if (!timedOut && e !== null && typeof e === 'object' && Object.getPrototypeOf(e) === Object.prototype && typeof (e as { message?: unknown }).message === 'string') {
        return { ok: false, error: (e as { message: string }).message, fault: false };
      }
      this.retire();
      return { ok: false, error: timedOut ? 'the statement took too long to parse' : `the parser failed: ${e instanceof Error ? e.message : String(e)}`, fault: true };
    }
    if ((inst.memory?.buffer.byteLength ?? 0) > MAX_INSTANCE_MEMORY) this.retire();
    const r = raw as { statements?: unknown; comments?: unknown } | null;
    if (r === null || typeof r !== 'object' || !Array.isArray(r.statements) || !Array.isArray(r.comments)) {
      return { ok: false, error: 'the parser returned an unexpected result', fault: true };
    }
    return { ok: true, statements: r.statements, comments: r.comments };
  }

  /** Drop the current instance, switch to the spare and start loading the next spare. */
  private retire(): void {
    this.replaced++;
    this.current = this.spare;
    this.spare = undefined;
    this.refill();
  }

  private refill(): void {
    if (this.loading !== undefined || (this.current !== undefined && this.spare !== undefined)) return;
    this.loading = instantiate()
      .then(
        (inst) => {
          this.failures = 0;
          if (this.current === undefined) this.current = inst;
          else this.spare = inst;
        },
        () => {
          // Leave the slot empty: parse() answers "restarting" until a retry succeeds.
          this.failures++;
        },
      )
      .finally(() => {
        this.loading = undefined;
        if (this.current !== undefined && this.spare !== undefined) return;
        if (this.failures === 0) this.refill();
        else if (this.failures < 10) setTimeout(() => this.refill(), 1000 * this.failures).unref();
      });
  }
}
