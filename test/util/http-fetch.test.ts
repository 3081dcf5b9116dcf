// createHttpFetch (src/util/http-fetch.ts): the fetch Sluice gives the MCP SDK's HTTP client
// transport. Against real node:http/https servers: bodies, headers and statuses as fetch gives
// them, SSE bodies that stream, aborts, no listener left on a shared signal, no redirect
// followed, certificates checked.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { generateSelfSignedCertificate } from '../../src/doors/postgres/certificate.js';
import { createHttpFetch } from '../../src/util/http-fetch.js';

void describe('createHttpFetch', () => {
  let server: http.Server;
  let base: string;
  const fetchHttp = createHttpFetch();
  before(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.url === '/stream') {
          // One event, then the response stays open, as an SSE stream does.
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write('data: first\n\n');
          return;
        }
        if (req.url === '/empty') return void res.writeHead(204).end();
        if (req.url === '/moved') return void res.writeHead(307, { location: '/echo' }).end();
        const echo = JSON.stringify({ method: req.method, body: Buffer.concat(chunks).toString('utf8'), headers: req.headers });
        res.writeHead(201, 'Made', { 'content-type': 'application/json', 'mcp-session-id': 'abc', 'set-cookie': ['a=1', 'b=2'] });
        res.end(echo);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    fetchHttp.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('sends method, headers and body, and answers with status, headers and body as fetch does', async () => {
    const response = await fetchHttp(`${base}/echo`, {
      method: 'POST',
      body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
      headers: { 'content-type': 'application/json', authorization: 'Bearer k', 'accept-encoding': 'gzip, br' },
    });
    assert.equal(response.status, 201);
    assert.equal(response.statusText, 'Made');
    assert.equal(response.ok, true);
    assert.equal(response.headers.get('mcp-session-id'), 'abc');
    const echo = (await response.json()) as { method: string; body: string; headers: Record<string, string> };
    assert.equal(echo.method, 'POST');
    assert.equal(echo.body, '{"jsonrpc":"2.0","id":1,"method":"ping"}');
    assert.equal(echo.headers.authorization, 'Bearer k');
    assert.equal(echo.headers['content-length'], '40');
    assert.equal(echo.headers['accept-encoding'], undefined, 'no compression asked for: node:http would not decode it');
    const bytes = await fetchHttp(`${base}/echo`, { method: 'PUT', body: new TextEncoder().encode('héllo') });
    assert.equal(((await bytes.json()) as { body: string }).body, 'héllo');
  });

  it('leaves no listener on a shared signal once each response is read', async () => {
    const shared = new AbortController();
    for (let i = 0; i < 300; i++) {
      const response = await fetchHttp(`${base}/echo`, { method: 'POST', body: '{}', signal: shared.signal });
      await response.json();
    }
    assert.equal((await fetchHttp(`${base}/empty`, { signal: shared.signal })).status, 204);
    assert.equal(getEventListeners(shared.signal, 'abort').length, 0);
  });

  it('streams an event-stream body; aborting the signal fails the read and removes the listener', async () => {
    const shared = new AbortController();
    const response = await fetchHttp(`${base}/stream`, { signal: shared.signal });
    const reader = response.body!.getReader();
    assert.match(new TextDecoder().decode((await reader.read()).value), /data: first/);
    assert.equal(getEventListeners(shared.signal, 'abort').length, 1, 'linked while the body is open');
    const pending = reader.read();
    shared.abort();
    await assert.rejects(pending);
    for (let i = 0; i < 50 && getEventListeners(shared.signal, 'abort').length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 2));
    assert.equal(getEventListeners(shared.signal, 'abort').length, 0);
  });

  it('drops the listener when the reader cancels the body', async () => {
    const shared = new AbortController();
    const response = await fetchHttp(`${base}/stream`, { signal: shared.signal });
    await response.body!.cancel();
    // The socket closes a turn or two later.
    for (let i = 0; i < 50 && getEventListeners(shared.signal, 'abort').length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 2));
    assert.equal(getEventListeners(shared.signal, 'abort').length, 0);
  });

  it('refuses at once on an aborted signal, and fails like fetch when nothing listens', async () => {
    const shared = new AbortController();
    shared.abort();
    await assert.rejects(fetchHttp(`${base}/echo`, { signal: shared.signal }), { name: 'AbortError' });
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await assert.rejects(fetchHttp(`http://127.0.0.1:${port}/`), (e: unknown) => e instanceof TypeError && e.message === 'fetch failed' && (e.cause as NodeJS.ErrnoException).code === 'ECONNREFUSED');
  });

  it('does not follow a redirect (the transport decides), and takes other bodies through Node fetch', async () => {
    const moved = await fetchHttp(`${base}/moved`, { method: 'POST', body: '{}', redirect: 'manual' });
    assert.equal(moved.status, 307);
    assert.equal(moved.headers.get('location'), '/echo');
    const form = await fetchHttp(`${base}/echo`, { method: 'POST', body: new URLSearchParams({ a: '1' }) });
    assert.equal(((await form.json()) as { body: string }).body, 'a=1');
  });

  it('a status line Response cannot carry (600, control characters) fails the request, it does not throw in a listener', async () => {
    for (const line of ['HTTP/1.1 600 Weird', 'HTTP/1.1 200 A\u0001B']) {
      const raw = createTcpServer((socket) => {
        socket.once('data', () => socket.end(`${line}\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}`));
      });
      await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
      try {
        await assert.rejects(fetchHttp(`http://127.0.0.1:${(raw.address() as AddressInfo).port}/`, { method: 'POST', body: '{}' }), (e: unknown) => e instanceof TypeError && e.message === 'fetch failed');
      } finally {
        await new Promise((resolve) => raw.close(resolve));
      }
    }
  });

  it('ends a request the upstream stops answering (idle timeout)', async () => {
    const quiet = createHttpFetch({ idleTimeoutMs: 200 });
    const accepted = new Set<Socket>();
    const silent = createTcpServer((socket) => void accepted.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      await assert.rejects(quiet(`http://127.0.0.1:${(silent.address() as AddressInfo).port}/`, { method: 'POST', body: '{}' }), (e: unknown) => e instanceof TypeError && /no data from the upstream/.test(String((e.cause as Error).message)));
    } finally {
      quiet.close();
      for (const socket of accepted) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('checks https certificates: a self-signed server is refused', async () => {
    const { certPem, keyPem } = generateSelfSignedCertificate();
    const tls = https.createServer({ cert: certPem, key: keyPem }, (_req, res) => res.end('secret'));
    await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
    try {
      await assert.rejects(fetchHttp(`https://127.0.0.1:${(tls.address() as AddressInfo).port}/`), (e: unknown) => e instanceof TypeError && /self[- ]signed/i.test(String((e.cause as Error).message)));
    } finally {
      tls.closeAllConnections();
      await new Promise((resolve) => tls.close(resolve));
    }
  });
});
