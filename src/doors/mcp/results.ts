// Gate outcomes as MCP tool results. Rows and output have already been through the gate's
// secret redaction and masking; this only shapes them: structured content for programs, the
// same facts as text for models.
import type { CallToolResult, Tool } from '@modelcontextprotocol/server';
import type { GateOutcome } from '../../gate/gate.js';

/** Text results longer than this are cut (the structured content keeps everything). */
const MAX_TEXT = 200_000;

export const QUERY_OUTPUT_SCHEMA: NonNullable<Tool['outputSchema']> = {
  type: 'object',
  properties: {
    columns: { type: 'array', items: { type: 'string' }, description: 'Column names of the rows' },
    rows: { type: 'array', items: { type: 'array' }, description: 'One array of values per row, in column order' },
    rowCount: { type: 'integer', description: 'Rows returned, or affected by a write' },
    truncated: { type: 'boolean', description: 'True when the row cap cut the result' },
    commandTag: { type: 'string' },
  },
  required: ['columns', 'rows', 'rowCount', 'truncated'],
};

export const EXEC_OUTPUT_SCHEMA: NonNullable<Tool['outputSchema']> = {
  type: 'object',
  properties: {
    exitCode: { type: ['integer', 'null'], description: 'null when the command was killed' },
    stdout: { type: 'string' },
    stderr: { type: 'string' },
    truncated: { type: 'boolean', description: 'True when output was cut at the output cap' },
    timedOut: { type: 'boolean' },
  },
  required: ['exitCode', 'stdout', 'stderr', 'truncated', 'timedOut'],
};

export function toolError(text: string, structured?: Record<string, unknown>): CallToolResult {
  return { isError: true, content: [{ type: 'text', text }], ...(structured ? { _meta: { 'sluice/refusal': structured } } : {}) };
}

export function formatQueryResult(outcome: GateOutcome): CallToolResult {
  const result = outcome.result!;
  if (!result.ok) return toolError(`The query failed: ${result.error?.message ?? 'unknown error'}${result.error?.code ? ` (${result.error.code})` : ''}`);
  const columns = (result.columns ?? []).map((column) => column.name);
  const rows = (result.rows ?? []).map((row) => row.map(jsonValue));
  const structured = {
    columns,
    rows,
    rowCount: result.rowCount ?? rows.length,
    truncated: result.truncated ?? false,
    ...(result.commandTag ? { commandTag: result.commandTag } : {}),
  };
  const masked = outcome.masked && outcome.masked.values > 0 ? ` Masked columns: ${outcome.masked.columns.join(', ')}.` : '';
  const head = `${result.commandTag ?? 'OK'}: ${structured.rowCount} row${structured.rowCount === 1 ? '' : 's'}${structured.truncated ? ' (truncated at the row cap)' : ''}.${masked}`;
  const table = columns.length > 0 ? `\n${[columns.join('\t'), ...rows.map((row) => row.map(cell).join('\t'))].join('\n')}` : '';
  return { content: [{ type: 'text', text: clip(head + table) }], structuredContent: structured };
}

export function formatExecResult(outcome: GateOutcome): CallToolResult {
  const result = outcome.result!;
  const structured = {
    exitCode: result.exitCode ?? null,
    stdout: result.stdout ?? '',
    stderr: result.stderr ?? '',
    truncated: result.truncated ?? false,
    timedOut: result.timedOut ?? false,
  };
  if (!result.ok && result.exitCode === undefined) {
    return toolError(`The command could not run: ${result.error?.message ?? 'unknown error'}`);
  }
  const status = structured.timedOut
    ? 'timed out and was killed'
    : structured.exitCode === null
      ? `was killed${result.signal ? ` by ${result.signal}` : ''}`
      : `exited with code ${structured.exitCode}`;
  const parts = [
    `The command ${status}${structured.truncated ? ' (output cut at the output cap)' : ''}.`,
    ...(structured.stdout ? [`stdout:\n${structured.stdout}`] : []),
    ...(structured.stderr ? [`stderr:\n${structured.stderr}`] : []),
  ];
  return {
    content: [{ type: 'text', text: clip(parts.join('\n')) }],
    structuredContent: structured,
    ...(structured.exitCode === 0 && !structured.timedOut ? {} : { isError: true }),
  };
}

/** A call that did not run: denied, rejected, expired, withdrawn, or (return-pending) still held. */
export function formatRefusal(outcome: GateOutcome): CallToolResult {
  const { decision, review } = outcome;
  const id = review?.reviewId;
  const facts = { status: outcome.status, rule: decision.rule, action: outcome.action.id, ...(id ? { review: id } : {}) };
  switch (outcome.status) {
    case 'denied':
      return toolError(`Denied by Sluice policy rule "${decision.rule}": ${decision.reason}. The command did not run.`, facts);
    case 'rejected':
      return toolError(
        `Review ${id} was rejected${review?.by ? ` by ${review.by}` : ''}${review?.note ? `: ${review.note}` : ''} (rule "${decision.rule}"). The command did not run.`,
        facts,
      );
    case 'expired':
      return toolError(`Review ${id} timed out: nobody approved it in time (rule "${decision.rule}"). The command did not run.`, facts);
    case 'cancelled':
      return toolError(`Review ${id} was withdrawn because the call was cancelled. The command did not run.`, facts);
    case 'pending':
      return toolError(
        `Pending: Sluice holds this call for review ${id} (rule "${decision.rule}": ${decision.reason}). It has not run. ` +
          `Ask a human to approve it (sluice reviews approve ${id}), then call this tool again with the same arguments.`,
        facts,
      );
    default:
      return toolError(`The command did not run (${outcome.status}).`, facts);
  }
}

/** Values JSON can carry unchanged; dates as ISO text, binary as base64, bigint as text. */
function jsonValue(value: unknown): unknown {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? String(value) : value.toISOString();
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (typeof value === 'bigint') return value.toString();
  return value;
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.replace(/[\t\n\r]/g, (c) => (c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

function clip(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}\n[... cut at ${MAX_TEXT} characters; the structured content has everything]` : text;
}
