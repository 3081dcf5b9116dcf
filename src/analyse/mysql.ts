// MySQL/MariaDB intent analyser.
//
// 1. The text is lexed the way the server lexes it (mysql-lexer.ts): comments, version
//    comments (`/*!50000 ... */`, `/*M! ... */`, which the server runs as code), quoting
//    under the session's sql_mode, statement boundaries. When the server build is not known,
//    the text is lexed for every build that could read it differently and the riskiest
//    reading wins.
// 2. Each statement is classified from its first words when the grammar lacks it or gives it
//    another dialect's meaning (mysql-statements.ts), otherwise parsed by sqlparser-rs in its
//    MySQL dialect (mysql-grammar.ts) and its whole tree walked here. A node type the walker
//    does not know makes the statement unknown, so a new grammar feature never passes as read.
// 3. Statements are analysed one at a time because one can change how the next is lexed
//    (SET sql_mode) or what it means (PREPARE, then EXECUTE).
import type { Intent, PartIntent } from '../gate/types.js';
import type { Analyser, AnalysisSession } from './analyser.js';
import { PartBuilder, combineParts, unknownIntent } from './intent.js';
import { ANSI_QUOTES_MODES, RESTRICTED_VARIABLES, UNSAFE_CHARSETS, UNSUPPORTED_MODES, functionEffect, type FunctionEffect } from './mysql-functions.js';
import { MysqlGrammar } from './mysql-grammar.js';
import {
  DEFAULT_SQL_MODE,
  candidateProfiles,
  complexity,
  hasVersionSyntax,
  isLexError,
  lexStatement,
  profilesForVersion,
  tokenize,
  type ServerProfile,
  type SqlMode,
} from './mysql-lexer.js';
import { beforeGrammar, type StatementContext } from './mysql-statements.js';
import { arr, isNodeKey, obj, str, type Json } from './json-tree.js';

export type { ServerProfile, SqlMode } from './mysql-lexer.js';
export type { FunctionEffect } from './mysql-functions.js';

const LANGUAGE = 'mysql';

/** Longest input (UTF-16 code units) that is analysed; longer input is `unknown` at once. */
export const MAX_MYSQL_INPUT = 1_048_576;
/** Most server builds a text is lexed for when the server is not known. */
export const MAX_MYSQL_READINGS = 64;

// Statements whose parse tree could be deep are parsed under a time limit (see
// mysql-grammar.ts); those that could be deeper than the parser survives are not parsed.
const DIRECT_DEPTH = 40;
const DIRECT_PARENS = 12;
const DIRECT_INTERVALS = 4;
const DIRECT_LENGTH = 65_536;
const MAX_TREE_DEPTH = 400;
const MAX_PARENS = 40;
const MAX_INTERVALS = 16;
/** How deep statements may nest inside statements (PREPARE text, SET STATEMENT ... FOR). */
const MAX_NESTING = 4;
/** Deepest JSON nesting the walker follows. */
const MAX_WALK_DEPTH = 4_000;

export interface MysqlAnalyserOptions {
  /**
   * The server's version string as its handshake reports it (`8.0.36`,
   * `10.11.6-MariaDB`). Without it, the text is read as every supported build would read
   * it (MySQL 5.7-9.x, MariaDB 10-12) and the riskiest reading wins.
   */
  serverVersion?: string;
  /** sql_mode of new sessions, as far as lexing goes; default: MySQL's (backslash escapes, `"` strings). */
  sqlMode?: Partial<SqlMode>;
  maxInputLength?: number;
  /** Stored functions or UDFs known to be free of side effects: `f` (unqualified calls) or `db.f`. */
  safeFunctions?: readonly string[];
  /** More functions with a known effect, by lower-case name (`my_udf`: { class: 'write', flags: [] }). */
  functionEffects?: Readonly<Record<string, FunctionEffect>>;
  /** Time limit for parsing a statement that could nest deeply (ms). */
  parseTimeoutMs?: number;
}

/**
 * Session state of a MySQL connection. The door keeps `sqlMode.backslashEscapes` current from
 * the SERVER_STATUS_NO_BACKSLASH_ESCAPES flag of OK packets; the analyser updates `sqlMode`
 * when it sees SET sql_mode, and `prepared` for PREPARE / DEALLOCATE.
 */
export interface MysqlAnalysisSession extends AnalysisSession {
  sqlMode?: SqlMode | 'unknown';
  /** The server's version string, when it differs from the analyser's option. */
  serverVersion?: string;
}

/** The lexing state between statements: a known mode, or one the analyser cannot follow. */
type ModeState = SqlMode | 'unknown' | 'unsupported';


interface Env {
  access: 'read' | 'write';
  /** Names of the CTEs visible here; an unqualified reference to one is not a table. */
  ctes: ReadonlySet<string> | null;
  /** Multi-table UPDATE/DELETE: keys (`schema\0name`) of the tables written. */
  targets?: ReadonlySet<string>;
  /** Inside a table definition: option nodes are descriptive, so unknown ones are allowed. */
  ddl?: boolean;
}

const READ_ENV: Env = { access: 'read', ctes: null };

class TooDeep extends Error {}

interface Config {
  safe: ReadonlySet<string>;
  effects: ReadonlyMap<string, FunctionEffect>;
  parseTimeoutMs: number;
}

/** Result of one statement. */
interface StatementResult {
  part: PartIntent;
  /** Depends on or changes session state (or was lexed from a string): not reused. */
  volatile: boolean;
  prepare?: { name: string; part: PartIntent };
  deallocate?: string;
  mode?: ModeState;
}

