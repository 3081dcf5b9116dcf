// HTTP intent analyser: the command format, methods, paths and hosts, and the Kubernetes API
// mapped to its verbs. Each row asserts the class and what matters about flags and objects
// (Kubernetes resources are reported as tables: NAMESPACE.RESOURCE[.GROUP][/SUBRESOURCE]).
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createHttpAnalyser, MAX_HTTP_INPUT, type HttpAnalyser } from '../../src/analyse/http.js';
import { checkAll, checkIntent, rng, type Case } from './helpers.js';

const plain: Case[] = [
  ['GET https://example.com/a?x=1', 'read', { hosts: ['example.com'], paths: ['r:/a'], kinds: ['GET'] }],
  ['HEAD https://example.com/', 'read', { paths: ['r:/'] }],
  ['OPTIONS /things', 'read'],
  ['GET /x HTTP/1.1', 'read'],
  ['GET /x HTTP/2', 'read'],
  ['GET /x HTTP/1.1\nHost: api.example.com:8443', 'read', { hosts: ['api.example.com:8443'] }],
  ['GET /x\r\nHost: api.example.com\r\nAccept: application/json\r\n\r\n', 'read', { hosts: ['api.example.com'] }],
  ['GET https://EXAMPLE.com:443/A', 'read', { hosts: ['example.com'], paths: ['r:/A'] }],
  ['GET http://example.com:8080/', 'read', { hosts: ['example.com:8080'] }],
  ['GET http://[::1]:8080/x', 'read', { hosts: ['[::1]:8080'] }],
  ['POST /api/v1/things', 'write', { paths: ['w:/api/v1/things'] }],
  ['POST https://example.com/orders\nContent-Type: application/json\n\n{"qty": 1}', 'write'],
  ['PUT /things/1', 'write'],
  ['PATCH /things/1', 'write'],
  ['DELETE /things/1', 'write', { flags: ['delete'] }],
  ['GET /a%20b', 'read'],
  ['GET /search?q=drop+table', 'read'],
  ['GET https://user:pw@example.com/x', 'read', { flags: ['credentials_in_url'] }],
  ['GET /x\n\nbody: with a colon', 'read'],
  // A server may run another method than the request line's.
  ['POST /x\nX-HTTP-Method-Override: DELETE', 'write', { flags: ['method_override', 'delete'] }],
  ['GET /x\nX-HTTP-Method-Override: PUT', 'write', { flags: ['method_override'] }],
  ['GET /x\nX-Method-Override: PURGE', 'unknown', { flags: ['method_override'] }],
];

const malformed: Case[] = [
  ['get /x', 'unknown', { error: /upper-case/ }],
  ['GET', 'unknown'],
  ['', 'unknown'],
  ['GET  /x', 'unknown'],
  ['GET /x y', 'unknown'],
  ['GET /x HTTP/1.1 extra', 'unknown'],
  [' GET /x', 'unknown'],
  ['GET x', 'unknown'],
  ['GET ftp://example.com/x', 'unknown'],
  ['GET //evil.example/x', 'unknown'],
  ['GET /caf\u00e9', 'unknown'],
  ['GET /a\\b', 'unknown'],
  ['GET /a#frag', 'unknown'],
  ['GET /x\nnot a header', 'unknown', { error: /header/ }],
  ['GET /x\nBad Header: 1', 'unknown'],
  ['GET /x\nX: a\u0000b', 'unknown'],
  ['GET /x\nHost: a\nHost: b', 'unknown', { error: /Host/ }],
  ['GET https://a.example/x\nHost: b.example', 'unknown', { error: /Host/ }],
  ['GET /x\nHost: bad host', 'unknown'],
  ['GET /a/../b', 'unknown', { error: /dot segment/ }],
  ['GET /a/./b', 'unknown'],
  ['GET /a//b', 'unknown'],
  ['GET /a/%2e%2e/b', 'unknown'],
  ['GET /a%2Fb', 'unknown'],
  ['GET /a%5Cb', 'unknown'],
  ['GET /a%zz', 'unknown'],
  ['GET /a%00', 'unknown'],
  ['CONNECT example.com:443', 'unknown'],
  ['TRACE /', 'unknown'],
  ['PROPFIND /dav', 'unknown'],
  ['BREW /pot', 'unknown'],
];

