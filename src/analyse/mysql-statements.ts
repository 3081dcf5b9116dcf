// MySQL statements classified from their tokens, for the statements the grammar does not
// parse (LOAD DATA, HANDLER, PREPARE ... FROM, SHUTDOWN, CREATE USER, ...) or parses with a
// meaning that is not MySQL's. Each rule is written so that it can only over-state what a
// statement does: a statement whose first words are known but whose body holds code the rule
// cannot see through (a subquery, a function call) is sent through the grammar piece by piece
// or made unknown.
import type { IntentClass, PartIntent } from '../gate/types.js';
import { PartBuilder } from './intent.js';
import { NETWORK_ENGINES, SAFE_ENGINES, UNSAFE_CHARSETS } from './mysql-functions.js';
import { tokenize, type Token } from './mysql-lexer.js';

/** What the rules need from the analyser. */
export interface StatementContext {
  /** Analyse the text of one statement (rewritten code, no comments), rules included. */
  statement(code: string): PartIntent;
  /** Analyse the text of one statement with the grammar alone (for rules that add to it). */
  grammar(code: string): PartIntent;
  /** Analyse an expression (rewritten code) as `SELECT expr`. */
  expression(code: string): PartIntent;
  /** Analyse SQL given as a string value (PREPARE ... FROM 'text'); may be several statements. */
  text(sql: string): PartIntent;
}

export interface HandResult {
  part: PartIntent;
  /** Set for PREPARE: the name (lower case) and what the prepared statement does. */
  prepare?: { name: string; part: PartIntent };
}

function word(t: Token | undefined, ...values: string[]): boolean {
  return t !== undefined && t.kind === 'word' && values.includes(t.value);
}

function punct(t: Token | undefined, value: string): boolean {
  return t !== undefined && t.kind === 'punct' && t.value === value;
}

/** A name token: a word or a quoted identifier. */
function isName(t: Token | undefined): t is Token {
  return t !== undefined && (t.kind === 'word' || t.kind === 'ident');
}

/** Read `name` or `schema.name` at `i`; the name as written (quoted names keep their case). */
export function objectName(code: string, tokens: readonly Token[], i: number): { schema?: string; name: string; next: number } | undefined {
  const a = tokens[i];
  if (!isName(a)) return undefined;
  const first = a.kind === 'ident' ? a.value : code.slice(a.start, a.end);
  if (punct(tokens[i + 1], '.') && isName(tokens[i + 2])) {
    const b = tokens[i + 2] as Token;
    return { schema: first, name: b.kind === 'ident' ? b.value : code.slice(b.start, b.end), next: i + 3 };
  }
  return { name: first, next: i + 1 };
}

/** Index of the first top-level (not parenthesised) word `value` at or after `from`, or -1. */
function findTop(tokens: readonly Token[], from: number, ...values: string[]): number {
  let depth = 0;
  for (let i = from; i < tokens.length; i++) {
    const t = tokens[i] as Token;
    if (t.kind === 'punct') {
      if (t.value === '(') depth++;
      else if (t.value === ')') depth--;
    } else if (depth === 0 && t.kind === 'word' && values.includes(t.value)) {
      return i;
    }
  }
  return -1;
}

/** A word immediately followed by `(`: a function call, which only the grammar can judge. */
function hasCall(tokens: readonly Token[], from: number, to: number, allowed: ReadonlySet<string> = NO_WORDS): boolean {
  for (let i = from; i < to - 1; i++) {
    const t = tokens[i] as Token;
    if ((t.kind === 'word' || t.kind === 'ident') && punct(tokens[i + 1], '(') && !(t.kind === 'word' && allowed.has(t.value))) return true;
  }
  return false;
}

const NO_WORDS: ReadonlySet<string> = new Set();
/** Words before `(` in SHOW statements that are syntax, not calls. */
const SHOW_CALLS: ReadonlySet<string> = new Set(['CURRENT_USER', 'COUNT']);

function simple(kind: string, cls: IntentClass, ...flags: string[]): PartBuilder {
  return new PartBuilder(kind, cls).flag(...flags);
}

function rest(code: string, tokens: readonly Token[], from: number, to = tokens.length): string {
  const a = tokens[from];
  if (a === undefined || from >= to) return '';
  return code.slice(a.start, (tokens[to - 1] as Token).end);
}

/**
 * Statements classified before the grammar is asked: those it cannot parse, or parses with
 * another dialect's meaning. Undefined means "ask the grammar".
 */
