// An upstream MCP server over streamable HTTP behind OAuth client credentials: a real SDK
// server on loopback that wants a bearer token from a token endpoint started here and a
// tenant header; Sluice obtains the token with its client id and secret, refreshes it before
// it expires and again when the upstream refuses it, and the agent never sees the secret, the
// token or the header.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/client';
import { startSluice, type RunningSluice } from '../../../src/app/server.js';
import { loadConfigText } from '../../../src/config/load.js';
import { McpConnector } from '../../../src/connectors/mcp.js';
import { createKey } from '../../../src/identity/keys.js';
import { tempDir } from '../../helpers.js';
import { connectClient, httpConnection, listenOnLoopback, serveWhoami, TEST_CONFIG_HEAD, textOf } from './helpers.js';

const CLIENT_ID = 'sluice-gateway';
const CLIENT_SECRET = `client-secret-${randomBytes(8).toString('hex')}`;
const TENANT = `tenant-${randomBytes(6).toString('hex')}`;
const SECRET_ENV = 'SLUICE_TEST_OAUTH_CLIENT_SECRET';
const TENANT_ENV = 'SLUICE_TEST_OAUTH_TENANT';

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

describe('MCP door: an upstream over HTTP with an OAuth client-credentials token', () => {
  /** Tokens the endpoint issued: when each expires, and whether the upstream still accepts it. */
  const issued = new Map<string, { expires: number; revoked: boolean }>();
  const tokenRequests: { authorization?: string; form: URLSearchParams }[] = [];
  let lifetime = 3600;
  let upstreamRefused = 0;
  let tokenServer: HttpServer;
  let upstream: HttpServer;
  let dir: { path: string; remove(): void };
  let sluice: RunningSluice;
  let client: Client;
  const GOOD = `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`;
  /** Token requests with the right credentials (the wrongsecret connection keeps trying meanwhile). */
  const granted = () => tokenRequests.filter((request) => request.authorization === GOOD);
  const remote = () => {
    const connector = sluice.runtime.connector('remote');
    assert.ok(connector instanceof McpConnector);
    return connector;
  };

  before(async () => {
    tokenServer = createServer((req, res) => {
      void body(req).then((text) => {
        const form = new URLSearchParams(text);
        tokenRequests.push({ ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}), form });
        if (req.headers.authorization !== GOOD || form.get('grant_type') !== 'client_credentials') {
          res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_client"}');
          return;
        }
        const token = `at-${randomBytes(12).toString('hex')}`;
        issued.set(token, { expires: Date.now() + lifetime * 1000, revoked: false });
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: lifetime }));
      });
    });
    const tokenPort = await listenOnLoopback(tokenServer);

    upstream = createServer((req, res) => {
      const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
      const known = issued.get(token);
      if (!known || known.revoked || known.expires <= Date.now() || req.headers['x-tenant'] !== TENANT) {
        upstreamRefused += 1;
        res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer error="invalid_token"' }).end('{"error":"invalid_token"}');
        return;
      }
      serveWhoami(req, res, { name: 'oauth-upstream', description: 'Echoes what the caller sent' }, () => `authorization=${req.headers.authorization}; tenant=${String(req.headers['x-tenant'])}`);
    });
    const upstreamPort = await listenOnLoopback(upstream);

    process.env[SECRET_ENV] = CLIENT_SECRET;
    process.env[TENANT_ENV] = TENANT;
    dir = tempDir('sluice-mcp-oauth-');
    const text = `
${TEST_CONFIG_HEAD}
connections:
${httpConnection('remote', `http://127.0.0.1:${upstreamPort}/mcp`, [
  `headers: { X-Tenant: { env: ${TENANT_ENV} } }`,
  `oauth: { token_url: "http://127.0.0.1:${tokenPort}/token", client_id: ${CLIENT_ID}, client_secret: { env: ${SECRET_ENV} }, scope: "tools:read" }`,
  'restart: { initial: 100ms, max: 1s }',
])}
${httpConnection('wrongsecret', `http://127.0.0.1:${upstreamPort}/mcp`, [
  `oauth: { token_url: "http://127.0.0.1:${tokenPort}/token", client_id: ${CLIENT_ID}, client_secret: { value: not-the-secret } }`,
  'restart: { initial: 100ms, max: 1s }',
])}
policy:
  rules:
    - { name: reads, when: 'intent.class == "read"', effect: allow }
