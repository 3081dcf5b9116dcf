// What the policy could do to a tool before any call, for one principal: which rules are in
// scope for the door `mcp` and a connection, whether any of them could allow the call or send
// it to review, and a one-line summary for the tool's description.
//
// Conditions are evaluated with what is known before a call (the principal, the connection,
// the door, and for tools whose calls all have one intent class, `intent.class`) and what is
// not (the arguments, the command, the rest of the intent, the session, the time) left open:
// three-valued logic over `&&`, `||`, `!` and `?:`, and every other sub-expression that reads
// only known variables evaluated by the policy's own CEL. A rule that could match for some
// arguments keeps the tool listed; a deny rule hides it only when it matches whatever the
// arguments are.
// From the package's main entry: loading its `serialize` entry first breaks the package's own import cycle.
import { serialize, type ASTNode } from '@marcbachmann/cel-js';
import type { ConnectionRef, IntentClass, Principal } from '../../gate/types.js';
import { INTENT_CLASSES } from '../../gate/types.js';
import type { CompiledRule } from '../../policy/index.js';
import { buildActivation, compileCondition, type Activation } from '../../policy/cel.js';

export const MCP_DOOR = 'mcp';

export interface ScopeSummary {
  /**
   * True when some rule in scope could allow the call or send it to review for this principal,
   * and no deny rule in scope matches every such call (deny beats everything).
   */
  couldRun: boolean;
  /** A sentence for the tool description, e.g. which intent classes are allowed. */
  text: string;
}

/** What is known about a call before it is made. */
export interface CallFacts {
  principal: Principal;
  connection: ConnectionRef;
  /** Set when every call of the tool has this class (upstream tools: by name and annotations). */
  intentClass?: IntentClass;
}

function inScope(rule: CompiledRule, connection: string): boolean {
  return (!rule.connections || rule.connections.includes(connection)) && (!rule.doors || rule.doors.includes(MCP_DOOR));
}

/** Three-valued: true, false, or undefined when it depends on what only a call supplies. */
type Maybe = boolean | undefined;

/** Variables a tools/list request knows; `intent` only as `intent.class`, and only when fixed. */
const KNOWN_VARIABLES: ReadonlySet<string> = new Set(['principal', 'agent', 'on_behalf_of', 'connection', 'door']);
/** Macros whose first argument names a variable bound inside the call. */
const BINDING_MACROS: ReadonlySet<string> = new Set(['all', 'exists', 'exists_one', 'map', 'filter', 'transformList', 'transformMap']);

/** Whether a sub-expression reads only variables known before the call. */
function readsOnlyKnown(node: ASTNode, classKnown: boolean, bound: ReadonlySet<string>): boolean {
  switch (node.op) {
    case 'value':
      return true;
    case 'id':
      return bound.has(node.args) || KNOWN_VARIABLES.has(node.args);
    case '.':
    case '.?': {
      const [target, field] = node.args;
      if (target.op === 'id' && target.args === 'intent' && !bound.has('intent')) return classKnown && field === 'class';
      return readsOnlyKnown(target, classKnown, bound);
    }
    case 'rcall': {
      const [name, receiver, args] = node.args;
      if (!readsOnlyKnown(receiver, classKnown, bound)) return false;
      let inner = bound;
      if (BINDING_MACROS.has(name)) {
        const names = args.slice(0, -1).filter((arg) => arg.op === 'id').map((arg) => arg.args as string);
        inner = new Set([...bound, ...names]);
        return args.every((arg, i) => (i < args.length - 1 && arg.op === 'id') || readsOnlyKnown(arg, classKnown, inner));
      }
      return args.every((arg) => readsOnlyKnown(arg, classKnown, inner));
    }
    case 'call':
      return node.args[1].every((arg) => readsOnlyKnown(arg, classKnown, bound));
    case 'list':
      return node.args.every((arg) => readsOnlyKnown(arg, classKnown, bound));
    case 'map':
      return node.args.every(([key, value]) => readsOnlyKnown(key, classKnown, bound) && readsOnlyKnown(value, classKnown, bound));
    case '!_':
    case '-_':
      return readsOnlyKnown(node.args, classKnown, bound);
    default: {
      const args = node.args as unknown;
      return Array.isArray(args) && args.every((arg) => isNode(arg) && readsOnlyKnown(arg, classKnown, bound));
    }
  }
}

function isNode(value: unknown): value is ASTNode {
  return typeof value === 'object' && value !== null && 'op' in value && 'args' in value;
}

/** Evaluates a known-only sub-expression; anything but a clean true or false is "depends". */
function evaluateKnown(node: ASTNode, activation: Activation): Maybe {
  let text: string;
  try {
    text = serialize(node);
  } catch {
    return undefined;
  }
  const compiled = compileCondition(text);
  if (!compiled.ok) return undefined;
  try {
    const value = compiled.fn(activation);
    return typeof value === 'boolean' ? value : undefined;
  } catch {
    return undefined;
  }
}

