// `sluice audit tail|verify|export`
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { writeAuditJsonl } from '../audit/export.js';
import { verifyAudit, verifyAuditJsonl } from '../audit/verify.js';
import type { AuditRow, ChainHead } from '../store/store.js';
import { CliError, withStore } from './context.js';

export function registerAudit(program: Command, configOption: () => string | undefined): void {
  const audit = program.command('audit').description('read, verify and export the audit ledger');

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
    .description('check the hash chain; exits non-zero naming the first bad record')
    .option('--file <export.jsonl>', 'verify an export (sluice audit export) instead of the store, offline')
    .option('--expect-head <seq:hash>', 'a head recorded earlier (e.g. from a previous verify): detects records cut from the end')
    .option('--allow-empty', 'do not fail on an empty ledger')
    .option('--json', 'print the result as JSON')
    .action(async (options: { file?: string; expectHead?: string; allowEmpty?: boolean; json?: boolean }) => {
      const expectHead = options.expectHead !== undefined ? parseHead(options.expectHead) : undefined;
      const verifyOptions = expectHead ? { expectHead } : {};
      const result = options.file
        ? await verifyFile(options.file, verifyOptions)
        : await withStore(configOption(), (store) => verifyAudit(store, verifyOptions), { mustExist: true });
      if (result.ok && result.count === 0 && !options.allowEmpty) {
        // An empty ledger where records were expected is what deleting all of them looks like.
        result.ok = false;
        result.problem = { seq: 1, kind: 'truncated', message: 'the ledger has no records (pass --allow-empty if that is expected)' };
      }
      if (options.json) process.stdout.write(`${JSON.stringify(result)}\n`);
      else if (result.ok) process.stdout.write(`ok: ${result.count} records, chain intact, head ${result.head.seq}:${result.head.hash}\n`);
      else process.stdout.write(`FAILED at record ${result.problem!.seq} (${result.problem!.kind}): ${result.problem!.message}\n`);
      if (!result.ok) process.exitCode = 1;
    });

  audit
    .command('export')
    .description('export audit records')
    .option('--format <format>', 'jsonl', 'jsonl')
    .option('--out <file>', 'write to a file instead of stdout')
    .option('--session <id>')
    .option('--principal <name>')
    .option('--connection <name>')
    .option('--effect <effect>', 'allow, deny or review')
    .action(async (options: { format: string; out?: string; session?: string; principal?: string; connection?: string; effect?: string }) => {
      if (options.format !== 'jsonl') throw new CliError(`--format must be jsonl (got "${options.format}")`);
      if (options.effect !== undefined && !['allow', 'deny', 'review'].includes(options.effect)) throw new CliError('--effect must be allow, deny or review');
      await withStore(configOption(), async (store) => {
        const out: Writable = options.out ? createWriteStream(options.out, { mode: 0o600 }) : process.stdout;
        const filter = {
          ...(options.session ? { session: options.session } : {}),
          ...(options.principal ? { principal: options.principal } : {}),
          ...(options.connection ? { connection: options.connection } : {}),
          ...(options.effect ? { effect: options.effect } : {}),
        };
        await writeAuditJsonl(store, out, filter);
        if (options.out) {
          out.end();
          await once(out, 'finish');
        }
      }, { mustExist: true });
    });
}

function parseHead(text: string): ChainHead {
  const match = /^(\d+):([0-9a-f]{64})$/.exec(text.trim());
  if (!match) throw new CliError('--expect-head must be SEQ:HASH as printed by `sluice audit verify`');
  return { seq: Number(match[1]), hash: match[2]! };
}

async function verifyFile(path: string, options: { expectHead?: ChainHead }) {
  if (!existsSync(path)) throw new CliError(`no such file: ${path}`);
  return verifyAuditJsonl(createReadStream(path), options);
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
