// PostgreSQL wire protocol (version 3.0) by hand: framing, the few messages the door has to
// build itself, and readers for the fields it has to look at. Everything else passes through
// as bytes. Reference: https://www.postgresql.org/docs/current/protocol-message-formats.html

export const PROTOCOL_3_0 = 196608; // 3 << 16
export const SSL_REQUEST = 80877103;
export const GSSENC_REQUEST = 80877104;
export const CANCEL_REQUEST = 80877102;

/** Largest startup packet accepted (PostgreSQL's own MAX_STARTUP_PACKET_LENGTH). */
export const MAX_STARTUP_PACKET = 10_000;

export class ProtocolError extends Error {
  constructor(
    message: string,
    readonly sqlstate = '08P01',
  ) {
    super(message);
    this.name = 'ProtocolError';
  }
}

// ---------------------------------------------------------------------------------------
// Framing

export interface Frame {
  /** Message type byte, e.g. 0x51 ('Q'). */
  type: number;
  /** The whole message: type byte, length, body. */
  bytes: Buffer;
}

/**
 * Cuts a byte stream into whole messages (type byte + int32 length + body). Frames that lie
 * inside one received chunk are returned as slices of it, without copying; a frame spread
 * over several chunks is joined once, when it is complete (no quadratic re-copying).
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  /** Read position inside chunks[0]. */
  private pos = 0;
  /** Bytes available across all chunks (from pos). */
  private available = 0;

  constructor(private readonly maxMessageSize: number) {}

  get buffered(): number {
    return this.available;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.available += chunk.length;
  }

  /** The next whole frame, or undefined when more bytes are needed. Throws ProtocolError. */
  next(): Frame | undefined {
    if (this.available < 5) return undefined;
    let first = this.chunks[0]!;
    if (first.length - this.pos < 5) {
      this.merge(5);
      first = this.chunks[0]!;
    }
    const type = first[this.pos]!;
    const length = first.readInt32BE(this.pos + 1);
    if (length < 4) throw new ProtocolError(`invalid message length ${length} for message type ${describeType(type)}`);
    if (length - 4 > this.maxMessageSize) {
      throw new ProtocolError(
        `message of type ${describeType(type)} is ${length - 4} bytes, more than the limit of ${this.maxMessageSize} bytes`,
        '54000',
      );
    }
    const total = length + 1;
    if (this.available < total) return undefined;
    if (first.length - this.pos < total) {
      this.merge(total);
      first = this.chunks[0]!;
    }
    const bytes = first.subarray(this.pos, this.pos + total);
    this.consume(total);
    return { type, bytes };
  }

  /** Bytes not yet returned as frames (e.g. data sent after an SSLRequest). */
  takeRest(): Buffer {
    const rest = Buffer.concat([this.chunks[0]?.subarray(this.pos) ?? Buffer.alloc(0), ...this.chunks.slice(1)]);
    this.chunks = [];
    this.pos = 0;
    this.available = 0;
    return rest;
  }

  private consume(n: number): void {
    this.available -= n;
    this.pos += n;
    while (this.chunks.length > 0 && this.pos >= this.chunks[0]!.length) {
      this.pos -= this.chunks[0]!.length;
      this.chunks.shift();
    }
  }

  /** Makes chunks[0] (from pos) hold at least n bytes. */
  private merge(n: number): void {
    const parts: Buffer[] = [];
    let have = 0;
    let i = 0;
    let pos = this.pos;
    while (have < n && i < this.chunks.length) {
      const c = this.chunks[i]!.subarray(pos);
      parts.push(c);
      have += c.length;
      i++;
      pos = 0;
    }
    const joined = Buffer.concat(parts);
    this.chunks.splice(0, i, joined);
    this.pos = 0;
  }
}

/**
 * Reads the untyped packets of the startup phase (int32 length, then body): SSLRequest,
 * GSSENCRequest, CancelRequest and StartupMessage.
 */
export function readStartupPacket(buffer: Buffer): { packet: Buffer; rest: Buffer } | undefined {
  if (buffer.length < 4) return undefined;
  const length = buffer.readInt32BE(0);
  if (length < 8 || length > MAX_STARTUP_PACKET) throw new ProtocolError(`invalid startup packet length ${length}`);
  if (buffer.length < length) return undefined;
  return { packet: buffer.subarray(0, length), rest: buffer.subarray(length) };
}

