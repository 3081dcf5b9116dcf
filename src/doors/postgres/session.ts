// One client session after authentication: the client socket, its own upstream connection,
// and the byte-level state machine between them.
//
// Client → upstream. Frames are read whole. Query and Parse go to the gate first (admit);
// while the gate decides, later frames wait in order. Everything else is forwarded as is.
// A refused statement is replaced upstream by a statement that fails to parse (a "refusal
// marker"), and the upstream's error for it is replaced by the door's own: so the upstream
// transaction ends up exactly as PostgreSQL would leave it after an error (an open
// transaction block fails, an extended-protocol pipeline is skipped to Sync and its implicit
// transaction rolled back), and the door's error reaches the client at the right place in the
// response stream.
//
// Upstream → client. A queue of expected responses (one entry per forwarded message that gets
// an answer) says what each backend message belongs to. DataRows of results that need no
// masking are never looked at: runs of them are forwarded as slices of the received chunk, and
// a row larger than a chunk streams through without being buffered. Output is written once
// per received chunk (write batching) and reading pauses when the other side is not draining
// (back-pressure both ways).
import { isUtf8 } from 'node:buffer';
import type { Socket } from 'node:net';
import type { AnalysisSession } from '../../analyse/analyser.js';
import type { Admission, Gate, RunOptions } from '../../gate/gate.js';
import { GateError } from '../../gate/gate.js';
import type { Principal } from '../../gate/types.js';
import type { MaskReport } from '../../masking/columns.js';
import { errorMessageUnderMasking } from '../../masking/error-text.js';
import type { ReviewRecord } from '../../store/store.js';
import type { ExecutionResult } from '../../connectors/connector.js';
import type { Logger } from '../../util/log.js';
import { Assembler, maskDataRow, maskReport, planMask, type ResultMask } from './masking.js';
import {
  FrameReader,
  ProtocolError,
  TYPE,
  commandTag,
  describe as describeMessage,
  describeType,
  errorResponse,
  noticeResponse,
  parse as parseMessageOut,
  parseErrorFields,
  parseRowDescription,
  query as queryMessage,
  readCString,
  tagName,
  tagRowCount,
  terminate,
  redactedError,
  type ColumnDescription,
  type ErrorFields,
  type Frame,
} from './protocol.js';

/**
 * Sent upstream in place of a refused statement. It can never parse, so the server answers
 * with a syntax error, which the door replaces with its own error. The comment says why it
 * is in the server log.
 */
export const REFUSAL_MARKER = '/* sluice: statement refused by the gateway; this marker makes the server fail it */ SLUICE_REFUSED';

const DOOR = 'postgres';
/** Longest an outcome record waits to share an audit commit with the next decision. */
const OUTCOME_DELAY_MS = 5;
/** Writes smaller than this are joined into one buffer rather than written as a vector. */
const JOIN_BELOW = 16 * 1024;
/** While the gate decides, stop reading the client once this much is waiting. */
const HELD_INPUT_HIGH_WATER = 1024 * 1024;
/** What every placeholder starts with: a Bind parameter without it needs no de-tokenisation. */
const PLACEHOLDER_MARK = 'SLUICE_';

export interface SessionSettings {
  gate: Gate;
  principal: Principal;
  /** Connection name (the database name the client asked for). */
  connection: string;
  /** Session id used in Actions and audit records. */
  sessionId: string;
  maxMessageSize: number;
  /** 0 disables. */
  idleTimeoutMs: number;
  /** Asks the upstream server to cancel what this session's backend runs. */
  cancelUpstream: () => void;
  /** client_encoding reported by the upstream at startup. */
  clientEncoding: string;
  log: Logger;
  onClose: () => void;
}

interface StatementInfo {
  admission: Admission;
}

interface PortalInfo {
  statement: StatementInfo;
  /** From a Describe of the portal (client's or the door's own). */
  columns?: ColumnDescription[];
  /** A Describe of this portal is on its way. */
  describing: boolean;
  /** The bound parameter values (null for SQL NULL), for the outcome record's digests. */
  params: readonly (Buffer | null)[];
  /** Placeholders whose values went upstream in place of the parameters above (detokenise: true). */
  detokenised?: string[];
}

/** A statement running upstream: a simple Query, or one Execute of a portal. */
interface RunEntry {
  kind: 'run';
  extended: boolean;
  admission: Admission;
  portal?: PortalInfo;
  started: number;
  /** Rows counted from tags (and DataRows where a tag has no count). */
  rowCount: number;
  /** DataRows of the current result. */
  resultRows: number;
  tag?: string;
  error?: { code: string; message: string };
  mask?: ResultMask;
  /** Extended: whether the mask has been worked out from the portal's columns. */
  planned: boolean;
  report?: MaskReport;
  /** COPY TO STDOUT under a masking profile: data dropped, the statement fails. */
  copyRefused: boolean;
  /** Rows cannot be masked safely: dropped, the statement fails. */
  withheld?: string;
}

interface RefusalEntry {
  kind: 'refusal';
  /** The door's ErrorResponse that replaces the upstream's error for the marker. */
  error: Buffer;
  extended: boolean;
}

type Entry =
  | RunEntry
  | RefusalEntry
  | { kind: 'parse'; name: string; previous: StatementInfo | undefined; info: StatementInfo }
  | { kind: 'bind'; name: string; previous: PortalInfo | undefined; info: PortalInfo }
  | { kind: 'describe'; portal?: PortalInfo; internal: boolean }
  | { kind: 'close' }
  | { kind: 'sync' };

const enum DataMode {
  Pass = 0,
  Mask = 1,
  Drop = 2,
}

type Refusal = { refusal: Buffer };

export class ProxySession {
  private readonly reader: FrameReader;
  private readonly analysisSession: AnalysisSession = { prepared: new Map() };
  private readonly statements = new Map<string, StatementInfo>();
  private readonly portals = new Map<string, PortalInfo>();
  private entries: (Entry | undefined)[] = [];
  private head = 0;

  /** Transaction status from the last ReadyForQuery. */
  txStatus: number;
  private closed = false;
  private pumping = false;
  /** Waiting for the gate (client input is held). */
  private waiting = false;
  /** After a refusal in the extended protocol: client messages are dropped until Sync. */
  private discarding = false;
  /** The upstream is skipping messages until Sync after an error (as tracked here). */
  private upstreamSkipping = false;
  private holdAbort = new AbortController();
  private runOptions: RunOptions;
  /** Admissions already recorded as skipped (one outcome each). */
  private readonly skipped = new WeakSet<Admission>();
  /** Outcome records waiting to join the next decision's audit batch. */
  private outcomes: (() => void)[] = [];
  private outcomeTimer: NodeJS.Timeout | undefined;

  private upOut: Buffer[] = [];
  private upstreamBlocked = false;
  private clientBlocked = false;
  private clientPaused = false;

