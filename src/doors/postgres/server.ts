// The PostgreSQL door: a listener that psql, drivers and pgbench connect to unchanged.
// The startup phase is handled here (SSLRequest, GSSENCRequest, CancelRequest,
// StartupMessage, authentication with the caller's Sluice identity, the upstream connection
// with the connection's own credential); then a ProxySession takes over.
//
// Authentication. user = the principal's name, password = one of its Sluice API keys or
// short-lived tokens. With SCRAM-SHA-256 (verifiers stored when keys are created) the key never
// crosses the wire; a key without a verifier can only be checked in cleartext, which is
// accepted inside TLS, or from loopback when `plaintextPassword` allows it. `auth` picks the
// methods; docs/doors/postgres.md explains the choices.
import { createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { resolve } from 'node:path';
import tls from 'node:tls';
import type { Runtime } from '../../app/runtime.js';
import type { PostgresConnectionConfig } from '../../config/schema.js';
import { resolveSecret } from '../../credentials/secrets.js';
import { checkKey, refusal } from '../../identity/keys.js';
import { IdentityError, principalFromKey } from '../../identity/principals.js';
import type { Principal } from '../../gate/types.js';
import type { ApiKeyRecord } from '../../store/store.js';
import { newId } from '../../util/ids.js';
import { log as rootLog, type Logger } from '../../util/log.js';
import {
  CANCEL_REQUEST,
  FrameReader,
  GSSENC_REQUEST,
  ProtocolError,
  SSL_REQUEST,
  TYPE,
  authenticationCleartext,
  authenticationOk,
  authenticationSasl,
  authenticationSaslContinue,
  authenticationSaslFinal,
  backendKeyData,
  errorResponse,
  negotiateProtocolVersion,
  noticeResponse,
  parseStartupMessage,
  readCString,
  readStartupPacket,
  readyForQuery,
  type ErrorFields,
  type Frame,
} from './protocol.js';
import { SCRAM_MECHANISM, ScramError, ScramServer, type ScramVerifier } from './scram.js';
import { ProxySession, encodingClass } from './session.js';
import { loadDoorTls, type PostgresDoorTls } from './tls.js';
import { UpstreamError, connectUpstream, sendUpstreamCancel, type UpstreamSettings } from './upstream.js';

export type { PostgresDoorTls } from './tls.js';

/**
 * SCRAM verifiers for a user: all share one salt and iteration count. Candidates may include
 * keys that were revoked or expired recently, so that a client holding one is told why it
 * cannot log in; no candidates (with the user's derived salt) makes a mock exchange.
 */
export interface ScramCredentials {
  salt: Buffer;
  iterations: number;
  candidates: { verifier: ScramVerifier; keyId: string }[];
  /** The user also has usable keys without a verifier, which only cleartext can check. */
  passwordKeys?: boolean;
}

/**
 * `scram`: SCRAM-SHA-256 only (keys without verifiers cannot log in). `scram-or-password`:
 * SCRAM when the user has verifiers, else the cleartext rules. `password`: cleartext rules only.
 */
export type PostgresDoorAuth = 'scram' | 'scram-or-password' | 'password';

export interface PostgresDoorOptions {
  /** Where to listen, e.g. { host: '127.0.0.1', port: 15432 }. Port 0 picks a free port. */
  address: { host: string; port: number };
  /** TLS for clients. Default false (SSLRequest is declined). */
  tls?: PostgresDoorTls;
  /**
   * When a client may send its API key as a cleartext password without TLS: `loopback`
   * (default; from 127.0.0.0/8 and ::1 only), `always` (trusted networks only) or `never`.
   * Inside TLS the password is always accepted.
   */
  plaintextPassword?: 'loopback' | 'always' | 'never';
  /** Most client sessions at once. Default 100. */
  maxConnections?: number;
  /** Close a session idle (no statement running) this long; 0 (default) never. */
  idleTimeoutMs?: number;
  /** Time a client has to finish startup and authentication. Default 60000. */
  authTimeoutMs?: number;
  /**
   * How often a session's key or token is looked up again, so that revoking it ends the
   * sessions it opened (default 30 s). Expiry ends a session on time without a lookup.
   */
  credentialRecheckMs?: number;
  /** Largest protocol message accepted, either way. Default 64 MiB. */
  maxMessageSize?: number;
  /** Time to connect and log in upstream. Default 10000. */
  connectTimeoutMs?: number;
  /**
   * Source of SCRAM verifiers for a user name. Undefined from it means "check this user in
   * cleartext" (under `scram-or-password`); `scram` mode then runs a mock exchange.
   */
  scram?: (user: string) => Promise<ScramCredentials | undefined>;
  /** Default `scram-or-password` when `scram` is given, else `password`. */
  auth?: PostgresDoorAuth;
  log?: Logger;
}

export interface PostgresDoor {
  /** The address actually listened on (the real port when 0 was asked). */
  address: { host: string; port: number };
  /** The certificate clients can pin, when TLS is on. */
  tls?: { certFile?: string; fingerprint256: string; generated: boolean };
  /** Client sessions now open. */
  readonly sessions: number;
  close(): Promise<void>;
}

const DEFAULTS = {
  plaintextPassword: 'loopback' as const,
  maxConnections: 100,
  idleTimeoutMs: 0,
  authTimeoutMs: 60_000,
  maxMessageSize: 64 * 1024 * 1024,
  connectTimeoutMs: 10_000,
  credentialRecheckMs: 30_000,
};

/** Startup parameters passed on to the upstream server as they are. */
const FORWARDED_PARAMETERS = new Set(['client_encoding', 'DateStyle', 'TimeZone', 'IntervalStyle', 'extra_float_digits', 'lc_monetary', 'lc_numeric', 'lc_time', 'bytea_output', 'datestyle', 'timezone', 'intervalstyle']);

interface Registered {
  secret: Buffer;
  session: ProxySession | undefined;
}

export async function startPostgresDoor(runtime: Runtime, options: PostgresDoorOptions): Promise<PostgresDoor> {
  const o = { ...DEFAULTS, ...stripUndefined(options) };
  const log = (options.log ?? rootLog).child({ door: 'postgres' });
  // Connections and listeners are read once: changing them needs a restart (Runtime.apply).
  // Identities are read at each login, so a reloaded config applies to new sessions.
  const { config, baseDir } = runtime.loaded;

  // Upstream settings per postgres connection, with secrets resolved now (fail at start).
  const upstreams = new Map<string, UpstreamSettings>();
  for (const [name, connection] of Object.entries(config.connections)) {
    if (connection.kind === 'postgres') upstreams.set(name, upstreamSettings(name, connection, baseDir, o.connectTimeoutMs));
  }
  const auth: PostgresDoorAuth = options.auth ?? (options.scram ? 'scram-or-password' : 'password');
  // Salts for mock exchanges: stable per name while the door runs, unrelated to real salts.
  const mockSecret = randomBytes(32);
  const tlsLoaded = options.tls ? loadDoorTls(options.tls, baseDir) : undefined;
  if (tlsLoaded?.generated) log.info({ certFile: tlsLoaded.certFile, fingerprint256: tlsLoaded.fingerprint256 }, 'postgres door: generated a self-signed TLS certificate');

  const registry = new Map<number, Registered>();
  const sockets = new Set<net.Socket>();
  const sessions = new Set<ProxySession>();
  let closing = false;

  const server = net.createServer((socket) => {
    if (closing) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    void handleConnection(socket).catch((error: unknown) => {
      log.error({ err: error }, 'postgres door: connection failed');
      socket.destroy();
    });
  });

  async function handleConnection(raw: net.Socket): Promise<void> {
    let socket: net.Socket = raw;
    let input = new SocketInput(raw);
    const timer = setTimeout(() => {
      fatal(socket, { severity: 'FATAL', code: '08006', message: `startup and authentication did not finish within ${o.authTimeoutMs} ms` });
    }, o.authTimeoutMs);
    timer.unref();
    let encrypted = false;
    try {
      let startup: ReturnType<typeof parseStartupMessage> | undefined;
      while (!startup) {
        const packet = await input.startupPacket();
        if (!packet) return;
        const code = packet.readInt32BE(4);
        if (code === SSL_REQUEST) {
          if (encrypted) throw new ProtocolError('SSLRequest inside TLS');
          if (input.buffered > 0) {
            // Bytes sent before the handshake could be injected by a man in the middle.
            throw new ProtocolError('received unencrypted data after SSLRequest');
          }
          if (!tlsLoaded) {
            raw.write('N');
            continue;
          }
          input.detach();
          raw.write('S');
          const secure = new tls.TLSSocket(raw, { isServer: true, secureContext: tlsLoaded.context });
          secure.on('error', () => {});
          await new Promise<void>((resolveSecure, rejectSecure) => {
            secure.once('secure', () => resolveSecure());
            secure.once('close', () => rejectSecure(new Error('TLS handshake failed')));
          });
          socket = secure;
          encrypted = true;
          input = new SocketInput(secure);
          continue;
        }
        if (code === GSSENC_REQUEST) {
          // Refused cleanly; the client goes on with SSLRequest or a plain startup.
          socket.write('N');
          continue;
        }
        if (code === CANCEL_REQUEST) {
          if (packet.length === 16) cancel(packet.readInt32BE(8), packet.subarray(12, 16));
          socket.destroy();
          return;
        }
        startup = parseStartupMessage(packet);
      }

      if (startup.major !== 3) {
        fatal(socket, { severity: 'FATAL', code: '0A000', message: `unsupported frontend protocol ${startup.major}.${startup.minor}: Sluice speaks 3.0` });
        return;
      }
      const params = startup.parameters;
      const protocolOptions = [...params.keys()].filter((k) => k.startsWith('_pq_.'));
      if (startup.minor > 0 || protocolOptions.length > 0) socket.write(negotiateProtocolVersion(0, protocolOptions));
      if (params.has('replication') && params.get('replication') !== 'false' && params.get('replication') !== '0') {
        fatal(socket, { severity: 'FATAL', code: '0A000', message: 'replication connections are not supported through Sluice' });
        return;
      }
      const user = params.get('user') ?? '';
      if (user === '') {
        fatal(socket, { severity: 'FATAL', code: '28000', message: 'no PostgreSQL user name specified in startup packet (use your Sluice identity name)' });
        return;
      }
      const database = params.get('database') || user;

      const login = await authenticate(socket, input, user, encrypted);
      if (!login) return;
      const { principal, credential } = login;

      const upstreamBase = upstreams.get(database);
      if (!upstreamBase) {
        const kind = config.connections[database]?.kind;
        fatal(socket, {
          severity: 'FATAL',
          code: '3D000',
          message: kind
            ? `database "${database}" does not exist: Sluice connection "${database}" is a ${kind} connection, not postgres`
            : `database "${database}" does not exist: Sluice has no postgres connection named "${database}"`,
          hint: upstreams.size > 0 ? `postgres connections: ${[...upstreams.keys()].sort().join(', ')}` : 'configure a postgres connection in sluice.yaml',
        });
        return;
      }
      const clientEncoding = params.get('client_encoding');
      if (clientEncoding !== undefined && clientEncoding.toLowerCase() !== 'auto' && !encodingClass(clientEncoding)) {
        fatal(socket, { severity: 'FATAL', code: '22023', message: `client_encoding "${clientEncoding}" is not supported through Sluice (its characters can contain quote and backslash bytes, which would hide statement text from analysis)`, hint: 'use UTF8' });
        return;
      }
      if (sessions.size >= o.maxConnections) {
        fatal(socket, { severity: 'FATAL', code: '53300', message: `sorry, too many clients already (Sluice allows ${o.maxConnections} sessions on this door)` });
        return;
      }

      const ignored: string[] = [];
      const forwarded: Record<string, string> = {};
      for (const [key, value] of params) {
        if (key === 'user' || key === 'database' || key.startsWith('_pq_.') || key === 'replication') continue;
        if (key === 'application_name' || key === 'fallback_application_name') continue;
        if (FORWARDED_PARAMETERS.has(key)) forwarded[key] = value;
        else ignored.push(key);
      }
      if (forwarded.client_encoding?.toLowerCase() === 'auto') delete forwarded.client_encoding;
      const app = params.get('application_name') ?? params.get('fallback_application_name');
      const upstreamSettingsForSession: UpstreamSettings = {
        ...upstreamBase,
        parameters: {
          ...upstreamBase.parameters,
          ...forwarded,
          application_name: truncateUtf8(`sluice/${principal.name}${app ? `/${app}` : ''}`, 63),
        },
      };

      let upstream;
      try {
        upstream = await connectUpstream(upstreamSettingsForSession);
      } catch (error) {
        fatal(socket, upstreamFailure(database, error));
        return;
      }
      let upstreamEncoding = 'UTF8';
      for (const frame of upstream.startupFrames) {
        if (frame[0] !== TYPE.ParameterStatus) continue;
        const [name, after] = readCString(frame, 5);
        if (name === 'client_encoding') upstreamEncoding = readCString(frame, after)[0];
      }
      if (!encodingClass(upstreamEncoding)) {
        upstream.socket.destroy();
        fatal(socket, { severity: 'FATAL', code: '22023', message: `the session's client_encoding "${upstreamEncoding}" is not supported through Sluice`, hint: 'connect with client_encoding=UTF8' });
        return;
      }
      if (socket.destroyed || closing) {
        upstream.socket.destroy();
        return;
      }
      clearTimeout(timer);

      // The client gets the door's own cancel key; the door maps it to the upstream's.
      let processId: number;
      do processId = randomInt(1, 2 ** 31 - 1);
      while (registry.has(processId));
      const secret = randomBytes(4);
      const registered: Registered = { secret, session: undefined };
      registry.set(processId, registered);

      const sessionId = newId('pg');
      const startupMessages: Buffer[] = [authenticationOk(), ...upstream.startupFrames];
      if (ignored.length > 0) {
        startupMessages.push(noticeResponse({ severity: 'NOTICE', code: '00000', message: `Sluice ignored these startup parameters: ${ignored.join(', ')}`, hint: 'set them with SET statements, which policy sees' }));
      }
      startupMessages.push(backendKeyData(processId, secret.readInt32BE(0)), readyForQuery(upstream.status));
      socket.write(Buffer.concat(startupMessages));

      const { host, port } = upstreamBase;
      const up = upstream;
      // Set once the session is built: buffered client bytes may close it during construction.
      let stopWatch = (): void => undefined;
      const session = new ProxySession(
        socket,
        upstream.socket,
        {
          gate: runtime.gate,
          principal,
          connection: database,
          sessionId,
          maxMessageSize: o.maxMessageSize,
          idleTimeoutMs: o.idleTimeoutMs,
          clientEncoding: upstreamEncoding,
          cancelUpstream: () => sendUpstreamCancel(host, port, up.processId, up.secretKey),
          log,
          onClose: () => {
            sessions.delete(session);
            registry.delete(processId);
            stopWatch();
          },
        },
        upstream.status,
        input.detach(),
        upstream.rest,
      );
      registered.session = session;
      sessions.add(session);
      if (!session.isClosed) {
        stopWatch = watchCredential(credential, (message) =>
          session.terminate({ severity: 'FATAL', code: '28P01', message, hint: 'log in again with a valid Sluice key or token' }),
        );
      }
      log.debug({ session: sessionId, principal: principal.name, connection: database, tls: encrypted }, 'postgres door: session started');
    } catch (error) {
      if (error instanceof ProtocolError) {
        fatal(socket, { severity: 'FATAL', code: error.sqlstate, message: error.message });
        return;
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Authenticates the client; on failure it has been sent a FATAL error and undefined is returned. */
  /**
   * A session lives only as long as the key or token it logged in with: it is ended when the
   * credential expires, and when a periodic look at the store finds it revoked (or gone).
   * Returns the function that stops watching.
   */
  function watchCredential(credential: ApiKeyRecord, end: (message: string) => void): () => void {
    let stopped = false;
    const timers: NodeJS.Timeout[] = [];
    const finish = (message: string) => {
      if (stopped) return;
      stopped = true;
      for (const t of timers) clearTimeout(t);
      end(message);
    };
    const kind = credential.token ? 'token' : 'key';
    if (credential.expiresAt !== undefined) {
      // setTimeout fires at once for delays beyond 2^31-1 ms; longer lives are caught by the
      // periodic check below instead.
      const ms = Date.parse(credential.expiresAt) - Date.now();
      if (ms <= 0) {
        queueMicrotask(() => finish(`the Sluice ${kind} ${credential.id} expired at ${credential.expiresAt}`));
      } else if (ms < 2 ** 31 - 1) {
        timers.push(setTimeout(() => finish(`the Sluice ${kind} ${credential.id} expired at ${credential.expiresAt}`), ms).unref());
      }
    }
    const recheck = setInterval(() => {
      void runtime.store
        .getKey(credential.id)
        .then((current) => (current ? refusal(runtime.store, current) : { message: `the Sluice ${kind} ${credential.id} no longer exists` }))
        .then(
          (refused) => {
            if (refused) finish(refused.message);
          },
          // A store that cannot be read stops statements through the gate anyway; keep the session.
          () => undefined,
        );
    }, o.credentialRecheckMs).unref();
    timers.push(recheck);
    return () => {
      stopped = true;
      for (const t of timers) clearTimeout(t);
    };
  }

  async function authenticate(
    socket: net.Socket,
    input: SocketInput,
    user: string,
    encrypted: boolean,
  ): Promise<{ principal: Principal; credential: ApiKeyRecord } | undefined> {
    // The same answer for a wrong key, another identity's key and a name with no keys at all.
    const failed = (why?: string) =>
      fatal(socket, {
        severity: 'FATAL',
        code: '28P01',
        message: `password authentication failed for user "${user}"${why ? `: ${why}` : ''}`,
        ...(why ? {} : { hint: 'the password is a Sluice API key or token of this identity (slk_... or slt_...)' }),
      });
    const cleartextAllowed = encrypted || o.plaintextPassword === 'always' || (o.plaintextPassword === 'loopback' && isLoopback(socket.remoteAddress));

    let credentials: ScramCredentials | undefined;
    let useScram = false;
    if (auth !== 'password') {
      credentials = options.scram ? await options.scram(user) : undefined;
      if (auth === 'scram') {
        useScram = true;
      } else if (credentials) {
        // scram-or-password: SCRAM unless some of the principal's keys can only be checked in
        // cleartext and cleartext is allowed here (keys made before verifiers existed).
        useScram = !(credentials.passwordKeys && (cleartextAllowed || credentials.candidates.length === 0));
      }
    }

    let record: ApiKeyRecord | undefined;
    if (useScram) {
      // No credentials: a mock exchange with a salt stable per name, as PostgreSQL does.
      const salt = credentials?.salt ?? mockSalt(user);
      const iterations = credentials?.iterations ?? 4096;
      const outcome = await scramExchange(socket, input, salt, iterations, credentials?.candidates ?? []);
      if (outcome === undefined) return undefined;
      if (outcome === false) {
        failed();
        return undefined;
      }
      record = await runtime.store.getKey(outcome.keyId);
      if (!record || record.principal !== user) {
        failed();
        return undefined;
      }
      const refused = await refusal(runtime.store, record);
      if (refused) {
        // Only someone holding the real key or token can learn this.
        failed(refused.message);
        return undefined;
      }
      socket.write(authenticationSaslFinal(outcome.serverFinal));
    } else {
      if (!cleartextAllowed) {
        fatal(socket, {
          severity: 'FATAL',
          code: '28000',
          message: tlsLoaded
            ? 'Sluice accepts the API key (the password) from this address only over TLS'
            : 'Sluice accepts the API key (the password) only from loopback clients: TLS is not configured for this door',
          hint: tlsLoaded ? 'connect with sslmode=require (or verify-full with the door certificate)' : 'configure TLS for the postgres listener',
        });
        return undefined;
      }
      socket.write(authenticationCleartext());
      const frame = await input.frame();
      if (!frame) return undefined;
      if (frame.type !== TYPE.Password) {
        fatal(socket, { severity: 'FATAL', code: '08P01', message: 'expected a password message' });
        return undefined;
      }
      const key = readCString(frame.bytes, 5)[0];
      const check = await checkKey(runtime.store, key);
      if (!check.ok) {
        // Revoked and expired are only told to someone holding the real key.
        failed(check.reason === 'revoked' || check.reason === 'expired' ? check.message : undefined);
        return undefined;
      }
      if (check.record.principal !== user) {
        failed();
        return undefined;
      }
      record = check.record;
    }
    log.debug({ principal: user, credential: record.id, method: useScram ? 'scram-sha-256' : 'password' }, 'postgres door: authenticated');
    try {
      return { principal: principalFromKey(record, runtime.loaded.config.identities), credential: record };
    } catch (error) {
      if (error instanceof IdentityError) {
        fatal(socket, { severity: 'FATAL', code: '28000', message: error.message });
        return undefined;
      }
      throw error;
    }
  }

  /**
   * Runs a SCRAM-SHA-256 exchange. Returns the matching key id and the server-final-message,
   * false when the proof matches no candidate, undefined when the client was sent an error or left.
   */
  async function scramExchange(
    socket: net.Socket,
    input: SocketInput,
    salt: Buffer,
    iterations: number,
    candidates: ScramCredentials['candidates'],
  ): Promise<{ keyId: string; serverFinal: string } | false | undefined> {
    socket.write(authenticationSasl([SCRAM_MECHANISM]));
    const exchange = new ScramServer(salt, iterations, candidates.map((c) => ({ verifier: c.verifier, value: c.keyId })));
    try {
      const initial = await input.frame();
      if (!initial) return undefined;
      if (initial.type !== TYPE.Password) throw new ScramError('expected SASLInitialResponse');
      const [mechanism, after] = readCString(initial.bytes, 5);
      if (mechanism !== SCRAM_MECHANISM) throw new ScramError(`unsupported SASL mechanism ${mechanism}`);
      if (after + 4 > initial.bytes.length) throw new ScramError('truncated SASLInitialResponse');
      const length = initial.bytes.readInt32BE(after);
      if (length < 0 || after + 4 + length > initial.bytes.length) throw new ScramError('truncated SASLInitialResponse');
      socket.write(authenticationSaslContinue(exchange.first(initial.bytes.toString('utf8', after + 4, after + 4 + length))));
      const response = await input.frame();
      if (!response) return undefined;
      if (response.type !== TYPE.Password) throw new ScramError('expected SASLResponse');
      const final = exchange.final(response.bytes.toString('utf8', 5));
      return final ? { keyId: final.value, serverFinal: final.serverFinal } : false;
    } catch (error) {
      if (error instanceof ScramError) {
        fatal(socket, { severity: 'FATAL', code: '08P01', message: `SCRAM authentication failed: ${error.message}` });
        return undefined;
      }
      throw error;
    }
  }

  function mockSalt(user: string): Buffer {
    return createHmac('sha256', mockSecret).update(user, 'utf8').digest().subarray(0, 16);
  }

  function cancel(processId: number, secret: Buffer): void {
    const entry = registry.get(processId);
    // Compare even when unknown, so timing does not reveal which ids exist.
    const expected = entry?.secret ?? Buffer.alloc(4);
    const equal = timingSafeEqual(expected, secret);
    if (entry && equal) entry.session?.cancel();
  }

  await new Promise<void>((resolveListen, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(options.address.port, options.address.host, () => {
      server.removeListener('error', rejectListen);
      resolveListen();
    });
  });
  server.on('error', (error) => log.error({ err: error }, 'postgres door: listener error'));
  const bound = server.address() as net.AddressInfo;

  return {
    address: { host: options.address.host, port: bound.port },
    ...(tlsLoaded ? { tls: { ...(tlsLoaded.certFile ? { certFile: tlsLoaded.certFile } : {}), fingerprint256: tlsLoaded.fingerprint256, generated: tlsLoaded.generated } } : {}),
    get sessions() {
      return sessions.size;
    },
    async close() {
      closing = true;
      const closed = new Promise<void>((resolveClose) => server.close(() => resolveClose()));
      for (const session of sessions) {
        session.terminate({ severity: 'FATAL', code: '57P01', message: 'terminating connection due to administrator command (Sluice is stopping)' });
      }
      // Let the FATAL messages go out, then cut whatever is left.
      const deadline = Date.now() + 1000;
      while ([...sockets].some((s) => !s.destroyed && s.writableLength > 0) && Date.now() < deadline) {
        await new Promise((resolveWait) => setTimeout(resolveWait, 10));
      }
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

// ---------------------------------------------------------------------------------------

function upstreamSettings(name: string, c: PostgresConnectionConfig, baseDir: string, connectTimeoutMs: number): UpstreamSettings {
  const password = c.password ? resolveSecret(c.password, { baseDir, label: `connections.${name}.password` }) : undefined;
  const tlsSetting =
    c.ssl === false
      ? false
      : c.ssl === true
        ? { rejectUnauthorized: true }
        : { rejectUnauthorized: c.ssl.reject_unauthorized, ...(c.ssl.ca_file ? { ca: readFileSync(resolve(baseDir, c.ssl.ca_file), 'utf8') } : {}) };
  return {
    host: c.host,
    port: c.port,
    database: c.database,
    user: c.user,
    ...(password !== undefined ? { password } : {}),
    tls: tlsSetting,
    connectTimeoutMs,
    parameters: c.statement_timeout > 0 ? { statement_timeout: String(c.statement_timeout) } : {},
  };
}

function upstreamFailure(connection: string, error: unknown): ErrorFields {
  if (error instanceof UpstreamError) {
    switch (error.kind) {
      case 'auth':
        return {
          severity: 'FATAL',
          code: '08004',
          message: `the upstream database of connection "${connection}" refused Sluice's configured credentials`,
          detail: error.message,
          hint: "this is not about your API key: ask an operator to check the connection's user and password",
        };
      case 'server':
        return { severity: 'FATAL', code: error.sqlstate ?? '08006', message: `the upstream database of connection "${connection}": ${error.message}` };
      default:
        return { severity: 'FATAL', code: '08006', message: `Sluice cannot reach the upstream database of connection "${connection}": ${error.message}` };
    }
  }
  return { severity: 'FATAL', code: '08006', message: `Sluice cannot reach the upstream database of connection "${connection}": ${(error as Error).message}` };
}

function fatal(socket: net.Socket, fields: ErrorFields): void {
  if (socket.destroyed) return;
  socket.end(errorResponse(fields));
  setTimeout(() => socket.destroy(), 1000).unref();
}

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || /^127\.\d+\.\d+\.\d+$/.test(a);
}

function truncateUtf8(text: string, maxBytes: number): string {
  let out = text;
  while (Buffer.byteLength(out, 'utf8') > maxBytes) out = out.slice(0, -1);
  return out;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Reads startup packets and authentication messages from a socket during startup. */
class SocketInput {
  private buffer: Buffer = Buffer.alloc(0);
  private wake: (() => void) | undefined;
  private ended = false;
  private readonly frames = new FrameReader(64 * 1024);
  private readonly onData = (chunk: Buffer) => {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    this.wake?.();
  };
  private readonly onEnd = () => {
    this.ended = true;
    this.wake?.();
  };

  constructor(private readonly socket: net.Socket) {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
  }

  get buffered(): number {
    return this.buffer.length;
  }

  /** The next untyped startup packet; undefined when the client went away. */
  async startupPacket(): Promise<Buffer | undefined> {
    for (;;) {
      const got = readStartupPacket(this.buffer);
      if (got) {
        this.buffer = got.rest;
        return got.packet;
      }
      if (this.ended) return undefined;
      await this.more();
    }
  }

  /** The next typed message; undefined when the client went away. */
  async frame(): Promise<Frame | undefined> {
    for (;;) {
      if (this.buffer.length > 0) {
        this.frames.push(this.buffer);
        this.buffer = Buffer.alloc(0);
      }
      const frame = this.frames.next();
      if (frame) return frame;
      if (this.ended) return undefined;
      await this.more();
    }
  }

  /** Stops reading; returns what was received and not consumed. */
  detach(): Buffer {
    this.socket.removeListener('data', this.onData);
    this.socket.removeListener('end', this.onEnd);
    this.socket.removeListener('close', this.onEnd);
    this.socket.pause();
    const rest = Buffer.concat([this.frames.takeRest(), this.buffer]);
    this.buffer = Buffer.alloc(0);
    return rest;
  }

  private more(): Promise<void> {
    return new Promise((resolveMore) => {
      this.wake = () => {
        this.wake = undefined;
        resolveMore();
      };
    });
  }
}
