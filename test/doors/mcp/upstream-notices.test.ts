// What upstream MCP servers send besides results: progress of a call (passed on to the client
// that asked for it, after Sluice's own review notices), logging messages (to the sessions that
// may use the connection, masked), cancellation (passed on to the upstream), and requests to
// the client (sampling, elicitation: refused, with a reason). Against the real
// @modelcontextprotocol/server-everything and a raw protocol server (fixtures/raw-upstream.mjs)
// that asks for sampling without the capability and records the cancellations it receives.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/client';
import { createKey } from '../../../src/identity/keys.js';
import { tempDir } from '../../helpers.js';
import { connectClient, EVERYTHING_ENTRY, nodeStdioConnection, RAW_UPSTREAM_ENTRY, startMcpSluice, TEST_CONFIG_HEAD, textOf, upstreamsReady, type McpTestSluice } from './helpers.js';

const SECRET = `raw-secret-${Math.random().toString(36).slice(2)}`;
const SECRET_ENV = 'SLUICE_TEST_RAW_UPSTREAM_SECRET';

interface LogNote {
  level: string;
  logger?: string;
  data: unknown;
}

async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('MCP door: notifications and requests from upstream servers', () => {
  let t: McpTestSluice;
  let client: Client;
  let outsider: Client;
  let logDir: { path: string; remove(): void };
  let logFile: string;
  const logs: LogNote[] = [];
  const outsiderLogs: LogNote[] = [];

  before(async () => {
    process.env[SECRET_ENV] = SECRET;
    logDir = tempDir('sluice-raw-upstream-');
    logFile = join(logDir.path, 'raw-upstream.log');
    t = await startMcpSluice(`
${TEST_CONFIG_HEAD}
connections:
${nodeStdioConnection('every', EVERYTHING_ENTRY, ['stdio'])}
${nodeStdioConnection('raw', RAW_UPSTREAM_ENTRY, [], [
  `env: { set: { RAW_UPSTREAM_SECRET: { env: ${SECRET_ENV} }, RAW_UPSTREAM_LOG: ${JSON.stringify(logFile)} } }`,
  'mask: pii',
])}
policy:
  rules:
    - { name: every-reads, connections: [every], when: 'intent.class == "read"', effect: allow }
    - { name: every-logging, connections: [every], when: '"toggle-simulated-logging" in intent.functions', effect: allow }
    - { name: raw-for-claude, connections: [raw], when: 'principal.name == "claude-bot" && intent.class == "read"', effect: allow }
masking:
  profiles:
    pii: { detectors: [email] }
`);
    await upstreamsReady(t, ['every', 'raw']);
    ({ client } = await connectClient(t.url, await t.key('claude-bot')));
    const outsiderKey = (await createKey(t.sluice.runtime.store, { principal: 'outsider', kind: 'agent', groups: [] })).key;
    ({ client: outsider } = await connectClient(t.url, outsiderKey));
    client.setNotificationHandler('notifications/message', (note) => void logs.push(note.params as LogNote));
    outsider.setNotificationHandler('notifications/message', (note) => void outsiderLogs.push(note.params as LogNote));
  });

  after(async () => {
    await Promise.all([client?.close(), outsider?.close()]);
    await t?.stop();
    logDir?.remove();
    delete process.env[SECRET_ENV];
  });

  const upstreamLog = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');

  it("passes the upstream's progress on to a client that asked for it (server-everything)", async () => {
    const seen: { progress: number; total?: number }[] = [];
    const result = await client.callTool({ name: 'every__trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } }, {
      onprogress: (update) => void seen.push({ progress: update.progress, ...(update.total !== undefined ? { total: update.total } : {}) }),
    });
    assert.notEqual(result.isError, true, textOf(result));
    assert.match(textOf(result), /Long running operation completed/);
    // The last step's notification and the result leave the upstream together, and SDK
    // clients dispatch notifications a tick after responses: it may be overtaken.
    assert.deepEqual(seen.slice(0, 2), [
      { progress: 1, total: 3 },
      { progress: 2, total: 3 },
    ]);
  });

  it('masks the text of progress notifications and cuts the injected secret out', async () => {
    const messages: string[] = [];
    const result = await client.callTool({ name: 'raw__chatty', arguments: {} }, {
      onprogress: (update) => void (update.message !== undefined && messages.push(update.message)),
    });
    assert.equal(textOf(result), 'done');
    assert.equal(messages.length, 1);
    assert.match(messages[0]!, /^half done: mail .+, key \[secret\]$/);
    assert.ok(!messages[0]!.includes('ada@example.com'), messages[0]);
  });

  it('sends logging messages, masked, to the sessions whose principal may use the connection', async () => {
    await until(() => logs.some((note) => note.logger === 'raw/raw'), 'the raw upstream log message');
    const note = logs.find((entry) => entry.logger === 'raw/raw')!;
    assert.equal(note.level, 'warning');
    const text = (note.data as { note: string }).note;
    assert.match(text, /^logged: mail .+, key \[secret\]$/);
    assert.ok(!text.includes('ada@example.com') && !text.includes(SECRET), text);
    // The outsider may call none of raw's tools: it does not hear raw's logs.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok(!outsiderLogs.some((entry) => entry.logger?.startsWith('raw')), JSON.stringify(outsiderLogs));
  });

  it("forwards server-everything's logging messages under the connection's name", async () => {
    const on = await client.callTool({ name: 'every__toggle-simulated-logging', arguments: {} });
    assert.match(textOf(on), /Started simulated/);
    try {
      await until(() => logs.some((note) => note.logger === 'every'), 'a server-everything log message');
    } finally {
      await client.callTool({ name: 'every__toggle-simulated-logging', arguments: {} });
    }
  });

  it('passes a cancelled call on to the upstream as notifications/cancelled', async () => {
    for (const withProgress of [false, true]) {
      const started = (upstreamLog().match(/^started /gm) ?? []).length;
      const cancelled = (upstreamLog().match(/^cancelled /gm) ?? []).length;
      const abort = new AbortController();
      const call = client.callTool({ name: 'raw__wait_forever', arguments: {} }, {
        signal: abort.signal,
        ...(withProgress ? { onprogress: () => undefined } : {}),
      });
      await until(() => (upstreamLog().match(/^started /gm) ?? []).length > started, 'the upstream call to start');
      abort.abort();
      await assert.rejects(call);
      await until(() => (upstreamLog().match(/^cancelled /gm) ?? []).length > cancelled, `the upstream to hear of the cancellation (progress: ${withProgress})`);
    }
  });

  it('refuses sampling and elicitation requests from upstreams, with a reason', async () => {
    const { tools } = await client.listTools();
    const names = tools.map((tool) => tool.name);
    // Sluice does not declare sampling or elicitation, so server-everything does not offer them.
    assert.ok(names.includes('every__echo'));
    for (const name of ['every__trigger-sampling-request', 'every__trigger-elicitation-request']) assert.ok(!names.includes(name), name);
    // A server that asks anyway is told why not.
    const model = await client.callTool({ name: 'raw__ask_model', arguments: {} });
    assert.match(textOf(model), /client refused: -32601 .*Sluice does not pass sampling\/createMessage requests from upstream MCP servers/);
    const user = await client.callTool({ name: 'raw__ask_user', arguments: {} });
    assert.match(textOf(user), /client refused: -32601 .*Sluice does not pass elicitation\/create requests/);
  });
});