export interface StartupMessage {
  major: number;
  minor: number;
  parameters: Map<string, string>;
}

export function parseStartupMessage(packet: Buffer): StartupMessage {
  const code = packet.readInt32BE(4);
  const parameters = new Map<string, string>();
  let pos = 8;
  for (;;) {
    if (pos >= packet.length) throw new ProtocolError('startup packet is not terminated');
    if (packet[pos] === 0) break;
    const [key, afterKey] = readCString(packet, pos);
    const [value, afterValue] = readCString(packet, afterKey);
    parameters.set(key, value);
    pos = afterValue;
  }
  return { major: code >>> 16, minor: code & 0xffff, parameters };
}

/** Reads a NUL-terminated UTF-8 string at `pos`; returns it and the position after the NUL. */
export function readCString(buffer: Buffer, pos: number): [string, number] {
  const end = buffer.indexOf(0, pos);
  if (end < 0) throw new ProtocolError('string field is not terminated');
  return [buffer.toString('utf8', pos, end), end + 1];
}

export function describeType(type: number): string {
  return type >= 0x20 && type < 0x7f ? `'${String.fromCharCode(type)}'` : `0x${type.toString(16).padStart(2, '0')}`;
}

// ---------------------------------------------------------------------------------------
// Building messages

/** A message of `type` with the given body. */
export function message(type: number | string, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = typeof type === 'string' ? type.charCodeAt(0) : type;
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}

function int32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeInt32BE(n, 0);
  return b;
}

function cstring(s: string): Buffer {
  return Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);
}

export function authenticationOk(): Buffer {
  return message('R', int32(0));
}

export function authenticationCleartext(): Buffer {
  return message('R', int32(3));
}

export function authenticationSasl(mechanisms: string[]): Buffer {
  return message('R', Buffer.concat([int32(10), ...mechanisms.map(cstring), Buffer.from([0])]));
}

export function authenticationSaslContinue(data: string): Buffer {
  return message('R', Buffer.concat([int32(11), Buffer.from(data, 'utf8')]));
}

export function authenticationSaslFinal(data: string): Buffer {
  return message('R', Buffer.concat([int32(12), Buffer.from(data, 'utf8')]));
}

export function parameterStatus(name: string, value: string): Buffer {
  return message('S', Buffer.concat([cstring(name), cstring(value)]));
}

export function backendKeyData(processId: number, secretKey: number): Buffer {
  const body = Buffer.allocUnsafe(8);
  body.writeInt32BE(processId, 0);
  body.writeInt32BE(secretKey, 4);
  return message('K', body);
}

export function readyForQuery(status: number): Buffer {
  return message('Z', Buffer.from([status]));
}

export function negotiateProtocolVersion(minor: number, unsupported: string[]): Buffer {
  return message('v', Buffer.concat([int32(PROTOCOL_3_0 | minor), int32(unsupported.length), ...unsupported.map(cstring)]));
}

/** A simple-protocol Query message. */
export function query(text: string): Buffer {
  return message('Q', cstring(text));
}

/** A Parse message for the unnamed statement. */
export function parse(text: string): Buffer {
  return message('P', Buffer.concat([Buffer.from([0]), cstring(text), Buffer.from([0, 0])]));
}

/** A Describe message: kind 'S' (statement) or 'P' (portal). */
export function describe(kind: 'S' | 'P', name: string): Buffer {
  return message('D', Buffer.concat([Buffer.from(kind), cstring(name)]));
}

export function terminate(): Buffer {
  return message('X', Buffer.alloc(0));
}

export function startupMessage(parameters: Record<string, string>): Buffer {
  const parts: Buffer[] = [int32(0), int32(PROTOCOL_3_0)];
  for (const [key, value] of Object.entries(parameters)) parts.push(cstring(key), cstring(value));
  parts.push(Buffer.from([0]));
  const out = Buffer.concat(parts);
  out.writeInt32BE(out.length, 0);
  return out;
}

