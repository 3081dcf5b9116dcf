// PostgreSQL intent analyser. The text is parsed by libpg-query (the server's own grammar,
// compiled to WASM), then every node of the raw parse tree is visited. A statement's class is
// the riskiest thing found anywhere inside it: a DELETE in a CTE, a side-effecting function in
// a WHERE clause, a user-defined operator. A node type the walker does not know makes the
// statement unknown, so a new grammar feature can never pass as a read.
import { loadModule, parseSync } from 'libpg-query';
import type { Intent, IntentClass, PartIntent } from '../gate/types.js';
import type { Analyser, AnalysisSession } from './analyser.js';
import { PartBuilder, combineParts, unknownIntent } from './intent.js';
import {
  BUILTIN_OPERATORS,
  DANGEROUS_FUNCTIONS,
  EXTENSION_SAFE_FUNCTIONS,
  EXTENSION_SCHEMAS,
  SAFE_FUNCTIONS,
  TABLESAMPLE_METHODS,
  dangerousByPrefix,
  type FunctionEffect,
} from './postgres-functions.js';
import { settingEffect } from './postgres-settings.js';
import { arr, isNodeKey, obj, str, type Json } from './json-tree.js';

const LANGUAGE = 'postgres';

/** Longest input (in UTF-16 code units) that is parsed; longer input is `unknown`. */
export const MAX_POSTGRES_INPUT = 1_048_576;
/** Deepest nesting of the parse tree the walker follows; deeper input is `unknown`. */
export const MAX_POSTGRES_DEPTH = 1_500;

export interface PostgresAnalyserOptions {
  maxInputLength?: number;
  maxDepth?: number;
  /**
   * More functions known to be free of side effects, such as those of the target's
   * extensions: `digest` matches unqualified calls, `public.digest` calls written so.
   */
  safeFunctions?: readonly string[];
  /** More functions with a known effect, by name in any schema (`my_audit_log`: write). */
  functionEffects?: Readonly<Record<string, FunctionEffect>>;
}

/** What the walker needs besides the tree. */
interface Config {
  maxDepth: number;
  /** Extra safe functions: unqualified names and `schema.name` names. */
  safe: ReadonlySet<string>;
  effects: ReadonlyMap<string, FunctionEffect>;
}

/** The result of an analysis plus what a cache needs to know about it. */
export interface CacheableResult {
  intent: Intent;
  /** False when the result depends on or changes session state (PREPARE, EXECUTE, ...). */
  cacheable: boolean;
}

/** Parse-tree objects are plain JSON. */

interface Env {
  /** Access recorded for a table reference found in this position. */
  access: 'read' | 'write';
  /** Names of the CTEs visible here; an unqualified reference to one is not a table. */
  ctes: ReadonlySet<string> | null;
}

const READ_ENV: Env = { access: 'read', ctes: null };
const WRITE_ENV: Env = { access: 'write', ctes: null };

class TooDeep extends Error {}

/** Node types whose only meaning is in their children (expressions, clauses, names). */
const PASSIVE = new Set([
  'A_Const', 'A_Star', 'A_Indices', 'A_Indirection', 'A_ArrayExpr', 'Integer', 'Float', 'Boolean', 'String',
  'BitString', 'List', 'IntList', 'OidList', 'ColumnRef', 'ParamRef', 'TypeCast', 'CollateClause', 'ResTarget',
  'MultiAssignRef', 'WindowDef', 'BoolExpr', 'NullTest', 'BooleanTest', 'CaseExpr', 'CaseWhen', 'CoalesceExpr',
  'MinMaxExpr', 'SQLValueFunction', 'RowExpr', 'XmlExpr', 'XmlSerialize', 'TypeName', 'GroupingSet', 'GroupingFunc',
  'JoinExpr', 'Alias', 'SetToDefault', 'CurrentOfExpr', 'NamedArgExpr', 'RoleSpec', 'DefElem', 'ColumnDef',
  'Constraint', 'IndexElem', 'InferClause', 'OnConflictClause', 'RangeSubselect', 'RangeFunction',
  'RangeTableFunc', 'RangeTableFuncCol', 'AccessPriv', 'ObjectWithArgs', 'FunctionParameter', 'PartitionSpec',
  'PartitionElem', 'PartitionBoundSpec', 'PartitionRangeDatum', 'PartitionCmd', 'TableLikeClause', 'StatsElem',
  'VacuumRelation', 'CTESearchClause', 'CTECycleClause', 'MergeWhenClause', 'ReturningOption', 'ReturningClause',
  'TriggerTransition', 'CreateOpClassItem', 'PublicationTable', 'PublicationObjSpec', 'AlterTableCmd',
  'ATAlterConstraint', 'ReplicaIdentityStmt', 'MergeSupportFunc', 'ReturnStmt', 'IntoClause', 'WithClause',
  'JsonFuncExpr', 'JsonTablePathSpec', 'JsonTable', 'JsonTableColumn', 'JsonKeyValue', 'JsonParseExpr',
  'JsonScalarExpr', 'JsonSerializeExpr', 'JsonObjectConstructor', 'JsonArrayConstructor',
  'JsonArrayQueryConstructor', 'JsonAggConstructor', 'JsonObjectAgg', 'JsonArrayAgg', 'JsonOutput', 'JsonArgument',
  'JsonValueExpr', 'JsonFormat', 'JsonReturning', 'JsonBehavior', 'JsonIsPredicate',
]);

