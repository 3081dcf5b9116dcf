// Intent of an upstream MCP call. The command is `tool({...json args...})`, or
// `prompt:name({...})` / `resource:read({"uri":"..."})` (see connectors/mcp.ts). Prompts and
// resource reads are reads. The class comes from the tool's annotations, as the upstream lists
// them (readOnlyHint, destructiveHint), and from its name; a tool nothing is known about is
// `unknown`, so a default policy stays cautious. Annotations are hints from a server the
// operator configured; a name that says "delete" outweighs a readOnlyHint.
import type { Intent, IntentClass, PathRef } from '../gate/types.js';
import type { Analyser } from './analyser.js';
import { unknownIntent } from './intent.js';

export const MCP_LANGUAGE = 'mcp';
export const MAX_MCP_INPUT = 4 * 1024 * 1024;

/** The annotation hints of one tool as its upstream lists them. */
export interface ToolHints {
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  openWorldHint?: boolean;
}

// Hints by tool name, per registering owner (one upstream connection). Analysers are shared
// by language, and the command names the tool only, so when two upstreams offer the same
// name the riskiest reading wins (a tool is read-only only if every owner says so).
const hintsByTool = new Map<string, Map<object, ToolHints>>();

/** Records (replaces) the hints of an owner's tools; called when its tool list changes. */
export function registerToolHints(owner: object, tools: ReadonlyMap<string, ToolHints>): void {
  forgetToolHints(owner);
  for (const [tool, hints] of tools) {
    let owners = hintsByTool.get(tool);
    if (!owners) hintsByTool.set(tool, (owners = new Map()));
    owners.set(owner, hints);
  }
}

export function forgetToolHints(owner: object): void {
  for (const [tool, owners] of hintsByTool) {
    if (owners.delete(owner) && owners.size === 0) hintsByTool.delete(tool);
  }
}

export interface UpstreamCall {
  op: 'tool' | 'prompt' | 'resource';
  /** Tool or prompt name; `read` for a resource. */
  name: string;
  args: Record<string, unknown>;
}

/** Splits `tool({...})`, `prompt:name({...})` or `resource:read({"uri":...})`; undefined when malformed. */
export function parseUpstreamCommand(command: string): UpstreamCall | undefined {
  const open = command.indexOf('(');
  if (open <= 0 || !command.endsWith(')')) return undefined;
  let head = command.slice(0, open);
  let op: UpstreamCall['op'] = 'tool';
  if (head.startsWith('prompt:')) {
    op = 'prompt';
    head = head.slice('prompt:'.length);
  } else if (head === 'resource:read') {
    op = 'resource';
    head = 'read';
  }
  if (!/^[A-Za-z0-9_.\-/]{1,128}$/.test(head)) return undefined;
  try {
    const args = JSON.parse(command.slice(open + 1, -1)) as unknown;
    if (args === null || typeof args !== 'object' || Array.isArray(args)) return undefined;
    if (op === 'resource' && typeof (args as { uri?: unknown }).uri !== 'string') return undefined;
    return { op, name: head, args: args as Record<string, unknown> };
  } catch {
    return undefined;
  }
}

