// The gate: the one pipeline every door calls. Build an Action (analyse the command),
// decide, record the decision, hold for review when asked, run through the connector,
// mask, record the outcome. It knows no wire protocol, and it fails closed: without a
// decision and a stored audit record nothing runs.
import type { Analyser, AnalysisSession } from '../analyse/analyser.js';
import type { AuditDraft } from '../audit/record.js';
import { recordableJson, recordableParams, type ValueDigester } from '../audit/value-digest.js';
import type { ReviewHook, ReviewOutcome, AuditAppender } from '../approvals/reviews.js';
import type { Connector, ExecutionResult } from '../connectors/connector.js';
import { maskedValuesOf, maskResult, type CompiledMaskingProfile, type MaskReport } from '../masking/columns.js';
import { redactKnownSecrets } from '../masking/known-secrets.js';
import type { CommandRedactor, RedactedCommand } from '../audit/command-redaction.js';
import type { DetokenisedValues, DetokeniseOutcome, Detokeniser } from '../masking/detokenise.js';
import type { ReviewRecord } from '../store/store.js';
import { newUuid } from '../util/ids.js';
import type { Action, ConnectionRef, Decision, Intent, PolicyDecider, Principal } from './types.js';

/** A connection as the gate sees it: a name, how to analyse its commands, how to run them. */
export interface GateConnection {
  ref: ConnectionRef;
  /** Analyser language for this connection's commands (`postgres`, `shell`). */
  language: string;
  connector: Connector;
  /** Masking profile used when the deciding rule names none. */
  mask?: string;
  /** Credentials the connector injects: redacted from every result, whatever the policy. */
  secrets?: readonly string[];
}

export interface GateDependencies {
  /** The current policy; a function so that reloads take effect without restarting doors. */
  policy: () => PolicyDecider;
  analysers: ReadonlyMap<string, Analyser>;
  /** `record`, when there, stores a record without waiting for its row (the ledger's journal). */
  audit: AuditAppender & { record?(draft: AuditDraft, options?: { synced?: boolean }): Promise<void> };
  reviews: ReviewHook;
  connection: (name: string) => GateConnection | undefined;
  maskingProfiles: ReadonlyMap<string, CompiledMaskingProfile>;
  observer?: GateObserver;
  /** Swaps placeholders for their values where the deciding rule allows it (masking/detokenise.ts). */
  detokeniser?: Detokeniser;
  /** Keeps a recording of what the caller is shown (audit.recordings, audit/recording.ts). */
  recorder?: OutputRecorder;
  /** Keyed digests for argument and parameter values in records (none: values are left out). */
  valueDigester?: ValueDigester;
  /** Replaces secrets and personal data in command text before it is recorded (audit.redact_commands). */
  commandRedactor?: CommandRedactor;
}

/**
 * Called with a command's result after redaction and masking, i.e. exactly what the caller
 * gets; what it returns (where the recording is, its hash) goes into the outcome record's
 * `detail.recording`. A recording that fails says so in what it returns.
 */
export interface OutputRecorder {
  record(action: Action, result: ExecutionResult): Promise<Record<string, unknown> | undefined>;
}

export interface GateObserver {
  decided(action: Action, decision: Decision): void;
  completed(action: Action, status: GateOutcome['status'], durationMs: number): void;
}

export interface ActionRequest {
  principal: Principal;
  session: string;
  connection: string;
  door: string;
  command: string;
  args?: Record<string, unknown>;
  /**
   * When `command` carries the argument values (an upstream tool call): renders the command
   * from the arguments as the records keep them (keyed digests; see Action.auditCommand).
   */
  auditCommand?: (recordableArgs: Record<string, unknown>) => string;
  /** Door facts for the audit records (e.g. the MCP client's name and version). */
  detail?: Readonly<Record<string, unknown>>;
  analysisSession?: AnalysisSession;
}

export interface RunOptions {
  signal?: AbortSignal;
  /** Called when the command is held for review, with the pending record. */
  onHold?: (review: ReviewRecord) => void;
}

