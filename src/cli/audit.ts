// `sluice audit tail|verify|export|prove|verify-proof|public-key`
import { createReadStream, createWriteStream, existsSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { CheckpointChecker, parseAnchorFile, parseKeyAnnouncement, type FoundCheckpoint } from '../audit/checkpoints.js';
import { anchorPath, signingKeyPath } from '../audit/checkpoints-config.js';
import { checkInclusionProof, proveRecord, ProofError } from '../audit/checkpoints-proof.js';
import { writeAuditExport, type ExportFormat } from '../audit/export.js';
import { unrecoveredJournalRecords } from '../audit/journal.js';
import { AUDIT_KINDS } from '../audit/record.js';
import { publicKeyFromRaw, publicKeyPem, readSigningPublicKey } from '../audit/signing.js';
import { verifyAudit, verifyAuditJsonl, type VerifyResult } from '../audit/verify.js';
import type { LoadedConfig } from '../config/load.js';
import { SqliteStore } from '../store/sqlite.js';
import type { AuditRow, ChainHead } from '../store/store.js';
import { parseDuration } from '../util/units.js';
import { CliError, resolveConfig, withStore } from './context.js';
import { registerAuditLedgerCommands } from './audit-ledger.js';
import { collectRepeated, localSigningPublicKey, readBaseFile, readParsedFile, readPublicKeyFiles } from './audit-inputs.js';
import { prunedKeyAnnouncements } from '../audit/retention-base.js';
import { registerAuditReplay } from './audit-replay.js';

export function registerAudit(program: Command, configOption: () => string | undefined): void {
  const audit = program.command('audit').description('read, verify and export the audit ledger');
  registerAuditLedgerCommands(audit, configOption);
  // sessions, replay, report: cli/audit-replay.ts
  registerAuditReplay(audit, configOption);

  audit
    .command('tail')
    .description('print the latest audit records, one per line')
    .option('-n, --lines <n>', 'how many records', '20')
    .option('-f, --follow', 'keep printing new records')
    .option('--json', 'print the stored records as JSON lines')
    .action(async (options: { lines: string; follow?: boolean; json?: boolean }) => {
      const count = Number(options.lines);
      if (!Number.isInteger(count) || count < 1 || count > 100_000) throw new CliError('--lines must be a whole number from 1 to 100000');
      await withStore(configOption(), async (store) => {
        const latest = (await store.readAudit({ limit: count, descending: true })).reverse();
        let last = 0;
        for (const row of latest) {
          printRow(row, options.json);
          last = row.seq;
        }
        while (options.follow) {
          await sleep(500);
          for (const row of await store.readAudit({ afterSeq: last, limit: 1000 })) {
            printRow(row, options.json);
            last = row.seq;
          }
        }
      }, { mustExist: true });
    });

  audit
    .command('verify')
    .description('check the hash chain and the signed checkpoints; exits non-zero naming the first problem')
    .option('--file <export.jsonl>', 'verify an export (sluice audit export) instead of the store, offline')
    .option('--base <file>', 'with --file, for a pruned ledger: its retention base (sluice audit base)')
    .option('--public-key <file>', 'trusted checkpoint public key(s), PEM (repeatable); default: the local signing key', collectRepeated, [])
    .option('--anchor <file>', 'checkpoints kept outside the store: the ledger must still hold what they cover (default against the store: audit.checkpoint.anchor.file, or the one beside an embedded store)')
    .option('--no-anchor', 'against the store, do not check its anchor file')
    .option('--proof <file>', 'check an inclusion proof (sluice audit prove) instead of the ledger')
    .option('--no-checkpoints', 'check the hash chain only')
    .option('--expect-head <seq:hash>', 'a head recorded earlier (e.g. from a previous verify): detects records cut from the end')
    .option('--allow-empty', 'do not fail on an empty ledger')
    .option('--json', 'print the result as JSON')
    .action(
      async (options: {
        file?: string;
        base?: string;
        publicKey: string[];
        anchor?: string | false;
        proof?: string;
        checkpoints: boolean;
        expectHead?: string;
        allowEmpty?: boolean;
        json?: boolean;
      }) => {
        if (options.proof) {
          verifyProofFile(options.proof, options.publicKey, options.json);
          return;
        }
        const expectHead = options.expectHead !== undefined ? parseHead(options.expectHead) : undefined;
        const keys = options.publicKey.length > 0 ? readPublicKeyFiles(options.publicKey) : undefined;
        let anchorFile = typeof options.anchor === 'string' ? options.anchor : undefined;
        let anchors = anchorFile !== undefined ? readParsedFile(anchorFile, parseAnchorFile) : undefined;
        /** Set when the configured anchor file was not there to check against. */
        let anchorMissing: string | undefined;
        let signedBy = keys ? 'the given public key(s)' : 'the keys the ledger itself announces (pass --public-key for an independent check)';
        const run = async (loaded: LoadedConfig | undefined, read: (o: Parameters<typeof verifyAudit>[1]) => Promise<VerifyResult>) => {
          let trusted = keys;
          if (!trusted && loaded && options.checkpoints) {
            trusted = localSigningPublicKey(loaded);
            if (trusted) signedBy = 'the local signing key';
          }
          // Against the store, the configured anchor file is checked unless another is given:
          // it is what shows a deleted tail.
          const configured = loaded && !anchors && options.anchor !== false && options.checkpoints ? anchorPath(loaded.config, loaded.baseDir) : undefined;
          if (configured !== undefined) {
            if (existsSync(configured)) {
              anchorFile = configured;
              anchors = readParsedFile(configured, parseAnchorFile);
            } else anchorMissing = configured;
          }
          if (anchors) {
            if (!trusted) throw new CliError('--anchor needs the signer\'s public key: pass --public-key FILE');
            const bad = CheckpointChecker.checkAnchorSignatures(anchors, trusted);
            if (bad) throw new CliError(`${anchorFile}: ${bad}`, 1);
          }
          const checkpoints = options.checkpoints
            ? { ...(trusted ? { trusted } : {}), ...(anchors ? { anchors } : {}) }
            : (false as const);
          if (!options.checkpoints && anchors) throw new CliError('--anchor cannot be used with --no-checkpoints');
          return read({ ...(expectHead ? { expectHead } : {}), checkpoints });
        };
        let journaled = 0;
        const result = options.file
          ? await run(undefined, (o) => verifyFile(options.file!, { ...(o ?? {}), ...(options.base ? { base: readBaseFile(options.base) } : {}) }))
          : await withStore(
              configOption(),
              async (store, loaded) => {
                // Records a stopped Sluice journaled but did not copy onto the chain yet.
                if (store instanceof SqliteStore && store.journalDir) journaled = await unrecoveredJournalRecords(store.journalDir, store);
                return run(loaded, (o) => verifyAudit(store, o));
              },
              { mustExist: true },
            );
        if (result.ok && result.count === 0 && !options.allowEmpty) {
          // An empty ledger where records were expected is what deleting all of them looks like.
          result.ok = false;
          result.problem = { seq: 1, kind: 'truncated', message: 'the ledger has no records (pass --allow-empty if that is expected)' };
        }
        if (options.json) process.stdout.write(`${JSON.stringify(result)}\n`);
        else if (result.ok) {
          process.stdout.write(`ok: ${result.count} records, chain intact, head ${result.head.seq}:${result.head.hash}\n`);
          const cp = result.checkpoints ?? (options.checkpoints ? { count: 0, uncovered: result.count } : undefined);
          if (cp) {
            process.stdout.write(
              cp.last
                ? `checkpoints: ${cp.count} signed and consistent, the last covers records 1-${cp.last.treeSize} (${cp.last.time}, key ${cp.last.keyId}); ${cp.uncovered} record(s) after it\n`
                : `checkpoints: none yet (${cp.uncovered} record(s) not covered by a signature)\n`,
            );
            if (cp.count > 0) process.stdout.write(`signatures checked with ${signedBy}\n`);
            if (cp.anchored !== undefined) process.stdout.write(`anchors: ${cp.anchored} anchored checkpoint(s) match the ledger (${anchorFile})\n`);
            else if (anchorMissing !== undefined && cp.count > 0) process.stdout.write(`anchors: not checked: the anchor file ${anchorMissing} does not exist\n`);
            if (cp.prunedTo !== undefined) process.stdout.write(`retention: records 1-${cp.prunedTo} were pruned; verified from the signed checkpoint over them\n`);
          }
          if (journaled > 0) process.stdout.write(`journal: ${journaled} record(s) of a Sluice that stopped are in the audit journal, not yet on the chain; the next \`sluice up\` copies them in\n`);
        } else process.stdout.write(`FAILED at record ${result.problem!.seq} (${result.problem!.kind}): ${result.problem!.message}\n`);
        if (!result.ok) process.exitCode = 1;
      },
    );

  audit
    .command('prove <seq>')
    .description('print an inclusion proof (JSON) of a record against the latest signed checkpoint')
    .action(async (seqText: string) => {
      const seq = Number(seqText);
      if (!Number.isSafeInteger(seq) || seq < 1) throw new CliError('the record must be its seq, a whole number >= 1');
      await withStore(
        configOption(),
        async (store) => {
          try {
            process.stdout.write(`${JSON.stringify(await proveRecord(store, seq), null, 2)}\n`);
          } catch (error) {
            if (error instanceof ProofError) throw new CliError(error.message, 1);
            throw error;
          }
        },
        { mustExist: true },
      );
    });

  audit
    .command('verify-proof <file>')
    .description('check an inclusion proof offline against the signer\'s public key')
    .requiredOption('--public-key <file>', 'trusted checkpoint public key(s), PEM (repeatable)', collectRepeated, [])
    .option('--json', 'print the result as JSON')
    .action((file: string, options: { publicKey: string[]; json?: boolean }) => {
      verifyProofFile(file, options.publicKey, options.json);
    });

  audit
    .command('public-key')
    .description('print the public key that signs audit checkpoints (PEM)')
    .option('--all', 'every signing key the ledger announces (old ones after a rotation), read from the ledger')
    .action(async (options: { all?: boolean }) => {
      if (!options.all) {
        const loaded = resolveConfig(configOption(), { optional: true });
        const path = keyPath(loaded);
        if (!existsSync(path)) throw new CliError(`no signing key at ${path} yet: it is created when Sluice first starts`, 1);
        process.stdout.write(publicKeyPem(readSigningPublicKey(path)));
        return;
      }
      await withStore(
        configOption(),
        async (store) => {
          for (const a of await prunedKeyAnnouncements(store)) {
            process.stdout.write(`# ${a.keyId} (announced in records since pruned)\n${publicKeyPem(publicKeyFromRaw(Buffer.from(a.publicKey, 'base64')))}`);
          }
          let after = 0;
          for (;;) {
            const page = await store.readAudit({ afterSeq: after, limit: 5000 });
            for (const row of page) {
              if (row.kind !== 'key') continue;
              const a = parseKeyAnnouncement((JSON.parse(row.body) as { detail?: unknown }).detail);
              if (a) process.stdout.write(`# ${a.keyId} (announced in record ${row.seq})\n${publicKeyPem(publicKeyFromRaw(Buffer.from(a.publicKey, 'base64')))}`);
            }
            if (page.length < 5000) break;
            after = page[page.length - 1]!.seq;
          }
        },
        { mustExist: true },
      );
    });

  audit
    .command('export')
    .description('export audit records as JSONL (verifiable offline) or OCSF events (for a SIEM)')
    .option('--format <format>', 'jsonl or ocsf', 'jsonl')
    .option('--out <file>', 'write to a file instead of stdout')
    .option('--from <time>', 'records at or after this time (ISO 8601, or a duration ago such as 24h)')
    .option('--to <time>', 'records before this time (ISO 8601, or a duration ago)')
    .option('--session <id>')
    .option('--principal <name>')
    .option('--connection <name>')
    .option('--effect <effect>', 'allow, deny or review')
    .option('--kind <kind>', `record kind (repeatable): ${AUDIT_KINDS.join(', ')}`, collectRepeated, [])
    .action(
      async (options: { format: string; out?: string; from?: string; to?: string; session?: string; principal?: string; connection?: string; effect?: string; kind: string[] }) => {
        if (options.format !== 'jsonl' && options.format !== 'ocsf') throw new CliError(`--format must be jsonl or ocsf (got "${options.format}")`);
        if (options.effect !== undefined && !['allow', 'deny', 'review'].includes(options.effect)) throw new CliError('--effect must be allow, deny or review');
        const kinds = options.kind.flatMap((k) => k.split(',')).map((k) => k.trim()).filter(Boolean);
        for (const k of kinds) if (!(AUDIT_KINDS as readonly string[]).includes(k)) throw new CliError(`--kind must be one of ${AUDIT_KINDS.join(', ')} (got "${k}")`);
        const from = options.from !== undefined ? parseTime(options.from, '--from') : undefined;
        const to = options.to !== undefined ? parseTime(options.to, '--to') : undefined;
        if (from && to && from.getTime() >= to.getTime()) throw new CliError('--from must be before --to');
        await withStore(
          configOption(),
          async (store, loaded) => {
            const out: Writable = options.out ? createWriteStream(options.out, { mode: 0o600 }) : process.stdout;
            const connections = new Map(Object.entries(loaded.config.connections).map(([name, c]) => [name, c.kind as string]));
            await writeAuditExport(store, out, {
              format: options.format as ExportFormat,
              ...(options.session ? { session: options.session } : {}),
              ...(options.principal ? { principal: options.principal } : {}),
              ...(options.connection ? { connection: options.connection } : {}),
              ...(options.effect ? { effect: options.effect } : {}),
              ...(from ? { from } : {}),
              ...(to ? { to } : {}),
              ...(kinds.length > 0 ? { kinds } : {}),
              ocsf: { connectionKind: (name) => connections.get(name), productVersion: cliVersion() },
            });
            if (options.out) {
              out.end();
              await once(out, 'finish');
            }
          },
          { mustExist: true },
        );
      },
    );
}

/** An ISO 8601 date or time, or a duration back from now (`24h`, `30d`). */
function parseTime(text: string, option: string): Date {
  try {
    return new Date(Date.now() - parseDuration(text));
  } catch {
    // not a duration
  }
  if (!/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text.trim())) {
    throw new CliError(`${option} must be an ISO 8601 date or time (2026-05-01, 2026-05-01T12:00:00Z) or a duration ago (24h)`);
  }
  const time = new Date(text.trim());
  if (Number.isNaN(time.getTime())) throw new CliError(`${option}: "${text}" is not a valid time`);
  return time;
}

function cliVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '';
  }
}

function parseHead(text: string): ChainHead {
  const match = /^(\d+):([0-9a-f]{64})$/.exec(text.trim());
  if (!match) throw new CliError('--expect-head must be SEQ:HASH as printed by `sluice audit verify`');
  return { seq: Number(match[1]), hash: match[2]! };
}

async function verifyFile(path: string, options: Parameters<typeof verifyAuditJsonl>[1]) {
  if (!existsSync(path)) throw new CliError(`no such file: ${path}`);
  return verifyAuditJsonl(createReadStream(path), options);
}

function keyPath(loaded: LoadedConfig): string {
  let path: string | undefined;
  try {
    path = signingKeyPath(loaded.config, loaded.baseDir);
  } catch (error) {
    throw new CliError((error as Error).message);
  }
  if (!path) throw new CliError('an in-memory store keeps no signing key');
  return path;
}

function verifyProofFile(file: string, publicKeys: readonly string[], json?: boolean): void {
  if (publicKeys.length === 0) throw new CliError('checking a proof needs --public-key FILE');
  const doc = readParsedFile(file, (text) => JSON.parse(text) as unknown);
  const problem = checkInclusionProof(doc, readPublicKeyFiles(publicKeys));
  const seq = (doc as { record?: { seq?: unknown } } | null)?.record?.seq;
  if (json) process.stdout.write(`${JSON.stringify(problem ? { ok: false, problem } : { ok: true, seq })}\n`);
  else if (problem) process.stdout.write(`FAILED: ${problem}\n`);
  else {
    const c = (doc as { checkpoint: FoundCheckpoint }).checkpoint;
    process.stdout.write(`ok: record ${String(seq)} is included in the ${c.treeSize} records signed by ${c.keyId} at ${c.time}\n`);
  }
  if (problem) process.exitCode = 1;
}

function printRow(row: AuditRow, json?: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify({ seq: row.seq, hash: row.hash, prev_hash: row.prevHash, record: JSON.parse(row.body) as unknown })}\n`);
    return;
  }
  const body = JSON.parse(row.body) as Record<string, unknown>;
  const parts = [
    String(row.seq).padStart(6),
    row.time,
    String(body.kind).padEnd(8),
    body.principal ? `${String(body.principal)}${body.onBehalfOf ? ` (for ${String(body.onBehalfOf)})` : ''}` : '-',
    body.connection ? `@${String(body.connection)}` : '',
    body.effect ? `${String(body.effect)}${body.rule ? ` [${String(body.rule)}]` : ''}` : '',
    body.outcome ? `-> ${String(body.outcome)}` : '',
    body.command ? JSON.stringify(oneLine(String(body.command))) : '',
  ];
  process.stdout.write(`${parts.filter(Boolean).join('  ')}\n`);
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 100 ? `${flat.slice(0, 97)}...` : flat;
}
