// Compiles validated rules into a PolicyDecider. Everything that can be worked out once is:
// CEL is compiled at load time, identical conditions are shared, and the rules that can apply
// to a (connection, door) pair are listed once and cached, so decide() only evaluates the
// conditions of rules in scope.
//
// Combining: every rule in scope whose condition holds matches; deny beats review beats
// allow; among matches with the winning effect the first in policy order decides. No match
// means deny. A condition that fails to evaluate makes its rule match as a deny (fail closed).
import type { Action, Decision, Effect, Intent, PolicyDecider } from '../gate/types.js';
import { activationToJSON, buildActivation, compileCondition, type Activation, type Condition } from './cel.js';
import { describeIntent } from './describe.js';
import { PolicyError, formatPath, type PathSegment, type PolicyIssue } from './errors.js';
import { PRESETS, isPresetName, type PresetName } from './presets.js';
import { isPresetRule, policyConfigSchema, type RuleConfig } from './schema.js';

export const DEFAULT_DENY_RULE = 'default-deny';
/** Names the decision when the policy itself failed (a bug or a malformed Action). */
export const POLICY_ERROR_RULE = 'policy-error';

/** A rule after preset expansion, as shown by explanations and `sluice policy show`. */
export interface CompiledRule {
  /** Position in policy order (0-based). */
  readonly index: number;
  /** Unique; preset rules are `PRESET/RULE` or, from a connection's `policy:`, `PRESET@CONNECTION/RULE`. */
  readonly name: string;
  readonly effect: Effect;
  /** The configured reason, or one made from the name and effect. */
  readonly reason: string;
  readonly mask?: string;
  /** Placeholders in an allowed command are swapped for their values. */
  readonly detokenise?: boolean;
  readonly description?: string;
  /** The whole condition as CEL text (scope conditions of a preset entry included); absent = always. */
  readonly when?: string;
  /** Connections in scope; absent = all. */
  readonly connections?: readonly string[];
  /** Doors in scope; absent = all. */
  readonly doors?: readonly string[];
  /** The preset this rule came from. */
  readonly preset?: PresetName;
  /** Where in the config the rule comes from, e.g. `policy.rules[2]` or `connections.prod-db.policy`. */
  readonly source: string;
}

export interface CompilePolicyInput {
  /**
   * `policy.rules` from the config. Validated again here, so loosely typed input (a preset
   * name from a command-line flag, a test fixture) is fine.
   */
  rules: readonly (RuleConfig | Readonly<Record<string, unknown>>)[];
  /** Connection name → preset name, from `connections.NAME.policy`. */
  connectionPresets?: Readonly<Record<string, string>>;
  /**
   * When given, scopes that name a connection or door outside these sets are errors: a typo
   * in the scope of a deny rule would otherwise make it silently never apply.
   */
  known?: { connections?: Iterable<string>; doors?: Iterable<string> };
}

export type RuleOutcome = 'out_of_scope' | 'no_match' | 'match' | 'error';

export interface RuleTrace {
  rule: string;
  /** The rule's configured effect (an erroring rule still counts as a deny). */
  effect: Effect;
  outcome: RuleOutcome;
  error?: string;
}

export interface PolicyExplanation {
  decision: Decision;
  /** The CEL variables as the rules saw them. */
  variables: Record<string, unknown>;
  /** Every rule in policy order with what happened to it. */
  rules: RuleTrace[];
}

interface RuleImpl {
  info: CompiledRule;
  /** Ids into CompiledPolicy's condition table; all must hold. */
  conds: number[];
  connections: ReadonlySet<string> | null;
  doors: ReadonlySet<string> | null;
}

const EFFECT_RANK: Record<Effect, number> = { allow: 0, review: 1, deny: 2 };
const CANDIDATE_CACHE_LIMIT = 4096;

// Memo values for a condition during one decision.
const UNSEEN = 0;
const TRUE = 1;
const FALSE = 2;
const FAILED = 3;

function defaultReason(name: string, effect: Effect): string {
  if (effect === 'allow') return `allowed by rule ${name}`;
  if (effect === 'deny') return `denied by rule ${name}`;
  return `rule ${name} requires approval`;
}

function errorText(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return (msg.split('\n')[0] ?? msg).trim();
}

/** Variables that can differ between commands of one cached Intent (see CompiledPolicy.decide). */
const UNCACHEABLE_VARIABLE = /\b(command|args|time)\b/;

interface CachedDecision {
  session: string;
  connection: Action['connection'];
  door: string;
  decision: Decision;
}