export function beforeGrammar(code: string, tokens: readonly Token[], ctx: StatementContext): HandResult | undefined {
  const t0 = tokens[0] as Token;
  if (t0.kind !== 'word') {
    // `(SELECT ...)` and the like are for the grammar.
    return undefined;
  }
  const head = t0.value;
  const t1 = tokens[1];
  switch (head) {
    case 'SELECT':
    case 'WITH':
      return selectExtras(code, tokens, ctx);
    case 'PREPARE':
      return prepare(code, tokens, ctx);
    case 'UPDATE':
    case 'DELETE':
      return dmlModifiers(code, tokens, ctx);
    case 'EXECUTE':
      if (word(t1, 'IMMEDIATE')) return executeImmediate(code, tokens, ctx);
      return undefined;
    case 'LOAD':
      if (word(t1, 'DATA', 'XML')) return loadData(code, tokens, ctx);
      // LOAD INDEX INTO CACHE
      return { part: simple(`LOAD ${t1?.value ?? ''}`.trim(), 'admin').build() };
    case 'HANDLER':
      return handler(code, tokens, ctx);
    case 'DO': {
      const p = ctx.expression(rest(code, tokens, 1));
      return { part: relabel(p, 'DO') };
    }
    case 'TABLE': {
      const p = ctx.statement(`SELECT * FROM ${rest(code, tokens, 1)}`);
      return { part: relabel(p, 'TABLE') };
    }
    case 'SHOW':
      return show(code, tokens, ctx);
    case 'HELP':
      return { part: simple('HELP', 'read').build() };
    case 'SHUTDOWN':
    case 'RESTART':
    case 'RESET':
    case 'PURGE':
    case 'CHANGE':
    case 'BINLOG':
    case 'CACHE':
    case 'CLONE':
    case 'OPTIMIZE':
    case 'REPAIR':
    case 'CHECK':
    case 'CHECKSUM':
    case 'BACKUP':
      // The server, replication, maintenance; BINLOG replays encoded row events.
      return { part: simple(`${head}${isName(t1) && t1.kind === 'word' ? ` ${t1.value}` : ''}`, 'admin').build() };
    case 'FLUSH':
    case 'KILL':
      return { part: simple(head, 'admin').build() };
    case 'START':
    case 'STOP':
      if (head === 'START' && word(t1, 'TRANSACTION')) {
        // START TRANSACTION [READ ONLY | READ WRITE | WITH CONSISTENT SNAPSHOT], ...
        if (!tokens.slice(2).every((t) => t.kind === 'word' || punct(t, ','))) return undefined;
        const b = simple('START TRANSACTION', 'transaction');
        if (tokens.some((t, k) => word(t, 'WRITE') && word(tokens[k - 1], 'READ'))) b.flag('read_write');
        return { part: b.build() };
      }
      return { part: simple(`${head} ${t1?.value ?? ''}`.trim(), 'admin').build() };
    case 'INSTALL':
    case 'UNINSTALL':
      // Loads code into the server process.
      return { part: simple(`${head} ${t1?.value ?? ''}`.trim(), 'admin', 'plugin').build() };
    case 'IMPORT':
      return { part: simple('IMPORT TABLE', 'admin', 'file_access').build() };
    case 'XA':
      return { part: simple(`XA ${t1?.value ?? ''}`.trim(), 'transaction').build() };
    case 'GRANT':
    case 'REVOKE':
      return grant(code, tokens, ctx);
    case 'RENAME':
      if (word(t1, 'USER')) return { part: simple('RENAME USER', 'privilege').build() };
      return undefined;
    case 'BEGIN':
      // BEGIN [WORK] starts a transaction; BEGIN NOT ATOMIC (MariaDB) runs a compound block.
      if (t1 === undefined || word(t1, 'WORK')) return undefined;
      return { part: new PartBuilder('BEGIN NOT ATOMIC').unknown('compound statement blocks are not analysed').build() };
    case 'IF':
    case 'WHILE':
    case 'LOOP':
    case 'REPEAT':
    case 'CASE':
    case 'DECLARE':
    case 'END':
    case 'ITERATE':
    case 'LEAVE':
    case 'RETURN':
    case 'SIGNAL':
    case 'RESIGNAL':
      return { part: new PartBuilder(head).unknown('compound statements are not analysed').build() };
    case 'GET':
      if (word(t1, 'DIAGNOSTICS', 'CURRENT', 'STACKED')) return { part: simple('GET DIAGNOSTICS', 'session').build() };
      return undefined;
    case 'ANALYZE':
      return analyze(code, tokens, ctx);
    case 'EXPLAIN':
    case 'DESCRIBE':
    case 'DESC':
      return explainExtras(code, tokens, ctx);
    case 'LOCK':
      if (word(t1, 'INSTANCE')) return { part: simple('LOCK INSTANCE', 'admin').build() };
      // LOCK TABLE is a synonym of LOCK TABLES.
      if (word(t1, 'TABLE') && t1 !== undefined) return { part: relabel(ctx.grammar(`${code.slice(0, t1.start)}TABLES${code.slice(t1.end)}`), 'LOCK TABLES') };
      return undefined;
    case 'UNLOCK':
      if (word(t1, 'INSTANCE')) return { part: simple('UNLOCK INSTANCE', 'admin').build() };
      return undefined;
    case 'SET':
      return set(code, tokens, ctx);
    case 'CREATE':
    case 'ALTER':
    case 'DROP':
      // DROP PREPARE is a synonym of DEALLOCATE PREPARE.
      if (head === 'DROP' && word(t1, 'PREPARE') && t1 !== undefined) return { part: relabel(ctx.grammar(`DEALLOCATE${code.slice(t0.end)}`), 'DEALLOCATE') };
      return ddl(code, tokens, ctx);
    default:
      return undefined;
  }
}