const k8s: Case[] = [
  ['GET /api', 'read', { flags: ['kubernetes'] }],
  ['GET /apis', 'read'],
  ['GET /apis/apps', 'read'],
  ['GET /apis/apps/v1', 'read'],
  ['GET /api/v1/namespaces', 'read', { onlyTables: ['r:namespaces'], kinds: ['k8s list namespaces'] }],
  ['GET /api/v1/namespaces/default', 'read', { onlyTables: ['r:namespaces'], kinds: ['k8s get namespaces'] }],
  ['GET https://k8s.example:6443/api/v1/namespaces/default/pods', 'read', { onlyTables: ['r:default.pods'], hosts: ['k8s.example:6443'], kinds: ['k8s list pods'] }],
  ['GET /api/v1/namespaces/default/pods/web-1', 'read', { onlyTables: ['r:default.pods'], kinds: ['k8s get pods'] }],
  ['GET /api/v1/pods', 'read', { onlyTables: ['r:pods'] }],
  ['GET /api/v1/namespaces/default/pods?watch=true', 'read', { flags: ['watch'], kinds: ['k8s watch pods'] }],
  ['GET /api/v1/namespaces/default/pods?watch=1&labelSelector=app%3Dweb', 'read', { flags: ['watch'] }],
  ['GET /api/v1/watch/namespaces/default/pods', 'read', { flags: ['watch'] }],
  ['GET /api/v1/namespaces/default/pods/web-1/log?follow=true', 'read', { onlyTables: ['r:default.pods/log'] }],
  ['GET /api/v1/namespaces/default/pods/web-1/status', 'read'],
  ['HEAD /api/v1/namespaces/default/configmaps/c', 'read'],
  ['GET /apis/apps/v1/namespaces/prod/deployments', 'read', { onlyTables: ['r:prod.deployments.apps'] }],
  ['GET /apis/apps/v1/namespaces/prod/deployments/web/scale', 'read'],
  ['GET /apis/batch/v1/namespaces/prod/jobs', 'read', { onlyTables: ['r:prod.jobs.batch'] }],
  ['GET /api/v1/nodes', 'read', { onlyTables: ['r:nodes'] }],
  ['GET /apis/rbac.authorization.k8s.io/v1/clusterroles', 'read', { onlyTables: ['r:clusterroles.rbac.authorization.k8s.io'] }],
  ['GET /apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings', 'read'],
  ['GET /apis/apiextensions.k8s.io/v1/customresourcedefinitions', 'read'],
  // Secrets: reads, flagged.
  ['GET /api/v1/namespaces/prod/secrets/db', 'read', { flags: ['secret_access'], onlyTables: ['r:prod.secrets'] }],
  ['GET /api/v1/namespaces/prod/secrets', 'read', { flags: ['secret_access'], kinds: ['k8s list secrets'] }],
  ['GET /api/v1/secrets', 'read', { flags: ['secret_access'] }],
  ['GET /api/v1/secrets?watch=true', 'read', { flags: ['secret_access', 'watch'] }],
  ['PUT /api/v1/namespaces/prod/secrets/db', 'write', { flags: ['secret_access'], onlyTables: ['w:prod.secrets'] }],
  // Writes.
  ['POST /api/v1/namespaces/default/pods', 'write', { onlyTables: ['w:default.pods'], kinds: ['k8s create pods'] }],
  ['PUT /api/v1/namespaces/default/configmaps/c', 'write', { kinds: ['k8s update configmaps'] }],
  ['PATCH /apis/apps/v1/namespaces/default/deployments/web', 'write', { onlyTables: ['w:default.deployments.apps'], kinds: ['k8s patch deployments.apps'] }],
  ['PATCH /apis/apps/v1/namespaces/default/deployments/web/scale', 'write'],
  ['PUT /api/v1/namespaces/default/pods/web/status', 'write'],
  ['DELETE /api/v1/namespaces/default/pods/web-1', 'write', { flags: ['delete'], kinds: ['k8s delete pods'] }],
  ['DELETE /api/v1/namespaces/default/pods', 'write', { flags: ['delete', 'delete_collection'], kinds: ['k8s deletecollection pods'] }],
  ['DELETE /api/v1/namespaces/default', 'write', { flags: ['delete', 'cascade'] }],
  ['POST /api/v1/namespaces/default/pods/web/eviction', 'write'],
  ['POST /api/v1/namespaces/default/serviceaccounts', 'write'],
  ['POST /api/v1/namespaces/default/pods?dryRun=All', 'write', { flags: ['dry_run'] }],
  // Workloads that ask for the host: root on the node.
  ['POST /api/v1/namespaces/default/pods\nContent-Type: application/json\n\n{"spec": {"containers": [{"name": "x", "securityContext": {"privileged": true}}]}}', 'admin', { flags: ['privileged_container'] }],
  ['POST /apis/apps/v1/namespaces/default/daemonsets\nContent-Type: application/yaml\n\nspec:\n  template:\n    spec:\n      hostPID: true', 'admin', { flags: ['privileged_container'] }],
  ['PATCH /apis/apps/v1/namespaces/default/deployments/web\n\n{"spec":{"template":{"spec":{"volumes":[{"name":"h","hostPath":{"path":"/"}}]}}}}', 'admin', { flags: ['privileged_container'] }],
  ['POST /api/v1/namespaces/default/pods\n\n{"spec": {"containers": [{"name": "x", "securityContext": {"privileged": false}}]}}', 'write', { not: ['privileged_container'] }],
  ['POST /api/v1/namespaces/default/configmaps\n\n{"data": {"privileged": "true"}}', 'write', { not: ['privileged_container'] }],
  // Running code in the cluster.
  ['POST /api/v1/namespaces/default/pods/web-1/exec?command=sh&stdin=true', 'execute', { flags: ['exec'], onlyTables: ['w:default.pods/exec'], kinds: ['k8s create pods/exec'] }],
  ['GET /api/v1/namespaces/default/pods/web-1/exec?command=id', 'execute', { flags: ['exec'] }],
  ['POST /api/v1/namespaces/default/pods/web-1/attach', 'execute'],
  ['GET /api/v1/namespaces/default/pods/web-1/portforward?ports=5432', 'execute', { flags: ['port_forward'] }],
  ['GET /api/v1/namespaces/default/pods/web-1/proxy/metrics', 'execute', { flags: ['proxy'] }],
  ['GET /api/v1/namespaces/default/services/web:80/proxy/admin', 'execute', { flags: ['proxy'] }],
  ['GET /api/v1/nodes/node-1/proxy/configz', 'execute'],
  ['PATCH /api/v1/namespaces/default/pods/web-1/ephemeralcontainers', 'execute'],
  // Who may do what.
  ['POST /apis/rbac.authorization.k8s.io/v1/clusterrolebindings', 'privilege', { onlyTables: ['w:clusterrolebindings.rbac.authorization.k8s.io'] }],
  ['PUT /apis/rbac.authorization.k8s.io/v1/clusterroles/admin', 'privilege'],
  ['PATCH /apis/rbac.authorization.k8s.io/v1/namespaces/default/roles/r', 'privilege'],
  ['DELETE /apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings/rb', 'privilege', { flags: ['delete'] }],
  ['POST /api/v1/namespaces/default/serviceaccounts/deployer/token', 'privilege', { flags: ['token', 'secret_access'] }],
  ['POST /apis/certificates.k8s.io/v1/certificatesigningrequests', 'privilege'],
  ['PUT /apis/certificates.k8s.io/v1/certificatesigningrequests/csr-1/approval', 'privilege'],
  ['GET /api/v1/namespaces/default/pods\nImpersonate-User: system:admin', 'privilege', { flags: ['impersonation'] }],
  ['GET /api/v1/namespaces/default/pods\nImpersonate-Group: system:masters', 'privilege', { flags: ['impersonation'] }],
  // Cluster-wide control and new types.
  ['POST /apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations', 'admin'],
  ['PATCH /api/v1/nodes/node-1', 'admin'],
  ['POST /apis/apiextensions.k8s.io/v1/customresourcedefinitions', 'schema'],
  // Review requests ask a question; they create nothing.
  ['POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews', 'read'],
  ['POST /apis/authentication.k8s.io/v1/tokenreviews', 'read'],
  // Path tricks the API server would read differently are refused.
  ['GET /api/v1/namespaces/default/pods/../secrets/x', 'unknown'],
  ['GET /api/v1/namespaces/default/pods/%2e%2e/secrets', 'unknown'],
  ['GET /api/v1/namespaces/default%2Fsecrets', 'unknown'],
  ['GET /api/v1//secrets', 'unknown'],
  ['TRACE /api/v1/namespaces', 'unknown'],
  // Not the Kubernetes API: /api without a version.
  ['POST /api/things', 'write', { not: ['kubernetes'] }],
  ['GET /api/v1/namespaces/default/pods/web-1/exec?command=id\nX-HTTP-Method-Override: POST', 'execute', { flags: ['method_override'] }],
];

