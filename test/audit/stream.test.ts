// The audit stream against real receivers on loopback: an HTTP server that checks the HMAC
// signature, TCP and UDP syslog listeners, a receiver that is down and then comes up, and a
// gateway killed (SIGKILL) in the middle of a stream and started again.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { readFileSync, writeFileSync } from 'node:fs';
import Database from 'libsql';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startSluice } from '../../src/app/server.js';
import { startRuntime } from '../../src/app/runtime.js';
import { parseAnchorFile } from '../../src/audit/checkpoints.js';
import { AuditLedger } from '../../src/audit/ledger.js';
import { ocsfProblems, type OcsfEvent } from '../../src/audit/ocsf.js';
import { AuditStream, type StreamTarget } from '../../src/audit/stream.js';
import { FileCursorStore, MemoryCursorStore } from '../../src/audit/stream-cursor.js';
import { SyslogTransport } from '../../src/audit/stream-syslog.js';
import { WebhookTransport } from '../../src/audit/stream-webhook.js';
import { verifyAudit } from '../../src/audit/verify.js';
import { loadConfigText } from '../../src/config/load.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import { tempDir, tempStore } from '../helpers.js';

const BIN = resolve('bin/sluice.mjs');

interface Batch {
  headers: IncomingMessage['headers'];
  lines: string[];
  seqs: number[];
}