/** Statements classified by their type alone; their children are still visited. */
const BY_TYPE: Record<string, IntentClass> = {
  // Schema changes.
  IndexStmt: 'schema', CreateSchemaStmt: 'schema', ViewStmt: 'schema', CreateSeqStmt: 'schema',
  AlterSeqStmt: 'schema', AlterObjectSchemaStmt: 'schema', AlterObjectDependsStmt: 'schema', CommentStmt: 'schema',
  CreateTrigStmt: 'schema', RuleStmt: 'schema', CompositeTypeStmt: 'schema', CreateEnumStmt: 'schema',
  CreateRangeStmt: 'schema', AlterEnumStmt: 'schema', DefineStmt: 'schema', CreateDomainStmt: 'schema',
  AlterDomainStmt: 'schema', CreateForeignServerStmt: 'schema', AlterForeignServerStmt: 'schema',
  CreateForeignTableStmt: 'schema', ImportForeignSchemaStmt: 'schema', CreateOpClassStmt: 'schema',
  CreateOpFamilyStmt: 'schema', AlterOpFamilyStmt: 'schema', AlterOperatorStmt: 'schema', AlterTypeStmt: 'schema',
  AlterCollationStmt: 'schema', CreateStatsStmt: 'schema', AlterStatsStmt: 'schema', CreateConversionStmt: 'schema',
  CreateCastStmt: 'schema', CreateTransformStmt: 'schema', AlterTSDictionaryStmt: 'schema',
  AlterTSConfigurationStmt: 'schema',
  // Who may do what.
  GrantStmt: 'privilege', GrantRoleStmt: 'privilege', CreateRoleStmt: 'privilege', AlterRoleStmt: 'privilege',
  AlterRoleSetStmt: 'privilege', DropRoleStmt: 'privilege', AlterDefaultPrivilegesStmt: 'privilege',
  AlterOwnerStmt: 'privilege', ReassignOwnedStmt: 'privilege', DropOwnedStmt: 'privilege',
  CreateUserMappingStmt: 'privilege', AlterUserMappingStmt: 'privilege', DropUserMappingStmt: 'privilege',
  CreatePolicyStmt: 'privilege', AlterPolicyStmt: 'privilege', SecLabelStmt: 'privilege',
  // The server itself: configuration, maintenance, databases, extensions, replication.
  AlterSystemStmt: 'admin', VacuumStmt: 'admin', ClusterStmt: 'admin', ReindexStmt: 'admin', CheckPointStmt: 'admin',
  CreatedbStmt: 'admin', DropdbStmt: 'admin', AlterDatabaseStmt: 'admin', AlterDatabaseSetStmt: 'admin',
  AlterDatabaseRefreshCollStmt: 'admin', CreateTableSpaceStmt: 'admin', DropTableSpaceStmt: 'admin',
  AlterTableSpaceOptionsStmt: 'admin', AlterTableMoveAllStmt: 'admin', CreateExtensionStmt: 'admin',
  AlterExtensionStmt: 'admin', AlterExtensionContentsStmt: 'admin', CreatePLangStmt: 'admin', CreateAmStmt: 'admin',
  CreateFdwStmt: 'admin', AlterFdwStmt: 'admin', CreatePublicationStmt: 'admin', AlterPublicationStmt: 'admin',
  CreateSubscriptionStmt: 'admin', AlterSubscriptionStmt: 'admin', DropSubscriptionStmt: 'admin',
  CreateEventTrigStmt: 'admin', AlterEventTrigStmt: 'admin',
  // NOTIFY is a write: other sessions (including Sluice's own nodes) act on what it delivers.
  NotifyStmt: 'write',
  ListenStmt: 'session', UnlistenStmt: 'session', ClosePortalStmt: 'session',
  VariableShowStmt: 'read', FetchStmt: 'read', DeclareCursorStmt: 'read',
  TransactionStmt: 'transaction', ConstraintsSetStmt: 'transaction',
};

const DML = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);
/** Two-phase commit: these outlive the session or act on another session's transaction. */
const TWO_PHASE = new Set(['TRANS_STMT_PREPARE', 'TRANS_STMT_COMMIT_PREPARED', 'TRANS_STMT_ROLLBACK_PREPARED']);
const FALSE_WORDS = new Set(['false', 'off', 'no', '0']);
/** DROP of these object types names relations, which are reported as written tables. */
const DROP_RELATIONS = new Set(['OBJECT_TABLE', 'OBJECT_VIEW', 'OBJECT_MATVIEW', 'OBJECT_FOREIGN_TABLE', 'OBJECT_SEQUENCE', 'OBJECT_INDEX']);
/** ALTER TABLE subcommands that change who may see or change rows. */
const PRIVILEGE_AT = new Set(['AT_ChangeOwner', 'AT_EnableRowSecurity', 'AT_DisableRowSecurity', 'AT_ForceRowSecurity', 'AT_NoForceRowSecurity']);





/** The names in a list of String nodes, or undefined if any element is something else. */
function names(list: unknown): string[] | undefined {
  const out: string[] = [];
  for (const n of arr(list)) {
    const s = str(obj(obj(n)?.String)?.sval);
    if (s === undefined) return undefined;
    out.push(s);
  }
  return out;
}

/** The value of a constant (through casts), or null when the expression is not a constant. */
function constValue(node: unknown): string | null {
  const n = obj(node);
  if (n === undefined) return null;
  const c = obj(n.A_Const);
  if (c !== undefined) {
    if (c.isnull === true) return null;
    const s = obj(c.sval);
    if (s !== undefined) return str(s.sval) ?? '';
    const i = obj(c.ival);
    if (i !== undefined) return String(i.ival ?? 0);
    const f = obj(c.fval);
    if (f !== undefined) return str(f.fval) ?? '0';
    const b = obj(c.boolval);
    if (b !== undefined) return b.boolval === true ? 'true' : 'false';
    return null;
  }
  const cast = obj(n.TypeCast);
  if (cast !== undefined) return constValue(cast.arg);
  return null;
}

