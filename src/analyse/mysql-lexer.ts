// MySQL/MariaDB lexing the way the server does it, before any grammar sees the text.
//
// The grammar we use (sqlparser-rs) is not the server's, so everything on which the two could
// disagree is settled here, following the server's lexer (sql_lex.cc):
// - comments: `#` to the end of the line, `-- ` only when the dashes are followed by a
//   space or control character (`1--1` is arithmetic), `/* */` without nesting;
// - version comments `/*!NNNNN ... */` and MariaDB's `/*M!NNNNNN ... */`, whose content the
//   server runs as code when its version is high enough and skips otherwise;
// - string and identifier boundaries, which depend on the session's sql_mode
//   (NO_BACKSLASH_ESCAPES, ANSI_QUOTES) and on MySQL 9's `$tag$` quoting;
// - statement boundaries (`;` outside strings and comments).
// The output is one statement at a time, rewritten for the grammar: comments become a space,
// executed version comments become their content, strings and identifiers are re-quoted in
// one unambiguous form, and `--` that is not a comment is split so no parser can read one.

export type Flavor = 'mariadb' | 'mysql';

/** How one server build treats version comments and quoting. */
export interface ServerProfile {
  flavor: Flavor;
  /** The version the server compares comments with: 101106 is MariaDB 10.11.6, 80036 MySQL 8.0.36. */
  version: number;
  /** MySQL 8.4+ reads `/*!` + 6 digits + whitespace as a 6-digit version; older MySQL reads 5 digits. */
  sixDigit: boolean;
  /** MySQL 9 reads `$tag$ ... $tag$` as a string. */
  dollarQuotes: boolean;
}

/** The parts of sql_mode that change where strings and identifiers end. */
export interface SqlMode {
  /** Backslash escapes in strings; off under NO_BACKSLASH_ESCAPES. */
  backslashEscapes: boolean;
  /** `"..."` is an identifier (ANSI_QUOTES, also implied by ANSI and similar modes). */
  ansiQuotes: boolean;
}

export const DEFAULT_SQL_MODE: Readonly<SqlMode> = Object.freeze({ backslashEscapes: true, ansiQuotes: false });

export interface LexedStatement {
  /** The statement rewritten for the grammar (see the header); may be only whitespace. */
  code: string;
  /** Offset in the input just past this statement (after its `;`). */
  end: number;
  /** The result depended on sql_mode: a backslash inside a string, or a `"` token. */
  modeSensitive: boolean;
}

export interface LexError {
  error: string;
  /** Offset where lexing stopped. */
  end: number;
  /**
   * The server certainly rejects the statement here (an unterminated quote or comment), so
   * nothing from this statement on runs. Other errors mean the reading is uncertain.
   */
  rejected?: boolean;
}

export function isLexError(x: LexedStatement | LexError): x is LexError {
  return (x as LexError).error !== undefined;
}

const SQUOTE = 39;
const DQUOTE = 34;
const BACKTICK = 96;

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** my_isspace of the server for ASCII: space, \t, \n, \v, \f, \r. */
function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

/** Characters of unquoted identifiers (the server also accepts every non-ASCII character). */
export function isIdentChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || isDigit(c) || c === 95 || c === 36 || c >= 128;
}

/** Re-quote a string value so that the grammar reads exactly this value back. */
export function quoteString(value: string): string {
  let needs = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === SQUOTE || c === 92) {
      needs = true;
      break;
    }
  }
  return needs ? `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'` : `'${value}'`;
}

export function quoteIdent(value: string): string {
  return `\`${value.replace(/`/g, '``')}\``;
}

/** What a backslash escape stands for in a MySQL string (unknown escapes drop the backslash). */
function unescape(c: string): string {
  switch (c) {
    case '0': return '\u0000';
    case 'b': return '\b';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'Z': return '\u001a';
    // Kept with the backslash, for LIKE patterns.
    case '%': return '\\%';
    case '_': return '\\_';
    default: return c;
  }
}

