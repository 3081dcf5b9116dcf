// The shape of a PostgreSQL statement: its text with some literals replaced by placeholders,
// so that `... WHERE aid = 48213` and `... WHERE aid = 7` share one cached Intent. A wrong
// shared Intent is a policy bypass, so this scanner is deliberately narrow: it answers
// `undefined` (do not use the shape cache) for anything it does not fully understand, and it
// replaces a literal only where the analyser provably never looks at the literal's value.
//
// WHAT THE SHAPE CACHE RELIES ON (re-check this list when src/analyse/postgres.ts changes).
// Every place where a literal's value (A_Const: numbers, strings, booleans, NULL) can change
// the Intent that postgres.ts produces:
//   1. constValue(): set_config(name, value) arguments (class, flags, error); SET/RESET values
//      (settingEffect: search_path, role, transaction_read_only, custom settings); the
//      transaction_read_only option of BEGIN / START TRANSACTION / SET TRANSACTION
//      (readWriteOption -> `read_write`); constantFalse() on an OR disjunct that is itself a
//      constant (`WHERE id = 1 OR false`).
//   2. expressionKey(): sameExpression() (`x = x`, `x >= x`, `x <= x`, `x IS NOT DISTINCT FROM x`)
//      and complementaryNullTests() (`x IS NULL OR x IS NOT NULL`) serialise whole operand
//      subtrees, literals included, to decide `no_where`. They run only on the conditions of
//      UPDATE, DELETE and MERGE (selection(), reached through AND/OR/NOT only), so any literal
//      inside an operand of a comparison or null test there, at any depth (parenthesised
//      expressions, subqueries with WHERE or LIMIT), changes `no_where`.
//   3. explainAnalyze(): the value of EXPLAIN's ANALYZE option (`explain_analyze`, kind).
//   4. COPY ... TO/FROM 'file' and LOAD 'file' (paths, program, class); COPY ... PROGRAM 'cmd'.
//   5. The parser's error text (`syntax error at or near "2"`) ends up in Intent.error.
//   Not value-dependent: identifiers (table, function, schema, CTE names are String nodes of
//   names, not A_Const), function arguments other than set_config's (objects record only the
//   function's name), LIMIT/OFFSET values (no flag reads them), the types of numbers.
//
// How the rules below stay clear of that list:
//   - Only statements starting with SELECT, INSERT, UPDATE, DELETE, WITH or VALUES, one
//     statement per text (nothing but blanks after a `;`): no SET, COPY, LOAD, EXPLAIN, BEGIN
//     (1, 3, 4). A set_config() argument is never a replaced position (replaced literals are
//     the right operand of a comparison, an IN-list member or a LIMIT/OFFSET count).
//   - A literal is replaced only as the right operand of `column op literal` (op one of
//     = <> != < > <= >=), an `column [NOT] IN (literal, ...)` member, or `LIMIT n` / `OFFSET n`,
//     and only when that comparison is a whole boolean term: preceded by WHERE, AND, OR, ON or
//     HAVING and followed by a token that ends the expression (AND, OR, `)`, `,`, `;`, the end,
//     or a clause keyword). AND/OR bind loosest of all operators, so such a term's only
//     ancestors up to its clause are AND/OR, never a comparison or IS (2). BETWEEN, whose AND
//     is not a boolean AND, makes the text unshaped.
//   - When the text contains UPDATE, DELETE or MERGE anywhere, only literals outside every
//     parenthesis or bracket are replaced, so none sits inside an operand that (2) serialises.
//   - Analyses that end `unknown` are not stored under a shape (5; see cache.ts).

/** Longest text that is shaped; longer statements are cached by exact text only. */
export const MAX_SHAPE_INPUT = 4096;

type Kind = 'word' | 'qident' | 'num' | 'str' | 'op' | 'punct';

interface Token {
  kind: Kind;
  start: number;
  end: number;
  /** Upper-cased text for words, the text itself for operators and punctuation. */
  text: string;
  /** Parentheses and brackets around the token (for `(` and `)`, those outside them). */
  depth: number;
}

const START = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'WITH', 'VALUES']);
/** Their presence means a condition that postgres.ts inspects for `no_where` (see above). */
const DML = new Set(['UPDATE', 'DELETE', 'MERGE']);
const COMPARISONS = new Set(['=', '<>', '!=', '<', '>', '<=', '>=']);
/** Words that open a boolean term. */
const BEFORE = new Set(['WHERE', 'AND', 'OR', 'ON', 'HAVING']);
/** Reserved words that can only end an expression (they never continue one after a literal). */
const AFTER = new Set([
  'AND', 'OR', 'ORDER', 'GROUP', 'HAVING', 'WINDOW', 'LIMIT', 'OFFSET', 'FETCH', 'FOR', 'RETURNING', 'UNION',
  'INTERSECT', 'EXCEPT', 'WHERE', 'JOIN', 'INNER', 'LEFT', 'RIGHT', 'FULL', 'CROSS', 'NATURAL',
]);
const COUNT = new Set(['LIMIT', 'OFFSET']);
const IN = new Set(['IN']);
const NOT = new Set(['NOT']);

