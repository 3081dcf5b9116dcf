// Policy errors carry the config path of what was wrong (`policy.rules[3].when`) as a string
// for people and as segments for the config loader, which maps segments to a line in the
// YAML file.

export type PathSegment = string | number;

export interface PolicyIssue {
  /** Path from the root of the config file, e.g. ['policy', 'rules', 3, 'when']. */
  path: PathSegment[];
  message: string;
}

/** Renders ['policy', 'rules', 3, 'when'] as `policy.rules[3].when`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

export class PolicyError extends Error {
  override readonly name = 'PolicyError';
  /** The first issue's path as text, e.g. `policy.rules[3].when`. */
  readonly path: string;
  /** The first issue's message without the path. */
  readonly detail: string;
  /** The first issue's path as segments, for mapping to a YAML node. */
  readonly pathSegments: PathSegment[];
  /** Index of the offending entry in `policy.rules`, when the issue is inside one. */
  readonly ruleIndex?: number;
  /** Name (or preset) of the offending entry, when it has one. */
  readonly ruleName?: string;
  /** Every issue found; the first one is also described by the fields above. */
  readonly issues: readonly PolicyIssue[];

  constructor(issues: PolicyIssue[], ruleName?: string) {
    const first = issues[0] ?? { path: ['policy'], message: 'invalid policy' };
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''})` : '';
    super(`${formatPath(first.path)}: ${first.message}${more}`);
    this.issues = issues.length > 0 ? issues : [first];
    this.detail = first.message;
    this.pathSegments = first.path;
    this.path = formatPath(first.path);
    const [root, section, index] = first.path;
    if (root === 'policy' && section === 'rules' && typeof index === 'number') this.ruleIndex = index;
    if (ruleName !== undefined) this.ruleName = ruleName;
  }
}