  // Upstream relay state.
  private dataMode: DataMode = DataMode.Pass;
  /** Bytes of a pass-through frame still to forward. */
  private passRemaining = 0;
  /** Bytes of a dropped frame still to skip. */
  private dropRemaining = 0;
  private partial: Buffer[] = [];
  private partialLength = 0;
  /** Size of the partial frame once its header is known; 0 before. */
  private partialNeed = 0;
  /** DataRows forwarded untouched since the last count. */
  private passRows = 0;
  /** Door messages waiting for the client stream to reach a message boundary. */
  private pendingToClient: Buffer[] = [];
  private idleTimer: NodeJS.Timeout | undefined;
  /** How statement text is decoded for analysis, from the client_encoding in force. */
  private encoding: EncodingClass = 'utf8';
  /** The upstream sent a FATAL error; it closes next, and the client has been told why. */
  private upstreamFatal = false;
  /** No more client input is handled (the session is about to close). */
  private stopInput = false;
  /**
   * Statements that may change client_encoding are on their way: the entries whose
   * ReadyForQuery ends that window, and whether the next Sync is one of them.
   */
  private readonly encodingRisk = new Set<Entry>();
  private encodingRiskNextSync = false;

  constructor(
    private readonly client: Socket,
    private readonly upstream: Socket,
    private readonly settings: SessionSettings,
    initialStatus: number,
    clientRest: Buffer,
    upstreamRest: Buffer,
  ) {
    this.txStatus = initialStatus;
    this.runOptions = { signal: this.holdAbort.signal, onHold: this.onHold };
    this.encoding = encodingClass(settings.clientEncoding) ?? 'utf8';
    this.reader = new FrameReader(settings.maxMessageSize);
    client.on('data', (chunk: Buffer) => this.onClientData(chunk));
    client.on('error', () => this.shutdown({ reason: 'client_error' }));
    client.on('close', () => this.shutdown({ reason: 'client_closed' }));
    upstream.on('data', (chunk: Buffer) => this.onUpstreamData(chunk));
    upstream.on('error', () => this.shutdown({ reason: 'upstream_error', ...(this.upstreamFatal ? {} : { fatal: upstreamLost() }) }));
    upstream.on('close', () => this.shutdown({ reason: 'upstream_closed', ...(this.upstreamFatal ? {} : { fatal: upstreamLost() }) }));
    if (settings.idleTimeoutMs > 0) {
      this.idleTimer = setTimeout(() => this.onIdle(), settings.idleTimeoutMs);
      this.idleTimer.unref();
    }
    if (upstreamRest.length > 0) this.onUpstreamData(upstreamRest);
    if (clientRest.length > 0) this.onClientData(clientRest);
    client.resume();
    upstream.resume();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** A CancelRequest for this session: withdraw a held review and cancel upstream. */
  cancel(): void {
    if (this.closed) return;
    this.holdAbort.abort();
    this.settings.cancelUpstream();
  }

  /** Ends the session from outside (door shutdown). */
  terminate(fields: ErrorFields): void {
    this.shutdown({ reason: 'door_closed', fatal: fields });
  }

  // -------------------------------------------------------------------------------------
  // Client → upstream

  private onClientData(chunk: Buffer): void {
    if (this.closed) return;
    this.idleTimer?.refresh();
    this.reader.push(chunk);
    if (!this.pumping) void this.pump();
    else this.updateClientFlow();
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      for (;;) {
        if (this.closed || this.stopInput) return;
        const frame = this.reader.next();
        if (!frame) break;
        const pending = this.onClientFrame(frame);
        if (pending) {
          this.flushUp();
          this.waiting = true;
          this.updateClientFlow();
          await pending;
          this.waiting = false;
        }
      }
    } catch (caught) {
      // A frame too short for its fields makes Buffer reads throw RangeError.
      const error = caught instanceof RangeError ? new ProtocolError(`malformed message from the client: ${caught.message}`) : caught;
      if (error instanceof ProtocolError) {
        this.shutdown({ reason: 'protocol_error', fatal: { severity: 'FATAL', code: error.sqlstate, message: error.message } });
      } else {
        this.settings.log.error({ err: error, session: this.settings.sessionId }, 'postgres door: session failed');
        this.shutdown({ reason: 'internal_error', fatal: { severity: 'FATAL', code: 'XX000', message: `internal error in the Sluice PostgreSQL door: ${(error as Error).message}` } });
      }
    } finally {
      this.pumping = false;
      this.waiting = false;
      if (!this.closed) {
        this.flushUp();
        this.updateClientFlow();
      }
    }
  }

  /** Handles one client message; returns a promise when it has to wait for the gate. */
  private onClientFrame(frame: Frame): Promise<void> | undefined {
    const b = frame.bytes;
    switch (frame.type) {
      case TYPE.Query:
        if (this.discarding) return undefined;
        return this.onQuery(b);
      case TYPE.Parse:
        if (this.discarding) return undefined;
        return this.onParse(b);
      case TYPE.Bind:
        if (this.discarding) return undefined;
        return this.onBind(b);
      case TYPE.Describe:
        if (!this.discarding) this.onDescribe(b);
        return undefined;
      case TYPE.Execute:
        if (!this.discarding) this.onExecute(b);
        return undefined;
      case TYPE.Close:
        if (!this.discarding) this.onClose(b);
        return undefined;
      case TYPE.Sync: {
        this.discarding = false;
        this.sendUp(b);
        const sync: Entry = { kind: 'sync' };
        if (this.encodingRiskNextSync) {
          this.encodingRiskNextSync = false;
          this.encodingRisk.add(sync);
        }
        this.push(sync);
        return undefined;
      }
      case TYPE.Flush:
      case TYPE.CopyData:
      case TYPE.CopyDone:
      case TYPE.CopyFail:
        if (!this.discarding) this.sendUp(b);
        return undefined;
      case TYPE.FunctionCall:
        if (!this.discarding) {
          this.refuse(false, {
            severity: 'ERROR',
            code: '42501',
            message: 'fast-path function calls are not allowed through Sluice: they bypass statement analysis',
            hint: 'call the function in a SELECT statement instead',
          });
        }
        return undefined;
      case TYPE.Terminate:
        this.shutdown({ reason: 'terminate' });
        return undefined;
      default:
        throw new ProtocolError(`invalid frontend message type ${describeType(frame.type)}`);
    }
  }

  private async onQuery(b: Buffer): Promise<void> {
    const end = b.indexOf(0, 5);
    if (end < 0) throw new ProtocolError('Query message is not terminated');
    const text = this.decodeStatement(b, 5, end);
    const admitted = typeof text === 'string' ? await this.admit(text) : text;
    if (this.closed) return;
    if ('refusal' in admitted) {
      this.refuse(false, admitted.refusal);
      return;
    }
    this.afterAdmitted(admitted);
    const frame = admitted.decision.detokenise === true ? await this.detokenised(admitted, b, 5, end, false) : b;
    if (!frame || this.closed) return;
    this.sendUp(frame);
    const run = newRun(admitted, false);
    if (mayChangeEncoding(admitted)) this.encodingRisk.add(run);
    this.push(run);
  }

  private async onParse(b: Buffer): Promise<void> {
    const [name, afterName] = readName(b, 5);
    const end = b.indexOf(0, afterName);
    if (end < 0) throw new ProtocolError('Parse message is not terminated');
    const text = this.decodeStatement(b, afterName, end);
    const admitted = typeof text === 'string' ? await this.admit(text) : text;
    if (this.closed) return;
    if ('refusal' in admitted) {
      this.refuse(true, admitted.refusal);
      return;
    }
    this.afterAdmitted(admitted);
    const frame = admitted.decision.detokenise === true ? await this.detokenised(admitted, b, afterName, end, true) : b;
    if (!frame || this.closed) return;
    if (mayChangeEncoding(admitted)) this.encodingRiskNextSync = true;
    const info: StatementInfo = { admission: admitted };
    const previous = this.statements.get(name);
    this.statements.set(name, info);
    this.sendUp(frame);
    this.push({ kind: 'parse', name, previous, info });
  }

