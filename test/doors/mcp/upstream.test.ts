// Upstream MCP servers as connections, against the real reference servers launched over
// stdio (@modelcontextprotocol/server-filesystem rooted at a temp folder, server-everything),
// with the official SDK client talking to Sluice's /mcp: namespaced tools, policy on the
// arguments, masking and secret redaction of results, an upstream killed and restarted,
// tools/list_changed forwarded.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Client } from '@modelcontextprotocol/client';
import { startSluice, type RunningSluice } from '../../../src/app/server.js';
import { loadConfigText } from '../../../src/config/load.js';
import { McpAnalyser, registerToolHints, forgetToolHints } from '../../../src/analyse/mcp.js';
import { executionResultOf, McpConnector, toolResultOf } from '../../../src/connectors/mcp.js';
import { createKey } from '../../../src/identity/keys.js';
import { tempDir } from '../../helpers.js';
import { connectClient, httpConnection, listenOnLoopback, serveWhoami, TEST_CONFIG_HEAD, textOf } from './helpers.js';

const require = createRequire(import.meta.url);
const packageDir = (name: string) => dirname(require.resolve(`${name}/package.json`));
const FS_ENTRY = join(packageDir('@modelcontextprotocol/server-filesystem'), 'dist', 'index.js');
const EVERYTHING_ENTRY = join(packageDir('@modelcontextprotocol/server-everything'), 'dist', 'index.js');

const UPSTREAM_SECRET = `upstream-secret-${Math.random().toString(36).slice(2)}-value`;
const SECRET_ENV = 'SLUICE_TEST_UPSTREAM_TOKEN';
// A GitHub token shape the secret detectors know (random, so no allow list can know it).
const PLANTED_TOKEN = `ghp_${Array.from({ length: 36 }, () => 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'[Math.floor(Math.random() * 62)]).join('')}`;

function config(root: string): string {
  return `
store: { url: sqlite:store/sluice.db }
listeners: { api: { address: 127.0.0.1:0 } }
connections:
  fs:
    kind: mcp
    transport: stdio
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(FS_ENTRY)}, ${JSON.stringify(root)}]
    restart: { initial: 100ms, max: 1s }
    mask: pii
  every:
    kind: mcp
    transport: stdio
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(EVERYTHING_ENTRY)}, stdio]
    env: { set: { UPSTREAM_TOKEN: { env: ${SECRET_ENV} }, PLAIN_SETTING: visible-config } }
    restart: { initial: 100ms, max: 1s }
  broken:
    kind: mcp
    transport: stdio
    command: ${JSON.stringify(process.execPath)}
    args: ['-e', 'process.exit(3)']
    restart: { initial: 100ms, max: 10s }
policy:
  rules:
    - { name: fs-private-is-off-limits, connections: [fs], doors: [mcp], when: 'has(args.path) && args.path.startsWith(${JSON.stringify(join(root, 'private'))})', effect: deny, reason: the private folder is not for agents }
    - { name: fs-reads, connections: [fs], when: 'intent.class == "read"', effect: allow }
    - { name: no-atlantis, connections: [every], doors: [mcp], when: 'has(args.city) && args.city == "Atlantis"', effect: deny, reason: nobody goes there }
    - { name: every-reads, connections: [every], when: 'intent.class == "read"', effect: allow }
    - { name: every-gzip-inline-data, connections: [every], when: 'has(args.data) && args.data.startsWith("data:")', effect: allow }
masking:
  profiles:
    pii: { detectors: [email, secrets] }
`;
}

