// `sluice demo`: everything embedded, no servers needed. A demo PostgreSQL (PGlite) with
// fake customers, a shell connection over a folder of sample files, the embedded store,
// keys for a demo agent and a demo admin, and a guide of what to try.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { startSluice } from '../app/server.js';
import { loadConfigText } from '../config/load.js';
import { startDemoDatabase, DEMO_MAX_CONNECTIONS } from '../demo/database.js';
import { createKey } from '../identity/keys.js';
import { log } from '../util/log.js';
import { untilSignal } from './up.js';

interface DemoOptions {
  json?: boolean;
  port: string;
  pgPort: string;
  dir: string;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run Sluice on embedded defaults: a demo database, a shell connection, demo keys')
    .option('--json', 'print the demo facts as one JSON object')
    .option('--port <port>', 'API port on 127.0.0.1 (0 picks a free one)', '8080')
    .option('--pg-port <port>', 'PostgreSQL door port on 127.0.0.1 (0 picks a free one)', '15432')
    .option('--dir <dir>', 'where the demo keeps its store and files', '.sluice')
    .action(async (options: DemoOptions) => {
      const started = performance.now();
      const dir = resolve(options.dir);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const filesDir = join(dir, 'demo-files');
      writeSampleFiles(filesDir);

      const database = await startDemoDatabase();
      const configFile = join(dir, 'demo.yaml');
      const configText = demoConfig({ dir, filesDir, dbPort: database.port, dbHost: database.host, dbName: database.database, dbUser: database.user, apiPort: Number(options.port), pgPort: Number(options.pgPort) });
      writeFileSync(configFile, configText, { mode: 0o600 });
      const loaded = loadConfigText(configText, configFile, dir);

      let running;
      try {
        running = await startSluice(loaded);
      } catch (error) {
        await database.stop();
        throw error;
      }
      const { store } = running.runtime;
      // Fresh demo keys each start; earlier demo keys are revoked so none linger.
      const now = new Date().toISOString();
      for (const record of await store.listKeys()) {
        if (['demo-agent', 'demo-admin'].includes(record.principal) && !record.revokedAt) await store.revokeKey(record.id, now);
      }
      const agent = await createKey(store, { principal: 'demo-agent', kind: 'agent', groups: [], onBehalfOf: 'demo-user', ttlMs: 86_400_000 });
      const admin = await createKey(store, { principal: 'demo-admin', kind: 'human', groups: [], ttlMs: 86_400_000 });
      const { ledger } = running.runtime;
      for (const created of [agent, admin]) {
        await ledger.append({ kind: 'key', principal: created.record.principal, detail: { event: 'created', keyId: created.record.id, by: 'sluice demo' } });
      }

      const pg = running.postgres!.address;
      const facts = {
        api_url: running.api.url,
        mcp_url: `${running.api.url}/mcp`,
        postgres: { host: pg.host, port: pg.port, database: 'demo-db', user: 'demo-agent', url: `postgresql://demo-agent:${encodeURIComponent(agent.key)}@${pg.host}:${pg.port}/demo-db?sslmode=require` },
        config_file: configFile,
        store: loaded.config.store.url,
        connections: {
          'demo-db': { kind: 'postgres', policy: 'guarded', host: database.host, port: database.port, database: database.database },
          'demo-shell': { kind: 'shell', policy: 'read-only', cwd: filesDir },
        },
        agent: { name: 'demo-agent', on_behalf_of: 'demo-user', key: agent.key },
        admin: { name: 'demo-admin', groups: ['admin'], key: admin.key },
        started_in_ms: Math.round(performance.now() - started),
      };
      if (options.json) process.stdout.write(`${JSON.stringify(facts)}\n`);
      else process.stdout.write(guide(facts.api_url, configFile, agent.key, admin.key, facts.started_in_ms, pg));
      log.info({ api: running.api.url }, 'demo is up; Ctrl-C stops it');

      await untilSignal({
        ...running,
        async stop() {
          await running.stop();
          await database.stop();
        },
      });
    });
}