// --- whole-table writes --------------------------------------------------------------------
//
// UPDATE, DELETE and MERGE get `no_where` when their condition does not pick rows of the
// target: no WHERE at all, or one that refers to no column of the target (`WHERE true`,
// `WHERE 1 = 1`, `WHERE 't'`, `WHERE $1`, `WHERE u.x = 1` in DELETE ... USING u, an
// uncorrelated EXISTS), or a tautology on a column (`id = id`, `a IS NOT DISTINCT FROM a`,
// `a IS NULL OR a IS NOT NULL`), combined through AND, OR and NOT. Such a condition holds for
// every row or for none, so the statement writes the whole table or nothing. This catches
// the obvious spellings, not every condition that happens to be true (`id > -1`).

/** How a condition selects target rows: `rows` restricts them, `all` may select every row. */
type Selection = 'rows' | 'all';

interface Target {
  /** The name a qualified column must use to refer to the target (its alias, else its name). */
  ref: string;
}

function targetOf(rel: Json | undefined): Target | undefined {
  const name = str(rel?.relname);
  if (name === undefined) return undefined;
  return { ref: str(obj(rel?.alias)?.aliasname) ?? name };
}

/** Whether the statement may write every row of its target (see above). */
function wholeTable(type: string, b: Json): boolean {
  const target = targetOf(obj(b.relation));
  if (target === undefined) return false;
  if (type === 'UpdateStmt' || type === 'DeleteStmt') return b.whereClause === undefined || selection(b.whereClause, target) === 'all';
  if (type !== 'MergeStmt') return false;
  const on = selection(b.joinCondition, target);
  for (const c of arr(b.mergeWhenClauses)) {
    const w = obj(obj(c)?.MergeWhenClause);
    if (w === undefined || (w.commandType !== 'CMD_UPDATE' && w.commandType !== 'CMD_DELETE')) continue;
    const own = w.condition === undefined ? 'all' : selection(w.condition, target);
    // WHEN MATCHED acts on the target rows the join condition matched; WHEN NOT MATCHED BY
    // SOURCE on those it did not match, so only the clause's own condition restricts them.
    if (w.matchKind === 'MERGE_WHEN_MATCHED' && on === 'all' && own === 'all') return true;
    if (w.matchKind === 'MERGE_WHEN_NOT_MATCHED_BY_SOURCE' && own === 'all') return true;
  }
  return false;
}

function selection(node: unknown, target: Target): Selection {
  const n = obj(node);
  if (n === undefined) return 'all';
  const bool = obj(n.BoolExpr);
  if (bool !== undefined) {
    const args = arr(bool.args);
    switch (bool.boolop) {
      case 'AND_EXPR':
        return args.some((a) => selection(a, target) === 'rows') ? 'rows' : 'all';
      case 'OR_EXPR':
        if (complementaryNullTests(args)) return 'all';
        // A disjunct that is constant false or NULL adds nothing; any other that does not
        // restrict rows lets every row through.
        return args.some((a) => !constantFalse(a) && selection(a, target) === 'all') ? 'all' : 'rows';
      default:
        return selection(args[0], target);
    }
  }
  const e = obj(n.A_Expr);
  if (e !== undefined && e.lexpr !== undefined && sameExpression(e.lexpr, e.rexpr)) {
    const op = names(e.name);
    const symbol = op?.[op.length - 1];
    // x = x, x >= x, x <= x (true unless x is NULL), x IS NOT DISTINCT FROM x (always true).
    if (e.kind === 'AEXPR_NOT_DISTINCT' || (e.kind === 'AEXPR_OP' && (symbol === '=' || symbol === '>=' || symbol === '<='))) return 'all';
  }
  return refersToTarget(n, target) ? 'rows' : 'all';
}

/** `false`, `'f'`, NULL and the like: a condition that selects nothing. */
function constantFalse(node: unknown): boolean {
  const n = obj(node);
  const c = obj(n?.A_Const) ?? obj(obj(obj(n?.TypeCast)?.arg)?.A_Const);
  if (c === undefined) return false;
  if (c.isnull === true) return true;
  const v = constValue(node);
  return v !== null && BOOLEAN_FALSE.has(v.toLowerCase());
}

const BOOLEAN_FALSE = new Set(['false', 'f', 'no', 'n', 'off', '0']);

/** `x IS NULL OR x IS NOT NULL` among the arguments of an OR. */
function complementaryNullTests(args: unknown[]): boolean {
  const isNull = new Set<string>();
  const notNull: string[] = [];
  for (const a of args) {
    const t = obj(obj(a)?.NullTest);
    if (t?.nulltesttype === 'IS_NULL') isNull.add(expressionKey(t.arg));
    else if (t?.nulltesttype === 'IS_NOT_NULL') notNull.push(expressionKey(t.arg));
  }
  return notNull.some((k) => k.includes('"ColumnRef"') && isNull.has(k));
}

/** Two expressions written the same way (ignoring where), and referring to some column. */
function sameExpression(a: unknown, b: unknown): boolean {
  const x = expressionKey(a);
  return x.includes('"ColumnRef"') && x === expressionKey(b);
}

/** An expression's tree without source positions. */
function expressionKey(node: unknown): string {
  return JSON.stringify(node, dropLocation) ?? '';
}

function dropLocation(key: string, value: unknown): unknown {
  return key === 'location' ? undefined : value;
}

/**
 * Whether an expression may refer to a column of the target, anywhere inside it (subqueries
 * included, where a column may be correlated): an unqualified column may be the target's, a
 * qualified one is when qualified by the target's alias or name. `WHERE CURRENT OF` names a row.
 */