export class CompiledPolicy implements PolicyDecider {
  /** The rules in policy order, after preset expansion. */
  readonly rules: readonly CompiledRule[];
  readonly #impls: readonly RuleImpl[];
  readonly #conditions: readonly Condition[];
  readonly #conditionText: readonly string[];
  readonly #candidates = new Map<string, Int32Array>();
  /**
   * Decisions for cached (frozen, shared) Intents, per principal object: a door session asks
   * about the same statement shapes again and again. Used only when no condition reads what
   * differs between two commands of one shape or over time (`command`, `args`, `time`);
   * the session, connection and door are compared on every hit.
   */
  readonly #cacheable: boolean;
  readonly #decisions = new WeakMap<object, WeakMap<Intent, CachedDecision>>();

  /** Use compilePolicy(); the constructor trusts its input. */
  constructor(impls: RuleImpl[], conditions: Condition[], conditionText: string[]) {
    this.#impls = impls;
    this.#conditions = conditions;
    this.#conditionText = conditionText;
    this.rules = Object.freeze(impls.map((r) => r.info));
    this.#cacheable = !conditionText.some((text) => UNCACHEABLE_VARIABLE.test(text));
  }

  /** Never throws: any failure inside is a deny naming `policy-error`. */
  decide(action: Action): Decision {
    try {
      const intent = action.intent;
      const cacheable = this.#cacheable && typeof intent === 'object' && intent !== null && Object.isFrozen(intent) && typeof action.principal === 'object' && action.principal !== null;
      if (cacheable) {
        const hit = this.#decisions.get(action.principal)?.get(intent);
        if (hit && hit.session === action.session && hit.connection === action.connection && hit.door === action.door) return hit.decision;
      }
      const decision = this.#run(action, undefined).decision;
      if (cacheable) {
        let perPrincipal = this.#decisions.get(action.principal);
        if (!perPrincipal) this.#decisions.set(action.principal, (perPrincipal = new WeakMap()));
        Object.freeze(decision.matched);
        perPrincipal.set(intent, { session: action.session, connection: action.connection, door: action.door, decision: Object.freeze(decision) });
      }
      return decision;
    } catch (e) {
      return policyErrorDecision(e);
    }
  }

  /** decide() plus what happened to every rule and the variables the rules saw. */
  explain(action: Action): PolicyExplanation {
    const trace: RuleTrace[] = [];
    try {
      const { decision, activation } = this.#run(action, trace);
      return { decision, variables: activationToJSON(activation), rules: trace };
    } catch (e) {
      return { decision: policyErrorDecision(e), variables: {}, rules: trace };
    }
  }

