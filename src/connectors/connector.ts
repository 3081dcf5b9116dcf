// Connectors run an allowed command against a target with the real credential. They are
// called only by the gate, after a decision and an audit record exist.

export interface ExecutionContext {
  /** Aborts a running command (caller went away, timeout). */
  signal?: AbortSignal;
  session: string;
}

export interface ColumnInfo {
  name: string;
  /** Database type name or OID as text, when known. */
  type?: string;
}

export interface ExecutionResult {
  ok: boolean;
  /** SQL: result columns and rows of the last statement that returned rows. */
  columns?: ColumnInfo[];
  rows?: unknown[][];
  /** Rows returned, or affected for a write. */
  rowCount?: number;
  /** SQL command tag of the last statement, e.g. `SELECT`, `UPDATE`. */
  commandTag?: string;
  /** Shell: captured output (each capped at the connection's output limit). */
  stdout?: string;
  stderr?: string;
  exitCode?: number | null;
  signal?: string | null;
  /** Output was cut at the limit. */
  truncated?: boolean;
  timedOut?: boolean;
  /** Why the command failed, in words safe to show the caller. */
  error?: { code: string; message: string };
}

export interface Connector {
  readonly kind: string;
  execute(command: string, context: ExecutionContext): Promise<ExecutionResult>;
  close(): Promise<void>;
}
