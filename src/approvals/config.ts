// The review-rule part of `approvals:` in sluice.yaml, and how a held command's requirements
// follow from it. Rules are keyed by the name of the policy rule that holds the command, so
// policy decides *whether* a human must look and this section decides *who* and *how*:
//
//   approvals:
//     rules:
//       prod-writes: { approvers: [dba], quorum: 2, justification: true, timeout: 10m, grants: [once, session] }
//     destructive: [schema, privilege, admin, unknown]   # approved once only, never by a grant
//     grants: { default: 30m, max: 8h }
//     lease: 30s                                         # a held caller's node must beat within this
import { z } from 'zod';
import { INTENT_CLASSES, type Action, type IntentClass } from '../gate/types.js';
import { isPresetRule, type RuleConfig } from '../policy/schema.js';
import { PRESET_NAMES } from '../policy/presets.js';
import type { GrantScope, ReviewRequirements } from '../store/store.js';
import { parseDuration } from '../util/units.js';

export const GRANT_SCOPES = ['once', 'session', 'pattern'] as const satisfies readonly GrantScope[];

const duration = z.string().transform((text, ctx) => {
  try {
    const ms = parseDuration(text);
    if (ms > 2_147_483_647) ctx.addIssue({ code: 'custom', message: 'duration must be at most 24d' });
    return ms;
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

const group = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/i, 'group names use letters, digits, ".", "_" or "-" (max 63)');

export const reviewRuleSchema = z
  .object({
    /** Groups whose human members may vote; default approvals.approvers. */
    approvers: z.array(group).min(1).optional(),
    /** Distinct approvals needed. */
    quorum: z.number().int().min(1).max(20).default(1),
    /** Votes must carry a note saying why. */
    justification: z.boolean().default(false),
    /** How long the request waits before it expires (denied); default approvals.timeout. */
    timeout: duration.optional(),
    /** Which grants approvers may give with their approval (`once`, approving just this command, always may). */
    grants: z.array(z.enum(GRANT_SCOPES)).min(1).default([...GRANT_SCOPES]),
    /** The longest grant; default approvals.grants.max. */
    max_grant: duration.optional(),
    /** Everything this rule holds is approved once only. */
    destructive: z.boolean().default(false),
  })
  .strict();
export type ReviewRuleConfig = z.output<typeof reviewRuleSchema>;

export const approvalRulesSchema = z.record(z.string().min(1).max(200), reviewRuleSchema).default({});

export const approvalsExtraShape = {
  /** Intent classes that are approved once only: no grant ever covers them. */
  destructive: z.array(z.enum(INTENT_CLASSES)).default(['schema', 'privilege', 'admin', 'unknown']),
  grants: z
    .object({
      /** A grant's lifetime when the approver names none. */
      default: duration.default(30 * 60_000),
      /** The longest grant anybody may give. */
      max: duration.default(8 * 3_600_000),
    })
    .strict()
    .refine((g) => g.default <= g.max, { message: 'grants.default must not be longer than grants.max' })
    .default({ default: 30 * 60_000, max: 8 * 3_600_000 }),
  /**
   * A node holding a caller renews its claim every lease/6; a pending review whose holder has
   * not renewed within the lease is cancelled (the node or its caller is gone).
   */
  lease: duration.refine((ms) => ms >= 300, { message: 'lease must be at least 300ms' }).default(30_000),
};

export const approvalsExtraDefaults = {
  destructive: ['schema', 'privilege', 'admin', 'unknown'] as IntentClass[],
  grants: { default: 30 * 60_000, max: 8 * 3_600_000 },
  lease: 30_000,
};

/** The approvals section as the approvals module reads it. */
export interface ApprovalSettings {
  timeout: number;
  approvers: string[];
  rules: Record<string, ReviewRuleConfig>;
  destructive: IntentClass[];
  grants: { default: number; max: number };
  lease: number;
}

/**
 * A review rule must name a policy rule with effect `review` (or one a preset generates,
 * `PREFIX/NAME`): a misspelt key would otherwise leave a rule with default settings.
 */
export function checkApprovalRuleNames(rules: Record<string, unknown>, policy: readonly RuleConfig[], ctx: z.RefinementCtx): void {
  const custom = new Map<string, string>();
  const prefixes = new Set<string>(PRESET_NAMES);
  for (const rule of policy) {
    if (isPresetRule(rule)) prefixes.add(rule.name ?? rule.preset);
    else custom.set(rule.name, rule.effect);
  }
  for (const name of Object.keys(rules)) {
    const effect = custom.get(name);
    const slash = name.indexOf('/');
    if (effect === 'review' || (effect === undefined && slash > 0 && prefixes.has(name.slice(0, slash)))) continue;
    ctx.addIssue({
      code: 'custom',
      path: ['approvals', 'rules', name],
      message:
        effect === undefined
          ? `there is no policy rule named "${name}" (approvals.rules are keyed by the name of a rule with effect review)`
          : `policy rule "${name}" has effect ${effect}; only rules with effect review hold commands`,
    });
  }
}

/** What the rule that held `action` asks for, and whether the command may only be approved once. */
export function requirementsFor(settings: ApprovalSettings, rule: string, action: Action): { requirements: ReviewRequirements; timeoutMs: number } {
  const own = settings.rules[rule];
  const destructive = own?.destructive === true || action.intent.classes.some((c) => settings.destructive.includes(c));
  const grants: GrantScope[] = destructive ? ['once'] : [...new Set<GrantScope>(['once', ...(own?.grants ?? GRANT_SCOPES)])];
  return {
    requirements: {
      approvers: [...(own?.approvers ?? settings.approvers)],
      quorum: own?.quorum ?? 1,
      justification: own?.justification ?? false,
      grants,
      maxGrantMs: Math.min(own?.max_grant ?? settings.grants.max, settings.grants.max),
    },
    timeoutMs: own?.timeout ?? settings.timeout,
  };
}

/** Requirements of a review opened before store version 4 (or without settings): the old behaviour. */
export function defaultRequirements(approvers: readonly string[]): ReviewRequirements {
  return { approvers: [...approvers], quorum: 1, justification: false, grants: ['once'], maxGrantMs: 0 };
}
