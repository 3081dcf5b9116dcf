// `sluice analyse --kind postgres|mysql|shell|http -- TEXT`: print the Intent the gate would see.
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { createAnalysers } from '../analyse/index.js';
import { CliError, printJson } from './context.js';

export function registerAnalyse(program: Command): void {
  program
    .command('analyse')
    .alias('analyze')
    .description('print the intent of a command as JSON (class, objects, risk flags)')
    .requiredOption('--kind <kind>', 'postgres, mysql, shell or http')
    .option('--jsonl', 'read {"command": ...} lines (or plain lines) from stdin')
    .argument('[command...]', 'the command (after --)')
    .action(async (words: string[], options: { kind: string; jsonl?: boolean }) => {
      const analysers = await createAnalysers();
      const analyser = analysers.get(options.kind);
      if (!analyser) throw new CliError(`--kind must be one of: ${[...analysers.keys()].join(', ')}`);
      if (!options.jsonl) {
        if (words.length === 0) throw new CliError('give the command after --, e.g. sluice analyse --kind shell -- "ls | sh"');
        printJson(analyser.analyse(words.join(' ')));
        return;
      }
      for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
        if (line.trim() === '') continue;
        let command = line;
        if (line.trimStart().startsWith('{')) {
          try {
            const parsed = JSON.parse(line) as { command?: unknown };
            if (typeof parsed.command !== 'string') throw new Error('no "command" string');
            command = parsed.command;
          } catch (error) {
            printJson({ error: { message: (error as Error).message } });
            continue;
          }
        }
        printJson(analyser.analyse(command));
      }
    });
}