/** Words in a tool name, e.g. `read_text_file` -> read, text, file; `getUser` -> get, user. */
function words(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

const DESTRUCTIVE = new Set(['delete', 'remove', 'rm', 'drop', 'destroy', 'purge', 'wipe', 'erase', 'truncate', 'kill', 'terminate', 'reset', 'revoke', 'overwrite']);
const EXECUTE = new Set(['exec', 'execute', 'run', 'eval', 'shell', 'command', 'script', 'spawn', 'invoke', 'deploy']);
const WRITE = new Set(['write', 'create', 'update', 'set', 'edit', 'modify', 'move', 'rename', 'copy', 'put', 'post', 'patch', 'insert', 'add', 'upload', 'send', 'save', 'append', 'mkdir', 'make', 'apply', 'merge', 'push', 'commit', 'publish', 'grant', 'change', 'replace', 'toggle', 'start', 'stop', 'restart', 'trigger']);
const READ = new Set(['get', 'list', 'read', 'search', 'find', 'describe', 'show', 'view', 'fetch', 'lookup', 'stat', 'count', 'head', 'tail', 'echo', 'inspect', 'query', 'browse', 'directory', 'tree', 'info']);
// `query` reads in most tool servers, but SQL tools called query can write: only a leading
// read verb counts, and `query` is left out of the leading verbs.
const LEADING_READ = new Set([...READ].filter((word) => word !== 'query' && word !== 'directory' && word !== 'tree' && word !== 'info'));

function classify(tool: string, hints: ToolHints[] | undefined): { class: IntentClass; flags: string[]; why: string } {
  const parts = words(tool);
  if (parts.some((w) => DESTRUCTIVE.has(w))) return { class: 'write', flags: ['destructive'], why: 'name' };
  if (parts.some((w) => EXECUTE.has(w))) return { class: 'execute', flags: [], why: 'name' };
  if (hints && hints.length > 0) {
    if (hints.every((h) => h.readOnlyHint === true)) {
      return { class: 'read', flags: hints.some((h) => h.openWorldHint === true) ? ['open-world'] : [], why: 'annotations' };
    }
    if (hints.every((h) => h.readOnlyHint === false)) {
      // The spec's default for destructiveHint is true: only an explicit false is additive.
      const destructive = hints.some((h) => h.destructiveHint !== false);
      return { class: 'write', flags: destructive ? ['destructive'] : [], why: 'annotations' };
    }
  }
  if (parts.some((w) => WRITE.has(w))) return { class: 'write', flags: [], why: 'name' };
  if (parts.length > 0 && LEADING_READ.has(parts[0]!)) return { class: 'read', flags: [], why: 'name' };
  return { class: 'unknown', flags: [], why: 'nothing known' };
}

const PATH_KEYS = new Set(['path', 'paths', 'source', 'destination', 'file', 'files', 'filename', 'directory', 'dir', 'root']);

function pathsIn(args: Record<string, unknown>, access: PathRef['access']): PathRef[] {
  const out: PathRef[] = [];
  for (const [key, value] of Object.entries(args)) {
    if (!PATH_KEYS.has(key.toLowerCase())) continue;
    const items = Array.isArray(value) ? value : [value];
    for (const item of items) if (typeof item === 'string' && item !== '') out.push({ path: item, access });
  }
  return out.slice(0, 64);
}

export class McpAnalyser implements Analyser {
  readonly language = MCP_LANGUAGE;

  analyse(command: string): Intent {
    if (command.length > MAX_MCP_INPUT) return unknownIntent(MCP_LANGUAGE, `tool call longer than ${MAX_MCP_INPUT} characters`);
    const call = parseUpstreamCommand(command);
    if (!call) return unknownIntent(MCP_LANGUAGE, 'not a call of the form tool({...})');
    if (call.op !== 'tool') return readIntent(call);
    const owners = hintsByTool.get(call.name);
    const found = classify(call.name, owners ? [...owners.values()] : undefined);
    const access: PathRef['access'] = found.class === 'read' ? 'read' : 'write';
    const paths = pathsIn(call.args, access);
    const flags = found.flags;
    // The tool name goes under functions: it is what was called.
    const objects = { tables: [], programs: [], paths, hosts: [], functions: [call.name] };
    const error = found.class === 'unknown' ? { error: `no annotations or telling name for MCP tool "${call.name}"` } : {};
    return {
      language: MCP_LANGUAGE,
      class: found.class,
      classes: [found.class],
      objects,
      flags,
      parts: [{ class: found.class, kind: call.name, objects, flags, ...error }],
    };
  }
}

/** Getting a prompt or reading a resource: a read; a file URI's path and a URL's host are its objects. */
function readIntent(call: UpstreamCall): Intent {
  const paths: PathRef[] = [];
  const hosts: string[] = [];
  if (call.op === 'resource') {
    const uri = String(call.args.uri);
    try {
      const url = new URL(uri);
      if (url.protocol === 'file:') paths.push({ path: decodeURIComponent(url.pathname), access: 'read' });
      else if (url.hostname) hosts.push(url.hostname);
    } catch {
      // Not a URL: the policy still sees it as args.uri.
    }
  }
  const objects = { tables: [], programs: [], paths, hosts, functions: call.op === 'prompt' ? [`prompt:${call.name}`] : [] };
  const kind = call.op === 'prompt' ? `prompt:${call.name}` : 'resource:read';
  return { language: MCP_LANGUAGE, class: 'read', classes: ['read'], objects, flags: [], parts: [{ class: 'read', kind, objects, flags: [] }] };
}

export function createMcpAnalyser(): McpAnalyser {
  return new McpAnalyser();
}