/** Options of `Gate.run` for callers that cannot keep a call open while a human decides. */
export interface ReviewModeOptions {
  /** Answer at once with status `pending` when the command is held, instead of waiting. */
  returnPending?: boolean;
  /**
   * An earlier pending review of this same command (same principal and connection) to
   * continue instead of opening a new one; an approved one is used up by this run.
   */
  resumeReview?: string;
}

export interface GateOutcome {
  action: Action;
  decision: Decision;
  /** executed: ran (the result says whether it succeeded); the others: did not run (`pending`: held, only with `returnPending`). */
  status: 'executed' | 'denied' | 'rejected' | 'expired' | 'cancelled' | 'pending';
  review?: ReviewOutcome;
  result?: ExecutionResult;
  masked?: MaskReport;
  durationMs?: number;
}

/** The result of `Gate.admit`: whether the door may run the command, and how to mask it. */
export interface Admission {
  action: Action;
  decision: Decision;
  status: 'allowed' | 'denied' | 'rejected' | 'expired' | 'cancelled';
  review?: ReviewOutcome;
  /** Set when allowed. */
  connection?: GateConnection;
  masking: { kind: 'none' } | { kind: 'profile'; profile: CompiledMaskingProfile } | { kind: 'missing'; name: string };
}

/** A held command when the caller asked not to wait (`returnPending`). */
interface PendingAdmission {
  action: Action;
  decision: Decision;
  status: 'pending';
  review: ReviewOutcome;
}

/** What a door reports to `Gate.complete` after running an admitted command. */
export interface CompletedCommand {
  /** A summary is enough: ok, rowCount, error, exitCode... Rows are not recorded. */
  result: ExecutionResult;
  durationMs: number;
  masked?: MaskReport;
  /** How many injected credentials were cut out of the result. */
  secretsRedacted?: number;
  /** Door facts for the outcome record only. */
  detail?: Readonly<Record<string, unknown>>;
  /** Bound parameter values (null for SQL NULL): the record keeps their keyed digests only. */
  params?: readonly (Uint8Array | null)[];
}

export class GateError extends Error {
  constructor(
    readonly code: 'audit_unavailable' | 'outcome_unrecorded',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'GateError';
  }
}

export const NO_MASKING = 'none';

const UNKNOWN_ANALYSER: Analyser = {
  language: 'none',
  analyse: () => unknownIntent('none', 'no analyser for this connection kind'),
};

export function unknownIntent(language: string, error: string): Intent {
  return {
    language,
    class: 'unknown',
    classes: ['unknown'],
    objects: { tables: [], programs: [], paths: [], hosts: [], functions: [] },
    flags: [],
    parts: [],
    error,
  };
}

export class Gate {
  constructor(private readonly deps: GateDependencies) {}

  /** Builds the Action for a request: resolves the connection and analyses the command. */
  buildAction(request: ActionRequest): { action: Action; connection?: GateConnection } {
    const connection = this.deps.connection(request.connection);
    const ref: ConnectionRef = connection?.ref ?? { name: request.connection, kind: 'unknown', labels: {} };
    const analyser = connection ? (this.deps.analysers.get(connection.language) ?? UNKNOWN_ANALYSER) : UNKNOWN_ANALYSER;
    const intent = safeAnalyse(analyser, request.command, request.analysisSession);
    const action: Action = {
      id: newUuid(),
      time: new Date(),
      principal: request.principal,
      session: request.session,
      connection: ref,
      door: request.door,
      command: request.command,
      ...(request.auditCommand ? { auditCommand: this.auditCommand(request) } : {}),
      intent,
      ...(request.args ? { args: request.args } : {}),
      ...(request.detail ? { detail: request.detail } : {}),
    };
    return connection ? { action, connection } : { action };
  }

