// The tool catalogue: a registry of per-connection tool providers. Each connection kind
// that has a provider offers its tools under the connection's namespace
// (`<connection>__<tool>`); tools/list shows a tool only when the policy could let a call of
// it run for the principal asking (policy-scope.ts). Upstream MCP servers are a live provider (upstream.ts): their
// tool lists change, and every attached session is told (notifications/tools/list_changed).
import type { CallToolResult, Server, Tool } from '@modelcontextprotocol/server';
import type { ConnectionConfig } from '../../config/schema.js';
import type { Connector } from '../../connectors/connector.js';
import type { GateOutcome } from '../../gate/gate.js';
import type { IntentClass, Principal } from '../../gate/types.js';
import type { CompiledRule } from '../../policy/index.js';
import { log } from '../../util/log.js';
import { scopeSummary, type ScopeSummary } from './policy-scope.js';
import { formatExecResult, formatQueryResult, QUERY_OUTPUT_SCHEMA, EXEC_OUTPUT_SCHEMA } from './results.js';
import { isUpstream, upstreamTools } from './upstream.js';

/**
 * Between the connection name and the tool name. MCP tool names may use letters, digits,
 * `_`, `-` and `.`; connection names use the same characters, so a double underscore keeps
 * the name valid and readable. Names are looked up whole, never split.
 */
export const TOOL_SEPARATOR = '__';

/** A tool a connection offers, before namespacing. */
export interface ConnectionTool {
  /** Short name, e.g. `query`; the listed name is `<connection>__<name>`. */
  name: string;
  title: string;
  /** What the tool does; the policy sentence is appended by the catalogue. */
  description: string;
  inputSchema: Tool['inputSchema'];
  outputSchema?: Tool['outputSchema'];
  annotations?: Tool['annotations'];
  /** The command the gate analyses and runs, from validated arguments; or why the arguments are wrong. */
  command(args: Record<string, unknown>): { command: string; audit?: (recordableArgs: Record<string, unknown>) => string } | { error: string };
  /** The tool result for an executed command (decision refusals are formatted by the caller). */
  format(outcome: GateOutcome): CallToolResult;
  /**
   * The intent class every call of this tool has, when the tool alone decides it (upstream
   * tools: by annotations and name). tools/list then evaluates `intent.class` in conditions.
   */
  intentClass?: IntentClass;
}

/** Turns a connection of one kind into tools. */
export interface ToolProvider {
  readonly kind: string;
  /** The tools change while Sluice runs (asked again after the connector reports a change). */
  readonly live?: boolean;
  tools(connection: string, config: ConnectionConfig, connector?: Connector): readonly ConnectionTool[];
}

export interface CatalogueOptions {
  /** The running connector of a connection (live providers read their tools from it). */
  connector?: (name: string) => Connector | undefined;
}

/** A namespaced tool of one connection. */
export interface CatalogueTool {
  name: string;
  connection: string;
  tool: ConnectionTool;
}

/** One string argument, required, nothing else. */
function stringArgument(name: string, description: string): Tool['inputSchema'] {
  return {
    type: 'object',
    properties: { [name]: { type: 'string', description } },
    required: [name],
    additionalProperties: false,
  };
}

function onlyString(args: Record<string, unknown>, name: string): { value: string } | { error: string } {
  const extra = Object.keys(args).filter((key) => key !== name);
  if (extra.length > 0) return { error: `unknown argument(s): ${extra.join(', ')}; the tool takes only "${name}"` };
  const value = args[name];
  if (typeof value !== 'string') return { error: `"${name}" must be a string` };
  if (value.trim() === '') return { error: `"${name}" is empty` };
  return { value };
}

export const postgresTools: ToolProvider = {
  kind: 'postgres',
  tools: (connection) => [
    {
      name: 'query',
      title: `SQL on ${connection}`,
      description:
        `Runs SQL on the PostgreSQL connection "${connection}" through the Sluice gateway and returns the rows ` +
        '(columns, rows as arrays, rowCount, truncated when the row cap cut the result). Several statements separated by ";" run as one request; ' +
        'the rows of the last one that returns rows come back. Values in sensitive columns may come back masked.',
      inputSchema: stringArgument('sql', 'The SQL to run, e.g. SELECT id, name FROM customers LIMIT 10'),
      outputSchema: QUERY_OUTPUT_SCHEMA,
      annotations: { title: `SQL on ${connection}`, openWorldHint: false },
      command: (args) => {
        const sql = onlyString(args, 'sql');
        return 'error' in sql ? sql : { command: sql.value };
      },
      format: formatQueryResult,
    },
  ],
};

export const shellTools: ToolProvider = {
  kind: 'shell',
  tools: (connection) => [
    {
      name: 'exec',
      title: `Shell on ${connection}`,
      description:
        `Runs a bash command line on the shell connection "${connection}" through the Sluice gateway (in the connection's working folder, ` +
        'stdin closed, with a timeout and an output cap) and returns stdout, stderr and the exit code.',
      inputSchema: stringArgument('command', 'The bash command line, e.g. ls -l && head -5 notes.md'),
      outputSchema: EXEC_OUTPUT_SCHEMA,
      annotations: { title: `Shell on ${connection}`, openWorldHint: false },
      command: (args) => {
        const line = onlyString(args, 'command');
        return 'error' in line ? line : { command: line.value };
      },
      format: formatExecResult,
    },
  ],
};

export const BUILT_IN_PROVIDERS: readonly ToolProvider[] = [postgresTools, shellTools, upstreamTools];

/** Summaries kept per policy and principal (the rules array is replaced on reload, never mutated). */
const MAX_PRINCIPALS = 1000;

