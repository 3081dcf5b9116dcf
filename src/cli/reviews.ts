// `sluice reviews list|show|approve|reject`: release or refuse commands held for review.
// Listing and showing read the store. Deciding goes through the API with the caller's key
// (SLUICE_KEY, or --key-env) or, without a key, acts on the store as the OS user, who must be
// an approver identity in the config (cli/approver.ts): nobody decides under a name they claim.
import type { Command } from 'commander';
import { AuditLedger } from '../audit/ledger.js';
import { GRANT_SCOPES } from '../approvals/config.js';
import { decideReview, ReviewError } from '../approvals/reviews.js';
import { decidedJson, reviewJson } from '../server/approvals-api.js';
import type { GrantScope, ReviewRecord, ReviewStatus, ReviewVote } from '../store/store.js';
import { callApi } from './api-client.js';
import { addApproverOptions, decider, localApprover, type ApproverOptions } from './approver.js';
import { CliError, printJson, withExistingStore } from './context.js';

const STATUSES: ReviewStatus[] = ['pending', 'approved', 'rejected', 'expired', 'cancelled', 'executed'];

/** The API's view of a review, with the principal as KIND:NAME (as `--as` takes it). */
function summary(review: ReviewRecord, votes?: readonly ReviewVote[]): Record<string, unknown> {
  const s = reviewJson(review, votes);
  return { ...s, principal: s.principal ? `${String(s.principal_kind)}:${String(s.principal)}` : null };
}

interface DecideCliOptions extends ApproverOptions {
  note?: string;
  grant?: string;
  minutes?: string;
  json?: boolean;
}

