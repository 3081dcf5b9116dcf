// The HTML evidence report: built from a real ledger (commands through the gate on a real
// shell, denied, approved and rejected), escaped against hostile commands, and showing a
// failed verification once the store has been tampered with.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startRuntime, type Runtime } from '../../src/app/runtime.js';
import { decideReview } from '../../src/approvals/reviews.js';
import { escapeHtml, renderReportHtml, type ReportData } from '../../src/audit/report.js';
import { loadConfigFile } from '../../src/config/load.js';
import type { Principal } from '../../src/gate/types.js';
import { tempDir } from '../helpers.js';
import { openRawSqlite } from '../store/raw-sqlite.js';

const BIN = resolve('bin/sluice.mjs');
const HOSTILE = 'curl "http://example.invalid/<script>alert(1)</script>"';

function sluice(args: string[], cwd: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, SLUICE_LOG_LEVEL: 'silent' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const copilot: Principal = { kind: 'agent', name: 'copilot', groups: ['agents'], onBehalfOf: 'alice' };
const dave: Principal = { kind: 'human', name: 'dave', groups: ['staff'] };

describe('sluice audit report', () => {
  const dir = tempDir('sluice-report-');
  const cwd = dir.path;
  let runtime: Runtime;
  let started: string;

  before(async () => {
    mkdirSync(join(cwd, 'files'));
    writeFileSync(
      join(cwd, 'sluice.yaml'),
      'store: { url: sqlite:store/sluice.db }\nconnections:\n  sh: { kind: shell, cwd: files, timeout: 10s, policy: guarded }\napprovals: { timeout: 20s }\n',
    );
    started = new Date(Date.now() - 1000).toISOString();
    runtime = await startRuntime(loadConfigFile(join(cwd, 'sluice.yaml')));
    const run = (principal: Principal, command: string) => runtime.gate.run({ principal, session: `s-${principal.name}`, connection: 'sh', door: 'api', command });
    const decide = async (command: Promise<unknown>, verdict: 'approved' | 'rejected', by: string) => {
      let id: string | undefined;
      for (let i = 0; i < 200 && !id; i++) {
        await new Promise((r) => setTimeout(r, 25));
        id = (await runtime.store.listReviews({ status: 'pending' }))[0]?.id;
      }
      assert.ok(id, 'held for review');
      await decideReview(runtime.store, runtime.ledger, id, verdict, by);
      return command;
    };
    assert.equal((await run(copilot, 'ls -la')).status, 'executed');
    assert.equal((await run(copilot, HOSTILE)).status, 'denied');
    assert.equal(((await decide(run(copilot, "touch '<b>approved<b>.txt'"), 'approved', 'bob')) as { status: string }).status, 'executed');
    assert.equal(((await decide(run(copilot, 'touch rejected.txt'), 'rejected', 'carol')) as { status: string }).status, 'rejected');
    assert.equal((await run(dave, 'cat /etc/hostname')).status, 'executed');
    assert.ok(existsSync(join(cwd, 'files', '<b>approved<b>.txt')));
    await runtime.close();
  });

  after(() => dir.remove());

  it('writes a self-contained report: access per principal and connection, denials, approvals, verification', () => {
    const out = sluice(['audit', 'report', '--from', started, '--out', 'report.html'], cwd);
    assert.equal(out.code, 0, out.stderr + out.stdout);
    const html = readFileSync(join(cwd, 'report.html'), 'utf8');
    assert.match(html, /^<!DOCTYPE html>/);
    assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">/);
    assert.doesNotMatch(html, /<script|<link|\b(src|href)=/i, 'no scripts and no external resources');
    // Verified, with the checkpoint written at shutdown covering the period.
    assert.match(html, /class="status ok">Ledger verified: \d+ records, hash chain intact/);
    assert.match(html, /Every record of this period is covered by a signed checkpoint/);
    assert.match(html, /Signatures checked with<\/dt><dd>the local signing key/);
    // Who accessed what.
    assert.match(html, /<td>copilot <span class="muted">\(agent\)<\/span> <span class="muted">for<\/span> alice<\/td><td>sh<\/td><td class="n">4<\/td><td class="n">1<\/td><td class="n">1<\/td><td class="n">2<\/td><td class="n">2<\/td>/);
    assert.match(html, /<td>dave <span class="muted">\(human\)<\/span><\/td><td>sh<\/td><td class="n">1<\/td>/);
    // Denied, with the rule and the reason, the command escaped.
    assert.match(html, /<code>curl &quot;http:\/\/example.invalid\/&lt;script&gt;alert\(1\)&lt;\/script&gt;&quot;<\/code><\/td><td>guarded@sh\/deny-network<\/td><td>guarded: network access is not allowed/);
    // Approved by bob and run; rejected by carol.
    assert.match(html, /<code>touch &#39;&lt;b&gt;approved&lt;b&gt;.txt&#39;<\/code><\/td><td>guarded@sh\/review-writes<\/td><td><strong>approved<\/strong><\/td><td>bob<\/td><td>[^<]+<\/td><td>succeeded<\/td>/);
    assert.match(html, /<code>touch rejected.txt<\/code><\/td><td>guarded@sh\/review-writes<\/td><td><strong>rejected<\/strong><\/td><td>carol<\/td><td>[^<]+<\/td><td>rejected<\/td>/);
    assert.match(html, /<dt>Commands held for review<\/dt><dd>2 \(1 approved\)<\/dd>/);
  });

  it('limits the report to the period', () => {
    const out = sluice(['audit', 'report', '--from', new Date(Date.now() + 3_600_000).toISOString()], cwd);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /<dt>Records in the period<\/dt><dd>0<\/dd>/);
    assert.match(out.stdout, /Nothing was denied in this period\./);
    assert.match(out.stdout, /Ledger verified/);
    assert.equal(sluice(['audit', 'report', '--from', '2026-01-02', '--to', '2026-01-01'], cwd).code, 2);
  });

  it('shows a failed verification after the store is tampered with', () => {
    const db = openRawSqlite(join(cwd, 'store', 'sluice.db'));
    try {
      db.exec('DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;');
      // Hide the hostile command: rewrite the denied decision as harmless.
      const row = db.prepare("SELECT seq FROM audit WHERE kind = 'decision' AND effect = 'deny'").get() as { seq: number };
      db.prepare("UPDATE audit SET body = replace(body, 'curl', 'true') WHERE seq = ?").run(row.seq);
      const out = sluice(['audit', 'report', '--out', 'tampered.html'], cwd);
      assert.equal(out.code, 1);
      assert.match(out.stderr, new RegExp(`the ledger does not verify: record ${row.seq} \\(edited\\)`));
      const html = readFileSync(join(cwd, 'tampered.html'), 'utf8');
      assert.match(html, new RegExp(`class="status failed">Ledger verification FAILED at record ${row.seq} \\(edited\\)`));
      assert.match(html, /Records of this period from \d+ on cannot be relied on/);
      assert.doesNotMatch(html, /Ledger verified/);
    } finally {
      db.close();
    }
  });

  it('escapes every field a record can carry', () => {
    const evil = '"><img src=x onerror=alert(1)><script>alert(2)</script>\u001b[2J';
    const data: ReportData = {
      range: { from: evil },
      generatedAt: evil,
      store: evil,
      records: 1,
      sessions: 1,
      access: [{ principal: evil, principalKind: evil, onBehalfOf: evil, connection: evil, commands: 1, allowed: 0, denied: 1, reviewed: 0, executed: 0, failed: 0, classes: [evil], first: evil, last: evil }],
      denied: [{ seq: 1, time: evil, principal: evil, onBehalfOf: evil, connection: evil, session: evil, command: evil, rule: evil, reason: evil }],
      deniedTotal: 1,
      reviews: [{ seq: 2, time: evil, principal: evil, connection: evil, command: evil, rule: evil, status: evil, voters: [evil], decidedBy: evil, decidedAt: evil, outcome: evil }],
      reviewsTotal: 1,
      verification: { ok: false, count: 0, head: { seq: 0, hash: evil }, problem: { seq: 1, kind: 'edited', message: evil }, checkpoints: { count: 1, uncovered: 0, last: { treeSize: 1, rootHash: evil, time: evil, keyId: evil, signature: evil } } },
      signedBy: evil,
    };
    const html = renderReportHtml(data);
    assert.doesNotMatch(html, /<img|<script/i);
    assert.ok(!html.includes('\u001b'), 'no raw escape character');
    assert.ok(html.includes('&quot;&gt;&lt;img src=x onerror=alert(1)&gt;&lt;script&gt;alert(2)&lt;/script&gt;\\u001b[2J'));
    assert.equal(escapeHtml(`<a href='x'>&</a>`), '&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;');
  });
});
