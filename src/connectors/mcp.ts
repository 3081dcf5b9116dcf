// An upstream MCP server as a connection: Sluice is its MCP client (the official SDK Client)
// over stdio (a child process it launches, with an environment built like the shell
// connector's: a short allow list plus configured values) or streamable HTTP (configured
// headers). The injected env values and headers are the connection's secrets: only this
// module holds them, and the gate cuts them out of every result.
//
// The gate's command for a call is `tool({...canonical JSON arguments...})` (a prompt:
// `prompt:name({...})`, a resource: `resource:read({"uri":"..."})`): readable in the audit and
// review, and exactly what runs (the approved text is parsed back here). Results are
// flattened into one row whose columns are JSON pointers into the result
// (`/content[0]/text`, `/structuredContent/email`), so the gate's secret redaction and
// masking (by column name and by content) apply to every string; `toolResultOf` and
// `upstreamResultOf` rebuild it.
//
// An upstream that dies or cannot be reached is restarted with back-off (doubling from
// `restart.initial` to `restart.max`); meanwhile calls fail with `upstream_unavailable`.
//
// Notifications from the upstream: progress of a call goes to whoever watches that call (the
// MCP door registers an observer on the call's AbortSignal, the one object the gate hands
// through to `execute` unchanged); logging messages go to `onMessage` listeners. Both have the
// injected secrets cut out here; the door masks them. Requests from the upstream to its
// client (sampling, elicitation, roots) are refused: Sluice declares none of those
// capabilities, and anything that asks anyway gets a JSON-RPC error saying why.
import {
  Client,
  ProtocolError,
  ProtocolErrorCode,
  SdkHttpError,
  StreamableHTTPClientTransport,
  type CallToolResult,
  type LoggingLevel,
  type Prompt,
  type Resource,
  type ResourceTemplateType,
  type Tool,
} from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { canonicalJson } from '../audit/canonical.js';
import { forgetToolHints, parseUpstreamCommand, registerToolHints, type ToolHints } from '../analyse/mcp.js';
import { log } from '../util/log.js';
import { createHttpFetch, type HttpFetch } from '../util/http-fetch.js';
import { ClientCredentials, type ClientCredentialsOptions } from './mcp-oauth.js';
import type { ColumnInfo, Connector, ExecutionContext, ExecutionResult } from './connector.js';

export type McpTransportOptions =
  | { kind: 'stdio'; command: string; args: readonly string[]; env: Record<string, string>; cwd: string }
  | { kind: 'http'; url: string; headers: Record<string, string>; oauth?: Omit<ClientCredentialsOptions, 'onToken'> };

export interface McpConnectorOptions {
  /** The connection's name, for logs and messages. */
  name: string;
  transport: McpTransportOptions;
  /** Longest a tool call may take. */
  timeoutMs: number;
  restart: { initialMs: number; maxMs: number };
  /**
   * Injected values; binary results that contain one are withheld (text is redacted by the
   * gate). The gate reads the same array: the connector adds the OAuth access tokens it
   * obtains (and drops them again two tokens later).
   */
  secrets: string[];
  /** Client version sent in initialize. */
  version?: string;
}

export type UpstreamState = 'connecting' | 'ready' | 'unavailable' | 'closed';

/** A connection that lived this long resets the back-off; shorter lives keep doubling it. */
const STABLE_MS = 10_000;
const CONNECT_TIMEOUT_MS = 30_000;
const MAX_STDERR_LOG = 2_000;

/** The command the gate sees and runs for a call of `tool` with `args`. */
export function renderToolCall(tool: string, args: Record<string, unknown>): string {
  return `${tool}(${canonicalJson(args)})`;
}

/** The command for getting a prompt with its arguments. */
export function renderPromptGet(prompt: string, args: Record<string, string>): string {
  return `prompt:${prompt}(${canonicalJson(args)})`;
}

/** The command for reading a resource. */
export function renderResourceRead(uri: string): string {
  return `resource:read(${canonicalJson({ uri })})`;
}

export type UpstreamListKind = 'tools' | 'prompts' | 'resources';

/** A progress notification of an upstream call, secrets cut out. */
export interface UpstreamProgress {
  progress: number;
  total?: number;
  message?: string;
}

/** A logging message (notifications/message) of an upstream server, secrets cut out. */
export interface UpstreamLogMessage {
  level: LoggingLevel;
  logger?: string;
  data: unknown;
}