function relabel(p: PartIntent, kind: string): PartIntent {
  return { ...p, kind };
}

/**
 * SELECT forms the grammar lacks: INTO OUTFILE/DUMPFILE, INTO @variables and LOCK IN SHARE
 * MODE. The clause is cut out (or replaced by its FOR SHARE equivalent) and the rest parsed.
 */
function selectExtras(code: string, tokens: readonly Token[], ctx: StatementContext): HandResult | undefined {
  const into = findTop(tokens, 1, 'INTO');
  const lock = findTop(tokens, 1, 'LOCK');
  const withAt = findTop(tokens, 1, 'WITH');
  const rollup = withAt >= 0 && word(tokens[withAt + 1], 'ROLLUP') ? withAt : -1;
  const isLockInShare = lock >= 0 && word(tokens[lock + 1], 'IN') && word(tokens[lock + 2], 'SHARE') && word(tokens[lock + 3], 'MODE');
  if (into < 0 && !isLockInShare && rollup < 0) return undefined;
  let text = code;
  const b = new PartBuilder('SELECT');
  // Cut from the end backwards so earlier offsets stay valid.
  const cuts: Array<{ from: number; to: number; insert: string }> = [];
  if (rollup >= 0) {
    // GROUP BY ... WITH ROLLUP adds summary rows; nothing else.
    cuts.push({ from: (tokens[rollup] as Token).start, to: (tokens[rollup + 1] as Token).end, insert: ' ' });
  }
  if (isLockInShare) {
    cuts.push({ from: (tokens[lock] as Token).start, to: (tokens[lock + 3] as Token).end, insert: ' FOR SHARE ' });
    b.raise('write').flag('row_lock');
  }
  if (into >= 0) {
    const target = tokens[into + 1];
    let end = into + 1;
    if (word(target, 'OUTFILE', 'DUMPFILE')) {
      const file = tokens[into + 2];
      if (file?.kind !== 'string') return { part: new PartBuilder('SELECT INTO OUTFILE').unknown('INTO OUTFILE without a file name').build() };
      // Writes a file on the database server (needs the FILE privilege).
      b.kind = `SELECT INTO ${target?.value ?? ''}`;
      b.raise('admin').flag('file_access').path(file.value, 'write');
      end = into + 3;
      // Export options: only keywords and strings.
      while (end < tokens.length && (word(tokens[end], ...EXPORT_WORDS) || tokens[end]?.kind === 'string' || (word(tokens[end - 1], 'SET', 'CHARSET') && isName(tokens[end])))) end++;
    } else if (target?.kind === 'var' && !target.value.startsWith('@@')) {
      // SELECT ... INTO @a, @b sets user variables.
      b.kind = 'SELECT INTO VARIABLE';
      b.raise('session');
      while (tokens[end]?.kind === 'var' && punct(tokens[end + 1], ',')) end += 2;
      if (tokens[end]?.kind !== 'var') return { part: new PartBuilder('SELECT INTO').unknown('SELECT INTO with unexpected targets').build() };
      end++;
    } else {
      return undefined;
    }
    cuts.push({ from: (tokens[into] as Token).start, to: (tokens[end - 1] as Token).end, insert: ' ' });
  }
  cuts.sort((x, y) => y.from - x.from);
  for (const c of cuts) text = text.slice(0, c.from) + c.insert + text.slice(c.to);
  b.absorb(ctx.statement(text));
  return { part: b.build() };
}

/** The table name used to parse a LOAD DATA SET clause as an UPDATE. */
const STAND_IN = 'sluice load data target';

const EXPORT_WORDS = ['CHARACTER', 'SET', 'CHARSET', 'FIELDS', 'COLUMNS', 'TERMINATED', 'BY', 'OPTIONALLY', 'ENCLOSED', 'ESCAPED', 'LINES', 'STARTING'];

/**
 * UPDATE/DELETE forms the grammar lacks: the LOW_PRIORITY, QUICK and IGNORE modifiers (which
 * change locking and error handling, not what is written) and `UPDATE t1, t2 SET` (the comma
 * is a cross join, written as JOIN for the grammar).
 */
