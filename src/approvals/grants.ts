// Just-in-time grants: an approver who approves a held command may let later commands like it
// through for a while, so that people are not asked fifty times in five minutes.
//   session: the same principal, connection and rule, in the same session;
//   pattern: the same principal, connection and rule, in any session, when the command has the
//            same pattern key: the statement shape (literals replaced, analyse/sql-shape.ts) for
//            SQL, the program and its subcommand for shell, the tool for MCP.
// A grant never covers a command that is riskier than the one approved (a higher class, or a
// risk flag the approved command did not have), nor a destructive one (approvals/config.ts).
import { postgresShape } from '../analyse/sql-shape.js';
import { classRank, type Action, type IntentClass } from '../gate/types.js';
import type { GrantRecord } from '../store/store.js';

/** Plain words only: anything with quotes, expansions or operators has no shell pattern. */
const PLAIN_SHELL = /^[A-Za-z0-9_./=:@,+%-]+(?:[ \t]+[A-Za-z0-9_./=:@,+%-]+)*$/;

/**
 * The pattern key of a command (what a pattern grant matches on), with a readable form; none
 * when the command has no pattern Sluice can trust (then only once or session grants apply).
 */
export function patternOf(action: Pick<Action, 'command' | 'intent'>): { key: string; display: string } | undefined {
  const { intent } = action;
  if (intent.class === 'unknown' || intent.error) return undefined;
  if (intent.language === 'postgres') {
    const shape = postgresShape(action.command);
    return shape === undefined ? undefined : { key: `sql:${shape}`, display: shape };
  }
  if (intent.language === 'shell') {
    const text = action.command.trim();
    if (!PLAIN_SHELL.test(text) || intent.parts.length !== 1 || intent.objects.programs.length !== 1) return undefined;
    const words = text.split(/[ \t]+/);
    const program = words[0]!;
    // A path or a wrapper (sudo, env...) would name another program than the one that runs.
    if (program !== intent.objects.programs[0]) return undefined;
    const sub = words.slice(1).find((w) => !w.startsWith('-'));
    const display = sub ? `${program} ${sub}` : program;
    return { key: `shell:${display}`, display: `${display} ...` };
  }
  if (intent.language === 'mcp') {
    const tool = action.command.trim();
    return tool ? { key: `mcp:${tool}`, display: `${tool}(...)` } : undefined;
  }
  return undefined;
}

/** Whether an active grant covers this command held by `rule` (the store already filtered principal, connection, rule and time). */
export function grantCovers(grant: GrantRecord, action: Action, rule: string): boolean {
  if (grant.rule !== rule || grant.principal !== action.principal.name || grant.connection !== action.connection.name) return false;
  if (grant.scope === 'session' && grant.session !== action.session) return false;
  if (grant.scope === 'pattern' && (grant.pattern === undefined || patternOf(action)?.key !== grant.pattern)) return false;
  // Never riskier than what was approved.
  const approvedClass = grant.summary.class as IntentClass | undefined;
  const approvedFlags = new Set(Array.isArray(grant.summary.flags) ? (grant.summary.flags as string[]) : []);
  if (!approvedClass || classRank(action.intent.class) > classRank(approvedClass)) return false;
  return action.intent.flags.every((f) => approvedFlags.has(f));
}
