// Masking engine benchmark: MB/s on bulk mixed text per profile, values/s for short values
// (column rules and content scans), and the streaming masker. One JSON line per figure.
//
//   node --import tsx bench/masking.ts [--mb 4] [--values 1000000] [--rounds 3]
//
// The text mixes clean log, config and prose lines (most of real output) with the labelled
// corpus of test/masking (one line in ten carries planted values). Medians of --rounds runs.
import { readFileSync } from 'node:fs';
import { compileMaskingProfile, StreamMasker, type CompiledMaskingProfile } from '../src/masking/index.js';
import { newTally } from '../src/masking/columns.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const MB = arg('mb', 4);
const VALUES = arg('values', 1_000_000);
const ROUNDS = arg('rounds', 3);
const KEY = 'bench-masking-key-0123456789abcdef';

const corpus = readFileSync(new URL('../test/masking/corpus/corpus.jsonl', import.meta.url), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((line) => (JSON.parse(line) as { text: string }).text.replaceAll('«»', ''));
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
    const rates: number[] = [];
    let findings = 0;
    for (let round = 0; round < ROUNDS; round++) {
      findings = 0;
      const started = performance.now();
      for (const block of blocks) findings += profile.maskText(block).findings.length;
      rates.push(body.length / 1024 / 1024 / ((performance.now() - started) / 1000));
    }
    print({ bench: 'bulk-text', mix, profile: name, mb: MB, findings, mbPerSec: Number(median(rates).toFixed(1)) });
  }
}

// The streaming masker over the same text in 16 KiB chunks.
{
  const rates: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const started = performance.now();
    const stream = new StreamMasker(profiles.default!);
    for (let i = 0; i < text.length; i += 16 * 1024) stream.push(text.slice(i, i + 16 * 1024));
    stream.end();
    rates.push(text.length / 1024 / 1024 / ((performance.now() - started) / 1000));
  }
  print({ bench: 'stream-text', profile: 'default', chunk: 16384, mbPerSec: Number(median(rates).toFixed(1)) });
}

// Short values through column maskers: whole-value column rules and content scans.
const shortValues = ['ada@example.com', 'Order ORD-2024-004512', 'shipped', '4242 4242 4242 4242', 'The parcel was left at the door', '2024-03-05', 'BK-1001', '+1 415 555 0132'];
const cases: [string, CompiledMaskingProfile, string][] = [
  ['column-redact', compileMaskingProfile('c', { columns: ['email'] }), 'email'],
  ['column-placeholder', profiles.default!, 'email'],
  ['scan-default', profiles.default!, 'note'],
  ['scan-pii', profiles.pii!, 'note'],
];
for (const [name, profile, column] of cases) {
  const masker = profile.column(column)!;
  const rates: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const tally = newTally();
    const n = name.startsWith('scan') ? Math.ceil(VALUES / 5) : VALUES;
    const started = performance.now();
    for (let i = 0; i < n; i++) masker.maskText(shortValues[i & 7]!, tally);
    rates.push(n / ((performance.now() - started) / 1000));
  }
  print({ bench: 'short-values', case: name, valuesPerSec: Math.round(median(rates)) });
}
