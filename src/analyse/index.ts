// The analysers Sluice ships, keyed by language, and the mapping from connection kinds to
// languages. Every analyser returned here is cached by command text; PostgreSQL also by
// statement shape (literals replaced, see sql-shape.ts).
import type { Intent } from '../gate/types.js';
import type { Analyser, AnalysisSession } from './analyser.js';
import { CachingAnalyser, LruCache, type LruCacheOptions, type ShapeFunction } from './cache.js';
import { unknownIntent } from './intent.js';
import { MAX_POSTGRES_INPUT, createPostgresAnalyser, type PostgresAnalyserOptions } from './postgres.js';
import { createShellAnalyser, type ShellAnalyserOptions } from './shell.js';
import { createMysqlAnalyser, type MysqlAnalyserOptions } from './mysql.js';
import { createHttpAnalyser, type HttpAnalyserOptions } from './http.js';
import { MAX_SHAPE_INPUT, postgresShape } from './sql-shape.js';
import { createMcpAnalyser, MCP_LANGUAGE } from './mcp.js';

export type { Analyser, AnalysisSession } from './analyser.js';
export { CachingAnalyser, LruCache } from './cache.js';
export { PostgresAnalyser, createPostgresAnalyser, MAX_POSTGRES_INPUT } from './postgres.js';
export { ShellAnalyser, createShellAnalyser, MAX_SHELL_INPUT } from './shell.js';
export { createMysqlAnalyser, MAX_MYSQL_INPUT } from './mysql.js';
export { createHttpAnalyser, MAX_HTTP_INPUT } from './http.js';
export { postgresShape, MAX_SHAPE_INPUT } from './sql-shape.js';
export { createMcpAnalyser, MAX_MCP_INPUT, McpAnalyser } from './mcp.js';

export interface AnalysersOptions {
  postgres?: PostgresAnalyserOptions;
  shell?: ShellAnalyserOptions;
  mysql?: MysqlAnalyserOptions;
  http?: HttpAnalyserOptions;
  /** Bounds of the cache each analyser gets. */
  cache?: LruCacheOptions;
}

/**
 * Shape functions of the analysers that opt in to the shape cache (cache.ts). Each is proven
 * against its analyser only: see the list at the top of sql-shape.ts.
 */
const SHAPES: Readonly<Record<string, ShapeFunction>> = { postgres: postgresShape };

/** The languages Sluice analyses. */
export const LANGUAGES = ['postgres', 'mysql', 'shell', 'http'] as const;

/** Analysers by language (`postgres`, `mysql`, `shell`, `http`), each behind its own cache. */
export async function createAnalysers(options: AnalysersOptions = {}): Promise<Map<string, Analyser>> {
  const analysers = await Promise.all([
    createPostgresAnalyser(options.postgres),
    createMysqlAnalyser(options.mysql),
    createShellAnalyser(options.shell),
    createHttpAnalyser(options.http),
  ]);
  const map = new Map<string, Analyser>();
  // A PostgreSQL input limit below the shaped length would let a too-long text share the
  // Intent of a shorter one with the same shape; such a setup gets no shape cache.
  const pgLimit = options.postgres?.maxInputLength ?? MAX_POSTGRES_INPUT;
  for (const a of analysers) {
    const shape = a.language === 'postgres' && pgLimit < MAX_SHAPE_INPUT ? undefined : SHAPES[a.language];
    map.set(a.language, new CachingAnalyser(a, new LruCache<Intent>(options.cache), { shape }));
  }
  // Not cached by command text: a tool's class follows its upstream's annotations, which a
  // list-changed notification can change; parsing one small JSON call is cheap.
  map.set(MCP_LANGUAGE, createMcpAnalyser());
  return map;
}

/** The analyser language for a connection kind, or undefined when there is none (yet). */
const KIND_LANGUAGE: Record<string, string> = {
  postgres: 'postgres',
  postgresql: 'postgres',
  mysql: 'mysql',
  mariadb: 'mysql',
  http: 'http',
  https: 'http',
  kubernetes: 'http',
  k8s: 'http',
  shell: 'shell',
  ssh: 'shell',
  exec: 'shell',
  mcp: 'mcp',
};

export function languageForKind(kind: string): string | undefined {
  return KIND_LANGUAGE[kind.toLowerCase()];
}

/** An analyser for commands nobody can analyse: everything is unknown. */
export class UnknownAnalyser implements Analyser {
  constructor(readonly language: string) {}

  analyse(_command: string, _session?: AnalysisSession): Intent {
    return unknownIntent(this.language, `no analyser for ${this.language}`);
  }
}

/** The analyser for a connection kind; kinds without one get an analyser that answers unknown. */
export function analyserForKind(analysers: ReadonlyMap<string, Analyser>, kind: string): Analyser {
  const language = languageForKind(kind);
  return (language === undefined ? undefined : analysers.get(language)) ?? new UnknownAnalyser(kind);
}