/** Variant names of sqlparser's AST that only carry their children (expressions, clauses). */
const PASSIVE = new Set([
  // Expressions.
  'Identifier', 'CompoundIdentifier', 'Value', 'BinaryOp', 'UnaryOp', 'Nested', 'IsNull', 'IsNotNull', 'IsTrue',
  'IsNotTrue', 'IsFalse', 'IsNotFalse', 'IsUnknown', 'IsNotUnknown', 'IsDistinctFrom', 'IsNotDistinctFrom', 'InList',
  'InSubquery', 'Between', 'Like', 'ILike', 'SimilarTo', 'RLike', 'Cast', 'Convert', 'Extract', 'Ceil', 'Floor',
  'Position', 'Substring', 'Trim', 'Overlay', 'Collate', 'TypedString', 'Case', 'Exists', 'Subquery', 'Tuple',
  'Interval', 'MatchAgainst', 'MemberOf', 'AnyOp', 'AllOp', 'Prefixed', 'IntroducedString', 'Wildcard',
  'QualifiedWildcard', 'Named', 'Array', 'JsonAccess', 'CompoundFieldAccess', 'Dot', 'Bracket', 'Index',
  // Literal values.
  'Number', 'SingleQuotedString', 'DoubleQuotedString', 'NationalStringLiteral', 'HexStringLiteral',
  'SingleQuotedByteStringLiteral', 'DoubleQuotedByteStringLiteral', 'Boolean', 'Null', 'Placeholder',
  'EscapedStringLiteral', 'SingleQuotedRawStringLiteral', 'DoubleQuotedRawStringLiteral',
  // Select items, function arguments and clauses.
  'UnnamedExpr', 'ExprWithAlias', 'Unnamed', 'Expr', 'ExprNamed', 'List', 'Separator', 'OrderBy', 'Limit',
  'OnOverflow', 'Having', 'DateTimeField', 'Expressions', 'All', 'Distinct', 'On', 'Using', 'Natural', 'Join', 'Inner',
  'Left', 'LeftOuter', 'Right', 'RightOuter', 'FullOuter', 'CrossJoin', 'StraightJoin', 'Semi', 'LeftSemi',
  'RightSemi', 'Anti', 'LeftAnti', 'RightAnti', 'Derived', 'NestedJoin', 'JsonTable', 'LimitOffset', 'OffsetCommaLimit',
  'WindowSpec', 'NamedWindow', 'Rows', 'Range', 'Groups', 'Preceding', 'Following', 'CurrentRow', 'Asc', 'Desc',
  'Values', 'SetOperation', 'Query', 'Select', 'WithFromKeyword', 'WithoutKeyword', 'ColumnName', 'Plain',
  'NamedWindowExpression', 'WindowName', 'IdentWithAlias', 'ForValues', 'Numeric', 'Columns', 'Tables',
  'ColumnDef', 'Default', 'NestedColumns', 'ForOrdinality', 'Error', 'Empty',
]);

/** DROP of these object types names relations, which are reported as written tables. */
const DROP_RELATIONS = new Set(['Table', 'View', 'Index', 'Sequence', 'MaterializedView']);





/** The parts of an ObjectName (`[{Identifier: {value}}]` or plain idents), or undefined. */
function nameParts(v: unknown): string[] | undefined {
  const out: string[] = [];
  for (const p of arr(v)) {
    const o = obj(p);
    const id = obj(o?.Identifier) ?? (typeof o?.value === 'string' ? o : undefined);
    const s = str(id?.value);
    if (s === undefined) return undefined;
    out.push(s);
  }
  return out.length > 0 ? out : undefined;
}

function identValue(v: unknown): string | undefined {
  return str(obj(v)?.value);
}

function tableKey(schema: string | undefined, name: string): string {
  return `${schema ?? ''}\u0000${name}`;
}

/** The text of a literal string expression, or undefined. */
function literalString(expr: unknown): string | undefined {
  const v = obj(obj(obj(expr)?.Value)?.value);
  if (v === undefined) return undefined;
  return str(v.SingleQuotedString) ?? str(v.DoubleQuotedString) ?? str(v.NationalStringLiteral);
}

/** The value of a literal (string, number, boolean) or a bare word such as ON/OFF/DEFAULT. */
function literalWord(expr: unknown): string | undefined {
  const s = literalString(expr);
  if (s !== undefined) return s;
  const v = obj(obj(obj(expr)?.Value)?.value);
  const num = arr(v?.Number)[0];
  if (typeof num === 'string') return num;
  if (typeof v?.Boolean === 'boolean') return v.Boolean ? '1' : '0';
  return str(obj(obj(expr)?.Identifier)?.value);
}

/** Walks one statement's tree and accumulates its part. */
class Walker {
  readonly part: PartBuilder;
  volatile = false;
  deallocate: string | undefined;
  mode: ModeState | undefined;
  private depth = 0;

  constructor(
    private readonly config: Config,
    private readonly prepared: ReadonlyMap<string, PartIntent>,
    private readonly defaultMode: SqlMode,
    kind: string,
  ) {
    this.part = new PartBuilder(kind);
  }

  visit(v: unknown, env: Env): void {
    if (v === null || typeof v !== 'object') return;
    if (++this.depth > MAX_WALK_DEPTH) throw new TooDeep();
    if (Array.isArray(v)) {
      for (const x of v) this.visit(x, env);
    } else {
      this.object(v as Json, env);
    }
    this.depth--;
  }

  private object(o: Json, env: Env, skip?: ReadonlySet<string>): void {
    // A query: SELECT/UNION/VALUES with its WITH, ORDER BY, LIMIT and locking clauses.
    if ('body' in o && 'locks' in o && skip === undefined) return this.query(o, env);
    for (const key in o) {
      if (skip?.has(key) === true || IGNORED_FIELDS.has(key) || key.endsWith('_token')) continue;
      const child = o[key];
      if (isNodeKey(key)) this.node(key, child, env);
      else if (child !== null && typeof child === 'object') this.visit(child, env);
    }
  }

  /** Visit the fields of a node body, leaving out the named ones. */
  private fields(b: unknown, env: Env, skip?: ReadonlySet<string>): void {
    const o = obj(b);
    if (o === undefined) return this.visit(b, env);
    if (++this.depth > MAX_WALK_DEPTH) throw new TooDeep();
    this.object(o, env, skip ?? NO_SKIP);
    this.depth--;
  }

  /** A top-level statement: `{Variant: body}` or a bare variant name. */
  statement(stmt: unknown): void {
    if (typeof stmt === 'string') return this.unitStatement(stmt);
    const o = obj(stmt);
    const type = o === undefined ? undefined : Object.keys(o)[0];
    if (o === undefined || type === undefined) {
      this.part.unknown('statement missing from the parse tree');
      return;
    }
    this.part.kind = kindOf(type, obj(o[type]) ?? {});
    this.node(type, o[type], READ_ENV, true);
  }

  private unitStatement(type: string): void {
    switch (type) {
      case 'UnlockTables':
        this.part.kind = 'UNLOCK TABLES';
        this.part.raise('session');
        return;
      default:
        this.part.kind = type.toUpperCase();
        this.part.unknown(`unsupported statement: ${type}`);
    }
  }

