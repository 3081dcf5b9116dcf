// Policy reload in a running gateway: a changed file takes effect without a restart, a
// broken file keeps the last good policy.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSluice, type RunningSluice } from '../../src/app/server.js';
import { loadConfigFile } from '../../src/config/load.js';
import { createKey } from '../../src/identity/keys.js';
import { tempDir } from '../helpers.js';

function config(effect: string, extra = '', groups = '[]'): string {
  return `
store: { url: sqlite:store/sluice.db }
identities:
  bot: { kind: agent, groups: ${groups} }
listeners: { api: { address: 127.0.0.1:0 } }
connections:
  sh: { kind: shell, cwd: files }
policy:
  rules:
    - { name: echo-rule, when: 'intent.programs.exists(p, p == "echo")', effect: ${effect} }
    - { name: blocked, when: '"blocked" in principal.groups', effect: deny }
${extra}`;
}

describe('policy reload', () => {
  const dir = tempDir('sluice-reload-');
  const file = join(dir.path, 'sluice.yaml');
  let sluice: RunningSluice;
  let key: string;

  before(async () => {
    mkdirSync(join(dir.path, 'files'));
    writeFileSync(file, config('deny'));
    sluice = await startSluice(loadConfigFile(file), { watch: true });
    key = (await createKey(sluice.runtime.store, { principal: 'bot', kind: 'agent', groups: [] })).key;
  });

  after(async () => {
    await sluice?.stop();
    dir.remove();
  });

  async function echoStatus(): Promise<number> {
    const response = await fetch(`${sluice.api.url}/v1/actions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ connection: 'sh', command: 'echo hi' }),
    });
    await response.arrayBuffer();
    return response.status;
  }

  async function eventually(expected: number): Promise<void> {
    let status = 0;
    for (let i = 0; i < 100; i++) {
      status = await echoStatus();
      if (status === expected) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(status, expected);
  }

  it('applies a changed policy and keeps the last good one when the file breaks', async () => {
    assert.equal(await echoStatus(), 403);
    writeFileSync(file, config('allow'));
    await eventually(200);
    writeFileSync(file, config('allow', '    - { name: broken, when: "((", effect: deny }\n'));
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal(await echoStatus(), 200, 'a broken file does not replace the policy in force');
    writeFileSync(file, 'policy: [not, a, map\n');
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal(await echoStatus(), 200, 'nor does malformed YAML');
    writeFileSync(file, config('deny'));
    await eventually(403);
  });

  it('applies changed identities: a group added in config takes effect without a restart', async () => {
    writeFileSync(file, config('allow'));
    await eventually(200);
    writeFileSync(file, config('allow', '', '[blocked]'));
    await eventually(403);
    const records = await sluice.runtime.store.readAudit({ limit: 1000 });
    assert.ok(records.some((row) => row.kind === 'config'), 'reloads are recorded in the audit log');
  });
});
