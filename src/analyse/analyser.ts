// Analysers turn a raw command into an Intent. One per language; doors never classify
// commands themselves.
import type { Intent } from '../gate/types.js';

/** Per-session state an analyser may need (e.g. prepared statements seen earlier). */
export interface AnalysisSession {
  /** Intents of statements prepared in this session, by statement name. */
  prepared: Map<string, Intent>;
}

export interface Analyser {
  /** The language this analyser understands, e.g. `postgres` or `shell`. */
  readonly language: string;
  /**
   * Classify a command. Never throws: anything that cannot be parsed or understood yields
   * an Intent of class `unknown` with `error` set.
   */
  analyse(command: string, session?: AnalysisSession): Intent;
}