  #candidatesFor(connection: string, door: string): Int32Array {
    const key = `${connection}\u0000${door}`;
    let list = this.#candidates.get(key);
    if (list) return list;
    const ids: number[] = [];
    this.#impls.forEach((r, i) => {
      if ((r.connections === null || r.connections.has(connection)) && (r.doors === null || r.doors.has(door))) ids.push(i);
    });
    list = Int32Array.from(ids);
    // Connection names come from config, but do not let a flood of odd names grow this.
    if (this.#candidates.size < CANDIDATE_CACHE_LIMIT) this.#candidates.set(key, list);
    return list;
  }

  #run(action: Action, trace: RuleTrace[] | undefined): { decision: Decision; activation: Activation } {
    const activation = buildActivation(action);
    const candidates = this.#candidatesFor(action.connection.name, action.door);
    const memo = new Uint8Array(this.#conditions.length);
    let condErrors: (string | undefined)[] | undefined;
    const matched: { rule: string; effect: Effect }[] = [];
    const matchedRules: RuleImpl[] = [];
    let best: RuleImpl | undefined;
    let bestRank = -1;
    let bestError: string | undefined;

    let next = 0;
    for (let i = 0; i < this.#impls.length; i++) {
      const rule = this.#impls[i] as RuleImpl;
      if (candidates[next] !== i) {
        trace?.push({ rule: rule.info.name, effect: rule.info.effect, outcome: 'out_of_scope' });
        continue;
      }
      next++;

      let holds = true;
      let error: string | undefined;
      for (const c of rule.conds) {
        let v = memo[c] as number;
        if (v === UNSEEN) {
          try {
            const result = (this.#conditions[c] as Condition)(activation);
            if (result === true) v = TRUE;
            else if (result === false) v = FALSE;
            else {
              v = FAILED;
              (condErrors ??= [])[c] = `condition returned ${typeof result}, not a bool`;
            }
          } catch (e) {
            v = FAILED;
            (condErrors ??= [])[c] = errorText(e);
          }
          memo[c] = v;
        }
        if (v === FALSE) {
          holds = false;
          break;
        }
        if (v === FAILED) {
          error = condErrors?.[c] ?? 'condition failed';
          break;
        }
      }

      if (!holds) {
        trace?.push({ rule: rule.info.name, effect: rule.info.effect, outcome: 'no_match' });
        continue;
      }
      const effect: Effect = error === undefined ? rule.info.effect : 'deny';
      matched.push({ rule: rule.info.name, effect });
      matchedRules.push(rule);
      trace?.push(
        error === undefined
          ? { rule: rule.info.name, effect: rule.info.effect, outcome: 'match' }
          : { rule: rule.info.name, effect: rule.info.effect, outcome: 'error', error },
      );
      const rank = EFFECT_RANK[effect];
      if (rank > bestRank) {
        best = rule;
        bestRank = rank;
        bestError = error;
      }
    }

    const summary = describeIntent(action.intent, activation.intent.class);
    if (best === undefined) {
      return {
        activation,
        decision: {
          effect: 'deny',
          rule: DEFAULT_DENY_RULE,
          reason: `no policy rule allows this command on connection ${JSON.stringify(action.connection.name)} via door ${JSON.stringify(action.door)} (${summary})`,
          matched,
        },
      };
    }

    const info = best.info;
    const effect: Effect = bestError === undefined ? info.effect : 'deny';
    const reason =
      bestError === undefined
        ? `${info.reason} (${summary})`
        : `rule ${info.name} denies because its condition failed to evaluate (fail-closed): ${bestError} (${summary})`;
    const decision: Decision = { effect, rule: info.name, reason, matched };
    const mask = effect === 'deny' ? info.mask : (info.mask ?? firstMask(matchedRules, matched));
    if (mask !== undefined) decision.mask = mask;
    if (effect !== 'deny' && info.detokenise === true) decision.detokenise = true;
    return { decision, activation };
  }

  /** Distinct CEL conditions after deduplication (for tests and diagnostics). */
  get conditionCount(): number {
    return this.#conditionText.length;
  }
}

/**
 * When the deciding rule names no mask, the first mask named by another matching allow or
 * review rule applies: a rule that asks for masking is not undone by a broader allow.
 */
function firstMask(rules: RuleImpl[], matched: { effect: Effect }[]): string | undefined {
  for (let i = 0; i < rules.length; i++) {
    if (matched[i]?.effect === 'deny') continue;
    const mask = rules[i]?.info.mask;
    if (mask !== undefined) return mask;
  }
  return undefined;
}

function policyErrorDecision(e: unknown): Decision {
  return {
    effect: 'deny',
    rule: POLICY_ERROR_RULE,
    reason: `the policy could not evaluate this command, so it is denied (fail-closed): ${errorText(e)}`,
    matched: [],
  };
}

function zodPathToIssuePath(path: readonly PropertyKey[]): PathSegment[] {
  return ['policy', ...path.map((p) => (typeof p === 'number' ? p : String(p)))];
}

/**
 * Validates and compiles the policy. Throws PolicyError (with the config path of the first
 * problem, and all problems in `issues`) for anything wrong: unknown keys, bad effects, CEL
 * that does not compile or names unknown variables or fields, unknown presets, duplicate
 * names, scopes naming unknown connections or doors (when `known` is given).
 */
