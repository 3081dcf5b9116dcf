// Delivers audit stream batches as RFC 5424 syslog messages: over TCP with octet-counting
// framing (RFC 6587 section 3.4.1: "LEN SP MESSAGE", so a record may hold any byte), or over
// UDP, one message per datagram (RFC 5426).
//
//   <110>1 2026-05-01T12:00:00.000Z host sluice 4242 decision [meta sequenceId="42"] {...}
//
// Syslog has no acknowledgements. Over TCP the stream confirms a batch only once the connection
// has stayed up for a while after the write (AuditStreamOptions.settleMs), and resends what is
// unconfirmed after a broken connection. Over UDP nothing can be confirmed: datagrams can be
// dropped on the way without anyone knowing.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { hostname as osHostname } from 'node:os';
import { auditSeverity } from './ocsf.js';
import type { StreamBatch, StreamTransport } from './stream.js';

export interface SyslogTransportOptions {
  host: string;
  port: number;
  transport: 'tcp' | 'udp';
  /** Syslog facility, 0-23 (default 13, log audit). */
  facility?: number;
  appName?: string;
  hostname?: string;
  /** Longest message in bytes; longer ones are cut (default: none over TCP, 65000 over UDP). */
  maxMessage?: number;
  /** Connect timeout over TCP (default 10 s). */
  timeoutMs?: number;
}

/** OCSF severity -> syslog severity (6 informational, 5 notice, 4 warning). */
const SYSLOG_SEVERITY: Record<number, number> = { 1: 6, 2: 5, 3: 4 };
const SEQUENCE_MAX = 2_147_483_647;

/** PRINTUSASCII without spaces, at most `max` characters (RFC 5424 header fields). */
function headerField(text: string, max: number): string {
  const clean = text.replace(/[^\x21-\x7e]/g, '').slice(0, max);
  return clean.length > 0 ? clean : '-';
}

/** One RFC 5424 message for a record, without framing. */
export function syslogMessage(
  row: { seq: number; time: string; kind: string; body: string },
  line: string,
  options: { facility?: number; appName?: string; hostname?: string; procId?: string } = {},
): string {
  let severity = 6;
  try {
    severity = SYSLOG_SEVERITY[auditSeverity(JSON.parse(row.body))] ?? 6;
  } catch {
    // A body that does not parse is still sent, at the default severity.
  }
  const pri = (options.facility ?? 13) * 8 + severity;
  const sd = row.seq <= SEQUENCE_MAX ? `[meta sequenceId="${row.seq}"]` : '-';
  return `<${pri}>1 ${row.time} ${headerField(options.hostname ?? osHostname(), 255)} ${headerField(options.appName ?? 'sluice', 48)} ${headerField(
    options.procId ?? String(process.pid),
    128,
  )} ${headerField(row.kind, 32)} ${sd} ${line}`;
}

export class SyslogTransport implements StreamTransport {
  readonly acknowledged = false;
  readonly describe: string;
  private socket: Socket | undefined;
  private udp: UdpSocket | undefined;
  /** Set when the TCP connection failed or closed: what was written since may be lost. */
  private broken = false;
  private readonly hostname: string;

  constructor(private readonly options: SyslogTransportOptions) {
    this.describe = `syslog+${options.transport}://${options.host}:${options.port}`;
    this.hostname = options.hostname ?? osHostname();
  }

  /** Whether everything written so far went out on a connection that is still up. */
  healthy(): boolean {
    if (this.options.transport === 'udp') return true;
    return this.socket !== undefined && !this.broken;
  }

  async send(batch: StreamBatch): Promise<void> {
    const max = this.options.maxMessage ?? (this.options.transport === 'udp' ? 65_000 : Number.POSITIVE_INFINITY);
    const messages = batch.rows.map((row, i) => {
      const buf = Buffer.from(syslogMessage(row, batch.lines[i]!, { facility: this.options.facility, appName: this.options.appName, hostname: this.hostname }), 'utf8');
      return buf.length > max ? buf.subarray(0, max) : buf;
    });
    if (this.options.transport === 'udp') return this.sendUdp(messages);
    return this.sendTcp(messages);
  }

  private async sendUdp(messages: Buffer[]): Promise<void> {
    if (!this.udp) {
      this.udp = createSocket(this.options.host.includes(':') ? 'udp6' : 'udp4');
      this.udp.on('error', () => undefined);
      this.udp.unref();
    }
    const udp = this.udp;
    for (const message of messages) {
      await new Promise<void>((resolve, reject) => udp.send(message, this.options.port, this.options.host, (error) => (error ? reject(error) : resolve())));
    }
  }

  private async sendTcp(messages: Buffer[]): Promise<void> {
    if (this.broken) this.drop();
    const socket = this.socket ?? (await this.connect());
    const framed = Buffer.concat(messages.flatMap((m) => [Buffer.from(`${m.length} `, 'ascii'), m]));
    await new Promise<void>((resolve, reject) => {
      socket.write(framed, (error) => (error ? reject(error) : resolve()));
    }).catch((error: unknown) => {
      this.broken = true;
      throw new Error(`${this.describe}: ${(error as Error).message}`);
    });
    if (this.broken) throw new Error(`${this.describe}: the connection closed`);
  }

  private connect(): Promise<Socket> {
    return new Promise<Socket>((resolve, reject) => {
      const socket = connect({ host: this.options.host, port: this.options.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`${this.describe}: connect timed out`));
      }, this.options.timeoutMs ?? 10_000);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.setKeepAlive(true);
        socket.on('error', () => {
          this.broken = true;
        });
        socket.on('close', () => {
          this.broken = true;
        });
        // A syslog receiver sends nothing; reading keeps FIN and RST visible.
        socket.on('data', () => undefined);
        this.socket = socket;
        this.broken = false;
        resolve(socket);
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(new Error(`${this.describe}: ${(error as NodeJS.ErrnoException).code ?? error.message}`));
      });
    });
  }

  private drop(): void {
    this.socket?.destroy();
    this.socket = undefined;
    this.broken = false;
  }

  async close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (socket && !socket.destroyed) await new Promise<void>((resolve) => socket.end(resolve));
    this.udp?.close();
    this.udp = undefined;
  }
}
