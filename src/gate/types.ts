// The vocabulary of the gate. Doors build Actions, analysers produce Intents, the policy
// turns an Action into a Decision. Nothing here knows a wire protocol.

export type PrincipalKind = 'human' | 'agent' | 'service';

export interface Principal {
  kind: PrincipalKind;
  name: string;
  groups: string[];
  /** For an agent: the human it acts for, if any. */
  onBehalfOf?: string;
  /** Id of the API key (or token) that authenticated this principal. */
  credentialId?: string;
}

/**
 * What a command does, from least to most dangerous for policy purposes. `unknown` is used
 * for anything that did not parse or that the analyser does not understand; it is never
 * treated as `read`.
 */
export const INTENT_CLASSES = [
  'read',
  'transaction',
  'session',
  'write',
  'network',
  'schema',
  'execute',
  'admin',
  'privilege',
  /** Asking to see the value behind a placeholder (`POST /v1/reveal`); never produced by an analyser. */
  'reveal',
  'unknown',
] as const;
export type IntentClass = (typeof INTENT_CLASSES)[number];

/** Rank used to find the riskiest part of a multi-part command. */
export function classRank(c: IntentClass): number {
  return INTENT_CLASSES.indexOf(c);
}

export function riskiestClass(classes: Iterable<IntentClass>): IntentClass {
  let worst: IntentClass | undefined;
  for (const c of classes) if (worst === undefined || classRank(c) > classRank(worst)) worst = c;
  return worst ?? 'unknown';
}

export interface TableRef {
  /** Schema when written in the command (e.g. `public`), otherwise undefined. */
  schema?: string;
  name: string;
  access: 'read' | 'write';
}

export interface PathRef {
  path: string;
  access: 'read' | 'write';
}

export interface IntentObjects {
  tables: TableRef[];
  /** Programs run (shell), after unwrapping wrappers like sudo/env/timeout. */
  programs: string[];
  paths: PathRef[];
  hosts: string[];
  /** Functions called (SQL), normalised to lower case, schema-qualified when written so. */
  functions: string[];
}

/** The intent of one statement or one simple command inside the input. */
export interface PartIntent {
  class: IntentClass;
  /** Short label such as `SELECT`, `UPDATE`, `CREATE TABLE`, `rm`. */
  kind: string;
  objects: IntentObjects;
  flags: string[];
  /** Why the part is `unknown`, when it is. */
  error?: string;
}

export interface Intent {
  /** Language the analyser used: `postgres`, `shell`, ... */
  language: string;
  /** The riskiest class among the parts. */
  class: IntentClass;
  /** Every class that occurs among the parts (deduplicated). */
  classes: IntentClass[];
  /** Union of the parts' objects. */
  objects: IntentObjects;
  /** Union of the parts' risk flags, plus input-level flags such as `multi_statement`. */
  flags: string[];
  parts: PartIntent[];
  /** Set when the whole input could not be parsed. */
  error?: string;
}

export type Effect = 'allow' | 'deny' | 'review';

export interface ConnectionRef {
  name: string;
  kind: string;
  labels: Record<string, string>;
}

export interface Action {
  id: string;
  /**
   * What the audit records keep as the command when the command text itself carries argument
   * values (an upstream tool call): the same text with the values as keyed digests.
   */
  auditCommand?: string;
  time: Date;
  principal: Principal;
  /** A door-chosen id grouping the actions of one client session. */
  session: string;
  connection: ConnectionRef;
  /** The door the command came through: `api`, `postgres`, `mcp`, `cli`, ... */
  door: string;
  /** The raw command exactly as it will run. */
  command: string;
  intent: Intent;
  /** Structured arguments (MCP tool arguments and the like), available to policy. */
  args?: Record<string, unknown>;
  /** Facts the door knows (client program, tool name): recorded with the decision, not used by policy. */
  detail?: Readonly<Record<string, unknown>>;
}

export interface Decision {
  effect: Effect;
  /** Name of the rule that decided; `default-deny` when no rule matched. */
  rule: string;
  /** Human-readable reason, safe to show to the caller. */
  reason: string;
  /** Masking profile the deciding rule names, if any. */
  mask?: string;
  /** The deciding rule lets placeholders in the command be swapped for their values (masking/detokenise.ts). */
  detokenise?: boolean;
  /** Every rule that matched, in policy order, for explanations. */
  matched: { rule: string; effect: Effect }[];
}

/** The policy as the gate sees it: compiled, fast, synchronous. */
export interface PolicyDecider {
  decide(action: Action): Decision;
}
