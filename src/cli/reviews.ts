// `sluice reviews list|show|approve|reject`: release or refuse commands held for review.
// Works from any process that shares the store with the gateway holding the command.
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { AuditLedger } from '../audit/ledger.js';
import { decideReview, ReviewError } from '../approvals/reviews.js';
import type { ReviewRecord, ReviewStatus } from '../store/store.js';
import { CliError, printJson, withExistingStore } from './context.js';

const STATUSES: ReviewStatus[] = ['pending', 'approved', 'rejected', 'expired', 'cancelled', 'executed'];

function summary(review: ReviewRecord): Record<string, unknown> {
  const action = review.action as {
    principal?: { kind?: string; name?: string; onBehalfOf?: string };
    connection?: { name?: string };
    command?: string;
    intent?: { class?: string; flags?: string[] };
  };
  return {
    id: review.id,
    status: review.status,
    created_at: review.createdAt,
    expires_at: review.expiresAt,
    principal: action.principal ? `${action.principal.kind}:${action.principal.name}` : null,
    on_behalf_of: action.principal?.onBehalfOf ?? null,
    connection: action.connection?.name ?? null,
    command: action.command ?? null,
    intent: action.intent ?? null,
    rule: review.rule,
    reason: review.reason,
    decided_by: review.decidedBy ?? null,
    decided_at: review.decidedAt ?? null,
    note: review.note ?? null,
  };
}

function defaultApprover(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli:unknown';
  }
}

export function registerReviews(program: Command, configOption: () => string | undefined): void {
  const reviews = program.command('reviews').description('commands held for human review');

  reviews
    .command('list')
    .description('list reviews (pending by default)')
    .option('--status <status>', `one of ${STATUSES.join(', ')}, or all`, 'pending')
    .option('--json', 'print JSON lines')
    .action(async (options: { status: string; json?: boolean }) => {
      if (options.status !== 'all' && !STATUSES.includes(options.status as ReviewStatus)) {
        throw new CliError(`--status must be one of ${STATUSES.join(', ')}, all`);
      }
      await withExistingStore(configOption(), async (store) => {
        const list = await store.listReviews(options.status === 'all' ? {} : { status: options.status as ReviewStatus });
        for (const review of list) {
          const s = summary(review);
          if (options.json) printJson(s);
          else process.stdout.write(`${review.id}  ${review.status.padEnd(9)}  ${String(s.principal)}  on ${String(s.connection)}: ${oneLine(String(s.command))}\n`);
        }
        if (!options.json && list.length === 0) process.stdout.write(`no ${options.status === 'all' ? '' : `${options.status} `}reviews\n`);
      });
    });

  reviews
    .command('show')
    .argument('<id>')
    .description('show one review in full (JSON)')
    .action(async (id: string) => {
      await withExistingStore(configOption(), async (store) => {
        const review = await store.getReview(id);
        if (!review) throw new CliError(`no review with id ${id}`, 1);
        printJson(summary(review));
      });
    });

  for (const verdict of ['approve', 'reject'] as const) {
    reviews
      .command(verdict)
      .argument('<id>')
      .description(verdict === 'approve' ? 'approve a held command: it runs exactly as shown' : 'reject a held command: it does not run')
      .option('--by <name>', 'who decides (default: cli:<OS user>)')
      .option('--note <text>', 'a note for the requester and the audit record')
      .action(async (id: string, options: { by?: string; note?: string }) => {
        await withExistingStore(configOption(), async (store) => {
          const ledger = new AuditLedger(store);
          try {
            const review = await decideReview(store, ledger, id, verdict === 'approve' ? 'approved' : 'rejected', options.by ?? defaultApprover(), options.note);
            process.stdout.write(`${review.status} ${review.id}: ${oneLine(String(summary(review).command))}\n`);
          } catch (error) {
            if (error instanceof ReviewError) throw new CliError(error.message, 1);
            throw error;
          } finally {
            await ledger.close();
          }
        });
      });
  }
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 120 ? `${flat.slice(0, 117)}...` : flat;
}