function refersToTarget(node: unknown, target: Target): boolean {
  if (node === null || typeof node !== 'object') return false;
  if (Array.isArray(node)) return node.some((x) => refersToTarget(x, target));
  const o = node as Json;
  if (o.CurrentOfExpr !== undefined) return true;
  const ref = obj(o.ColumnRef);
  if (ref !== undefined) {
    const fields = arr(ref.fields);
    // `SELECT *` in a subquery names the subquery's own columns.
    if (fields.length === 1) return obj(fields[0])?.A_Star === undefined;
    const qualifier = str(obj(obj(fields[fields.length - 2])?.String)?.sval);
    return qualifier === undefined || qualifier === target.ref;
  }
  for (const key in o) if (refersToTarget(o[key], target)) return true;
  return false;
}

/** `CreateTableAsStmt` → `CREATE TABLE AS`. */
function labelOf(type: string): string {
  return type
    .replace(/Stmt$/, '')
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toUpperCase();
}

function objectLabel(objtype: unknown): string {
  return (str(objtype) ?? 'OBJECT_UNKNOWN').replace(/^OBJECT_/, '').replace(/_/g, ' ');
}

/** The label of a top-level statement, e.g. `SELECT`, `DROP TABLE`, `EXPLAIN ANALYZE`. */
function kindOf(type: string, b: Json): string {
  switch (type) {
    case 'SelectStmt':
      if (b.intoClause !== undefined) return 'SELECT INTO';
      return b.valuesLists !== undefined && b.targetList === undefined ? 'VALUES' : 'SELECT';
    case 'InsertStmt': return 'INSERT';
    case 'UpdateStmt': return 'UPDATE';
    case 'DeleteStmt': return 'DELETE';
    case 'MergeStmt': return 'MERGE';
    case 'VariableSetStmt': {
      const k = str(b.kind) ?? '';
      const what = b.name === 'role' ? ' ROLE' : b.name === 'session_authorization' ? ' SESSION AUTHORIZATION' : '';
      return (k.startsWith('VAR_RESET') ? 'RESET' : 'SET') + what;
    }
    case 'VariableShowStmt': return 'SHOW';
    case 'TransactionStmt':
      if (b.kind === 'TRANS_STMT_PREPARE') return 'PREPARE TRANSACTION';
      return (str(b.kind) ?? 'TRANS_STMT_').replace(/^TRANS_STMT_/, '').replace(/_/g, ' ');
    case 'DropStmt': return `DROP ${objectLabel(b.removeType)}`;
    case 'RenameStmt': return `ALTER ${objectLabel(b.renameType)} RENAME`;
    case 'AlterOwnerStmt': return `ALTER ${objectLabel(b.objectType)} OWNER`;
    case 'AlterObjectSchemaStmt': return `ALTER ${objectLabel(b.objectType)} SET SCHEMA`;
    case 'AlterTableStmt': return `ALTER ${objectLabel(b.objtype)}`;
    case 'DefineStmt': return `CREATE ${objectLabel(b.kind)}`;
    case 'CommentStmt': return 'COMMENT';
    case 'CreateStmt': return 'CREATE TABLE';
    case 'IndexStmt': return 'CREATE INDEX';
    case 'ViewStmt': return 'CREATE VIEW';
    case 'RuleStmt': return 'CREATE RULE';
    case 'CreateTrigStmt': return 'CREATE TRIGGER';
    case 'CreatedbStmt': return 'CREATE DATABASE';
    case 'DropdbStmt': return 'DROP DATABASE';
    case 'CreateFunctionStmt': return b.is_procedure === true ? 'CREATE PROCEDURE' : 'CREATE FUNCTION';
    case 'GrantStmt': return b.is_grant === true ? 'GRANT' : 'REVOKE';
    case 'GrantRoleStmt': return b.is_grant === true ? 'GRANT ROLE' : 'REVOKE ROLE';
    case 'CopyStmt': return b.is_from === true ? 'COPY FROM' : 'COPY TO';
    case 'VacuumStmt': return b.is_vacuumcmd === true ? 'VACUUM' : 'ANALYZE';
    case 'ExplainStmt': return explainAnalyze(b) ? 'EXPLAIN ANALYZE' : 'EXPLAIN';
    case 'CreateTableAsStmt':
      if (b.is_select_into === true) return 'SELECT INTO';
      return b.objtype === 'OBJECT_MATVIEW' ? 'CREATE MATERIALIZED VIEW' : 'CREATE TABLE AS';
    case 'RefreshMatViewStmt': return 'REFRESH MATERIALIZED VIEW';
    case 'DeclareCursorStmt': return 'DECLARE CURSOR';
    case 'ClosePortalStmt': return 'CLOSE';
    case 'FetchStmt': return b.ismove === true ? 'MOVE' : 'FETCH';
    case 'DoStmt': return 'DO';
    case 'ConstraintsSetStmt': return 'SET CONSTRAINTS';
    case 'CheckPointStmt': return 'CHECKPOINT';
    default: return labelOf(type);
  }
}

/** Whether an EXPLAIN runs its statement (ANALYZE without an explicit false). */
function explainAnalyze(b: Json): boolean {
  for (const o of arr(b.options)) {
    const d = obj(obj(o)?.DefElem);
    const name = str(d?.defname)?.toLowerCase();
    if (d === undefined || (name !== 'analyze' && name !== 'analyse')) continue;
    if (d.arg === undefined) return true;
    const a = obj(d.arg);
    const v = str(obj(a?.String)?.sval) ?? (obj(a?.Boolean) !== undefined ? String(obj(a?.Boolean)?.boolval === true) : undefined)
      ?? (obj(a?.Integer) !== undefined ? String(obj(a?.Integer)?.ival ?? 0) : undefined);
    if (v === undefined || !FALSE_WORDS.has(v.toLowerCase())) return true;
  }
  return false;
}