/**
 * Read a quoted string or identifier starting at `start` (the opening quote). Returns the
 * decoded value and the offset after the closing quote, or -1 when it is not closed.
 */
function readQuoted(text: string, start: number, quote: number, escapes: boolean): { value: string; end: number; backslash: boolean; doubled: boolean } {
  const n = text.length;
  let value = '';
  let seg = start + 1;
  let backslash = false;
  let doubled = false;
  let i = start + 1;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 92) {
      backslash = true;
      if (escapes) {
        if (i + 1 >= n) return { value, end: -1, backslash, doubled };
        value += text.slice(seg, i) + unescape(text.charAt(i + 1));
        i += 2;
        seg = i;
        continue;
      }
    } else if (c === quote) {
      if (text.charCodeAt(i + 1) === quote) {
        doubled = true;
        value += text.slice(seg, i + 1);
        i += 2;
        seg = i;
        continue;
      }
      return { value: value + text.slice(seg, i), end: i + 1, backslash, doubled };
    }
    i++;
  }
  return { value, end: -1, backslash, doubled };
}

/** Where a line comment starting at `i` ends: at the newline (kept) or the end of the input. */
function lineEnd(text: string, i: number): number {
  const nl = text.indexOf('\n', i);
  return nl < 0 ? text.length : nl;
}

/** The version number of a version comment whose digits start at `at`, as `profile` reads it. */
function readVersion(text: string, at: number, profile: ServerProfile): { version: number | undefined; after: number } {
  for (let k = 0; k < 5; k++) if (!isDigit(text.charCodeAt(at + k))) return { version: undefined, after: at };
  let len = 5;
  if (isDigit(text.charCodeAt(at + 5))) {
    if (profile.flavor === 'mariadb') len = 6;
    else if (profile.sixDigit && isSpace(text.charCodeAt(at + 6))) len = 6;
  }
  return { version: Number(text.slice(at, at + len)), after: at + len };
}

/**
 * The end of a version comment the server skips: the first `*` `/`, where one level of
 * regular comment may be nested inside (the server's consume_comment(1)). -1 if unclosed.
 */
function skipVersionComment(text: string, from: number): number {
  const n = text.length;
  let i = from;
  while (i < n) {
    const c = text.charCodeAt(i++);
    if (c === 47 && text.charCodeAt(i) === 42) {
      const close = text.indexOf('*/', i + 1);
      if (close < 0) return -1;
      i = close + 2;
      continue;
    }
    if (c === 42 && text.charCodeAt(i) === 47) return i + 1;
  }
  return -1;
}

/**
 * Lex one statement starting at `start`. Returns the rewritten statement or, when the text
 * cannot be lexed as the server would (unterminated quote or comment, a `;` inside a version
 * comment, ...), an error.
 */