  /** Dispatch on a variant `{Type: body}`. */
  node(type: string, body: unknown, env: Env, top = false): void {
    const b = obj(body) ?? {};
    switch (type) {
      // ---- queries and DML
      case 'Query':
        if (top) this.part.raise('read');
        return this.visit(body, env);
      case 'Select': return this.select(b, env);
      case 'Insert': return this.insert(unwrap(b, 'Insert'), env);
      case 'Update': return this.update(unwrap(b, 'Update'), env);
      case 'Delete': return this.delete(unwrap(b, 'Delete'), env);
      case 'Table': return this.tableFactor(b, env);
      case 'Function': return this.call(b, env);
      case 'BinaryOp':
        // `@v := expr` assigns a user variable.
        if (b.op === 'Assignment') this.part.raise('session');
        return this.fields(b, env);
      // ---- DDL
      case 'CreateTable': {
        this.part.raise('schema');
        const n = nameParts(b.name);
        if (n !== undefined) this.tableName(n, 'write');
        else this.part.unknown('CREATE TABLE with an unexpected name');
        if (obj(b.query) !== undefined) this.part.raise('write');
        const like = obj(b.like);
        const likeName = nameParts(obj(like?.Plain ?? like?.Parenthesized)?.name);
        if (likeName !== undefined) this.tableName(likeName, 'read');
        else if (like !== undefined) this.part.unknown('CREATE TABLE LIKE of an unexpected form');
        if (b.query !== undefined && b.query !== null) this.visit(b.query, READ_ENV);
        return this.fields(b, { ...READ_ENV, ddl: true }, SKIP_CREATE_TABLE);
      }
      case 'AlterTable': {
        this.part.raise('schema');
        const n = nameParts(b.name);
        if (n !== undefined) this.tableName(n, 'write');
        else this.part.unknown('ALTER TABLE with an unexpected name');
        for (const op of arr(b.operations)) {
          const rename = obj(obj(op)?.RenameTable);
          const tn = obj(rename?.table_name);
          const to = nameParts(tn?.To ?? tn?.As);
          if (to !== undefined) this.tableName(to, 'write');
        }
        return this.fields(b, { ...READ_ENV, ddl: true }, SKIP_NAME);
      }
      case 'CreateIndex': {
        this.part.raise('schema');
        const n = nameParts(b.table_name);
        if (n !== undefined) this.tableName(n, 'write');
        return this.fields(b, { ...READ_ENV, ddl: true }, SKIP_INDEX);
      }
      case 'CreateView': {
        this.part.raise('schema').flag('security_definer');
        const n = nameParts(b.name);
        if (n !== undefined) this.tableName(n, 'write');
        return this.visit(b.query, READ_ENV);
      }
      case 'Drop': return this.drop(b);
      case 'Truncate': {
        this.part.raise('write').flag('no_where', 'truncate');
        for (const t of arr(b.table_names)) {
          const n = nameParts(obj(t)?.name);
          if (n !== undefined) this.tableName(n, 'write');
          else this.part.unknown('TRUNCATE of an unexpected name');
        }
        return;
      }
      case 'RenameTable': {
        this.part.raise('schema');
        for (const r of arr(body)) {
          for (const k of ['old_name', 'new_name']) {
            const n = nameParts(obj(r)?.[k]);
            if (n !== undefined) this.tableName(n, 'write');
            else this.part.unknown('RENAME TABLE of an unexpected name');
          }
        }
        return;
      }
      case 'CreateDatabase':
      case 'CreateSchema':
        this.part.raise('admin');
        return;
      case 'CreateSequence':
      case 'CreateTrigger':
      case 'DropTrigger':
      case 'CreateFunction':
      case 'CreateProcedure':
      case 'DropFunction':
      case 'DropProcedure':
      case 'Comment':
        // Bodies run later, when called or fired.
        this.part.raise('schema');
        return;
      // ---- privileges, session, transactions, server
      case 'Grant':
      case 'Revoke': {
        this.part.raise('privilege');
        for (const t of arr(obj(b.objects)?.Tables)) {
          const n = nameParts(t);
          if (n !== undefined && n[n.length - 1] !== '*') this.tableName(n, 'write');
        }
        return;
      }
      case 'CreateRole':
      case 'CreateUser':
      case 'AlterUser':
      case 'AlterRole':
        this.part.raise('privilege');
        return;
      case 'Set': return this.set(b);
      case 'Use':
        this.part.raise('session');
        return;
      case 'StartTransaction':
      case 'Commit':
      case 'Rollback':
      case 'Savepoint':
      case 'ReleaseSavepoint':
        this.part.raise('transaction');
        if (JSON.stringify(b.modes ?? null).includes('ReadWrite')) this.part.flag('read_write');
        return;
      case 'LockTables': {
        this.part.raise('write').flag('table_lock');
        for (const t of arr(b.tables)) {
          const name = identValue(obj(t)?.table);
          const lock = obj(obj(t)?.lock_type);
          if (name === undefined) this.part.unknown('LOCK TABLES of an unexpected name');
          else this.part.table(name, undefined, lock !== undefined && 'Read' in lock ? 'read' : 'write');
        }
        return;
      }
      case 'Flush':
      case 'Kill':
      case 'Analyze':
        this.part.raise('admin');
        return;
      case 'Call': {
        this.part.raise('execute');
        const n = nameParts(b.name);
        if (n !== undefined) this.part.fn(n.join('.').toLowerCase());
        return this.fields(b, env, SKIP_NAME);
      }
      case 'Execute': return this.execute(b, env);
      case 'Deallocate': {
        this.volatile = true;
        this.part.raise('session');
        const name = identValue(b.name);
        if (name !== undefined) this.deallocate = name.toLowerCase();
        return;
      }
      case 'Explain': return this.explain(b);
      case 'ExplainTable': {
        this.part.raise('read');
        const n = nameParts(b.table_name);
        if (n !== undefined) this.tableName(n, 'read');
        return;
      }
      default:
        if (top && type.startsWith('Show')) {
          this.part.raise('read');
          return;
        }
        if (PASSIVE.has(type)) return this.fields(body, env);
        // Table definitions are full of descriptive option nodes; code in them is still
        // found through Function and subquery nodes.
        if (env.ddl === true) return this.fields(body, env);
        this.part.unknown(`unsupported syntax: ${type}`);
    }
  }

  private query(o: Json, env: Env): void {
    const ctes = this.withClause(o.with, env);
    const inner: Env = { access: 'read', ctes };
    const locks = arr(o.locks);
    if (locks.length > 0) {
      // FOR UPDATE / FOR SHARE lock rows (and need UPDATE privilege for FOR UPDATE).
      this.part.raise('write').flag('row_lock');
    }
    this.part.raise('read');
    this.fields(o, inner, SKIP_QUERY);
  }

  /** CTEs; returns the names visible to the statement body. */
  private withClause(w: unknown, env: Env): ReadonlySet<string> | null {
    const wc = obj(w);
    if (wc === undefined) return env.ctes;
    const visible = new Set(env.ctes ?? []);
    const ctes = arr(wc.cte_tables).map(obj);
    // In WITH RECURSIVE every CTE sees every name; otherwise a CTE sees only earlier ones,
    // so `WITH t AS (SELECT * FROM t)` reads the real table t.
    const nameOf = (c: Json | undefined): string | undefined => identValue(obj(c?.alias)?.name);
    if (wc.recursive === true) for (const c of ctes) { const n = nameOf(c); if (n !== undefined) visible.add(n.toLowerCase()); }
    for (const c of ctes) {
      if (c === undefined) {
        this.part.unknown('unsupported syntax in WITH');
        continue;
      }
      const body = obj(obj(c.query)?.body);
      if (body !== undefined && ['Insert', 'Update', 'Delete', 'Merge'].some((k) => k in body)) this.part.flag('data_modifying_cte');
      this.visit(c.query, { access: 'read', ctes: new Set(visible) });
      const n = nameOf(c);
      if (n !== undefined) visible.add(n.toLowerCase());
    }
    return visible;
  }

