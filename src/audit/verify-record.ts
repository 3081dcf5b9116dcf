// The checks of one audit record that need nothing but the record: its hash over prevHash and
// body, the body's format version and seq, the search columns against the body. ChainChecker
// (verify.ts) runs them between its order and link checks; the offline verify of a large export
// runs them ahead in worker threads (verify-jsonl.ts) and hands ChainChecker the outcome, so
// both report the same first problem with the same message.
import { recordHash } from '../store/common.js';
import type { AuditRow } from '../store/store.js';
import { AUDIT_FORMAT_VERSION } from './record.js';
import type { AuditProblem } from './verify.js';
import { bodyFields } from './verify-scan.js';

export type Body = Record<string, unknown>;

/** Kinds whose body the checkpoint checks look into (checkpoints.ts). */
export const SPECIAL_KINDS = new Set(['checkpoint', 'key', 'system']);

/**
 * A problem found by recordChecks. A class, so that it is never mistaken for a parsed body.
 * `afterLink`: ChainChecker reports it only if the link to the record before holds.
 * `copyOf`: the body names an earlier seq; whether the record is a copy of that one or the
 * original pushed back depends on the records before (ChainChecker says which).
 */
export class RecordFault {
  constructor(
    readonly problem: AuditProblem | undefined,
    readonly afterLink = false,
    readonly copyOf?: number,
  ) {}

  /** The same fault after a trip through postMessage (which keeps the fields, not the class). */
  static from(v: { problem?: AuditProblem; afterLink?: boolean; copyOf?: number }): RecordFault {
    return new RecordFault(v.problem, v.afterLink ?? false, v.copyOf);
  }
}

/**
 * The record-only checks, in the order a sequential walk makes them. `parsed`: the body when
 * the caller has it parsed already (an export line); otherwise `row.body` is parsed here.
 * Returns the parsed body when the record passes.
 */
export function recordChecks(row: AuditRow, parsed?: Body): Body | RecordFault {
  const seq = row.seq;
  if (recordHash(row.prevHash, row.body) !== row.hash) {
    return new RecordFault({ seq, kind: 'edited', message: `record ${seq} was changed: its hash does not match its body and prevHash` });
  }
  let body = parsed;
  // Only the fields read here, when the scan can take them; the kinds the checkpoint checks
  // look into keep their whole body.
  if (body === undefined && !SPECIAL_KINDS.has(row.kind)) body = bodyFields(row.body);
  if (body === undefined) {
    try {
      body = JSON.parse(row.body) as Body;
    } catch {
      return new RecordFault({ seq, kind: 'malformed', message: `record ${seq}: the body is not valid JSON` });
    }
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return new RecordFault({ seq, kind: 'malformed', message: `record ${seq}: the body is not a JSON object` });
  }
  if (body.v !== AUDIT_FORMAT_VERSION) {
    return new RecordFault({ seq, kind: 'malformed', message: `record ${seq}: unknown body format version ${JSON.stringify(body.v)}` });
  }
  const bodySeq = body.seq;
  if (bodySeq !== seq) {
    if (typeof bodySeq !== 'number' || !Number.isSafeInteger(bodySeq) || bodySeq < 1) {
      return new RecordFault({ seq, kind: 'malformed', message: `record ${seq}: the body has no valid seq` });
    }
    if (bodySeq < seq) return new RecordFault(undefined, false, bodySeq);
    return new RecordFault({
      seq,
      kind: 'reordered',
      message: `the record stored as ${seq} is record ${bodySeq} by its body: records were moved, or removed and the rest renumbered`,
    });
  }
  const col = mismatchedColumn(row, body);
  if (col !== undefined) {
    const stored = (row as unknown as Record<string, unknown>)[col] ?? undefined;
    return new RecordFault(
      { seq, kind: 'column-mismatch', message: `record ${seq}: the ${col} column (${describe(stored)}) differs from the body (${describe(body[col])})` },
      true,
    );
  }
  return body;
}

/**
 * The first search column that differs from the body field of the same name (absent and
 * null columns equal an absent field). Written out rather than looped: this runs per record.
 */
function mismatchedColumn(row: AuditRow, body: Body): keyof AuditRow | undefined {
  if (row.time !== body.time) return 'time';
  if (row.kind !== body.kind) return 'kind';
  if ((row.actionId ?? undefined) !== body.actionId) return 'actionId';
  if ((row.session ?? undefined) !== body.session) return 'session';
  if ((row.principal ?? undefined) !== body.principal) return 'principal';
  if ((row.connection ?? undefined) !== body.connection) return 'connection';
  if ((row.effect ?? undefined) !== body.effect) return 'effect';
  return undefined;
}

function describe(v: unknown): string {
  return v === undefined ? 'absent' : JSON.stringify(v);
}
