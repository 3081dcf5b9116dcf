// Building blocks shared by the analysers: a mutable accumulator for one part, and the
// functions that fold parts into the Intent the gate sees.
import { classRank, riskiestClass } from '../gate/types.js';
import type { Intent, IntentClass, IntentObjects, PartIntent, PathRef, TableRef } from '../gate/types.js';

export function emptyObjects(): IntentObjects {
  return { tables: [], programs: [], paths: [], hosts: [], functions: [] };
}

/** Accumulates what one statement or simple command does; the riskiest contribution wins. */
export class PartBuilder {
  kind: string;
  private cls: IntentClass | undefined;
  private readonly flagSet = new Set<string>();
  private readonly tableMap = new Map<string, TableRef>();
  private readonly pathMap = new Map<string, PathRef>();
  private readonly programSet = new Set<string>();
  private readonly hostSet = new Set<string>();
  private readonly functionSet = new Set<string>();
  private readonly errors: string[] = [];

  constructor(kind: string, cls?: IntentClass) {
    this.kind = kind;
    this.cls = cls;
  }

  get class(): IntentClass {
    return this.cls ?? 'unknown';
  }

  /** The class raised so far, or undefined if nothing has been found yet. */
  current(): IntentClass | undefined {
    return this.cls;
  }

  get flagList(): readonly string[] {
    return [...this.flagSet];
  }

  get pathList(): readonly PathRef[] {
    return [...this.pathMap.values()];
  }

  get hostList(): readonly string[] {
    return [...this.hostSet];
  }

  /** Raise the class to `c` if `c` is riskier than what is there. */
  raise(c: IntentClass): this {
    if (this.cls === undefined || classRank(c) > classRank(this.cls)) this.cls = c;
    return this;
  }

  /** Mark the part unknown and remember why. */
  unknown(reason: string): this {
    this.cls = 'unknown';
    if (this.errors.length < 8 && !this.errors.includes(reason)) this.errors.push(reason);
    return this;
  }

  flag(...flags: string[]): this {
    for (const f of flags) this.flagSet.add(f);
    return this;
  }

  hasFlag(f: string): boolean {
    return this.flagSet.has(f);
  }

  table(name: string, schema: string | undefined, access: 'read' | 'write'): this {
    const key = `${schema ?? ''}\u0000${name}\u0000${access}`;
    if (!this.tableMap.has(key)) {
      const ref: TableRef = schema === undefined ? { name, access } : { schema, name, access };
      this.tableMap.set(key, ref);
    }
    return this;
  }

  path(path: string, access: 'read' | 'write'): this {
    const key = `${access}\u0000${path}`;
    if (!this.pathMap.has(key)) this.pathMap.set(key, { path, access });
    return this;
  }

  program(name: string): this {
    this.programSet.add(name);
    return this;
  }

  host(name: string): this {
    if (name !== '') this.hostSet.add(name);
    return this;
  }

  fn(name: string): this {
    this.functionSet.add(name);
    return this;
  }

  /** Fold another part's effects into this one (used when a statement embeds another). */
  absorb(p: PartIntent): this {
    this.raise(p.class);
    if (p.class === 'unknown' && p.error !== undefined) this.unknown(p.error);
    this.flag(...p.flags);
    for (const t of p.objects.tables) this.table(t.name, t.schema, t.access);
    for (const x of p.objects.paths) this.path(x.path, x.access);
    for (const x of p.objects.programs) this.program(x);
    for (const x of p.objects.hosts) this.host(x);
    for (const x of p.objects.functions) this.fn(x);
    return this;
  }

  build(): PartIntent {
    const part: PartIntent = {
      class: this.class,
      kind: this.kind,
      objects: {
        tables: [...this.tableMap.values()],
        programs: [...this.programSet],
        paths: [...this.pathMap.values()],
        hosts: [...this.hostSet],
        functions: [...this.functionSet],
      },
      flags: [...this.flagSet],
    };
    if (part.class === 'unknown') part.error = this.errors.length > 0 ? this.errors.join('; ') : 'not understood';
    return part;
  }
}

/** Fold parts into an Intent: riskiest class, union of objects and flags. */
export function combineParts(language: string, parts: PartIntent[], inputFlags: string[] = [], error?: string): Intent {
  const all = new PartBuilder('');
  const classes = new Set<IntentClass>();
  const flags = new Set<string>(inputFlags);
  for (const p of parts) {
    classes.add(p.class);
    for (const f of p.flags) flags.add(f);
    for (const t of p.objects.tables) all.table(t.name, t.schema, t.access);
    for (const x of p.objects.paths) all.path(x.path, x.access);
    for (const x of p.objects.programs) all.program(x);
    for (const x of p.objects.hosts) all.host(x);
    for (const x of p.objects.functions) all.fn(x);
  }
  const cls: IntentClass = error !== undefined ? 'unknown' : riskiestClass(classes);
  if (error !== undefined) classes.add('unknown');
  const built = all.build();
  const intent: Intent = {
    language,
    class: cls,
    classes: [...classes],
    objects: built.objects,
    flags: [...flags],
    parts,
  };
  if (error !== undefined) intent.error = error;
  return intent;
}

/** The Intent for input that could not be analysed at all. */
export function unknownIntent(language: string, error: string, flags: string[] = []): Intent {
  return {
    language,
    class: 'unknown',
    classes: ['unknown'],
    objects: emptyObjects(),
    flags,
    parts: [],
    error,
  };
}

/** Freeze an Intent and everything in it, so a cached copy cannot be altered by a caller. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}