  private select(b: Json, env: Env): void {
    this.part.raise('read');
    const into = obj(b.into);
    if (into !== undefined) {
      const n = nameParts(into.name);
      if (n !== undefined && n.every((x) => x.startsWith('@') && !x.startsWith('@@'))) {
        // SELECT ... INTO @var sets user variables.
        this.part.raise('session');
      } else {
        this.part.unknown('SELECT INTO a target that is not a user variable');
      }
    }
    this.fields(b, env, SKIP_INTO);
  }

  private tableFactor(b: Json, env: Env): void {
    if (b.args !== undefined && b.args !== null) {
      this.part.unknown('table-valued function');
      return this.fields(b, env);
    }
    const n = nameParts(b.name);
    if (n === undefined) {
      // SetExpr::Table (`TABLE t`) or something else named differently.
      const tn = str(b.table_name);
      if (tn !== undefined) {
        this.part.table(tn, str(b.schema_name), env.access);
        return;
      }
      this.part.unknown('table reference of an unexpected form');
      return this.fields(b, env);
    }
    if (n.length === 1 && env.ctes?.has((n[0] as string).toLowerCase()) === true) return this.fields(b, env, SKIP_NAME);
    const [schema, name] = splitName(n);
    if (name === undefined) this.part.unknown('table name with too many parts');
    else {
      const access = env.targets !== undefined ? (env.targets.has(tableKey(schema, name)) ? 'write' : 'read') : env.access;
      this.part.table(name, schema, access);
    }
    this.fields(b, { ...env, targets: undefined }, SKIP_NAME);
  }

  private tableName(n: string[], access: 'read' | 'write'): void {
    const [schema, name] = splitName(n);
    if (name === undefined) this.part.unknown('object name with too many parts');
    else this.part.table(name, schema, access);
  }

  private insert(b: Json, env: Env): void {
    this.part.raise('write');
    const t = obj(b.table);
    const n = nameParts(t?.TableName);
    if (n !== undefined) this.tableName(n, 'write');
    else this.part.unknown('INSERT into something that is not a table');
    if (b.replace_into === true) this.part.flag('replace');
    const on = obj(b.on);
    if (on !== undefined) {
      if ('DuplicateKeyUpdate' in on) this.part.flag('upsert');
      else this.part.unknown('INSERT with an unexpected ON clause');
    }
    this.fields(b, { access: 'read', ctes: env.ctes }, SKIP_INSERT);
  }

  /** Table factors of FROM lists: each `Table` with its alias. */
  private refs(list: unknown): Array<{ schema: string | undefined; name: string; alias: string | undefined }> {
    const out: Array<{ schema: string | undefined; name: string; alias: string | undefined }> = [];
    const factor = (f: unknown): void => {
      const o = obj(f);
      const t = obj(o?.Table);
      if (t !== undefined) {
        const n = nameParts(t.name);
        if (n === undefined) return;
        const [schema, name] = splitName(n);
        if (name !== undefined) out.push({ schema, name, alias: identValue(obj(t.alias)?.name) });
        return;
      }
      const nested = obj(o?.NestedJoin);
      if (nested !== undefined) twj(nested.table_with_joins);
    };
    const twj = (x: unknown): void => {
      for (const item of Array.isArray(x) ? x : [x]) {
        const o = obj(item);
        if (o === undefined) continue;
        factor(o.relation);
        for (const j of arr(o.joins)) factor(obj(j)?.relation);
      }
    };
    twj(list);
    return out;
  }

  /** Resolve a target written as `alias`, `table` or `db.table` against the FROM list. */
  private resolve(parts: string[], refs: ReturnType<Walker['refs']>): Array<{ schema: string | undefined; name: string }> {
    const p = parts[parts.length - 1] === '*' ? parts.slice(0, -1) : parts;
    if (p.length === 1) {
      const x = (p[0] as string).toLowerCase();
      const byAlias = refs.filter((r) => r.alias?.toLowerCase() === x);
      if (byAlias.length > 0) return byAlias;
      const byName = refs.filter((r) => r.alias === undefined && r.name.toLowerCase() === x);
      if (byName.length > 0) return byName;
      return [{ schema: undefined, name: p[0] as string }];
    }
    const [schema, name] = splitName(p);
    return name === undefined ? [] : [{ schema, name }];
  }

  private update(b: Json, env: Env): void {
    this.part.raise('write');
    const from = obj(b.from);
    const refs = this.refs([b.table, ...arr(from?.UpdateTables ?? from?.AfterSet ?? from?.BeforeSet ?? [])]);
    const targets = new Set<string>();
    let ambiguous = false;
    for (const a of arr(b.assignments)) {
      const target = obj(obj(a)?.target);
      const col = nameParts(target?.ColumnName);
      if (col === undefined) {
        ambiguous = true;
        continue;
      }
      if (col.length === 1) {
        ambiguous = true;
        continue;
      }
      for (const r of this.resolve(col.slice(0, -1), refs)) targets.add(tableKey(r.schema, r.name));
    }
    if (ambiguous || targets.size === 0) {
      // A column written without its table: any table of the statement may own it.
      for (const r of refs) targets.add(tableKey(r.schema, r.name));
    }
    if (b.selection === undefined || b.selection === null) this.part.flag('no_where');
    this.visit(b.table, { access: 'read', ctes: env.ctes, targets });
    this.fields(b, { access: 'read', ctes: env.ctes }, SKIP_UPDATE);
    if (from !== undefined) this.visit(from, { access: 'read', ctes: env.ctes, targets });
  }

  private delete(b: Json, env: Env): void {
    this.part.raise('write');
    const fromKind = obj(b.from);
    const from = fromKind?.WithFromKeyword ?? fromKind?.WithoutKeyword;
    const using = b.using;
    const refs = this.refs([...arr(from), ...arr(using)]);
    const targets = new Set<string>();
    const named = arr(b.tables);
    if (named.length > 0) {
      // DELETE t1, t2 FROM ...: the listed tables (or aliases) are written.
      for (const t of named) {
        const n = nameParts(t);
        if (n === undefined) this.part.unknown('DELETE target of an unexpected form');
        else for (const r of this.resolve(n, refs)) targets.add(tableKey(r.schema, r.name));
      }
    } else {
      // DELETE FROM t1[, t2 USING ...]: the tables after FROM are written.
      for (const r of this.refs(arr(from))) targets.add(tableKey(r.schema, r.name));
    }
    for (const k of targets) {
      const [schema, name] = k.split('\u0000') as [string, string];
      this.part.table(name, schema === '' ? undefined : schema, 'write');
    }
    if (b.selection === undefined || b.selection === null) this.part.flag('no_where');
    const inner: Env = { access: 'read', ctes: env.ctes, targets };
    this.visit(from, inner);
    this.visit(using, inner);
    this.fields(b, { access: 'read', ctes: env.ctes }, SKIP_DELETE);
  }