export function lexStatement(text: string, start: number, profile: ServerProfile, mode: SqlMode): LexedStatement | LexError {
  const n = text.length;
  let out = '';
  let seg = start;
  let i = start;
  let inExec = false;
  let modeSensitive = false;
  while (i < n) {
    const c = text.charCodeAt(i);
    switch (c) {
      case 59: // ;
        if (inExec) {
          // MySQL ends the statement here and reads the rest without the comment; MariaDB
          // rejects it. Neither reading can be trusted to match what a client meant.
          return { error: "';' inside a version comment: servers disagree on where the statement ends", end: i };
        }
        return { code: out + text.slice(seg, i), end: i + 1, modeSensitive };
      case SQUOTE:
      case DQUOTE: {
        const q = readQuoted(text, i, c, c === DQUOTE && mode.ansiQuotes ? false : mode.backslashEscapes);
        if (q.end < 0) return { error: `unterminated ${c === SQUOTE ? 'string' : 'quoted text'}`, end: i, rejected: true };
        if (c === DQUOTE) modeSensitive = true;
        if (q.backslash) modeSensitive = true;
        let rewritten: string;
        if (c === DQUOTE && mode.ansiQuotes) rewritten = quoteIdent(q.value);
        else if (c === SQUOTE && !q.backslash && !q.doubled) rewritten = text.slice(i, q.end);
        else rewritten = quoteString(q.value);
        out += text.slice(seg, i) + rewritten;
        i = q.end;
        seg = i;
        continue;
      }
      case BACKTICK: {
        const q = readQuoted(text, i, c, false);
        if (q.end < 0) return { error: 'unterminated quoted identifier', end: i, rejected: true };
        i = q.end;
        continue;
      }
      case 35: // #
        out += text.slice(seg, i) + ' ';
        i = lineEnd(text, i);
        seg = i;
        continue;
      case 45: // -
        if (text.charCodeAt(i + 1) === 45) {
          const d = i + 2 < n ? text.charCodeAt(i + 2) : 0;
          if (d <= 32 || d === 127) {
            out += text.slice(seg, i) + ' ';
            i = lineEnd(text, i);
            seg = i;
            continue;
          }
          // Whether a Latin-1 no-break space or C1 control counts as a space depends on the
          // connection's character set.
          if (d >= 0x80 && d <= 0xa0) return { error: "'--' followed by a character that may or may not end the comment", end: i };
          // Not a comment for the server: keep the dashes apart so the grammar agrees.
          out += text.slice(seg, i + 1) + ' ';
          i += 1;
          seg = i;
          continue;
        }
        break;
      case 47: // /
        if (text.charCodeAt(i + 1) === 42) {
          const third = text.charCodeAt(i + 2);
          const bang = third === 33;
          const mBang = third === 77 && text.charCodeAt(i + 3) === 33 && profile.flavor === 'mariadb';
          out += text.slice(seg, i) + ' ';
          if (bang || mBang) {
            if (inExec) return { error: 'a version comment inside a version comment', end: i };
            const v = readVersion(text, i + (mBang ? 4 : 3), profile);
            let runs: boolean;
            if (v.version === undefined) runs = true;
            // MariaDB ignores `/*!` comments for MySQL 5.7+ versions (50700-99999), not `/*M!`.
            else if (profile.flavor === 'mariadb') runs = v.version <= profile.version && (mBang || v.version < 50700 || v.version > 99999);
            else runs = v.version <= profile.version;
            if (runs) {
              inExec = true;
              i = v.after;
            } else {
              const end = skipVersionComment(text, v.after);
              if (end < 0) return { error: 'unterminated comment', end: i, rejected: true };
              i = end;
            }
            seg = i;
            continue;
          }
          const close = text.indexOf('*/', i + 2);
          if (close < 0) return { error: 'unterminated comment', end: i, rejected: true };
          i = close + 2;
          seg = i;
          continue;
        }
        break;
      case 42: // *
        if (inExec && text.charCodeAt(i + 1) === 47) {
          out += text.slice(seg, i) + ' ';
          inExec = false;
          i += 2;
          seg = i;
          continue;
        }
        break;
      case 36: // $
        if (profile.dollarQuotes && (i === start || !isIdentChar(text.charCodeAt(i - 1)))) {
          let j = i + 1;
          while (j < n && text.charCodeAt(j) !== 36 && isIdentChar(text.charCodeAt(j))) j++;
          if (text.charCodeAt(j) === 36) {
            const tag = text.slice(i, j + 1);
            const close = text.indexOf(tag, j + 1);
            if (close < 0) return { error: 'unterminated dollar-quoted string', end: i, rejected: true };
            out += text.slice(seg, i) + quoteString(text.slice(j + 1, close));
            i = close + tag.length;
            seg = i;
            continue;
          }
        }
        break;
      case 0:
        return { error: 'input contains a NUL character', end: i };
      default:
        break;
    }
    i++;
  }
  if (inExec) return { error: 'unterminated version comment', end: n, rejected: true };
  return { code: out + text.slice(seg, n), end: n, modeSensitive };
}

/** Whether the text has anything whose meaning depends on the server build. */
export function hasVersionSyntax(text: string): boolean {
  return text.includes('/*!') || text.includes('/*M!') || text.includes('$');
}

