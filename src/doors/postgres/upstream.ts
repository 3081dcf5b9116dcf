// The upstream leg: one connection to the real PostgreSQL server per client session, opened
// with the credential from config (the client never sees it). Authentication methods the
// server may ask for: trust, cleartext password, md5 and SCRAM-SHA-256; TLS when configured.
// The password is never part of an error message.
import net from 'node:net';
import tls from 'node:tls';
import {
  FrameReader,
  TYPE,
  cancelRequest,
  parseErrorFields,
  passwordMessage,
  readCString,
  saslInitialResponse,
  saslResponse,
  sslRequest,
  startupMessage,
} from './protocol.js';
import { SCRAM_MECHANISM, ScramClient, md5Password } from './scram.js';

export interface UpstreamTls {
  /** Verify the server certificate (chain and host name). */
  rejectUnauthorized: boolean;
  /** PEM of the CA to trust instead of the system store. */
  ca?: string;
}

export interface UpstreamSettings {
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string;
  /** false: plain TCP. Otherwise TLS is required (the server must accept it). */
  tls: false | UpstreamTls;
  connectTimeoutMs: number;
  /** More startup parameters: application_name, client_encoding, statement_timeout, ... */
  parameters: Record<string, string>;
}

export interface UpstreamConnection {
  socket: net.Socket;
  /** ParameterStatus and NoticeResponse frames sent during startup, in order, to relay. */
  startupFrames: Buffer[];
  processId: number;
  secretKey: number;
  /** Transaction status of the first ReadyForQuery. */
  status: number;
  /** Bytes received after that ReadyForQuery (none, normally). */
  rest: Buffer;
}

export class UpstreamError extends Error {
  constructor(
    /** unreachable: no connection; tls: TLS refused or failed; auth: credentials refused; server: other error. */
    readonly kind: 'unreachable' | 'tls' | 'auth' | 'server',
    message: string,
    readonly sqlstate?: string,
  ) {
    super(message);
    this.name = 'UpstreamError';
  }
}

const MAX_STARTUP_MESSAGE = 1024 * 1024;