  private call(b: Json, env: Env): void {
    const n = nameParts(b.name);
    if (n === undefined) {
      this.part.unknown('function call with an unexpected name');
      return this.fields(b, env, SKIP_NAME);
    }
    const display = n.join('.').toLowerCase();
    this.part.fn(display);
    const list = obj(obj(b.args)?.List);
    const args = arr(list?.args);
    if (n.length === 1) {
      const base = display;
      const effect = this.config.effects.get(base) ?? functionEffect(base, args.length);
      if (effect === null) {
        if (!this.config.safe.has(base)) this.part.unknown(`function ${base} is not known to be free of side effects`).flag('unknown_function');
      } else if (effect !== undefined) {
        this.part.raise(effect.class).flag(...effect.flags);
        if (effect.class === 'unknown') this.part.unknown(`function ${base} runs code on the server`);
        if (base === 'load_file') {
          const path = literalString(obj(obj(args[0])?.Unnamed)?.Expr);
          if (path !== undefined) this.part.path(path, 'read');
        }
      }
    } else if (!this.config.safe.has(display)) {
      // db.f() is a stored function, which can do anything.
      const effect = this.config.effects.get(display);
      if (effect !== undefined) this.part.raise(effect.class).flag(...effect.flags);
      else this.part.unknown(`stored function ${display} is not known to be free of side effects`).flag('unknown_function');
    }
    this.fields(b, env, SKIP_NAME);
  }

  private drop(b: Json): void {
    const type = str(b.object_type) ?? '';
    if (b.cascade === true) this.part.flag('cascade');
    switch (type) {
      case 'Database':
      case 'Schema':
        this.part.raise('admin');
        return;
      case 'User':
      case 'Role':
        this.part.raise('privilege');
        return;
      case 'Function':
      case 'Procedure':
      case 'Trigger':
      case 'Event':
        this.part.raise('schema');
        return;
      default:
        break;
    }
    if (!DROP_RELATIONS.has(type)) {
      this.part.unknown(`DROP of ${type || 'an unexpected object'}`);
      return;
    }
    this.part.raise('schema');
    if (type === 'Index') {
      const t = nameParts(b.table);
      if (t !== undefined) this.tableName(t, 'write');
      return;
    }
    for (const o of arr(b.names)) {
      const n = nameParts(o);
      if (n === undefined) this.part.unknown('DROP of an unexpected name');
      else this.tableName(n, 'write');
    }
  }

  private set(b: Json): void {
    const single = obj(b.SingleAssignment);
    const multiple = obj(b.MultipleAssignments);
    if (single !== undefined) {
      this.assignment(str(single.scope), nameParts(single.variable), arr(single.values));
      return;
    }
    if (multiple !== undefined) {
      // A scope keyword applies to the assignments after it until the next one.
      let scope: string | undefined;
      for (const a of arr(multiple.assignments)) {
        const o = obj(a) ?? {};
        if (typeof o.scope === 'string') scope = o.scope;
        this.assignment(scope, nameParts(o.name), [o.value]);
      }
      return;
    }
    const names = obj(b.SetNames);
    if (names !== undefined) {
      this.part.raise('session');
      const cs = identValue(names.charset_name)?.toLowerCase() ?? '';
      if (UNSAFE_CHARSETS.has(cs)) this.part.unknown(`character set ${cs} can hide quotes inside multi-byte characters`);
      return;
    }
    if ('SetNamesDefault' in b) {
      this.part.raise('session');
      return;
    }
    const tx = obj(b.SetTransaction);
    if (tx !== undefined) {
      this.part.raise('transaction');
      if (JSON.stringify(tx.modes ?? null).includes('ReadWrite')) this.part.flag('read_write');
      return;
    }
    if ('SetRole' in b) {
      this.part.raise('privilege').flag('role_change');
      return;
    }
    if ('SetTimeZone' in b) {
      this.part.raise('session');
      return this.visit(b.SetTimeZone, READ_ENV);
    }
    this.part.unknown(`unsupported SET: ${Object.keys(b)[0] ?? '?'}`);
  }

  private assignment(scope: string | undefined, parts: string[] | undefined, values: unknown[]): void {
    for (const v of values) this.visit(v, READ_ENV);
    if (parts === undefined) {
      this.part.unknown('SET of an unexpected name');
      return;
    }
    let name = parts.join('.').toLowerCase();
    let s = (scope ?? '').toLowerCase();
    if (name.startsWith('@@')) {
      const m = /^@@(global|session|local|persist|persist_only)\.(.+)$/.exec(name);
      if (m !== null) {
        s = m[1] as string;
        name = m[2] as string;
      } else {
        name = name.slice(2);
        if (s === '') s = 'session';
      }
    } else if (name.startsWith('@')) {
      // A user variable.
      this.part.raise('session');
      return;
    }
    if (s === 'global' || s === 'persist' || s === 'persist_only') {
      this.part.raise('admin');
      return;
    }
    if (RESTRICTED_VARIABLES.has(name)) {
      this.part.raise('admin');
      return;
    }
    this.part.raise('session');
    const value = values.length === 1 ? literalWord(values[0]) : undefined;
    switch (name) {
      case 'sql_mode':
        this.volatile = true;
        this.mode = modeFrom(value, values.length === 1 && obj(obj(values[0])?.Identifier) !== undefined, this.defaultMode);
        if (this.mode === 'unsupported') this.part.unknown('sql_mode that changes the grammar beyond what is analysed');
        return;
      case 'character_set_client':
      case 'character_set_connection':
        if (value === undefined || UNSAFE_CHARSETS.has(value.toLowerCase())) {
          this.part.unknown(`character set ${value ?? '(not a constant)'} can hide quotes inside multi-byte characters`);
        }
        return;
      case 'transaction_read_only':
      case 'tx_read_only':
        if (value === undefined || ['0', 'off', 'false'].includes(value.toLowerCase())) this.part.flag('read_write');
        return;
      case 'foreign_key_checks':
      case 'unique_checks':
        if (value === undefined || ['0', 'off', 'false'].includes(value.toLowerCase())) this.part.flag('checks_off');
        return;
      default:
        return;
    }
  }

  private execute(b: Json, env: Env): void {
    this.volatile = true;
    this.part.flag('dynamic_sql', 'prepared');
    this.fields(b, env, SKIP_NAME);
    const n = nameParts(b.name);
    const name = n?.length === 1 ? (n[0] as string).toLowerCase() : undefined;
    const p = name === undefined ? undefined : this.prepared.get(name);
    if (p === undefined) {
      this.part.unknown(`EXECUTE of prepared statement ${name ?? '?'} that was not seen in this session`);
      return;
    }
    this.part.absorb(p);
  }

  private explain(b: Json): void {
    if (b.analyze === true) {
      // EXPLAIN ANALYZE runs the statement.
      this.part.flag('explain_analyze');
      this.statementInside(b.statement, true);
      return;
    }
    this.part.raise('read');
    this.statementInside(b.statement, false);
  }

