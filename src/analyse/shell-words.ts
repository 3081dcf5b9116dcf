// Turning tree-sitter-bash word nodes into the strings bash would pass to a program, when
// that can be known without running anything. `r''m`, `\rm`, `"rm"` and `$'\x72m'` all
// become `rm`; anything that depends on an expansion has no static value.
import type { Node } from 'web-tree-sitter';

export interface Word {
  /** What bash passes for this word, or null when it depends on an expansion. */
  value: string | null;
  /** The source text. */
  raw: string;
  /**
   * Unquoted glob, brace or extglob syntax: bash may replace the word with other words (file
   * names, `{a,b}` alternatives), so even a static value is not what the program receives.
   */
  pattern: boolean;
}

/** A word whose value is only known at run time (expansions, `{}` in find -exec, ...). */
export function dynamicWord(raw: string): Word {
  return { value: null, raw, pattern: false };
}

export function staticWord(value: string): Word {
  return { value, raw: value, pattern: false };
}

/** True when the word is a constant the shell passes unchanged. */
export function isStatic(w: Word): w is Word & { value: string } {
  return w.value !== null && !w.pattern;
}

// `*`, `?` and `[` glob; `{a,b}` and `{1..3}` expand; `@(`, `!(`, `+(` are extglobs.
const GLOB = /[*?[]|[@!+]\(/;
const BRACE = /\{[^{}]*(,|\.\.)[^{}]*\}/;

interface Piece {
  value: string | null;
  /** Unquoted text as the shell's pattern matcher sees it; quoted text is masked out. */
  mask: string;
}

/** Evaluate a word-like node. */
export function evaluateWord(node: Node): Word {
  const p = piece(node);
  return { value: p.value, raw: node.text, pattern: GLOB.test(p.mask) || BRACE.test(p.mask) };
}

function masked(s: string): string {
  return '_'.repeat(Math.min(s.length, 1));
}

function piece(node: Node): Piece {
  switch (node.type) {
    case 'word': {
      const { value, mask } = unquotedWord(node.text);
      return { value, mask };
    }
    case 'number':
      return { value: node.text, mask: node.text };
    case 'raw_string': {
      const t = node.text;
      const v = t.length >= 2 ? t.slice(1, -1) : '';
      return { value: v, mask: masked(v) };
    }
    case 'ansi_c_string': {
      const t = node.text;
      const v = decodeAnsiC(t.startsWith("$'") && t.endsWith("'") ? t.slice(2, -1) : t);
      return { value: v, mask: masked(v) };
    }
    case 'string':
      return doubleQuoted(node);
    case 'translated_string': {
      const inner = node.namedChildren.find((c) => c?.type === 'string');
      return inner ? doubleQuoted(inner) : { value: null, mask: '$' };
    }
    case 'concatenation': {
      let value: string | null = '';
      let mask = '';
      let at = node.startIndex;
      for (const c of node.children) {
        if (c === null) continue;
        // Text the parser left out of every child would be lost from the value.
        if (c.startIndex !== at) value = null;
        at = c.endIndex;
        const p = piece(c);
        value = value === null || p.value === null ? null : value + p.value;
        mask += p.mask;
      }
      if (at !== node.endIndex) value = null;
      return { value, mask };
    }
    case 'brace_expression':
      return { value: node.text, mask: '{x,x}' };
    default:
      // Expansions, substitutions, arithmetic and anything else: known only at run time.
      return { value: null, mask: '$' };
  }
}

/** An unquoted word: backslash quotes the next character (and `\<newline>` disappears). */
function unquotedWord(text: string): { value: string; mask: string } {
  if (!text.includes('\\')) return { value: text, mask: text };
  let value = '';
  let mask = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '\\' && i + 1 < text.length) {
      const n = text[++i] as string;
      if (n !== '\n') {
        value += n;
        mask += '_';
      }
    } else {
      value += c;
      mask += c;
    }
  }
  return { value, mask };
}

/**
 * Inside "...", backslash quotes only $ ` " \ and newline. The value is taken from the source
 * between the quotes, not from the string_content children: tree-sitter-bash leaves newlines
 * out of them.
 */
function doubleQuoted(node: Node): Piece {
  for (const c of node.namedChildren) {
    if (c !== null && c.type !== 'string_content') return { value: null, mask: '_' };
  }
  const t = node.text;
  if (t.length < 2 || !t.startsWith('"') || !t.endsWith('"')) return { value: null, mask: '_' };
  return { value: unescapeDouble(t.slice(1, -1)), mask: '_' };
}