/** Every version number a version comment in the text could be read as (5 and 6 digits). */
export function versionThresholds(text: string): number[] {
  const out = new Set<number>();
  const re = /\/\*M?!(\d{5})(\d?)/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    out.add(Number(m[1]));
    if (m[2] !== '') out.add(Number(`${m[1]}${m[2]}`));
  }
  return [...out];
}

/** Server builds in service, as ranges of versions that read comments the same way. */
interface Family {
  flavor: Flavor;
  min: number;
  max: number;
  sixDigit: boolean;
  dollarQuotes: boolean;
}

const FAMILIES: readonly Family[] = [
  { flavor: 'mariadb', min: 100000, max: 129999, sixDigit: true, dollarQuotes: false },
  { flavor: 'mysql', min: 50700, max: 80099, sixDigit: false, dollarQuotes: false },
  { flavor: 'mysql', min: 80034, max: 99999, sixDigit: true, dollarQuotes: false },
  { flavor: 'mysql', min: 90000, max: 99999, sixDigit: true, dollarQuotes: true },
];

/**
 * The server builds worth lexing a text for when the server is not known: for every family,
 * its oldest and newest version and the versions on either side of each threshold in the
 * text. Any real server reads the text like one of these.
 */
export function candidateProfiles(text: string): ServerProfile[] {
  const thresholds = versionThresholds(text);
  const dollar = text.includes('$');
  const out: ServerProfile[] = [];
  for (const f of FAMILIES) {
    if (f.dollarQuotes && !dollar) continue;
    const versions = new Set<number>([f.min, f.max]);
    for (const t of thresholds) {
      for (const v of [t - 1, t]) if (v >= f.min && v <= f.max) versions.add(v);
    }
    for (const v of versions) out.push({ flavor: f.flavor, version: v, sixDigit: f.sixDigit, dollarQuotes: f.dollarQuotes });
  }
  return out;
}

/**
 * Profiles for a server version string as the handshake reports it (`8.0.36`,
 * `10.11.6-MariaDB`, `5.5.5-10.11.6-MariaDB-log`). Near the releases where comment or quote
 * reading changed, both readings are returned. Undefined when the string is not understood.
 */