  /** A statement inside EXPLAIN: run (takes its class) or only planned (read, objects read). */
  private statementInside(stmt: unknown, runs: boolean): void {
    const inner = new Walker(this.config, this.prepared, this.defaultMode, 'EXPLAIN');
    inner.depth = this.depth;
    inner.statement(stmt);
    const p = inner.part.build();
    this.volatile ||= inner.volatile;
    if (runs) {
      this.part.absorb(p);
      return;
    }
    // Planning evaluates nothing with side effects, but what cannot be understood stays unknown.
    if (p.class === 'unknown') this.part.unknown(p.error ?? 'not understood');
    for (const t of p.objects.tables) this.part.table(t.name, t.schema, 'read');
    for (const f of p.objects.functions) this.part.fn(f);
  }
}

function unwrap(b: Json, key: string): Json {
  // SetExpr::Update(Statement) is serialised as {Update: {Update: {...}}}.
  const inner = obj(b[key]);
  return inner !== undefined && Object.keys(b).length === 1 ? inner : b;
}

/** `[db, name]` → [db, name]; `[name]` → [undefined, name]; longer → name undefined. */
function splitName(n: string[]): [string | undefined, string | undefined] {
  if (n.length === 1) return [undefined, n[0]];
  if (n.length === 2) return [n[0], n[1]];
  return [undefined, undefined];
}

/** The mode after SET sql_mode = value. */
function modeFrom(value: string | undefined, bareWord: boolean, defaults: SqlMode): ModeState {
  if (value === undefined) return 'unknown';
  if (bareWord && value.toUpperCase() === 'DEFAULT') return { ...defaults };
  if (bareWord) return 'unknown';
  const words = value.toUpperCase().split(',').map((w) => w.trim()).filter((w) => w !== '');
  if (words.some((w) => UNSUPPORTED_MODES.has(w))) return 'unsupported';
  return { backslashEscapes: !words.includes('NO_BACKSLASH_ESCAPES'), ansiQuotes: words.some((w) => ANSI_QUOTES_MODES.has(w)) };
}

const NO_SKIP: ReadonlySet<string> = new Set();
/** Fields that never hold code: source positions and data types (MySQL types take no expressions). */
const IGNORED_FIELDS: ReadonlySet<string> = new Set(['span', 'data_type', 'type']);
const SKIP_NAME = new Set(['name']);
const SKIP_INTO = new Set(['into']);
const SKIP_QUERY = new Set(['with', 'locks']);
const SKIP_INSERT = new Set(['table', 'on']);
const SKIP_UPDATE = new Set(['table', 'from']);
const SKIP_DELETE = new Set(['tables', 'from', 'using']);
const SKIP_CREATE_TABLE = new Set(['name', 'query', 'like']);
const SKIP_INDEX = new Set(['table_name', 'name']);

/** The label of a top-level statement, e.g. `SELECT`, `DROP TABLE`, `EXPLAIN ANALYZE`. */
function kindOf(type: string, b: Json): string {
  switch (type) {
    case 'Query': {
      const body = obj(b.body);
      if (body !== undefined) {
        if ('Update' in body) return 'UPDATE';
        if ('Delete' in body) return 'DELETE';
        if ('Insert' in body) return 'INSERT';
        if ('Values' in body) return 'VALUES';
      }
      return 'SELECT';
    }
    case 'Insert': return b.replace_into === true ? 'REPLACE' : 'INSERT';
    case 'Drop': return `DROP ${(str(b.object_type) ?? 'OBJECT').toUpperCase()}`;
    case 'Explain': return b.analyze === true ? 'EXPLAIN ANALYZE' : 'EXPLAIN';
    case 'ExplainTable': return (str(b.describe_alias) ?? 'DESCRIBE').toUpperCase();
    case 'StartTransaction': return b.begin === true ? 'BEGIN' : 'START TRANSACTION';
    case 'LockTables': return 'LOCK TABLES';
    case 'CreateTable': return 'CREATE TABLE';
    case 'AlterTable': return 'ALTER TABLE';
    default:
      if (type.startsWith('Show')) return `SHOW ${type.slice(4).replace(/([a-z])([A-Z])/g, '$1 $2').toUpperCase()}`.trim();
      return type.replace(/([a-z])([A-Z])/g, '$1 $2').toUpperCase();
  }
}

/** Per-call state shared by the readings of one input. */
class Run {
  /** Statement results by rewritten code, for results that do not depend on the session. */
  readonly memo = new Map<string, StatementResult>();
}

export class MysqlAnalyser implements Analyser {
  readonly language = LANGUAGE;
  private readonly maxInput: number;
  private readonly config: Config;
  private readonly defaultMode: SqlMode;
  private readonly profiles: ServerProfile[] | undefined;