describe('http analyser', () => {
  let a: HttpAnalyser;
  before(async () => {
    a = await createHttpAnalyser();
  });

  for (const [name, cases] of [
    ['plain requests', plain],
    ['malformed requests', malformed],
    ['Kubernetes API requests', k8s],
  ] as Array<[string, Case[]]>) {
    it(`classifies ${name} (${cases.length} cases)`, () => {
      checkAll(cases, (c) => a.analyse(c));
    });
  }

  it('reports the language and one part per effective method', () => {
    const i = a.analyse('POST /x\nX-HTTP-Method-Override: DELETE');
    assert.equal(i.language, 'http');
    assert.deepEqual(i.parts.map((p) => p.kind), ['POST', 'DELETE']);
  });

  it('applies the Kubernetes mapping as configured', async () => {
    const never = await createHttpAnalyser({ kubernetes: 'never' });
    checkIntent(never.analyse('POST /api/v1/namespaces/default/pods/web/exec'), 'write', { not: ['kubernetes'] });
    const always = await createHttpAnalyser({ kubernetes: 'always', kubernetesHosts: ['k8s.internal'] });
    checkIntent(always.analyse('GET https://shop.example/api/v1/pods'), 'read', { flags: ['kubernetes'] });
    const hosts = await createHttpAnalyser({ kubernetesHosts: ['k8s.internal:6443'] });
    checkIntent(hosts.analyse('GET https://k8s.internal:6443/api/v1/namespaces/a/pods/p/exec'), 'execute');
    checkIntent(hosts.analyse('GET https://shop.example/api/v1/namespaces/a/pods/p/exec'), 'read', { not: ['kubernetes'] });
    const more = await createHttpAnalyser({ methods: { PROPFIND: 'read' } });
    checkIntent(more.analyse('PROPFIND /dav'), 'read');
  });

  it('answers unknown at once for input over the limit, and never throws', () => {
    const big = `POST /x\n\n${'x'.repeat(MAX_HTTP_INPUT)}`;
    checkIntent(a.analyse(big), 'unknown', { error: /limit/ });
    for (const bad of [undefined, null, 42, {}] as unknown[]) checkIntent(a.analyse(bad as string), 'unknown');
    const next = rng(11);
    const pieces = ['GET', 'POST', ' ', '/', 'api', 'v1', 'namespaces', 'x', '..', '%2f', '?', '=', '&', '\n', ':', 'Host', 'https://', 'h', '#', '\r\n'];
    for (let k = 0; k < 500; k++) {
      let s = '';
      const n = 1 + Math.floor(next() * 12);
      for (let j = 0; j < n; j++) s += pieces[Math.floor(next() * pieces.length)];
      assert.equal(typeof a.analyse(s).class, 'string');
    }
  });
});