function principalKey(principal: Principal): string {
  return JSON.stringify([principal.kind, principal.name, [...principal.groups].sort(), principal.onBehalfOf ?? '']);
}

export class ToolCatalogue {
  #tools = new Map<string, CatalogueTool>();
  #summaries?: { rules: readonly CompiledRule[]; byPrincipal: Map<string, Map<string, ScopeSummary>> };
  readonly #connections: Readonly<Record<string, ConnectionConfig>>;
  readonly #build: () => Map<string, CatalogueTool>;
  /** Sessions told when a live provider's tools change. */
  readonly #servers = new Set<Server>();
  readonly #unsubscribe: (() => void)[] = [];

  constructor(connections: Readonly<Record<string, ConnectionConfig>>, providers: readonly ToolProvider[] = BUILT_IN_PROVIDERS, options: CatalogueOptions = {}) {
    this.#connections = connections;
    const byKind = new Map(providers.map((provider) => [provider.kind, provider]));
    this.#build = () => {
      const tools = new Map<string, CatalogueTool>();
      const refused = new Set<string>();
      for (const [connection, config] of Object.entries(connections)) {
        const provider = byKind.get(config.kind);
        const connector = provider?.live ? options.connector?.(connection) : undefined;
        for (const tool of provider?.tools(connection, config, connector) ?? []) {
          const name = `${connection}${TOOL_SEPARATOR}${tool.name}`;
          if (tools.has(name) || refused.has(name)) {
            // Only possible with odd names (`a__b` + `c` vs `a` + `b__c`); never let one shadow another.
            if (!refused.has(name)) log.warn({ tool: name, connection }, 'two connections would offer the same MCP tool name; neither offers it');
            refused.add(name);
            tools.delete(name);
            continue;
          }
          tools.set(name, { name, connection, tool });
        }
      }
      return tools;
    };
    this.#tools = this.#build();
    for (const [connection, config] of Object.entries(connections)) {
      if (!byKind.get(config.kind)?.live) continue;
      const connector = options.connector?.(connection);
      if (isUpstream(connector)) this.#unsubscribe.push(connector.onListChanged((kind) => this.changed(kind)));
    }
  }

  /** Tells this session's client when the tool list changes; forgotten when the session closes. */
  attach(server: Server): void {
    this.#servers.add(server);
    const previous = server.onclose;
    server.onclose = () => {
      this.#servers.delete(server);
      previous?.();
    };
  }

  /** A live provider's list changed: rebuild the tools, and tell every attached session. */
  private changed(kind: 'tools' | 'prompts' | 'resources'): void {
    if (kind === 'tools') this.#tools = this.#build();
    for (const server of this.#servers) {
      const sent = Promise.resolve().then(() =>
        kind === 'tools' ? server.sendToolListChanged() : kind === 'prompts' ? server.sendPromptListChanged() : server.sendResourceListChanged(),
      );
      sent.catch((error: unknown) => log.debug({ err: error, kind }, 'could not send a list_changed notification to an MCP session'));
    }
  }

  /** Whether the policy could let this principal's call on this connection run (what tools/list shows). */
  couldRun(connection: string, rules: readonly CompiledRule[], principal: Principal): boolean {
    return this.summary(rules, principal, connection).couldRun;
  }

  /** Stops following live providers (the endpoint is closing). */
  close(): void {
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    this.#servers.clear();
  }

  /** The tools the policy could let this principal run, as tools/list shows them. */
  list(rules: readonly CompiledRule[], principal: Principal): Tool[] {
    const out: Tool[] = [];
    for (const entry of this.#tools.values()) {
      const summary = this.summary(rules, principal, entry.connection, entry.tool.intentClass);
      if (!summary.couldRun) continue;
      out.push({
        name: entry.name,
        title: entry.tool.title,
        description: `${entry.tool.description} ${summary.text} A denied call returns an error naming the rule; a call held for review waits for approval (or says it is pending).`,
        inputSchema: entry.tool.inputSchema,
        ...(entry.tool.outputSchema ? { outputSchema: entry.tool.outputSchema } : {}),
        ...(entry.tool.annotations ? { annotations: entry.tool.annotations } : {}),
      });
    }
    return out;
  }

  /** A listed tool by its full name; undefined for unknown names and for tools the policy hides from this principal. */
  find(name: string, rules: readonly CompiledRule[], principal: Principal): CatalogueTool | undefined {
    const entry = this.#tools.get(name);
    return entry && this.summary(rules, principal, entry.connection, entry.tool.intentClass).couldRun ? entry : undefined;
  }

  private summary(rules: readonly CompiledRule[], principal: Principal, connection: string, intentClass?: IntentClass): ScopeSummary {
    if (this.#summaries?.rules !== rules) this.#summaries = { rules, byPrincipal: new Map() };
    const who = principalKey(principal);
    let mine = this.#summaries.byPrincipal.get(who);
    if (!mine) {
      if (this.#summaries.byPrincipal.size >= MAX_PRINCIPALS) this.#summaries.byPrincipal.clear();
      mine = new Map();
      this.#summaries.byPrincipal.set(who, mine);
    }
    const key = `${connection}\u0000${intentClass ?? ''}`;
    let summary = mine.get(key);
    if (!summary) {
      const config = this.#connections[connection];
      summary = scopeSummary(rules, {
        principal,
        connection: { name: connection, kind: config?.kind ?? '', labels: config?.labels ?? {} },
        ...(intentClass ? { intentClass } : {}),
      });
      mine.set(key, summary);
    }
    return summary;
  }
}