/** Walks one top-level statement and accumulates its part. */
class Walker {
  readonly part: PartBuilder;
  /** The statement read or changed session state, so its result must not be cached. */
  sessionBound = false;
  private depth = 0;

  private readonly maxDepth: number;

  constructor(
    private readonly config: Config,
    private readonly session: AnalysisSession | undefined,
    kind: string,
    maxDepth = config.maxDepth,
  ) {
    this.part = new PartBuilder(kind);
    this.maxDepth = maxDepth;
  }

  /** Visit any JSON value from the parse tree. */
  visit(v: unknown, env: Env): void {
    if (v === null || typeof v !== 'object') return;
    if (++this.depth > this.maxDepth) throw new TooDeep();
    if (Array.isArray(v)) {
      for (const x of v) this.visit(x, env);
    } else {
      const o = v as Json;
      // A struct embedded without a node wrapper that names a relation (`relation`, `view`,
      // `sequence` fields of statements): a table in whatever role the caller set.
      if (typeof o.relname === 'string') this.relation(o, env.access);
      for (const key in o) {
        const child = o[key];
        if (isNodeKey(key)) this.node(key, child, env);
        else if (child !== null && typeof child === 'object') this.visit(child, env);
      }
    }
    this.depth--;
  }

  /** Visit the fields of a node body, leaving out the named ones. */
  private fields(b: unknown, env: Env, skip?: ReadonlySet<string>): void {
    const o = obj(b);
    if (o === undefined) return;
    if (++this.depth > this.maxDepth) throw new TooDeep();
    for (const key in o) {
      if (skip?.has(key) === true) continue;
      const child = o[key];
      if (child !== null && typeof child === 'object') this.visit(child, env);
    }
    this.depth--;
  }

  private relation(rv: Json | undefined, access: 'read' | 'write'): void {
    const name = str(rv?.relname);
    if (name !== undefined) this.part.table(name, str(rv?.schemaname), access);
  }

  /** Dispatch on a wrapped node `{Type: body}`. */
  node(type: string, body: unknown, env: Env): void {
    const b = obj(body) ?? {};
    switch (type) {
      case 'SelectStmt': return this.select(b, env);
      case 'InsertStmt':
      case 'UpdateStmt':
      case 'DeleteStmt':
      case 'MergeStmt': return this.dml(type, b, env);
      case 'RangeVar': {
        const name = str(b.relname);
        if (name !== undefined && b.schemaname === undefined && env.ctes?.has(name) === true) return;
        this.relation(b, env.access);
        return;
      }
      case 'FuncCall': return this.funcCall(b, env);
      case 'A_Expr': {
        const k = str(b.kind) ?? '';
        if (!k.startsWith('AEXPR_BETWEEN') && !k.startsWith('AEXPR_NOT_BETWEEN')) this.operator(b.name);
        return this.fields(b, env, SKIP_NAME);
      }
      case 'SortBy':
        if (b.useOp !== undefined) this.operator(b.useOp);
        return this.fields(b, env, SKIP_USEOP);
      case 'SubLink':
        if (b.operName !== undefined) this.operator(b.operName);
        return this.fields(b, env, SKIP_OPERNAME);
      case 'LockingClause':
        // FOR UPDATE/SHARE locks rows and needs UPDATE privilege; PostgreSQL refuses it in
        // read-only transactions.
        this.part.raise('write').flag('row_lock');
        return this.fields(b, env);
      case 'RangeTableSample': {
        const m = names(b.method);
        const method = m?.[m.length - 1];
        if (m === undefined || m.length > 2 || method === undefined || !TABLESAMPLE_METHODS.has(method)) {
          this.part.unknown(`TABLESAMPLE method ${m?.join('.') ?? '?'} is not a built-in`);
        }
        return this.fields(b, env, SKIP_METHOD);
      }
      case 'CommonTableExpr': return this.fields(b, env);
      case 'CreateStmt':
        this.part.raise('schema');
        this.relation(obj(b.relation), 'write');
        return this.fields(b, READ_ENV, SKIP_RELATION);
      case 'AlterTableStmt': {
        this.part.raise('schema');
        for (const c of arr(b.cmds)) {
          const sub = str(obj(obj(c)?.AlterTableCmd)?.subtype) ?? '';
          if (PRIVILEGE_AT.has(sub)) this.part.raise('privilege');
          if (sub.includes('Trig')) this.part.flag('trigger_change');
        }
        this.relation(obj(b.relation), 'write');
        return this.fields(b, READ_ENV, SKIP_RELATION);
      }
      case 'DropStmt': return this.drop(b);
      case 'RenameStmt':
        this.part.raise(b.renameType === 'OBJECT_ROLE' ? 'privilege' : 'schema');
        return this.fields(b, WRITE_ENV);
      case 'CreateFunctionStmt':
      case 'AlterFunctionStmt':
        this.part.raise('schema');
        if (securityDefiner(b.options) || securityDefiner(b.actions)) this.part.raise('privilege').flag('security_definer');
        // The body runs later, when called; what it contains still shows what it may do.
        return this.fields(b, READ_ENV);
      case 'TruncateStmt':
        this.part.raise('write').flag('no_where', 'truncate');
        if (b.behavior === 'DROP_CASCADE') this.part.flag('cascade');
        return this.fields(b, WRITE_ENV);
      case 'LockStmt':
        this.part.raise('write').flag('table_lock');
        return this.fields(b, WRITE_ENV);
      case 'CopyStmt': return this.copy(b);
      case 'ExplainStmt': return this.explain(b, env);
      case 'CreateTableAsStmt':
        // Creates a table and fills it: schema and write, reported as the riskier (schema).
        this.part.raise('schema').raise('write');
        this.relation(obj(obj(b.into)?.rel), 'write');
        return this.fields(b, READ_ENV, SKIP_INTO);
      case 'VariableSetStmt': return this.setStmt(b);
      case 'TransactionStmt':
        if (TWO_PHASE.has(str(b.kind) ?? '')) {
          // PREPARE TRANSACTION hands the transaction (and its locks) to the server, beyond
          // this session; COMMIT/ROLLBACK PREPARED finish any session's prepared transaction,
          // by name: they act on someone else's writes.
          this.part.raise('admin').flag('prepared_transaction');
          return;
        }
        this.part.raise('transaction');
        if (arr(b.options).some(readWriteOption)) this.part.flag('read_write');
        return;
      case 'DoStmt':
        this.part.raise('execute').flag('dynamic_sql');
        return this.fields(b, env);
      case 'CallStmt': {
        this.part.raise('execute');
        const fc = obj(b.funccall);
        const n = names(fc?.funcname);
        if (n !== undefined) this.part.fn(n.join('.').toLowerCase());
        return this.fields(fc, env, SKIP_FUNCNAME);
      }
      case 'RefreshMatViewStmt':
        this.part.raise('write').flag('whole_table');
        return this.fields(b, WRITE_ENV);
      case 'LoadStmt':
        // Loads a shared library into the server process.
        this.part.raise('admin').flag('file_access');
        if (typeof b.filename === 'string') this.part.path(b.filename, 'read');
        return;
      case 'CreateSubscriptionStmt':
        this.part.raise('admin').flag('network');
        return this.fields(b, WRITE_ENV);
      case 'PrepareStmt': return this.prepare(b, env);
      case 'ExecuteStmt': return this.execute(b, env);
      case 'DeallocateStmt':
        this.sessionBound = true;
        this.part.raise('session');
        if (this.session !== undefined) {
          if (b.isall === true) this.session.prepared.clear();
          else if (typeof b.name === 'string') this.session.prepared.delete(b.name);
        }
        return;
      case 'DiscardStmt':
        if (b.target === 'DISCARD_ALL') {
          // DISCARD ALL includes SET SESSION AUTHORIZATION DEFAULT and DEALLOCATE ALL.
          this.sessionBound = true;
          this.part.raise('privilege').flag('role_change');
          this.session?.prepared.clear();
        } else {
          this.part.raise('session');
        }
        return;
      default: {
        const cls = BY_TYPE[type];
        if (cls !== undefined) {
          this.part.raise(cls);
          return this.fields(b, cls === 'read' || cls === 'session' || cls === 'transaction' ? READ_ENV : WRITE_ENV);
        }
        if (PASSIVE.has(type)) return this.fields(b, env);
        this.part.unknown(`unsupported syntax: ${type}`);
      }
    }
  }

