// `sluice grants list|revoke`: the just-in-time grants approvers gave, and ending one early.
// Revoking is authenticated like deciding a review (cli/approver.ts).
import type { Command } from 'commander';
import { AuditLedger } from '../audit/ledger.js';
import { GrantError, revokeGrant } from '../approvals/grant-admin.js';
import { grantJson } from '../server/approvals-api.js';
import { addApproverOptions, callApi, decider, localApprover, type ApproverOptions } from './approver.js';
import { CliError, printJson, withExistingStore } from './context.js';

export function registerGrants(program: Command, configOption: () => string | undefined): void {
  const grants = program.command('grants').description('just-in-time grants given with approvals');

  grants
    .command('list')
    .description('list active grants (all, with --all)')
    .option('--all', 'include expired and revoked grants')
    .option('--json', 'print one JSON object per line')
    .action(async (options: { all?: boolean; json?: boolean }) => {
      await withExistingStore(configOption(), async (store) => {
        const now = new Date();
        const list = await store.listGrants(options.all ? {} : { activeAt: now.toISOString() });
        for (const grant of list) {
          const g = grantJson(grant);
          if (options.json) {
            printJson(g);
            continue;
          }
          const state = grant.revokedAt ? 'revoked' : Date.parse(grant.expiresAt) <= now.getTime() ? 'expired' : 'active';
          const what = grant.scope === 'session' ? `session ${grant.session ?? '?'}` : `pattern ${String(g.pattern)}`;
          process.stdout.write(
            `${grant.id}  ${state.padEnd(7)}  ${grant.principal} on ${grant.connection} (rule ${grant.rule}): ${what}; until ${grant.expiresAt}; used ${grant.uses}x; by ${grant.grantedBy.join(', ')}\n`,
          );
        }
        if (!options.json && list.length === 0) process.stdout.write(options.all ? 'no grants\n' : 'no active grants\n');
      });
    });

  const revoke = grants
    .command('revoke')
    .argument('<id>')
    .description('end a grant now: later commands are held for review again')
    .option('--note <text>', 'why, for the audit record')
    .option('--json', 'print the grant as JSON');
  addApproverOptions(revoke).action(async (id: string, options: ApproverOptions & { note?: string; json?: boolean }) => {
    const how = decider(options, configOption);
    if (how.kind === 'api') {
      const answer = await callApi(how, 'POST', `/v1/grants/${encodeURIComponent(id)}/revoke`, options.note ? { note: options.note } : {});
      if (options.json) return printJson(answer);
      process.stdout.write(`revoked ${String(answer.id)}\n`);
      return;
    }
    await withExistingStore(configOption(), async (store, loaded) => {
      const approver = localApprover(loaded);
      const groups = new Set([...loaded.config.approvals.approvers, ...Object.values(loaded.config.approvals.rules).flatMap((r) => r.approvers ?? [])]);
      if (!approver.groups.some((g) => groups.has(g))) throw new CliError(`${approver.name} is not in an approver group (${[...groups].join(', ')})`, 1);
      const ledger = new AuditLedger(store);
      try {
        const grant = await revokeGrant(store, ledger, id, approver.name, { via: `cli (OS user ${approver.osUser})`, ...(options.note ? { note: options.note } : {}) });
        if (options.json) printJson(grantJson(grant));
        else process.stdout.write(`revoked ${grant.id}\n`);
      } catch (error) {
        if (error instanceof GrantError) throw new CliError(`${error.code}: ${error.message}`, 1);
        throw error;
      } finally {
        await ledger.close();
      }
    });
  });
}
