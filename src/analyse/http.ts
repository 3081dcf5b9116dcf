// HTTP intent analyser: a request is classified by its method and route, and requests to the
// Kubernetes API by the verb and resource the API server would derive (http-kubernetes.ts).
//
// Command format (strict; anything else is unknown):
//
//   METHOD SP TARGET [SP HTTP/1.0|HTTP/1.1|HTTP/2]
//   [Header-Name: value]...          one per line
//   [empty line, then the body]      not analysed
//
// METHOD is an upper-case token (methods are case-sensitive: `get` is not GET). TARGET is an
// absolute http(s) URL or a path starting with `/`. Lines end with LF or CRLF. The host is the
// URL's, or the Host header's for a path; both present and different is unknown.
import type { Intent, IntentClass } from '../gate/types.js';
import type { Analyser, AnalysisSession } from './analyser.js';
import { kubernetesEffect, kubernetesRequest, qualifiedResource } from './http-kubernetes.js';
import { PartBuilder, combineParts, unknownIntent } from './intent.js';

const LANGUAGE = 'http';

/** Longest request text (UTF-16 code units) that is analysed. */
export const MAX_HTTP_INPUT = 1_048_576;

/** Class of each method; methods not listed are unknown. */
const METHODS: Readonly<Record<string, IntentClass>> = {
  GET: 'read',
  HEAD: 'read',
  OPTIONS: 'read',
  POST: 'write',
  PUT: 'write',
  PATCH: 'write',
  DELETE: 'write',
};

/** Headers some servers and frameworks honour to run another method than the request line's. */
const METHOD_OVERRIDES = ['x-http-method-override', 'x-http-method', 'x-method-override'];

export interface HttpAnalyserOptions {
  /**
   * When to read paths as Kubernetes API requests: `auto` (default) for paths under /api/ or
   * /apis/ (on `kubernetesHosts` only, when given), `always`, or `never`.
   */
  kubernetes?: 'auto' | 'always' | 'never';
  /** Hosts (`host` or `host:port`) that serve the Kubernetes API. */
  kubernetesHosts?: readonly string[];
  /** More methods and their class (`PROPFIND: 'read'`); names are upper case. */
  methods?: Readonly<Record<string, IntentClass>>;
  maxInputLength?: number;
}

