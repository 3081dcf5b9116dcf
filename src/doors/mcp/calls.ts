// A tools/call becomes one gate request: door `mcp`, the tool's connection, the command from
// the arguments (the SQL, the command line), the arguments themselves (CEL sees `args.sql`),
// the MCP session, and the client's name and version for the audit records. The gate decides,
// records, holds for review, runs, masks and records the outcome; this module only maps the
// call in and the outcome out, and keeps the caller informed while a review is open.
import { createHash } from 'node:crypto';
import type { CallToolResult } from '@modelcontextprotocol/server';
import type { Runtime } from '../../app/runtime.js';
import { canonicalJson } from '../../audit/canonical.js';
import { GateError, type GateOutcome } from '../../gate/gate.js';
import type { Principal } from '../../gate/types.js';
import { observeUpstreamCall, type UpstreamProgress } from '../../connectors/mcp.js';
import { StoreError } from '../../store/errors.js';
import type { ReviewRecord } from '../../store/store.js';
import { log } from '../../util/log.js';
import { MCP_DOOR } from './policy-scope.js';
import { formatRefusal, toolError } from './results.js';
import { maskNotice } from './upstream-notices.js';
import type { ToolCatalogue } from './tools.js';

export interface ClientInfo {
  name: string;
  version?: string;
}

export interface CallContext {
  principal: Principal;
  /** The MCP session id (the gate's session). */
  session: string;
  client?: ClientInfo;
  /** Aborted when the client cancels the call or goes away: a held review is withdrawn. */
  signal: AbortSignal;
  /** Sends notifications/progress; absent when the client sent no progressToken. */
  progress?: (message: string) => Promise<void>;
  /** Receives the upstream's progress of the running call (upstream MCP tools; text already masked). */
  upstreamProgress?: (update: UpstreamProgress) => void;
  /** Called when the call is held and will wait for a human (not with return-pending). */
  held?: () => void;
}

export interface ToolCallOptions {
  /** How often a held call repeats its progress notification (keeps client timeouts from firing). */
  progressIntervalMs?: number;
}

/** Pending reviews remembered for return-pending re-calls (oldest forgotten first). */
const MAX_PENDING = 10_000;

export class ToolCalls {
  readonly #pending = new Map<string, string>();
  readonly #progressIntervalMs: number;

  constructor(
    private readonly runtime: Runtime,
    private readonly catalogue: ToolCatalogue,
    options: ToolCallOptions = {},
  ) {
    this.#progressIntervalMs = options.progressIntervalMs ?? 10_000;
  }

  /**
   * A refusal before the gate could see a command: recorded as a deny decision (the tool name,
   * cut to 200 characters, stands in for the command; arguments are not kept), then answered.
   */
  private async refuse(name: string, context: CallContext, rule: string, reason: string, answer: string): Promise<CallToolResult> {
    const tool = name.slice(0, 200);
    try {
      await this.runtime.gate.refuse(
        {
          principal: context.principal,
          session: context.session,
          // The connection the name points at, when it has the <connection>__<tool> form.
          connection: tool.includes('__') ? tool.slice(0, tool.indexOf('__')) : '',
          door: MCP_DOOR,
          command: tool,
          detail: { tool, ...(context.client ? { client: context.client } : {}) },
        },
        rule,
        reason.slice(0, 500),
      );
    } catch (error) {
      log.error({ err: error }, 'could not record a refused MCP call');
      return toolError('Sluice cannot write its audit record, so nothing runs; try again later.');
    }
    return toolError(answer);
  }

