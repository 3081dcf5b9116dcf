// `sluice mask`: masks stdin to stdout with a profile from config, or with the built-in
// default profile (every PII type and secrets, as placeholders). With --jsonl it reads
// {"text": "..."} lines and writes {"text": "<masked>", "findings": [{"type","start","end"}]}.
// Fails closed: if masking fails, output stops and the command exits non-zero.
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { compileMaskingProfile, DEFAULT_PROFILE, maskingKey, StreamMasker, type CompiledMaskingProfile } from '../masking/index.js';
import { CliError, resolveConfig } from './context.js';

interface MaskOptions {
  profile?: string;
  config?: string;
  jsonl?: boolean;
}

export function registerMask(program: Command, configOption: () => string | undefined): void {
  program
    .command('mask')
    .description('mask PII and secrets in stdin and write the result to stdout')
    .option('--profile <name>', 'masking profile from the config (default: the built-in profile: all PII and secrets)')
    .option('--config <file>', 'config file with the profile (default: $SLUICE_CONFIG or ./sluice.yaml)')
    .option('--jsonl', 'read {"text": ...} lines, write {"text": ..., "findings": [...]} lines')
    .action(async (options: MaskOptions) => {
      const profile = chooseProfile(options, options.config ?? configOption()).forScope({ session: 'cli' });
      if (options.jsonl) await maskLines(profile);
      else await maskStream(profile);
    });
}

function chooseProfile(options: MaskOptions, configFile: string | undefined): CompiledMaskingProfile {
  if (options.profile === undefined) {
    const loaded = configFile ? resolveConfig(configFile) : undefined;
    const key = loaded ? maskingKey(loaded.config.masking, loaded.baseDir) : undefined;
    return compileMaskingProfile('default', DEFAULT_PROFILE, key ? { key } : {});
  }
  const loaded = resolveConfig(configFile);
  const config = loaded.config.masking.profiles[options.profile];
  if (!config) {
    const names = Object.keys(loaded.config.masking.profiles);
    throw new CliError(`no masking profile "${options.profile}" in ${loaded.file}${names.length ? ` (profiles: ${names.join(', ')})` : ''}`);
  }
  const key = maskingKey(loaded.config.masking, loaded.baseDir);
  return compileMaskingProfile(options.profile, config, key ? { key } : {});
}

async function maskStream(profile: CompiledMaskingProfile): Promise<void> {
  const masker = new StreamMasker(profile);
  process.stdin.setEncoding('utf8');
  try {
    for await (const chunk of process.stdin) {
      const out = masker.push(chunk as string).text;
      if (out && !process.stdout.write(out)) await new Promise((resolve) => process.stdout.once('drain', resolve));
    }
    process.stdout.write(masker.end().text);
  } catch (error) {
    throw new CliError(`masking failed, output stopped: ${(error as Error).message}`);
  }
}

async function maskLines(profile: CompiledMaskingProfile): Promise<void> {
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  let number = 0;
  let failed = 0;
  for await (const line of lines) {
    number++;
    if (line.trim() === '') continue;
    let out: string;
    try {
      const input = JSON.parse(line) as unknown;
      if (typeof input !== 'object' || input === null || typeof (input as { text?: unknown }).text !== 'string') throw new Error('expected {"text": "..."}');
      const masked = profile.maskText((input as { text: string }).text);
      out = JSON.stringify({ text: masked.text, findings: masked.findings.map(({ type, start, end }) => ({ type, start, end })) });
    } catch (error) {
      // Nothing of the line is echoed: it may hold the very values being masked.
      failed++;
      out = JSON.stringify({ error: `line ${number}: ${error instanceof SyntaxError ? 'not JSON' : (error as Error).message}` });
    }
    if (!process.stdout.write(`${out}\n`)) await new Promise((resolve) => process.stdout.once('drain', resolve));
  }
  if (failed > 0) throw new CliError(`${failed} line(s) could not be masked`);
}