describe('MCP door: upstream MCP servers as connections', () => {
  let dir: { path: string; remove(): void };
  let root: string;
  let sluice: RunningSluice;
  let client: Client;
  const listChanged: number[] = [];
  const resourcesChanged: number[] = [];

  const connector = (name: string) => {
    const found = sluice.runtime.connector(name);
    assert.ok(found instanceof McpConnector);
    return found;
  };

  before(async () => {
    dir = tempDir('sluice-mcp-upstream-');
    root = realpathSync(dir.path);
    mkdirSync(join(root, 'private'));
    writeFileSync(join(root, 'notes.txt'), `Contact ada@example.com about the deploy.\ntoken: ${PLANTED_TOKEN}\n`);
    writeFileSync(join(root, 'private', 'keys.txt'), 'do not read\n');
    process.env[SECRET_ENV] = UPSTREAM_SECRET;
    sluice = await startSluice(loadConfigText(config(root), join(root, 'sluice.yaml'), root));
    await Promise.all([connector('fs').ready(), connector('every').ready()]);
    const key = (await createKey(sluice.runtime.store, { principal: 'claude-bot', kind: 'agent', groups: [] })).key;
    ({ client } = await connectClient(`${sluice.api.url}/mcp`, key));
    client.setNotificationHandler('notifications/tools/list_changed', () => {
      listChanged.push(Date.now());
    });
    client.setNotificationHandler('notifications/resources/list_changed', () => {
      resourcesChanged.push(Date.now());
    });
  });

  after(async () => {
    await client?.close();
    await sluice?.stop();
    delete process.env[SECRET_ENV];
    dir?.remove();
  });

  it("re-exports the upstream's tools under the connection's name, with their annotations", async () => {
    const { tools } = await client.listTools();
    const names = tools.map((tool) => tool.name);
    for (const name of ['fs__read_text_file', 'fs__list_directory', 'every__echo', 'every__get-env', 'every__gzip-file-as-resource']) assert.ok(names.includes(name), `${name} listed`);
    // Annotated as writing, and only reads are allowed on fs: hidden. (gzip writes too, but a
    // rule on its arguments could allow it, so it is listed.)
    for (const name of ['fs__write_file', 'fs__move_file', 'fs__create_directory']) assert.ok(!names.includes(name), `${name} hidden`);
    assert.ok(!names.some((name) => name === 'read_text_file' || name === 'echo'), 'never without the namespace');
    const read = tools.find((tool) => tool.name === 'fs__read_text_file')!;
    assert.equal(read.annotations?.readOnlyHint, true);
    assert.match(read.description ?? '', /connection "fs"/);
    assert.match(read.description ?? '', /Sluice policy applies to every call/);
    assert.ok(read.inputSchema.properties && 'path' in read.inputSchema.properties);
    assert.ok(!JSON.stringify(tools).includes(UPSTREAM_SECRET));
  });

  it('denies by a rule on the arguments and names it; nothing reaches the upstream', async () => {
    const result = await client.callTool({ name: 'fs__read_text_file', arguments: { path: join(root, 'private', 'keys.txt') } });
    assert.equal(result.isError, true);
    assert.match(textOf(result), /Denied by Sluice policy rule "fs-private-is-off-limits": the private folder is not for agents/);
    assert.ok(!textOf(result).includes('do not read'));
  });

  it('classifies by annotations: a write tool no rule could allow is hidden and cannot be called', async () => {
    const result = await client.callTool({ name: 'fs__write_file', arguments: { path: join(root, 'new.txt'), content: 'x' } });
    assert.equal(result.isError, true);
    assert.match(textOf(result), /Unknown tool "fs__write_file"/);
  });

  it('runs an allowed read and masks the email and the planted token in the result', async () => {
    const result = await client.callTool({ name: 'fs__read_text_file', arguments: { path: join(root, 'notes.txt') } });
    assert.notEqual(result.isError, true, textOf(result));
    const text = textOf(result);
    assert.match(text, /Contact .+ about the deploy\./);
    assert.ok(!text.includes('ada@example.com'), `email masked: ${text}`);
    assert.ok(!text.includes(PLANTED_TOKEN), `token masked: ${text}`);

    await sluice.runtime.ledger.flush();
    const rows = await sluice.runtime.store.readAudit({ limit: 20, descending: true });
    const bodies = rows.map((row) => JSON.parse(row.body));
    const decision = bodies.find((b) => b.kind === 'decision' && b.effect === 'allow' && b.connection === 'fs');
    assert.equal(decision.door, 'mcp');
    // The ledger keeps argument values as keyed digests only, in the command and in detail.args.
    const pathDigest = sluice.runtime.valueDigester!.digest(join(root, 'notes.txt'));
    assert.equal(decision.command, `read_text_file({"path":"${pathDigest}"})`);
    assert.deepEqual(decision.detail.args, { path: pathDigest });
    // (The analysed intent still names the path it reads: objects are what an auditor needs.)
    assert.equal(decision.intent.class, 'read');
    assert.equal(decision.detail.tool, 'fs__read_text_file');
    const outcome = bodies.find((b) => b.kind === 'outcome' && b.actionId === decision.actionId);
    assert.equal(outcome.outcome, 'succeeded');
    assert.ok(outcome.detail.masked.values >= 1);
  });

  it('never shows the agent the secret injected into the upstream environment', async () => {
    const result = await client.callTool({ name: 'every__get-env', arguments: {} });
    assert.notEqual(result.isError, true, textOf(result));
    const text = textOf(result);
    assert.match(text, /"PLAIN_SETTING": "visible-config"/, 'the upstream got its environment');
    assert.match(text, /"UPSTREAM_TOKEN": "\[secret\]"/);
    assert.ok(!JSON.stringify(result).includes(UPSTREAM_SECRET));
    // The environment starts from a short allow list: Sluice's own variables stay out.
    assert.ok(!text.includes(SECRET_ENV));
  });

  it('passes structured content and images through', async () => {
    const sum = await client.callTool({ name: 'every__get-sum', arguments: { a: 2, b: 3 } });
    assert.notEqual(sum.isError, true, textOf(sum));
    assert.match(textOf(sum), /5/);
    const image = await client.callTool({ name: 'every__get-tiny-image', arguments: {} });
    const block = (image.content as { type: string; data?: string; mimeType?: string }[]).find((c) => c.type === 'image');
    assert.ok(block?.data && block.data.length > 100, 'image data unchanged');
    assert.equal(block.mimeType, 'image/png');
  });

  it("re-exports the upstream's prompts; getting one passes the gate with its arguments", async () => {
    const { prompts } = await client.listPrompts();
    const names = prompts.map((prompt) => prompt.name);
    assert.ok(names.includes('every__args-prompt') && names.includes('every__simple-prompt'), names.join(', '));
    const got = await client.getPrompt({ name: 'every__args-prompt', arguments: { city: 'Paris' } });
    assert.deepEqual(got.messages.map((m) => (m.content as { text?: string }).text), ["What's weather in Paris?"]);
    await assert.rejects(client.getPrompt({ name: 'every__args-prompt', arguments: { city: 'Atlantis' } }), /Denied by Sluice policy rule "no-atlantis": nobody goes there/);
    await sluice.runtime.ledger.flush();
    const rows = await sluice.runtime.store.readAudit({ limit: 10, descending: true });
    const decision = rows.map((row) => JSON.parse(row.body)).find((b) => b.kind === 'decision' && b.rule === 'no-atlantis');
    assert.equal(decision.command, 'prompt:args-prompt({"city":"Atlantis"})');
  });

  it("re-exports the upstream's resources under sluice://<connection>/ and reads them through the gate", async () => {
    const { resources } = await client.listResources();
    const doc = resources.find((resource) => resource.uri.startsWith('sluice://every/demo://resource/static/document/'));
    assert.ok(doc, resources.map((r) => r.uri).join(', '));
    const read = await client.readResource({ uri: doc.uri });
    assert.equal(read.contents[0]!.uri, doc.uri);
    assert.ok(((read.contents[0] as { text?: string }).text ?? '').length > 0);
    await assert.rejects(client.readResource({ uri: 'sluice://nowhere/demo://x' }), /Unknown resource/);
    await sluice.runtime.ledger.flush();
    const rows = await sluice.runtime.store.readAudit({ limit: 10, descending: true });
    const decision = rows.map((row) => JSON.parse(row.body)).find((b) => b.kind === 'decision' && b.command.startsWith('resource:read('));
    assert.equal(decision.intent.class, 'read');
    assert.equal(decision.detail.args.uri, sluice.runtime.valueDigester!.digest(doc.uri.slice('sluice://every/'.length)));
  });

  it("forwards the upstream's resources/list_changed (a tool that registers a resource)", async () => {
    const remote = await client.callTool({ name: 'every__gzip-file-as-resource', arguments: { name: 'x.gz', data: 'https://example.com/x' } });
    assert.match(textOf(remote), /Denied by Sluice policy rule "default-deny"/, 'a write whose arguments no rule allows');
    const before = resourcesChanged.length;
    const data = `data:text/plain;base64,${Buffer.from('hello gzip').toString('base64')}`;
    const result = await client.callTool({ name: 'every__gzip-file-as-resource', arguments: { name: 'hello.txt.gz', data, outputType: 'resource' } });
    assert.notEqual(result.isError, true, textOf(result));
    const block = (result.content as { type: string; resource?: { blob?: string } }[]).find((c) => c.type === 'resource');
    assert.ok(block?.resource?.blob, 'the gzip blob passes unchanged');
    const deadline = Date.now() + 5000;
    while (resourcesChanged.length === before && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(resourcesChanged.length > before, 'notifications/resources/list_changed reached the client');
    const { resources } = await client.listResources();
    assert.ok(resources.some((r) => r.uri.startsWith('sluice://every/') && r.uri.endsWith('hello.txt.gz')), 'the new resource is listed');
  });

  it('reports a killed upstream as unavailable, restarts it with back-off, and tells clients the list changed', async () => {
    const fs = connector('fs');
    const pid = fs.pid;
    assert.ok(pid, 'the stdio server runs');
    const restartsBefore = fs.restarts;
    const changesBefore = listChanged.length;
    process.kill(pid, 'SIGKILL');
    const deadline = Date.now() + 5000;
    while (fs.state === 'ready' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(fs.state, 'unavailable');
    // Restarting takes at least the 100 ms back-off plus a node start-up: the call lands in it.
    const during = await client.callTool({ name: 'fs__read_text_file', arguments: { path: join(root, 'notes.txt') } });
    assert.equal(during.isError, true);
    assert.match(textOf(during), /Unavailable: the MCP server of connection "fs" is unavailable \(the server closed the connection or exited\)/);
    await fs.ready(10_000);
    assert.ok(fs.restarts > restartsBefore);
    assert.notEqual(fs.pid, pid);
    const again = await client.callTool({ name: 'fs__read_text_file', arguments: { path: join(root, 'notes.txt') } });
    assert.notEqual(again.isError, true, textOf(again));
    assert.match(textOf(again), /about the deploy/);
    const waitUntil = Date.now() + 5000;
    while (listChanged.length === changesBefore && Date.now() < waitUntil) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(listChanged.length > changesBefore, 'notifications/tools/list_changed reached the client');
  });

  it('keeps retrying an upstream that cannot start, with a doubling back-off', async () => {
    const broken = connector('broken');
    const deadline = Date.now() + 5000;
    while (broken.restarts < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(broken.restarts >= 3, `restarts: ${broken.restarts}`);
    // The waits so far were 100, 200, 400 ms; the next ones are 800 ms and more, so 1.2 s sees
    // at most two more attempts (a fixed 100 ms would make about ten).
    const before = broken.restarts;
    await new Promise((resolve) => setTimeout(resolve, 1200));
    assert.ok(broken.restarts - before <= 2, `restarts in 1.2 s: ${broken.restarts - before}`);
    assert.equal(broken.state, 'unavailable');
    assert.match(broken.unavailableReason, /could not start/);
    const { tools } = await client.listTools();
    assert.ok(!tools.some((tool) => tool.name.startsWith('broken__')), 'a server never reached offers no tools');
  });
});

describe('MCP door: an upstream over streamable HTTP with an injected header', () => {
  const TOKEN = `http-upstream-token-${Math.random().toString(36).slice(2)}`;
  const TOKEN_ENV = 'SLUICE_TEST_HTTP_UPSTREAM_TOKEN';
  let upstream: HttpServer;
  let dir: { path: string; remove(): void };
  let sluice: RunningSluice;
  let client: Client;
  let refused = 0;

  before(async () => {
    // A real MCP server (the official SDK, stateless streamable HTTP) that wants a bearer token
    // and, as a worst case, echoes the Authorization header it received.
    upstream = createServer((req, res) => {
      if (req.headers.authorization !== `Bearer ${TOKEN}`) {
        refused += 1;
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"unauthorized"}');
        return;
      }
      serveWhoami(req, res, { name: 'http-upstream', description: 'Echoes the Authorization header' }, () => `you sent: ${req.headers.authorization ?? ''}`);
    });
    const port = await listenOnLoopback(upstream);
    // Header values are taken whole, so the variable holds "Bearer <token>".
    process.env[TOKEN_ENV] = `Bearer ${TOKEN}`;
    dir = tempDir('sluice-mcp-upstream-http-');
    const text = `
${TEST_CONFIG_HEAD}
connections:
${httpConnection('remote', `http://127.0.0.1:${port}/mcp`, [`headers: { Authorization: { env: ${TOKEN_ENV} } }`, 'restart: { initial: 100ms, max: 1s }'])}
policy:
  rules:
    - { name: remote-reads, connections: [remote], when: 'intent.class == "read"', effect: allow }
`;
    sluice = await startSluice(loadConfigText(text, join(dir.path, 'sluice.yaml'), dir.path));
    const remote = sluice.runtime.connector('remote');
    assert.ok(remote instanceof McpConnector);
    await remote.ready();
    const key = (await createKey(sluice.runtime.store, { principal: 'claude-bot', kind: 'agent', groups: [] })).key;
    ({ client } = await connectClient(`${sluice.api.url}/mcp`, key));
  });

  after(async () => {
    await client?.close();
    await sluice?.stop();
    await new Promise((resolve) => upstream?.close(resolve));
    delete process.env[TOKEN_ENV];
    dir?.remove();
  });

  it('reaches the upstream with the injected header and cuts it out of the result', async () => {
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((tool) => tool.name), ['remote__whoami']);
    const result = await client.callTool({ name: 'remote__whoami', arguments: {} });
    assert.notEqual(result.isError, true, textOf(result));
    assert.equal(textOf(result), 'you sent: [secret]');
    assert.ok(!JSON.stringify(result).includes(TOKEN));
    assert.equal(refused, 0, 'every upstream request carried the token');
  });

  it('reconnects when the HTTP server goes away and comes back', async () => {
    const remote = sluice.runtime.connector('remote');
    assert.ok(remote instanceof McpConnector);
    const port = (upstream.address() as AddressInfo).port;
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
    const down = await client.callTool({ name: 'remote__whoami', arguments: {} });
    assert.equal(down.isError, true);
    assert.match(textOf(down), /Unavailable: the MCP server of connection "remote" is unavailable \(the server could not be reached/);
    assert.equal(remote.state, 'unavailable');
    await new Promise<void>((resolve) => upstream.listen(port, '127.0.0.1', resolve));
    await remote.ready(10_000);
    const up = await client.callTool({ name: 'remote__whoami', arguments: {} });
    assert.equal(textOf(up), 'you sent: [secret]');
  });
});

describe('MCP connection config', () => {
  const load = (connection: string) => () => loadConfigText(`connections:\n  x: ${connection}\n`, '/tmp/sluice.yaml', '/tmp');

  it('says what is missing or misplaced', () => {
    assert.throws(load('{ kind: mcp, transport: stdio }'), /connections\.x\.command: transport stdio needs command/);
    assert.throws(load('{ kind: mcp, transport: http }'), /connections\.x\.url: transport http needs url/);
    assert.throws(load('{ kind: mcp, transport: http, url: "ftp://host/x" }'), /url must be an http:\/\/ or https:\/\/ URL/);
    assert.throws(load('{ kind: mcp, transport: http, url: "http://h/mcp", command: node }'), /command is only for transport stdio/);
    assert.throws(load('{ kind: mcp, transport: stdio, command: node, headers: { A: b } }'), /headers are only for transport http/);
    assert.throws(load('{ kind: mcp, transport: pipe }'), /transport/);
    assert.throws(load('{ kind: mcp, transport: stdio, command: node, bogus: 1 }'), /unknown key "bogus"/);
    assert.throws(load('{ kind: mcp, transport: stdio, command: node, restart: { initial: 5s, max: 1s } }'), /restart.initial must not be longer than restart.max/);
  });
});

describe('MCP upstream intent and result layout', () => {
  const analyser = new McpAnalyser();
  const owner = {};
  const otherOwner = {};
  after(() => {
    forgetToolHints(owner);
    forgetToolHints(otherOwner);
  });

  it('classifies by annotations and names; unknown when nothing tells', () => {
    registerToolHints(owner, new Map([
      ['t_lookup', { readOnlyHint: true }],
      ['t_change', { readOnlyHint: false, destructiveHint: false }],
      ['t_apply', { readOnlyHint: false }],
      ['t_delete_all', { readOnlyHint: true }],
    ]));
    const intent = (command: string) => analyser.analyse(command);
    assert.equal(intent('t_lookup({"path":"/a"})').class, 'read');
    assert.deepEqual(intent('t_lookup({"path":"/a"})').objects.paths, [{ path: '/a', access: 'read' }]);
    assert.equal(intent('t_change({})').class, 'write');
    assert.deepEqual(intent('t_change({})').flags, []);
    assert.deepEqual(intent('t_apply({})').flags, ['destructive'], 'destructiveHint defaults to true');
    assert.equal(intent('t_delete_all({})').class, 'write', 'a destructive name outweighs readOnlyHint');
    assert.equal(intent('run_script({})').class, 'execute');
    assert.equal(intent('list_things({})').class, 'read');
    assert.equal(intent('frobnicate({})').class, 'unknown');
    assert.equal(intent('not a call').class, 'unknown');
    assert.equal(intent('prompt:greet({"who":"x"})').class, 'read');
    assert.deepEqual(intent('resource:read({"uri":"file:///etc/passwd"})').objects.paths, [{ path: '/etc/passwd', access: 'read' }]);
    // Another upstream with the same tool name that says it writes: the riskier reading wins.
    registerToolHints(otherOwner, new Map([['t_lookup', { readOnlyHint: false, destructiveHint: false }]]));
    assert.notEqual(intent('t_lookup({})').class, 'read');
  });

  it('lays a tool result out as pointer columns and rebuilds it', () => {
    const result = {
      content: [
        { type: 'text' as const, text: 'hello' },
        { type: 'image' as const, data: 'aGVsbG8=', mimeType: 'image/png' },
        { type: 'resource' as const, resource: { uri: 'x://a', mimeType: 'application/json', blob: Buffer.from('{"a":1}').toString('base64') } },
      ],
      structuredContent: { user: { email: 'ada@example.com', age: 36 }, tags: [], ok: true },
    };
    const flat = executionResultOf(result);
    const names = flat.columns!.map((c) => c.name);
    assert.ok(names.includes('/content[0]/text') && names.includes('/structuredContent/user/email'));
    assert.ok(!flat.rows![0]!.includes('aGVsbG8='), 'binary is kept beside the row, not scanned');
    const back = toolResultOf(flat)!;
    assert.deepEqual(back.structuredContent, result.structuredContent);
    assert.deepEqual(back.content[0], result.content[0]);
    assert.deepEqual(back.content[1], result.content[1]);
    assert.deepEqual(back.content[2], { type: 'resource', resource: { uri: 'x://a', mimeType: 'application/json', text: '{"a":1}' } }, 'text blobs become text');
    const withSecret = executionResultOf({ content: [{ type: 'image', data: Buffer.from('xx TOPSECRET xx').toString('base64'), mimeType: 'image/png' }] }, ['TOPSECRET']);
    assert.match(JSON.stringify(toolResultOf(withSecret)), /withheld/);
  });
});
