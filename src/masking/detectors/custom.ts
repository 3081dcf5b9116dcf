// Custom rules from the config: regexes run with re2js (RE2 semantics: linear time, so no
// pattern an operator writes can hang the gateway) and dictionaries of literal words.
import { RE2JS } from 're2js';
import type { Candidate } from '../types.js';
import { PRIORITY, type ScanContext } from './context.js';

export interface CustomTextRule {
  type: string;
  regex?: string;
  /** Capture group that is the value (default: the whole match). */
  group?: number;
  case_insensitive?: boolean;
  dictionary?: string[];
  /**
   * Lower-case ASCII words one of which every match contains: the regex runs only on texts
   * that hold one, or hold any non-ASCII character (case folding can turn one into an ASCII
   * letter: "ſ" matches "s"). Built-in rules only; it must never skip a text the regex matches.
   */
  keywords?: readonly string[];
}

// eslint-disable-next-line no-control-regex -- any character past ASCII
const NON_ASCII = /[^\u0000-\u007f]/;

export type TextDetector = (ctx: ScanContext, out: Candidate[]) => void;

/** Compiles a custom rule; throws with a readable message on a pattern RE2 refuses. */
export function compileCustomRule(rule: CustomTextRule, index: number): TextDetector[] {
  const detectors: TextDetector[] = [];
  const ruleName = `custom:${rule.type}:${index}`;
  if (rule.regex !== undefined) {
    const pattern = RE2JS.compile(rule.regex, rule.case_insensitive ? RE2JS.CASE_INSENSITIVE : 0);
    const group = rule.group ?? 0;
    if (group > pattern.groupCount()) throw new Error(`custom rule ${rule.type}: group ${group} does not exist in the regex`);
    const keywords = rule.keywords;
    detectors.push((ctx, out) => {
      if (keywords && !keywords.some((word) => ctx.lower.includes(word)) && !NON_ASCII.test(ctx.text)) return;
      const matcher = pattern.matcher(ctx.text);
      while (matcher.find()) {
        const start = matcher.start(group);
        const end = matcher.end(group);
        if (start >= 0 && end > start) out.push({ type: rule.type, start, end, priority: PRIORITY.custom, rule: ruleName });
        if (matcher.end() === matcher.start() && matcher.end() >= ctx.text.length) break;
      }
    });
  }
  if (rule.dictionary && rule.dictionary.length > 0) {
    const words = [...new Set(rule.dictionary.map((word) => word.trim()).filter((word) => word.length > 0))];
    const lowered = words.map((word) => word.toLowerCase());
    // Literal alternatives between word boundaries: no user syntax reaches the regex engine.
    const regex = new RegExp(`(?<![\\p{L}\\p{N}_])(?:${words.sort((a, b) => b.length - a.length).map(escapeRegExp).join('|')})(?![\\p{L}\\p{N}_])`, 'giu');
    detectors.push((ctx, out) => {
      const lower = ctx.lower;
      if (!lowered.some((word) => lower.includes(word))) return;
      regex.lastIndex = 0;
      for (let m = regex.exec(ctx.text); m; m = regex.exec(ctx.text)) {
        out.push({ type: rule.type, start: m.index, end: m.index + m[0].length, priority: PRIORITY.custom, rule: ruleName });
      }
    });
  }
  return detectors;
}

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
