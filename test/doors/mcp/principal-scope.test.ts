// tools/list per principal: conditions are evaluated with the caller known and the arguments
// unknown. Two principals with different groups, names and kinds see different lists over
// the official SDK client; a tool hidden from one is "Unknown tool" for it and runs for the
// other. Plus the three-valued evaluation itself, rule by rule.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/client';
import { createKey } from '../../../src/identity/keys.js';
import { compilePolicy } from '../../../src/policy/index.js';
import { ruleMatches, scopeSummary, type CallFacts } from '../../../src/doors/mcp/policy-scope.js';
import type { Principal } from '../../../src/gate/types.js';
import { connectClient, startMcpSluice, textOf, type McpTestSluice } from './helpers.js';

const CONFIG = `
store: { url: sqlite:store/sluice.db }
listeners: { api: { address: 127.0.0.1:0 } }
connections:
  opsbox: { kind: shell, cwd: files }
  notes: { kind: shell, cwd: files }
  humansonly: { kind: shell, cwd: files }
  shared: { kind: shell, cwd: files }
  teams: { kind: shell, cwd: files }
policy:
  rules:
    - { name: ops-shell, connections: [opsbox], when: '"ops" in principal.groups && intent.class == "read"', effect: allow }
    - { name: alice-cats, connections: [notes], when: 'principal.name == "alice" && args.command.startsWith("cat ")', effect: allow }
    - { name: no-agents-here, connections: [humansonly], when: 'principal.kind == "agent"', effect: deny, reason: humans only }
    - { name: humans-read, connections: [humansonly], when: 'intent.class == "read"', effect: allow }
    - { name: alice-no-rm, connections: [shared], when: 'principal.name == "alice" && args.command.contains("rm")', effect: deny, reason: no deleting }
    - { name: shared-reads, connections: [shared], when: 'intent.class == "read"', effect: allow }
    - { name: team-members, connections: [teams], when: 'principal.groups.exists(g, g.startsWith("team-")) ? intent.class == "read" : false', effect: allow }
`;

describe('MCP door: tools/list per principal', () => {
  let t: McpTestSluice;
  let alice: Client;
  let bob: Client;
  let carol: Client;

  before(async () => {
    t = await startMcpSluice(CONFIG);
    writeFileSync(join(t.dir, 'files', 'todo.txt'), 'water the plants\n');
    const store = t.sluice.runtime.store;
    const aliceKey = (await createKey(store, { principal: 'alice', kind: 'agent', groups: ['ops', 'team-blue'] })).key;
    const bobKey = (await createKey(store, { principal: 'bob', kind: 'agent', groups: [] })).key;
    const carolKey = (await createKey(store, { principal: 'carol', kind: 'human', groups: [] })).key;
    ({ client: alice } = await connectClient(t.url, aliceKey));
    ({ client: bob } = await connectClient(t.url, bobKey));
    ({ client: carol } = await connectClient(t.url, carolKey));
  });

  after(async () => {
    await Promise.all([alice?.close(), bob?.close(), carol?.close()]);
    await t?.stop();
  });

  const names = async (client: Client) => (await client.listTools()).tools.map((tool) => tool.name).sort();

  it('shows each principal the tools some rule could allow for it', async () => {
    assert.deepEqual(await names(alice), ['notes__exec', 'opsbox__exec', 'shared__exec', 'teams__exec']);
    assert.deepEqual(await names(bob), ['shared__exec']);
    assert.deepEqual(await names(carol), ['humansonly__exec', 'shared__exec']);
  });

  it('describes only the rules that could apply to the caller', async () => {
    const tool = (await alice.listTools()).tools.find((x) => x.name === 'notes__exec')!;
    assert.match(tool.description!, /allowed: commands matching rule alice-cats/);
  });

  it('answers Unknown tool for a hidden tool and runs it for the principal who sees it', async () => {
    const hidden = await bob.callTool({ name: 'notes__exec', arguments: { command: 'cat todo.txt' } });
    assert.equal(hidden.isError, true);
    assert.match(textOf(hidden), /Unknown tool "notes__exec"/);
    const shown = await alice.callTool({ name: 'notes__exec', arguments: { command: 'cat todo.txt' } });
    assert.notEqual(shown.isError, true, textOf(shown));
    assert.match(textOf(shown), /water the plants/);
    // Listed because some arguments could match; other arguments are still decided per call.
    const other = await alice.callTool({ name: 'notes__exec', arguments: { command: 'ls' } });
    assert.match(textOf(other), /Denied by Sluice policy rule "default-deny"/);
    const agent = await bob.callTool({ name: 'humansonly__exec', arguments: { command: 'cat todo.txt' } });
    assert.match(textOf(agent), /Unknown tool "humansonly__exec"/);
    const human = await carol.callTool({ name: 'humansonly__exec', arguments: { command: 'cat todo.txt' } });
    assert.match(textOf(human), /water the plants/);
  });

  it('keeps a tool listed when a deny rule depends on the arguments, and denies by it per call', async () => {
    const denied = await alice.callTool({ name: 'shared__exec', arguments: { command: 'rm -f todo.txt' } });
    assert.match(textOf(denied), /Denied by Sluice policy rule "alice-no-rm": no deleting/);
  });

  it('follows a reload that changes what a principal may do', async () => {
    const runtime = t.sluice.runtime;
    const previous = runtime.loaded;
    const policy = compilePolicy({ rules: [{ name: 'bob-notes', connections: ['notes'], when: 'principal.name == "bob"', effect: 'allow' }] });
    runtime.loaded = { ...previous, policy } as typeof previous;
    try {
      assert.deepEqual(await names(bob), ['notes__exec']);
      assert.deepEqual(await names(alice), []);
    } finally {
      runtime.loaded = previous;
    }
  });
});