export function registerReviews(program: Command, configOption: () => string | undefined): void {
  const reviews = program.command('reviews').description('commands held for human review');

  reviews
    .command('list')
    .description('list reviews (pending by default)')
    .option('--status <status>', `one of ${STATUSES.join(', ')}, or all`, 'pending')
    .option('--json', 'print one JSON object per line')
    .action(async (options: { status: string; json?: boolean }) => {
      if (options.status !== 'all' && !STATUSES.includes(options.status as ReviewStatus)) {
        throw new CliError(`--status must be one of ${STATUSES.join(', ')}, all`);
      }
      await withExistingStore(configOption(), async (store) => {
        const list = await store.listReviews(options.status === 'all' ? {} : { status: options.status as ReviewStatus });
        for (const review of list) {
          const s = summary(review);
          if (options.json) printJson(s);
          else {
            const quorum = review.requirements && review.requirements.quorum > 1 ? ` (quorum ${review.requirements.quorum})` : '';
            process.stdout.write(`${review.id}  ${review.status.padEnd(9)}  ${String(s.principal)}  on ${String(s.connection)}${quorum}: ${oneLine(String(s.command))}\n`);
          }
        }
        if (!options.json && list.length === 0) process.stdout.write(`no ${options.status === 'all' ? '' : `${options.status} `}reviews\n`);
      });
    });

  reviews
    .command('show')
    .argument('<id>')
    .description('show one review in full, with its votes')
    .option('--json', 'print JSON')
    .action(async (id: string, options: { json?: boolean }) => {
      await withExistingStore(configOption(), async (store) => {
        const review = await store.getReview(id);
        if (!review) throw new CliError(`no review with id ${id}`, 1);
        const s = summary(review, await store.listVotes(id));
        if (options.json) return printJson(s);
        const lines = [
          `review ${review.id}: ${review.status}`,
          `  who:        ${String(s.principal)}${s.on_behalf_of ? ` for ${String(s.on_behalf_of)}` : ''} via ${String(s.door)} on ${String(s.connection)}`,
          `  command:    ${String(s.command)}`,
          `  intent:     ${JSON.stringify(s.intent)}`,
          `  rule:       ${review.rule}: ${review.reason}`,
          `  needs:      ${String(s.quorum)} approval(s) from ${(s.approvers as string[] | null)?.join(', ') ?? 'approvals.approvers'}${s.justification ? ', with a reason' : ''}; grants: ${(s.grants as string[]).join(', ')}`,
          `  created:    ${review.createdAt}   expires: ${review.expiresAt}`,
          ...((s.votes as { approver: string; verdict: string; at: string; note: string | null }[]).map((v) => `  vote:       ${v.verdict} by ${v.approver} at ${v.at}${v.note ? `: ${v.note}` : ''}`)),
          ...(review.decidedBy ? [`  decided by: ${review.decidedBy} at ${review.decidedAt ?? '?'}`] : []),
          ...(review.note ? [`  note:       ${review.note}`] : []),
        ];
        process.stdout.write(`${lines.join('\n')}\n`);
      });
    });

  for (const verb of ['approve', 'reject'] as const) {
    const command = reviews
      .command(verb)
      .argument('<id>')
      .description(verb === 'approve' ? 'approve a held command: it runs exactly as shown' : 'reject a held command: it does not run')
      .option('--note <text>', 'why (required when the rule asks for a justification)')
      .option('--json', 'print the result as JSON');
    if (verb === 'approve') {
      command
        .option('--grant <scope>', `also let later commands like this through: ${GRANT_SCOPES.join(', ')} (default once)`)
        .option('--minutes <n>', 'how long the grant lasts (default approvals.grants.default)');
    }
    addApproverOptions(command).action(async (id: string, options: DecideCliOptions) => {
      const verdict = verb === 'approve' ? 'approved' : 'rejected';
      const grant = grantOption(options);
      const how = decider(options, configOption);
      if (how.kind === 'api') {
        const answer = await callApi(how, 'POST', `/v1/reviews/${encodeURIComponent(id)}/${verb}`, {
          ...(options.note !== undefined ? { note: options.note } : {}),
          ...(grant ? { grant: { scope: grant.scope, ...(grant.minutes ? { minutes: grant.minutes } : {}) } } : {}),
        });
        return report(answer, options.json);
      }
      await withExistingStore(configOption(), async (store, loaded) => {
        const approver = localApprover(loaded);
        const ledger = new AuditLedger(store);
        try {
          const decided = await decideReview(store, ledger, id, verdict, approver, {
            ...(options.note !== undefined ? { note: options.note } : {}),
            ...(grant ? { grant: { scope: grant.scope, ...(grant.minutes ? { durationMs: grant.minutes * 60_000 } : {}) } } : {}),
            grantDefaultMs: loaded.config.approvals.grants.default,
            approvers: loaded.config.approvals.approvers,
            via: `cli (OS user ${approver.osUser})`,
          });
          report(decidedJson(decided), options.json);
        } catch (error) {
          if (error instanceof ReviewError) throw new CliError(`${error.code}: ${error.message}`, 1);
          throw error;
        } finally {
          await ledger.close();
        }
      });
    });
  }
}

function grantOption(options: DecideCliOptions): { scope: GrantScope; minutes?: number } | undefined {
  if (options.grant === undefined) {
    if (options.minutes !== undefined) throw new CliError('--minutes goes with --grant session or --grant pattern');
    return undefined;
  }
  if (!(GRANT_SCOPES as readonly string[]).includes(options.grant)) throw new CliError(`--grant must be one of ${GRANT_SCOPES.join(', ')}`);
  let minutes: number | undefined;
  if (options.minutes !== undefined) {
    minutes = Number(options.minutes);
    if (!Number.isInteger(minutes) || minutes < 1) throw new CliError('--minutes must be a whole number of minutes, at least 1');
  }
  return { scope: options.grant as GrantScope, ...(minutes ? { minutes } : {}) };
}

function report(answer: Record<string, unknown>, json: boolean | undefined): void {
  if (json) return printJson(answer);
  const grant = answer.grant as { id: string; scope: string; expires_at: string } | null;
  const status = String(answer.status);
  const line =
    status === 'pending'
      ? `vote recorded on ${String(answer.id)}: ${String(answer.approvals)} of ${String(answer.quorum)} approvals; it waits for more`
      : `${status} ${String(answer.id)}${answer.decided_by ? ` (by ${String(answer.decided_by)})` : ''}`;
  process.stdout.write(`${line}${grant ? `\ngrant ${grant.id}: ${grant.scope} until ${grant.expires_at}` : ''}\n`);
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 120 ? `${flat.slice(0, 117)}...` : flat;
}
