// Reading a canonical audit body without parsing it into objects (this runs for every record a
// verify checks). An export line (verify-jsonl.ts) ends with `,"body":<the stored canonical
// body>}`: when that body text is canonical JSON as it stands, it is exactly what parsing the
// line and encoding the body canonically gives, so it is hashed as it is, not parsed and encoded
// again. For a stored body (recordChecks) only the fields the checks read are taken. The scan
// accepts only text it can tell is canonical (a subset: no \u escapes, no lone surrogates, no
// deep nesting); anything else takes the full way, which gives the same outcome, only slower.
import type { Body } from './verify-record.js';
import type { AuditRow } from '../store/store.js';

const BODY_KEY = ',"body":{';
/** What makes a string need a look at each character: escapes, control characters, surrogates. */
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const NEEDS_CARE = /[\\\u0000-\u001f\ud800-\udfff]/;
/** Deeper than this is left to the full way (canonicalJson refuses 64). */
const MAX_DEPTH = 32;

/**
 * The fields recordChecks reads of a body text (an object with only those), when the text is
 * canonical JSON within the subset the scan checks; otherwise undefined.
 */
export function bodyFields(text: string): Body | undefined {
  const fields: Body = {};
  const scan = new Scan(text, fields, !NEEDS_CARE.test(text));
  return scan.object(0) && scan.pos === text.length ? fields : undefined;
}

/**
 * The line's row with `body` set to the body's canonical text, and the body fields
 * recordChecks reads (an object with only those: enough for recordChecks, not for the
 * checkpoint checks). Undefined when the line must take the full way.
 */
export function quickLine(line: string): { row: AuditRow; fields: Body } | undefined {
  const at = line.indexOf(BODY_KEY);
  if (at === -1 || line.charCodeAt(line.length - 1) !== 0x7d) return undefined;
  // The head's strings end at the next quote when nothing before the body needs care.
  const row = lineHead(line, at, !NEEDS_CARE.test(line.slice(0, at)));
  if (row === undefined) return undefined;
  const text = line.slice(at + BODY_KEY.length - 1, line.length - 1);
  const fields = bodyFields(text);
  if (fields === undefined) return undefined;
  row.body = text;
  return { row, fields };
}

/** The columns an export line has before its body (parseJsonlLine's): seq, four required strings, the optional ones. */
const HEAD_KEYS = ['seq', 'time', 'kind', 'prevHash', 'hash', 'actionId', 'session', 'principal', 'connection', 'effect'] as const;
/** HEAD_KEYS from this index on are optional (absent or null). */
const FIRST_OPTIONAL = 5;

/** The index in HEAD_KEYS of the key line[start..end), or -1. Compared in place: this runs per line. */
function headKey(line: string, start: number, end: number): number {
  switch (end - start) {
    case 3:
      return line.startsWith('seq', start) ? 0 : -1;
    case 4:
      return line.startsWith('time', start) ? 1 : line.startsWith('kind', start) ? 2 : line.startsWith('hash', start) ? 4 : -1;
    case 6:
      return line.startsWith('effect', start) ? 9 : -1;
    case 7:
      return line.startsWith('session', start) ? 6 : -1;
    case 8:
      return line.startsWith('prevHash', start) ? 3 : line.startsWith('actionId', start) ? 5 : -1;
    case 9:
      return line.startsWith('principal', start) ? 7 : -1;
    case 10:
      return line.startsWith('connection', start) ? 8 : -1;
    default:
      return -1;
  }
}

/**
 * The row of an export line whose members before the body (line[0..end)) are the export's
 * columns, each once, without whitespace or escapes, exactly as parseJsonlLine would read
 * them. The body being the line's last member (`,"body":` at `end`, `}` at the end), the line
 * is then valid JSON with these members and that body. Undefined for anything else.
 */
function lineHead(line: string, end: number, simple: boolean): AuditRow | undefined {
  if (line.charCodeAt(0) !== 0x7b) return undefined;
  // By HEAD_KEYS index; `seen` has bit k once key k was read (a key twice is refused).
  const v: (string | number | null)[] = new Array<string | number | null>(HEAD_KEYS.length);
  let seen = 0;
  // `simple` covers line[0..end) only: a string running past `end` leaves the scan past it,
  // which is refused below before its text is used.
  const scan = new Scan(line, NO_FIELDS, simple);
  scan.pos = 1;
  for (;;) {
    const start = scan.pos + 1;
    if (line.charCodeAt(scan.pos) !== 0x22 || scan.string() !== 0) return undefined;
    const k = headKey(line, start, scan.pos - 1);
    if (k === -1 || line.charCodeAt(scan.pos) !== 0x3a || (seen & (1 << k)) !== 0) return undefined;
    seen |= 1 << k;
    scan.pos += 1;
    const c = line.charCodeAt(scan.pos);
    if (c === 0x22) {
      const from = scan.pos + 1;
      if (scan.string() !== 0) return undefined;
      v[k] = line.slice(from, scan.pos - 1);
    } else if (c === 0x6e && line.startsWith('null', scan.pos)) {
      scan.pos += 4;
      v[k] = null;
    } else {
      const n = scan.number();
      if (n === undefined) return undefined;
      v[k] = n;
    }
    if (scan.pos === end) break;
    if (line.charCodeAt(scan.pos) !== 0x2c || scan.pos > end) return undefined;
    scan.pos += 1;
  }
  const [seq, time, kind, prevHash, hash] = v;
  if (typeof seq !== 'number' || typeof time !== 'string' || typeof kind !== 'string' || typeof prevHash !== 'string' || typeof hash !== 'string') return undefined;
  const row: AuditRow = { seq, time, kind, prevHash, hash, body: '' };
  for (let k = FIRST_OPTIONAL; k < HEAD_KEYS.length; k++) {
    const c = v[k];
    if (c === undefined || c === null) continue;
    if (typeof c !== 'string') return undefined;
    (row as unknown as Record<string, string>)[HEAD_KEYS[k]!] = c;
  }
  return row;
}