  private onBind(b: Buffer): Promise<void> | undefined {
    const [portal, afterPortal] = readName(b, 5);
    const [statement, afterStatement] = readName(b, afterPortal);
    const info = this.statements.get(statement);
    if (!info) {
      this.refuse(true, {
        severity: 'ERROR',
        code: '26000',
        message: `prepared statement "${statement}" does not exist (as far as Sluice knows)`,
        hint: 'through Sluice, Bind works with statements prepared by Parse in this session; a statement made with SQL PREPARE runs with SQL EXECUTE, and DEALLOCATE or DISCARD forgets all prepared statements',
      });
      return;
    }
    const params = bindValues(b, afterStatement);
    if (info.admission.decision.detokenise === true && params.some((p) => p !== null && p.includes(PLACEHOLDER_MARK))) {
      return this.bindDetokenised(b, portal, afterStatement, info, params);
    }
    this.bound(b, portal, { statement: info, describing: false, params });
    return undefined;
  }

  private bound(frame: Buffer, portal: string, info: PortalInfo): void {
    const previous = this.portals.get(portal);
    this.portals.set(portal, info);
    this.sendUp(frame);
    this.push({ kind: 'bind', name: portal, previous, info });
  }

  /**
   * A Bind whose text parameters hold placeholders, for a rule with `detokenise: true`: the
   * values go upstream in their place (bound parameters are data, nothing to quote). The
   * outcome record keeps the parameters as sent, and names the placeholders.
   */
  private async bindDetokenised(b: Buffer, portal: string, afterStatement: number, info: StatementInfo, params: readonly (Buffer | null)[]): Promise<void> {
    const admission = info.admission;
    const formats = bindFormats(b, afterStatement, params.length);
    const fail = (message: string): void => {
      this.record(admission, performance.now(), { ok: false, error: { code: 'detokenise_refused', message } }, undefined, params);
      this.refuse(true, { severity: 'ERROR', code: '42501', message, hint: 'placeholders in parameters are replaced in text-format parameters, for rules with detokenise: true (docs/masking.md)' });
    };
    if (params.some((p, i) => p !== null && formats[i] === 1 && p.includes(PLACEHOLDER_MARK))) {
      return fail('Sluice did not put the values of placeholders into the parameters: a binary-format parameter holds a placeholder (send it in text format)');
    }
    // Text parameters are in the client encoding; a value it cannot carry is refused, not mangled.
    const limit = this.encoding === 'ascii' || this.encodingRisk.size > 0 || this.encodingRiskNextSync ? 0x7f : this.encoding === 'latin1' ? 0xff : Infinity;
    const encoding = limit === Infinity ? 'utf8' : 'latin1';
    const texts = params.map((p, i) => (p === null || formats[i] === 1 ? null : p.toString(encoding)));
    const run = await this.settings.gate.detokeniseValues(admission.action, admission.decision, texts);
    if (this.closed) return;
    if (!run.ok) return fail(run.error.message);
    // A parameter that is replaced is re-encoded whole: it must have decoded without loss.
    if (limit === Infinity && params.some((p, i) => p !== null && texts[i] !== null && run.values[i] !== texts[i] && !isUtf8(p))) {
      return fail('Sluice did not put the values of placeholders into the parameters: a parameter holding a placeholder is not valid UTF-8');
    }
    const values = params.map((p, i) => (texts[i] === null || run.values[i] === texts[i] ? p : run.values[i]!));
    if (values.some((v) => typeof v === 'string' && limit !== Infinity && [...v].some((c) => c.codePointAt(0)! > limit))) {
      return fail('Sluice did not put the values of placeholders into the parameters: a value has characters the client_encoding cannot carry');
    }
    const frame = rebuildBind(b, afterStatement, values.map((v) => (typeof v === 'string' ? Buffer.from(v, encoding) : v)));
    this.bound(frame, portal, { statement: info, describing: false, params, detokenised: run.placeholders });
  }

  private onDescribe(b: Buffer): void {
    const target = { kind: b[5] === 0x53 ? 'S' : 'P', name: readName(b, 6)[0] };
    let portal: PortalInfo | undefined;
    if (target.kind === 'P') {
      portal = this.portals.get(target.name);
      if (portal) portal.describing = true;
    }
    this.sendUp(b);
    this.push(portal ? { kind: 'describe', portal, internal: false } : { kind: 'describe', internal: false });
  }

  private onExecute(b: Buffer): void {
    const [name] = readName(b, 5);
    const portal = this.portals.get(name);
    if (!portal) {
      this.refuse(true, { severity: 'ERROR', code: '34000', message: `portal "${name}" does not exist` });
      return;
    }
    const admission = portal.statement.admission;
    if (admission.masking.kind === 'profile' && !portal.columns && !portal.describing) {
      // Masking needs the column names; the client did not ask for them, so the door does.
      portal.describing = true;
      this.sendUp(describeMessage('P', name));
      this.push({ kind: 'describe', portal, internal: true });
    }
    this.sendUp(b);
    if (mayChangeEncoding(admission)) this.encodingRiskNextSync = true;
    const run = newRun(admission, true);
    run.portal = portal;
    this.push(run);
  }

  private onClose(b: Buffer): void {
    const target = { kind: b[5] === 0x53 ? 'S' : 'P', name: readName(b, 6)[0] };
    if (target.kind === 'S') this.statements.delete(target.name);
    else this.portals.delete(target.name);
    this.sendUp(b);
    this.push({ kind: 'close' });
  }

  /**
   * The statement text exactly as the server will read it, or the refusal when that cannot
   * be known. Text is analysed as UTF-8; under client encodings whose multi-byte characters
   * never contain ASCII bytes the statement structure is the same, but names with other
   * characters would be misread, so such text is refused unless it is ASCII.
   */
  private decodeStatement(b: Buffer, start: number, end: number): string | Refusal {
    const bytes = b.subarray(start, end);
    if (this.encodingRisk.size > 0 || this.encodingRiskNextSync) {
      // An earlier statement, still running, may switch client_encoding; only ASCII reads
      // the same in every encoding.
      for (const byte of bytes) {
        if (byte >= 0x80) {
          return refusal({
            severity: 'ERROR',
            code: '55000',
            message: 'Sluice cannot analyse non-ASCII statement text sent before an earlier statement that may change client_encoding has finished',
            hint: 'wait for the earlier statement\'s result (send Sync) before sending this one',
          });
        }
      }
    }
    switch (this.encoding) {
      case 'utf8':
        if (isUtf8(bytes)) return bytes.toString('utf8');
        return refusal({ severity: 'ERROR', code: '22021', message: 'invalid byte sequence for encoding "UTF8" in the statement text' });
      case 'latin1':
        return bytes.toString('latin1');
      case 'ascii':
        for (const byte of bytes) {
          if (byte >= 0x80) {
            return refusal({
              severity: 'ERROR',
              code: '22021',
              message: 'Sluice analyses statements in UTF8 or LATIN1; this client_encoding allows only ASCII statement text',
              hint: 'SET client_encoding TO \'UTF8\'',
            });
          }
        }
        return bytes.toString('latin1');
    }
  }

