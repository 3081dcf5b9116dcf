// Holds the current compiled policy and swaps in a new one when the policy file changes.
// Doors keep a reference to the holder, not to a policy, so sessions carry on across
// reloads and simply see the new rules from their next command.
//
// Watching: the file's directory is watched rather than the file, because editors often
// save by writing a temporary file and renaming it over the original, which leaves a
// watcher on the old inode deaf. A slow stat poll backs this up on filesystems where
// fs.watch misses events (network mounts, some containers) and for files reached through a
// symlink that is swapped (Kubernetes ConfigMaps): stat follows the link, so a new inode
// shows up there even though no event names the file. Events are debounced so a
// save that truncates and then writes is loaded once, after the write.
//
// A reload that fails keeps the last good policy and reports the error; nothing here
// throws into the caller's event loop.
import { watch, watchFile, unwatchFile, type FSWatcher, type Stats } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Action, Decision, PolicyDecider } from '../gate/types.js';
import { POLICY_ERROR_RULE, type CompiledPolicy } from './compile.js';

export interface PolicyHolderOptions<T extends PolicyDecider = CompiledPolicy> {
  /** Files whose changes trigger a reload, typically the config file. */
  files: string | readonly string[];
  /** Reads, validates and compiles the policy; rejects when the file is broken. */
  load: () => Promise<T>;
  /** Called after a new policy is in place. */
  onChange?: (policy: T) => void;
  /** Called when a reload fails (the previous policy stays) or watching fails. */
  onError?: (error: Error) => void;
  /** Quiet time after the last file event before reloading. Default 150 ms. */
  debounceMs?: number;
  /** Stat polling interval as a fallback to fs.watch; 0 turns it off. Default 2000 ms. */
  pollIntervalMs?: number;
}

export class PolicyHolder<T extends PolicyDecider = CompiledPolicy> implements PolicyDecider {
  #current: T;
  #version = 1;
  readonly #opts: PolicyHolderOptions<T>;
  readonly #files: string[];
  readonly #watchers: FSWatcher[] = [];
  readonly #polled: { file: string; listener: (curr: Stats, prev: Stats) => void }[] = [];
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<boolean> | undefined;
  #pending = false;
  #closed = false;

  /**
   * Loads the policy once, then holds and watches it. Rejects if this first load fails:
   * there is no last good policy to fall back on, and the gateway must not start without one.
   */
  static async start<T extends PolicyDecider = CompiledPolicy>(opts: PolicyHolderOptions<T>): Promise<PolicyHolder<T>> {
    const holder = new PolicyHolder(await opts.load(), opts);
    holder.watch();
    return holder;
  }

  /** Holds `initial` (already loaded by the caller); call watch() to follow the files. */
  constructor(initial: T, opts: PolicyHolderOptions<T>) {
    this.#current = initial;
    this.#opts = opts;
    this.#files = (typeof opts.files === 'string' ? [opts.files] : [...opts.files]).map((f) => resolve(f));
  }

  /** The policy in force now. */
  get current(): T {
    return this.#current;
  }

  /** Increases by one every time a new policy is put in place (starts at 1). */
  get version(): number {
    return this.#version;
  }

  /** The current policy's decision; a policy that throws (none of ours does) means deny. */
  decide(action: Action): Decision {
    try {
      return this.#current.decide(action);
    } catch (e) {
      return {
        effect: 'deny',
        rule: POLICY_ERROR_RULE,
        reason: `the policy could not evaluate this command, so it is denied (fail-closed): ${e instanceof Error ? e.message : String(e)}`,
        matched: [],
      };
    }
  }

  /** Starts following the files (start() calls it). Idempotent. */
  watch(): void {
    if (this.#closed || this.#watchers.length > 0 || this.#polled.length > 0) return;
    const byDir = new Map<string, Set<string>>();
    for (const f of this.#files) {
      const names = byDir.get(dirname(f)) ?? new Set<string>();
      names.add(basename(f));
      byDir.set(dirname(f), names);
    }
    for (const [dir, names] of byDir) {
      try {
        const w = watch(dir, { persistent: false }, (_event, filename) => {
          // Some platforms do not report the name; reload to be safe.
          if (filename === null || names.has(filename.toString())) this.#schedule();
        });
        w.on('error', (e) => this.#report(e));
        this.#watchers.push(w);
      } catch (e) {
        // The directory may not exist yet; the stat poll below still notices the file.
        this.#report(e);
      }
    }
    const interval = this.#opts.pollIntervalMs ?? 2000;
    if (interval > 0) {
      for (const file of this.#files) {
        const listener = (curr: Stats, prev: Stats): void => {
          if (curr.mtimeMs !== prev.mtimeMs || curr.size !== prev.size || curr.ino !== prev.ino) this.#schedule();
        };
        watchFile(file, { persistent: false, interval }, listener);
        this.#polled.push({ file, listener });
      }
    }
  }

  /**
   * Loads the policy now (for SIGHUP or an API call). Resolves true if a new policy is in
   * place, false if loading failed and the previous policy stays. Never rejects. Calls made
   * while a load runs are folded into one more load after it.
   */
  reload(): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    if (this.#running) {
      this.#pending = true;
      return this.#running;
    }
    const run = this.#loop().finally(() => {
      this.#running = undefined;
    });
    this.#running = run;
    return run;
  }

  /** Stops watching. The current policy stays usable. */
  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const w of this.#watchers.splice(0)) w.close();
    for (const { file, listener } of this.#polled.splice(0)) unwatchFile(file, listener);
  }

  async #loop(): Promise<boolean> {
    let ok = false;
    do {
      this.#pending = false;
      ok = await this.#loadOnce();
    } while (this.#pending && !this.#closed);
    return ok;
  }

  async #loadOnce(): Promise<boolean> {
    let next: T;
    try {
      next = await this.#opts.load();
    } catch (e) {
      this.#report(e);
      return false;
    }
    if (this.#closed) return false;
    this.#current = next;
    this.#version++;
    try {
      this.#opts.onChange?.(next);
    } catch (e) {
      this.#report(e);
    }
    return true;
  }

  #schedule(): void {
    if (this.#closed) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.reload();
    }, this.#opts.debounceMs ?? 150);
    this.#timer.unref();
  }

  #report(e: unknown): void {
    try {
      this.#opts.onError?.(e instanceof Error ? e : new Error(String(e)));
    } catch {
      // An error callback that throws must not take the gateway down with it.
    }
  }
}
