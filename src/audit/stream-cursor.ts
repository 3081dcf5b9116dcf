// The durable cursor of the audit stream: for each target, the last seq it has delivered. Kept
// in a small JSON file outside the store (no migration, and the audit tables stay append-only),
// replaced atomically (write, fsync, rename) so a crash leaves either the old or the new file.
// Losing an update only means a batch is delivered again: delivery is at-least-once.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export interface StreamCursorStore {
  /** The last delivered seq of a target, or undefined if it never delivered anything. */
  get(target: string): number | undefined;
  set(target: string, seq: number): Promise<void>;
}

interface CursorFile {
  version: 1;
  targets: Record<string, { seq: number; time: string }>;
}

/** Cursors for an in-memory store: they live as long as the store does. */
export class MemoryCursorStore implements StreamCursorStore {
  private readonly seqs = new Map<string, number>();
  get(target: string): number | undefined {
    return this.seqs.get(target);
  }
  async set(target: string, seq: number): Promise<void> {
    this.seqs.set(target, seq);
  }
}

export class FileCursorStore implements StreamCursorStore {
  private state: CursorFile;
  /** Writes are chained so two targets never write the file at once. */
  private writing: Promise<void> = Promise.resolve();

  constructor(readonly path: string) {
    this.state = FileCursorStore.read(path);
  }

  /** Reads the file; a missing file is an empty state, a damaged one is an error (fail closed). */
  static read(path: string): CursorFile {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, targets: {} };
      throw new Error(`cannot read the audit stream state ${path}: ${(error as Error).message}`);
    }
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      throw new Error(`the audit stream state ${path} is not valid JSON; fix or remove it (a removed file restarts every target from its start setting)`);
    }
    const targets = (v as { targets?: unknown } | null)?.targets;
    if (typeof targets !== 'object' || targets === null || Array.isArray(targets)) throw new Error(`the audit stream state ${path} has no targets object`);
    const out: CursorFile = { version: 1, targets: {} };
    for (const [name, entry] of Object.entries(targets as Record<string, unknown>)) {
      const seq = (entry as { seq?: unknown } | null)?.seq;
      if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) throw new Error(`the audit stream state ${path}: target ${name} has no valid seq`);
      out.targets[name] = { seq, time: String((entry as { time?: unknown }).time ?? '') };
    }
    return out;
  }

  get(target: string): number | undefined {
    return this.state.targets[target]?.seq;
  }

  set(target: string, seq: number): Promise<void> {
    this.state.targets[target] = { seq, time: new Date().toISOString() };
    const text = `${JSON.stringify(this.state)}\n`;
    const next = this.writing.then(() => this.write(text));
    this.writing = next.catch(() => undefined);
    return next;
  }

  private write(text: string): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
  }
}
