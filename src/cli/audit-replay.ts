// `sluice audit sessions|replay|report`: the ledger read back as sessions, as one session's
// timeline (and its shell recording), and as an HTML evidence report for an auditor.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { encodeCast, recordingsPath } from '../audit/recording.js';
import { buildSessionCast, checkRecordings, formatReplayText, formatSessionsText, listSessions, loadSessionReplay, parseTimeArg, type TimeRange } from '../audit/replay.js';
import { buildReport, renderReportHtml } from '../audit/report.js';
import { collectRepeated, localSigningPublicKey, readPublicKeyFiles } from './audit-inputs.js';
import { CliError, withStore } from './context.js';

export function registerAuditReplay(audit: Command, configOption: () => string | undefined): void {
  audit
    .command('sessions')
    .description('list the sessions with records in a period, to pick one for `sluice audit replay`')
    .option('--from <time>', 'ISO date or time, or a duration ago (24h, 7d); inclusive')
    .option('--to <time>', 'ISO date or time, or a duration ago; exclusive')
    .option('--json', 'print JSON')
    .action(async (options: { from?: string; to?: string; json?: boolean }) => {
      const range = timeRange(options);
      await withStore(
        configOption(),
        async (store) => {
          const sessions = await listSessions(store, range);
          process.stdout.write(options.json ? `${JSON.stringify(sessions)}\n` : formatSessionsText(sessions));
        },
        { mustExist: true },
      );
    });

  audit
    .command('replay <session>')
    .description('show a session as a timeline: who, each command, intent, decision and rule, approver, result, masked findings, timings')
    .option('--json', 'print the timeline as JSON')
    .option('--cast', 'print the session\'s shell recording (asciicast v2) instead, after checking every file against the ledger')
    .option('--out <file>', 'with --cast: write the recording to this file')
    .option('--recordings <dir>', 'where the recordings are (default: audit.recordings of the config)')
    .action(async (session: string, options: { json?: boolean; cast?: boolean; out?: string; recordings?: string }) => {
      if (options.out && !options.cast) throw new CliError('--out is for --cast');
      if (options.json && options.cast) throw new CliError('--json and --cast cannot be combined');
      await withStore(
        configOption(),
        async (store, loaded) => {
          const replay = await loadSessionReplay(store, session);
          if (!replay) throw new CliError(`the ledger has no records of session ${JSON.stringify(session)} (list sessions with \`sluice audit sessions\`)`, 1);
          const dir = options.recordings ? resolve(options.recordings) : recordingsPath(loaded.config, loaded.baseDir);
          if (options.cast) {
            if (!dir) throw new CliError('no recordings directory: set audit.recordings in the config or pass --recordings DIR');
            const built = await buildSessionCast(replay, dir);
            if ('problems' in built) throw new CliError(`cannot replay the recording:\n  ${built.problems.join('\n  ')}`, 1);
            const text = encodeCast(built.cast);
            if (options.out) writeFileSync(options.out, text, { mode: 0o600 });
            else process.stdout.write(text);
            return;
          }
          await checkRecordings(replay, dir);
          process.stdout.write(options.json ? `${JSON.stringify(replay)}\n` : formatReplayText(replay));
          // A recording that does not match its record is evidence of tampering: say so in the exit code.
          if (replay.steps.some((s) => s.recordingCheck && ['missing', 'altered', 'invalid'].includes(s.recordingCheck.status))) process.exitCode = 1;
        },
        { mustExist: true },
      );
    });

  audit
    .command('report')
    .description('write a self-contained HTML evidence report for a period: access, denials, approvals, ledger verification')
    .option('--from <time>', 'ISO date or time, or a duration ago (24h, 7d); inclusive')
    .option('--to <time>', 'ISO date or time, or a duration ago; exclusive')
    .option('--out <file.html>', 'write to a file instead of stdout')
    .option('--public-key <file>', 'trusted checkpoint public key(s), PEM (repeatable); default: the local signing key', collectRepeated, [])
    .option('--no-checkpoints', 'verify the hash chain only')
    .action(async (options: { from?: string; to?: string; out?: string; publicKey: string[]; checkpoints: boolean }) => {
      const range = timeRange(options);
      await withStore(
        configOption(),
        async (store, loaded) => {
          let trusted = options.publicKey.length > 0 ? readPublicKeyFiles(options.publicKey) : undefined;
          let signedBy = trusted ? 'the given public key(s)' : 'the keys the ledger itself announces';
          if (!trusted && options.checkpoints) {
            trusted = localSigningPublicKey(loaded);
            if (trusted) signedBy = 'the local signing key';
          }
          const data = await buildReport(store, range, {
            checkpoints: options.checkpoints ? (trusted ? { trusted } : {}) : false,
            ...(options.checkpoints ? { signedBy } : {}),
          });
          const html = renderReportHtml(data);
          if (options.out) writeFileSync(options.out, html, { mode: 0o600 });
          else process.stdout.write(html);
          if (!data.verification.ok) {
            const p = data.verification.problem!;
            process.stderr.write(`sluice: the ledger does not verify: record ${p.seq} (${p.kind}): ${p.message}\n`);
            process.exitCode = 1;
          }
        },
        { mustExist: true },
      );
    });
}

function timeRange(options: { from?: string; to?: string }): TimeRange {
  const range: TimeRange = {};
  try {
    if (options.from !== undefined) range.from = parseTimeArg(options.from);
    if (options.to !== undefined) range.to = parseTimeArg(options.to);
  } catch (error) {
    throw new CliError((error as Error).message);
  }
  if (range.from && range.to && range.from >= range.to) throw new CliError('--from must be before --to');
  return range;
}