describe('MCP tools/list: conditions with the caller known and the arguments unknown', () => {
  const principal = (name: string, groups: string[] = [], kind: Principal['kind'] = 'agent'): Principal => ({ name, kind, groups });
  const facts = (p: Principal, intentClass?: CallFacts['intentClass']): CallFacts => ({
    principal: p,
    connection: { name: 'c', kind: 'mcp', labels: { env: 'prod' } },
    ...(intentClass ? { intentClass } : {}),
  });
  const rule = (when: string, effect: 'allow' | 'deny' | 'review' = 'allow') => compilePolicy({ rules: [{ name: 'r', when, effect }] }).rules[0]!;
  const ada = facts(principal('ada', ['ops']));

  it('decides what reads only the caller, and leaves the rest open', () => {
    assert.equal(ruleMatches(rule('"ops" in principal.groups'), ada), true);
    assert.equal(ruleMatches(rule('"dba" in principal.groups'), ada), false);
    assert.equal(ruleMatches(rule('args.path.startsWith("/tmp")'), ada), undefined);
    assert.equal(ruleMatches(rule('"dba" in principal.groups && args.path.startsWith("/tmp")'), ada), false);
    assert.equal(ruleMatches(rule('"ops" in principal.groups && args.path.startsWith("/tmp")'), ada), undefined);
    assert.equal(ruleMatches(rule('"ops" in principal.groups || args.path.startsWith("/tmp")'), ada), true);
    assert.equal(ruleMatches(rule('!("ops" in principal.groups) && has(args.x)'), ada), false);
    assert.equal(ruleMatches(rule('connection.labels.env == "prod" && door == "mcp" && agent == "ada"'), ada), true);
    assert.equal(ruleMatches(rule('on_behalf_of == "someone"'), ada), false);
    assert.equal(ruleMatches(rule('principal.groups.exists(g, g.startsWith("op"))'), ada), true);
    assert.equal(ruleMatches(rule('args.tags.exists(t, t == principal.name)'), ada), undefined);
    assert.equal(ruleMatches(rule('principal.name == "ada" ? has(args.x) : false'), ada), undefined);
    assert.equal(ruleMatches(rule('principal.name == "bob" ? has(args.x) : false'), ada), false);
    assert.equal(ruleMatches(rule('time.getHours() < 25'), ada), undefined, 'the time is the call\'s');
  });

  it('reads intent.class only when the tool fixes it', () => {
    assert.equal(ruleMatches(rule('intent.class == "read"'), ada), undefined);
    assert.equal(ruleMatches(rule('intent.class == "read"'), facts(principal('ada'), 'read')), true);
    assert.equal(ruleMatches(rule('intent.class == "read"'), facts(principal('ada'), 'write')), false);
    assert.equal(ruleMatches(rule('intent.class == "read" && "/etc" in intent.paths'), facts(principal('ada'), 'read')), undefined);
  });

  it('hides a tool only when a deny surely applies, and lists it when an allow or review could', () => {
    const rules = compilePolicy({
      rules: [
        { name: 'interns-no-writes', when: '"interns" in principal.groups && intent.class == "write"', effect: 'deny' },
        { name: 'writes-reviewed', when: 'intent.class == "write"', effect: 'review' },
      ],
    }).rules;
    assert.equal(scopeSummary(rules, facts(principal('ivy', ['interns']), 'write')).couldRun, false);
    assert.equal(scopeSummary(rules, facts(principal('ivy', ['interns']), 'read')).couldRun, false, 'no rule could allow a read');
    assert.equal(scopeSummary(rules, facts(principal('sam', ['staff']), 'write')).couldRun, true);
    // Class not fixed by the tool: the deny may or may not apply, so the tool stays listed.
    assert.equal(scopeSummary(rules, facts(principal('ivy', ['interns']))).couldRun, true);
  });
});
