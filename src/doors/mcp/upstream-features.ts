// Upstream MCP servers' prompts and resources, re-exported under the connection's name
// (`<connection>__<prompt>`, `sluice://<connection>/<upstream uri>`). Getting a prompt and
// reading a resource are each one gate run (commands `prompt:name({...})` and
// `resource:read({"uri":...})`, class read); the arguments are `args` for CEL (`args.uri`).
import { ProtocolError, ProtocolErrorCode, type GetPromptResult, type ReadResourceResult, type Server, type ServerContext } from '@modelcontextprotocol/server';
import type { Runtime } from '../../app/runtime.js';
import { renderPromptGet, renderResourceRead, upstreamResultOf, type McpConnector } from '../../connectors/mcp.js';
import { GateError, type GateOutcome } from '../../gate/gate.js';
import { log } from '../../util/log.js';
import type { ClientInfo } from './calls.js';
import { MCP_DOOR } from './policy-scope.js';
import { formatRefusal } from './results.js';
import type { RequestAuth } from './server.js';
import { TOOL_SEPARATOR, type ToolCatalogue } from './tools.js';
import { isUpstream, TOOL_NAME } from './upstream.js';

const URI_PREFIX = 'sluice://';

function upstreamsOf(runtime: Runtime): [string, McpConnector][] {
  const out: [string, McpConnector][] = [];
  for (const [name, config] of Object.entries(runtime.loaded.config.connections)) {
    if (config.kind !== 'mcp') continue;
    const connector = runtime.connector(name);
    if (isUpstream(connector)) out.push([name, connector]);
  }
  return out;
}

function refuse(message: string): never {
  throw new ProtocolError(ProtocolErrorCode.InvalidParams, message);
}

/** The refusal or failure of a prompt or resource call as a protocol error (these have no isError). */
function failureText(outcome: GateOutcome): string {
  if (outcome.status !== 'executed') return ((formatRefusal(outcome).content[0] as { text: string }).text);
  const error = outcome.result?.error;
  return error?.code === 'upstream_unavailable' ? `Unavailable: ${error.message}` : `The upstream failed: ${error?.message ?? 'unknown error'}`;
}

/**
 * Adds the upstream servers' prompts and resources to a session's server: prompts/list,
 * prompts/get, resources/list, resources/templates/list, resources/read. Nothing is added when
 * no connection is an upstream MCP server.
 */
export function registerUpstreamFeatures(server: Server, runtime: Runtime, catalogue: ToolCatalogue, clientInfo: () => ClientInfo | undefined): void {
  if (upstreamsOf(runtime).length === 0) return;
  server.registerCapabilities({ prompts: { listChanged: true }, resources: { listChanged: true } });
  // An upstream's prompts and resources are offered to whoever could call some of its tools.
  const visible = (ctx: ServerContext) => {
    const principal = (ctx.http?.authInfo?.extra?.sluice as RequestAuth | undefined)?.principal;
    return principal ? upstreamsOf(runtime).filter(([name]) => catalogue.couldRun(name, runtime.loaded.policy.rules, principal)) : [];
  };

  const run = async (ctx: ServerContext, connection: string, command: string, args: Record<string, unknown>, detail: Record<string, unknown>) => {
    const auth = ctx.http?.authInfo?.extra?.sluice as RequestAuth | undefined;
    if (!auth?.principal) refuse('Sluice could not tell who is calling; nothing ran.');
    const client = clientInfo();
    try {
      return await runtime.gate.run(
        {
          principal: auth.principal,
          session: ctx.sessionId ?? 'mcp',
          connection,
          door: MCP_DOOR,
          command,
          args,
          detail: { ...detail, ...(client ? { client } : {}) },
        },
        {
          signal: AbortSignal.any([ctx.mcpReq.signal, auth.signal]),
          ...(runtime.loaded.config.listeners.api.mcp.review === 'return-pending' ? { returnPending: true } : {}),
        },
      );
    } catch (error) {
      log.error({ err: error instanceof GateError ? (error.cause ?? error) : error }, 'MCP upstream request failed in the gate');
      return refuse(error instanceof GateError ? `Nothing ran: ${error.message}` : 'The request failed inside Sluice; see the Sluice log.');
    }
  };

  server.setRequestHandler('prompts/list', (_request, ctx) => ({
    prompts: visible(ctx).flatMap(([connection, upstream]) =>
      upstream.prompts
        .filter((prompt) => TOOL_NAME.test(prompt.name))
        .map((prompt) => ({
          ...prompt,
          name: `${connection}${TOOL_SEPARATOR}${prompt.name}`,
          description: `${prompt.description ? `${prompt.description} ` : ''}(prompt "${prompt.name}" of the MCP server behind connection "${connection}", through Sluice)`,
        })),
    ),
  }));

  server.setRequestHandler('prompts/get', async (request, ctx): Promise<GetPromptResult> => {
    const name = request.params.name;
    const found = visible(ctx)
      .flatMap(([connection, upstream]) => upstream.prompts.map((prompt) => ({ connection, prompt })))
      .find(({ connection, prompt }) => `${connection}${TOOL_SEPARATOR}${prompt.name}` === name);
    if (!found) refuse(`Unknown prompt "${name}". Call prompts/list for the prompts Sluice offers you.`);
    const args = request.params.arguments ?? {};
    const outcome = await run(ctx, found.connection, renderPromptGet(found.prompt.name, args), args, { prompt: name });
    if (outcome.status !== 'executed' || !outcome.result?.ok) refuse(failureText(outcome));
    const root = upstreamResultOf(outcome.result);
    if (!root) refuse(failureText(outcome));
    return { ...(typeof root.description === 'string' ? { description: root.description } : {}), messages: (root.messages ?? []) as GetPromptResult['messages'] };
  });

  server.setRequestHandler('resources/list', (_request, ctx) => ({
    resources: visible(ctx).flatMap(([connection, upstream]) => upstream.resources.map((resource) => ({ ...resource, uri: `${URI_PREFIX}${connection}/${resource.uri}` }))),
  }));

  server.setRequestHandler('resources/templates/list', (_request, ctx) => ({
    resourceTemplates: visible(ctx).flatMap(([connection, upstream]) =>
      upstream.resourceTemplates.map((template) => ({ ...template, uriTemplate: `${URI_PREFIX}${connection}/${template.uriTemplate}` })),
    ),
  }));

  server.setRequestHandler('resources/read', async (request, ctx): Promise<ReadResourceResult> => {
    const uri = request.params.uri;
    const rest = uri.startsWith(URI_PREFIX) ? uri.slice(URI_PREFIX.length) : '';
    const slash = rest.indexOf('/');
    const connection = slash > 0 ? rest.slice(0, slash) : '';
    const upstreamUri = rest.slice(slash + 1);
    if (!connection || !upstreamUri || !visible(ctx).some(([name]) => name === connection)) {
      refuse(`Unknown resource "${uri}". Sluice's resources are named sluice://<connection>/<uri>; call resources/list.`);
    }
    const outcome = await run(ctx, connection, renderResourceRead(upstreamUri), { uri: upstreamUri }, { resource: uri });
    if (outcome.status !== 'executed' || !outcome.result?.ok) refuse(failureText(outcome));
    const root = upstreamResultOf(outcome.result);
    if (!root) refuse(failureText(outcome));
    // Answers name the resource as the client asked for it.
    const contents = ((root.contents ?? []) as { uri?: string }[]).map((item) => ({ ...item, uri: `${URI_PREFIX}${connection}/${item.uri ?? upstreamUri}` }));
    return { contents: contents as ReadResourceResult['contents'] };
  });
}