/** An HTTP receiver that keeps every batch it accepted; with a secret it checks the signature. */
async function webhookReceiver(options: { secret?: string; delayMs?: number; port?: number } = {}) {
  const batches: Batch[] = [];
  let refused = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      if (options.secret) {
        const ts = String(req.headers['x-sluice-timestamp'] ?? '');
        const expected = Buffer.from(`sha256=${createHmac('sha256', options.secret).update(`${ts}.${body}`).digest('hex')}`);
        const got = Buffer.from(String(req.headers['x-sluice-signature'] ?? ''));
        if (got.length !== expected.length || !timingSafeEqual(got, expected)) {
          refused++;
          res.writeHead(401).end('bad signature');
          return;
        }
      }
      const finish = () => {
        const lines = body.trimEnd().split('\n');
        batches.push({ headers: req.headers, lines, seqs: lines.map(seqOfLine) });
        res.writeHead(200).end('ok');
      };
      if (options.delayMs) setTimeout(finish, options.delayMs);
      else finish();
    });
  });
  await new Promise<void>((r) => server.listen(options.port ?? 0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/ingest`,
    port,
    batches,
    refused: () => refused,
    seqs: () => batches.flatMap((b) => b.seqs),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** The seq of a JSONL, OCSF or anchor line. */
function seqOfLine(line: string): number {
  const v = JSON.parse(line) as { seq?: number; metadata?: { sequence?: number } };
  return v.seq ?? v.metadata!.sequence!;
}

async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await sleep(20);
  }
}

async function appendMany(store: Store, n: number, offset = 0): Promise<void> {
  const ledger = new AuditLedger(store);
  await Promise.all(
    Array.from({ length: n }, (_, i) =>
      ledger.append({
        kind: i % 2 ? 'outcome' : 'decision',
        actionId: `act_${offset + (i >> 1)}`,
        principal: 'bot',
        connection: 'sh',
        door: 'api',
        ...(i % 2 ? { outcome: 'succeeded' as const, effect: 'allow' as const } : { effect: 'allow' as const, command: `echo ${offset + i}`, intent: { class: 'read' } }),
      }),
    ),
  );
  await ledger.close();
}

/** Every seq 1..n arrived at least once, and first arrivals came in seq order. */
function assertAllInOrder(seqs: number[], n: number): void {
  const seen = new Set<number>();
  let last = 0;
  for (const s of seqs) {
    if (seen.has(s)) continue;
    assert.equal(s, last + 1, `after ${last} the first new record was ${s}`);
    seen.add(s);
    last = s;
  }
  assert.ok(last >= n, `delivered up to ${last}, expected ${n}`);
}

/** A port nothing listens on (taken and released). */
async function freePort(): Promise<number> {
  const s = createTcpServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

void describe('audit stream: a record that cannot be formatted', () => {
  void it('goes as an error line naming its seq, everything after it is delivered, and /readyz says so', async () => {
    const t = await tempStore();
    const rx = await webhookReceiver();
    let stream: AuditStream | undefined;
    try {
      await appendMany(t.store, 40);
      // Damaged by hand in the store, past its guard: the body is no longer JSON (verify reports it too).
      const db = new Database(t.file);
      db.exec('DROP TRIGGER audit_no_update');
      db.prepare(`UPDATE audit SET body = '{"broken' WHERE seq = 7`).run();
      db.close();
      const started = new AuditStream(t.store, new MemoryCursorStore(), [{ name: 'ocsf', format: 'ocsf', batchSize: 10, transport: new WebhookTransport({ url: rx.url }) }], {
        pollIntervalMs: 20,
        retryInitialMs: 20,
        ocsf: { connectionKind: () => 'shell' },
      });
      stream = started;
      await started.start();
      await waitFor(() => started.status()[0]!.delivered === 40, 'every record past the damaged one delivered');
      assertAllInOrder(rx.seqs(), 40);
      const lines = rx.batches.flatMap((b) => b.lines).map((l) => JSON.parse(l) as Record<string, unknown>);
      const broken = lines.find((l) => l.seq === 7);
      assert.equal(broken?.kind, 'decision');
      assert.match(String(broken?.sluice_stream_error), /record 7 could not be formatted/);
      // The outcome of that action (seq 8) is formatted with its decision's intent: it cannot be either.
      assert.deepEqual(lines.filter((l) => l.sluice_stream_error).map((l) => l.seq), [7, 8]);
      assert.equal(lines.filter((l) => !l.sluice_stream_error).length, 38);
      assert.equal(started.status()[0]!.unformattable?.count, 2);
      const [warning] = started.warnings(40);
      assert.equal(warning?.code, 'audit_stream_unformattable');
      assert.match(warning!.message, /2 record\(s\) could not be formatted .*first seq 7/);
    } finally {
      await stream?.close();
      await rx.close();
      await t.cleanup();
    }
  });
});

void describe('audit stream to a webhook', () => {
  let t: Awaited<ReturnType<typeof tempStore>>;
  before(async () => {
    t = await tempStore();
    await appendMany(t.store, 1000);
  });
  after(async () => {
    await t.cleanup();
  });

  void it('delivers every record in seq order, signed; the receiver checks the HMAC and the custom header arrives', async () => {
    const rx = await webhookReceiver({ secret: 's3cret-for-tests' });
    const target: StreamTarget = {
      name: 'siem',
      format: 'jsonl',
      batchSize: 128,
      transport: new WebhookTransport({ url: rx.url, secret: 's3cret-for-tests', headers: { 'x-collector-token': 'tok-1' } }),
    };
    const stream = new AuditStream(t.store, new MemoryCursorStore(), [target], { pollIntervalMs: 20 });
    await stream.start();
    try {
      await waitFor(() => stream.status()[0]!.delivered === 1000, 'all records delivered');
      assert.equal(rx.refused(), 0);
      assertAllInOrder(rx.seqs(), 1000);
      assert.equal(rx.seqs().length, 1000, 'an acknowledged target sends each record once when nothing fails');
      for (const b of rx.batches) {
        assert.equal(b.headers['x-collector-token'], 'tok-1');
        assert.equal(b.headers['content-type'], 'application/x-ndjson');
        assert.equal(b.headers['x-sluice-batch'], `${b.seqs[0]}-${b.seqs[b.seqs.length - 1]}`);
        assert.ok(b.seqs.length <= 128);
      }
      // The JSONL lines are the export format: stored hash and body, verifiable.
      const first = JSON.parse(rx.batches[0]!.lines[0]!) as { seq: number; hash: string };
      assert.equal(first.hash, (await t.store.readAudit({ limit: 1 }))[0]!.hash);
      assert.deepEqual(stream.warnings(1000), []);
    } finally {
      await stream.close();
      await rx.close();
    }
  });

  void it('a batch the receiver refuses (wrong HMAC key) is retried, never skipped, and reported', async () => {
    const rx = await webhookReceiver({ secret: 'the-right-key' });
    const stream = new AuditStream(
      t.store,
      new MemoryCursorStore(),
      [{ name: 'siem', format: 'jsonl', transport: new WebhookTransport({ url: rx.url, secret: 'a-wrong-key' }) }],
      { pollIntervalMs: 20, retryInitialMs: 20, retryMaxMs: 40 },
    );
    await stream.start();
    try {
      await waitFor(() => rx.refused() >= 3, 'three refused attempts');
      const status = stream.status()[0]!;
      assert.equal(status.delivered, 0);
      assert.match(status.lastError ?? '', /HTTP 401/);
      const [warning] = stream.warnings(1000);
      assert.equal(warning?.code, 'audit_stream_failing');
      assert.match(warning!.message, /siem .*1000 record\(s\) not delivered yet/);
      assert.equal(rx.batches.length, 0);
    } finally {
      await stream.close();
      await rx.close();
    }
  });

  void it('a receiver that is down and then comes up gets everything, in order (retries with back-off)', async () => {
    const port = await freePort();
    const stream = new AuditStream(
      t.store,
      new MemoryCursorStore(),
      [{ name: 'late', format: 'jsonl', batchSize: 300, transport: new WebhookTransport({ url: `http://127.0.0.1:${port}/x`, timeoutMs: 2000 }) }],
      { pollIntervalMs: 20, retryInitialMs: 20, retryMaxMs: 100 },
    );
    await stream.start();
    let rx: Awaited<ReturnType<typeof webhookReceiver>> | undefined;
    try {
      await waitFor(() => stream.status()[0]!.failures >= 3, 'three failed attempts');
      assert.match(stream.status()[0]!.lastError ?? '', /unreachable: ECONNREFUSED/);
      assert.equal(stream.warnings(1000)[0]?.code, 'audit_stream_failing');
      rx = await webhookReceiver({ port });
      await waitFor(() => stream.status()[0]!.delivered === 1000, 'delivery once the receiver is up');
      assertAllInOrder(rx.seqs(), 1000);
      assert.deepEqual(stream.warnings(1000), [], 'the warning clears');
    } finally {
      await stream.close();
      await rx?.close();
    }
  });

  void it('OCSF batches carry only the chosen kinds, each event complete', async () => {
    const rx = await webhookReceiver();
    const stream = new AuditStream(
      t.store,
      new MemoryCursorStore(),
      [{ name: 'ocsf', format: 'ocsf', kinds: ['decision'], batchSize: 200, transport: new WebhookTransport({ url: rx.url }) }],
      { pollIntervalMs: 20, ocsf: { connectionKind: () => 'shell' } },
    );
    await stream.start();
    try {
      await waitFor(() => stream.status()[0]!.delivered === 1000, 'all records read');
      const events = rx.batches.flatMap((b) => b.lines).map((l) => JSON.parse(l) as OcsfEvent);
      assert.equal(events.length, 500);
      for (const e of events) {
        assert.deepEqual(ocsfProblems(e), []);
        assert.equal(e.class_uid, 6003);
        assert.equal((e.metadata as { event_code: string }).event_code, 'decision');
      }
    } finally {
      await stream.close();
      await rx.close();
    }
  });

  void it('warns when a target lags more than lag_warning records behind the head', async () => {
    const rx = await webhookReceiver({ delayMs: 200 });
    const stream = new AuditStream(t.store, new MemoryCursorStore(), [{ name: 'slow', format: 'jsonl', batchSize: 10, transport: new WebhookTransport({ url: rx.url }) }], {
      lagWarning: 500,
    });
    await stream.start();
    try {
      const [warning] = stream.warnings(1000);
      assert.equal(warning?.code, 'audit_stream_behind');
      assert.match(warning!.message, /slow .* is 1000 records behind/);
      assert.deepEqual(stream.warnings(400), [], 'within lag_warning: no warning');
    } finally {
      await stream.close();
      await rx.close();
    }
  });

  void it('starts at the head with start: end, and the file cursor keeps the position', async () => {
    const dir = tempDir('sluice-cursor-');
    try {
      const rx = await webhookReceiver();
      const cursors = new FileCursorStore(join(dir.path, 'state.json'));
      const stream = new AuditStream(t.store, cursors, [{ name: 'new', format: 'jsonl', start: 'end', transport: new WebhookTransport({ url: rx.url }) }], { pollIntervalMs: 20 });
      await stream.start();
      await appendMany(t.store, 4, 5000);
      await waitFor(() => stream.status()[0]!.delivered === 1004, 'the new records');
      await stream.close();
      await rx.close();
      assert.deepEqual(rx.seqs(), [1001, 1002, 1003, 1004]);
      assert.equal(new FileCursorStore(join(dir.path, 'state.json')).get('new'), 1004);
      assert.equal((JSON.parse(readFileSync(join(dir.path, 'state.json'), 'utf8')) as { targets: { new: { seq: number } } }).targets.new.seq, 1004);
      writeFileSync(join(dir.path, 'broken.json'), '{"targets":');
      assert.throws(() => new FileCursorStore(join(dir.path, 'broken.json')), /not valid JSON/);
    } finally {
      dir.remove();
    }
  });
});