  private select(b: Json, env: Env): void {
    this.part.raise('read');
    const scope = this.withClause(b.withClause, env);
    const inner: Env = { access: 'read', ctes: scope };
    const into = obj(b.intoClause);
    if (into !== undefined) {
      // SELECT INTO creates a table, like CREATE TABLE AS.
      this.part.raise('schema');
      this.relation(obj(into.rel), 'write');
    }
    const larg = obj(b.larg);
    const rarg = obj(b.rarg);
    if (larg !== undefined) this.select(larg, inner);
    if (rarg !== undefined) this.select(rarg, inner);
    this.fields(b, inner, SKIP_SELECT);
  }

  private dml(type: string, b: Json, env: Env): void {
    this.part.raise('write');
    const scope = this.withClause(b.withClause, env);
    this.relation(obj(b.relation), 'write');
    if (obj(b.onConflictClause)?.action === 'ONCONFLICT_UPDATE') this.part.flag('upsert');
    this.fields(b, { access: 'read', ctes: scope }, SKIP_DML);
    // After the visit, which has bounded the depth of the tree.
    if (wholeTable(type, b)) this.part.flag('no_where');
  }

  /** Visit the CTEs of a WITH clause; returns the CTE names visible to the statement body. */
  private withClause(w: unknown, env: Env): ReadonlySet<string> | null {
    const wc = obj(w);
    if (wc === undefined) return env.ctes;
    const visible = new Set(env.ctes ?? []);
    const ctes = arr(wc.ctes).map((c) => obj(obj(c)?.CommonTableExpr));
    // In WITH RECURSIVE every CTE sees every name; otherwise a CTE sees only earlier ones,
    // so `WITH t AS (SELECT * FROM t)` reads the real table t.
    if (wc.recursive === true) for (const c of ctes) if (typeof c?.ctename === 'string') visible.add(c.ctename);
    for (const c of ctes) {
      if (c === undefined) {
        this.part.unknown('unsupported syntax in WITH');
        continue;
      }
      const q = obj(c.ctequery);
      if (q !== undefined && Object.keys(q).some((k) => DML.has(k))) this.part.flag('data_modifying_cte');
      this.fields(c, { access: 'read', ctes: new Set(visible) });
      if (typeof c.ctename === 'string') visible.add(c.ctename);
    }
    return visible;
  }

  private operator(nameList: unknown): void {
    const n = names(nameList);
    const op = n?.[n.length - 1];
    if (n === undefined || op === undefined || n.length > 2 || (n.length === 2 && n[0] !== 'pg_catalog') || !BUILTIN_OPERATORS.has(op)) {
      this.part.unknown(`operator ${n?.join('.') ?? '?'} is not a built-in operator`).flag('unknown_operator');
    }
  }

