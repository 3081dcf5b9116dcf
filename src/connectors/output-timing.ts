// When a command's output arrived, for session recordings (audit/recording.ts).
//
// The shell connector notes, per chunk it keeps, the time since the command started and how
// many complete lines the chunk ended; the recorder later lays the MASKED text over those
// times line by line. Only times and counts are kept here, never output.
//
// The timeline travels with the ExecutionResult under a symbol key: object spread (which the
// gate's redaction and masking use to copy results) keeps it, while JSON (the REST answer,
// MCP structured content) leaves it out, so callers never see it.

export type OutputStream = 'stdout' | 'stderr';

export interface OutputChunkTiming {
  /** Milliseconds since the command started. */
  t: number;
  stream: OutputStream;
  /** Newlines in the kept bytes of this chunk. */
  lines: number;
}

export interface OutputTiming {
  chunks: OutputChunkTiming[];
  /** Milliseconds from start until the command ended. */
  endMs: number;
}

// A command printing one byte per write could make a list as long as its output; past this
// many entries a chunk is folded into the previous one of the same stream (times stay in order).
const MAX_CHUNKS = 4096;
const NEWLINE = 0x0a;

const TIMING = Symbol('sluice.outputTiming');

export class OutputTimeline {
  private readonly started = performance.now();
  private readonly chunks: OutputChunkTiming[] = [];

  /** Notes a chunk of kept output (the part within the output limit). */
  note(stream: OutputStream, kept: Uint8Array): void {
    if (kept.length === 0) return;
    let lines = 0;
    for (let i = kept.indexOf(NEWLINE); i !== -1; i = kept.indexOf(NEWLINE, i + 1)) lines++;
    const t = this.elapsed();
    const last = this.chunks[this.chunks.length - 1];
    if (this.chunks.length >= MAX_CHUNKS && last && last.stream === stream) {
      last.t = t;
      last.lines += lines;
      return;
    }
    if (this.chunks.length >= MAX_CHUNKS * 2) return; // alternating streams: keep the bound anyway
    this.chunks.push({ t, stream, lines });
  }

  finish(): OutputTiming {
    return { chunks: this.chunks, endMs: this.elapsed() };
  }

  private elapsed(): number {
    return Math.round((performance.now() - this.started) * 1000) / 1000;
  }
}

/** Attaches a timeline to a result (returns the same object). */
export function attachOutputTiming<T extends object>(result: T, timing: OutputTiming): T {
  (result as Record<symbol, unknown>)[TIMING] = timing;
  return result;
}

/** The timeline a connector attached to a result (or to a copy of it), if any. */
export function outputTimingOf(result: object): OutputTiming | undefined {
  return (result as Record<symbol, OutputTiming | undefined>)[TIMING];
}