function dmlModifiers(code: string, tokens: readonly Token[], ctx: StatementContext): HandResult | undefined {
  const head = (tokens[0] as Token).value;
  const cuts: Array<{ from: number; to: number; insert: string }> = [];
  let i = 1;
  while (word(tokens[i], 'LOW_PRIORITY', 'QUICK', 'IGNORE')) {
    cuts.push({ from: (tokens[i] as Token).start, to: (tokens[i] as Token).end, insert: ' ' });
    i++;
  }
  if (head === 'DELETE') {
    // DELETE t1.*, t2.* FROM ...: the `.*` only marks the target.
    const fromAt = findTop(tokens, i, 'FROM');
    for (let j = i; j < fromAt - 1; j++) {
      if (punct(tokens[j], '.') && punct(tokens[j + 1], '*')) cuts.push({ from: (tokens[j] as Token).start, to: (tokens[j + 1] as Token).end, insert: '' });
    }
  }
  if (head === 'UPDATE') {
    const setAt = findTop(tokens, i, 'SET');
    let depth = 0;
    for (let j = i; j < (setAt < 0 ? 0 : setAt); j++) {
      const t = tokens[j] as Token;
      if (punct(t, '(')) depth++;
      else if (punct(t, ')')) depth--;
      else if (depth === 0 && punct(t, ',')) cuts.push({ from: t.start, to: t.end, insert: ' JOIN ' });
    }
  }
  if (cuts.length === 0) return undefined;
  let text = code;
  for (const c of cuts.sort((x, y) => y.from - x.from)) text = text.slice(0, c.from) + c.insert + text.slice(c.to);
  return { part: relabel(ctx.grammar(text), head) };
}

/** PREPARE name FROM 'text' | @variable */
function prepare(code: string, tokens: readonly Token[], ctx: StatementContext): HandResult {
  const name = tokens[1];
  const b = new PartBuilder('PREPARE').flag('dynamic_sql', 'prepare');
  if (!isName(name) || !word(tokens[2], 'FROM') || tokens.length !== 4) {
    return { part: b.unknown('PREPARE of an unexpected form').build() };
  }
  const src = tokens[3] as Token;
  const key = name.value.toLowerCase();
  if (src.kind !== 'string') {
    // The statement text is only known at run time.
    const p = b.unknown('PREPARE from a variable: the statement text is only known at run time').build();
    return { part: p, prepare: { name: key, part: p } };
  }
  const inner = ctx.text(src.value);
  b.absorb(inner);
  return { part: b.build(), prepare: { name: key, part: inner } };
}

/** EXECUTE IMMEDIATE 'text' (MariaDB) */
function executeImmediate(code: string, tokens: readonly Token[], ctx: StatementContext): HandResult {
  const b = new PartBuilder('EXECUTE IMMEDIATE').flag('dynamic_sql');
  const src = tokens[2];
  if (src?.kind !== 'string') return { part: b.unknown('EXECUTE IMMEDIATE of text known only at run time').build() };
  b.absorb(ctx.text(src.value));
  const using = findTop(tokens, 3, 'USING');
  if (using >= 0) b.absorb(ctx.expression(rest(code, tokens, using + 1)));
  else if (tokens.length > 3) b.unknown('EXECUTE IMMEDIATE of an unexpected form');
  return { part: b.build() };
}

/**
 * LOAD DATA [LOW_PRIORITY|CONCURRENT] [LOCAL] INFILE 'file' [REPLACE|IGNORE] INTO TABLE t ...
 * LOAD XML [LOCAL] INFILE 'file' ... INTO TABLE t ...
 */
function loadData(code: string, tokens: readonly Token[], ctx: StatementContext): HandResult {
  const what = (tokens[1] as Token).value;
  let i = 2;
  while (word(tokens[i], 'LOW_PRIORITY', 'CONCURRENT')) i++;
  const local = word(tokens[i], 'LOCAL');
  if (local) i++;
  const b = new PartBuilder(`LOAD ${what}`);
  if (!word(tokens[i], 'INFILE') || tokens[i + 1]?.kind !== 'string') {
    return { part: b.unknown(`LOAD ${what} of an unexpected form`).build() };
  }
  const file = (tokens[i + 1] as Token).value;
  if (local) {
    // The file is read by the client: here, the gateway's door, which must refuse it.
    b.raise('write').flag('file_access', 'local_infile').path(file, 'read');
  } else {
    // Reads a file on the database server (needs the FILE privilege).
    b.raise('admin').raise('write').flag('file_access').path(file, 'read');
  }
  const into = findTop(tokens, i + 2, 'INTO');
  const n = into < 0 ? undefined : objectName(code, tokens, into + (word(tokens[into + 1], 'TABLE') ? 2 : 1));
  if (n === undefined) return { part: b.unknown(`LOAD ${what} without a target table`).build() };
  b.table(n.name, n.schema, 'write');
  if (word(tokens[i + 2], 'REPLACE')) b.flag('replace');
  const set = findTop(tokens, n.next, 'SET');
  const end = set < 0 ? tokens.length : set;
  // Options, column lists and PARTITION (...) hold names, strings and numbers only.
  if (hasCall(tokens, n.next, end, new Set(['PARTITION']))) b.unknown(`LOAD ${what} with unexpected expressions`);
  if (set >= 0) {
    // SET col = expr, ...: judged as the assignments of an UPDATE of a stand-in table.
    const p = ctx.statement(`UPDATE \`${STAND_IN}\` SET ${rest(code, tokens, set + 1)}`);
    b.raise(p.class === 'write' ? 'write' : p.class);
    if (p.class === 'unknown') b.unknown(p.error ?? 'LOAD DATA SET clause not understood');
    b.flag(...p.flags.filter((f) => f !== 'no_where'));
    for (const f of p.objects.functions) b.fn(f);
    for (const t of p.objects.tables) if (t.name !== STAND_IN) b.table(t.name, t.schema, t.access);
    for (const x of p.objects.paths) b.path(x.path, x.access);
  }
  return { part: b.build() };
}

