// Masking engine benchmark: MB/s on bulk mixed text per profile, values/s for short values
// (column rules and content scans), and the streaming masker. One JSON line per figure.
//
//   node --import tsx bench/masking.ts [--mb 4] [--values 1000000] [--rounds 5]
//
// The text mixes clean log, config and prose lines (most of real output) with the labelled
// corpora of test/masking (one line in 10, or in 200, carries planted values). Medians of
// --rounds runs after one unmeasured warm-up run. Rates are per core: work divided by this
// process's CPU time (the machine is shared, and wall time counts other processes' turns);
// `wallPerSec` is given too.
// `goal` and `ratio` compare with issue 6's targets: bulk text with the default profile
// >= 50 MB/s per core, column rules >= 1M values/s.
import { readFileSync } from 'node:fs';
import { compileMaskingProfile, StreamMasker, type CompiledMaskingProfile } from '../src/masking/index.js';
import { newTally } from '../src/masking/columns.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const MB = arg('mb', 4);
const VALUES = arg('values', 1_000_000);
const ROUNDS = arg('rounds', 5);
const KEY = 'bench-masking-key-0123456789abcdef';

const corpus = ['corpus.jsonl', 'held-out.jsonl'].flatMap((file) =>
  readFileSync(new URL(`../test/masking/corpus/${file}`, import.meta.url), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => (JSON.parse(line) as { text: string }).text.replaceAll('«»', '')),
);
const clean = [
  '2024-03-05T10:22:33.120Z INFO GET /api/v2/orders/100234 200 12ms request_id=7f9c2ba4-e88f-11ee-9f4b-0242ac120002',
  'worker-3 processed batch 2024-03-05/17 in 00:01:12.5, 15231 rows, checksum 9f86d081884c7d65 (v2.14.1)',
  'The deployment finished without errors; all 12 pods are ready and the canary received 5% of traffic.',
  'LOG_LEVEL=debug PORT=8080 REDIS_HOST=cache.internal MAX_CONNECTIONS=200 TIMEOUT=30s',
  '{"id": 5531, "status": "shipped", "total": 129.95, "currency": "USD", "items": [{"sku": "BK-1001", "qty": 2}]}',
  'commit a1b2c3d4e5f60718293a4b5c6d7e8f9012345678 Merge pull request #1287 from acme/fix-timeouts',
  'id,sku,price,stock\n1041,BK-1001,24.99,120\n1042,BK-1002,31.50,8\n1043,BK-1003,12.00,0',
  'Mar  5 10:22:34 web-1 kernel: [12345.678901] eth0: link up, 1000 Mbps, full duplex',
  'Please review the attached report before Thursday; the numbers for Q1 look better than expected.',
];

