// Masking of result rows on the wire. The RowDescription names the columns; the admission's
// masking profile says which names are masked. A DataRow with no masked column never reaches
// this file (the relay forwards it untouched). For one that does, only the masked values are
// decoded and replaced; every other column is copied as a slice of the original bytes.
import type { CompiledMaskingProfile, MaskReport } from '../../masking/columns.js';
import type { ColumnDescription } from './protocol.js';

/**
 * Types whose binary send format is the text itself, so a masked text value can be sent in
 * binary format too: text, varchar, bpchar, name, unknown, json, xml (and citext-likes are
 * not built in). Any other masked column in binary format is sent as NULL.
 */
const TEXT_BINARY_TYPES = new Set([25, 1043, 1042, 19, 705, 114, 142]);

export interface ResultMask {
  profile: CompiledMaskingProfile;
  /** For each column: 0 untouched, 1 mask as text, 2 mask as NULL (binary of a non-text type). */
  plan: Uint8Array;
  /** Names of the masked columns. */
  columns: string[];
  /** Values replaced so far. */
  values: number;
  /** The last replacement text and its bytes (a redacting mask repeats one text). */
  lastText?: string;
  lastBytes?: Buffer;
}

/** The mask for a result with these columns, or undefined when no column is masked. */
export function planMask(profile: CompiledMaskingProfile, columns: readonly ColumnDescription[]): ResultMask | undefined {
  const plan = new Uint8Array(columns.length);
  const names: string[] = [];
  columns.forEach((column, i) => {
    if (!profile.matches(column.name)) return;
    plan[i] = column.format === 1 && !TEXT_BINARY_TYPES.has(column.typeOid) ? 2 : 1;
    names.push(column.name);
  });
  return names.length > 0 ? { profile, plan, columns: names, values: 0 } : undefined;
}

/**
 * Rewrites one DataRow frame (type byte included). Throws on a malformed row; the caller
 * then fails the statement rather than pass an unmasked value on. One pass finds the masked
 * values and their replacements, a second copies everything into one new buffer.
 */
export function maskDataRow(frame: Buffer, mask: ResultMask): Buffer {
  const count = frame.readInt16BE(5);
  const plan = mask.plan;
  // Positions of replaced values (start of the length word, end of the value) and the new bytes.
  let starts: number[] | undefined;
  let ends: number[] | undefined;
  let values: (Buffer | null)[] | undefined;
  let delta = 0;
  let pos = 7;
  for (let i = 0; i < count; i++) {
    if (pos + 4 > frame.length) throw new Error('truncated DataRow');
    const length = frame.readInt32BE(pos);
    const end = pos + 4 + (length > 0 ? length : 0);
    if (end > frame.length) throw new Error('truncated DataRow');
    const action = i < plan.length ? plan[i]! : 0;
    if (action !== 0 && length >= 0) {
      const value = action === 1 ? replacement(mask, frame, pos + 4, end) : null;
      (starts ??= []).push(pos);
      (ends ??= []).push(end);
      (values ??= []).push(value);
      delta += (value ? value.length : 0) - length;
      mask.values++;
    }
    pos = end;
  }
  if (!starts || !ends || !values) return frame;
  const out = Buffer.allocUnsafe(frame.length + delta);
  let from = 0;
  let to = 0;
  for (let k = 0; k < starts.length; k++) {
    to += frame.copy(out, to, from, starts[k]!);
    const value = values[k]!;
    out.writeInt32BE(value ? value.length : -1, to);
    to += 4;
    if (value) to += value.copy(out, to);
    from = ends[k]!;
  }
  to += frame.copy(out, to, from);
  out.writeInt32BE(to - 1, 1);
  return out;
}

/** The masked bytes for one value (null: send NULL). */
function replacement(mask: ResultMask, frame: Buffer, start: number, end: number): Buffer | null {
  const masked = mask.profile.mask(frame.toString('utf8', start, end));
  if (masked === null || masked === undefined) return null;
  const text = String(masked);
  if (text === mask.lastText) return mask.lastBytes!;
  const bytes = Buffer.from(text, 'utf8');
  mask.lastText = text;
  mask.lastBytes = bytes;
  return bytes;
}

/**
 * Collects a chunk's output in one buffer when rows are being masked: untouched bytes are
 * copied in, masked rows are written in directly; no buffer per row.
 */
export class Assembler {
  private buf: Buffer;
  length = 0;

  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }

  append(src: Buffer, start = 0, end = src.length): void {
    if (end <= start) return;
    this.ensure(end - start);
    this.length += src.copy(this.buf, this.length, start, end);
  }

  /**
   * Appends the DataRow at src[start, end) with its masked values replaced, in one pass.
   * Throws on a malformed row (the session is then closed; nothing partial is sent).
   */
  appendMasked(src: Buffer, start: number, end: number, mask: ResultMask): void {
    const plan = mask.plan;
    const count = (src[start + 5]! << 8) | src[start + 6]!;
    this.ensure(end - start + plan.length * 64);
    const rowStart = this.length;
    let from = start;
    let pos = start + 7;
    for (let i = 0; i < count; i++) {
      if (pos + 4 > end) throw new Error('truncated DataRow');
      const length = (src[pos]! << 24) | (src[pos + 1]! << 16) | (src[pos + 2]! << 8) | src[pos + 3]!;
      const next = pos + 4 + (length > 0 ? length : 0);
      if (next > end) throw new Error('truncated DataRow');
      if (i < plan.length && plan[i] !== 0 && length >= 0) {
        const value = plan[i] === 1 ? replacement(mask, src, pos + 4, next) : null;
        this.appendBytes(src, from, pos);
        const size = value ? value.length : -1;
        this.ensure(4 + (value ? value.length : 0));
        const b = this.buf;
        let at = this.length;
        b[at++] = size >>> 24;
        b[at++] = (size >>> 16) & 0xff;
        b[at++] = (size >>> 8) & 0xff;
        b[at++] = size & 0xff;
        this.length = at;
        if (value) this.appendBytes(value, 0, value.length);
        mask.values++;
        from = next;
      }
      pos = next;
    }
    this.appendBytes(src, from, end);
    const size = this.length - rowStart - 1;
    this.buf[rowStart + 1] = size >>> 24;
    this.buf[rowStart + 2] = (size >>> 16) & 0xff;
    this.buf[rowStart + 3] = (size >>> 8) & 0xff;
    this.buf[rowStart + 4] = size & 0xff;
  }

  /** Copies src[start, end) in; short runs byte by byte (cheaper than Buffer#copy's call). */
  private appendBytes(src: Buffer, start: number, end: number): void {
    const n = end - start;
    if (n <= 0) return;
    this.ensure(n);
    if (n > 48) {
      this.length += src.copy(this.buf, this.length, start, end);
      return;
    }
    const b = this.buf;
    let at = this.length;
    for (let i = start; i < end; i++) b[at++] = src[i]!;
    this.length = at;
  }

  take(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

export function maskReport(mask: ResultMask | undefined, into?: MaskReport): MaskReport | undefined {
  if (!mask || mask.values === 0) return into;
  const report = into ?? { columns: [], values: 0 };
  for (const c of mask.columns) if (!report.columns.includes(c)) report.columns.push(c);
  report.values += mask.values;
  return report;
}
