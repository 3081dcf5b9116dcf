// One low-level MCP Server per session (the tool list is dynamic: it follows the policy in
// force, so the SDK's McpServer with fixed registrations does not fit). It answers
// initialize (by the SDK), tools/list from the catalogue and tools/call through ToolCalls.
// Who calls comes per HTTP request from the transport's authInfo, set by the endpoint after
// it checked the bearer key; nothing here trusts the session alone.
import { Server, type AuthInfo, type CallToolResult, type ServerContext } from '@modelcontextprotocol/server';
import type { Runtime } from '../../app/runtime.js';
import type { UpstreamProgress } from '../../connectors/mcp.js';
import { log } from '../../util/log.js';
import type { Principal } from '../../gate/types.js';
import type { ClientInfo, ToolCalls } from './calls.js';
import { toolError } from './results.js';
import type { ToolCatalogue } from './tools.js';
import { registerUpstreamFeatures } from './upstream-features.js';

export const SERVER_NAME = 'sluice';

/** What the endpoint attaches to each request it hands to the transport. */
export interface RequestAuth {
  principal: Principal;
  /** Aborted when the HTTP request carrying the call goes away. */
  signal: AbortSignal;
}

export function authInfoFor(auth: RequestAuth): AuthInfo {
  // The key itself never goes here: handlers only need who it proved.
  return { token: '', clientId: auth.principal.credentialId ?? auth.principal.name, scopes: [], extra: { sluice: auth } };
}

export function requestAuth(ctx: ServerContext): RequestAuth | undefined {
  const value = ctx.http?.authInfo?.extra?.sluice as RequestAuth | undefined;
  return value?.principal ? value : undefined;
}

export interface ServerParts {
  runtime: Runtime;
  catalogue: ToolCatalogue;
  calls: ToolCalls;
  version: string;
}

export function createSessionServer(parts: ServerParts, clientInfo: () => ClientInfo | undefined): Server {
  const server = new Server(
    { name: SERVER_NAME, title: 'Sluice', version: parts.version },
    {
      // listChanged: upstream MCP connections' tools come and go (tools.ts tells sessions).
      capabilities: { tools: { listChanged: true } },
      instructions:
        'Sluice gates every tool call: a policy allows, denies or holds each command for human review, results may be masked, and every call is audited. ' +
        'A denied call returns an error naming the rule; do not retry it unchanged.',
    },
  );

  // What the policy could let this caller run: the principal comes with each request.
  server.setRequestHandler('tools/list', (_request, ctx) => {
    const auth = requestAuth(ctx);
    return { tools: auth ? parts.catalogue.list(parts.runtime.loaded.policy.rules, auth.principal) : [] };
  });
  parts.catalogue.attach(server);
  registerUpstreamFeatures(server, parts.runtime, parts.catalogue, clientInfo);

  // Only calls with a progress token (or odd shapes) arrive here: the endpoint answers plain
  // tools/calls itself through the same ToolCalls.call (endpoint.ts `answer`); keep them in step.
  server.setRequestHandler('tools/call', async (request, ctx): Promise<CallToolResult> => {
    const auth = requestAuth(ctx);
    // The endpoint always sets it; without it, refuse rather than guess who is calling.
    if (!auth) return toolError('Sluice could not tell who is calling; nothing ran.');
    const progressToken = request.params._meta?.progressToken;
    // Sluice's own notices (review held) count 1, 2, ...; the upstream's progress follows on
    // from there, so the values the client sees only ever increase.
    let progress = 0;
    let upstreamBase: number | undefined;
    const signal = AbortSignal.any([ctx.mcpReq.signal, auth.signal]);
    const client = clientInfo();
    const result = await parts.calls.call(request.params.name, request.params.arguments, {
      principal: auth.principal,
      session: ctx.sessionId ?? 'mcp',
      signal,
      ...(client ? { client } : {}),
      ...(progressToken !== undefined
        ? {
            progress: (message: string) =>
              ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken, progress: ++progress, message } }),
            upstreamProgress: (update: UpstreamProgress) => {
              upstreamBase ??= progress;
              const value = upstreamBase + update.progress;
              if (!(value > progress)) return;
              progress = value;
              const params = {
                progressToken,
                progress: value,
                ...(update.total !== undefined ? { total: upstreamBase + update.total } : {}),
                ...(update.message !== undefined ? { message: update.message } : {}),
              };
              ctx.mcpReq.notify({ method: 'notifications/progress', params }).catch((error: unknown) => log.debug({ err: error }, 'could not forward upstream progress'));
            },
          }
        : {}),
    });
    return result;
  });
  return server;
}