/** PostgreSQL's reserved key words (pg_get_keywords() catcode R and T): never a column name. */
const RESERVED = new Set(
  `ALL ANALYSE ANALYZE AND ANY ARRAY AS ASC ASYMMETRIC BOTH CASE CAST CHECK COLLATE COLUMN CONSTRAINT CREATE
   CURRENT_CATALOG CURRENT_DATE CURRENT_ROLE CURRENT_TIME CURRENT_TIMESTAMP CURRENT_USER DEFAULT DEFERRABLE DESC
   DISTINCT DO ELSE END EXCEPT FALSE FETCH FOR FOREIGN FROM GRANT GROUP HAVING IN INITIALLY INTERSECT INTO LATERAL
   LEADING LIMIT LOCALTIME LOCALTIMESTAMP NOT NULL OFFSET ON ONLY OR ORDER PLACING PRIMARY REFERENCES RETURNING
   SELECT SESSION_USER SOME SYMMETRIC TABLE THEN TO TRAILING TRUE UNION UNIQUE USER USING VARIADIC WHEN WHERE
   WINDOW WITH AUTHORIZATION BINARY COLLATION CONCURRENTLY CROSS CURRENT_SCHEMA FREEZE FULL ILIKE INNER IS ISNULL
   JOIN LEFT LIKE NATURAL NOTNULL OUTER OVERLAPS RIGHT SIMILAR TABLESAMPLE VERBOSE`.split(/\s+/),
);

// Character classes of the ASCII range; outside quotes anything else (class 0) is refused:
// non-ASCII, control characters (NUL and vertical tab included: not blank before PostgreSQL
// 16), `$` (dollar quotes, parameters), `\\`, `{`, `}`.
const BAD = 0;
const BLANK = 1;
const WORD = 2;
const DIGIT = 3;
const OP = 4;
const PUNCT = 5;
const QUOTE = 6;
const CLASS = new Uint8Array(128);
for (const c of ' \t\n\f\r') CLASS[c.charCodeAt(0)] = BLANK;
for (let c = 65; c <= 90; c++) CLASS[c] = CLASS[c + 32] = WORD;
CLASS[95] = WORD; // _
for (let c = 48; c <= 57; c++) CLASS[c] = DIGIT;
for (const c of '~!@#^&|`?+-*/%<>=') CLASS[c.charCodeAt(0)] = OP;
for (const c of '()[],;:.') CLASS[c.charCodeAt(0)] = PUNCT;
CLASS[34] = CLASS[39] = QUOTE; // " '

function classAt(text: string, i: number): number {
  const c = text.charCodeAt(i);
  return c < 128 ? (CLASS[c] as number) : BAD; // NaN (out of range) compares false: BAD
}

function isWordChar(text: string, i: number): boolean {
  const k = classAt(text, i);
  return k === WORD || k === DIGIT;
}

/** The end of the digits from `i`. */
function digits(text: string, i: number): number {
  while (classAt(text, i) === DIGIT) i++;
  return i;
}

/** Split plain ASCII SQL into tokens, or undefined for anything the scanner does not know. */
function tokenise(text: string): Token[] | undefined {
  // Refused anywhere, quoted or not: non-ASCII, control characters, `$`, `\\`.
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7e || c === 0x24 || c === 0x5c || (c < 0x20 && CLASS[c] !== BLANK)) return undefined;
  }
  const tokens: Token[] = [];
  let depth = 0;
  let i = 0;
  while (i < text.length) {
    const start = i;
    const k = classAt(text, i);
    const c = text[i] as string;
    if (k === BLANK) {
      i++;
    } else if (k === QUOTE) {
      // A letter or & right before a quote makes it E'', U&'', B'', X'', N'' or U&"": refuse.
      if (i > 0 && (isWordChar(text, i - 1) || text[i - 1] === '&')) return undefined;
      i++;
      for (;;) {
        const q = text.indexOf(c, i);
        if (q < 0) return undefined;
        i = q + 1;
        if (text[i] !== c) break;
        i++;
      }
      if (c === '"' && i - start === 2) return undefined;
      tokens.push({ kind: c === "'" ? 'str' : 'qident', start, end: i, text: '', depth });
    } else if (k === WORD) {
      while (isWordChar(text, i)) i++;
      tokens.push({ kind: 'word', start, end: i, text: text.slice(start, i).toUpperCase(), depth });
    } else if (k === DIGIT || (c === '.' && classAt(text, i + 1) === DIGIT)) {
      // 12, 1.5, 1., .5, each with an optional exponent e[+-]digits.
      i = digits(text, i);
      if (text[i] === '.') i = digits(text, i + 1);
      if ((text[i] === 'e' || text[i] === 'E') && classAt(text, text[i + 1] === '+' || text[i + 1] === '-' ? i + 2 : i + 1) === DIGIT) {
        i = digits(text, text[i + 1] === '+' || text[i + 1] === '-' ? i + 2 : i + 1);
      }
      // 0x1F, 1_000, 1e, 1.2.3, 1abc, x.5, 1'x': forms whose meaning differs between versions.
      if (start > 0 && (isWordChar(text, start - 1) || text[start - 1] === '.')) return undefined;
      if (isWordChar(text, i) || text[i] === '.' || classAt(text, i) === QUOTE) return undefined;
      tokens.push({ kind: 'num', start, end: i, text: '', depth });
    } else if (k === OP) {
      while (classAt(text, i) === OP) i++;
      const op = text.slice(start, i);
      if (op.includes('--') || op.includes('/*')) return undefined;
      tokens.push({ kind: 'op', start, end: i, text: op, depth });
    } else if (k === PUNCT) {
      if (c === ')' || c === ']') depth--;
      if (depth < 0) return undefined;
      tokens.push({ kind: 'punct', start, end: ++i, text: c, depth });
      if (c === '(' || c === '[') depth++;
    } else {
      return undefined;
    }
  }
  if (depth !== 0) return undefined;
  return tokens;
}