export function connectUpstream(settings: UpstreamSettings): Promise<UpstreamConnection> {
  return new Promise((resolve, reject) => {
    const endpoint = `${settings.host}:${settings.port}`;
    let socket: net.Socket = net.connect({ host: settings.host, port: settings.port });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    let settled = false;
    const timer = setTimeout(() => fail(new UpstreamError('unreachable', `no connection to ${endpoint} within ${settings.connectTimeoutMs} ms`)), settings.connectTimeoutMs);

    function fail(error: UpstreamError): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    }

    function succeed(connection: UpstreamConnection): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.removeListener('error', onError);
      socket.removeListener('close', onClose);
      resolve(connection);
    }

    const onError = (error: NodeJS.ErrnoException) => fail(new UpstreamError(settings.tls && socket instanceof tls.TLSSocket ? 'tls' : 'unreachable', describeSocketError(error, endpoint)));
    const onClose = () => fail(new UpstreamError('unreachable', `the server at ${endpoint} closed the connection during startup`));
    socket.on('error', onError);
    socket.on('close', onClose);

    socket.once('connect', () => {
      if (settings.tls) {
        socket.write(sslRequest());
        socket.once('data', (answer: Buffer) => {
          if (answer[0] !== 0x53 /* S */) {
            fail(new UpstreamError('tls', `the server at ${endpoint} does not accept TLS, but the connection is configured with ssl`));
            return;
          }
          if (answer.length > 1) {
            // Bytes after 'S' before the handshake could be injected by a man in the middle.
            fail(new UpstreamError('tls', `the server at ${endpoint} sent unexpected data after accepting TLS`));
            return;
          }
          const options = settings.tls as UpstreamTls;
          socket.removeListener('error', onError);
          socket.removeListener('close', onClose);
          const secure = tls.connect({
            socket,
            ...(net.isIP(settings.host) ? {} : { servername: settings.host }),
            rejectUnauthorized: options.rejectUnauthorized,
            ...(options.ca ? { ca: options.ca } : {}),
          });
          socket = secure;
          secure.on('error', onError);
          secure.on('close', onClose);
          secure.once('secureConnect', () => startup());
        });
      } else {
        startup();
      }
    });

    function startup(): void {
      const reader = new FrameReader(MAX_STARTUP_MESSAGE);
      const startupFrames: Buffer[] = [];
      let processId = 0;
      let secretKey = 0;
      let scram: ScramClient | undefined;
      socket.write(startupMessage({ user: settings.user, database: settings.database, ...settings.parameters }));
      const onData = (chunk: Buffer) => {
        reader.push(chunk);
        try {
          for (let frame = reader.next(); frame; frame = reader.next()) {
            const b = frame.bytes;
            switch (frame.type) {
              case TYPE.Authentication: {
                const code = b.readInt32BE(5);
                if (code === 0) break; // AuthenticationOk
                if (code === 3 || code === 5) {
                  if (settings.password === undefined) {
                    fail(new UpstreamError('auth', 'the server asks for a password, but none is configured for this connection'));
                    return;
                  }
                  socket.write(passwordMessage(code === 3 ? settings.password : md5Password(settings.user, settings.password, b.subarray(9, 13))));
                } else if (code === 10) {
                  const mechanisms: string[] = [];
                  for (let pos = 9; pos < b.length && b[pos] !== 0; ) {
                    const [mechanism, next] = readCString(b, pos);
                    mechanisms.push(mechanism);
                    pos = next;
                  }
                  if (!mechanisms.includes(SCRAM_MECHANISM)) {
                    fail(new UpstreamError('auth', `the server offers only SASL mechanisms Sluice does not support: ${mechanisms.join(', ')}`));
                    return;
                  }
                  if (settings.password === undefined) {
                    fail(new UpstreamError('auth', 'the server asks for a password, but none is configured for this connection'));
                    return;
                  }
                  scram = new ScramClient(settings.password);
                  socket.write(saslInitialResponse(SCRAM_MECHANISM, scram.first()));
                } else if (code === 11) {
                  if (!scram) throw new UpstreamError('auth', 'the server sent SASLContinue without SASL');
                  socket.write(saslResponse(scram.final(b.toString('utf8', 9))));
                } else if (code === 12) {
                  if (!scram) throw new UpstreamError('auth', 'the server sent SASLFinal without SASL');
                  scram.verify(b.toString('utf8', 9));
                } else {
                  fail(new UpstreamError('auth', `the server asks for an authentication method Sluice does not support (code ${code}); use trust, password, md5 or scram-sha-256`));
                  return;
                }
                break;
              }
              case TYPE.ParameterStatus:
              case TYPE.NoticeResponse:
                startupFrames.push(Buffer.from(b));
                break;
              case TYPE.BackendKeyData:
                processId = b.readInt32BE(5);
                secretKey = b.readInt32BE(9);
                break;
              case TYPE.NegotiateProtocolVersion:
                break;
              case TYPE.ErrorResponse: {
                const fields = parseErrorFields(b);
                const code = fields.get('C') ?? '';
                const text = fields.get('M') ?? 'error';
                const kind = code.startsWith('28') ? 'auth' : 'server';
                fail(new UpstreamError(kind, redact(text, settings.password), code));
                return;
              }
              case TYPE.ReadyForQuery:
                socket.removeListener('data', onData);
                socket.pause();
                succeed({ socket, startupFrames, processId, secretKey, status: b[5]!, rest: reader.takeRest() });
                return;
              default:
                break;
            }
          }
        } catch (error) {
          fail(error instanceof UpstreamError ? error : new UpstreamError('auth', redact((error as Error).message, settings.password)));
        }
      };
      socket.on('data', onData);
    }
  });
}

/** Asks the upstream server to cancel what the backend (processId, secretKey) is running. */
export function sendUpstreamCancel(host: string, port: number, processId: number, secretKey: number): void {
  const socket = net.connect({ host, port });
  const giveUp = setTimeout(() => socket.destroy(), 5000);
  giveUp.unref();
  socket.on('error', () => {});
  socket.on('close', () => clearTimeout(giveUp));
  socket.on('connect', () => socket.end(cancelRequest(processId, secretKey)));
}

function describeSocketError(error: NodeJS.ErrnoException, endpoint: string): string {
  switch (error.code) {
    case 'ECONNREFUSED':
      return `connection to ${endpoint} refused (is the server running and listening on that port?)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host name of ${endpoint} not found`;
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${endpoint} is unreachable`;
    case 'ECONNRESET':
    case 'EPIPE':
      return `the server at ${endpoint} closed the connection`;
    default:
      return `${endpoint}: ${error.message}`;
  }
}

function redact(text: string, password: string | undefined): string {
  return password ? text.split(password).join('[redacted]') : text;
}