/** HANDLER t OPEN [AS a] | HANDLER t READ ... [WHERE cond] [LIMIT n] | HANDLER t CLOSE */
function handler(code: string, tokens: readonly Token[], ctx: StatementContext): HandResult {
  const n = objectName(code, tokens, 1);
  const b = new PartBuilder('HANDLER', 'read');
  if (n === undefined) return { part: b.unknown('HANDLER of an unexpected form').build() };
  const verb = tokens[n.next];
  if (word(verb, 'OPEN')) {
    b.kind = 'HANDLER OPEN';
    b.table(n.name, n.schema, 'read');
    if (n.next + 1 < tokens.length && !(word(tokens[n.next + 1], 'AS') || isName(tokens[n.next + 1]))) b.unknown('HANDLER OPEN of an unexpected form');
    return { part: b.build() };
  }
  if (word(verb, 'CLOSE')) {
    b.kind = 'HANDLER CLOSE';
    b.raise('session');
    return { part: b.build() };
  }
  if (!word(verb, 'READ')) return { part: b.unknown('HANDLER of an unexpected form').build() };
  b.kind = 'HANDLER READ';
  // Reads through a handler opened earlier under this name (the table itself, or an alias).
  b.table(n.name, n.schema, 'read');
  const where = findTop(tokens, n.next + 1, 'WHERE');
  const limit = findTop(tokens, n.next + 1, 'LIMIT');
  if (hasCall(tokens, n.next + 1, where < 0 ? (limit < 0 ? tokens.length : limit) : where)) b.unknown('HANDLER READ with unexpected expressions');
  if (where >= 0) b.absorb(ctx.expression(rest(code, tokens, where + 1, limit > where ? limit : tokens.length)));
  return { part: b.build() };
}

/** SHOW ...: reads only, but a WHERE filter is an expression that is evaluated. */
function show(code: string, tokens: readonly Token[], ctx: StatementContext): HandResult {
  const b = new PartBuilder('SHOW', 'read');
  const words: string[] = [];
  // Two words name what is shown (SHOW CREATE TABLE, SHOW FULL PROCESSLIST); then come names.
  for (let i = 1; i < tokens.length && i < 3; i++) {
    const t = tokens[i] as Token;
    if (t.kind !== 'word' || ['FROM', 'IN', 'LIKE', 'WHERE', 'FOR', 'LIMIT'].includes(t.value)) break;
    words.push(t.value);
  }
  b.kind = `SHOW ${words.join(' ')}`.trim();
  // SHOW CREATE TABLE t, SHOW [FULL] COLUMNS|INDEX FROM t [FROM db]
  const from = findTop(tokens, 1, 'FROM', 'IN');
  if (word(tokens[1], 'CREATE') && word(tokens[2], 'TABLE', 'VIEW')) {
    const n = objectName(code, tokens, 3);
    if (n !== undefined) b.table(n.name, n.schema, 'read');
  } else if (from >= 0 && words.some((w) => ['COLUMNS', 'FIELDS', 'INDEX', 'INDEXES', 'KEYS'].includes(w))) {
    const n = objectName(code, tokens, from + 1);
    if (n !== undefined) {
      const db = word(tokens[n.next], 'FROM', 'IN') ? objectName(code, tokens, n.next + 1) : undefined;
      b.table(n.name, db?.name ?? n.schema, 'read');
    }
  }
  const where = findTop(tokens, 1, 'WHERE');
  if (hasCall(tokens, 1, where < 0 ? tokens.length : where, SHOW_CALLS)) b.unknown('SHOW with unexpected expressions');
  if (where >= 0) b.absorb(ctx.expression(rest(code, tokens, where + 1)));
  return { part: b.build() };
}

