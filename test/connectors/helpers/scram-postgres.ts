// Starts a throw-away PostgreSQL server that demands SCRAM-SHA-256 passwords, so tests can
// prove the connector injects the configured credential. Uses the installed server
// binaries; returns undefined when they are missing so the test can skip.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ScramServer {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  stop(): Promise<void>;
}

async function findBinDir(): Promise<string | undefined> {
  try {
    const { stdout } = await run('pg_config', ['--bindir']);
    const dir = stdout.trim();
    if (existsSync(join(dir, 'initdb'))) return dir;
  } catch {
    // fall through to the Debian layout
  }
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = (await readdir(base)).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const dir = join(base, v, 'bin');
    if (existsSync(join(dir, 'initdb'))) return dir;
  }
  return undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function startScramServer(): Promise<ScramServer | undefined> {
  const bin = await findBinDir();
  if (!bin) return undefined;
  // initdb and postgres refuse to run as root; use the postgres account then.
  const asRoot = process.getuid?.() === 0;
  const wrap = (cmd: string, args: string[]): [string, string[]] =>
    asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];

  const dir = await mkdtemp(join(tmpdir(), 'sluice-scram-pg-'));
  const data = join(dir, 'data');
  const pwfile = join(dir, 'pw');
  const user = 'sluice_owner';
  const password = `pw-${Math.random().toString(36).slice(2)}-Zq9`;
  await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    await chown(dir, Number(stdout.trim()), Number(gid.trim()));
    await chown(pwfile, Number(stdout.trim()), Number(gid.trim()));
  }
  await chmod(dir, 0o700);

  const stop = async () => {
    const [cmd, args] = wrap(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
    await run(cmd, args).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const [initCmd, initArgs] = wrap(join(bin, 'initdb'), [
      '-D', data, '-U', user, '--auth=scram-sha-256', `--pwfile=${pwfile}`, '--no-sync', '-E', 'UTF8', '--locale=C',
    ]);
    await run(initCmd, initArgs);
    for (let attempt = 0; ; attempt++) {
      const port = await freePort();
      const [ctlCmd, ctlArgs] = wrap(join(bin, 'pg_ctl'), [
        '-D', data, '-w', '-t', '30', '-l', join(dir, 'log'),
        '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
        'start',
      ]);
      try {
        await run(ctlCmd, ctlArgs);
        return { host: '127.0.0.1', port, user, password, database: 'postgres', stop };
      } catch (err) {
        // Another process may have taken the port between probe and start; try another.
        if (attempt >= 2) throw err;
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
}