/** Who wants to hear about one running call. */
export interface UpstreamCallObserver {
  progress?(update: UpstreamProgress): void;
}

// Keyed by the call's AbortSignal: the door creates one per call and the gate passes it to
// execute() as it is, so no other call can be confused with this one.
const callObservers = new WeakMap<AbortSignal, UpstreamCallObserver>();

/** Watches the upstream call made with this signal; returns the function that stops watching. */
export function observeUpstreamCall(signal: AbortSignal, observer: UpstreamCallObserver): () => void {
  callObservers.set(signal, observer);
  return () => {
    if (callObservers.get(signal) === observer) callObservers.delete(signal);
  };
}

/** Why Sluice answers an upstream's request to its client with an error. */
export function refusedClientRequest(method: string): string {
  return `Sluice does not pass ${method} requests from upstream MCP servers on to the agent: they would reach the agent's model or user around the gate and its audit. Do the work in the tool, or ask the agent to call another tool.`;
}

/** Every string in a JSON value with the secrets cut out. */
function redactDeep(value: unknown, secrets: readonly string[], depth = 0): unknown {
  if (typeof value === 'string') return redactText(value, secrets);
  if (depth > MAX_DEPTH || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => redactDeep(item, secrets, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, redactDeep(item, secrets, depth + 1)]));
}

function redactText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join('[secret]');
  return out;
}

export class McpConnector implements Connector {
  readonly kind = 'mcp';
  #client: Client | undefined;
  #state: UpstreamState = 'connecting';
  #lastError = 'not connected yet';
  #tools: Tool[] = [];
  #prompts: Prompt[] = [];
  #resources: Resource[] = [];
  #templates: ResourceTemplateType[] = [];
  #attempt = 0;
  #connectedAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #pid: number | null = null;
  #restarts = 0;
  readonly #listeners = new Set<(kind: UpstreamListKind) => void>();
  readonly #messageListeners = new Set<(message: UpstreamLogMessage) => void>();
  readonly #waiters = new Set<() => void>();
  #oauth: ClientCredentials | undefined;
  /** HTTP upstreams: keep-alive sockets shared by the transports of every restart. */
  #httpFetch: HttpFetch | undefined;
  readonly #tokens: string[] = [];

  constructor(private readonly options: McpConnectorOptions) {
    void this.connect();
  }

  get state(): UpstreamState {
    return this.#state;
  }

  /** The upstream's tools as last listed (kept while it is unavailable). */
  get tools(): readonly Tool[] {
    return this.#tools;
  }

  get prompts(): readonly Prompt[] {
    return this.#prompts;
  }

  get resources(): readonly Resource[] {
    return this.#resources;
  }

  get resourceTemplates(): readonly ResourceTemplateType[] {
    return this.#templates;
  }

  /** The stdio server's process id while it runs. */
  get pid(): number | null {
    return this.#pid;
  }

  get restarts(): number {
    return this.#restarts;
  }

  /** Why the upstream is not ready, in words safe to show a caller. */
  get unavailableReason(): string {
    return this.#lastError;
  }