function partial(node: ASTNode, activation: Activation, classKnown: boolean): Maybe {
  switch (node.op) {
    case '&&': {
      const left = partial(node.args[0], activation, classKnown);
      if (left === false) return false;
      const right = partial(node.args[1], activation, classKnown);
      if (right === false) return false;
      return left === true && right === true ? true : undefined;
    }
    case '||': {
      const left = partial(node.args[0], activation, classKnown);
      if (left === true) return true;
      const right = partial(node.args[1], activation, classKnown);
      if (right === true) return true;
      return left === false && right === false ? false : undefined;
    }
    case '!_': {
      const inner = partial(node.args, activation, classKnown);
      return inner === undefined ? undefined : !inner;
    }
    case '?:': {
      const [test, then, otherwise] = node.args;
      const cond = partial(test, activation, classKnown);
      if (cond === true) return partial(then, activation, classKnown);
      if (cond === false) return partial(otherwise, activation, classKnown);
      const a = partial(then, activation, classKnown);
      const b = partial(otherwise, activation, classKnown);
      return a !== undefined && a === b ? a : undefined;
    }
    case 'value':
      return typeof node.args === 'boolean' ? node.args : undefined;
    default:
      return readsOnlyKnown(node, classKnown, new Set()) ? evaluateKnown(node, activation) : undefined;
  }
}

/** The parsed condition of a rule (compileCondition hands back the parser's result, which carries it). */
function astOf(when: string): ASTNode | undefined {
  const compiled = compileCondition(when);
  if (!compiled.ok) return undefined;
  const ast = (compiled.fn as unknown as { ast?: unknown }).ast;
  return isNode(ast) ? ast : undefined;
}

/** The variables as a tools/list request knows them; the rest is empty and never read. */
function activationFor(facts: CallFacts): Activation {
  const cls = facts.intentClass ?? 'unknown';
  return buildActivation({
    id: '',
    time: new Date(0),
    principal: facts.principal,
    session: '',
    connection: facts.connection,
    door: MCP_DOOR,
    command: '',
    intent: { language: 'mcp', class: cls, classes: [cls], objects: { tables: [], programs: [], paths: [], hosts: [], functions: [] }, flags: [], parts: [] },
    args: {},
  });
}

/** Whether the rule's condition could hold for some call (`must: false`), or holds for every one (`must: true`). */
export function ruleMatches(rule: CompiledRule, facts: CallFacts, activation: Activation = activationFor(facts)): Maybe {
  if (rule.when === undefined) return true;
  const ast = astOf(rule.when);
  if (!ast) return undefined;
  return partial(ast, activation, facts.intentClass !== undefined);
}

/** The rules in scope for the connection and door mcp, and what each could do for these facts. */
export function scopeSummary(rules: readonly CompiledRule[], facts: CallFacts): ScopeSummary {
  const activation = activationFor(facts);
  const scoped = rules.filter((rule) => inScope(rule, facts.connection.name));
  const surely = scoped.find((rule) => rule.effect === 'deny' && ruleMatches(rule, facts, activation) === true);
  const open = scoped.filter((rule) => rule.effect !== 'deny' && ruleMatches(rule, facts, activation) !== false);
  if (surely || open.length === 0) {
    return { couldRun: false, text: surely ? `rule ${surely.name} denies every call` : 'no rule allows any call' };
  }
  const allowed = describeRules(open.filter((rule) => rule.effect === 'allow'));
  const reviewed = describeRules(open.filter((rule) => rule.effect === 'review'));
  const parts = [
    ...(allowed ? [`allowed: ${allowed}`] : []),
    ...(reviewed ? [`held for human approval: ${reviewed}`] : []),
    'anything else is denied',
  ];
  return { couldRun: true, text: `Sluice policy applies to every call (${parts.join('; ')}).` };
}

/** "read, transaction commands; some commands (rule x)" from the rules' conditions. */
function describeRules(rules: readonly CompiledRule[]): string {
  if (rules.length === 0) return '';
  if (rules.some((rule) => rule.when === undefined)) return 'every command';
  const classes = new Set<string>();
  const others: string[] = [];
  for (const rule of rules) {
    const found = classesIn(rule.when!);
    if (found) for (const c of found) classes.add(c);
    else others.push(rule.name);
  }
  const ordered = INTENT_CLASSES.filter((c) => classes.has(c));
  const items = [
    ...(ordered.length > 0 ? [`${ordered.join(', ')} commands`] : []),
    ...(others.length > 0 ? [`commands matching ${others.length === 1 ? 'rule' : 'rules'} ${others.slice(0, 5).join(', ')}${others.length > 5 ? ', ...' : ''}`] : []),
  ];
  return items.join(', ');
}

/**
 * The intent classes a condition is exactly about, for the two shapes presets and most rules
 * use: `intent.class == "x"` and `intent.class in ["x", "y"]`. Anything else: undefined.
 */
export function classesIn(when: string): string[] | undefined {
  const text = when.trim().replace(/^\((.*)\)$/s, '$1').trim();
  const single = /^intent\.class\s*==\s*"([a-z]+)"$/.exec(text);
  if (single) return [single[1]!];
  const list = /^intent\.class\s+in\s+\[([^\]]*)\]$/.exec(text);
  if (!list) return undefined;
  const items = list[1]!.split(',').map((item) => /^\s*"([a-z]+)"\s*$/.exec(item)?.[1]);
  return items.every((item): item is string => item !== undefined) ? items : undefined;
}
