// `sluice audit prune` and `sluice audit base` (retention) and `sluice audit search --value`
// (keyed digests), added to the `audit` command by cli/audit.ts.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { AuditLedger } from '../audit/ledger.js';
import { recordingsPath } from '../audit/recording.js';
import { pruneRecordings, type RecordingPruneResult } from '../audit/recording-retention.js';
import { pruneAudit, RetentionError } from '../audit/retention.js';
import { digestKeySource, findDigest, openValueDigester } from '../audit/value-digest.js';
import { parseDuration } from '../util/units.js';
import { collectRepeated, readPublicKeyFiles } from './audit-inputs.js';
import { CliError, resolveConfig, withStore } from './context.js';

export function registerAuditLedgerCommands(audit: Command, configOption: () => string | undefined): void {
  audit
    .command('prune')
    .description('delete records older than the retention age, up to a signed checkpoint (the remaining ledger still verifies), and the shell recordings no retained record names')
    .option('--older-than <age>', 'e.g. 90d; default: audit.retention from the config')
    .option('--public-key <file>', 'trusted checkpoint public key(s), PEM (repeatable); default: the keys the ledger announces', collectRepeated, [])
    .option('--json', 'print the result as JSON')
    .action(async (options: { olderThan?: string; publicKey: string[]; json?: boolean }) => {
      const trusted = options.publicKey.length > 0 ? readPublicKeyFiles(options.publicKey) : undefined;
      await withStore(
        configOption(),
        async (store, loaded) => {
          let age: number | undefined = loaded.config.audit.retention;
          if (options.olderThan !== undefined) {
            try {
              age = parseDuration(options.olderThan);
            } catch (error) {
              throw new CliError(`--older-than: ${(error as Error).message}`);
            }
          }
          if (age === undefined) throw new CliError('say how old records must be: --older-than 90d, or set audit.retention in the config');
          const ledger = new AuditLedger(store);
          try {
            const now = new Date();
            const before = new Date(now.getTime() - age);
            const result = await pruneAudit(store, ledger, { before, ...(trusted ? { trusted } : {}) });
            if (!options.json) {
              if (result.upto === undefined) process.stdout.write(`nothing pruned: ${result.reason}\n`);
              else {
                process.stdout.write(
                  `pruned records 1-${result.upto} (${result.deleted} deleted now); the ledger starts from the checkpoint at record ${result.checkpointSeq}; the prune is record ${result.recordSeq}\n`,
                );
              }
            }
            // Then the shell recordings no retained record names; the records' result is out first.
            const dir = recordingsPath(loaded.config, loaded.baseDir);
            let recordings: RecordingPruneResult | undefined;
            let recordingsError: string | undefined;
            if (dir) {
              try {
                recordings = await pruneRecordings(dir, store, before, now);
                if (recordings.errors.length > 0) recordingsError = recordings.errors.join('; ');
              } catch (error) {
                recordingsError = (error as Error).message;
              }
            }
            if (options.json) process.stdout.write(`${JSON.stringify({ ...result, ...(recordings ? { recordings } : {}), ...(recordingsError ? { recordingsError } : {}) })}\n`);
            else {
              if (recordings && recordings.files > 0) process.stdout.write(`deleted ${recordings.files} shell recording file(s) (days ${recordings.folders.join(', ') || 'none emptied'})\n`);
              if (recordings && recordings.kept.length > 0) process.stdout.write(`left in place (not written by Sluice): ${recordings.kept.join(', ')}\n`);
            }
            if (recordingsError) throw new CliError(`could not delete old shell recordings: ${recordingsError}`, 1);
          } catch (error) {
            if (error instanceof RetentionError) throw new CliError(error.message, 1);
            throw error;
          } finally {
            await ledger.close();
          }
        },
        { mustExist: true },
      );
    });

  audit
    .command('base')
    .description('print the retention base of a pruned ledger (JSON), for verifying an export offline: verify --file X --base FILE')
    .option('--out <file>', 'write it to a file instead of stdout')
    .action(async (options: { out?: string }) => {
      await withStore(
        configOption(),
        async (store) => {
          const base = await store.readAuditBase();
          if (base === undefined) throw new CliError('no records were pruned: the ledger starts at record 1 and needs no base', 1);
          if (options.out) writeFileSync(options.out, `${base}\n`, { mode: 0o600 });
          else process.stdout.write(`${base}\n`);
        },
        { mustExist: true },
      );
    });

  audit
    .command('search')
    .description('find records that carry a value as a keyed digest (parameters, tool arguments, masked values), without printing values')
    .requiredOption('--value <value>', 'the value to look for ("-": read it from stdin, keeping it out of the shell history)')
    .option('--json', 'print matches as JSON lines')
    .action(async (options: { value: string; json?: boolean }) => {
      const value = options.value === '-' ? readFileSync(0, 'utf8').replace(/\r?\n$/, '') : options.value;
      const loaded = resolveConfig(configOption(), { optional: true });
      let source: ReturnType<typeof digestKeySource>;
      try {
        source = digestKeySource(loaded.config, loaded.baseDir);
      } catch (error) {
        throw new CliError((error as Error).message);
      }
      if (!source) throw new CliError('an in-memory store keeps no audit HMAC key');
      if ('file' in source && !existsSync(source.file)) throw new CliError(`no audit HMAC key at ${source.file} yet: it is created when Sluice first starts`, 1);
      const { digester } = openValueDigester(loaded, { create: false });
      const digest = digester.digest(value);
      let found = 0;
      await withStore(
        configOption(),
        async (store) => {
          for await (const { row, paths } of findDigest(store, digest)) {
            found += 1;
            if (options.json) {
              process.stdout.write(
                `${JSON.stringify({ seq: row.seq, time: row.time, kind: row.kind, principal: row.principal, session: row.session, connection: row.connection, actionId: row.actionId, paths })}\n`,
              );
            } else {
              const who = [row.principal ?? '-', row.connection ? `@${row.connection}` : '', row.session ? `session ${row.session}` : ''].filter(Boolean).join('  ');
              process.stdout.write(`${String(row.seq).padStart(6)}  ${row.time}  ${row.kind.padEnd(8)}  ${who}  in ${paths.join(', ')}\n`);
            }
          }
        },
        { mustExist: true },
      );
      if (!options.json) process.stderr.write(`${found} record(s) carry that value (digest key ${digester.keyId})\n`);
      if (found === 0) process.exitCode = 1;
    });
}

