// Masking of result rows on the wire. The RowDescription names the columns; the admission's
// masking profile says which are masked whole (by name) and, when it has content detectors,
// which text columns are scanned. A DataRow with no masked column never reaches this file
// (the relay forwards it untouched). For one that does, only the masked or scanned values are
// decoded; every other column, and every scanned value without a finding, is copied as a
// slice of the original bytes.
import { mergeMaskedValues, newTally, reportOf, type ColumnMasker, type CompiledMaskingProfile, type MaskReport, type Tally } from '../../masking/columns.js';
import type { ColumnDescription } from './protocol.js';

/**
 * Types whose binary send format is the text itself, so a masked text value can be sent in
 * binary format too: text, varchar, bpchar, name, unknown, json, xml (and citext-likes are
 * not built in). Any other masked column in binary format is sent as NULL.
 */
const TEXT_BINARY_TYPES = new Set([25, 1043, 1042, 19, 705, 114, 142]);

/**
 * Types whose text form cannot hold a sensitive value (booleans, small integers, floats,
 * dates and times, uuid, bytea's hex): never scanned. int8 and numeric are (card numbers).
 */
const NOT_SCANNED = new Set([16, 17, 18, 21, 23, 26, 28, 29, 700, 701, 1082, 1083, 1114, 1184, 1186, 1266, 2950, 3220]);

/** Plan codes per column. */
const UNTOUCHED = 0;
const WHOLE = 1;
const NULLED = 2;
const SCAN = 3;

export interface ResultMask {
  profile: CompiledMaskingProfile;
  /** For each column: 0 untouched, 1 mask whole as text, 2 mask as NULL (binary of a non-text type), 3 scan the text. */
  plan: Uint8Array;
  /** The masker of each planned column. */
  maskers: (ColumnMasker | undefined)[];
  /** Names of the columns masked whole. */
  columns: string[];
  /** Names of all columns, to report the scanned ones that had findings. */
  names: string[];
  /** Indexes of scanned columns where something was found. */
  found: Set<number>;
  tally: Tally;
  /** The last replacement text and its bytes (a redacting mask repeats one text). */
  lastText?: string;
  lastBytes?: Buffer;
}

/** The mask for a result with these columns, or undefined when no column is masked or scanned. */
export function planMask(profile: CompiledMaskingProfile, columns: readonly ColumnDescription[]): ResultMask | undefined {
  const plan = new Uint8Array(columns.length);
  const maskers: (ColumnMasker | undefined)[] = new Array<ColumnMasker | undefined>(columns.length);
  const names: string[] = [];
  let any = false;
  columns.forEach((column, i) => {
    const masker = profile.column(column.name);
    if (!masker) return;
    const textual = column.format === 0 || TEXT_BINARY_TYPES.has(column.typeOid);
    if (masker.kind === 'whole') {
      plan[i] = textual ? WHOLE : NULLED;
      names.push(column.name);
    } else if (textual && !NOT_SCANNED.has(column.typeOid)) {
      plan[i] = SCAN;
    } else {
      return;
    }
    maskers[i] = masker;
    any = true;
  });
  if (!any) return undefined;
  return { profile, plan, maskers, columns: names, names: columns.map((column) => column.name), found: new Set(), tally: newTally() };
}

/** Sentinel: a scanned value had no finding and is copied as it was. */
const KEEP = Buffer.alloc(0);

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
    const action = i < plan.length ? plan[i]! : UNTOUCHED;
    if (action !== UNTOUCHED && length >= 0) {
      const value = action === NULLED ? nulled(mask) : replacement(mask, i, action, frame, pos + 4, end);
      if (value !== KEEP) {
        (starts ??= []).push(pos);
        (ends ??= []).push(end);
        (values ??= []).push(value);
        delta += (value ? value.length : 0) - length;
      }
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

function nulled(mask: ResultMask): null {
  mask.tally.values++;
  return null;
}

/** The masked bytes for one value (null: send NULL; KEEP: unchanged). */
function replacement(mask: ResultMask, column: number, action: number, frame: Buffer, start: number, end: number): Buffer | null {
  const masker = mask.maskers[column]!;
  const original = frame.toString('utf8', start, end);
  const masked = masker.maskText(original, mask.tally);
  if (action === SCAN) {
    if (masked === original) return KEEP;
    mask.found.add(column);
  }
  if (masked === null) return null;
  if (masked === mask.lastText) return mask.lastBytes!;
  const bytes = Buffer.from(masked, 'utf8');
  mask.lastText = masked;
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
      const action = i < plan.length ? plan[i]! : UNTOUCHED;
      if (action !== UNTOUCHED && length >= 0) {
        const value = action === NULLED ? nulled(mask) : replacement(mask, i, action, src, pos + 4, next);
        if (value === KEEP) {
          pos = next;
          continue;
        }
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
  if (!mask) return into;
  const tally = mask.tally;
  if (tally.values === 0 && tally.errors === 0) return into;
  const columns = [...mask.columns];
  for (const i of [...mask.found].sort((a, b) => a - b)) if (!columns.includes(mask.names[i]!)) columns.push(mask.names[i]!);
  const add = reportOf(columns, tally);
  // The mask is reported once: later calls for the same result add nothing.
  mask.tally = newTally();
  mask.found.clear();
  if (!into) return add;
  mergeMaskedValues(into, add);
  for (const c of add.columns) if (!into.columns.includes(c)) into.columns.push(c);
  into.values += add.values;
  if (add.types) {
    const types = (into.types ??= {});
    for (const [type, n] of Object.entries(add.types)) types[type] = (types[type] ?? 0) + n;
  }
  if (add.errors) into.errors = (into.errors ?? 0) + add.errors;
  return into;
}
