// /readyz stays ready while audit checkpoints fail (commands are still recorded), but says so.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startSluice, type RunningSluice } from '../../src/app/server.js';
import { loadConfigText } from '../../src/config/load.js';
import { createKey } from '../../src/identity/keys.js';
import { tempDir } from '../helpers.js';

describe('readiness with failing checkpoints', () => {
  const dir = tempDir('sluice-readyz-');
  let sluice: RunningSluice;
  before(async () => {
    mkdirSync(join(dir.path, 'files'));
    // The anchor "file" is a directory: every anchor write fails.
    mkdirSync(join(dir.path, 'anchor-is-a-dir'));
    const config = `
store: { url: sqlite:store/sluice.db }
listeners: { api: { address: 127.0.0.1:0 } }
identities: { bot: { kind: agent } }
connections:
  sh: { kind: shell, cwd: files, run_as: { uid: 65534, gid: 65534 } }
policy:
  rules: [{ name: all, effect: allow }]
audit:
  checkpoint: { every: 1, interval: 1s, anchor: { file: anchor-is-a-dir } }
`;
    sluice = await startSluice(loadConfigText(config, join(dir.path, 'sluice.yaml'), dir.path));
  });
  after(async () => {
    await sluice?.stop();
    dir.remove();
  });

  it('answers 200 ready with a checkpoint_failing warning', { timeout: 30_000 }, async () => {
    const key = (await createKey(sluice.runtime.store, { principal: 'bot', kind: 'agent', groups: [] })).key;
    const ran = await fetch(`${sluice.api.url}/v1/actions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ connection: 'sh', command: 'echo hi' }),
    });
    assert.equal(ran.status, 200, 'commands still run and are recorded');
    for (let i = 0; ; i++) {
      const response = await fetch(`${sluice.api.url}/readyz`);
      assert.equal(response.status, 200);
      const body = (await response.json()) as { status: string; warnings?: { code: string; message: string }[] };
      if (body.warnings) {
        assert.equal(body.status, 'ready');
        assert.equal(body.warnings[0]!.code, 'checkpoint_failing');
        assert.match(body.warnings[0]!.message, /checkpoints are not being written/);
        break;
      }
      assert.ok(i < 200, 'a warning within 20 s');
      await new Promise((r) => setTimeout(r, 100));
    }
  });
});
