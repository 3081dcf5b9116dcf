// What the policy could do to a tool before any call: which rules are in scope for the door
// `mcp` and a connection, whether any of them could allow the call or send it to review, and
// a one-line summary for the tool's description. Conditions (`when`) are not evaluated here:
// they depend on the command, the arguments and the caller, which only a call supplies.
import type { CompiledRule } from '../../policy/index.js';
import { INTENT_CLASSES } from '../../gate/types.js';

export const MCP_DOOR = 'mcp';

export interface ScopeSummary {
  /**
   * True when some rule in scope has effect allow or review, and no unconditional deny rule is
   * in scope (deny beats everything, so nothing could then run).
   */
  couldRun: boolean;
  /** A sentence for the tool description, e.g. which intent classes are allowed. */
  text: string;
}

function inScope(rule: CompiledRule, connection: string): boolean {
  return (!rule.connections || rule.connections.includes(connection)) && (!rule.doors || rule.doors.includes(MCP_DOOR));
}

export function scopeSummary(rules: readonly CompiledRule[], connection: string): ScopeSummary {
  const scoped = rules.filter((rule) => inScope(rule, connection));
  const blanketDeny = scoped.find((rule) => rule.effect === 'deny' && rule.when === undefined);
  const open = scoped.filter((rule) => rule.effect !== 'deny');
  if (blanketDeny || open.length === 0) {
    return { couldRun: false, text: blanketDeny ? `rule ${blanketDeny.name} denies every call` : 'no rule allows any call' };
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