  /**
   * The frame to send upstream for an admitted Query or Parse (statement text at [start, end)):
   * as received, or with the values of its placeholders in when the deciding rule says
   * `detokenise: true` (masking/detokenise.ts). Undefined when that was refused: the refusal
   * is sent instead and the outcome recorded. The audit records keep the text as sent.
   */
  private async detokenised(admission: Admission, b: Buffer, start: number, end: number, extended: boolean): Promise<Buffer | undefined> {
    if (admission.decision.detokenise !== true) return b;
    const run = await this.settings.gate.detokenise(admission.action, admission.decision, 'postgres');
    let error = run.ok ? undefined : run.error;
    if (run.ok) {
      if (run.command === admission.action.command) return b;
      // Values go out in the client's encoding; one it cannot carry is refused, not mangled.
      const limit = this.encoding === 'ascii' || this.encodingRisk.size > 0 || this.encodingRiskNextSync ? 0x7f : this.encoding === 'latin1' ? 0xff : Infinity;
      if (limit === Infinity || ![...run.command].some((c) => c.codePointAt(0)! > limit)) {
        const frame = Buffer.concat([b.subarray(0, start), Buffer.from(run.command, limit === Infinity ? 'utf8' : 'latin1'), b.subarray(end)]);
        frame.writeUInt32BE(frame.length - 1, 1);
        return frame;
      }
      error = { code: 'detokenise_refused', message: 'Sluice did not put the values of placeholders into this statement: a value has characters the client_encoding cannot carry' };
    }
    this.record(admission, performance.now(), { ok: false, error: error! });
    this.refuse(extended, { severity: 'ERROR', code: '42501', message: error!.message, hint: 'placeholders are replaced only inside string literals, for rules with detokenise: true (docs/masking.md)' });
    return undefined;
  }

  /** Bookkeeping for an admitted statement before it is sent. */
  private afterAdmitted(admission: Admission): void {
    // DEALLOCATE and DISCARD drop protocol-level prepared statements too; the door forgets
    // them all rather than guess which, so a stale decision can never run another text.
    for (const part of admission.action.intent.parts) {
      if (part.kind === 'DEALLOCATE' || part.kind.startsWith('DISCARD')) {
        this.statements.clear();
        this.portals.clear();
        break;
      }
    }
  }

  /** Asks the gate. Resolves with an allowed admission or the error to send instead. */
  private async admit(text: string): Promise<Admission | Refusal> {
    // Outcomes of earlier statements go into the same audit batch as this decision.
    this.flushOutcomes();
    // A cancel that came while nothing was held must not withdraw this statement's review.
    if (this.holdAbort.signal.aborted) this.renewHoldAbort();
    let admission: Admission;
    try {
      admission = await this.settings.gate.admit(
        {
          principal: this.settings.principal,
          session: this.settings.sessionId,
          connection: this.settings.connection,
          door: DOOR,
          command: text,
          analysisSession: this.analysisSession,
        },
        this.runOptions,
      );
    } catch (error) {
      if (error instanceof GateError && error.code === 'audit_unavailable') {
        return refusal({ severity: 'ERROR', code: '58000', message: 'Sluice cannot write its audit record, so nothing runs', hint: 'check the Sluice store; the statement can be retried once it is writable' });
      }
      this.settings.log.error({ err: error, session: this.settings.sessionId }, 'postgres door: gate failed');
      return refusal({ severity: 'ERROR', code: 'XX000', message: `Sluice could not decide on this statement: ${(error as Error).message}` });
    }
    return this.checkAdmission(admission);
  }

  /** A CancelRequest aborts the signal of a held review; later statements get a fresh one. */
  private renewHoldAbort(): void {
    this.holdAbort = new AbortController();
    this.runOptions = { signal: this.holdAbort.signal, onHold: this.onHold };
  }

  private readonly onHold = (review: ReviewRecord): void => {
    this.sendToClient(
      noticeResponse({
        severity: 'NOTICE',
        code: '00000',
        message: `Sluice holds this statement for review ${review.id} (rule "${review.rule}": ${review.reason}); it runs once approved`,
        hint: `an approver decides with: SLUICE_KEY=<their key> sluice reviews approve ${review.id}   (or reject ${review.id}; expires ${review.expiresAt})`,
      }),
    );
  };

  private checkAdmission(admission: Admission): Admission | Refusal {
    const { decision, review } = admission;
    switch (admission.status) {
      case 'allowed':
        break;
      case 'denied':
        return refusal({
          severity: 'ERROR',
          code: '42501',
          message: `Sluice denied this statement (rule "${decision.rule}"): ${decision.reason}`,
          detail: `action ${admission.action.id}`,
          hint: 'ask an operator to change the policy; `sluice policy test` shows why a statement is denied',
        });
      case 'rejected':
        return refusal({
          severity: 'ERROR',
          code: '42501',
          message: `review ${review?.reviewId ?? '?'} was rejected${review?.by ? ` by ${review.by}` : ''}${review?.note ? `: ${review.note}` : ''} (rule "${decision.rule}")`,
          detail: `action ${admission.action.id}`,
        });
      case 'expired':
        return refusal({
          severity: 'ERROR',
          code: '42501',
          message: `review ${review?.reviewId ?? '?'} expired before anyone approved it (rule "${decision.rule}")`,
          detail: `action ${admission.action.id}`,
        });
      case 'cancelled':
        return refusal({
          severity: 'ERROR',
          code: '57014',
          message: `canceling statement due to user request (review ${review?.reviewId ?? '?'} withdrawn)`,
        });
    }
    if (admission.masking.kind === 'missing') {
      this.record(admission, performance.now(), { ok: false, error: { code: 'masking_error', message: 'masking profile not defined' } });
      return refusal({
        severity: 'ERROR',
        code: '42501',
        message: `masking profile "${admission.masking.name}" is not defined, so Sluice withholds this statement's results`,
        hint: 'ask an operator to define the profile or fix the rule that names it',
      });
    }
    if (admission.masking.kind === 'profile' && admission.action.intent.parts.some((p) => p.kind === 'COPY TO')) {
      this.record(admission, performance.now(), { ok: false, error: { code: 'masking_error', message: 'COPY TO under a masking profile' } });
      return refusal({
        severity: 'ERROR',
        code: '42501',
        message: `COPY ... TO is not allowed while masking profile "${admission.masking.profile.name}" applies: Sluice cannot tell which copied fields to mask`,
        hint: 'use SELECT; its result is masked column by column',
      });
    }
    return admission;
  }

  /** Sends the refusal marker upstream; the door's error replaces the server's answer. */
  private refuse(extended: boolean, error: ErrorFields | Buffer): void {
    const frame = Buffer.isBuffer(error) ? error : errorResponse(error);
    if (extended) {
      this.sendUp(parseMessageOut(REFUSAL_MARKER));
      this.discarding = true;
    } else {
      this.sendUp(queryMessage(REFUSAL_MARKER));
    }
    this.push({ kind: 'refusal', error: frame, extended });
  }

  private sendUp(b: Buffer): void {
    this.upOut.push(b);
  }

  private flushUp(): void {
    const out = this.upOut;
    if (out.length === 0 || this.closed) return;
    this.upOut = [];
    const ok = writeAll(this.upstream, out);
    if (!ok && !this.upstreamBlocked) {
      this.upstreamBlocked = true;
      this.updateClientFlow();
      this.upstream.once('drain', () => {
        this.upstreamBlocked = false;
        this.updateClientFlow();
      });
    }
  }