/** The fields object of a scan that keeps none (lineHead reads the line's head only). */
const NO_FIELDS: Body = Object.freeze({}) as Body;

/**
 * A scanner that says whether JSON text is canonical (canonical.ts): no whitespace, object keys
 * strictly ascending in UTF-16 order, strings and numbers written as JSON.stringify writes
 * them. False also for text that is canonical but outside the subset it checks. It slices out
 * nothing but the body fields recordChecks reads (this runs for every record).
 */
class Scan {
  pos = 0;

  constructor(
    private readonly s: string,
    private readonly fields: Body,
    /** The text has no backslash, control character or surrogate: a string ends at the next quote. */
    private readonly simple: boolean,
  ) {}

  object(depth: number): boolean {
    const s = this.s;
    if (s.charCodeAt(this.pos) !== 0x7b || depth > MAX_DEPTH) return false;
    this.pos += 1;
    if (s.charCodeAt(this.pos) === 0x7d) {
      this.pos += 1;
      return true;
    }
    let previous = -1; // where the previous key's characters start
    let previousEnd = -1;
    for (;;) {
      // A key: a string without escapes (the escape scan says -1).
      const start = this.pos + 1;
      if (s.charCodeAt(this.pos) !== 0x22 || this.string() !== 0) return false;
      const end = this.pos - 1;
      // Strictly ascending: sorted as canonicalJson sorts, and no key twice.
      if (previous !== -1 && !this.before(previous, previousEnd, start, end)) return false;
      previous = start;
      previousEnd = end;
      if (s.charCodeAt(this.pos) !== 0x3a) return false;
      this.pos += 1;
      if (depth === 0) {
        const field = fieldAt(s, start, end);
        if (field !== undefined) {
          if (!this.field(field)) return false;
        } else if (!this.knownValue()) {
          const from = this.pos;
          if (!this.value(1)) return false;
          rememberValue(s, from, this.pos);
        }
      } else if (!this.value(depth + 1)) return false;
      const c = s.charCodeAt(this.pos++);
      if (c === 0x7d) return true;
      if (c !== 0x2c) return false;
    }
  }

  /**
   * Whether the value at `pos` (of a top-level member) is the text of one found canonical
   * lately, at the same depth; then `pos` is just after it. A JSON value ends where its text
   * does, so a value whose text starts with such a text is that value; the records of a chain
   * repeat most of their nested members (an intent, a detail), which are then not scanned again.
   */
  private knownValue(): boolean {
    const s = this.s;
    const c = s.charCodeAt(this.pos);
    if (c !== 0x7b && c !== 0x5b) return false;
    const at = this.pos;
    for (let i = 0; i < knownValues.length; i++) {
      const known = knownValues[i]!;
      const end = at + known.length;
      // The cheap tests first: the same closing bracket, then a member's end; a slice compared
      // with === is a native comparison (startsWith goes character by character).
      if (s.charCodeAt(end - 1) !== known.charCodeAt(known.length - 1) || (s.charCodeAt(end) !== 0x2c && s.charCodeAt(end) !== 0x7d)) continue;
      if (s.slice(at, end) === known) {
        this.pos = end;
        return true;
      }
    }
    return false;
  }

  /** Whether s[a..aEnd) sorts strictly before s[b..bEnd) (UTF-16 code units, as `<` on strings). */
  private before(a: number, aEnd: number, b: number, bEnd: number): boolean {
    const s = this.s;
    for (; a < aEnd && b < bEnd; a++, b++) {
      const x = s.charCodeAt(a);
      const y = s.charCodeAt(b);
      if (x !== y) return x < y;
    }
    return a === aEnd && b < bEnd;
  }

  private array(depth: number): boolean {
    const s = this.s;
    if (depth > MAX_DEPTH) return false;
    this.pos += 1;
    if (s.charCodeAt(this.pos) === 0x5d) {
      this.pos += 1;
      return true;
    }
    for (;;) {
      if (!this.value(depth + 1)) return false;
      const c = s.charCodeAt(this.pos++);
      if (c === 0x5d) return true;
      if (c !== 0x2c) return false;
    }
  }

