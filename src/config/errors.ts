// Configuration problems carry file, line, column and the field path, so that a user sees
// `sluice.yaml:12:5: connections.db.port: expected a number` and can fix it at once.

export interface ConfigIssue {
  file: string;
  line?: number;
  column?: number;
  /** Dotted field path such as `connections.db.port` or `policy.rules[2].when`. */
  path: string;
  message: string;
}

export function formatIssue(issue: ConfigIssue): string {
  const where = issue.line ? `${issue.file}:${issue.line}:${issue.column ?? 1}` : issue.file;
  return issue.path ? `${where}: ${issue.path}: ${issue.message}` : `${where}: ${issue.message}`;
}

export class ConfigError extends Error {
  readonly issues: ConfigIssue[];

  constructor(issues: ConfigIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}
