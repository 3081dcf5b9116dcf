#!/usr/bin/env node
// The `sluice` command. Sources are TypeScript; tsx loads them directly so a clone runs
// without a build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
await main(process.argv);