  private updateClientFlow(): void {
    if (this.closed) return;
    const pause = this.upstreamBlocked || (this.waiting && this.reader.buffered > HELD_INPUT_HIGH_WATER);
    if (pause && !this.clientPaused) {
      this.clientPaused = true;
      this.client.pause();
    } else if (!pause && this.clientPaused) {
      this.clientPaused = false;
      this.client.resume();
    }
  }

  // -------------------------------------------------------------------------------------
  // Expected responses

  private push(entry: Entry): void {
    if (entry.kind === 'sync') {
      this.upstreamSkipping = false;
    } else if (this.upstreamSkipping) {
      // The upstream drops this message unanswered (it is skipping to Sync after an error).
      this.abandon(entry, 'skipped');
      return;
    }
    const wasEmpty = this.head === this.entries.length;
    this.entries.push(entry);
    if (wasEmpty) this.refreshDataMode();
  }

  private peek(): Entry | undefined {
    return this.entries[this.head];
  }

  private pop(): void {
    const e = this.entries[this.head];
    if (e && this.encodingRisk.size > 0) this.encodingRisk.delete(e);
    this.entries[this.head++] = undefined;
    if (this.head === this.entries.length) {
      this.entries = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    this.refreshDataMode();
  }

  /** After an error in the extended protocol the server skips everything until Sync. */
  private skipUntilSync(): void {
    for (let e = this.peek(); e; e = this.peek()) {
      if (e.kind === 'sync') return;
      this.entries[this.head++] = undefined;
      this.abandon(e, 'skipped');
    }
    this.entries = [];
    this.head = 0;
    this.upstreamSkipping = true;
    this.refreshDataMode();
  }

  /** An entry whose message will get no answer. */
  private abandon(entry: Entry, why: 'skipped' | 'lost'): void {
    this.encodingRisk.delete(entry);
    switch (entry.kind) {
      case 'run':
        if (why === 'skipped' && this.skipped.has(entry.admission)) break;
        if (why === 'skipped') this.skipped.add(entry.admission);
        this.finishRun(entry, why === 'skipped' ? SKIPPED : LOST);
        break;
      case 'parse':
        this.restoreStatement(entry.name, entry.info, entry.previous);
        // The statement never existed upstream: its decision gets an outcome saying so.
        if (why === 'skipped' && !this.skipped.has(entry.info.admission)) {
          this.skipped.add(entry.info.admission);
          this.record(entry.info.admission, performance.now(), { ok: false, rowCount: 0, error: SKIPPED });
        }
        break;
      case 'bind':
        this.restorePortal(entry.name, entry.info, entry.previous);
        break;
      default:
        break;
    }
  }

  private restoreStatement(name: string, info: StatementInfo, previous: StatementInfo | undefined): void {
    if (this.statements.get(name) !== info) return;
    // A named statement that already existed stays (the server refused to replace it);
    // the unnamed one is gone after a failed Parse.
    if (previous && name !== '') this.statements.set(name, previous);
    else this.statements.delete(name);
  }

  private restorePortal(name: string, info: PortalInfo, previous: PortalInfo | undefined): void {
    if (this.portals.get(name) !== info) return;
    if (previous && name !== '') this.portals.set(name, previous);
    else this.portals.delete(name);
  }

  private refreshDataMode(): void {
    const e = this.peek();
    if (!e || e.kind !== 'run') {
      this.dataMode = DataMode.Pass;
      return;
    }
    if (e.extended && !e.planned) {
      e.planned = true;
      const masking = e.admission.masking;
      if (masking.kind === 'profile') {
        const columns = e.portal?.columns;
        if (columns) e.mask = planMask(masking.profile, columns);
        else e.withheld = 'Sluice could not learn the result columns it must mask';
      }
    }
    this.dataMode = e.withheld !== undefined || e.copyRefused ? DataMode.Drop : e.mask ? DataMode.Mask : DataMode.Pass;
  }

  private finishRun(e: RunEntry, error?: { code: string; message: string }): void {
    e.rowCount += e.resultRows;
    e.resultRows = 0;
    e.report = maskReport(e.mask, e.report);
    e.mask = undefined;
    const failure = error ?? e.error;
    const result: ExecutionResult = { ok: failure === undefined, rowCount: e.rowCount };
    if (e.tag !== undefined) result.commandTag = tagName(e.tag);
    if (failure) result.error = failure;
    this.record(e.admission, e.started, result, e.report, e.portal?.params, e.portal?.detokenised);
  }

  /**
   * The outcome record. It is not awaited (the rows have gone to the client already), but a
   * failure ends the session. It is appended with the next statement's decision, so that both
   * share one audit commit, or after OUTCOME_DELAY_MS when no statement follows.
   */
  private record(admission: Admission, started: number, result: ExecutionResult, masked?: MaskReport, params?: readonly (Buffer | null)[], detokenised?: string[]): void {
    const durationMs = performance.now() - started;
    this.outcomes.push(() => {
      const detail = detokenised?.length ? { detokenised: { placeholders: detokenised } } : undefined;
      this.settings.gate.complete(admission, { result, durationMs, ...(masked ? { masked } : {}), ...(params?.length ? { params } : {}), ...(detail ? { detail } : {}) }).catch((error: unknown) => {
        this.settings.log.error({ err: error, session: this.settings.sessionId }, 'postgres door: outcome record failed; closing the session');
        this.shutdown({
          reason: 'audit_unavailable',
          fatal: { severity: 'FATAL', code: '58000', message: 'Sluice cannot write its audit record; the session is closed', hint: 'check the Sluice store, then reconnect' },
        });
      });
    });
    if (this.outcomeTimer) this.outcomeTimer.refresh();
    else this.outcomeTimer = setTimeout(() => this.flushOutcomes(), OUTCOME_DELAY_MS);
  }

  private flushOutcomes(): void {
    if (this.outcomes.length === 0) return;
    const pending = this.outcomes;
    this.outcomes = [];
    clearTimeout(this.outcomeTimer);
    this.outcomeTimer = undefined;
    for (const write of pending) write();
  }

  // -------------------------------------------------------------------------------------
  // Upstream → client

  private onUpstreamData(chunk: Buffer): void {
    if (this.closed) return;
    const out: Buffer[] = [];
    const n = chunk.length;
    let pos = 0;
    let run = 0; // start of the untouched run of this chunk
    // Masked rows of this chunk and the bytes between them, in one buffer.
    let asm: Assembler | undefined;
    try {
      while (pos < n) {
        if (this.dataMode === DataMode.Mask && this.passRemaining === 0 && this.dropRemaining === 0 && this.partialLength === 0 && n - pos >= 5 && chunk[pos] === TYPE.DataRow) {
          const total = chunk.readInt32BE(pos + 1) + 1;
          if (total >= 5 && pos + total <= n) {
            // Fast path: a whole masked DataRow.
            const e = this.entries[this.head] as RunEntry;
            if (!asm) {
              asm = new Assembler(n - run + 1024);
              if (pos > run) out.push(chunk.subarray(run, pos));
            } else {
              asm.append(chunk, run, pos);
            }
            asm.appendMasked(chunk, pos, pos + total, e.mask!);
            e.resultRows++;
            pos += total;
            run = pos;
            continue;
          }
        }
        if (asm && pos > run) {
          // Leaving the fast path: what was untouched since goes into the same buffer.
          asm.append(chunk, run, pos);
          run = pos;
        }
        if (asm && asm.length > 0 && (this.passRemaining > 0 || this.dropRemaining > 0 || this.partialLength > 0 || n - pos < 5 || chunk[pos] !== TYPE.DataRow)) {
          out.push(asm.take());
          asm = undefined;
        }
        if (this.passRemaining > 0) {
          const take = Math.min(this.passRemaining, n - pos);
          pos += take;
          this.passRemaining -= take;
          continue;
        }
        if (this.dropRemaining > 0) {
          if (pos > run) out.push(chunk.subarray(run, pos));
          const take = Math.min(this.dropRemaining, n - pos);
          pos += take;
          run = pos;
          this.dropRemaining -= take;
          continue;
        }
        if (this.partialLength > 0) {
          // Only at the start of a chunk: finish the frame begun in an earlier one.
          const done = this.continuePartial(chunk, pos, out);
          pos = done;
          run = pos;
          if (this.partialLength > 0) break;
          continue;
        }
        if (n - pos < 5) {
          if (pos > run) out.push(chunk.subarray(run, pos));
          this.partial.push(chunk.subarray(pos));
          this.partialLength = n - pos;
          pos = n;
          run = n;
          break;
        }
        const type = chunk[pos]!;
        const length = chunk.readInt32BE(pos + 1);
        if (length < 4) throw new ProtocolError(`the upstream server sent an invalid message length (${length})`);
        const total = length + 1;
        if (type === TYPE.DataRow || type === TYPE.CopyData) {
          const mode = this.dataMode;
          if (mode === DataMode.Pass) {
            if (type === TYPE.DataRow) this.passRows++;
            if (pos + total <= n) pos += total;
            else {
              this.passRemaining = pos + total - n;
              pos = n;
            }
            continue;
          }
          if (mode === DataMode.Drop) {
            if (pos > run) out.push(chunk.subarray(run, pos));
            if (pos + total <= n) pos += total;
            else {
              this.dropRemaining = pos + total - n;
              pos = n;
            }
            run = pos;
            continue;
          }
        }
        if (pos + total > n) {
          if (length - 4 > this.settings.maxMessageSize) {
            throw new ProtocolError(`the upstream server sent a ${describeType(type)} message of ${length - 4} bytes, more than the limit of ${this.settings.maxMessageSize} bytes`, '54000');
          }
          if (pos > run) out.push(chunk.subarray(run, pos));
          this.partial.push(chunk.subarray(pos));
          this.partialLength = n - pos;
          this.partialNeed = total;
          pos = n;
          run = n;
          break;
        }
        const frame = chunk.subarray(pos, pos + total);
        const replacement = this.onUpstreamMessage(type, frame);
        if (replacement !== frame) {
          if (pos > run) out.push(chunk.subarray(run, pos));
          if (replacement) out.push(replacement);
          run = pos + total;
        }
        pos += total;
      }
      if (asm) {
        asm.append(chunk, run, pos);
        out.push(asm.take());
        run = pos;
      }
      if (pos > run) out.push(chunk.subarray(run, pos));
    } catch (error) {
      this.failFromUpstream(error);
      return;
    }
    if (this.pendingToClient.length > 0 && this.passRemaining === 0) {
      out.push(...this.pendingToClient);
      this.pendingToClient = [];
    }
    this.writeClient(out);
  }

  /** Continues a frame that started in an earlier chunk; returns the new position. */
  private continuePartial(chunk: Buffer, start: number, out: Buffer[]): number {
    let pos = start;
    if (this.partialNeed === 0) {
      const take = Math.min(5 - this.partialLength, chunk.length - pos);
      this.partial.push(chunk.subarray(pos, pos + take));
      this.partialLength += take;
      pos += take;
      if (this.partialLength < 5) return pos;
      const header = Buffer.concat(this.partial, 5);
      const type = header[0]!;
      const length = header.readInt32BE(1);
      if (length < 4) throw new ProtocolError(`the upstream server sent an invalid message length (${length})`);
      const total = length + 1;
      if ((type === TYPE.DataRow || type === TYPE.CopyData) && this.dataMode !== DataMode.Mask) {
        this.partial = [];
        this.partialLength = 0;
        if (this.dataMode === DataMode.Pass) {
          if (type === TYPE.DataRow) this.passRows++;
          out.push(header);
          this.passRemaining = total - 5;
        } else {
          this.dropRemaining = total - 5;
        }
        // The caller's loop forwards or skips the rest.
        const take2 = Math.min(this.passRemaining, chunk.length - pos);
        if (take2 > 0) {
          out.push(chunk.subarray(pos, pos + take2));
          this.passRemaining -= take2;
          pos += take2;
        }
        const drop = Math.min(this.dropRemaining, chunk.length - pos);
        this.dropRemaining -= drop;
        return pos + drop;
      }
      if (length - 4 > this.settings.maxMessageSize) {
        throw new ProtocolError(`the upstream server sent a ${describeType(type)} message of ${length - 4} bytes, more than the limit of ${this.settings.maxMessageSize} bytes`, '54000');
      }
      this.partialNeed = total;
    }
    const take = Math.min(this.partialNeed - this.partialLength, chunk.length - pos);
    this.partial.push(chunk.subarray(pos, pos + take));
    this.partialLength += take;
    pos += take;
    if (this.partialLength < this.partialNeed) return pos;
    const frame = Buffer.concat(this.partial, this.partialNeed);
    this.partial = [];
    this.partialLength = 0;
    this.partialNeed = 0;
    const replacement = this.onUpstreamMessage(frame[0]!, frame);
    if (replacement) out.push(replacement);
    return pos;
  }

  /**
   * One whole backend message the door looks at. Returns the frame itself to forward it,
   * another buffer to send instead, or null to drop it.
   */
  private onUpstreamMessage(type: number, frame: Buffer): Buffer | null {
    const e = this.peek();
    switch (type) {
      case TYPE.DataRow: {
        // Only in Mask mode (Pass and Drop are handled by the relay loop).
        if (e?.kind !== 'run' || !e.mask) return frame;
        e.resultRows++;
        return maskDataRow(frame, e.mask);
      }
      case TYPE.CommandComplete: {
        if (e?.kind !== 'run') return frame;
        this.countPassRows(e);
        const tag = commandTag(frame);
        e.rowCount += tagRowCount(tag) ?? e.resultRows;
        e.resultRows = 0;
        e.tag = tag;
        e.report = maskReport(e.mask, e.report);
        e.mask = undefined;
        let out: Buffer | null = frame;
        if (e.copyRefused || e.withheld !== undefined) {
          out = this.withheldError(e);
          e.error = { code: 'masking_error', message: e.withheld ?? 'COPY TO under a masking profile' };
          e.copyRefused = false;
          e.withheld = undefined;
        }
        if (e.extended) {
          this.pop();
          this.finishRun(e);
        } else {
          this.refreshDataMode();
        }
        return out;
      }
      case TYPE.RowDescription: {
        if (e?.kind === 'run' && !e.extended) {
          this.countPassRows(e);
          e.rowCount += e.resultRows;
          e.resultRows = 0;
          e.report = maskReport(e.mask, e.report);
          const masking = e.admission.masking;
          e.mask = masking.kind === 'profile' ? planMask(masking.profile, parseRowDescription(frame)) : undefined;
          this.refreshDataMode();
          return frame;
        }
        if (e?.kind === 'describe') {
          // Columns first: popping plans the mask of the Execute that follows.
          if (e.portal) {
            e.portal.describing = false;
            if (e.portal.statement.admission.masking.kind === 'profile') e.portal.columns = parseRowDescription(frame);
          }
          this.pop();
          return e.internal ? null : frame;
        }
        return frame;
      }
      case TYPE.NoData:
        if (e?.kind === 'describe') {
          if (e.portal) {
            e.portal.describing = false;
            e.portal.columns = [];
          }
          this.pop();
          return e.internal ? null : frame;
        }
        return frame;
      case TYPE.ParameterDescription:
        return frame;
      case TYPE.ParseComplete:
      case TYPE.BindComplete:
      case TYPE.CloseComplete:
        if (e && (e.kind === 'parse' || e.kind === 'bind' || e.kind === 'close')) this.pop();
        return frame;
      case TYPE.EmptyQueryResponse:
      case TYPE.PortalSuspended:
        if (e?.kind === 'run' && e.extended) {
          this.countPassRows(e);
          if (type === TYPE.EmptyQueryResponse) e.tag = 'EMPTY';
          this.pop();
          this.finishRun(e);
        }
        return frame;
      case TYPE.ReadyForQuery: {
        this.txStatus = frame[5]!;
        // Ends a simple query, a refusal in simple mode, or a Sync. Anything before it that
        // is still waiting got no answer.
        for (let x = this.peek(); x; x = this.peek()) {
          this.pop();
          if (x.kind === 'run' && !x.extended) {
            this.countPassRows(x);
            this.finishRun(x);
            break;
          }
          if (x.kind === 'sync' || (x.kind === 'refusal' && !x.extended)) break;
          this.abandon(x, 'skipped');
        }
        return frame;
      }
      case TYPE.ErrorResponse:
        return this.onUpstreamError(e, frame);
      case TYPE.CopyOutResponse:
        if (e?.kind === 'run' && e.admission.masking.kind === 'profile') {
          // Refused at admission already; this is the safety net (fail closed).
          e.copyRefused = true;
          this.refreshDataMode();
          return null;
        }
        return frame;
      case TYPE.CopyDone:
        return e?.kind === 'run' && e.copyRefused ? null : frame;
      case TYPE.BackendKeyData:
      case TYPE.Authentication:
      case TYPE.NegotiateProtocolVersion:
      case TYPE.FunctionCallResponse:
        return null;
      case TYPE.ParameterStatus: {
        const [name, after] = readCString(frame, 5);
        if (name === 'client_encoding') {
          const value = readCString(frame, after)[0];
          const cls = encodingClass(value);
          if (!cls) {
            // Already set upstream; no further statement may be read in it.
            this.closeSoon({
              severity: 'FATAL',
              code: '22023',
              message: `client_encoding "${value}" is not supported through Sluice: its multi-byte characters can contain quote and backslash bytes, which would hide statement text from analysis; the session is closed`,
              hint: 'use UTF8',
            });
          } else {
            this.encoding = cls;
          }
        }
        return frame;
      }
      default:
        // NoticeResponse, NotificationResponse, CopyInResponse, CopyBothResponse: relayed.
        return frame;
    }
  }

  private onUpstreamError(e: Entry | undefined, frame: Buffer): Buffer | null {
    const severity = parseErrorFields(frame).get('V');
    if (severity === 'FATAL' || severity === 'PANIC') this.upstreamFatal = true;
    if (!e) return frame; // e.g. FATAL on server shutdown; the connection closes next
    switch (e.kind) {
      case 'refusal':
        if (e.extended) {
          this.pop();
          this.skipUntilSync();
        } else {
          // Stays until its ReadyForQuery; a second error is not replaced.
          this.entries[this.head] = { kind: 'refusal', error: Buffer.alloc(0), extended: false };
          if (e.error.length === 0) return frame;
        }
        return e.error;
      case 'run': {
        this.countPassRows(e);
        const fields = parseErrorFields(frame);
        const masking = e.admission.masking.kind === 'profile';
        const code = fields.get('C') ?? 'XX000';
        const text = fields.get('M') ?? 'error';
        // Under masking the audit record gets the same message the client sees.
        e.error = { code, message: masking ? errorMessageUnderMasking(code, text) : text };
        e.rowCount += e.resultRows;
        e.resultRows = 0;
        e.report = maskReport(e.mask, e.report);
        e.mask = undefined;
        e.copyRefused = false;
        e.withheld = undefined;
        // The server's DETAIL and some messages quote row values masking never saw.
        const out = masking ? redactedError(fields, errorMessageUnderMasking) : frame;
        if (e.extended) {
          this.pop();
          this.finishRun(e);
          this.skipUntilSync();
        } else {
          this.refreshDataMode();
        }
        return out;
      }
      case 'sync':
        return frame; // an error at commit time; ReadyForQuery follows
      case 'parse':
      case 'bind':
      case 'describe':
      case 'close':
        this.pop();
        this.abandon(e, 'skipped');
        if (e.kind === 'describe' && e.portal) e.portal.describing = false;
        this.skipUntilSync();
        return frame;
    }
  }

  private countPassRows(e: RunEntry): void {
    e.resultRows += this.passRows;
    this.passRows = 0;
  }

  private withheldError(e: RunEntry): Buffer {
    const profile = e.admission.masking.kind === 'profile' ? e.admission.masking.profile.name : '?';
    return errorResponse(
      e.copyRefused
        ? { severity: 'ERROR', code: '42501', message: `COPY ... TO is not allowed while masking profile "${profile}" applies; its data was withheld`, hint: 'use SELECT; its result is masked column by column' }
        : { severity: 'ERROR', code: '42501', message: `${e.withheld ?? 'the result could not be masked'}; its rows were withheld (masking profile "${profile}")` },
    );
  }

  private failFromUpstream(error: unknown): void {
    this.settings.log.error({ err: error, session: this.settings.sessionId }, 'postgres door: bad data from the upstream server');
    const message = error instanceof Error ? error.message : String(error);
    this.shutdown({
      reason: 'upstream_protocol_error',
      fatal: { severity: 'FATAL', code: error instanceof ProtocolError ? error.sqlstate : 'XX000', message: `Sluice closed the session: ${message}` },
    });
  }

  private writeClient(out: Buffer[]): void {
    if (out.length === 0 || this.closed) return;
    const ok = writeAll(this.client, out);
    if (!ok && !this.clientBlocked) {
      // A slow client: stop reading the upstream until the client has taken what it has.
      this.clientBlocked = true;
      this.upstream.pause();
      this.client.once('drain', () => {
        this.clientBlocked = false;
        if (!this.closed) this.upstream.resume();
      });
    }
  }

  /** A door message (a notice) for the client, at the next message boundary. */
  private sendToClient(message: Buffer): void {
    if (this.closed) return;
    if (this.passRemaining > 0) this.pendingToClient.push(message);
    else this.writeClient([message]);
  }

  // -------------------------------------------------------------------------------------
  // Ending

  private onIdle(): void {
    if (this.closed) return;
    if (this.waiting || this.head < this.entries.length) {
      this.idleTimer?.refresh();
      return;
    }
    this.shutdown({
      reason: 'idle_timeout',
      fatal: { severity: 'FATAL', code: '57P05', message: `terminating connection due to idle-session timeout (Sluice closes sessions idle for ${this.settings.idleTimeoutMs} ms)` },
    });
  }

  /** Ends the session once the current upstream chunk has been relayed; reads no more input. */
  private closeSoon(fields: ErrorFields): void {
    this.stopInput = true;
    this.client.pause();
    this.reader.takeRest();
    setImmediate(() => this.shutdown({ reason: 'policy', fatal: fields }));
  }

  private shutdown(how: { reason: string; fatal?: ErrorFields }): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.idleTimer);
    this.holdAbort.abort();
    const running = this.head < this.entries.length;
    if (running && how.reason.startsWith('client')) this.settings.cancelUpstream();
    // Tell the client why, unless it left or the stream is in the middle of a message.
    if (how.fatal && !this.client.destroyed && this.passRemaining === 0 && !how.reason.startsWith('client')) {
      this.client.end(errorResponse(how.fatal));
    } else {
      this.client.end();
    }
    setTimeout(() => this.client.destroy(), 1000).unref();
    if (!this.upstream.destroyed) {
      if (how.reason === 'terminate' || how.reason === 'idle_timeout' || how.reason === 'door_closed') this.upstream.end(terminate());
      else this.upstream.destroy();
    }
    for (let e = this.peek(); e; e = this.peek()) {
      this.entries[this.head++] = undefined;
      this.abandon(e, 'lost');
    }
    this.entries = [];
    this.head = 0;
    this.flushOutcomes();
    this.settings.log.debug({ session: this.settings.sessionId, reason: how.reason }, 'postgres door: session ended');
    this.settings.onClose();
  }
}

