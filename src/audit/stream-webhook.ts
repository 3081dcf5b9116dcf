// Delivers audit stream batches to an HTTP(S) endpoint: one POST per batch, one record per line
// (application/x-ndjson), signed with HMAC-SHA256 when a secret is set (the same scheme as review
// notifications: X-Sluice-Signature = sha256=HMAC(secret, timestamp + "." + body)). Only a 2xx
// answer counts as delivered; anything else is retried by the stream, so a receiver must
// accept a batch it has already seen (the seq range is in X-Sluice-Batch).
import { signature } from '../approvals/notify.js';
import type { StreamBatch, StreamTransport } from './stream.js';

export interface WebhookTransportOptions {
  url: string;
  /** HMAC key for X-Sluice-Signature. */
  secret?: string;
  /** Extra headers (e.g. a collector token). */
  headers?: Record<string, string>;
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
}

/** Headers Sluice sets itself; configured headers cannot replace them. */
const OWN_HEADERS = new Set(['content-type', 'x-sluice-batch', 'x-sluice-records', 'x-sluice-timestamp', 'x-sluice-signature', 'content-length', 'host']);

export class WebhookTransport implements StreamTransport {
  readonly acknowledged = true;
  readonly describe: string;

  constructor(private readonly options: WebhookTransportOptions) {
    this.describe = origin(options.url);
    for (const name of Object.keys(options.headers ?? {})) {
      if (OWN_HEADERS.has(name.toLowerCase())) throw new Error(`the header ${name} is set by Sluice and cannot be configured`);
    }
  }

  async send(batch: StreamBatch): Promise<void> {
    const body = `${batch.lines.join('\n')}\n`;
    const headers: Record<string, string> = {
      'user-agent': 'sluice-audit-stream',
      ...this.options.headers,
      'content-type': 'application/x-ndjson',
      'x-sluice-batch': `${batch.firstSeq}-${batch.lastSeq}`,
      'x-sluice-records': String(batch.lines.length),
    };
    if (this.options.secret) {
      const timestamp = String(Math.floor(Date.now() / 1000));
      headers['x-sluice-timestamp'] = timestamp;
      headers['x-sluice-signature'] = signature(this.options.secret, timestamp, body);
    }
    let response: Response;
    try {
      response = await fetch(this.options.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000) });
    } catch (error) {
      // The URL can carry a token in its path: name the origin only.
      throw new Error(`${this.describe} unreachable: ${causeOf(error)}`);
    }
    await response.arrayBuffer().catch(() => undefined);
    if (!response.ok) throw new Error(`${this.describe} answered HTTP ${response.status}`);
  }

  async close(): Promise<void> {}
}

function origin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid url)';
  }
}

function causeOf(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}