export function sslRequest(): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeInt32BE(8, 0);
  b.writeInt32BE(SSL_REQUEST, 4);
  return b;
}

export function cancelRequest(processId: number, secretKey: number): Buffer {
  const b = Buffer.allocUnsafe(16);
  b.writeInt32BE(16, 0);
  b.writeInt32BE(CANCEL_REQUEST, 4);
  b.writeInt32BE(processId, 8);
  b.writeInt32BE(secretKey, 12);
  return b;
}

export function passwordMessage(password: string | Buffer): Buffer {
  return message('p', typeof password === 'string' ? cstring(password) : password);
}

export function saslInitialResponse(mechanism: string, data: string): Buffer {
  const payload = Buffer.from(data, 'utf8');
  return message('p', Buffer.concat([cstring(mechanism), int32(payload.length), payload]));
}

export function saslResponse(data: string): Buffer {
  return message('p', Buffer.from(data, 'utf8'));
}

// ---------------------------------------------------------------------------------------
// Errors and notices

/** Fields of an ErrorResponse or NoticeResponse, by their one-letter codes. */
export interface ErrorFields {
  /** Severity: ERROR, FATAL, PANIC (errors); WARNING, NOTICE, INFO, LOG, DEBUG (notices). */
  severity: string;
  /** SQLSTATE code. */
  code: string;
  message: string;
  detail?: string;
  hint?: string;
}