/**
 * Rewrite the body of an unquoted heredoc as a double-quoted string with the same meaning
 * (in a heredoc a backslash quotes only $ ` \ and newline, and " is an ordinary character).
 */
export function heredocAsDoubleQuoted(body: string): string {
  let out = '"';
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    const n = body[i + 1];
    if (c === '\\') {
      if (n !== undefined && '$`\\\n'.includes(n)) {
        out += c + n;
        i++;
      } else {
        out += '\\\\';
      }
    } else if (c === '"') {
      out += '\\"';
    } else {
      out += c;
    }
  }
  return `${out}"`;
}

function unescapeDouble(text: string): string {
  if (!text.includes('\\')) return text;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    const n = text[i + 1];
    if (c === '\\' && n !== undefined && '$`"\\\n'.includes(n)) {
      if (n !== '\n') out += n;
      i++;
    } else {
      out += c;
    }
  }
  return out;
}

const SIMPLE_ESCAPES: Record<string, string> = {
  a: '\u0007', b: '\b', e: '\u001b', E: '\u001b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v',
  '\\': '\\', "'": "'", '"': '"', '?': '?',
};

/** Decode the body of a `$'...'` string the way bash does. */
export function decodeAnsiC(body: string): string {
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c !== '\\' || i + 1 >= body.length) {
      out += c;
      continue;
    }
    const n = body[++i] as string;
    const simple = SIMPLE_ESCAPES[n];
    if (simple !== undefined) {
      out += simple;
    } else if (n === 'x') {
      const m = /^[0-9a-fA-F]{1,2}/.exec(body.slice(i + 1));
      if (m) {
        out += String.fromCharCode(parseInt(m[0], 16));
        i += m[0].length;
      } else out += '\\x';
    } else if (n === 'u' || n === 'U') {
      const m = (n === 'u' ? /^[0-9a-fA-F]{1,4}/ : /^[0-9a-fA-F]{1,8}/).exec(body.slice(i + 1));
      if (m) {
        const cp = parseInt(m[0], 16);
        out += cp <= 0x10ffff ? String.fromCodePoint(cp) : '';
        i += m[0].length;
      } else out += '\\' + n;
    } else if (n >= '0' && n <= '7') {
      const m = /^[0-7]{1,3}/.exec(body.slice(i)) as RegExpExecArray;
      out += String.fromCharCode(parseInt(m[0], 8) & 0xff);
      i += m[0].length - 1;
    } else if (n === 'c' && i + 1 < body.length) {
      out += String.fromCharCode((body.charCodeAt(++i) & 0x1f) >>> 0);
    } else {
      out += '\\' + n;
    }
  }
  return out;
}

/**
 * Remove backslash-newline line continuations where bash removes them (outside single
 * quotes, ANSI-C strings and comments) before parsing. tree-sitter-bash treats them as word
 * breaks: `r\<newline>m` would be `r` and `m`, where bash runs `rm`.
 */
export function joinContinuations(text: string): string {
  if (!text.includes('\\\n')) return text;
  let out = '';
  let state: 'plain' | 'single' | 'double' | 'ansi' | 'comment' = 'plain';
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    const n = text[i + 1];
    switch (state) {
      case 'single':
        if (c === "'") state = 'plain';
        out += c;
        break;
      case 'ansi':
        if (c === '\\' && n !== undefined) {
          out += c + n;
          i++;
        } else {
          if (c === "'") state = 'plain';
          out += c;
        }
        break;
      case 'comment':
        if (c === '\n') state = 'plain';
        out += c;
        break;
      default:
        if (c === '\\') {
          if (n === '\n') {
            i++;
          } else if (n !== undefined) {
            out += c + n;
            i++;
          } else {
            out += c;
          }
        } else if (state === 'double') {
          if (c === '"') state = 'plain';
          out += c;
        } else {
          if (c === '"') state = 'double';
          else if (c === "'") state = text[i - 1] === '$' ? 'ansi' : 'single';
          else if (c === '#' && (i === 0 || /[\s;&|()<>]/.test(text[i - 1] as string))) state = 'comment';
          out += c;
        }
    }
  }
  return out;
}