function isWord(t: Token | undefined, words: ReadonlySet<string>): boolean {
  return t?.kind === 'word' && words.has(t.text);
}

function isPunct(t: Token | undefined, p: string): boolean {
  return t?.kind === 'punct' && t.text === p;
}

function isLiteral(t: Token | undefined): boolean {
  return t?.kind === 'num' || t?.kind === 'str';
}

/** Whether the tokens ending at `end` are a column reference (`a`, `"A"`, `s.t.c`) opening a term. */
function columnTerm(tokens: Token[], end: number): boolean {
  let j = end;
  for (;;) {
    const name = tokens[j];
    if (name === undefined || !(name.kind === 'qident' || (name.kind === 'word' && !RESERVED.has(name.text)))) return false;
    if (!isPunct(tokens[j - 1], '.')) break;
    j -= 2;
  }
  return isWord(tokens[j - 1], BEFORE);
}

/** Whether the token ends the expression a replaced literal belongs to. */
function endsTerm(t: Token | undefined): boolean {
  return t === undefined || isWord(t, AFTER) || (t.kind === 'punct' && (t.text === ')' || t.text === ',' || t.text === ';'));
}

/**
 * The shape key of a PostgreSQL statement, or undefined when the statement must not be
 * served from a shape (see the rules at the top of this file). Replaced numbers read `$n`,
 * replaced strings `$s`; `$` never occurs in a shaped text, so a key cannot be mistaken for
 * another text's key.
 */
export function postgresShape(text: string): string | undefined {
  if (typeof text !== 'string' || text.length > MAX_SHAPE_INPUT) return undefined;
  const tokens = tokenise(text);
  if (tokens === undefined || !isWord(tokens[0], START)) return undefined;
  const semi = tokens.findIndex((t) => isPunct(t, ';'));
  if (semi >= 0 && semi !== tokens.length - 1) return undefined;
  if (tokens.some((t) => t.kind === 'word' && t.text === 'BETWEEN')) return undefined;
  const maxDepth = tokens.some((t) => isWord(t, DML)) ? 0 : Infinity;
  const replaced: Token[] = [];
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k] as Token;
    if (t.depth > maxDepth) continue;
    const prev = tokens[k - 1];
    if (isLiteral(t) && prev?.kind === 'op' && COMPARISONS.has(prev.text) && columnTerm(tokens, k - 2) && endsTerm(tokens[k + 1])) {
      replaced.push(t);
    } else if (t.kind === 'num' && isWord(prev, COUNT) && endsTerm(tokens[k + 1])) {
      // LIMIT n, OFFSET n.
      replaced.push(t);
    } else if (isPunct(t, '(') && isWord(prev, IN)) {
      const items = inList(tokens, k);
      if (items === undefined) continue;
      const column = isWord(tokens[k - 2], NOT) ? k - 3 : k - 2;
      // Items sit at k+1, k+3, ...; the `)` at k + 2 * items.length.
      if (columnTerm(tokens, column) && endsTerm(tokens[k + 2 * items.length + 1])) replaced.push(...items);
    }
  }
  if (replaced.length === 0) return undefined;
  let key = '';
  let at = 0;
  for (const t of replaced) {
    key += text.slice(at, t.start) + (t.kind === 'num' ? '$n' : '$s');
    at = t.end;
  }
  return key + text.slice(at);
}

/** The literals of `(lit, lit, ...)` opening at `open`, or undefined if it is anything else. */
function inList(tokens: Token[], open: number): Token[] | undefined {
  const items: Token[] = [];
  for (let k = open + 1; ; k += 2) {
    const item = tokens[k];
    if (!isLiteral(item)) return undefined;
    items.push(item as Token);
    const next = tokens[k + 1];
    if (isPunct(next, ')')) return items;
    if (!isPunct(next, ',')) return undefined;
  }
}