const SKIPPED = { code: 'skipped', message: 'not run: an earlier message in the same pipeline failed' };
const LOST = { code: 'connection_lost', message: 'the session ended before the statement finished' };

type EncodingClass = 'utf8' | 'latin1' | 'ascii';

/**
 * Client-only encodings whose second byte can be an ASCII quote or backslash: text in them
 * can be read differently by the analyser and the server, so they are refused.
 */
const UNSAFE_ENCODINGS = new Set(['BIG5', 'WIN950', 'GBK', 'WIN936', 'GB18030', 'JOHAB', 'WIN1361', 'SJIS', 'SHIFTJIS', 'MSKANJI', 'WIN932', 'SHIFTJIS2004', 'UHC', 'WIN949']);

/** How to decode statements under a client_encoding; undefined when it is refused. */
export function encodingClass(name: string): EncodingClass | undefined {
  const n = name.toUpperCase().replace(/[-_]/g, '');
  if (n === 'UTF8' || n === 'UNICODE' || n === 'SQLASCII') return 'utf8';
  if (n === 'LATIN1' || n === 'ISO88591') return 'latin1';
  if (UNSAFE_ENCODINGS.has(n)) return undefined;
  return 'ascii';
}

/** A statement or portal name, byte-exact (latin1), as a map key. */
/**
 * The parameter values of a Bind message, from just after its statement name: copies (the
 * outcome record is written later), null for SQL NULL. A Bind that does not add up is a
 * protocol error.
 */