  private value(depth: number): boolean {
    const c = this.s.charCodeAt(this.pos);
    if (c === 0x22) return this.string() !== -1;
    if (c === 0x7b) return this.object(depth);
    if (c === 0x5b) return this.array(depth);
    if (c === 0x74) return this.word('true');
    if (c === 0x66) return this.word('false');
    if (c === 0x6e) return this.word('null');
    return this.number() !== undefined;
  }

  /** A top-level field recordChecks reads: a string without escapes or a number, kept. */
  private field(key: string): boolean {
    let v: string | number | undefined;
    if (this.s.charCodeAt(this.pos) === 0x22) {
      const start = this.pos + 1;
      if (this.string() !== 0) return false;
      v = this.s.slice(start, this.pos - 1);
    } else {
      v = this.number();
      if (v === undefined) return false;
    }
    this.fields[key] = v;
    return true;
  }

  private word(w: string): boolean {
    if (!this.s.startsWith(w, this.pos)) return false;
    this.pos += w.length;
    return true;
  }

  /** A number written as JSON.stringify writes it (its shortest round-trip form). */
  number(): number | undefined {
    const s = this.s;
    const start = this.pos;
    let end = start;
    let digitsOnly = true;
    for (;;) {
      const c = s.charCodeAt(end);
      if (c >= 0x30 && c <= 0x39) end += 1;
      else if (c === 0x2d || c === 0x2b || c === 0x2e || c === 0x65 || c === 0x45) {
        end += 1;
        digitsOnly = false;
      } else break;
    }
    if (end === start) return undefined;
    const token = s.slice(start, end);
    const n = Number(token);
    // Plain integers without a leading zero are their own form; anything else must be.
    if (!(digitsOnly && end - start <= 15 && (s.charCodeAt(start) !== 0x30 || end - start === 1))) {
      if (!Number.isFinite(n) || String(n) !== token) return undefined;
    }
    this.pos = end;
    return n;
  }

  /**
   * A string (at `pos`, which is its opening quote) as JSON.stringify writes it: the escapes it
   * uses for `"`, `\` and the control characters with a short form; other control characters
   * (\u00XX), lone surrogates and any other escape are left to the full way. Returns -1 for
   * those, 1 when it has escapes, 0 when not; `pos` is then just after it.
   */
  string(): number {
    const s = this.s;
    if (this.simple) {
      const end = s.indexOf('"', this.pos + 1);
      if (end === -1) return -1;
      this.pos = end + 1;
      return 0;
    }
    let i = this.pos + 1;
    let escaped = 0;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 0x22) break;
      if (c !== c || c < 0x20) return -1; // the end of the text, or a raw control character
      if (c === 0x5c) {
        const e = s.charCodeAt(i + 1);
        // \" \\ \b \f \n \r \t
        if (e !== 0x22 && e !== 0x5c && e !== 0x62 && e !== 0x66 && e !== 0x6e && e !== 0x72 && e !== 0x74) return -1;
        escaped = 1;
        i += 2;
        continue;
      }
      if (c >= 0xd800 && c <= 0xdfff) {
        // Only a high surrogate followed by a low one (a pair) is written as it is.
        const low = s.charCodeAt(i + 1);
        if (c > 0xdbff || !(low >= 0xdc00 && low <= 0xdfff)) return -1;
        i += 2;
        continue;
      }
      i += 1;
    }
    this.pos = i + 1;
    return escaped;
  }
}

/**
 * Texts of nested values of top-level members that the scan found canonical, the latest
 * KNOWN_VALUES of them (each thread has its own). Only objects and arrays long enough that
 * comparing beats scanning. A slice keeps the text it was cut from alive: at most KNOWN_VALUES
 * of those (bodies, or an export's batches of 512 KiB), a bounded cost.
 */
const knownValues: string[] = [];
const KNOWN_VALUES = 8;
const KNOWN_MIN_LENGTH = 16;
let knownNext = 0;

function rememberValue(s: string, from: number, to: number): void {
  const c = s.charCodeAt(from);
  if (to - from < KNOWN_MIN_LENGTH || (c !== 0x7b && c !== 0x5b)) return;
  knownValues[knownNext] = s.slice(from, to);
  knownNext = (knownNext + 1) % KNOWN_VALUES;
}

/** Body fields recordChecks looks at (the format version, the seq and the search columns), by length. */
const FIELDS_BY_LENGTH: string[][] = [];
for (const f of ['v', 'seq', 'time', 'kind', 'actionId', 'session', 'principal', 'connection', 'effect']) (FIELDS_BY_LENGTH[f.length] ??= []).push(f);

/** The field named by s[start..end), if recordChecks reads it. */
function fieldAt(s: string, start: number, end: number): string | undefined {
  const candidates = FIELDS_BY_LENGTH[end - start];
  if (candidates === undefined) return undefined;
  for (const f of candidates) if (s.startsWith(f, start)) return f;
  return undefined;
}
