// Zod schemas for the `policy:` section of sluice.yaml. The config module embeds
// `policyConfigSchema` in the whole-file schema; every object is strict so a misspelt key
// (`conections:`) is an error instead of a rule that silently applies everywhere.
import { z } from 'zod';
import type { Effect } from '../gate/types.js';
import { compileCondition } from './cel.js';
import { PRESET_NAMES, type PresetName } from './presets.js';

export const EFFECTS = ['allow', 'deny', 'review'] as const satisfies readonly Effect[];

export const RULE_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]*$/;

export const ruleNameSchema = z
  .string()
  .max(100, { error: 'rule names are at most 100 characters' })
  .regex(RULE_NAME_PATTERN, {
    error: 'rule names use lower-case letters, digits, ".", "_" and "-", and start with a letter or digit',
  });

/** For `connections.NAME.policy` in the config module. */
export const presetNameSchema = z.enum(PRESET_NAMES, {
  error: (iss) => `unknown preset ${JSON.stringify(iss.input)}; expected one of: ${PRESET_NAMES.join(', ')}`,
});

/** A `when:` expression; it must compile against the policy's CEL variables. */
export const celConditionSchema = z
  .string()
  .trim()
  .min(1, { error: 'empty condition; omit `when` to match every command in scope' })
  .max(8000, { error: 'conditions are at most 8000 characters' })
  .superRefine((expr, ctx) => {
    const compiled = compileCondition(expr);
    if (!compiled.ok) ctx.addIssue({ code: 'custom', message: compiled.message });
  });

function scopeList(what: string) {
  return z
    .array(z.string().min(1, { error: `empty ${what} name` }), { error: `expected a list of ${what} names` })
    .min(1, { error: `an empty list would match nothing; omit the key to match every ${what}` });
}

const entryObject = z.strictObject({
  name: ruleNameSchema.optional(),
  description: z.string().max(2000).optional(),
  preset: presetNameSchema.optional(),
  when: celConditionSchema.optional(),
  connections: scopeList('connection').optional(),
  doors: scopeList('door').optional(),
  effect: z.enum(EFFECTS, { error: 'expected one of: allow, deny, review' }).optional(),
  reason: z.string().trim().min(1).max(1000).optional(),
  mask: z.string().min(1).optional(),
  /** Placeholders in the command are swapped for their values before it runs (docs/masking.md). */
  detokenise: z.boolean().optional(),
});

/** A rule written in full. */
export interface CustomRuleConfig {
  name: string;
  description?: string;
  /** CEL condition; absent means every command in scope. */
  when?: string;
  /** Connection names the rule applies to; absent means all. */
  connections?: string[];
  /** Door names the rule applies to; absent means all. */
  doors?: string[];
  effect: Effect;
  reason?: string;
  /** Masking profile name (checked against the masking profiles by the config module). */
  mask?: string;
  /** Swap placeholders in the command for their values before it runs. */
  detokenise?: boolean;
}

/** `- preset: NAME`, expanded into the preset's rules, narrowed by the optional scope. */
export interface PresetRuleConfig {
  preset: PresetName;
  /** Prefix for the generated rule names instead of the preset name; needed to use a preset twice. */
  name?: string;
  description?: string;
  /** ANDed with each preset rule's condition. */
  when?: string;
  connections?: string[];
  doors?: string[];
}

export type RuleConfig = CustomRuleConfig | PresetRuleConfig;

export function isPresetRule(r: RuleConfig): r is PresetRuleConfig {
  return 'preset' in r && r.preset !== undefined;
}

const PRESET_ONLY_FORBIDDEN = ['effect', 'reason', 'mask', 'detokenise'] as const;

export const ruleConfigSchema = entryObject
  .superRefine((r, ctx) => {
    if (r.preset !== undefined) {
      for (const key of PRESET_ONLY_FORBIDDEN) {
        if (r[key] !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: `a preset entry cannot set \`${key}\`; write your own rule next to the preset instead`,
          });
        }
      }
      return;
    }
    if (r.name === undefined) ctx.addIssue({ code: 'custom', path: ['name'], message: 'a rule needs a name (or use `preset:`)' });
    if (r.effect === undefined) {
      ctx.addIssue({ code: 'custom', path: ['effect'], message: 'a rule needs an effect: allow, deny or review' });
    }
  })
  // The refinement above guarantees the shape; the cast only tells TypeScript.
  .transform((r) => r as RuleConfig);

export const policyConfigSchema = z
  .strictObject({
    rules: z.array(ruleConfigSchema).default([]),
  })
  .superRefine((policy, ctx) => {
    // One namespace for rule names and preset prefixes, so every decision names one rule.
    const seen = new Map<string, number>();
    policy.rules.forEach((r, i) => {
      const preset = isPresetRule(r);
      const id = preset ? (r.name ?? r.preset) : r.name;
      if (id === undefined) return;
      const first = seen.get(id);
      if (first === undefined) {
        seen.set(id, i);
        return;
      }
      ctx.addIssue({
        code: 'custom',
        path: ['rules', i, preset && r.name === undefined ? 'preset' : 'name'],
        message: preset
          ? `"${id}" is already used by rules[${first}]; give this preset entry its own \`name:\``
          : `duplicate rule name "${id}" (first used by rules[${first}])`,
      });
    });
  });

export type PolicyConfig = z.output<typeof policyConfigSchema>;