  /**
   * Records that a door refused a request before it could become a command (an unknown tool,
   * arguments that do not fit): a deny decision under `rule`, without analysis, so that probing
   * leaves a trace. Rejects with GateError('audit_unavailable') when it cannot be stored.
   */
  async refuse(request: Omit<ActionRequest, 'analysisSession'>, rule: string, reason: string): Promise<void> {
    const connection = this.deps.connection(request.connection);
    const action: Action = {
      id: newUuid(),
      time: new Date(),
      principal: request.principal,
      session: request.session,
      connection: connection?.ref ?? { name: request.connection, kind: 'unknown', labels: {} },
      door: request.door,
      command: request.command,
      ...(request.auditCommand ? { auditCommand: this.auditCommand(request) } : {}),
      intent: unknownIntent('none', 'refused by the door before analysis'),
      ...(request.detail ? { detail: request.detail } : {}),
    };
    const decision: Decision = { effect: 'deny', rule, reason, matched: [] };
    this.deps.observer?.decided(action, decision);
    await this.record(decisionDraft(action, decision, this.deps.valueDigester, this.deps.commandRedactor));
    this.deps.observer?.completed(action, 'denied', 0);
  }

  private auditCommand(request: Pick<ActionRequest, 'auditCommand' | 'args'>): string {
    return request.auditCommand!(recordableJson(request.args ?? {}, this.deps.valueDigester) as Record<string, unknown>);
  }

  /** The policy decision for an Action; never throws (a broken policy denies). */
  decide(action: Action): Decision {
    try {
      return this.deps.policy().decide(action);
    } catch (error) {
      return {
        effect: 'deny',
        rule: 'policy-error',
        reason: `the policy could not be evaluated (${(error as Error).message}); nothing runs until it is fixed`,
        matched: [],
      };
    }
  }

  /**
   * The first half of the pipeline, for doors that run commands themselves (a wire-protocol
   * door forwards the statement on its own upstream session): analyse, decide, record the
   * decision, and hold for review when the policy says so. Only an admission with status
   * `allowed` may run, and the door must then call `complete` with what happened.
   * Rejects with GateError('audit_unavailable') when the decision cannot be recorded.
   */
  async admit(request: ActionRequest, options: RunOptions = {}): Promise<Admission> {
    const admission = await this.admitOrPend(request, options);
    // Without returnPending the review hook always waits for a verdict.
    if (admission.status === 'pending') throw new Error('admit() cannot return a pending review');
    return admission;
  }

