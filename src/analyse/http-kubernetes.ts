// Kubernetes API requests: the verb, resource, subresource and namespace the API server would
// derive from a method and path, and what that does. Mirrors the API server's own reading
// (/api/v1/..., /apis/GROUP/VERSION/..., namespaces/NS/RESOURCE/NAME/SUBRESOURCE, ?watch=).
import type { IntentClass } from '../gate/types.js';

export interface KubernetesRequest {
  /** get, list, watch, create, update, patch, delete, deletecollection, or the method for non-resource paths. */
  verb: string;
  /** API group; '' for the core group. */
  group: string;
  version: string;
  namespace?: string;
  resource?: string;
  name?: string;
  subresource?: string;
}

export interface KubernetesEffect {
  class: IntentClass;
  flags: string[];
  /** Set when the request is not one the analyser understands. */
  error?: string;
}

/** Subresources that run code in a container or open a connection into the cluster. */
const EXECUTE_SUBRESOURCES = new Set(['exec', 'attach', 'portforward', 'proxy']);
/** Review requests: POST creates nothing, it asks a question. */
const REVIEWS = new Set([
  'tokenreviews', 'subjectaccessreviews', 'selfsubjectaccessreviews', 'selfsubjectrulesreviews',
  'localsubjectaccessreviews', 'selfsubjectreviews',
]);
/** Who may do what. */
const RBAC = new Set(['roles', 'rolebindings', 'clusterroles', 'clusterrolebindings']);
/** Cluster-wide control: admission webhooks see and change every request; nodes run everything. */
const ADMIN_RESOURCES = new Set([
  'mutatingwebhookconfigurations', 'validatingwebhookconfigurations', 'validatingadmissionpolicies',
  'validatingadmissionpolicybindings', 'mutatingadmissionpolicies', 'mutatingadmissionpolicybindings', 'nodes',
  'apiservices', 'priorityclasses', 'runtimeclasses', 'storageclasses', 'persistentvolumes', 'csidrivers',
]);
/** New API types. */
const SCHEMA_RESOURCES = new Set(['customresourcedefinitions']);

const WATCH_TRUE = new Set(['true', '1']);
const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

/**
 * Read a Kubernetes API path (already percent-decoded, no dot segments) and its query.
 * Undefined when the path is not under /api or /apis.
 */
export function kubernetesRequest(method: string, segments: readonly string[], query: URLSearchParams): KubernetesRequest | undefined {
  let i: number;
  let group: string;
  let version: string;
  if (segments[0] === 'api') {
    group = '';
    version = segments[1] ?? '';
    i = 2;
  } else if (segments[0] === 'apis') {
    group = segments[1] ?? '';
    version = segments[2] ?? '';
    i = 3;
  } else {
    return undefined;
  }
  const base = { group, version };
  if (version === '') {
    // Discovery: /api, /apis, /apis/GROUP
    return { verb: method.toLowerCase(), ...base };
  }
  let watchPrefix = false;
  if (segments[i] === 'watch') {
    // Deprecated /watch/ prefix.
    watchPrefix = true;
    i++;
  }
  let namespace: string | undefined;
  let rest = segments.slice(i);
  if (rest[0] === 'namespaces' && rest.length >= 2) {
    namespace = rest[1];
    // namespaces/NAME[/status|/finalize] is the namespace object itself; anything else
    // under it is a namespaced resource.
    if (rest.length >= 3 && !NAMESPACE_SUBRESOURCES.has(rest[2] as string)) rest = rest.slice(2);
  }
  const [resource, name, subresource, ...extra] = rest;
  if (resource === undefined) return { verb: method.toLowerCase(), ...base };
  const r: KubernetesRequest = { verb: '', ...base, resource };
  if (namespace !== undefined) r.namespace = namespace;
  if (name !== undefined) r.name = name;
  if (subresource !== undefined) {
    // proxy subresources carry a path of their own after the subresource.
    r.subresource = extra.length > 0 && subresource !== 'proxy' ? [subresource, ...extra].join('/') : subresource;
  }
  const watch = watchPrefix || WATCH_TRUE.has((query.get('watch') ?? '').toLowerCase());
  switch (method) {
    case 'GET':
    case 'HEAD':
      r.verb = watch ? 'watch' : name === undefined ? 'list' : 'get';
      break;
    case 'POST': r.verb = 'create'; break;
    case 'PUT': r.verb = 'update'; break;
    case 'PATCH': r.verb = 'patch'; break;
    case 'DELETE': r.verb = name === undefined ? 'deletecollection' : 'delete'; break;
    default: r.verb = method.toLowerCase();
  }
  return r;
}