`;
    sluice = await startSluice(loadConfigText(text, join(dir.path, 'sluice.yaml'), dir.path));
    await remote().ready();
    const key = (await createKey(sluice.runtime.store, { principal: 'claude-bot', kind: 'agent', groups: [] })).key;
    ({ client } = await connectClient(`${sluice.api.url}/mcp`, key));
  });

  after(async () => {
    await client?.close();
    await sluice?.stop();
    for (const server of [upstream, tokenServer]) server?.closeAllConnections();
    await Promise.all([upstream, tokenServer].map((server) => new Promise((resolve) => server?.close(resolve))));
    delete process.env[SECRET_ENV];
    delete process.env[TENANT_ENV];
    dir?.remove();
  });

  it('gets a token with the client credentials and reaches the upstream with it and the header', async () => {
    assert.equal(granted().length, 1);
    assert.equal(granted()[0]!.form.get('scope'), 'tools:read');
    assert.equal(granted()[0]!.form.get('client_secret'), null, 'client_secret_basic: not in the body');
    const refusedBefore = upstreamRefused;
    const result = await client.callTool({ name: 'remote__whoami', arguments: {} });
    assert.notEqual(result.isError, true, textOf(result));
    // The upstream saw a real token and the tenant; the agent sees neither.
    assert.equal(textOf(result), 'authorization=Bearer [secret]; tenant=[secret]');
    const all = JSON.stringify(result);
    for (const token of issued.keys()) assert.ok(!all.includes(token));
    assert.ok(!all.includes(TENANT) && !all.includes(CLIENT_SECRET));
    assert.equal(upstreamRefused, refusedBefore);
  });

  it('asks for a new token when the upstream refuses the current one, and retries the request', async () => {
    lifetime = 1;
    const requestsBefore = granted().length;
    for (const entry of issued.values()) entry.revoked = true;
    const result = await client.callTool({ name: 'remote__whoami', arguments: {} });
    assert.notEqual(result.isError, true, textOf(result));
    assert.equal(textOf(result), 'authorization=Bearer [secret]; tenant=[secret]');
    assert.equal(granted().length, requestsBefore + 1);
  });

  it('refreshes a token before it expires, so the upstream never sees an expired one', async () => {
    // The current token lives 1 s; Sluice renews it after 0.9 s, at the next request.
    const requestsBefore = granted().length;
    const refusedBefore = upstreamRefused;
    await new Promise((resolve) => setTimeout(resolve, 950));
    const result = await client.callTool({ name: 'remote__whoami', arguments: {} });
    assert.equal(textOf(result), 'authorization=Bearer [secret]; tenant=[secret]');
    assert.ok(granted().length > requestsBefore, 'a new token was requested');
    assert.equal(upstreamRefused, refusedBefore, 'no request went out with an expired token');
    lifetime = 3600;
  });

  it('reports a token endpoint that refuses the client as unavailable, without the secret', async () => {
    const broken = sluice.runtime.connector('wrongsecret');
    assert.ok(broken instanceof McpConnector);
    const deadline = Date.now() + 5000;
    while (!/token endpoint answered 401/.test(broken.unavailableReason) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.match(broken.unavailableReason, /the token endpoint answered 401: invalid_client/);
    assert.ok(!broken.unavailableReason.includes('not-the-secret'));
    assert.ok(tokenRequests.some((request) => request.authorization === `Basic ${Buffer.from(`${CLIENT_ID}:not-the-secret`).toString('base64')}`));
  });
});

describe('MCP connection config: oauth', () => {
  const load = (connection: string) => () => loadConfigText(`connections:\n  x: ${connection}\n`, '/tmp/sluice.yaml', '/tmp');

  it('takes oauth for http only, with the secret by reference, and not beside an Authorization header', () => {
    const oauth = 'oauth: { token_url: "https://id.example/token", client_id: c, client_secret: { env: X } }';
    assert.doesNotThrow(load(`{ kind: mcp, transport: http, url: "https://h/mcp", ${oauth} }`));
    assert.throws(load(`{ kind: mcp, transport: stdio, command: node, ${oauth} }`), /oauth is only for transport http/);
    assert.throws(load(`{ kind: mcp, transport: http, url: "https://h/mcp", headers: { Authorization: x }, ${oauth} }`), /oauth sets the Authorization header/);
    assert.throws(load('{ kind: mcp, transport: http, url: "https://h/mcp", oauth: { token_url: "https://id/t", client_id: c, client_secret: plain } }'), /secret reference/);
    assert.throws(load('{ kind: mcp, transport: http, url: "https://h/mcp", oauth: { token_url: "ftp://id/t", client_id: c, client_secret: { env: X } } }'), /token_url must be an http/);
    assert.throws(load(`{ kind: mcp, transport: http, url: "https://h/mcp", oauth: { token_url: "https://id/t", client_id: c, client_secret: { env: X }, grant: password } }`), /unknown key "grant"/);
  });
});