interface SyslogMessage {
  pri: number;
  time: string;
  app: string;
  msgid: string;
  sd: string;
  msg: string;
}

const RFC5424 = /^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|\[meta sequenceId="\d+"\]) (.*)$/s;

function parseSyslog(text: string): SyslogMessage {
  const m = RFC5424.exec(text);
  assert.ok(m, `not an RFC 5424 message: ${text.slice(0, 120)}`);
  return { pri: Number(m[1]), time: m[2]!, app: m[4]!, msgid: m[6]!, sd: m[7]!, msg: m[8]! };
}

/** A TCP syslog listener reading octet-counted frames; `dropAfter` closes the first connection after that many messages. */
async function tcpSyslog(options: { dropAfter?: number } = {}) {
  const messages: SyslogMessage[] = [];
  let connections = 0;
  const server: TcpServer = createTcpServer((socket: Socket) => {
    connections++;
    const mine = connections;
    let buf = Buffer.alloc(0);
    let count = 0;
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const space = buf.indexOf(0x20);
        if (space < 0) return;
        const len = Number(buf.subarray(0, space).toString('ascii'));
        assert.ok(Number.isInteger(len) && len > 0, 'an octet count');
        if (buf.length < space + 1 + len) return;
        const frame = buf.subarray(space + 1, space + 1 + len).toString('utf8');
        buf = buf.subarray(space + 1 + len);
        if (mine === 1 && options.dropAfter !== undefined && count >= options.dropAfter) {
          // Crash: drop the rest unread.
          socket.destroy();
          return;
        }
        messages.push(parseSyslog(frame));
        count++;
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    messages,
    connections: () => connections,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

void describe('audit stream to syslog', () => {
  let t: Awaited<ReturnType<typeof tempStore>>;
  before(async () => {
    t = await tempStore();
    await appendMany(t.store, 600);
    // One denied decision, to see its severity in the PRI.
    const ledger = new AuditLedger(t.store);
    await ledger.append({ kind: 'decision', actionId: 'act_deny', principal: 'bot', connection: 'sh', effect: 'deny', rule: 'no', command: 'rm -rf /' });
    await ledger.close();
  });
  after(async () => {
    await t.cleanup();
  });

  void it('TCP: RFC 5424 messages with octet-counting framing, in seq order', async () => {
    const rx = await tcpSyslog();
    const stream = new AuditStream(
      t.store,
      new MemoryCursorStore(),
      [{ name: 'syslog', format: 'jsonl', batchSize: 100, transport: new SyslogTransport({ host: '127.0.0.1', port: rx.port, transport: 'tcp', hostname: 'gw-1' }) }],
      { pollIntervalMs: 20 },
    );
    await stream.start();
    try {
      await waitFor(() => rx.messages.length >= 601, 'all messages');
      await waitFor(() => stream.status()[0]!.delivered === 601, 'the cursor confirmed on an idle check');
      const seqs = rx.messages.map((m) => seqOfLine(m.msg));
      assertAllInOrder(seqs, 601);
      const first = rx.messages[0]!;
      assert.equal(first.pri, 13 * 8 + 6, 'facility 13 (log audit), informational');
      assert.equal(first.app, 'sluice');
      assert.equal(first.msgid, 'decision');
      assert.equal(first.sd, '[meta sequenceId="1"]');
      const rows = await t.store.readAudit({ limit: 1 });
      assert.equal(first.time, rows[0]!.time);
      const deny = rx.messages.find((m) => m.msg.includes('act_deny'))!;
      assert.equal(deny.pri, 13 * 8 + 4, 'a denial is a warning');
    } finally {
      await stream.close();
      await rx.close();
    }
  });

  void it('TCP: a receiver that drops the connection gets the unconfirmed messages again', async () => {
    const rx = await tcpSyslog({ dropAfter: 150 });
    const stream = new AuditStream(
      t.store,
      new MemoryCursorStore(),
      [{ name: 'syslog', format: 'ocsf', batchSize: 100, transport: new SyslogTransport({ host: '127.0.0.1', port: rx.port, transport: 'tcp' }) }],
      { pollIntervalMs: 20, retryInitialMs: 20, retryMaxMs: 50 },
    );
    await stream.start();
    try {
      await waitFor(() => stream.status()[0]!.delivered === 601, 'everything confirmed');
      assert.ok(rx.connections() >= 2, 'it reconnected');
      const seqs = rx.messages.map((m) => seqOfLine(m.msg));
      assertAllInOrder(seqs, 601);
      for (const m of rx.messages) assert.deepEqual(ocsfProblems(JSON.parse(m.msg) as OcsfEvent), []);
    } finally {
      await stream.close();
      await rx.close();
    }
  });

  void it('UDP: one RFC 5424 message per datagram', async () => {
    const messages: SyslogMessage[] = [];
    // UDP has no flow control: a default-sized receive buffer overflows when the listener (in this
    // same process) reads later than the stream sends. A large one holds the whole test.
    const socket = createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
    socket.on('message', (m) => messages.push(parseSyslog(m.toString('utf8'))));
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
    const port = socket.address().port;
    const stream = new AuditStream(
      t.store,
      new MemoryCursorStore(),
      [{ name: 'udp', format: 'jsonl', batchSize: 20, kinds: ['decision'], transport: new SyslogTransport({ host: '127.0.0.1', port, transport: 'udp', facility: 10, appName: 'gw' }) }],
      { pollIntervalMs: 20 },
    );
    await stream.start();
    try {
      await waitFor(() => messages.length >= 301, 'all decisions');
      await waitFor(() => stream.status()[0]!.delivered === 601, 'cursor at the head');
      const seqs = messages.map((m) => seqOfLine(m.msg));
      assert.deepEqual(seqs, [...new Set(seqs)].sort((a, b) => a - b));
      assert.equal(seqs.length, 301);
      assert.ok(messages.every((m) => m.app === 'gw' && m.msgid === 'decision' && Math.floor(m.pri / 8) === 10));
    } finally {
      await stream.close();
      socket.close();
    }
  });
});

void describe('checkpoint anchor webhook and /readyz', () => {
  void it('POSTs each signed checkpoint, retried while the receiver is down; what it keeps verifies as an anchor file', async () => {
    const dir = tempDir('sluice-anchor-');
    const port = await freePort();
    process.env.SLUICE_TEST_ANCHOR_SECRET = 'anchor-key';
    const config = `
store: { url: sqlite:store/sluice.db }
audit:
  checkpoint:
    every: 10
    anchor:
      file: anchors.jsonl
      webhook: { url: http://127.0.0.1:${port}/anchors, secret: { env: SLUICE_TEST_ANCHOR_SECRET } }
  stream: { poll_interval: 20ms, retry: { initial: 20ms, max: 100ms } }
`;
    const runtime = await startRuntime(loadConfigText(config, join(dir.path, 'sluice.yaml'), dir.path));
    let rx: Awaited<ReturnType<typeof webhookReceiver>> | undefined;
    try {
      for (let i = 0; i < 35; i++) await runtime.ledger.append({ kind: 'system', detail: { event: 'tick', i } });
      await runtime.checkpoints!.checkpoint();
      const fileAnchors = () => parseAnchorFile(readFileSync(join(dir.path, 'anchors.jsonl'), 'utf8'));
      assert.ok(fileAnchors().length >= 3);
      await waitFor(() => (runtime.stream?.status()[0]?.failures ?? 0) >= 2, 'failed anchor deliveries');
      const head = (await runtime.store.auditHead()).seq;
      assert.equal(runtime.stream!.warnings(head)[0]?.code, 'audit_stream_failing');
      assert.match(runtime.stream!.warnings(head)[0]!.message, /checkpoint-anchor/);

      rx = await webhookReceiver({ secret: 'anchor-key', port });
      await waitFor(() => rx!.batches.flatMap((b) => b.lines).length >= fileAnchors().length, 'the anchors by webhook');
      const posted = rx.batches.flatMap((b) => b.lines).join('\n');
      assert.equal(rx.refused(), 0, 'every POST carried a valid signature');
      assert.deepEqual(parseAnchorFile(posted), fileAnchors(), 'the webhook gets the same lines as the anchor file');
      await runtime.ledger.flush();
      const result = await verifyAudit(runtime.store, { checkpoints: { anchors: parseAnchorFile(posted) } });
      assert.equal(result.ok, true, JSON.stringify(result.problem));
      assert.equal(result.checkpoints?.anchored, parseAnchorFile(posted).length);
    } finally {
      await runtime.close();
      await rx?.close();
      delete process.env.SLUICE_TEST_ANCHOR_SECRET;
      dir.remove();
    }
  });

  void it('/readyz stays ready and warns while a stream target fails', async () => {
    const dir = tempDir('sluice-stream-readyz-');
    const port = await freePort();
    const config = `
store: { url: sqlite:store/sluice.db }
listeners: { api: { address: 127.0.0.1:0 } }
audit:
  stream:
    poll_interval: 20ms
    retry: { initial: 20ms, max: 50ms }
    targets:
      siem: { kind: webhook, url: http://127.0.0.1:${port}/in }
`;
    const sluice = await startSluice(loadConfigText(config, join(dir.path, 'sluice.yaml'), dir.path));
    try {
      await waitFor(async () => {
        const body = (await (await fetch(`${sluice.api.url}/readyz`)).json()) as { warnings?: { code: string }[] };
        return body.warnings?.some((w) => w.code === 'audit_stream_failing') ?? false;
      }, 'the audit_stream_failing warning');
      const response = await fetch(`${sluice.api.url}/readyz`);
      assert.equal(response.status, 200);
      const body = (await response.json()) as { status: string; warnings: { code: string; message: string }[] };
      assert.equal(body.status, 'ready');
      assert.match(body.warnings.find((w) => w.code === 'audit_stream_failing')!.message, /target siem \(http:\/\/127\.0\.0\.1:\d+\) is failing/);
    } finally {
      await sluice.stop();
      dir.remove();
    }
  });
});

void describe('audit.stream configuration', () => {
  void it('the example in docs/audit-stream.md loads; mistakes are refused with their path', () => {
    const doc = readFileSync('docs/audit-stream.md', 'utf8');
    const yaml = /```yaml\n(audit:\n {2}stream:[\s\S]*?)```/.exec(doc)?.[1];
    assert.ok(yaml, 'the doc has the stream example');
    const loaded = loadConfigText(yaml, 'audit-stream.md', '/tmp');
    const targets = loaded.config.audit.stream!.targets;
    assert.equal(targets.siem!.kind, 'webhook');
    assert.equal(targets.syslog!.kind === 'syslog' && targets.syslog!.transport, 'tcp');
    assert.equal(loaded.config.audit.stream!.retry.max, 300_000);
    const anchorYaml = /```yaml\n(audit:\n {2}checkpoint:[\s\S]*?)```/.exec(doc)?.[1];
    assert.ok(anchorYaml);
    assert.equal(loadConfigText(anchorYaml, 'audit-stream.md', '/tmp').config.audit.checkpoint.anchor?.webhook?.url, 'https://anchor.example.com/sluice');

    assert.throws(() => loadConfigText('audit: { stream: { targets: { a: { kind: webhook, url: http://x, retries: 3 } } } }', 'x.yaml', '/tmp'), /retries/);
    assert.throws(() => loadConfigText('audit: { stream: { targets: { a: { kind: syslog, address: nohost } } } }', 'x.yaml', '/tmp'), /HOST:PORT/);
    assert.throws(() => loadConfigText('audit: { checkpoint: { anchor: {} } }', 'x.yaml', '/tmp'), /anchor needs a file, a webhook or both/);
    assert.throws(
      () => loadConfigText('store: { url: "postgres://root@127.0.0.1/test" }\naudit: { checkpoint: { enabled: false }, stream: { targets: { a: { kind: webhook, url: http://x } } } }', 'x.yaml', '/tmp'),
      /audit\.stream\.state/,
    );
  });
});

void describe('no loss across a crash', () => {
  void it('a gateway killed mid-stream resumes from its cursor: every record arrives, in order', { timeout: 120_000 }, async () => {
    const dir = tempDir('sluice-stream-kill-');
    const rx = await webhookReceiver({ delayMs: 25 });
    const N = 3000;
    const store = await openStore(`sqlite:${join(dir.path, 'store', 'sluice.db')}`);
    await appendMany(store, N);
    await store.close();
    writeFileSync(
      join(dir.path, 'sluice.yaml'),
      `
store: { url: sqlite:store/sluice.db }
listeners: { api: { address: 127.0.0.1:0 } }
audit:
  checkpoint: { enabled: false }
  stream:
    poll_interval: 20ms
    retry: { initial: 20ms, max: 100ms }
    targets:
      siem: { kind: webhook, url: ${rx.url}, format: jsonl, batch: 100 }
`,
    );
    const up = (): ChildProcess =>
      spawn(process.execPath, [BIN, '-c', join(dir.path, 'sluice.yaml'), 'up'], { stdio: 'ignore', env: { ...process.env, SLUICE_LOG_LEVEL: 'silent' } });
    const exited = (child: ChildProcess) => new Promise<void>((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));
    let child = up();
    try {
      await waitFor(() => rx.batches.length >= 5, 'the first batches', 60_000);
      child.kill('SIGKILL');
      await exited(child);
      const beforeCrash = Math.max(...rx.seqs());
      assert.ok(beforeCrash < N, 'killed in the middle of the stream');
      const cursor = new FileCursorStore(join(dir.path, 'store', 'audit-stream.json')).get('siem') ?? 0;
      assert.ok(cursor <= beforeCrash, 'the cursor never runs ahead of what was delivered');

      child = up();
      await waitFor(() => Math.max(...rx.seqs()) >= N, 'the rest after the restart', 60_000);
      child.kill('SIGTERM');
      await exited(child);
      assertAllInOrder(rx.seqs(), N);
      for (const b of rx.batches) {
        b.seqs.forEach((s, i) => i > 0 && assert.equal(s, b.seqs[i - 1]! + 1, 'a batch is a contiguous run'));
      }
      // The restart resumed at the cursor, not at the start.
      const resumedAt = rx.batches.find((b, i) => i > 0 && b.seqs[0]! <= rx.batches[i - 1]!.seqs.at(-1)!)?.seqs[0];
      assert.ok(resumedAt === undefined || resumedAt === cursor + 1, `resumed at ${resumedAt}, cursor was ${cursor}`);
      assert.equal(new FileCursorStore(join(dir.path, 'store', 'audit-stream.json')).get('siem'), N);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await rx.close();
      dir.remove();
    }
  });
});
