// Notifications from upstream MCP servers on their way to agents: logging messages
// (notifications/message) and the text of progress notifications. They are not results of a
// gated command, but they are the upstream's words, so they get what results get: the
// injected secrets are already cut out by the connector, and here the connection's masking
// profile (`connections.X.mask`) applies, bound to the receiving session. A profile that does
// not exist drops the notification rather than leak it.
//
// Logging messages go to every session whose principal could call some tool of that
// connection (the same test as tools/list), filtered by the level the session chose with
// logging/setLevel (default: everything the upstream sends).
import type { LoggingLevel, Server } from '@modelcontextprotocol/server';
import type { Runtime } from '../../app/runtime.js';
import { flattenResult, upstreamResultOf, type UpstreamLogMessage } from '../../connectors/mcp.js';
import type { Principal } from '../../gate/types.js';
import { maskResult } from '../../masking/columns.js';
import { log } from '../../util/log.js';
import type { ToolCatalogue } from './tools.js';
import { isUpstream } from './upstream.js';

const LEVELS: readonly LoggingLevel[] = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'];

/** What `mask` did: the masked value, or nothing when it must not be shown. */
export type Masked = { ok: true; value: unknown } | { ok: false };

/** Masks a value from an upstream with the connection's profile, for one session and principal. */
export function maskNotice(runtime: Runtime, connection: string, value: unknown, scope: { session: string; principal: string }): Masked {
  const name = runtime.loaded.config.connections[connection]?.mask;
  if (!name || name === 'none') return { ok: true, value };
  const profile = runtime.maskingProfiles?.get(name);
  if (!profile) return { ok: false };
  const flat = flattenResult({ value }, true, [], 1);
  const { result } = maskResult(flat, profile, scope);
  const root = upstreamResultOf(result);
  return root ? { ok: true, value: root.value } : { ok: false };
}

interface Listener {
  server: Server;
  session: () => string | undefined;
  principal: () => Principal | undefined;
  level?: LoggingLevel;
}

export class UpstreamNotices {
  readonly #listeners = new Set<Listener>();
  readonly #unsubscribe: (() => void)[] = [];

  constructor(
    private readonly runtime: Runtime,
    private readonly catalogue: ToolCatalogue,
  ) {
    for (const [name, config] of Object.entries(runtime.loaded.config.connections)) {
      if (config.kind !== 'mcp') continue;
      const connector = runtime.connector(name);
      if (isUpstream(connector)) this.#unsubscribe.push(connector.onMessage((message) => this.deliver(name, message)));
    }
  }

  /** Whether any connection is an upstream MCP server (only then is `logging` offered). */
  get active(): boolean {
    return this.#unsubscribe.length > 0;
  }

  /** Adds a session: answers its logging/setLevel and sends it the upstreams' logging messages. */
  attach(server: Server, session: () => string | undefined, principal: () => Principal | undefined): void {
    if (!this.active) return;
    const listener: Listener = { server, session, principal };
    server.registerCapabilities({ logging: {} });
    server.setRequestHandler('logging/setLevel', (request) => {
      listener.level = request.params.level;
      return {};
    });
    this.#listeners.add(listener);
    const previous = server.onclose;
    server.onclose = () => {
      this.#listeners.delete(listener);
      previous?.();
    };
  }

  private deliver(connection: string, message: UpstreamLogMessage): void {
    const rules = this.runtime.loaded.policy.rules;
    for (const listener of this.#listeners) {
      const principal = listener.principal();
      const session = listener.session();
      if (!principal || !session) continue;
      if (listener.level && LEVELS.indexOf(message.level) < LEVELS.indexOf(listener.level)) continue;
      if (!this.catalogue.couldRun(connection, rules, principal)) continue;
      const masked = maskNotice(this.runtime, connection, message.data, { session, principal: principal.name });
      if (!masked.ok) continue;
      const logger = message.logger ? `${connection}/${message.logger}` : connection;
      listener.server
        .sendLoggingMessage({ level: message.level, logger, data: masked.value })
        .catch((error: unknown) => log.debug({ err: error }, 'could not send an upstream logging message to an MCP session'));
    }
  }

  close(): void {
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    this.#listeners.clear();
  }
}