function bindValues(b: Buffer, pos: number): (Buffer | null)[] {
  const need = (n: number) => {
    if (pos + n > b.length) throw new ProtocolError('Bind message is truncated');
  };
  need(2);
  const formats = b.readUInt16BE(pos);
  pos += 2 + 2 * formats;
  need(2);
  const count = b.readUInt16BE(pos);
  pos += 2;
  if (count === 0) return [];
  // One copy of the rest of the message (the outcome record is written later), views into it.
  const region = Buffer.from(b.subarray(pos));
  const base = pos;
  const values: (Buffer | null)[] = new Array<Buffer | null>(count);
  for (let i = 0; i < count; i++) {
    need(4);
    const length = b.readInt32BE(pos);
    pos += 4;
    if (length === -1) {
      values[i] = null;
      continue;
    }
    if (length < 0) throw new ProtocolError(`Bind parameter ${i + 1} has a negative length`);
    need(length);
    values[i] = region.subarray(pos - base, pos - base + length);
    pos += length;
  }
  return values;
}

/** The format code (0 text, 1 binary) of each of a Bind's `count` parameters. */
function bindFormats(b: Buffer, pos: number, count: number): number[] {
  const n = b.readUInt16BE(pos);
  const codes = Array.from({ length: n }, (_, i) => b.readUInt16BE(pos + 2 + 2 * i));
  // None: all text; one: it applies to all; else one per parameter.
  return Array.from({ length: count }, (_, i) => (n === 0 ? 0 : n === 1 ? codes[0]! : (codes[i] ?? 0)));
}