  private async admitOrPend(request: ActionRequest, options: RunOptions & ReviewModeOptions): Promise<Admission | PendingAdmission> {
    const { action, connection } = this.buildAction(request);
    const decision: Decision = connection
      ? this.decide(action)
      : {
          effect: 'deny',
          rule: 'unknown-connection',
          reason: `there is no connection named "${request.connection}"`,
          matched: [],
        };
    this.deps.observer?.decided(action, decision);
    await this.record(decisionDraft(action, decision, this.deps.valueDigester, this.deps.commandRedactor));

    if (decision.effect === 'deny' || !connection) {
      this.deps.observer?.completed(action, 'denied', 0);
      return { action, decision, status: 'denied', masking: { kind: 'none' } };
    }

    let review: ReviewOutcome | undefined;
    if (decision.effect === 'review') {
      review = await this.deps.reviews.hold(action, decision, {
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.onHold ? { onPending: options.onHold } : {}),
        ...(options.returnPending ? { returnPending: true } : {}),
        ...(options.resumeReview ? { resume: options.resumeReview } : {}),
      });
      // Still held: no outcome yet; a later call with resumeReview continues it.
      if (review.status === 'pending') return { action, decision, status: 'pending', review };
      if (review.status !== 'approved') {
        await this.record(outcomeDraft(action, decision, review.status, { review }));
        this.deps.observer?.completed(action, review.status, 0);
        return { action, decision, status: review.status, review, masking: { kind: 'none' } };
      }
    }
    return { action, decision, status: 'allowed', connection, masking: this.masking(decision, connection, action), ...(review ? { review } : {}) };
  }

  /**
   * The second half: records the outcome of an admitted command. Rejects with
   * GateError('outcome_unrecorded') when it cannot be stored; the door must then withhold
   * the result and tell the caller that the command did run.
   */
  async complete(admission: Admission, outcome: CompletedCommand): Promise<void> {
    if (admission.status !== 'allowed') throw new Error('complete() is only for allowed admissions');
    const { action, decision, review } = admission;
    try {
      const { params, ...rest } = outcome;
      const detail = params?.length ? { ...outcome.detail, params: recordableParams(params, this.deps.valueDigester) } : outcome.detail;
      const masked = outcome.masked && recordableMaskReport(outcome.masked, this.deps.valueDigester);
      // Written before the caller sees the result, but not waited for the disk (store.sync:
      // full): the command has run already, and the next decision's sync covers this line.
      await this.store(outcomeDraft(action, decision, 'executed', { review, ...rest, ...(masked ? { masked } : {}), ...(detail ? { detail } : {}) }), { synced: false });
    } catch (error) {
      // Unlike a failed decision record, the command has run: say so, so nobody retries a
      // write that already happened.
      throw new GateError(
        'outcome_unrecorded',
        'the command ran, but its outcome could not be recorded, so the result is withheld; check the target before retrying, and check the audit store',
        { cause: error },
      );
    }
    this.deps.observer?.completed(action, 'executed', outcome.durationMs);
  }

  /**
   * Runs a request through the whole pipeline with the connection's connector. Rejects with
   * GateError('audit_unavailable') when the decision cannot be stored (nothing ran), or
   * GateError('outcome_unrecorded') when the outcome cannot be stored (it ran; the result is
   * withheld).
   */
  async run(request: ActionRequest, options: RunOptions & ReviewModeOptions = {}): Promise<GateOutcome> {
    const admission = await this.admitOrPend(request, options);
    if (admission.status === 'pending') return { action: admission.action, decision: admission.decision, status: 'pending', review: admission.review };
    const { action, decision, review, connection } = admission;
    if (admission.status !== 'allowed' || !connection) {
      return { action, decision, status: admission.status === 'allowed' ? 'denied' : admission.status, ...(review ? { review } : {}) };
    }

    const started = performance.now();
    let result: ExecutionResult;
    try {
      // The connector runs the command with placeholders' values in (when the rule allows it);
      // the audit records keep the command as sent.
      const run = await this.detokenise(action, decision, connection.language);
      result = !run.ok ? { ok: false, error: run.error } : await connection.connector.execute(run.command, {
        session: action.session,
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (error) {
      // Connectors report failures in the result; a throw is a bug, still recorded.
      result = { ok: false, error: { code: 'connector_error', message: (error as Error).message } };
    }
    const durationMs = performance.now() - started;
    let secretsRedacted = 0;
    if (connection.secrets?.length) ({ result, count: secretsRedacted } = redactKnownSecrets(result, connection.secrets));

    let masked: MaskReport | undefined;
    if (admission.masking.kind === 'missing') {
      // A named profile that does not exist must not leak data: withhold everything the
      // command returned (rows, output, content), keeping only whether and how it ended.
      result = {
        ok: false,
        ...(result.rowCount !== undefined ? { rowCount: result.rowCount } : {}),
        ...(result.exitCode !== undefined ? { exitCode: result.exitCode } : {}),
        error: { code: 'masking_error', message: `masking profile "${admission.masking.name}" is not defined; the result is withheld` },
      };
    } else if (admission.masking.kind === 'profile') {
      ({ result, report: masked } = maskResult(result, admission.masking.profile));
    }

    // The recording holds the masked result; the outcome record names it (detail.recording).
    // A recorder that throws must not cost the outcome record: the failure goes into it instead.
    const recording = this.deps.recorder ? await this.recordShown(action, result, this.deps.recorder) : undefined;
    const recorded = recording ? { ...admission, action: { ...action, detail: { ...action.detail, recording } } } : admission;
    await this.complete(recorded, { result, durationMs, ...(masked ? { masked } : {}), ...(secretsRedacted ? { secretsRedacted } : {}) });
    return {
      action,
      decision,
      status: 'executed',
      result,
      durationMs,
      ...(review ? { review } : {}),
      ...(masked ? { masked } : {}),
    };
  }

  /**
   * Records what the caller was shown, as the ledger keeps things: the command and the output
   * with secrets and personal data as keyed digests (audit.redact_commands), also where the
   * caller saw them unmasked. A failure is returned for the outcome record, not thrown.
   */
  private async recordShown(action: Action, result: ExecutionResult, recorder: OutputRecorder): Promise<unknown> {
    try {
      const redactor = this.deps.commandRedactor;
      const redact = (text: string): string => redactor?.redact(text).command ?? text;
      const command = action.auditCommand ?? redact(action.command);
      const shown: ExecutionResult = redactor
        ? { ...result, ...(result.stdout !== undefined ? { stdout: redact(result.stdout) } : {}), ...(result.stderr !== undefined ? { stderr: redact(result.stderr) } : {}) }
        : result;
      return await recorder.record(command === action.command ? action : { ...action, command }, shown);
    } catch (error) {
      return { error: (error as Error).message };
    }
  }

  /** The review hook, for actions that are held without a connector (a reveal, masking/vault-reveal.ts). */
  get reviews(): ReviewHook {
    return this.deps.reviews;
  }

  /**
   * The text to hand to the connector (or a door's upstream) for an allowed command: the command
   * with the values of its placeholders in, when the deciding rule says `detokenise: true`, or a
   * refusal to report instead of running it. Without a detokeniser the command as sent.
   */
  async detokenise(action: Action, decision: Decision, language: string): Promise<DetokeniseOutcome> {
    if (!this.deps.detokeniser || decision.detokenise !== true) return { ok: true, command: action.command };
    return this.deps.detokeniser.command(action, decision, language);
  }

  /**
   * Bound parameter values (a wire-protocol door's own) with their placeholders' values in,
   * when the deciding rule says `detokenise: true`; as given otherwise.
   */
  async detokeniseValues(action: Action, decision: Decision, values: readonly (string | null)[]): Promise<DetokenisedValues> {
    if (!this.deps.detokeniser || decision.detokenise !== true) return { ok: true, values: [...values], placeholders: [] };
    return this.deps.detokeniser.values(action, decision, values);
  }

  /** The masking that applies to an allowed command's results. */
  private masking(decision: Decision, connection: GateConnection, action: Action): Admission['masking'] {
    // `none` is the reserved name for "show values as they are".
    const name = decision.mask ?? connection.mask;
    if (!name || name === NO_MASKING) return { kind: 'none' };
    const profile = this.deps.maskingProfiles.get(name);
    // Bound to the caller: placeholders are stable within the profile's scope (session or agent).
    return profile ? { kind: 'profile', profile: profile.forScope({ session: action.session, principal: action.principal.name }) } : { kind: 'missing', name };
  }

  private store(draft: AuditDraft, options?: { synced: boolean }): Promise<unknown> {
    const audit = this.deps.audit;
    return audit.record ? audit.record(draft, options) : audit.append(draft);
  }

  private async record(draft: AuditDraft): Promise<void> {
    try {
      await this.store(draft);
    } catch (error) {
      throw new GateError(
        'audit_unavailable',
        'the audit store cannot be written, so nothing runs; check the store and try again',
        { cause: error },
      );
    }
  }
}

/**
 * The command as the decision record keeps it. A redactor that fails (a bug) must neither
 * record the text in clear nor stop the record: the text is withheld and the record says why.
 */
function redactedCommand(command: string, redactor: CommandRedactor | undefined): RedactedCommand {
  if (!redactor) return { command };
  try {
    return redactor.redact(command);
  } catch {
    return { command: '[withheld: redaction failed]', redacted: { failed: 1 } };
  }
}

function safeAnalyse(analyser: Analyser, command: string, session?: AnalysisSession): Intent {
  try {
    return analyser.analyse(command, session);
  } catch (error) {
    return unknownIntent(analyser.language, `analyser failed: ${(error as Error).message}`);
  }
}

function actorFields(action: Action) {
  return {
    actionId: action.id,
    session: action.session,
    principal: action.principal.name,
    ...(action.principal.kind === 'agent' ? { agent: action.principal.name } : {}),
    ...(action.principal.onBehalfOf ? { onBehalfOf: action.principal.onBehalfOf } : {}),
    connection: action.connection.name,
    door: action.door,
  };
}

function decisionDraft(action: Action, decision: Decision, digester: ValueDigester | undefined, redactor: CommandRedactor | undefined): AuditDraft {
  // A tool call's own rendering has its values digested already.
  const recorded = action.auditCommand !== undefined ? { command: action.auditCommand } : redactedCommand(action.command, redactor);
  return {
    kind: 'decision',
    ...actorFields(action),
    command: recorded.command,
    intent: {
      class: action.intent.class,
      classes: action.intent.classes,
      flags: action.intent.flags,
      objects: action.intent.objects,
      ...(action.intent.error ? { error: action.intent.error } : {}),
    },
    rule: decision.rule,
    effect: decision.effect,
    reason: decision.reason,
    detail: {
      principalKind: action.principal.kind,
      groups: action.principal.groups,
      // Argument values only as keyed digests (audit/value-digest.ts): searchable, not readable.
      ...(action.args ? { args: recordableJson(action.args, digester) } : {}),
      ...(recorded.redacted ? { redacted: recorded.redacted } : {}),
      ...action.detail,
    },
  };
}

/**
 * What the outcome record keeps of a mask report: the counts, and the masked values as keyed
 * digests (searchable with `sluice audit search --value`; the first MAX_NOTED distinct ones,
 * `digestsCapped` when there were more). Without a digest key the values are left out.
 */
function recordableMaskReport(report: MaskReport, digester: ValueDigester | undefined): MaskReport & { digests?: string[]; digestsCapped?: true } {
  // `digestsCapped`: more values were masked than have digests (more than MAX_NOTED, or longer than MAX_NOTED_LENGTH).
  const noted = digester ? maskedValuesOf(report) : undefined;
  if (!noted || (noted.values.length === 0 && !noted.more)) return report;
  return {
    ...report,
    ...(noted.values.length > 0 ? { digests: noted.values.map((v) => digester!.digest(v)) } : {}),
    ...(noted.more ? { digestsCapped: true as const } : {}),
  };
}

function outcomeDraft(
  action: Action,
  decision: Decision,
  outcome: Exclude<GateOutcome['status'], 'pending'>,
  extra: { review?: ReviewOutcome; result?: ExecutionResult; durationMs?: number; masked?: MaskReport; secretsRedacted?: number; detail?: Readonly<Record<string, unknown>> },
): AuditDraft {
  const { review, result, durationMs, masked, secretsRedacted, detail } = extra;
  return {
    kind: 'outcome',
    ...actorFields(action),
    rule: decision.rule,
    effect: decision.effect,
    outcome: outcome === 'executed' ? (result?.ok ? 'succeeded' : 'failed') : outcome,
    ...(review?.by ? { approver: review.by } : {}),
    ...(result?.rowCount !== undefined ? { rows: result.rowCount } : {}),
    ...(durationMs !== undefined ? { durationMs: Math.round(durationMs * 1000) / 1000 } : {}),
    detail: {
      ...action.detail,
      ...(review ? { reviewId: review.reviewId } : {}),
      ...(result?.error ? { error: result.error.code } : {}),
      ...(result?.exitCode !== undefined ? { exitCode: result.exitCode } : {}),
      ...(result?.truncated ? { truncated: true } : {}),
      ...(result?.timedOut ? { timedOut: true } : {}),
      ...(masked && masked.values > 0 ? { masked: masked } : {}),
      ...(secretsRedacted ? { secretsRedacted } : {}),
      ...detail,
    },
  };
}