  private funcCall(b: Json, env: Env): void {
    const n = names(b.funcname);
    if (n === undefined || n.length === 0) {
      this.part.unknown('function call with an unexpected name');
      return this.fields(b, env, SKIP_FUNCNAME);
    }
    const base = n[n.length - 1] as string;
    const schema = n.length > 1 ? n[n.length - 2] : undefined;
    const display = n.slice(-2).join('.');
    this.part.fn(display.toLowerCase());
    const builtin = n.length === 1 || (n.length === 2 && schema === 'pg_catalog');
    const args = arr(b.args);
    let effect: FunctionEffect | undefined;
    if (builtin && base === 'set_config') {
      const name = constValue(args[0]);
      if (name === null) {
        effect = { class: 'unknown', flags: ['dynamic_sql', 'side_effect_function'] };
        this.part.unknown('set_config with a setting name that is not a constant');
      } else {
        const value = constValue(args[1]);
        const e = settingEffect(name, value === null ? null : [value]);
        if (e.error !== undefined) this.part.unknown(e.error);
        effect = { class: e.class, flags: [...e.flags, 'side_effect_function'] };
      }
    } else if (builtin && base === 'ts_rewrite') {
      // The two-argument form runs the query given as text; the three-argument form is pure.
      effect = args.length === 3 ? { class: 'read', flags: [] } : { class: 'execute', flags: ['dynamic_sql', 'side_effect_function'] };
    } else {
      effect = this.config.effects.get(base) ?? DANGEROUS_FUNCTIONS.get(base) ?? dangerousByPrefix(base);
    }
    const known = (builtin && SAFE_FUNCTIONS.has(base)) || this.config.safe.has(n.length === 1 ? base : display) ||
      (EXTENSION_SAFE_FUNCTIONS.has(base) && (n.length === 1 || (n.length === 2 && EXTENSION_SCHEMAS.has(schema ?? ''))));
    if (effect !== undefined) {
      this.part.raise(effect.class).flag(...effect.flags);
    } else if (!known) {
      this.part.unknown(`function ${display} is not known to be free of side effects`).flag('unknown_function');
    }
    this.fields(b, env, SKIP_FUNCNAME);
  }

  private drop(b: Json): void {
    const type = str(b.removeType) ?? '';
    this.part.raise(type === 'OBJECT_POLICY' ? 'privilege' : 'schema');
    if (b.behavior === 'DROP_CASCADE') this.part.flag('cascade');
    if (!DROP_RELATIONS.has(type)) return this.fields(b, WRITE_ENV);
    for (const o of arr(b.objects)) {
      const n = names(obj(obj(o)?.List)?.items);
      if (n === undefined || n.length === 0) {
        this.part.unknown('DROP of an unexpected object name');
        continue;
      }
      this.part.table(n[n.length - 1] as string, n.length > 1 ? n[n.length - 2] : undefined, 'write');
    }
  }

  private copy(b: Json): void {
    const from = b.is_from === true;
    const rel = obj(b.relation);
    if (rel !== undefined) this.relation(rel, from ? 'write' : 'read');
    this.part.raise(from ? 'write' : 'read');
    const target = str(b.filename);
    if (target !== undefined) {
      if (b.is_program === true) {
        // COPY ... PROGRAM runs a shell command on the database server.
        this.part.raise('execute').flag('program_exec').program(target);
      } else {
        this.part.raise('admin').flag('file_access').path(target, from ? 'read' : 'write');
      }
    }
    this.fields(b, READ_ENV, SKIP_RELATION);
  }

  private explain(b: Json, env: Env): void {
    if (explainAnalyze(b)) {
      // EXPLAIN ANALYZE executes the statement.
      this.part.flag('explain_analyze');
      this.visit(b.query, env);
      return this.fields(b, env, SKIP_QUERY);
    }
    // Plain EXPLAIN only plans; planning can still evaluate functions declared immutable,
    // so anything unknown inside stays unknown.
    const inner = this.sub('EXPLAIN');
    inner.visit(b.query, env);
    const p = inner.part.build();
    this.sessionBound ||= inner.sessionBound;
    this.part.raise('read');
    if (p.class === 'unknown') this.part.unknown(p.error ?? 'not understood');
    for (const t of p.objects.tables) this.part.table(t.name, t.schema, 'read');
    for (const f of p.objects.functions) this.part.fn(f);
    this.fields(b, env, SKIP_QUERY);
  }

  private setStmt(b: Json): void {
    const kind = str(b.kind) ?? '';
    const name = str(b.name) ?? '';
    if (kind === 'VAR_SET_MULTI') {
      // SET TRANSACTION ..., SET SESSION CHARACTERISTICS AS TRANSACTION ...
      this.part.raise('transaction');
      if (arr(b.args).some(readWriteOption)) this.part.flag('read_write');
      return;
    }
    if (kind === 'VAR_RESET_ALL') {
      this.part.raise('session');
      return;
    }
    let values: string[] | null = [];
    if (kind === 'VAR_SET_VALUE') {
      for (const a of arr(b.args)) {
        const v = constValue(a);
        if (v === null) {
          values = null;
          break;
        }
        values.push(v);
      }
    }
    const e = settingEffect(name, values);
    if (e.error !== undefined) this.part.unknown(e.error);
    this.part.raise(e.class).flag(...e.flags);
  }

  private prepare(b: Json, env: Env): void {
    this.sessionBound = true;
    const inner = this.sub(kindOfNode(b.query));
    inner.visit(b.query, env);
    const p = inner.part.build();
    this.part.absorb(p).flag('prepare');
    const name = str(b.name);
    if (this.session === undefined || name === undefined) return;
    // If the name is taken the server keeps the old statement and rejects this one, so the
    // recorded intent must cover both.
    const old = this.session.prepared.get(name);
    const parts: PartIntent[] = old === undefined ? [p] : [...old.parts, p];
    this.session.prepared.set(name, combineParts(LANGUAGE, parts));
  }