function fieldsBody(fields: ErrorFields): Buffer {
  const parts: Buffer[] = [];
  const add = (code: string, value: string | undefined) => {
    if (value !== undefined) parts.push(Buffer.from(code), cstring(value));
  };
  add('S', fields.severity);
  add('V', fields.severity);
  add('C', fields.code);
  add('M', fields.message);
  add('D', fields.detail);
  add('H', fields.hint);
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

export function errorResponse(fields: ErrorFields): Buffer {
  return message('E', fieldsBody(fields));
}

export function noticeResponse(fields: ErrorFields): Buffer {
  return message('N', fieldsBody(fields));
}

/** Field code → value of an ErrorResponse or NoticeResponse message (whole frame). */
export function parseErrorFields(frame: Buffer): Map<string, string> {
  const fields = new Map<string, string>();
  let pos = 5;
  while (pos < frame.length && frame[pos] !== 0) {
    const code = String.fromCharCode(frame[pos]!);
    const end = frame.indexOf(0, pos + 1);
    if (end < 0) break;
    fields.set(code, frame.toString('utf8', pos + 1, end));
    pos = end + 1;
  }
  return fields;
}

/**
 * An ErrorResponse rebuilt from its parsed fields without DETAIL and with its message (M)
 * passed through `rewrite` (given the SQLSTATE): what the client gets while masking applies.
 */
export function redactedError(fields: ReadonlyMap<string, string>, rewrite: (code: string | undefined, message: string) => string): Buffer {
  const parts: Buffer[] = [];
  for (const [type, value] of fields) {
    if (type === 'D') continue;
    const text = type === 'M' ? rewrite(fields.get('C'), value) : value;
    parts.push(Buffer.from(type, 'latin1'), Buffer.from(text, 'utf8'), Buffer.from([0]));
  }
  parts.push(Buffer.from([0]));
  return message(0x45 /* E */, Buffer.concat(parts));
}

// ---------------------------------------------------------------------------------------
// Reading frontend messages the door looks into

/** Query: the SQL text. */
export function queryText(frame: Buffer): string {
  return readCString(frame, 5)[0];
}

/** Parse: statement name and SQL text. */
export function parseMessage(frame: Buffer): { name: string; text: string } {
  const [name, afterName] = readCString(frame, 5);
  const [text] = readCString(frame, afterName);
  return { name, text };
}

/** Bind: portal and statement names (parameters are not looked at). */
export function bindNames(frame: Buffer): { portal: string; statement: string } {
  const [portal, afterPortal] = readCString(frame, 5);
  const [statement] = readCString(frame, afterPortal);
  return { portal, statement };
}

/** Bind: the result-column format codes (0 text, 1 binary); [] means all text. */
export function bindResultFormats(frame: Buffer): number[] {
  let pos = readCString(frame, readCString(frame, 5)[1])[1];
  const nFormats = frame.readInt16BE(pos);
  pos += 2 + 2 * nFormats;
  const nParams = frame.readInt16BE(pos);
  pos += 2;
  for (let i = 0; i < nParams; i++) {
    const len = frame.readInt32BE(pos);
    pos += 4 + (len > 0 ? len : 0);
  }
  const nResults = frame.readInt16BE(pos);
  pos += 2;
  const out: number[] = [];
  for (let i = 0; i < nResults; i++) out.push(frame.readInt16BE(pos + 2 * i));
  return out;
}

/** Describe or Close: kind ('S' or 'P') and name. */
export function targetOf(frame: Buffer): { kind: 'S' | 'P'; name: string } {
  const kind = frame[5] === 0x53 ? 'S' : 'P';
  return { kind, name: readCString(frame, 6)[0] };
}

/** Execute: portal name. */
export function executePortal(frame: Buffer): string {
  return readCString(frame, 5)[0];
}

// ---------------------------------------------------------------------------------------
// Reading backend messages the door looks into

export interface ColumnDescription {
  name: string;
  typeOid: number;
  /** 0 text, 1 binary. */
  format: number;
}

/** RowDescription: the columns. */
export function parseRowDescription(frame: Buffer): ColumnDescription[] {
  const count = frame.readInt16BE(5);
  const columns: ColumnDescription[] = [];
  let pos = 7;
  for (let i = 0; i < count; i++) {
    const [name, after] = readCString(frame, pos);
    // table oid (4), column attnum (2), type oid (4), type size (2), type modifier (4), format (2)
    const typeOid = frame.readUInt32BE(after + 6);
    const format = frame.readInt16BE(after + 16);
    columns.push({ name, typeOid, format });
    pos = after + 18;
  }
  return columns;
}

/** CommandComplete: the tag text, e.g. `SELECT 3`, `INSERT 0 1`. */
export function commandTag(frame: Buffer): string {
  return readCString(frame, 5)[0];
}

/** The row count at the end of a command tag (`UPDATE 4` → 4), if any. */
export function tagRowCount(tag: string): number | undefined {
  const space = tag.lastIndexOf(' ');
  if (space < 0) return undefined;
  const n = Number(tag.slice(space + 1));
  return Number.isInteger(n) ? n : undefined;
}

/** The tag without its counts (`INSERT 0 1` → `INSERT`). */
export function tagName(tag: string): string {
  return tag.replace(/( \d+)+$/, '');
}

export const TYPE = {
  // Frontend
  Query: 0x51, // Q
  Parse: 0x50, // P
  Bind: 0x42, // B
  Describe: 0x44, // D (frontend)
  Execute: 0x45, // E (frontend)
  Sync: 0x53, // S (frontend)
  Flush: 0x48, // H (frontend)
  Close: 0x43, // C (frontend)
  FunctionCall: 0x46, // F
  Terminate: 0x58, // X
  Password: 0x70, // p
  CopyData: 0x64, // d (both)
  CopyDone: 0x63, // c (both)
  CopyFail: 0x66, // f
  // Backend
  Authentication: 0x52, // R
  ParameterStatus: 0x53, // S
  BackendKeyData: 0x4b, // K
  ReadyForQuery: 0x5a, // Z
  ErrorResponse: 0x45, // E
  NoticeResponse: 0x4e, // N
  NotificationResponse: 0x41, // A
  RowDescription: 0x54, // T
  DataRow: 0x44, // D
  CommandComplete: 0x43, // C
  EmptyQueryResponse: 0x49, // I
  ParseComplete: 0x31, // 1
  BindComplete: 0x32, // 2
  CloseComplete: 0x33, // 3
  NoData: 0x6e, // n
  ParameterDescription: 0x74, // t
  PortalSuspended: 0x73, // s
  CopyInResponse: 0x47, // G
  CopyOutResponse: 0x48, // H
  CopyBothResponse: 0x57, // W
  FunctionCallResponse: 0x56, // V
  NegotiateProtocolVersion: 0x76, // v
} as const;

/** Transaction status bytes of ReadyForQuery. */
export const TX = { idle: 0x49, inBlock: 0x54, failed: 0x45 } as const;