/** Resources whose bodies hold pod specs. */
const WORKLOADS = new Set(['pods', 'deployments', 'daemonsets', 'statefulsets', 'replicasets', 'jobs', 'cronjobs', 'replicationcontrollers', 'podtemplates']);
/** Pod spec fields that give a container the host: JSON or YAML bodies. */
const PRIVILEGED_SPEC = /["']?(privileged|hostPID|hostIPC|hostNetwork|allowPrivilegeEscalation)["']?\s*:\s*["']?true\b|["']?hostPath["']?\s*:|SYS_ADMIN|["']?hostUsers["']?\s*:\s*["']?true\b/;
const K8S_VERSION = /^v\d+((alpha|beta)\d+)?$/;
const K8S_GROUP = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const METHOD_TOKEN = /^[A-Z][A-Z0-9_-]*$/;
const VERSION = /^HTTP\/(1\.0|1\.1|2|2\.0|3)$/;

export class HttpAnalyser implements Analyser {
  readonly language = LANGUAGE;
  private readonly methods: Readonly<Record<string, IntentClass>>;
  private readonly k8sMode: 'auto' | 'always' | 'never';
  private readonly k8sHosts: ReadonlySet<string> | undefined;
  private readonly maxInput: number;

  constructor(options: HttpAnalyserOptions = {}) {
    this.methods = { ...METHODS, ...options.methods };
    this.k8sMode = options.kubernetes ?? 'auto';
    this.k8sHosts = options.kubernetesHosts === undefined ? undefined : new Set(options.kubernetesHosts.map((h) => h.toLowerCase()));
    this.maxInput = options.maxInputLength ?? MAX_HTTP_INPUT;
  }

  /** Results never depend on the session, so they may always be cached. */
  analyseCacheable(command: string, session?: AnalysisSession): { intent: Intent; cacheable: boolean } {
    return { intent: this.analyse(command, session), cacheable: true };
  }

  analyse(command: string, _session?: AnalysisSession): Intent {
    try {
      return this.run(command);
    } catch (e) {
      return unknownIntent(LANGUAGE, `analysis failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private run(command: string): Intent {
    if (typeof command !== 'string') return unknownIntent(LANGUAGE, 'command is not a string');
    if (command.length > this.maxInput) {
      return unknownIntent(LANGUAGE, `input of ${command.length} characters is over the ${this.maxInput} limit for analysis`);
    }
    const { lines, body } = splitHead(command);
    const requestLine = lines[0] ?? '';
    const fields = requestLine.split(' ');
    if (fields.length < 2 || fields.length > 3 || fields.some((f) => f === '')) {
      return unknownIntent(LANGUAGE, 'request line must be METHOD SP TARGET [SP VERSION], single spaces');
    }
    const [method, target, version] = fields as [string, string, string | undefined];
    if (!METHOD_TOKEN.test(method)) return unknownIntent(LANGUAGE, `method ${JSON.stringify(method)} is not an upper-case token`);
    if (version !== undefined && !VERSION.test(version)) return unknownIntent(LANGUAGE, `unexpected protocol version ${JSON.stringify(version)}`);

    const headers = new Map<string, string[]>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      const name = colon > 0 ? line.slice(0, colon) : '';
      if (!TOKEN.test(name)) return unknownIntent(LANGUAGE, `malformed header line ${JSON.stringify(line.slice(0, 80))}`);
      const value = line.slice(colon + 1).trim();
      if (hasControl(value, true)) return unknownIntent(LANGUAGE, `control character in header ${name}`);
      const key = name.toLowerCase();
      headers.set(key, [...(headers.get(key) ?? []), value]);
    }

    const url = parseTarget(target, headers);
    if (typeof url === 'string') return unknownIntent(LANGUAGE, url);

    // The effective methods: the request line's and any override a server might honour.
    const effective = new Set([method]);
    for (const h of METHOD_OVERRIDES) for (const v of headers.get(h) ?? []) effective.add(v.trim());
    const parts = [...effective].map((m) => this.part(m, url, headers, body, m !== method));
    const flags: string[] = [];
    if (effective.size > 1) flags.push('method_override');
    return combineParts(LANGUAGE, parts, flags);
  }

  private part(method: string, url: Target, headers: ReadonlyMap<string, string[]>, body: string, override: boolean): ReturnType<PartBuilder['build']> {
    const b = new PartBuilder(method);
    if (override) b.flag('method_override');
    if (url.host !== undefined) b.host(url.host);
    if (url.credentials) b.flag('credentials_in_url');
    const cls = METHOD_TOKEN.test(method) ? this.methods[method] : undefined;
    b.path(url.path, cls === 'read' ? 'read' : 'write');
    const k8s = this.isKubernetes(url) ? kubernetesRequest(method, url.segments, url.query) : undefined;
    if (k8s !== undefined) {
      // The API server's own reading of the request is more precise than the method's.
      const e = kubernetesEffect(k8s);
      const res = k8s.resource === undefined ? '' : ` ${qualifiedResource(k8s)}${k8s.subresource === undefined ? '' : `/${k8s.subresource}`}`;
      b.kind = `k8s ${k8s.verb}${res}`;
      if (e.error !== undefined) b.unknown(e.error);
      else b.raise(e.class);
      b.flag(...e.flags);
      if (k8s.resource !== undefined) {
        const name = `${qualifiedResource(k8s)}${k8s.subresource === undefined ? '' : `/${k8s.subresource.split('/')[0]}`}`;
        const ns = k8s.resource === 'namespaces' && k8s.subresource === undefined ? undefined : k8s.namespace;
        b.table(name, ns, e.class === 'read' ? 'read' : 'write');
      }
      if (url.query.get('dryRun') !== null) b.flag('dry_run');
      if (k8s.verb === 'create' || k8s.verb === 'update' || k8s.verb === 'patch') {
        // A workload that asks for host access is root on the node it lands on.
        if (WORKLOADS.has(k8s.resource ?? '') && PRIVILEGED_SPEC.test(body)) b.raise('admin').flag('privileged_container');
      }
    } else if (cls === undefined) {
      b.unknown(`method ${JSON.stringify(method)} is not one the analyser classifies`);
    } else {
      b.raise(cls);
    }
    if (method === 'DELETE') b.flag('delete');
    // Kubernetes impersonation: the request runs as someone else.
    for (const h of headers.keys()) {
      if (h === 'impersonate-user' || h === 'impersonate-group' || h === 'impersonate-uid' || h.startsWith('impersonate-extra-')) {
        b.raise('privilege').flag('impersonation');
      }
    }
    return b.build();
  }

  private isKubernetes(url: Target): boolean {
    if (this.k8sMode === 'never') return false;
    if (this.k8sMode === 'always') return true;
    // Only paths shaped like the API server's: /api[/vN/...], /apis[/GROUP[/vN/...]].
    const [root, a, b] = url.segments;
    const shaped = (root === 'api' && (a === undefined || K8S_VERSION.test(a))) ||
      (root === 'apis' && (a === undefined || (K8S_GROUP.test(a) && (b === undefined || K8S_VERSION.test(b)))));
    if (!shaped) return false;
    if (this.k8sHosts === undefined || url.host === undefined) return true;
    return this.k8sHosts.has(url.host) || this.k8sHosts.has(url.hostname);
  }
}

interface Target {
  host: string | undefined;
  hostname: string;
  /** The path as sent (still percent-encoded). */
  path: string;
  /** Path segments, percent-decoded. */
  segments: string[];
  query: URLSearchParams;
  credentials: boolean;
}

/** Any control character (C0 or DEL), tab excepted when `tab`. */
function hasControl(s: string, tab: boolean): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 32 && !(tab && c === 9)) || c === 127) return true;
  }
  return false;
}

/** The request line and header lines, up to the empty line before the body, and the body. */
function splitHead(command: string): { lines: string[]; body: string } {
  const lines: string[] = [];
  let start = 0;
  for (;;) {
    const nl = command.indexOf('\n', start);
    const end = nl < 0 ? command.length : nl;
    const line = command.slice(start, end > start && command.charCodeAt(end - 1) === 13 ? end - 1 : end);
    if (line === '' && lines.length > 0) return { lines, body: nl < 0 ? '' : command.slice(nl + 1) };
    lines.push(line);
    if (nl < 0) return { lines, body: '' };
    start = nl + 1;
  }
}

/** Parse a request target strictly; a string is the reason it was refused. */
function parseTarget(target: string, headers: ReadonlyMap<string, string[]>): Target | string {
  if (hasControl(target, false) || /[^\u0021-\u007e]|["<>\\^`{|}#]/.test(target)) return 'request target contains characters a URL may not';
  const hostHeaders = headers.get('host') ?? [];
  if (hostHeaders.length > 1) return 'more than one Host header';
  const hostHeader = hostHeaders[0]?.toLowerCase();
  let url: URL;
  let absolute: boolean;
  if (target.startsWith('/')) {
    if (target.startsWith('//')) return 'request target starts with //';
    absolute = false;
    if (hostHeader !== undefined && !/^[a-z0-9.-]+(:\d+)?$|^\[[0-9a-f:.]+\](:\d+)?$/.test(hostHeader)) return 'malformed Host header';
    url = new URL(target, `http://${hostHeader ?? 'host.invalid'}`);
  } else if (/^https?:\/\//i.test(target)) {
    absolute = true;
    try {
      url = new URL(target);
    } catch {
      return 'malformed URL';
    }
  } else {
    return 'request target must be an absolute http(s) URL or a path starting with /';
  }
  // The path as sent must already be canonical: servers differ on dot segments, empty
  // segments and encoded slashes, and a gate must read the path as the server will.
  const rawPath = target.slice(absolute ? target.indexOf('/', target.indexOf('//') + 2) >>> 0 : 0).split('?')[0] ?? '';
  const rawSegments = rawPath === '' ? [] : rawPath.split('/').slice(1);
  for (const s of rawSegments.slice(0, -1)) if (s === '') return 'path contains an empty segment (//)';
  for (const s of rawSegments) {
    if (s === '.' || s === '..') return 'path contains a dot segment';
    if (/%(2f|5c|2e|25|00)/i.test(s)) return 'path contains an encoded slash, backslash, dot, percent or NUL';
  }
  let segments: string[];
  try {
    segments = rawSegments.map((s) => decodeURIComponent(s));
  } catch {
    return 'path contains malformed percent-encoding';
  }
  if (segments.length > 0 && segments[segments.length - 1] === '') segments = segments.slice(0, -1);
  const host = absolute ? url.host.toLowerCase() : hostHeader;
  if (absolute && hostHeader !== undefined && hostHeader !== url.host.toLowerCase()) return 'Host header differs from the URL host';
  return {
    host,
    hostname: absolute ? url.hostname.toLowerCase() : (hostHeader ?? '').replace(/:\d+$/, ''),
    path: url.pathname,
    segments,
    query: url.searchParams,
    credentials: absolute && (url.username !== '' || url.password !== ''),
  };
}

/** An HTTP analyser (synchronous; the factory is async like the others). */
export async function createHttpAnalyser(options: HttpAnalyserOptions = {}): Promise<HttpAnalyser> {
  return new HttpAnalyser(options);
}