  private execute(b: Json, env: Env): void {
    this.sessionBound = true;
    this.part.flag('prepared');
    this.fields(b, env);
    const name = str(b.name);
    const prepared = name === undefined ? undefined : this.session?.prepared.get(name);
    if (prepared === undefined) {
      this.part.unknown(`EXECUTE of prepared statement ${name ?? '?'} that was not seen in this session`);
      return;
    }
    if (prepared.parts.length === 0) this.part.unknown(prepared.error ?? 'prepared statement not understood');
    for (const p of prepared.parts) this.part.absorb(p);
  }

  private sub(kind: string): Walker {
    return new Walker(this.config, this.session, kind, this.maxDepth - this.depth);
  }
}

const SKIP_NAME = new Set(['name']);
const SKIP_USEOP = new Set(['useOp']);
const SKIP_OPERNAME = new Set(['operName']);
const SKIP_METHOD = new Set(['method']);
const SKIP_FUNCNAME = new Set(['funcname']);
const SKIP_RELATION = new Set(['relation']);
const SKIP_INTO = new Set(['into']);
const SKIP_QUERY = new Set(['query']);
const SKIP_SELECT = new Set(['withClause', 'intoClause', 'larg', 'rarg']);
const SKIP_DML = new Set(['withClause', 'relation']);

/** `READ WRITE` among transaction options. */
function readWriteOption(o: unknown): boolean {
  const d = obj(obj(o)?.DefElem);
  return d?.defname === 'transaction_read_only' && constValue(d.arg) === '0';
}

function securityDefiner(list: unknown): boolean {
  for (const o of arr(list)) {
    const d = obj(obj(o)?.DefElem);
    if (d?.defname === 'security' && obj(obj(d.arg)?.Boolean)?.boolval === true) return true;
  }
  return false;
}

function kindOfNode(node: unknown): string {
  const o = obj(node);
  if (o === undefined) return 'UNKNOWN';
  const type = Object.keys(o)[0] ?? 'UNKNOWN';
  return kindOf(type, obj(o[type]) ?? {});
}

export class PostgresAnalyser implements Analyser {
  readonly language = LANGUAGE;
  private readonly maxInput: number;
  private readonly config: Config;

  /** Use createPostgresAnalyser(): the WASM parser must be loaded first. */
  constructor(options: PostgresAnalyserOptions = {}) {
    this.maxInput = options.maxInputLength ?? MAX_POSTGRES_INPUT;
    this.config = {
      maxDepth: options.maxDepth ?? MAX_POSTGRES_DEPTH,
      safe: new Set(options.safeFunctions ?? []),
      effects: new Map(Object.entries(options.functionEffects ?? {})),
    };
  }

  analyse(command: string, session?: AnalysisSession): Intent {
    return this.analyseCacheable(command, session).intent;
  }

  analyseCacheable(command: string, session?: AnalysisSession): CacheableResult {
    try {
      return this.run(command, session);
    } catch (e) {
      // Never throw: anything unexpected is unknown.
      const reason = e instanceof TooDeep ? 'statement nested too deeply to analyse' : `analysis failed: ${errorText(e)}`;
      return { intent: unknownIntent(LANGUAGE, reason), cacheable: false };
    }
  }

  /** Analyse an already parsed tree (exposed for tests of the walker itself). */
  analyseTree(tree: { stmts?: unknown[] }, session?: AnalysisSession): CacheableResult {
    const stmts = arr(tree.stmts);
    if (stmts.length === 0) {
      const empty = new PartBuilder('EMPTY', 'read').build();
      return { intent: combineParts(LANGUAGE, [empty]), cacheable: true };
    }
    const parts: PartIntent[] = [];
    let cacheable = true;
    for (const raw of stmts) {
      const stmt = obj(obj(raw)?.stmt);
      const type = stmt === undefined ? undefined : Object.keys(stmt)[0];
      if (stmt === undefined || type === undefined) {
        parts.push(new PartBuilder('UNKNOWN').unknown('statement missing from the parse tree').build());
        continue;
      }
      const w = new Walker(this.config, session, kindOf(type, obj(stmt[type]) ?? {}));
      w.visit(stmt, READ_ENV);
      if (w.sessionBound) cacheable = false;
      parts.push(w.part.build());
    }
    return { intent: combineParts(LANGUAGE, parts, parts.length > 1 ? ['multi_statement'] : []), cacheable };
  }

  private run(command: string, session: AnalysisSession | undefined): CacheableResult {
    if (typeof command !== 'string') return { intent: unknownIntent(LANGUAGE, 'command is not a string'), cacheable: false };
    if (command.length > this.maxInput) {
      return {
        intent: unknownIntent(LANGUAGE, `input of ${command.length} characters is over the ${this.maxInput} limit for analysis`),
        cacheable: false,
      };
    }
    // The wire protocol ends a query at a NUL byte; the parser would too. Text after it
    // would be invisible here but might not be to whatever forwards the raw string.
    if (command.includes('\u0000')) return { intent: unknownIntent(LANGUAGE, 'input contains a NUL character'), cacheable: true };
    if (command.trim() === '') return this.analyseTree({ stmts: [] }, session);
    let tree: { stmts?: unknown[] };
    try {
      tree = parseSync(command) as { stmts?: unknown[] };
    } catch (e) {
      return { intent: unknownIntent(LANGUAGE, `parse error: ${errorText(e)}`), cacheable: true };
    }
    return this.analyseTree(tree, session);
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

let loading: Promise<void> | undefined;

/** Load the PostgreSQL parser (once per process) and return an analyser. */
export async function createPostgresAnalyser(options: PostgresAnalyserOptions = {}): Promise<PostgresAnalyser> {
  loading ??= loadModule();
  await loading;
  return new PostgresAnalyser(options);
}
