// A fetch for the MCP SDK's HTTP client transport, over node:http keep-alive sockets.
//
// Node's built-in fetch costs ~150 us of CPU more per request than node:http (measured on
// a local JSON-RPC round trip: ~200 us against ~40), on the path of every proxied tool call to
// an HTTP upstream. The transport needs little of fetch: string bodies, headers, an abort
// signal, and a Response whose body may be a long SSE stream. That much is done here. It never
// follows redirects (the transport asks for `redirect: 'manual'` and decides itself), asks
// for no compression, and leaves request bodies other than text and bytes to Node's fetch.
// Each request's abort listener goes when its response ends: the transport passes one
// long-lived signal to every request, and Node's fetch leaves a listener on it per request
// until garbage collection (thousands under load, each add and remove walking the list).
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';

/** What the MCP SDK's transports take as `fetch`. */
export type FetchLike = (url: string | URL, init?: RequestInit) => Promise<Response>;

const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);
/** JSON answers up to this size are read whole before the Response is made (cheaper than a stream). */
const BUFFERED_JSON_BYTES = 1024 * 1024;

export interface HttpFetch extends FetchLike {
  /** Destroys its sockets: for when the transports using it are closed. */
  close(): void;
}

/** No bytes from the upstream for this long ends the request (Node's fetch waits as long). */
const IDLE_TIMEOUT_MS = 300_000;

export function createHttpFetch(options: { maxSockets?: number; idleTimeoutMs?: number } = {}): HttpFetch {
  // No cap by default, as with Node's fetch: a few slow calls must not queue all the others.
  const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? Infinity };
  const idleTimeoutMs = options.idleTimeoutMs ?? IDLE_TIMEOUT_MS;
  const agents = { 'http:': new http.Agent(agentOptions), 'https:': new https.Agent(agentOptions) };

  const request: FetchLike = (input, init = {}) => {
    const url = typeof input === 'string' ? new URL(input) : input;
    const body = init.body;
    const agent = agents[url.protocol as keyof typeof agents];
    // Anything this does not cover goes to Node's fetch, which covers everything.
    if (!agent || (body != null && typeof body !== 'string' && !(body instanceof Uint8Array))) return fetch(url, init);
    const signal = init.signal ?? undefined;
    if (signal?.aborted) return Promise.reject(abortReason(signal));

    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, name) => {
      // Node's http does not decode compressed answers: ask for none.
      if (name !== 'accept-encoding') headers[name] = value;
    });
    if (body != null) headers['content-length'] = String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength);

    return new Promise<Response>((resolve, reject) => {
      let settled = false;
      let answer: http.IncomingMessage | undefined;
      const onAbort = (): void => {
        const reason = abortReason(signal!);
        req.destroy(reason);
        answer?.destroy(reason);
        if (!settled) {
          settled = true;
          reject(reason);
        }
      };
      const release = (): void => signal?.removeEventListener('abort', onAbort);
      const fail = (error: Error): void => {
        release();
        if (settled) return;
        settled = true;
        reject(new TypeError('fetch failed', { cause: error }));
      };

      const req = (url.protocol === 'https:' ? https : http).request(url, { method: init.method ?? 'GET', headers, agent });
      req.on('error', fail);
      // Idle sockets only: a stream that keeps sending stays open.
      req.setTimeout(idleTimeoutMs, () => req.destroy(new Error(`no data from the upstream for ${idleTimeoutMs / 1000} s`)));
      req.on('response', (res) => {
        answer = res;
        res.on('close', release);
        const status = res.statusCode ?? 0;
        const responseHeaders = new Headers();
        try {
          for (let i = 0; i < res.rawHeaders.length; i += 2) responseHeaders.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
        } catch (error) {
          res.destroy();
          return fail(error as Error);
        }
        const meta = { status, statusText: res.statusMessage ?? '', headers: responseHeaders };
        // Response refuses what HTTP parsers accept (status 600, control characters in the
        // reason): that is a failed request, never an exception in a listener.
        const done = (make: () => Response): void => {
          if (settled) return;
          let response: Response;
          try {
            response = make();
          } catch (error) {
            res.destroy();
            return fail(error as Error);
          }
          settled = true;
          resolve(response);
        };
        if (NULL_BODY_STATUS.has(status) || init.method === 'HEAD') {
          res.resume();
          return done(() => new Response(null, meta));
        }
        const length = Number(res.headers['content-length'] ?? NaN);
        if (/^application\/json\b/i.test(res.headers['content-type'] ?? '') && length <= BUFFERED_JSON_BYTES) {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => done(() => new Response(Buffer.concat(chunks), meta)));
          res.on('error', fail);
          return;
        }
        done(() => new Response(Readable.toWeb(res) as ReadableStream<Uint8Array>, meta));
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      req.end(body ?? undefined);
    });
  };

  return Object.assign(request, {
    close(): void {
      for (const agent of Object.values(agents)) agent.destroy();
    },
  });
}

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new DOMException('This operation was aborted', 'AbortError');
}
