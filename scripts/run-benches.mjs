#!/usr/bin/env node
// `npm run bench`: runs every benchmark under bench/ in turn (or the ones named) and prints
// their figures. Benchmarks print; they do not pass or fail tests.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const named = process.argv.slice(2);
const files = named.length > 0 ? named : readdirSync('bench').filter((name) => name.endsWith('.ts')).sort().map((name) => `bench/${name}`);
let failed = 0;
for (const file of files) {
  console.log(`\n=== ${file}`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', file], { stdio: 'inherit' });
  if (result.status !== 0) failed++;
}
process.exit(failed > 0 ? 1 : 0);
