// Anchored scanning: most rules can only match where one of a few literal keywords occurs
// (a token prefix, a label). One pass finds every keyword of every rule in the lower-case
// text; each rule's regex is then tried only at the positions its keywords allow, as a
// sticky regex over the whole text (so lookarounds and \b see the real neighbours). Running
// a sticky regex at a superset of the possible match starts, in order and skipping what the
// previous match consumed, finds exactly what a global scan of the whole text finds.

/**
 * Every occurrence of a set of lower-case keywords, overlapping ones included, in one pass:
 * an Aho-Corasick automaton as a dense table (state x character class), so a character
 * costs a table step however many keywords there are (a regex alternation of ~100 literals
 * tries them at each position).
 */
export class KeywordScanner {
  readonly keywords: readonly string[];
  private readonly ids = new Map<string, number>();
  /** Character class of each UTF-16 code unit (0: in no keyword): one look-up a character, no branch. */
  private readonly classes = new Uint16Array(65536);
  private readonly width: number;
  /** next state = delta[state * width + class]. */
  private readonly delta: Int32Array;
  /** The keyword ending at a state (-1: none), and the next state down its failure chain that ends one (-1: none). */
  private readonly own: Int32Array;
  private readonly dict: Int32Array;
  /** States from this one on end a keyword. */
  private readonly firstOutput: number;
  /** The root's row offset. */
  private readonly root: number;

  constructor(keywords: Iterable<string>) {
    this.keywords = [...new Set(keywords)].filter((keyword) => keyword.length > 0);
    const all = this.keywords;
    let classes = 1;
    for (const [id, keyword] of all.entries()) {
      if (keyword !== keyword.toLowerCase()) throw new Error(`keyword must be lower case: ${keyword}`);
      this.ids.set(keyword, id);
      for (let i = 0; i < keyword.length; i++) {
        const code = keyword.charCodeAt(i);
        if (this.classes[code] === 0) this.classes[code] = classes++;
      }
    }
    const width = (this.width = classes);
    // The trie: children by class, -1 where there is none.
    const children: number[] = [];
    const own: number[] = [];
    const addState = () => {
      for (let c = 0; c < width; c++) children.push(-1);
      own.push(-1);
      return own.length - 1;
    };
    addState();
    for (const [id, keyword] of all.entries()) {
      let state = 0;
      for (let i = 0; i < keyword.length; i++) {
        const at = state * width + this.classes[keyword.charCodeAt(i)]!;
        if (children[at]! < 0) children[at] = addState();
        state = children[at]!;
      }
      own[state] = id;
    }
    // Breadth first: failure links, the dictionary chain, and the full transition table.
    const states = own.length;
    const delta = new Int32Array(states * width);
    const fail = new Int32Array(states);
    const dict = new Int32Array(states).fill(-1);
    const queue: number[] = [];
    for (let c = 0; c < width; c++) {
      const child = children[c]!;
      if (child >= 0) {
        delta[c] = child;
        queue.push(child);
      }
    }
    for (let head = 0; head < queue.length; head++) {
      const state = queue[head]!;
      const f = fail[state]!;
      dict[state] = own[f]! >= 0 ? f : dict[f]!;
      for (let c = 0; c < width; c++) {
        const child = children[state * width + c]!;
        if (child >= 0) {
          fail[child] = delta[f * width + c]!;
          delta[state * width + c] = child;
          queue.push(child);
        } else delta[state * width + c] = delta[f * width + c]!;
      }
    }
    // Class 0 (a character in no keyword) always leads back to the root.
    for (let state = 0; state < states; state++) delta[state * width] = 0;
    // Renumber so that the states where a keyword ends come last (one comparison a
    // character tells whether to look), and store each next state as its row's offset.
    const order = [...Array(states).keys()].sort((a, b) => Number(own[a]! >= 0 || dict[a]! >= 0) - Number(own[b]! >= 0 || dict[b]! >= 0) || a - b);
    const rank = new Int32Array(states);
    order.forEach((state, i) => (rank[state] = i));
    this.delta = new Int32Array(states * width);
    this.own = new Int32Array(states);
    this.dict = new Int32Array(states);
    for (const [i, state] of order.entries()) {
      for (let c = 0; c < width; c++) this.delta[i * width + c] = rank[delta[state * width + c]!]! * width;
      this.own[i] = own[state]!;
      this.dict[i] = dict[state]! >= 0 ? rank[dict[state]!]! : -1;
    }
    this.firstOutput = order.findIndex((state) => own[state]! >= 0 || dict[state]! >= 0);
    if (this.firstOutput < 0) this.firstOutput = states;
    this.root = rank[0]! * width;
  }

  /** The index of a keyword in `keywords` (and in what `scan` returns). */
  id(keyword: string): number | undefined {
    return this.ids.get(keyword);
  }

  /** Positions of each keyword (by index in `keywords`) in `lower`, ascending. */
  scan(lower: string): number[][] {
    const hits: number[][] = this.keywords.map(() => []);
    if (this.keywords.length === 0) return hits;
    const { delta, own, dict, width, classes, keywords } = this;
    const limit = this.firstOutput * width;
    const n = lower.length;
    let row = this.root;
    for (let i = 0; i < n; i++) {
      row = delta[row + classes[lower.charCodeAt(i)]!]!;
      if (row < limit) continue;
      const state = row / width;
      for (let at = own[state]! >= 0 ? state : dict[state]!; at >= 0; at = dict[at]!) {
        const id = own[at]!;
        hits[id]!.push(i + 1 - keywords[id]!.length);
      }
    }
    return hits;
  }
}

/**
 * Ascending distinct candidate starts: for each group, `hit + d` for every hit and every d
 * in [from, to]. Positions before 0 are left out.
 */
export function startsAround(groups: readonly (readonly [hits: readonly number[], from: number, to: number])[]): number[] {
  if (groups.length === 1 && groups[0]![1] === 0 && groups[0]![2] === 0) return groups[0]![0] as number[];
  const out: number[] = [];
  let sorted = true;
  for (const [hits, from, to] of groups) {
    for (const hit of hits) {
      for (let d = from; d <= to; d++) {
        const at = hit + d;
        if (at < 0) continue;
        if (out.length > 0 && at < out[out.length - 1]!) sorted = false;
        out.push(at);
      }
    }
  }
  if (!sorted) out.sort((a, b) => a - b);
  let n = 0;
  for (let i = 0; i < out.length; i++) if (n === 0 || out[i] !== out[n - 1]) out[n++] = out[i]!;
  out.length = n;
  return out;
}

/**
 * Runs a sticky regex at each candidate start (ascending) with the semantics of a global
 * scan from 0: a start inside the previous match is skipped. `visit` gets each match and
 * returns where the scan continues (a global scan's lastIndex after it).
 */
export function matchAt(regex: RegExp, text: string, starts: readonly number[], visit: (m: RegExpExecArray) => number): void {
  let next = 0;
  for (const start of starts) {
    if (start < next) continue;
    regex.lastIndex = start;
    const m = regex.exec(text);
    if (m) next = visit(m);
  }
}