  /** Use createMysqlAnalyser(): the WASM grammar must be loaded first. */
  constructor(
    private readonly grammar: MysqlGrammar,
    options: MysqlAnalyserOptions = {},
  ) {
    this.maxInput = options.maxInputLength ?? MAX_MYSQL_INPUT;
    this.defaultMode = { ...DEFAULT_SQL_MODE, ...options.sqlMode };
    this.profiles = options.serverVersion === undefined ? undefined : profilesForVersion(options.serverVersion);
    if (options.serverVersion !== undefined && this.profiles === undefined) {
      throw new Error(`unrecognised MySQL server version: ${options.serverVersion}`);
    }
    const safe = new Set<string>();
    for (const f of options.safeFunctions ?? []) safe.add(f.toLowerCase());
    this.config = {
      safe,
      effects: new Map(Object.entries(options.functionEffects ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
      parseTimeoutMs: options.parseTimeoutMs ?? 1_000,
    };
  }

  analyse(command: string, session?: AnalysisSession): Intent {
    return this.analyseCacheable(command, session).intent;
  }

  analyseCacheable(command: string, session?: AnalysisSession): { intent: Intent; cacheable: boolean } {
    try {
      return this.run(command, session as MysqlAnalysisSession | undefined);
    } catch (e) {
      // Never throw: anything unexpected is unknown.
      const reason = e instanceof TooDeep ? 'statement nested too deeply to analyse' : `analysis failed: ${e instanceof Error ? e.message : String(e)}`;
      return { intent: unknownIntent(LANGUAGE, reason), cacheable: false };
    }
  }

  private run(command: string, session: MysqlAnalysisSession | undefined): { intent: Intent; cacheable: boolean } {
    if (typeof command !== 'string') return { intent: unknownIntent(LANGUAGE, 'command is not a string'), cacheable: false };
    if (command.length > this.maxInput) {
      return {
        intent: unknownIntent(LANGUAGE, `input of ${command.length} characters is over the ${this.maxInput} limit for analysis`),
        cacheable: false,
      };
    }
    // COM_QUERY carries a length, so a NUL does not end the query for the server.
    if (command.includes('\u0000')) return { intent: unknownIntent(LANGUAGE, 'input contains a NUL character'), cacheable: true };

    let profiles = this.profiles;
    let profileFromSession = false;
    if (session?.serverVersion !== undefined) {
      profiles = profilesForVersion(session.serverVersion);
      profileFromSession = true;
      if (profiles === undefined) return { intent: unknownIntent(LANGUAGE, `unrecognised server version ${session.serverVersion}`), cacheable: false };
    }
    const versioned = hasVersionSyntax(command);
    if (!versioned) profiles = [(profiles ?? FALLBACK_PROFILES)[0] as ServerProfile];
    else profiles ??= candidateProfiles(command);
    if (profiles.length > MAX_MYSQL_READINGS) {
      return {
        intent: unknownIntent(LANGUAGE, `${profiles.length} possible readings of version comments; configure the server version`),
        cacheable: true,
      };
    }
    const sessionMode = session?.sqlMode;
    // Where strings end depends on NO_BACKSLASH_ESCAPES. Unless the door says which mode the
    // session is in, a text with a backslash is also read the other way; in that reading a
    // quote left open is a statement the server rejects, not an unknown one.
    let modes: ModeState[];
    if (sessionMode === 'unknown') modes = ALL_MODES;
    else if (sessionMode !== undefined) modes = [sessionMode];
    else if (command.includes('\\')) modes = [this.defaultMode, { ...this.defaultMode, backslashEscapes: !this.defaultMode.backslashEscapes }];
    else modes = [this.defaultMode];

    const run = new Run();
    const readings = new Map<string, Reading>();
    for (const profile of profiles) {
      modes.forEach((mode, k) => {
        const r = this.reading(command, profile, mode, session, run, 0, k > 0);
        if (!readings.has(r.signature)) readings.set(r.signature, r);
      });
    }
    const all = [...readings.values()];
    const volatile = all.some((r) => r.volatile);
    const modeSensitive = all.some((r) => r.modeSensitive);
    // Readings that run nothing (the server rejects the first statement) add nothing.
    const useful = all.filter((r) => r.parts.length > 0 || !r.alternative);
    const distinct = new Map<string, Reading>();
    if (useful.length === 1) distinct.set('', useful[0] as Reading);
    else for (const r of useful) distinct.set(JSON.stringify(r.parts), r);
    let parts: PartIntent[];
    const flags: string[] = [];
    if (distinct.size <= 1) {
      parts = ([...distinct.values()][0] ?? all[0] as Reading).parts;
    } else {
      // Server builds (or sql_modes) read the text differently: report every reading.
      const readingsOf = [...distinct.values()];
      if (new Set(readingsOf.map((r) => `${r.profile.flavor}${r.profile.version}${r.profile.sixDigit}${r.profile.dollarQuotes}`)).size > 1) flags.push('version_dependent');
      if (new Set(readingsOf.map((r) => JSON.stringify(r.startMode))).size > 1) flags.push('sql_mode_dependent');
      const seen = new Set<string>();
      parts = [];
      for (const r of readingsOf) {
        for (const p of r.parts) {
          const key = JSON.stringify(p);
          if (!seen.has(key)) {
            seen.add(key);
            parts.push(p);
          }
        }
      }
    }
    if (useful.some((r) => r.parts.length > 1)) flags.push('multi_statement');
    if (parts.length === 0) parts = [new PartBuilder('EMPTY', 'read').build()];
    if (session !== undefined && volatile) this.updateSession(session, useful.length > 0 ? useful : all);
    const intent = combineParts(LANGUAGE, parts, flags);
    return { intent, cacheable: !volatile && !modeSensitive && !(profileFromSession && versioned) && sessionMode !== 'unknown' };
  }

  /** Record what PREPARE, DEALLOCATE and SET sql_mode did, agreeing over all readings. */
  private updateSession(session: MysqlAnalysisSession, readings: Reading[]): void {
    const names = new Set<string>();
    for (const r of readings) for (const k of r.prepared.keys()) names.add(k);
    for (const k of session.prepared.keys()) names.add(k);
    for (const name of names) {
      const parts: PartIntent[] = [];
      for (const r of readings) {
        const p = r.prepared.get(name);
        if (p !== undefined) parts.push(...p.parts);
      }
      if (parts.length === 0) session.prepared.delete(name);
      else session.prepared.set(name, combineParts(LANGUAGE, dedupe(parts)));
    }
    const modes = readings.map((r) => r.mode).filter((m): m is ModeState => m !== undefined);
    if (modes.length > 0) {
      const first = JSON.stringify(modes[0]);
      const agreed = modes.length === readings.length && modes.every((m) => JSON.stringify(m) === first);
      const m = modes[0] as ModeState;
      session.sqlMode = agreed && m !== 'unsupported' ? m : 'unknown';
    }
  }

  /** Lex and analyse the whole input as one server build with one starting sql_mode. */
  private reading(text: string, profile: ServerProfile, startMode: ModeState, session: MysqlAnalysisSession | undefined, run: Run, nesting: number, alternative = false): Reading {
    const parts: PartIntent[] = [];
    const signature: string[] = [];
    const prepared = new Map<string, Intent>(session?.prepared ?? []);
    const preparedParts = new Map<string, PartIntent>();
    for (const [k, v] of prepared) preparedParts.set(k, mergeParts(v.parts, v.error));
    let mode = startMode;
    let modeChanged: ModeState | undefined;
    let volatile = false;
    let modeSensitive = false;
    let pos = 0;
    while (pos < text.length) {
      if (mode === 'unsupported' || mode === 'unknown') {
        // After a sql_mode the analyser cannot follow, the rest cannot be lexed reliably.
        if (text.slice(pos).trim() === '') break;
        parts.push(new PartBuilder('UNKNOWN').unknown('statements after a change of sql_mode that cannot be followed').build());
        signature.push('\u0001mode');
        break;
      }
      const st = lexStatement(text, pos, profile, mode);
      if (isLexError(st)) {
        signature.push(`\u0001${st.error}`);
        // In a reading other than the expected one, a statement the server rejects ends it.
        if (!(alternative && st.rejected === true)) parts.push(new PartBuilder('UNKNOWN').unknown(st.error).build());
        break;
      }
      pos = st.end;
      if (st.modeSensitive) modeSensitive = true;
      if (st.code.trim() === '') continue;
      signature.push(st.code);
      const r = this.statement(st.code, profile, mode, preparedParts, run, nesting);
      parts.push(r.part);
      if (r.volatile) volatile = true;
      if (r.prepare !== undefined) {
        // If the name is taken the server replaces the statement only if the new one is
        // valid; keep both so the recorded intent covers either outcome.
        const old = preparedParts.get(r.prepare.name);
        const merged = old === undefined ? r.prepare.part : mergeParts([old, r.prepare.part]);
        preparedParts.set(r.prepare.name, merged);
      }
      if (r.deallocate !== undefined) preparedParts.delete(r.deallocate);
      if (r.mode !== undefined) {
        mode = r.mode;
        modeChanged = r.mode;
      }
    }
    const finalPrepared = new Map<string, Intent>();
    for (const [k, p] of preparedParts) finalPrepared.set(k, combineParts(LANGUAGE, [p]));
    return {
      signature: signature.join('\u0000'),
      parts,
      volatile,
      modeSensitive,
      prepared: finalPrepared,
      mode: modeChanged,
      profile,
      startMode,
      alternative,
    };
  }

  /** Analyse one lexed statement. */
  private statement(code: string, profile: ServerProfile, mode: ModeState, prepared: ReadonlyMap<string, PartIntent>, run: Run, nesting: number): StatementResult {
    const hit = run.memo.get(code);
    if (hit !== undefined) return hit;
    const r = this.statementUncached(code, profile, mode, prepared, run, nesting);
    if (!r.volatile) run.memo.set(code, r);
    return r;
  }

  private statementUncached(code: string, profile: ServerProfile, mode: ModeState, prepared: ReadonlyMap<string, PartIntent>, run: Run, nesting: number): StatementResult {
    if (nesting > MAX_NESTING) return { part: new PartBuilder('UNKNOWN').unknown('statements nested too deeply').build(), volatile: false };
    const tokens = tokenize(code);
    const first = tokens[0];
    const label = first?.kind === 'word' ? first.value : 'UNKNOWN';
    const cx = complexity(tokens);
    if (cx.depth > MAX_TREE_DEPTH || cx.parens > MAX_PARENS) {
      return { part: new PartBuilder(label).unknown('statement nested too deeply to analyse').build(), volatile: false };
    }
    // Rules may hand parts of a statement to the grammar; what those parts do to the session
    // (SET sql_mode inside SET GLOBAL ..., DROP PREPARE) belongs to the statement.
    let volatile = false;
    let subMode: ModeState | undefined;
    let subDeallocate: string | undefined;
    const take = (r: StatementResult): PartIntent => {
      if (r.volatile) volatile = true;
      if (r.mode !== undefined) subMode = r.mode;
      if (r.deallocate !== undefined) subDeallocate = r.deallocate;
      return r.part;
    };
    const ctx: StatementContext = {
      statement: (c) => take(this.statement(c, profile, mode, prepared, run, nesting + 1)),
      grammar: (c) => take(this.grammarStatement(c, tokenize(c), label, prepared, nesting + 1)),
      expression: (c) => take(this.statement(`SELECT ${c}`, profile, mode, prepared, run, nesting + 1)),
      text: (sql) => {
        // SQL in a string is lexed when it runs (by the build and sql_mode of this reading),
        // and what it does to the session happens only then.
        volatile = true;
        const r = this.reading(sql, profile, mode, undefined, run, nesting + 1);
        if (r.parts.length === 0) return new PartBuilder('EMPTY').unknown('empty statement text').build();
        const b = new PartBuilder(r.parts[0]?.kind ?? 'UNKNOWN');
        for (const p of r.parts) b.absorb(p);
        if (r.parts.length > 1) b.flag('multi_statement');
        return b.build();
      },
    };
    const hand = beforeGrammar(code, tokens, ctx);
    if (hand !== undefined) {
      const r: StatementResult = { part: hand.part, volatile: volatile || hand.prepare !== undefined };
      if (hand.prepare !== undefined) r.prepare = hand.prepare;
      if (subDeallocate !== undefined) r.deallocate = subDeallocate;
      // SET STATEMENT var = x FOR ... changes var for that one statement only.
      const setStatement = label === 'SET' && tokens[1]?.kind === 'word' && tokens[1].value === 'STATEMENT';
      if (subMode !== undefined && !setStatement) r.mode = subMode;
      return r;
    }
    const r = this.grammarStatement(code, tokens, label, prepared, nesting);
    if (volatile) r.volatile = true;
    return r;
  }

  /** Parse one statement with the grammar and walk its tree. */
  private grammarStatement(code: string, tokens: ReturnType<typeof tokenize>, label: string, prepared: ReadonlyMap<string, PartIntent>, nesting: number): StatementResult {
    if (nesting > MAX_NESTING) return { part: new PartBuilder('UNKNOWN').unknown('statements nested too deeply').build(), volatile: false };
    const cx = complexity(tokens);
    if (cx.depth > MAX_TREE_DEPTH || cx.parens > MAX_PARENS || cx.intervals > MAX_INTERVALS) {
      return { part: new PartBuilder(label).unknown('statement nested too deeply to analyse').build(), volatile: false };
    }
    const protect = cx.depth > DIRECT_DEPTH || cx.parens > DIRECT_PARENS || cx.intervals > DIRECT_INTERVALS || code.length > DIRECT_LENGTH;
    const parsed = this.grammar.parse(code, protect ? this.config.parseTimeoutMs : undefined);
    if (!parsed.ok) {
      return { part: new PartBuilder(label).unknown(parsed.fault ? parsed.error : `parse error: ${parsed.error}`).build(), volatile: parsed.fault };
    }
    if (parsed.comments.length > 0) {
      return { part: new PartBuilder(label).unknown('the grammar read a comment where the server reads code').build(), volatile: false };
    }
    if (parsed.statements.length !== 1) {
      return { part: new PartBuilder(label).unknown('the grammar split the statement differently from the server').build(), volatile: false };
    }
    const w = new Walker(this.config, prepared, this.defaultMode, label);
    w.statement(parsed.statements[0]);
    const r: StatementResult = { part: w.part.build(), volatile: w.volatile };
    if (w.deallocate !== undefined) r.deallocate = w.deallocate;
    if (w.mode !== undefined) r.mode = w.mode;
    return r;
  }
}

interface Reading {
  /** The statements as lexed, to tell readings apart. */
  signature: string;
  parts: PartIntent[];
  volatile: boolean;
  modeSensitive: boolean;
  /** Prepared statements at the end of the input. */
  prepared: Map<string, Intent>;
  /** The sql_mode set by the input, if it set one. */
  mode: ModeState | undefined;
  profile: ServerProfile;
  startMode: ModeState;
  /** Not the sql_mode the session is expected to be in: only a possibility. */
  alternative: boolean;
}

/** Fold parts into one (the riskiest class, all objects and flags). */
function mergeParts(parts: readonly PartIntent[], error?: string): PartIntent {
  const b = new PartBuilder(parts[0]?.kind ?? 'UNKNOWN');
  if (parts.length === 0) b.unknown(error ?? 'not understood');
  for (const p of parts) b.absorb(p);
  return b.build();
}

function dedupe(parts: PartIntent[]): PartIntent[] {
  const seen = new Set<string>();
  return parts.filter((p) => {
    const k = JSON.stringify(p);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

const FALLBACK_PROFILES: ServerProfile[] = [{ flavor: 'mysql', version: 80036, sixDigit: true, dollarQuotes: false }];

const ALL_MODES: ModeState[] = [
  { backslashEscapes: true, ansiQuotes: false },
  { backslashEscapes: false, ansiQuotes: false },
  { backslashEscapes: true, ansiQuotes: true },
  { backslashEscapes: false, ansiQuotes: true },
];

/** Load the MySQL grammar (two WASM instances, once per analyser) and return an analyser. */
export async function createMysqlAnalyser(options: MysqlAnalyserOptions = {}): Promise<MysqlAnalyser> {
  const grammar = await MysqlGrammar.load();
  return new MysqlAnalyser(grammar, options);
}