/** Clean lines with one corpus line (planted values) in every `every`. */
function mixedText(bytes: number, every: number): string {
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const line = i % every === every - 1 ? corpus[(i / every) % corpus.length | 0]! : clean[i % clean.length]!;
    parts.push(line);
    size += line.length + 1;
  }
  return parts.join('\n');
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function print(record: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(record)}\n`);
}

/**
 * Runs `work` once unmeasured (the JIT compiles the detectors during the first few MB, which
 * a long-running gateway pays once), then --rounds times; the median rate per CPU second and
 * per wall second of `units` done each time.
 */
function measure(units: number, work: () => void): { perSec: number; wallPerSec: number } {
  const cpu: number[] = [];
  const wall: number[] = [];
  work();
  for (let round = 0; round < ROUNDS; round++) {
    const cpuStart = process.cpuUsage();
    const started = performance.now();
    work();
    const used = process.cpuUsage(cpuStart);
    wall.push(units / ((performance.now() - started) / 1000));
    cpu.push(units / ((used.user + used.system) / 1e6));
  }
  return { perSec: median(cpu), wallPerSec: median(wall) };
}

const goal = (rate: number, target: number) => ({ goal: target, ratio: Number((rate / target).toFixed(2)) });

const profiles: Record<string, CompiledMaskingProfile> = {
  default: compileMaskingProfile('default', { detectors: ['all'] }, { key: KEY }).forScope({ session: 'bench' }),
  pii: compileMaskingProfile('pii', { detectors: ['pii'] }, { key: KEY }).forScope({ session: 'bench' }),
  secrets: compileMaskingProfile('secrets', { detectors: ['secrets'] }, { key: KEY }).forScope({ session: 'bench' }),
};

// Bulk text in 64 KiB blocks (what a streaming door hands over): dense (a line with planted
// values in every 10) and sparse (one in 200, closer to ordinary output).
const mixes = { dense: mixedText(MB * 1024 * 1024, 10), sparse: mixedText(MB * 1024 * 1024, 200) };
const text = mixes.dense;
for (const [mix, body] of Object.entries(mixes)) {
  const blocks: string[] = [];
  for (let i = 0; i < body.length; i += 64 * 1024) blocks.push(body.slice(i, i + 64 * 1024));
  for (const [name, profile] of Object.entries(profiles)) {
    let findings = 0;
    const { perSec, wallPerSec } = measure(body.length / 1024 / 1024, () => {
      findings = 0;
      for (const block of blocks) findings += profile.maskText(block).findings.length;
    });
    print({ bench: 'bulk-text', mix, profile: name, mb: MB, findings, mbPerSec: Number(perSec.toFixed(1)), wallMbPerSec: Number(wallPerSec.toFixed(1)), ...(name === 'default' ? goal(perSec, 50) : {}) });
  }
}

// Text an agent can shape against the engine: long key-like runs ("a_a_a_...pass x=1") that
// once made the assignment regex quadratic, and repeated PEM headers without an end (the
// private-key rule still scans to the next END or the end of the text from each header).
{
  const adversarial: Record<string, string> = {
    'key-runs': `${'a_'.repeat(2000)}pass hunter22 x=1\n`.repeat(256),
    'pem-headers': `${'-----BEGIN RSA PRIVATE KEY-----\n'.repeat(64)}x\n`.repeat(64),
  };
  for (const [mix, body] of Object.entries(adversarial)) {
    const blocks: string[] = [];
    for (let i = 0; i < body.length; i += 64 * 1024) blocks.push(body.slice(i, i + 64 * 1024));
    const { perSec } = measure(body.length / 1024 / 1024, () => {
      for (const block of blocks) profiles.default!.maskText(block);
    });
    print({ bench: 'bulk-text', mix, profile: 'default', mb: Number((body.length / 1024 / 1024).toFixed(2)), mbPerSec: Number(perSec.toFixed(1)) });
  }
}

// The streaming masker over the same text in 16 KiB chunks.
{
  const { perSec, wallPerSec } = measure(text.length / 1024 / 1024, () => {
    const stream = new StreamMasker(profiles.default!);
    for (let i = 0; i < text.length; i += 16 * 1024) stream.push(text.slice(i, i + 16 * 1024));
    stream.end();
  });
  print({ bench: 'stream-text', profile: 'default', chunk: 16384, mbPerSec: Number(perSec.toFixed(1)), wallMbPerSec: Number(wallPerSec.toFixed(1)) });
}

// Short values through column maskers: whole-value column rules (a few repeating values, as
// in a status or a customer's email on every order; and every value distinct, as in a
// users table) and content scans of text columns.
const shortValues = ['ada@example.com', 'Order ORD-2024-004512', 'shipped', '4242 4242 4242 4242', 'The parcel was left at the door', '2024-03-05', 'BK-1001', '+1 415 555 0132'];
const distinct = Array.from({ length: VALUES }, (_, i) => `user${i}.${(i * 7919) % 100003}@example.com`);
const cases: [name: string, profile: CompiledMaskingProfile, column: string, values: readonly string[], target?: number][] = [
  ['column-redact', compileMaskingProfile('c', { columns: ['email'] }), 'email', shortValues, 1e6],
  ['column-placeholder', profiles.default!, 'email', shortValues, 1e6],
  ['column-placeholder-distinct', profiles.default!, 'email', distinct, 1e6],
  ['column-partial-distinct', compileMaskingProfile('p', { detectors: ['pii'], replace: { email: 'partial' } }, { key: KEY }), 'email', distinct, 1e6],
  ['scan-default', profiles.default!, 'note', shortValues],
  ['scan-pii', profiles.pii!, 'note', shortValues],
];
for (const [name, profile, column, values, target] of cases) {
  const masker = profile.forScope({ session: `bench-${name}` }).column(column)!;
  const n = name.startsWith('scan') ? Math.ceil(VALUES / 5) : VALUES;
  const mask = values.length === shortValues.length ? (i: number) => values[i & 7]! : (i: number) => values[i % values.length]!;
  let round = 0;
  const { perSec, wallPerSec } = measure(n, () => {
    // A fresh scope each round: distinct values are new to the placeholder cache every time.
    const m = round++ === 0 ? masker : profile.forScope({ session: `bench-${name}-${round}` }).column(column)!;
    const tally = newTally();
    for (let i = 0; i < n; i++) m.maskText(mask(i), tally);
  });
  print({ bench: 'short-values', case: name, valuesPerSec: Math.round(perSec), wallValuesPerSec: Math.round(wallPerSec), ...(target ? goal(perSec, target) : {}) });
}
