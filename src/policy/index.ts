// The policy engine: rules in YAML with CEL conditions, compiled once into a PolicyDecider.
export { compilePolicy, CompiledPolicy, DEFAULT_DENY_RULE, POLICY_ERROR_RULE } from './compile.js';
export type { CompiledRule, CompilePolicyInput, PolicyExplanation, RuleOutcome, RuleTrace } from './compile.js';
export { PolicyError, formatPath } from './errors.js';
export type { PathSegment, PolicyIssue } from './errors.js';
export { PRESETS, PRESET_NAMES, isPresetName } from './presets.js';
export type { PresetName, PresetRule } from './presets.js';
export {
  policyConfigSchema,
  ruleConfigSchema,
  ruleNameSchema,
  presetNameSchema,
  celConditionSchema,
  isPresetRule,
  EFFECTS,
  RULE_NAME_PATTERN,
} from './schema.js';
export type { PolicyConfig, RuleConfig, CustomRuleConfig, PresetRuleConfig } from './schema.js';
export { CEL_VARIABLES, compileCondition, effectiveClass } from './cel.js';
export { describeIntent } from './describe.js';
export { PolicyHolder } from './watch.js';
export type { PolicyHolderOptions } from './watch.js';