/** The qualified resource as kubectl writes it: `pods`, `deployments.apps`. */
export function qualifiedResource(r: KubernetesRequest): string {
  const res = r.resource ?? '';
  return r.group === '' ? res : `${res}.${r.group}`;
}

/** What a Kubernetes request does. */
export function kubernetesEffect(r: KubernetesRequest): KubernetesEffect {
  const flags: string[] = ['kubernetes'];
  const reads = r.verb === 'get' || r.verb === 'list' || r.verb === 'watch' || r.verb === 'head' || r.verb === 'options';
  const writes = ['create', 'update', 'patch', 'delete', 'deletecollection'].includes(r.verb);
  if (!reads && !writes) return { class: 'unknown', flags, error: `Kubernetes request with verb ${r.verb}` };
  const res = r.resource;
  const sub = r.subresource;
  if (res === undefined) return { class: reads ? 'read' : 'unknown', flags, ...(reads ? {} : { error: 'write to a discovery path' }) };
  if (res === 'secrets') flags.push('secret_access');
  if (r.verb === 'watch') flags.push('watch');
  if (r.verb === 'delete' || r.verb === 'deletecollection') flags.push('delete');
  if (r.verb === 'deletecollection') flags.push('delete_collection');
  if (sub !== undefined) {
    const first = sub.split('/')[0] as string;
    if (EXECUTE_SUBRESOURCES.has(first)) {
      // Runs a command in a container, attaches to one, or tunnels into the cluster.
      return { class: 'execute', flags: [...flags, first === 'proxy' ? 'proxy' : first === 'portforward' ? 'port_forward' : 'exec'] };
    }
    if (first === 'ephemeralcontainers' && writes) {
      // Adds a debug container to a running pod: a way to run code in it.
      return { class: 'execute', flags: [...flags, 'exec'] };
    }
    if (res === 'serviceaccounts' && first === 'token') {
      // Mints a token for the service account.
      return { class: 'privilege', flags: [...flags, 'secret_access', 'token'] };
    }
    if (first === 'approval' && res === 'certificatesigningrequests' && writes) return { class: 'privilege', flags };
    if (first === 'log' || first === 'status' || first === 'scale') return { class: reads ? 'read' : 'write', flags };
    if (first === 'eviction' || first === 'binding') return { class: 'write', flags };
    if (reads) return { class: 'read', flags };
    return { class: 'write', flags };
  }
  if (reads) return { class: 'read', flags };
  if (REVIEWS.has(res) && r.verb === 'create') return { class: 'read', flags };
  if (r.group === 'rbac.authorization.k8s.io' && RBAC.has(res)) return { class: 'privilege', flags };
  if (res === 'certificatesigningrequests' && r.verb === 'create') return { class: 'privilege', flags };
  if (res === 'serviceaccounts' && r.verb === 'create') return { class: 'write', flags };
  if (ADMIN_RESOURCES.has(res)) return { class: 'admin', flags };
  if (SCHEMA_RESOURCES.has(res)) return { class: 'schema', flags };
  if (res === 'namespaces' && (r.verb === 'delete' || r.verb === 'deletecollection')) return { class: 'write', flags: [...flags, 'cascade'] };
  return { class: 'write', flags };
}
