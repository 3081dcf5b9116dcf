// Connections built from config: injected secrets and the run_as user reach the connector.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync } from 'node:fs';
import { buildConnector } from '../../src/app/runtime.js';
import { loadConfigText } from '../../src/config/load.js';
import { tempDir } from '../helpers.js';

describe('connections from config', () => {
  it('runs shell commands as the run_as user with its own HOME', { skip: process.getuid?.() !== 0 ? 'needs root to switch users' : false }, async () => {
    const dir = tempDir('sluice-runas-');
    chmodSync(dir.path, 0o755);
    const loaded = loadConfigText(
      `connections:\n  sh: { kind: shell, cwd: ${dir.path}, run_as: { uid: 65534, gid: 65534 } }\n`,
      'sluice.yaml',
      dir.path,
    );
    const { connector } = buildConnector('sh', loaded.config.connections.sh!, dir.path);
    try {
      const result = await connector.execute(`id -u; echo "$HOME"; cat /proc/${process.pid}/environ`, { session: 't' });
      assert.equal(result.stdout, `65534\n${dir.path}\n`);
      assert.match(result.stderr ?? '', /Permission denied/);
    } finally {
      await connector.close();
      dir.remove();
    }
  });

  it('reports the secrets it injects so the gate can redact them', () => {
    process.env.SLUICE_TEST_RT_SECRET = 'rt-secret-value';
    const loaded = loadConfigText(
      'connections:\n  sh: { kind: shell, cwd: /tmp, env: { set: { A: { env: SLUICE_TEST_RT_SECRET }, B: plain } } }\n  db: { kind: postgres, database: x, user: y, password: { value: pw-1234 } }\n',
      'sluice.yaml',
      '/tmp',
    );
    assert.deepEqual(buildConnector('sh', loaded.config.connections.sh!, '/tmp').secrets, ['rt-secret-value']);
    assert.deepEqual(buildConnector('db', loaded.config.connections.db!, '/tmp').secrets, ['pw-1234']);
  });
});