/** The Bind message `b` (parameters from `pos`) with other parameter values. */
function rebuildBind(b: Buffer, pos: number, values: readonly (Buffer | null)[]): Buffer {
  const formats = b.readUInt16BE(pos);
  const countAt = pos + 2 + 2 * formats;
  let at = countAt + 2;
  for (let i = 0; i < values.length; i++) {
    const length = b.readInt32BE(at);
    at += 4 + (length > 0 ? length : 0);
  }
  const parts: Buffer[] = [b.subarray(0, countAt + 2)];
  for (const v of values) {
    const length = Buffer.alloc(4);
    length.writeInt32BE(v === null ? -1 : v.length);
    parts.push(length);
    if (v) parts.push(v);
  }
  parts.push(b.subarray(at));
  const frame = Buffer.concat(parts);
  frame.writeUInt32BE(frame.length - 1, 1);
  return frame;
}

function readName(b: Buffer, pos: number): [string, number] {
  const end = b.indexOf(0, pos);
  if (end < 0) throw new ProtocolError('name field is not terminated');
  return [b.toString('latin1', pos, end), end + 1];
}

/**
 * One write for a batch: small or many-piece batches joined into one buffer (a copy is
 * cheaper than a long write vector), a few large pieces as one vectored write. False when
 * the socket wants a drain.
 */
function writeAll(socket: Socket, out: Buffer[]): boolean {
  if (out.length === 1) return socket.write(out[0]!);
  let total = 0;
  for (const b of out) total += b.length;
  if (total < JOIN_BELOW || out.length > 8) return socket.write(Buffer.concat(out, total));
  socket.cork();
  for (const b of out) socket.write(b);
  socket.uncork();
  return !socket.writableNeedDrain;
}

function newRun(admission: Admission, extended: boolean): RunEntry {
  return {
    kind: 'run',
    extended,
    admission,
    started: performance.now(),
    rowCount: 0,
    resultRows: 0,
    planned: false,
    copyRefused: false,
  };
}

/**
 * Whether running this statement could change client_encoding (SET, RESET, set_config, DO,
 * CALL, functions the analyser does not know...): any class but read, write, transaction.
 */
function mayChangeEncoding(admission: Admission): boolean {
  const c = admission.action.intent.class;
  return c !== 'read' && c !== 'write' && c !== 'transaction';
}

function refusal(fields: ErrorFields): Refusal {
  return { refusal: errorResponse(fields) };
}

function upstreamLost(): ErrorFields {
  return { severity: 'FATAL', code: '08006', message: 'the connection between Sluice and the upstream database was lost' };
}