  /** Called when one of the upstream's lists changed (a notification, or a reconnect: all three). */
  onListChanged(listener: (kind: UpstreamListKind) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Called for each logging message the upstream sends (secrets already cut out). */
  onMessage(listener: (message: UpstreamLogMessage) => void): () => void {
    this.#messageListeners.add(listener);
    return () => this.#messageListeners.delete(listener);
  }

  /** Resolves once the upstream is ready (or rejects after timeoutMs). */
  async ready(timeoutMs = CONNECT_TIMEOUT_MS): Promise<void> {
    if (this.#state === 'ready') return;
    if (this.#state === 'closed') throw new Error('the connection is closed');
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(done);
        reject(new Error(`upstream MCP server of ${this.options.name} not ready after ${timeoutMs} ms: ${this.#lastError}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.#waiters.add(done);
    });
  }

  async execute(command: string, context: ExecutionContext): Promise<ExecutionResult> {
    const call = parseUpstreamCommand(command);
    if (!call) return { ok: false, error: { code: 'invalid_tool_call', message: 'the command is not a call of the form tool({...})' } };
    const client = this.#client;
    if (this.#state !== 'ready' || !client) return this.unavailable();
    const observer = context.signal ? callObservers.get(context.signal) : undefined;
    const onprogress = observer?.progress
      ? (update: { progress: number; total?: number; message?: string }) =>
          observer.progress!({
            progress: update.progress,
            ...(update.total !== undefined ? { total: update.total } : {}),
            ...(typeof update.message === 'string' ? { message: redactText(update.message, this.options.secrets) } : {}),
          })
      : undefined;
    const options = { timeout: this.options.timeoutMs, ...(context.signal ? { signal: context.signal } : {}), ...(onprogress ? { onprogress } : {}) };
    try {
      if (call.op === 'prompt') {
        const args = Object.fromEntries(Object.entries(call.args).map(([key, value]) => [key, typeof value === 'string' ? value : JSON.stringify(value)]));
        const prompt = await client.getPrompt({ name: call.name, arguments: args }, options);
        return flattenResult({ description: prompt.description, messages: prompt.messages }, true, this.options.secrets, prompt.messages.length);
      }
      if (call.op === 'resource') {
        const read = await client.readResource({ uri: String(call.args.uri) }, { ...options, cacheMode: 'bypass' });
        return flattenResult({ contents: read.contents }, true, this.options.secrets, read.contents.length);
      }
      const result = await client.callTool({ name: call.name, arguments: call.args }, options);
      return executionResultOf(result as CallToolResult, this.options.secrets);
    } catch (error) {
      if (this.#state !== 'ready' || this.#client !== client) return this.unavailable();
      const message = (error as Error).message || String(error);
      // Over HTTP nothing tells Sluice that the server went away or forgot the session: a
      // failed fetch or an HTTP error status means reconnecting (JSON-RPC errors do not).
      if (this.options.transport.kind === 'http' && !context.signal?.aborted && (error instanceof TypeError || error instanceof SdkHttpError)) {
        this.lost(client, `the server could not be reached: ${message}`);
        return this.unavailable();
      }
      return { ok: false, error: { code: 'upstream_error', message: `the MCP server of connection "${this.options.name}" answered with an error: ${message}` } };
    }
  }

  private unavailable(): ExecutionResult {
    return {
      ok: false,
      error: {
        code: 'upstream_unavailable',
        message: `the MCP server of connection "${this.options.name}" is unavailable (${this.#lastError}); Sluice is restarting it, try again in a few seconds`,
      },
    };
  }

  private async connect(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = this.#attempt === 0 && this.#restarts === 0 ? 'connecting' : 'unavailable';
    const client = new Client({ name: 'sluice', version: this.options.version ?? '0' }, { capabilities: {} });
    const transport = this.createTransport();
    let opened = false;
    client.onclose = () => {
      if (!opened || this.#client !== client) return;
      this.lost(client, 'the server closed the connection or exited');
    };
    client.onerror = (error) => log.debug({ connection: this.options.name, err: error }, 'MCP upstream transport error');
    client.setNotificationHandler('notifications/tools/list_changed', () => {
      if (this.#client === client) void this.refreshTools(client, true);
    });
    client.setNotificationHandler('notifications/prompts/list_changed', () => {
      if (this.#client === client) void this.refreshPrompts(client, true);
    });
    client.setNotificationHandler('notifications/resources/list_changed', () => {
      if (this.#client === client) void this.refreshResources(client, true);
    });
    client.setNotificationHandler('notifications/message', (notification) => {
      if (this.#client !== client) return;
      const { level, logger, data } = notification.params;
      const message: UpstreamLogMessage = { level, ...(typeof logger === 'string' ? { logger: redactText(logger, this.options.secrets) } : {}), data: redactDeep(data, this.options.secrets) };
      for (const listener of this.#messageListeners) {
        try {
          listener(message);
        } catch (error) {
          log.debug({ err: error }, 'MCP upstream message listener failed');
        }
      }
    });
    // Sampling, elicitation, roots: not declared, so SDK servers do not ask; any that asks anyway is told why not.
    client.fallbackRequestHandler = (request) => {
      log.warn({ connection: this.options.name, method: request.method }, 'refused a request from an upstream MCP server to its client');
      return Promise.reject(new ProtocolError(ProtocolErrorCode.MethodNotFound, refusedClientRequest(request.method)));
    };
    try {
      await client.connect(transport, { timeout: CONNECT_TIMEOUT_MS });
      if ((this.#state as UpstreamState) === 'closed') {
        await client.close().catch(() => undefined);
        return;
      }
      opened = true;
      this.#client = client;
      this.#pid = transport instanceof StdioClientTransport ? transport.pid : null;
      this.#connectedAt = Date.now();
      await this.refreshTools(client, false);
      await Promise.all([this.refreshPrompts(client, false), this.refreshResources(client, false)]);
      if (this.#client !== client) return;
      this.#state = 'ready';
      this.#lastError = '';
      log.info({ connection: this.options.name, tools: this.#tools.length, restarts: this.#restarts }, 'MCP upstream ready');
      for (const waiter of this.#waiters) waiter();
      this.#waiters.clear();
      for (const kind of ['tools', 'prompts', 'resources'] as const) this.emitChanged(kind);
    } catch (error) {
      const reason = `could not start: ${(error as Error).message}`;
      log.warn({ connection: this.options.name, err: error }, 'MCP upstream could not be started');
      if (opened) this.lost(client, reason);
      else {
        await client.close().catch(() => undefined);
        this.scheduleRestart(reason);
      }
    }
  }

  private createTransport(): StdioClientTransport | StreamableHTTPClientTransport {
    const t = this.options.transport;
    if (t.kind === 'http') {
      if (t.oauth) this.#oauth ??= new ClientCredentials({ ...t.oauth, onToken: (token) => this.rememberToken(token) });
      const base = (this.#httpFetch ??= createHttpFetch());
      return new StreamableHTTPClientTransport(new URL(t.url), { requestInit: { headers: { ...t.headers } }, fetch: this.#oauth ? this.#oauth.fetch(base) : base });
    }
    const transport = new StdioClientTransport({ command: t.command, args: [...t.args], env: t.env, cwd: t.cwd, stderr: 'pipe' });
    // Drained so a chatty server cannot block on a full pipe; logged at debug, secrets cut.
    transport.stderr?.on('data', (chunk: Buffer) => {
      let text = chunk.toString('utf8').slice(0, MAX_STDERR_LOG);
      for (const secret of this.options.secrets) if (secret.length >= 4) text = text.split(secret).join('[secret]');
      log.debug({ connection: this.options.name, stderr: text }, 'MCP upstream stderr');
    });
    return transport;
  }

  /** Token requests made so far (OAuth client credentials); 0 without oauth. */
  get tokenRequests(): number {
    return this.#oauth?.requests ?? 0;
  }

  /** A new access token is a secret like the configured ones; the one before the last is forgotten. */
  private rememberToken(token: string): void {
    this.#tokens.push(token);
    this.options.secrets.push(token);
    while (this.#tokens.length > 2) {
      const old = this.#tokens.shift()!;
      const at = this.options.secrets.lastIndexOf(old);
      if (at >= 0) this.options.secrets.splice(at, 1);
    }
  }

  private lost(client: Client, reason: string): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    this.#pid = null;
    void client.close().catch(() => undefined);
    if (Date.now() - this.#connectedAt >= STABLE_MS) this.#attempt = 0;
    log.warn({ connection: this.options.name, reason }, 'MCP upstream lost; restarting with back-off');
    this.scheduleRestart(reason);
  }

  private scheduleRestart(reason: string): void {
    if (this.#state === 'closed') return;
    this.#state = 'unavailable';
    this.#lastError = reason;
    const { initialMs, maxMs } = this.options.restart;
    const delay = Math.min(maxMs, initialMs * 2 ** Math.min(this.#attempt, 30));
    this.#attempt += 1;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#restarts += 1;
      void this.connect();
    }, delay);
    this.#timer.unref();
  }

  private async refreshTools(client: Client, notify: boolean): Promise<void> {
    try {
      const listed = await client.listTools(undefined, { timeout: CONNECT_TIMEOUT_MS, cacheMode: 'bypass' });
      if (this.#client !== client) return;
      this.#tools = listed.tools;
      const hints = new Map<string, ToolHints>();
      for (const tool of listed.tools) hints.set(tool.name, { ...(tool.annotations ?? {}) });
      registerToolHints(this, hints);
      if (notify) this.emitChanged('tools');
    } catch (error) {
      log.warn({ connection: this.options.name, err: error }, 'could not list the tools of an MCP upstream');
      if (!notify) throw error;
    }
  }

  /** Prompts and resources are optional: a server without them, or failing to list them, offers none. */
  private async refreshPrompts(client: Client, notify: boolean): Promise<void> {
    if (!client.getServerCapabilities()?.prompts) return;
    try {
      const listed = await client.listPrompts(undefined, { timeout: CONNECT_TIMEOUT_MS, cacheMode: 'bypass' });
      if (this.#client !== client) return;
      this.#prompts = listed.prompts;
      if (notify) this.emitChanged('prompts');
    } catch (error) {
      log.warn({ connection: this.options.name, err: error }, 'could not list the prompts of an MCP upstream');
    }
  }

  private async refreshResources(client: Client, notify: boolean): Promise<void> {
    if (!client.getServerCapabilities()?.resources) return;
    try {
      const [resources, templates] = await Promise.all([
        client.listResources(undefined, { timeout: CONNECT_TIMEOUT_MS, cacheMode: 'bypass' }),
        client.listResourceTemplates(undefined, { timeout: CONNECT_TIMEOUT_MS, cacheMode: 'bypass' }).catch(() => ({ resourceTemplates: [] })),
      ]);
      if (this.#client !== client) return;
      this.#resources = resources.resources;
      this.#templates = templates.resourceTemplates;
      if (notify) this.emitChanged('resources');
    } catch (error) {
      log.warn({ connection: this.options.name, err: error }, 'could not list the resources of an MCP upstream');
    }
  }

  private emitChanged(kind: UpstreamListKind): void {
    for (const listener of this.#listeners) {
      try {
        listener(kind);
      } catch (error) {
        log.debug({ err: error }, 'tools-changed listener failed');
      }
    }
  }

  async close(): Promise<void> {
    this.#state = 'closed';
    clearTimeout(this.#timer);
    forgetToolHints(this);
    const client = this.#client;
    this.#client = undefined;
    this.#listeners.clear();
    this.#messageListeners.clear();
    await client?.close().catch(() => undefined);
    this.#httpFetch?.close();
  }
}

export function createMcpConnector(options: McpConnectorOptions): McpConnector {
  return new McpConnector(options);
}

// --- Tool results as rows and back -------------------------------------------------------

/** Binary payloads (images, audio, blobs) travel beside the row: masking cannot read them. */
interface McpExecutionResult extends ExecutionResult {
  mcpBinary?: Record<string, string>;
}

const BINARY_MARK = 'sluice:binary';
const MAX_DEPTH = 32;

function pointerKey(key: string): string {
  return `/${key.replace(/~/g, '~0').replace(/\//g, '~1').replace(/\[/g, '~2')}`;
}

function parsePointer(pointer: string): (string | number)[] | undefined {
  const out: (string | number)[] = [];
  const re = /\/((?:[^/[~]|~[012])*)|\[(\d+)\]/y;
  let at = 0;
  while (at < pointer.length) {
    re.lastIndex = at;
    const m = re.exec(pointer);
    if (!m) return undefined;
    if (m[2] !== undefined) out.push(Number(m[2]));
    else out.push(m[1]!.replace(/~2/g, '[').replace(/~1/g, '/').replace(/~0/g, '~'));
    at = re.lastIndex;
  }
  return out;
}

function isTextMime(mime: unknown): boolean {
  return typeof mime === 'string' && /^(text\/|application\/(json|xml|yaml|x-yaml|javascript|csv|x-sh|sql)\b|[^;]*\+(json|xml)\b)/i.test(mime);
}

/**
 * Text-like blobs become text (so masking reads them); binary that holds a secret is withheld.
 * Applies to content blocks, embedded resources, resource contents and prompt messages.
 */
function prepareBlock(item: unknown, secrets: readonly string[], depth = 0): unknown {
  if (!item || typeof item !== 'object' || depth > 3) return item;
  if (Array.isArray(item)) return item.map((entry) => prepareBlock(entry, secrets, depth + 1));
  const block = item as Record<string, unknown>;
  if (typeof block.uri === 'string' && typeof block.blob === 'string') {
    if (isTextMime(block.mimeType)) {
      const { blob, ...rest } = block;
      return { ...rest, text: Buffer.from(blob, 'base64').toString('utf8') };
    }
    return containsSecret(block.blob, secrets) ? { uri: block.uri, text: WITHHELD_BINARY } : block;
  }
  if (block.type === 'resource' && block.resource && typeof block.resource === 'object') return { ...block, resource: prepareBlock(block.resource, secrets, depth + 1) };
  if (block.content && typeof block.content === 'object') return { ...block, content: prepareBlock(block.content, secrets, depth + 1) };
  if ((block.type === 'image' || block.type === 'audio') && typeof block.data === 'string' && containsSecret(block.data, secrets)) {
    return { type: 'text', text: WITHHELD_BINARY };
  }
  return item;
}

function containsSecret(base64: string, secrets: readonly string[]): boolean {
  if (secrets.length === 0) return false;
  const bytes = Buffer.from(base64, 'base64');
  return secrets.some((secret) => secret.length >= 4 && bytes.includes(Buffer.from(secret, 'utf8')));
}

const WITHHELD_BINARY = '[binary content withheld: it contained a credential Sluice injects]';

/** A tool result as one row of JSON-pointer columns (see the top of this file). */
export function executionResultOf(result: CallToolResult, secrets: readonly string[] = []): ExecutionResult {
  const content = Array.isArray(result.content) ? result.content : [];
  const flat = flattenResult(
    { content: content.length > 0 ? content : [], ...(result.structuredContent !== undefined ? { structuredContent: result.structuredContent } : {}) },
    true,
    secrets,
    content.length,
  );
  return result.isError === true ? { ...flat, ok: false, error: { code: 'tool_error', message: 'the tool reported an error (see its content)' } } : flat;
}

/**
 * Any upstream result as one row of JSON-pointer columns. Binary payloads (image and audio
 * `data`, resource `blob`) are looked for everywhere but under `structuredContent`.
 */
export function flattenResult(roots: Record<string, unknown>, ok: boolean, secrets: readonly string[], rowCount: number): ExecutionResult {
  const columns: ColumnInfo[] = [];
  const row: unknown[] = [];
  const binary: Record<string, string> = {};
  // binaryKey: the value is the base64 payload of an image, audio or blob content block.
  const walk = (value: unknown, pointer: string, depth: number, binaryKey: boolean, inContent: boolean): void => {
    if (depth > MAX_DEPTH) {
      columns.push({ name: pointer });
      row.push('[nested too deeply]');
      return;
    }
    if (binaryKey && typeof value === 'string') {
      binary[pointer] = value;
      columns.push({ name: pointer });
      row.push(BINARY_MARK);
      return;
    }
    if (Array.isArray(value) && value.length > 0) {
      value.forEach((item, i) => walk(item, `${pointer}[${i}]`, depth + 1, false, inContent));
      return;
    }
    if (value === undefined) return;
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0) {
      const block = value as Record<string, unknown>;
      const binaryField = !inContent ? undefined : block.type === 'image' || block.type === 'audio' ? 'data' : typeof block.uri === 'string' ? 'blob' : undefined;
      for (const [key, item] of Object.entries(block)) walk(item, pointer + pointerKey(key), depth + 1, key === binaryField, inContent);
      return;
    }
    columns.push({ name: pointer });
    row.push(value);
  };
  for (const [key, value] of Object.entries(roots)) {
    if (value === undefined) continue;
    const structured = key === 'structuredContent';
    walk(structured ? value : prepareBlock(value, secrets), pointerKey(key), 0, false, !structured);
  }
  const out: McpExecutionResult = { ok, columns, rows: [row], rowCount, ...(Object.keys(binary).length > 0 ? { mcpBinary: binary } : {}) };
  return out;
}

/**
 * The tool result from a (redacted, masked) execution result; undefined when the result
 * carries no tool result (the call did not reach the tool: use `error`).
 */
export function toolResultOf(result: ExecutionResult): CallToolResult | undefined {
  const root = upstreamResultOf(result);
  if (!root) return undefined;
  const content = Array.isArray(root.content) ? (root.content as unknown[]).filter((item) => item !== undefined) : [];
  return {
    content: content as CallToolResult['content'],
    ...(root.structuredContent !== undefined ? { structuredContent: root.structuredContent as Record<string, unknown> } : {}),
    ...(result.ok ? {} : { isError: true }),
  };
}

/** The object a (redacted, masked) execution result was flattened from; undefined without one. */
export function upstreamResultOf(result: ExecutionResult): Record<string, unknown> | undefined {
  const { columns, rows } = result;
  if (!columns || !rows || rows.length !== 1) return undefined;
  const binary = (result as McpExecutionResult).mcpBinary ?? {};
  const root: Record<string, unknown> = {};
  const row = rows[0]!;
  columns.forEach((column, i) => {
    const path = parsePointer(column.name);
    if (!path || path.length === 0) return;
    let value = row[i];
    if (value === BINARY_MARK) value = binary[column.name] ?? '';
    let node: Record<string | number, unknown> = root;
    for (let p = 0; p < path.length - 1; p++) {
      const key = path[p]!;
      if (node[key] === undefined || node[key] === null || typeof node[key] !== 'object') node[key] = typeof path[p + 1] === 'number' ? [] : {};
      node = node[key] as Record<string | number, unknown>;
    }
    node[path[path.length - 1]!] = value;
  });
  return root;
}