/** GRANT/REVOKE: privilege whatever the form; tables named in ON are reported as written. */
function grant(code: string, tokens: readonly Token[], _ctx: StatementContext): HandResult {
  const head = (tokens[0] as Token).value;
  const b = new PartBuilder(head, 'privilege');
  const on = findTop(tokens, 1, 'ON');
  if (on >= 0) {
    let i = on + 1;
    if (word(tokens[i], 'TABLE', 'FUNCTION', 'PROCEDURE')) i++;
    const n = objectName(code, tokens, i);
    if (n !== undefined && n.name !== '*') b.table(n.name, n.schema === '*' ? undefined : n.schema, 'write');
  }
  if (findTop(tokens, 1, 'PROXY') >= 0) b.flag('proxy');
  return { part: b.build() };
}

/** MariaDB ANALYZE <statement> runs the statement; ANALYZE TABLE is maintenance. */
function analyze(code: string, tokens: readonly Token[], ctx: StatementContext): HandResult {
  let i = 1;
  if (word(tokens[i], 'FORMAT') && punct(tokens[i + 1], '=') && isName(tokens[i + 2])) i += 3;
  if (word(tokens[i], 'SELECT', 'INSERT', 'UPDATE', 'DELETE', 'REPLACE', 'WITH') || punct(tokens[i], '(')) {
    const p = ctx.statement(rest(code, tokens, i));
    const b = new PartBuilder('ANALYZE').flag('explain_analyze');
    b.absorb(p);
    return { part: b.build() };
  }
  const b = new PartBuilder('ANALYZE TABLE', 'admin');
  const t = findTop(tokens, 1, 'TABLE', 'TABLES');
  if (t >= 0) {
    for (let j = t + 1; j < tokens.length; ) {
      const n = objectName(code, tokens, j);
      if (n === undefined) break;
      b.table(n.name, n.schema, 'read');
      j = punct(tokens[n.next], ',') ? n.next + 1 : tokens.length;
    }
  }
  return { part: b.build() };
}

/** EXPLAIN forms the grammar lacks: FORMAT=TREE, FOR CONNECTION, and DESCRIBE of a statement. */
function explainExtras(code: string, tokens: readonly Token[], _ctx: StatementContext): HandResult | undefined {
  if (findTop(tokens, 1, 'CONNECTION') >= 0 && word(tokens[1], 'FOR')) return { part: simple('EXPLAIN FOR CONNECTION', 'read').build() };
  return undefined;
}

/** SET forms the grammar lacks or reads another way. */
function set(code: string, tokens: readonly Token[], ctx: StatementContext): HandResult | undefined {
  const t1 = tokens[1];
  // `SET @a := 1`: at the top level of SET, := is the assignment itself.
  let depth = 0;
  let rewritten = code;
  for (let i = tokens.length - 1; i >= 1; i--) {
    const t = tokens[i] as Token;
    if (punct(t, ')')) depth++;
    else if (punct(t, '(')) depth--;
    else if (depth === 0 && punct(t, ':=')) rewritten = `${rewritten.slice(0, t.start)}=${rewritten.slice(t.end)}`;
  }
  if (rewritten !== code) return set(rewritten, tokenize(rewritten), ctx) ?? { part: ctx.grammar(rewritten) };
  if (word(t1, 'PASSWORD')) return { part: simple('SET PASSWORD', 'privilege').build() };
  if (word(t1, 'DEFAULT') && word(tokens[2], 'ROLE')) return { part: simple('SET DEFAULT ROLE', 'privilege', 'role_change').build() };
  if (word(t1, 'ROLE')) return { part: simple('SET ROLE', 'privilege', 'role_change').build() };
  if (word(t1, 'STATEMENT')) {
    // MariaDB: SET STATEMENT var = value [, ...] FOR statement
    const forAt = findTop(tokens, 2, 'FOR');
    if (forAt < 0) return { part: new PartBuilder('SET STATEMENT').unknown('SET STATEMENT without FOR').build() };
    const b = new PartBuilder('SET STATEMENT');
    b.absorb(ctx.statement(`SET SESSION ${rest(code, tokens, 2, forAt)}`));
    b.absorb(ctx.statement(rest(code, tokens, forAt + 1)));
    b.kind = 'SET STATEMENT';
    return { part: b.build() };
  }
  if (word(t1, 'CHARACTER', 'CHARSET')) {
    const at = word(t1, 'CHARACTER') ? 3 : 2;
    const cs = tokens[at];
    const b = new PartBuilder('SET CHARACTER SET', 'session');
    if (cs === undefined || (cs.kind !== 'word' && cs.kind !== 'string' && cs.kind !== 'ident')) return { part: b.unknown('SET CHARACTER SET of an unexpected form').build() };
    if (UNSAFE_CHARSETS.has(cs.value.toLowerCase())) b.unknown(`character set ${cs.value.toLowerCase()} can hide quotes inside multi-byte characters`);
    return { part: b.build() };
  }
  // Server-wide settings: admin, plus whatever the values do. PERSIST is GLOBAL that also
  // survives a restart; the grammar only knows GLOBAL.
  let global = false;
  let text = code;
  for (let i = tokens.length - 1; i >= 1; i--) {
    const t = tokens[i] as Token;
    const scopeWord = t.kind === 'word' && (t.value === 'GLOBAL' || t.value === 'PERSIST' || t.value === 'PERSIST_ONLY') &&
      (i === 1 || punct(tokens[i - 1], ','));
    if (scopeWord) {
      global = true;
      if (t.value !== 'GLOBAL') text = `${text.slice(0, t.start)}GLOBAL${text.slice(t.end)}`;
    } else if (t.kind === 'var' && /^@@(global|persist|persist_only)\./i.test(t.value)) {
      global = true;
      text = `${text.slice(0, t.start)}@@global.${t.value.slice(t.value.indexOf('.') + 1)}${text.slice(t.end)}`;
    }
  }
  if (!global) return undefined;
  const b = new PartBuilder('SET GLOBAL', 'admin');
  const p = ctx.grammar(text);
  if (p.class === 'unknown' && /parse error/.test(p.error ?? '')) {
    // Values the grammar cannot read may hold anything; plain values are only settings.
    if (hasCall(tokens, 1, tokens.length) || findTop(tokens, 1, 'SELECT') >= 0) b.unknown(p.error ?? 'SET not understood');
  } else {
    b.absorb(p);
  }
  b.kind = 'SET GLOBAL';
  return { part: b.build() };
}