export function compilePolicy(input: CompilePolicyInput): CompiledPolicy {
  const parsed = policyConfigSchema.safeParse({ rules: input.rules });
  if (!parsed.success) {
    const issues: PolicyIssue[] = parsed.error.issues.map((iss) => {
      const path = zodPathToIssuePath(iss.path);
      if (iss.code === 'unrecognized_keys' && iss.keys.length > 0) {
        return { path: [...path, iss.keys[0] as string], message: `unknown key${iss.keys.length > 1 ? 's' : ''} ${iss.keys.map((k) => JSON.stringify(k)).join(', ')}` };
      }
      return { path, message: iss.message };
    });
    throw new PolicyError(issues, ruleNameAt(input.rules, issues[0]?.path));
  }
  const rules = parsed.data.rules;
  const issues: PolicyIssue[] = [];

  const knownConnections = input.known?.connections ? new Set(input.known.connections) : undefined;
  const knownDoors = input.known?.doors ? new Set(input.known.doors) : undefined;
  const checkScope = (names: string[] | undefined, known: Set<string> | undefined, path: PathSegment[], what: string): void => {
    if (!names || !known) return;
    names.forEach((n, j) => {
      if (!known.has(n)) issues.push({ path: [...path, j], message: `unknown ${what} ${JSON.stringify(n)}` });
    });
  };

  const conditions: Condition[] = [];
  const conditionText: string[] = [];
  const conditionIds = new Map<string, number>();
  const condId = (text: string, path: PathSegment[]): number | undefined => {
    const known = conditionIds.get(text);
    if (known !== undefined) return known;
    const compiled = compileCondition(text);
    if (!compiled.ok) {
      issues.push({ path, message: compiled.message });
      return undefined;
    }
    conditions.push(compiled.fn);
    conditionText.push(text);
    conditionIds.set(text, conditions.length - 1);
    return conditions.length - 1;
  };

  const impls: RuleImpl[] = [];
  const add = (info: Omit<CompiledRule, 'index'>, conds: (number | undefined)[]): void => {
    if (conds.some((c) => c === undefined)) return;
    impls.push({
      info: Object.freeze({ ...info, index: impls.length }),
      conds: conds as number[],
      connections: info.connections ? new Set(info.connections) : null,
      doors: info.doors ? new Set(info.doors) : null,
    });
  };

  const expandPreset = (
    preset: PresetName,
    prefix: string,
    scope: { when?: string; connections?: string[]; doors?: string[]; description?: string },
    source: PathSegment[],
    whenPath: PathSegment[],
  ): void => {
    const scopeCond = scope.when === undefined ? [] : [condId(scope.when, whenPath)];
    for (const pr of PRESETS[preset]) {
      add(
        {
          name: `${prefix}/${pr.name}`,
          effect: pr.effect,
          reason: pr.reason,
          when: scope.when === undefined ? pr.when : `(${scope.when}) && (${pr.when})`,
          preset,
          source: formatSource(source),
          ...(scope.description !== undefined && { description: scope.description }),
          ...(scope.connections !== undefined && { connections: Object.freeze([...scope.connections]) }),
          ...(scope.doors !== undefined && { doors: Object.freeze([...scope.doors]) }),
        },
        [...scopeCond, condId(pr.when, [...source, 'preset'])],
      );
    }
  };

  rules.forEach((r, i) => {
    const path: PathSegment[] = ['policy', 'rules', i];
    checkScope(r.connections, knownConnections, [...path, 'connections'], 'connection');
    checkScope(r.doors, knownDoors, [...path, 'doors'], 'door');
    if (isPresetRule(r)) {
      expandPreset(r.preset, r.name ?? r.preset, r, path, [...path, 'when']);
      return;
    }
    add(
      {
        name: r.name,
        effect: r.effect,
        reason: r.reason ?? defaultReason(r.name, r.effect),
        source: formatSource(path),
        ...(r.description !== undefined && { description: r.description }),
        ...(r.when !== undefined && { when: r.when }),
        ...(r.mask !== undefined && { mask: r.mask }),
        ...(r.detokenise === true && { detokenise: true }),
        ...(r.connections !== undefined && { connections: Object.freeze([...r.connections]) }),
        ...(r.doors !== undefined && { doors: Object.freeze([...r.doors]) }),
      },
      r.when === undefined ? [] : [condId(r.when, [...path, 'when'])],
    );
  });

  for (const [connection, preset] of Object.entries(input.connectionPresets ?? {})) {
    const path: PathSegment[] = ['connections', connection, 'policy'];
    if (!isPresetName(preset)) {
      issues.push({ path, message: `unknown preset ${JSON.stringify(preset)}; expected one of: ${Object.keys(PRESETS).join(', ')}` });
      continue;
    }
    if (knownConnections && !knownConnections.has(connection)) {
      issues.push({ path, message: `unknown connection ${JSON.stringify(connection)}` });
      continue;
    }
    expandPreset(preset, `${preset}@${connection}`, { connections: [connection] }, path, path);
  }

  if (issues.length > 0) throw new PolicyError(issues, ruleNameAt(input.rules, issues[0]?.path));
  return new CompiledPolicy(impls, conditions, conditionText);
}

function formatSource(path: PathSegment[]): string {
  return formatPath(path);
}

function ruleNameAt(rules: CompilePolicyInput['rules'], path: PathSegment[] | undefined): string | undefined {
  if (!path || path[0] !== 'policy' || path[1] !== 'rules' || typeof path[2] !== 'number') return undefined;
  const r = rules[path[2]] as Partial<Record<'name' | 'preset', unknown>> | undefined;
  const id = r?.name ?? r?.preset;
  return typeof id === 'string' ? id : undefined;
}
