// Upstream MCP servers as connections: their tools, prompts and resources, re-exported under
// the connection's name (`<connection>__<tool>`, `<connection>__<prompt>`,
// `sluice://<connection>/<upstream uri>`). The lists are live: they follow the upstream's
// list_changed notifications and restarts (connectors/mcp.ts). A tool call, a prompts/get and
// a resources/read are each one gate run (commands `tool({...})`, `prompt:name({...})`,
// `resource:read({"uri":...})`); the arguments themselves are `args` for CEL.
// Prompts and resources are in upstream-features.ts (this file must not import tools.ts values:
// tools.ts lists this provider among its built-ins).
import type { CallToolResult, Tool } from '@modelcontextprotocol/server';
import type { Connector } from '../../connectors/connector.js';
import { McpConnector, renderToolCall, toolResultOf } from '../../connectors/mcp.js';
import { McpAnalyser } from '../../analyse/mcp.js';
import type { GateOutcome } from '../../gate/gate.js';
import { checkStructured, widenOutputSchema, type OutputSchema } from './output-schema.js';
import { toolError } from './results.js';
import type { ConnectionTool, ToolProvider } from './tools.js';

/** MCP tool names: what Sluice re-exports unchanged after the connection's prefix. */
export const TOOL_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

export function isUpstream(connector: Connector | undefined): connector is McpConnector {
  return connector instanceof McpConnector;
}

function formatUpstreamResult(connection: string, name: string, outputSchema: OutputSchema | undefined) {
  return (outcome: GateOutcome): CallToolResult => {
    const result = outcome.result!;
    const tool = toolResultOf(result);
    if (!tool) {
      const message = result.error?.message ?? 'unknown error';
      return toolError(result.error?.code === 'upstream_unavailable' ? `Unavailable: ${message}. Nothing ran.` : `The call failed: ${message}`);
    }
    if (outputSchema && !tool.isError) {
      const check = checkStructured(outputSchema, tool.structuredContent);
      if (!check.ok) {
        return toolError(`The result of ${name} does not match the tool's output schema after masking (${check.reason}), so Sluice withholds it. The call did run.`);
      }
    }
    if (tool.content.length === 0 && tool.structuredContent === undefined) {
      return { ...tool, content: [{ type: 'text', text: `(the tool of ${connection} returned no content)` }] };
    }
    return tool;
  };
}

const analyser = new McpAnalyser();

function upstreamTool(connection: string, tool: Tool): ConnectionTool {
  // The class depends on the tool's name and annotations only, never on the arguments.
  const intentClass = analyser.analyse(renderToolCall(tool.name, {})).class;
  const from = `Tool "${tool.name}" of the MCP server behind connection "${connection}", through the Sluice gateway.`;
  const title = tool.title ?? tool.annotations?.title ?? tool.name;
  const outputSchema = tool.outputSchema ? widenOutputSchema(tool.outputSchema) : undefined;
  return {
    name: tool.name,
    title: `${title} (${connection})`,
    description: tool.description ? `${tool.description}\n\n${from}` : from,
    inputSchema: tool.inputSchema,
    // Widened so that masked values (placeholder text) still validate (output-schema.ts).
    ...(outputSchema ? { outputSchema } : {}),
    ...(tool.annotations ? { annotations: tool.annotations } : {}),
    command: (args) => {
      try {
        // The audit keeps the call with its argument values as keyed digests.
        return { command: renderToolCall(tool.name, args), audit: (recordable) => renderToolCall(tool.name, recordable) };
      } catch (error) {
        return { error: (error as Error).message };
      }
    },
    format: formatUpstreamResult(connection, `${connection}__${tool.name}`, outputSchema),
    intentClass,
  };
}

/** Tools of an upstream MCP connection, as its server lists them now. */
export const upstreamTools: ToolProvider = {
  kind: 'mcp',
  live: true,
  tools: (connection, _config, connector) => {
    if (!isUpstream(connector)) return [];
    return connector.tools.filter((tool) => TOOL_NAME.test(tool.name)).map((tool) => upstreamTool(connection, tool));
  },
};