function demoConfig(o: { dir: string; filesDir: string; dbHost: string; dbPort: number; dbName: string; dbUser: string; apiPort: number; pgPort: number }): string {
  const config = {
    store: { url: `sqlite:${join(o.dir, 'sluice.db')}` },
    listeners: { api: { address: `127.0.0.1:${o.apiPort}` }, postgres: { address: `127.0.0.1:${o.pgPort}`, tls: 'self-signed', max_connections: 3 } },
    identities: {
      'demo-user': { kind: 'human', groups: ['staff'] },
      'demo-agent': { kind: 'agent', groups: ['agents'], on_behalf_of: 'demo-user' },
      'demo-admin': { kind: 'human', groups: ['admin'] },
    },
    connections: {
      'demo-db': {
        kind: 'postgres',
        host: o.dbHost,
        port: o.dbPort,
        database: o.dbName,
        user: o.dbUser,
        max_connections: DEMO_MAX_CONNECTIONS,
        labels: { env: 'demo' },
        policy: 'guarded',
        mask: 'pii',
      },
      'demo-shell': {
        kind: 'shell',
        cwd: o.filesDir,
        timeout: '10s',
        max_output: '256KiB',
        labels: { env: 'demo' },
        policy: 'read-only',
      },
    },
    policy: {
      rules: [
        {
          name: 'admins-see-real-values',
          description: 'The demo admin may read the demo database unmasked.',
          when: '"admin" in principal.groups && intent.class == "read"',
          connections: ['demo-db'],
          effect: 'allow',
          mask: 'none',
        },
      ],
    },
    masking: {
      profiles: {
        pii: { columns: ['email', 'phone', 'card_number'], replacement: 'partial' },
      },
    },
    approvals: { timeout: '10m' },
  };
  return `# Written by \`sluice demo\` on each start; edit a copy, not this file.\n${stringify(config)}`;
}

function writeSampleFiles(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  writeFileSync(join(dir, 'README.txt'), 'Files the demo shell connection can read.\nTry: ls, cat README.txt, grep -r order .\n');
  writeFileSync(join(dir, 'orders.csv'), 'id,customer,amount\n1,ada@example.com,42.00\n2,grace@example.com,17.50\n');
  writeFileSync(join(dir, 'notes.md'), '# Notes\n- rotate the API keys monthly\n- order 2 was refunded\n');
}

function guide(api: string, configFile: string, agentKey: string, adminKey: string, ms: number, pg: { host: string; port: number }): string {
  const cli = `npx sluice --config ${configFile}`;
  const q = (sql: string) => `curl -s ${api}/v1/actions -H "Authorization: Bearer $AGENT" -H 'content-type: application/json' -d '{"connection":"demo-db","command":"${sql}"}'`;
  return `
Sluice demo is running (started in ${ms} ms). Ctrl-C stops it.

  API          ${api}
  MCP          ${api}/mcp (streamable HTTP; tools demo-db__query and demo-shell__exec)
  PostgreSQL   ${pg.host}:${pg.port} (psql, drivers and pgbench; database = connection name)
  config       ${configFile}
  connections  demo-db (PostgreSQL, policy "guarded", emails/phones/cards masked)
               demo-shell (shell in the demo-files folder, policy "read-only")

Keys (valid for one day; shown only now):
  export AGENT=${agentKey}   # demo-agent, acting for demo-user
  export ADMIN=${adminKey}   # demo-admin, may read the audit log

Try, in another terminal:
  # a read: allowed, personal data masked
  ${q('SELECT name, email, card_number FROM customers LIMIT 3')}

  # a whole-table write: denied by the guarded preset
  ${q('DELETE FROM orders')}

  # a targeted write: held for review; approve it from a third terminal
  ${q("UPDATE orders SET status = '\\''refunded'\\'' WHERE id = 7")}
  ${cli} reviews list
  SLUICE_KEY=$ADMIN ${cli} reviews approve <review id>   # as demo-admin: the human an agent acts for cannot approve it

  # the same through the PostgreSQL door, with psql (the password is the key)
  PGPASSWORD=$AGENT psql "host=${pg.host} port=${pg.port} dbname=demo-db user=demo-agent sslmode=require" -c "SELECT name, email FROM customers LIMIT 3" -c "DELETE FROM orders"

  # the shell connection is read-only: ls runs, rm is denied
  curl -s ${api}/v1/actions -H "Authorization: Bearer $AGENT" -H 'content-type: application/json' -d '{"connection":"demo-shell","command":"ls -l && cat README.txt"}'
  curl -s ${api}/v1/actions -H "Authorization: Bearer $AGENT" -H 'content-type: application/json' -d '{"connection":"demo-shell","command":"rm -rf notes.md"}'

  # the same connections as MCP tools (demo-db__query, demo-shell__exec) for an agent
  claude mcp add --transport http sluice-demo ${api}/mcp --header "Authorization: Bearer $AGENT"
  SLUICE_KEY=$AGENT npx sluice mcp --url ${api}/mcp    # stdio, for clients that launch a command

  # what would happen, without running anything
  npx sluice policy test --preset guarded --kind postgres --as agent:demo-agent -- "WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d"

  # the audit log: read it, then check the hash chain
  curl -s "${api}/v1/audit?limit=5" -H "Authorization: Bearer $ADMIN"
  ${cli} audit tail
  ${cli} audit verify
`;
}