const STORED_PROGRAMS = new Set(['PROCEDURE', 'FUNCTION', 'TRIGGER', 'EVENT', 'VIEW']);

/** CREATE/ALTER/DROP: the forms that do not depend on the grammar. */
function ddl(code: string, tokens: readonly Token[], ctx: StatementContext): HandResult | undefined {
  const head = (tokens[0] as Token).value;
  // Skip OR REPLACE, ALGORITHM = x, DEFINER = user, SQL SECURITY x, AGGREGATE, IF NOT EXISTS.
  let i = 1;
  let definer = false;
  let invoker = false;
  for (;;) {
    const t = tokens[i];
    if (word(t, 'OR') && word(tokens[i + 1], 'REPLACE')) i += 2;
    else if (word(t, 'ALGORITHM') && punct(tokens[i + 1], '=')) i += 3;
    else if (word(t, 'DEFINER') && punct(tokens[i + 1], '=')) {
      // Another account than the caller's own: the object runs with that account's rights.
      definer = !word(tokens[i + 2], 'CURRENT_USER');
      i += 2;
      // user, 'user'@'host', CURRENT_USER[()]
      while (i < tokens.length && !word(tokens[i], 'SQL', 'VIEW', 'PROCEDURE', 'FUNCTION', 'TRIGGER', 'EVENT', 'AGGREGATE')) i++;
    } else if (word(t, 'SQL') && word(tokens[i + 1], 'SECURITY')) {
      invoker = word(tokens[i + 2], 'INVOKER');
      i += 3;
    } else if (word(t, 'AGGREGATE', 'TEMPORARY', 'ONLINE', 'OFFLINE', 'IGNORE')) i++;
    else break;
  }
  const what = tokens[i];
  if (what === undefined || what.kind !== 'word') return undefined;
  const label = `${head} ${what.value}`;
  switch (what.value) {
    case 'USER':
    case 'ROLE':
      return { part: simple(label, 'privilege').build() };
    case 'SPATIAL':
    case 'FULLTEXT':
      // CREATE SPATIAL|FULLTEXT INDEX is CREATE INDEX of another kind (which the grammar
      // lacks); CREATE SPATIAL REFERENCE SYSTEM is server-wide.
      if (word(tokens[i + 1], 'INDEX')) return { part: relabel(ctx.grammar(code.slice(0, what.start) + code.slice(what.end)), `${head} INDEX`) };
      if (what.value === 'SPATIAL') return { part: simple(label, 'admin').build() };
      return undefined;
    case 'DATABASE':
    case 'SCHEMA':
    case 'TABLESPACE':
    case 'LOGFILE':
    case 'RESOURCE':
    case 'INSTANCE':
      return { part: simple(label, 'admin').build() };
    case 'SERVER':
      // A connection to another server (FEDERATED, SPIDER, CONNECT).
      return { part: simple(label, 'admin', 'network').build() };
    case 'UNDO':
      return { part: simple(label, 'admin').build() };
    case 'TABLE':
      return table(code, tokens, i, head, ctx);
    default:
      break;
  }
  if (!STORED_PROGRAMS.has(what.value)) return undefined;
  const b = new PartBuilder(label, 'schema');
  const n = objectName(code, tokens, word(tokens[i + 1], 'IF') ? i + (word(tokens[i + 2], 'NOT') ? 4 : 3) : i + 1);
  if (what.value === 'VIEW' && n !== undefined) b.table(n.name, n.schema, 'write');
  if (head === 'DROP') return { part: b.build() };
  // Stored programs and views run with their definer's rights unless SQL SECURITY INVOKER.
  if (!invoker) b.flag('security_definer');
  if (definer) b.raise('privilege').flag('definer');
  if (what.value === 'FUNCTION' && findTop(tokens, i + 1, 'SONAME') >= 0) {
    // A loadable function from a shared library.
    b.raise('admin').flag('plugin');
    return { part: b.build() };
  }
  if (what.value === 'VIEW') {
    const as = findTop(tokens, i + 1, 'AS');
    if (as < 0) return { part: b.unknown('view without a query').build() };
    const p = ctx.statement(rest(code, tokens, as + 1));
    // The view reads these tables whenever it is used.
    if (p.class === 'unknown') b.unknown(p.error ?? 'view query not understood');
    for (const t of p.objects.tables) b.table(t.name, t.schema, 'read');
    for (const f of p.objects.functions) b.fn(f);
    return { part: b.build() };
  }
  if (what.value === 'EVENT') {
    // An event runs its body on a schedule, without anyone calling it.
    b.raise('execute').flag('scheduled');
    const doAt = findTop(tokens, i + 1, 'DO');
    if (doAt >= 0 && head === 'CREATE') {
      const p = ctx.statement(rest(code, tokens, doAt + 1));
      b.absorb(p);
    }
  }
  // Bodies of procedures, functions and triggers run later, when called or fired.
  return { part: b.build() };
}