export function profilesForVersion(versionString: string): ServerProfile[] | undefined {
  const s = versionString.trim();
  const maria = /mariadb/i.test(s);
  // MariaDB prefixes 5.5.5- for old clients.
  const m = /^(?:5\.5\.5-)?(\d+)\.(\d+)\.(\d+)/.exec(s);
  if (m === null) return undefined;
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (minor > 99 || patch > 99) return undefined;
  const version = major * 10000 + minor * 100 + patch;
  if (maria) return [{ flavor: 'mariadb', version, sixDigit: true, dollarQuotes: false }];
  const sixDigit = version >= 80100 ? [true] : version >= 80000 ? [false, true] : [false];
  const dollar = version >= 90300 ? [true] : version >= 90000 ? [false, true] : [false];
  const out: ServerProfile[] = [];
  for (const six of sixDigit) for (const d of dollar) out.push({ flavor: 'mysql', version, sixDigit: six, dollarQuotes: d });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Tokens of rewritten statements, for the statements the grammar does not know and for the
// complexity guard. The input has no comments, strings are '...' with \\ and \' escapes, and
// identifiers are `...`.

export type TokenKind = 'word' | 'number' | 'string' | 'ident' | 'var' | 'punct';

export interface Token {
  kind: TokenKind;
  /** Words: upper case; strings and quoted identifiers: the value; others: the text. */
  value: string;
  start: number;
  end: number;
}

/** Split rewritten statement code into tokens. */
export function tokenize(code: string): Token[] {
  const out: Token[] = [];
  const n = code.length;
  let i = 0;
  while (i < n) {
    const c = code.charCodeAt(i);
    if (isSpace(c) || c < 32) {
      i++;
      continue;
    }
    const start = i;
    if (c === SQUOTE) {
      const q = readQuoted(code, i, SQUOTE, true);
      const end = q.end < 0 ? n : q.end;
      out.push({ kind: 'string', value: q.value, start, end });
      i = end;
    } else if (c === BACKTICK) {
      const q = readQuoted(code, i, BACKTICK, false);
      const end = q.end < 0 ? n : q.end;
      out.push({ kind: 'ident', value: q.value, start, end });
      i = end;
    } else if (c === 64) {
      // @var, @@var, @@session.var, @'quoted', @`quoted`
      i++;
      while (code.charCodeAt(i) === 64) i++;
      const q = code.charCodeAt(i);
      if (q === SQUOTE || q === BACKTICK) i = Math.max(i + 1, readQuoted(code, i, q, q === SQUOTE).end);
      else while (i < n && (isIdentChar(code.charCodeAt(i)) || code.charCodeAt(i) === 46)) i++;
      if (i < 0 || i > n) i = n;
      out.push({ kind: 'var', value: code.slice(start, i), start, end: i });
    } else if (isDigit(c)) {
      while (i < n && (isIdentChar(code.charCodeAt(i)) || code.charCodeAt(i) === 46)) i++;
      out.push({ kind: /^[0-9.]+(e[+-]?\d+)?$/i.test(code.slice(start, i)) ? 'number' : 'word', value: code.slice(start, i).toUpperCase(), start, end: i });
    } else if (isIdentChar(c)) {
      while (i < n && isIdentChar(code.charCodeAt(i))) i++;
      out.push({ kind: 'word', value: code.slice(start, i).toUpperCase(), start, end: i });
    } else {
      // Multi-character operators matter only as "an operator", so take runs of symbols.
      i++;
      if (c !== 40 && c !== 41 && c !== 44 && c !== 46) {
        while (i < n && '<>=!|&:-+*/%^~'.includes(code.charAt(i))) i++;
      }
      out.push({ kind: 'punct', value: code.slice(start, i), start, end: i });
    }
  }
  return out;
}

/** Keywords that join two expressions or prefix one; each can add a level to the parse tree. */
const OPERATOR_WORDS = new Set([
  'AND', 'OR', 'XOR', 'NOT', 'IS', 'IN', 'LIKE', 'BETWEEN', 'REGEXP', 'RLIKE', 'DIV', 'MOD', 'UNION', 'EXCEPT',
  'INTERSECT', 'INTERVAL', 'COLLATE', 'ESCAPE', 'SOUNDS', 'MEMBER', 'BINARY', 'CASE', 'EXISTS', 'ANY', 'ALL', 'SOME',
  'JOIN', 'SELECT',
]);

export interface Complexity {
  /** Deepest parenthesis nesting. */
  parens: number;
  /**
   * An upper bound on the depth of the expression tree: along the deepest nesting, every
   * level counts one plus the operators at that level (a chain of n operators can be n deep).
   */
  depth: number;
  /** INTERVAL keywords (each can nest another expression without parentheses). */
  intervals: number;
}

/** Measure how deep the grammar could have to go for these tokens. */
export function complexity(tokens: readonly Token[]): Complexity {
  const ops: number[] = [0];
  let sum = 1;
  let depth = 1;
  let parens = 0;
  let intervals = 0;
  for (const t of tokens) {
    if (t.kind === 'punct') {
      const v = t.value;
      if (v === '(') {
        ops.push(0);
        sum += 1;
        if (ops.length - 1 > parens) parens = ops.length - 1;
      } else if (v === ')') {
        if (ops.length > 1) sum -= 1 + (ops.pop() as number);
      } else if (v !== ',' && v !== '.') {
        ops[ops.length - 1] = (ops[ops.length - 1] as number) + 1;
        sum += 1;
      }
    } else if (t.kind === 'word' && OPERATOR_WORDS.has(t.value)) {
      if (t.value === 'INTERVAL') intervals++;
      ops[ops.length - 1] = (ops[ops.length - 1] as number) + 1;
      sum += 1;
    }
    if (sum > depth) depth = sum;
  }
  return { parens, depth, intervals };
}
