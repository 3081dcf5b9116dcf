// Tells people that a command waits for them: each new review is POSTed to the configured
// webhooks, as Sluice's own JSON (signed with HMAC-SHA256 when a secret is set) or as a
// Slack-compatible incoming-webhook message. Delivery is retried with back-off and never
// holds up the caller; a webhook that stays down is logged, and the review still waits in the
// store, the CLI and the API.
import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Action } from '../gate/types.js';
import type { ReviewRecord } from '../store/store.js';
import { log } from '../util/log.js';

export interface NotifyTarget {
  url: string;
  /** HMAC key for the X-Sluice-Signature header (generic format). */
  secret?: string;
  format: 'generic' | 'slack';
}

/** One earlier step of the same session, for context. */
export interface RecentStep {
  time: string;
  command: string;
  effect: string;
}

export interface NotifierOptions {
  /** Attempts per delivery (default 5). */
  attempts?: number;
  /** First retry delay; doubles each time (default 500 ms). */
  retryDelayMs?: number;
  /** Per-attempt timeout (default 10 s). */
  timeoutMs?: number;
  /** Base URL of the API, for the approve/reject links (e.g. http://127.0.0.1:8080). */
  apiUrl?: string;
  /** The session's recent steps (newest last), or none. */
  recent?: (session: string) => Promise<RecentStep[]>;
}

export function signature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export class ReviewNotifier {
  readonly #pending = new Set<Promise<void>>();
  #closed = false;

  constructor(
    private readonly targets: () => readonly NotifyTarget[],
    private readonly options: NotifierOptions = {},
  ) {}

  /** Starts delivering the notice for a new review; returns at once. */
  notify(review: ReviewRecord, action: Action): void {
    const targets = this.targets();
    if (targets.length === 0 || this.#closed) return;
    const job = this.deliverAll(targets, review, action).catch((error: unknown) => log.error({ err: error }, 'review notification failed'));
    this.#pending.add(job);
    void job.finally(() => this.#pending.delete(job));
  }

  /** Waits for deliveries in progress (tests, shutdown). */
  async flush(): Promise<void> {
    await Promise.all([...this.#pending]);
  }

  /** Stops retrying; waits up to 2 s for attempts in flight. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.race([this.flush(), sleep(2000)]);
  }

  private async deliverAll(targets: readonly NotifyTarget[], review: ReviewRecord, action: Action): Promise<void> {
    const recent = this.options.recent ? await this.options.recent(action.session).catch(() => []) : [];
    const notice = noticeOf(review, action, recent, this.options.apiUrl);
    await Promise.all(targets.map((target) => this.deliver(target, target.format === 'slack' ? slackMessage(notice) : notice)));
  }

  private async deliver(target: NotifyTarget, payload: unknown): Promise<void> {
    const body = JSON.stringify(payload);
    const attempts = this.options.attempts ?? 5;
    let delay = this.options.retryDelayMs ?? 500;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const timestamp = String(Math.floor(Date.now() / 1000));
      const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'sluice-review-notifier' };
      if (target.secret) {
        headers['x-sluice-timestamp'] = timestamp;
        headers['x-sluice-signature'] = signature(target.secret, timestamp, body);
      }
      try {
        const response = await fetch(target.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000) });
        await response.arrayBuffer().catch(() => undefined);
        if (response.ok) return;
        // 4xx other than 408/429 will not get better by trying again.
        if (response.status < 500 && response.status !== 408 && response.status !== 429) {
          log.error({ url: redactUrl(target.url), status: response.status }, 'review webhook refused the notice');
          return;
        }
        log.warn({ url: redactUrl(target.url), status: response.status, attempt }, 'review webhook failed; retrying');
      } catch (error) {
        log.warn({ url: redactUrl(target.url), err: (error as Error).message, attempt }, 'review webhook unreachable; retrying');
      }
      // Shutting down: no more retries (the review is in the store and will be seen there).
      if (this.#closed) break;
      if (attempt < attempts) {
        await sleep(delay);
        delay *= 2;
      }
    }
    log.error({ url: redactUrl(target.url), attempts }, 'review webhook gave up; the review still waits in Sluice');
  }
}

/** Webhook URLs can carry tokens in their path (Slack's do): log the host only. */
function redactUrl(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid url)';
  }
}

export interface ReviewNotice {
  event: 'review.pending';
  review: { id: string; created_at: string; expires_at: string; rule: string; reason: string };
  principal: { name: string; kind: string };
  on_behalf_of: string | null;
  connection: string;
  door: string;
  session: string;
  command: string;
  intent: { class: string; flags: string[] };
  recent: RecentStep[];
  approve: { cli: string; api?: string };
  reject: { cli: string; api?: string };
}

export function noticeOf(review: ReviewRecord, action: Action, recent: RecentStep[], apiUrl?: string): ReviewNotice {
  const api = (verb: string) => (apiUrl ? { api: `POST ${apiUrl}/v1/reviews/${review.id}/${verb}` } : {});
  return {
    event: 'review.pending',
    review: { id: review.id, created_at: review.createdAt, expires_at: review.expiresAt, rule: review.rule, reason: review.reason },
    principal: { name: action.principal.name, kind: action.principal.kind },
    on_behalf_of: action.principal.onBehalfOf ?? null,
    connection: action.connection.name,
    door: action.door,
    session: action.session,
    command: action.command,
    intent: { class: action.intent.class, flags: [...action.intent.flags] },
    recent,
    approve: { cli: `sluice reviews approve ${review.id}`, ...api('approve') },
    reject: { cli: `sluice reviews reject ${review.id}`, ...api('reject') },
  };
}

/** A Slack incoming-webhook message (text with mrkdwn; also readable by Mattermost and the like). */
export function slackMessage(notice: ReviewNotice): { text: string } {
  const who = notice.on_behalf_of ? `${notice.principal.name} (${notice.principal.kind}, for ${notice.on_behalf_of})` : `${notice.principal.name} (${notice.principal.kind})`;
  const flags = notice.intent.flags.length > 0 ? ` · flags: ${notice.intent.flags.join(', ')}` : '';
  const lines = [
    `*Sluice: a command waits for approval* (review \`${notice.review.id}\`, expires ${notice.review.expires_at})`,
    `*Who:* ${who} via ${notice.door} on *${notice.connection}*`,
    `*Intent:* ${notice.intent.class}${flags} · rule \`${notice.review.rule}\`: ${notice.review.reason}`,
    '```',
    fence(notice.command),
    '```',
  ];
  if (notice.recent.length > 0) {
    lines.push('*Just before in this session:*');
    for (const step of notice.recent) lines.push(`• ${step.effect}: \`${inline(step.command)}\``);
  }
  lines.push(`*Approve:* \`${notice.approve.cli}\`${notice.approve.api ? ` or ${notice.approve.api}` : ''}`);
  lines.push(`*Reject:* \`${notice.reject.cli}\`${notice.reject.api ? ` or ${notice.reject.api}` : ''}`);
  return { text: lines.join('\n') };
}

/** A command inside a code fence cannot close it early. */
function fence(command: string): string {
  return command.length > 2000 ? `${command.slice(0, 2000).replace(/```/g, "'''")}…` : command.replace(/```/g, "'''");
}

function inline(command: string): string {
  const one = command.replace(/\s+/g, ' ').replace(/`/g, "'");
  return one.length > 120 ? `${one.slice(0, 120)}…` : one;
}
