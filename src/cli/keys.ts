// `sluice keys create|list|revoke`
import type { Command } from 'commander';
import { AuditLedger } from '../audit/ledger.js';
import { NAME } from '../config/schema.js';
import { createKey, keyStatus } from '../identity/keys.js';
import type { Store } from '../store/store.js';
import { parseDuration } from '../util/units.js';
import { CliError, printJson, splitList, withExistingStore, withStore } from './context.js';

interface CreateOptions {
  agent?: string;
  human?: string;
  service?: string;
  groups?: string;
  onBehalfOf?: string;
  expires?: string;
  json?: boolean;
}

export function registerKeys(program: Command, configOption: () => string | undefined): void {
  const keys = program.command('keys').description('create, list and revoke API keys (only their hashes are stored)');

  keys
    .command('create')
    .description('create an API key and print it once')
    .option('--agent <name>', 'key for an agent')
    .option('--human <name>', 'key for a human')
    .option('--service <name>', 'key for a service')
    .option('--groups <a,b>', 'groups the principal belongs to (added to those in config)')
    .option('--on-behalf-of <human>', 'for an agent: the human it acts for')
    .option('--expires <duration>', 'lifetime such as 12h, 30d (default: no expiry)')
    .option('--json', 'print JSON')
    .action(async (options: CreateOptions) => {
      const chosen = (['agent', 'human', 'service'] as const).filter((kind) => options[kind] !== undefined);
      if (chosen.length !== 1) throw new CliError('give exactly one of --agent NAME, --human NAME, --service NAME');
      const kind = chosen[0]!;
      const principal = options[kind]!;
      if (!NAME.test(principal)) throw new CliError(`"${principal}" is not a valid principal name`);
      if (options.onBehalfOf !== undefined && kind !== 'agent') throw new CliError('--on-behalf-of is only for agent keys');
      let ttlMs: number | undefined;
      try {
        ttlMs = options.expires !== undefined ? parseDuration(options.expires) : undefined;
      } catch (error) {
        throw new CliError(`--expires: ${(error as Error).message}`);
      }
      await withStore(configOption(), async (store, loaded) => {
        const declared = loaded.config.identities[principal];
        if (declared && declared.kind !== kind) {
          throw new CliError(`"${principal}" is declared as a ${declared.kind} in ${loaded.file}, not a ${kind}`);
        }
        const onBehalfOf = options.onBehalfOf;
        if (onBehalfOf !== undefined && declared?.on_behalf_of !== undefined && declared.on_behalf_of !== onBehalfOf) {
          throw new CliError(`"${principal}" acts for "${declared.on_behalf_of}" in ${loaded.file}; --on-behalf-of cannot change that`);
        }
        if (onBehalfOf !== undefined) {
          const human = loaded.config.identities[onBehalfOf];
          if (human && human.kind !== 'human') throw new CliError(`--on-behalf-of: "${onBehalfOf}" is a ${human.kind}, not a human`);
        }
        const { key, record } = await createKey(store, {
          principal,
          kind,
          groups: splitList(options.groups),
          ...(onBehalfOf !== undefined ? { onBehalfOf } : {}),
          ...(ttlMs !== undefined ? { ttlMs } : {}),
        });
        await recordKeyEvent(store, {
          event: 'created',
          keyId: record.id,
          principal,
          kind,
          groups: record.groups,
          onBehalfOf: record.onBehalfOf ?? declared?.on_behalf_of ?? null,
          expiresAt: record.expiresAt ?? null,
        });
        if (options.json) {
          printJson({ key, id: record.id, principal, kind, groups: record.groups, on_behalf_of: record.onBehalfOf ?? null, expires_at: record.expiresAt ?? null });
          return;
        }
        process.stdout.write(
          `${key}\n` +
            `\nKey ${record.id} for ${kind} "${principal}"` +
            (record.groups.length ? ` (groups: ${record.groups.join(', ')})` : '') +
            (record.onBehalfOf ? `, acting for ${record.onBehalfOf}` : '') +
            (record.expiresAt ? `, expires ${record.expiresAt}` : ', does not expire') +
            '.\nThis is the only time the key is shown; Sluice keeps only its hash and a SCRAM verifier.\n',
        );
      });
    });

  keys
    .command('list')
    .description('list keys (ids and metadata, never the keys)')
    .option('--json', 'print JSON lines')
    .action(async (options: { json?: boolean }) => {
      await withExistingStore(configOption(), async (store) => {
        const records = await store.listKeys();
        for (const record of records) {
          const status = keyStatus(record);
          if (options.json) {
            printJson({ id: record.id, type: record.token ? 'token' : 'key', scram: record.scram !== undefined, principal: record.principal, kind: record.kind, groups: record.groups, on_behalf_of: record.onBehalfOf ?? null, created_at: record.createdAt, expires_at: record.expiresAt ?? null, revoked_at: record.revokedAt ?? null, status });
          } else {
            process.stdout.write(
              `${record.id}  ${status.padEnd(7)}  ${record.kind}:${record.principal}` +
                (record.token ? '  token' : '') +
                (record.groups.length ? `  groups=${record.groups.join(',')}` : '') +
                (record.onBehalfOf ? `  for=${record.onBehalfOf}` : '') +
                (record.expiresAt ? `  expires=${record.expiresAt}` : '') +
                // Keys made before store version 2 have no verifier: cleartext logins only at the PostgreSQL door.
                (record.scram === undefined ? '  no-scram' : '') +
                '\n',
            );
          }
        }
        if (!options.json && records.length === 0) process.stdout.write('no keys; create one with `sluice keys create --agent NAME`\n');
      });
    });

  keys
    .command('revoke')
    .description('revoke a key by id')
    .argument('<id>', 'key id (from `sluice keys list`)')
    .action(async (id: string) => {
      await withExistingStore(configOption(), async (store) => {
        const existing = await store.getKey(id);
        if (!existing) throw new CliError(`no key with id ${id}`, 1);
        if (existing.revokedAt) throw new CliError(`key ${id} was already revoked at ${existing.revokedAt}`, 1);
        await store.revokeKey(id, new Date().toISOString());
        await recordKeyEvent(store, { event: 'revoked', keyId: id, principal: existing.principal, kind: existing.kind });
        process.stdout.write(`revoked key ${id} (${existing.kind}:${existing.principal})\n`);
      });
    });
}

/** Key changes go into the ledger like every other security-relevant event. */
async function recordKeyEvent(store: Store, detail: { event: string; keyId: string; principal: string } & Record<string, unknown>): Promise<void> {
  const ledger = new AuditLedger(store);
  try {
    await ledger.append({ kind: 'key', principal: detail.principal, detail: { ...detail, by: 'cli' } });
  } finally {
    await ledger.close();
  }
}
