// Anchored scanning: most rules can only match where one of a few literal keywords occurs
// (a token prefix, a label). One pass finds every keyword of every rule in the lower-case
// text; each rule's regex is then tried only at the positions its keywords allow, as a
// sticky regex over the whole text (so lookarounds and \b see the real neighbours). Running
// a sticky regex at a superset of the possible match starts, in order and skipping what the
// previous match consumed, finds exactly what a global scan of the whole text finds.

/** Every occurrence of a set of lower-case keywords, overlapping ones included. */
export class KeywordScanner {
  readonly keywords: readonly string[];
  private readonly ids = new Map<string, number>();
  private readonly regex: RegExp | undefined;
  /** Index of each minimal keyword (one that contains no other) by its text. */
  private readonly minimal = new Map<string, number>();
  /** Per minimal keyword: the longer keywords containing it, and where. */
  private readonly derived = new Map<number, { id: number; text: string; offset: number }[]>();

  constructor(keywords: Iterable<string>) {
    this.keywords = [...new Set(keywords)].filter((keyword) => keyword.length > 0);
    const all = this.keywords;
    all.forEach((keyword, id) => this.ids.set(keyword, id));
    all.forEach((keyword, id) => {
      if (keyword !== keyword.toLowerCase()) throw new Error(`keyword must be lower case: ${keyword}`);
      // Contains another (shorter) keyword: found through that one.
      const inner = all.findIndex((other, j) => j !== id && keyword.includes(other));
      if (inner < 0) {
        this.minimal.set(keyword, id);
        return;
      }
      const list = this.derived.get(inner) ?? [];
      list.push({ id, text: keyword, offset: keyword.indexOf(all[inner]!) });
      this.derived.set(inner, list);
    });
    // A keyword derived from a derived keyword: re-home it on a minimal one.
    for (const [inner, list] of [...this.derived]) {
      if (this.minimal.has(all[inner]!)) continue;
      this.derived.delete(inner);
      for (const entry of list) {
        const root = [...this.minimal.keys()].find((m) => entry.text.includes(m))!;
        const id = this.minimal.get(root)!;
        const rooted = this.derived.get(id) ?? [];
        rooted.push({ ...entry, offset: entry.text.indexOf(root) });
        this.derived.set(id, rooted);
      }
    }
    const alternatives = [...this.minimal.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp);
    this.regex = alternatives.length > 0 ? new RegExp(alternatives.join('|'), 'g') : undefined;
  }

  /** The index of a keyword in `keywords` (and in what `scan` returns). */
  id(keyword: string): number | undefined {
    return this.ids.get(keyword);
  }

  /** Positions of each keyword (by index in `keywords`) in `lower`, ascending. */
  scan(lower: string): number[][] {
    const hits: number[][] = this.keywords.map(() => []);
    const regex = this.regex;
    if (!regex) return hits;
    regex.lastIndex = 0;
    for (let m = regex.exec(lower); m; m = regex.exec(lower)) {
      const at = m.index;
      const id = this.minimal.get(m[0])!;
      hits[id]!.push(at);
      const derived = this.derived.get(id);
      if (derived) for (const d of derived) if (at >= d.offset && lower.startsWith(d.text, at - d.offset)) hits[d.id]!.push(at - d.offset);
      // Minimal keywords never start at the same position, but may overlap: look again one on.
      regex.lastIndex = at + 1;
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

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
