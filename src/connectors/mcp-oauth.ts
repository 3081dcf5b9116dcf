// OAuth 2.0 client credentials (RFC 6749 section 4.4) for upstream MCP servers over HTTP: Sluice
// asks the configured token URL for an access token with its client id and secret, sends it
// as `Authorization: Bearer` on every request to the upstream, and asks again before the
// token expires (or at once when the upstream answers 401). Only this module and the fetch it
// wraps see the secret and the token; each token is handed to `onToken` so that the gate cuts
// it out of results, like the other injected credentials.
import type { FetchLike } from '@modelcontextprotocol/client';

export interface ClientCredentialsOptions {
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  /** client_secret_basic (default) or client_secret_post. */
  authMethod: 'basic' | 'post';
  scope?: string;
  audience?: string;
  resource?: string;
  /** Each new access token, to be redacted from results. */
  onToken?: (token: string) => void;
}

const TOKEN_TIMEOUT_MS = 30_000;
/** Refresh this long before expiry at most, and never later than when 90% of the lifetime is gone. */
const MAX_EARLY_MS = 60_000;

interface Held {
  token: string;
  /** When to ask for a new one (Infinity: only when the upstream refuses it). */
  refreshAt: number;
}

/** A token request that failed, in words safe to log and show (never the secret). */
export class TokenError extends Error {}

export class ClientCredentials {
  #held: Held | undefined;
  #pending: Promise<Held> | undefined;
  /** Token requests made; for tests and diagnostics. */
  requests = 0;

  constructor(
    private readonly options: ClientCredentialsOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /** A token that is not due for refresh, fetching one when needed (concurrent callers share the request). */
  async token(): Promise<string> {
    const held = this.#held;
    if (held && this.now() < held.refreshAt) return held.token;
    this.#pending ??= this.request().finally(() => {
      this.#pending = undefined;
    });
    return (await this.#pending).token;
  }

  /** The upstream refused this token: the next call asks for a new one. */
  invalidate(token: string): void {
    if (this.#held?.token === token) this.#held = undefined;
  }

  private async request(): Promise<Held> {
    const { tokenUrl, clientId, clientSecret, authMethod, scope, audience, resource } = this.options;
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (scope) form.set('scope', scope);
    if (audience) form.set('audience', audience);
    if (resource) form.set('resource', resource);
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    if (authMethod === 'post') {
      form.set('client_id', clientId);
      form.set('client_secret', clientSecret);
    } else {
      // RFC 6749 2.3.1: both parts form-encoded before Basic.
      const user = encodeURIComponent(clientId).replace(/%20/g, '+');
      const password = encodeURIComponent(clientSecret).replace(/%20/g, '+');
      headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    }
    this.requests += 1;
    const started = this.now();
    let response: Response;
    try {
      response = await fetch(tokenUrl, { method: 'POST', headers, body: form.toString(), signal: AbortSignal.timeout(TOKEN_TIMEOUT_MS), redirect: 'error' });
    } catch (error) {
      throw new TokenError(`the token endpoint could not be reached: ${(error as Error).message}`);
    }
    const text = await response.text();
    let body: Record<string, unknown> = {};
    try {
      const parsed = JSON.parse(text) as unknown;
      if (parsed && typeof parsed === 'object') body = parsed as Record<string, unknown>;
    } catch {
      // handled below
    }
    if (!response.ok) {
      const code = typeof body.error === 'string' ? `: ${body.error.slice(0, 100)}` : '';
      throw new TokenError(`the token endpoint answered ${response.status}${code}`);
    }
    const token = body.access_token;
    if (typeof token !== 'string' || token === '') throw new TokenError('the token endpoint answered without an access_token');
    if (typeof body.token_type === 'string' && body.token_type.toLowerCase() !== 'bearer') {
      throw new TokenError(`the token endpoint issued a ${body.token_type.slice(0, 40)} token; only bearer tokens are supported`);
    }
    const lifetime = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in * 1000 : undefined;
    const refreshAt = lifetime === undefined ? Infinity : started + lifetime - Math.min(MAX_EARLY_MS, lifetime / 10);
    this.options.onToken?.(token);
    this.#held = { token, refreshAt };
    return this.#held;
  }

  /** A fetch for the upstream transport that adds the bearer token, and retries once with a new token on 401. */
  fetch(base: FetchLike = fetch): FetchLike {
    return async (url, init) => {
      const send = async (): Promise<{ response: Response; token: string }> => {
        const token = await this.token();
        const headers = new Headers(init?.headers);
        headers.set('authorization', `Bearer ${token}`);
        return { response: await base(url, { ...init, headers }), token };
      };
      const first = await send();
      if (first.response.status !== 401) return first.response;
      this.invalidate(first.token);
      await first.response.body?.cancel().catch(() => undefined);
      return (await send()).response;
    };
  }
}
