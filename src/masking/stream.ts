// Streaming masker for chunked text (shell output, HTTP bodies, LLM streams). A value split
// across chunks is still found: the masker holds back the last `tail` characters and a value
// that straddles the point where output stops is held back whole. Values up to `tail`
// characters long are guaranteed to be seen in one piece; the last `context` characters
// already emitted are rescanned (not re-emitted) so that labels before a value still count.
import { splice } from './engine.js';
import type { CompiledMaskingProfile } from './profile.js';
import type { Finding, MaskTextResult } from './types.js';

export interface StreamOptions {
  /** Characters held back at the end of the buffer (the longest value guaranteed whole). */
  tail?: number;
  /** Characters of emitted text kept as left context for labels. */
  context?: number;
}

export class StreamMasker {
  private pending = '';
  /** Stream offset of pending[0]. */
  private base = 0;
  /** The end of the text already emitted (input, not masked), for left context. */
  private context = '';
  private readonly tail: number;
  private readonly contextSize: number;
  private ended = false;

  constructor(
    private readonly profile: Pick<CompiledMaskingProfile, 'scanText'>,
    options: StreamOptions = {},
  ) {
    this.tail = options.tail ?? 8192;
    this.contextSize = options.context ?? 256;
  }

  /** Adds a chunk; returns the masked text that can be emitted now (maybe empty). Throws if masking fails: the caller must stop the stream. */
  push(chunk: string): MaskTextResult {
    if (this.ended) throw new Error('stream already ended');
    this.pending += chunk;
    // Scan once twice the tail has built up, so each scan emits at least `tail` characters.
    if (this.pending.length < 2 * this.tail) return { text: '', findings: [] };
    return this.emit(false);
  }

  /** Flushes what is held back. */
  end(): MaskTextResult {
    if (this.ended) return { text: '', findings: [] };
    const out = this.emit(true);
    this.ended = true;
    return out;
  }

  private emit(final: boolean): MaskTextResult {
    const ctxLen = this.context.length;
    const window = this.context + this.pending;
    const { findings, replacements } = this.profile.scanText(window);
    let cut = final ? window.length : window.length - this.tail;
    if (!final) {
      for (const f of findings) {
        if (f.start < cut && f.end > cut) {
          // Straddles the cut: hold it back whole, or emit it whole if it starts in context.
          cut = f.start > ctxLen ? f.start : f.end;
          break;
        }
      }
    }
    if (cut <= ctxLen) return { text: '', findings: [] };
    const emitted: Finding[] = [];
    const emittedReplacements: (string | null)[] = [];
    findings.forEach((f, i) => {
      if (f.end <= ctxLen || f.start >= cut) return;
      // A value that began in text already emitted (longer than the tail): mask the rest of it.
      emitted.push(f.start >= ctxLen ? f : { ...f, start: ctxLen });
      emittedReplacements.push(replacements[i]!);
    });
    const text = splice(window, emitted, emittedReplacements, ctxLen, cut);
    const shift = this.base - ctxLen;
    const out = emitted.map((f) => ({ ...f, start: f.start + shift, end: f.end + shift }));
    const consumed = cut - ctxLen;
    this.context = window.slice(Math.max(0, cut - this.contextSize), cut);
    this.pending = this.pending.slice(consumed);
    this.base += consumed;
    return { text, findings: out };
  }
}