/** CREATE/ALTER TABLE: engines and directories that reach beyond the server's own files. */
function table(code: string, tokens: readonly Token[], at: number, head: string, ctx: StatementContext): HandResult | undefined {
  if (head === 'DROP') return undefined;
  const b = new PartBuilder(`${head} TABLE`);
  for (let i = at + 1; i < tokens.length; i++) {
    const t = tokens[i] as Token;
    if (t.kind !== 'word') continue;
    if (t.value === 'ENGINE' || t.value === 'TYPE') {
      const e = tokens[punct(tokens[i + 1], '=') ? i + 2 : i + 1];
      if (e === undefined || (e.kind !== 'word' && e.kind !== 'ident' && e.kind !== 'string')) continue;
      const engine = e.value.toLowerCase();
      if (NETWORK_ENGINES.has(engine)) b.raise('admin').flag('network', 'file_access');
      else if (!SAFE_ENGINES.has(engine)) b.unknown(`storage engine ${engine} is not known`);
    } else if (t.value === 'DIRECTORY' && i > 0 && word(tokens[i - 1], 'DATA', 'INDEX')) {
      b.raise('admin').flag('file_access');
      const p = tokens[punct(tokens[i + 1], '=') ? i + 2 : i + 1];
      if (p?.kind === 'string') b.path(p.value, 'write');
    } else if (t.value === 'TABLESPACE' && word(tokens[i - 1], 'DISCARD', 'IMPORT')) {
      b.raise('admin').flag('file_access');
    } else if (t.value === 'CONNECTION' && (punct(tokens[i + 1], '=') || tokens[i + 1]?.kind === 'string')) {
      b.raise('admin').flag('network');
    } else if (t.value === 'UNION' && punct(tokens[i + 1], '=')) {
      // MERGE tables read the tables they list.
      b.flag('merge_table');
    }
  }
  if (b.current() === undefined && b.flagList.length === 0) return undefined;
  // The options matter on their own; the rest of the statement still needs the grammar,
  // which may fail on MySQL-only options: then the statement is schema plus these.
  const p = ctx.grammar(code);
  if (p.class === 'unknown' && /parse error/.test(p.error ?? '')) {
    b.raise('schema');
    const n = objectName(code, tokens, at + 1 + (word(tokens[at + 1], 'IF') ? (word(tokens[at + 2], 'NOT') ? 3 : 2) : 0));
    if (n !== undefined) b.table(n.name, n.schema, 'write');
    if (findTop(tokens, at + 1, 'SELECT') >= 0 || hasCall(tokens, (n?.next ?? at + 1) + 1, tokens.length, TYPE_WORDS)) b.unknown('table definition not understood');
  } else {
    b.absorb(p);
  }
  return { part: b.build() };
}

/** Words followed by `(` in table definitions that are not function calls. */
const TYPE_WORDS: ReadonlySet<string> = new Set(
  `INT INTEGER TINYINT SMALLINT MEDIUMINT BIGINT DECIMAL DEC NUMERIC FLOAT DOUBLE REAL BIT CHAR VARCHAR BINARY VARBINARY
   TEXT BLOB ENUM SET DATETIME TIMESTAMP TIME YEAR KEY INDEX PRIMARY UNIQUE FOREIGN REFERENCES CHECK CONSTRAINT
   PARTITION PARTITIONS SUBPARTITION VALUES LESS THAN IN LIST RANGE HASH COLUMNS FULLTEXT SPATIAL UNION NCHAR
   NVARCHAR CHARACTER VARYING`.split(/\s+/),
);
