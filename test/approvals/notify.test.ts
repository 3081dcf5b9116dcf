// Review notifications: a real webhook receiver on loopback gets each new review, signed with
// HMAC-SHA256 over "timestamp.body", and a Slack-format message; failed deliveries are retried.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ReviewNotifier } from '../../src/approvals/notify.js';
import { startRuntime, type Runtime } from '../../src/app/runtime.js';
import { loadConfigText } from '../../src/config/load.js';
import { unknownIntent } from '../../src/gate/gate.js';
import type { Action } from '../../src/gate/types.js';
import type { ReviewRecord } from '../../src/store/store.js';
import { tempDir } from '../helpers.js';

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

async function receiver(answer: (path: string, n: number) => number): Promise<{ server: Server; url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.statusCode = answer(req.url ?? '', received.filter((r) => r.path === req.url).length);
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, received };
}

async function until<T>(what: string, check: () => T | undefined, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('review notifications', () => {
  let hook: Awaited<ReturnType<typeof receiver>>;
  let runtime: Runtime;
  const dir = tempDir('sluice-notify-');

  before(async () => {
    hook = await receiver(() => 200);
    mkdirSync(join(dir.path, 'files'));
    const config = `
store: { url: sqlite:store/sluice.db }
identities:
  bot: { kind: agent, groups: [agents], on_behalf_of: alice }
  alice: { kind: human }
connections:
  sh: { kind: shell, cwd: files, run_as: { uid: 65534, gid: 65534 } }
policy:
  rules:
    - { name: reads-ok, connections: [sh], when: 'intent.class == "read"', effect: allow }
    - { name: writes-held, connections: [sh], when: 'intent.class != "read"', effect: review, reason: 'changes need a human' }
approvals:
  timeout: 1m
  notify:
    - { url: '${hook.url}/generic', secret: { value: wh-secret-1 } }
    - { url: '${hook.url}/slack', format: slack }
`;
    runtime = await startRuntime(loadConfigText(config, join(dir.path, 'sluice.yaml'), dir.path));
  });

  after(async () => {
    await runtime?.close();
    hook.server.close();
    dir.remove();
  });

  it('posts each new review, signed, with what the agent did just before; and a Slack message', async () => {
    const principal = { name: 'bot', kind: 'agent' as const, groups: ['agents'], onBehalfOf: 'alice' };
    const request = { principal, session: 'sess-notify', connection: 'sh', door: 'api' };
    await runtime.gate.run({ ...request, command: 'ls -la' });
    const outcome = await runtime.gate.run({ ...request, command: 'rm -f notes.txt' }, { returnPending: true });
    assert.equal(outcome.status, 'pending');
    const reviewId = outcome.review!.reviewId;

    const generic = await until('the generic notice', () => hook.received.find((r) => r.path === '/generic'));
    const timestamp = generic.headers['x-sluice-timestamp'] as string;
    const expected = `sha256=${createHmac('sha256', 'wh-secret-1').update(`${timestamp}.${generic.body}`).digest('hex')}`;
    assert.equal(generic.headers['x-sluice-signature'], expected, 'HMAC over timestamp.body');
    const notice = JSON.parse(generic.body);
    assert.equal(notice.event, 'review.pending');
    assert.equal(notice.review.id, reviewId);
    assert.equal(notice.review.rule, 'writes-held');
    assert.equal(notice.principal.name, 'bot');
    assert.equal(notice.on_behalf_of, 'alice');
    assert.equal(notice.command, 'rm -f notes.txt');
    assert.equal(notice.intent.class, outcome.action.intent.class);
    assert.deepEqual(notice.recent.map((s: { command: string }) => s.command), ['ls -la'], 'what the agent did just before');
    assert.equal(notice.approve.cli, `sluice reviews approve ${reviewId}`);
    assert.match(notice.approve.api, new RegExp(`/v1/reviews/${reviewId}/approve$`));

    const slack = await until('the Slack message', () => hook.received.find((r) => r.path === '/slack'));
    assert.equal(slack.headers['x-sluice-signature'], undefined, 'no secret configured, no signature');
    const text = JSON.parse(slack.body).text as string;
    assert.match(text, new RegExp(reviewId));
    assert.match(text, /bot \(agent, for alice\)/);
    assert.match(text, /rm -f notes\.txt/);
    assert.match(text, /sluice reviews approve/);
  });
});

describe('ReviewNotifier delivery', () => {
  const review: ReviewRecord = {
    id: 'rv_test',
    actionId: 'a1',
    status: 'pending',
    createdAt: new Date().toISOString(),
    expiresAt: new Date(Date.now() + 60_000).toISOString(),
    commandHash: 'x',
    action: {},
    rule: 'r',
    reason: 'because',
  };
  const action: Action = {
    id: 'a1',
    time: new Date(),
    principal: { name: 'bot', kind: 'agent', groups: [] },
    session: 's',
    connection: { name: 'db', kind: 'postgres', labels: {} },
    door: 'mcp',
    command: 'DELETE FROM t',
    intent: unknownIntent('postgres', 'x'),
  };

  it('retries 5xx with back-off until the receiver takes it, and gives up on 4xx at once', async () => {
    const r = await receiver((path, n) => (path === '/flaky' ? (n < 3 ? 503 : 200) : 404));
    try {
      const flaky = new ReviewNotifier(() => [{ url: `${r.url}/flaky`, format: 'generic' }], { retryDelayMs: 20 });
      flaky.notify(review, action);
      await flaky.flush();
      assert.equal(r.received.filter((x) => x.path === '/flaky').length, 3);
      const gone = new ReviewNotifier(() => [{ url: `${r.url}/gone`, format: 'generic' }], { retryDelayMs: 20 });
      gone.notify(review, action);
      await gone.flush();
      assert.equal(r.received.filter((x) => x.path === '/gone').length, 1);
    } finally {
      r.server.close();
    }
  });
});