  async call(name: string, rawArgs: unknown, context: CallContext): Promise<CallToolResult> {
    const config = this.runtime.loaded.config.listeners.api.mcp;
    const entry = this.catalogue.find(name, this.runtime.loaded.policy.rules, context.principal);
    // Unknown and policy-hidden tools get the same answer: hidden tools are not advertised.
    if (!entry) return this.refuse(name, context, 'mcp-unknown-tool', 'no such tool for this principal', `Unknown tool "${name}". Call tools/list for the tools Sluice offers you.`);
    const args = rawArgs ?? {};
    if (typeof args !== 'object' || Array.isArray(args)) return this.refuse(name, context, 'mcp-invalid-arguments', 'the arguments are not a JSON object', 'The arguments must be a JSON object.');
    const size = Buffer.byteLength(JSON.stringify(args), 'utf8');
    if (size > config.max_arguments) {
      return this.refuse(name, context, 'mcp-arguments-too-large', `${size} bytes of arguments, more than ${config.max_arguments}`, `The arguments are ${size} bytes; Sluice accepts at most ${config.max_arguments} (listeners.api.mcp.max_arguments). Nothing ran.`);
    }
    const mapped = entry.tool.command(args as Record<string, unknown>);
    if ('error' in mapped) return this.refuse(name, context, 'mcp-invalid-arguments', mapped.error, `Invalid arguments for ${name}: ${mapped.error}.`);

    const returnPending = config.review === 'return-pending';
    const pendingKey = returnPending ? this.pendingKey(context.principal, name, args) : undefined;
    const resume = pendingKey ? this.#pending.get(pendingKey) : undefined;

    let heartbeat: NodeJS.Timeout | undefined;
    const notify = (message: string) => {
      context.progress?.(message).catch((error: unknown) => log.debug({ err: error }, 'could not send an MCP progress notification'));
    };
    const onHold = (review: ReviewRecord) => {
      if (returnPending) return;
      context.held?.();
      if (!context.progress) return;
      const text = `Held for review ${review.id} (rule "${review.rule}"): a human must approve it with \`sluice reviews approve ${review.id}\` (or reject it with \`sluice reviews reject ${review.id}\`) before ${review.expiresAt}.`;
      notify(text);
      heartbeat = setInterval(() => notify(`Still waiting for review ${review.id}: sluice reviews approve ${review.id}`), this.#progressIntervalMs);
      heartbeat.unref();
    };

    const forward = context.upstreamProgress;
    const stopObserving =
      forward && this.runtime.loaded.config.connections[entry.connection]?.kind === 'mcp'
        ? observeUpstreamCall(context.signal, {
            progress: (update) => {
              const { message, ...numbers } = update;
              if (message === undefined) return forward(numbers);
              const masked = maskNotice(this.runtime, entry.connection, message, { session: context.session, principal: context.principal.name });
              forward(masked.ok && typeof masked.value === 'string' ? { ...numbers, message: masked.value } : numbers);
            },
          })
        : undefined;

    let outcome: GateOutcome;
    try {
      outcome = await this.runtime.gate.run(
        {
          principal: context.principal,
          session: context.session,
          connection: entry.connection,
          door: MCP_DOOR,
          command: mapped.command,
          ...(mapped.audit ? { auditCommand: mapped.audit } : {}),
          args: args as Record<string, unknown>,
          detail: { tool: name, ...(context.client ? { client: context.client } : {}) },
        },
        {
          signal: context.signal,
          onHold,
          ...(returnPending ? { returnPending: true } : {}),
          ...(resume ? { resumeReview: resume } : {}),
        },
      );
    } catch (error) {
      return gateFailure(error);
    } finally {
      if (heartbeat) clearInterval(heartbeat);
      stopObserving?.();
    }

    if (pendingKey) {
      if (outcome.status === 'pending' && outcome.review) this.remember(pendingKey, outcome.review.reviewId);
      else this.#pending.delete(pendingKey);
    }
    if (outcome.status !== 'executed') return formatRefusal(outcome);
    return entry.tool.format(outcome);
  }

  /** Same principal (key), same tool, same arguments: the same call. */
  private pendingKey(principal: Principal, tool: string, args: object): string {
    let text: string;
    try {
      text = canonicalJson(args);
    } catch {
      text = JSON.stringify(args);
    }
    return createHash('sha256')
      .update(`${principal.credentialId ?? ''}\u0000${principal.name}\u0000${tool}\u0000${text}`)
      .digest('hex');
  }

  private remember(key: string, reviewId: string): void {
    this.#pending.delete(key);
    this.#pending.set(key, reviewId);
    while (this.#pending.size > MAX_PENDING) this.#pending.delete(this.#pending.keys().next().value!);
  }
}

function gateFailure(error: unknown): CallToolResult {
  if (error instanceof GateError) {
    log.error({ err: error.cause ?? error }, error.message);
    return toolError(error.code === 'outcome_unrecorded' ? `The command ran, but ${error.message}` : `Nothing ran: ${error.message}`);
  }
  if (error instanceof StoreError) {
    log.error({ err: error }, 'store error during an MCP tool call');
    return toolError('Nothing ran: the Sluice store cannot be reached; try again later.');
  }
  log.error({ err: error }, 'MCP tool call failed');
  return toolError('The call failed inside Sluice; see the Sluice log. Check the target before retrying a write.');
}
