// `sluice policy test`: what the gate would decide for a command, without running anything.
// With --jsonl it reads many commands from stdin, one decision per output line.
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { createAnalysers, LANGUAGES } from '../analyse/index.js';
import type { Analyser } from '../analyse/analyser.js';
import type { LoadedConfig } from '../config/load.js';
import { Gate } from '../gate/gate.js';
import type { ConnectionRef, PolicyDecider, Principal } from '../gate/types.js';
import { compilePolicy, isPresetName, PRESET_NAMES } from '../policy/index.js';
import { CliError, parsePrincipalSpec, printJson, resolveConfig, splitList } from './context.js';

interface PolicyTestOptions {
  preset?: string;
  kind?: string;
  connection?: string;
  as: string;
  groups?: string;
  onBehalfOf?: string;
  door: string;
  jsonl?: boolean;
}

// Connection kinds `--kind` accepts: one per analysed language.
const KINDS: readonly string[] = LANGUAGES;

interface Target {
  policy: PolicyDecider;
  loaded?: LoadedConfig;
  connections: ConnectionRef[];
  connectionFor(line: { kind?: string; connection?: string }): ConnectionRef;
}

export function registerPolicyTest(program: Command, configOption: () => string | undefined): void {
  const policy = program.command('policy').description('inspect and test policy');
  policy
    .command('test')
    .description('print the decision for a command as JSON, without running it')
    .option('--preset <name>', 'test against a built-in preset (read-only, guarded)')
    .option('--kind <kind>', `connection kind with --preset: ${KINDS.join(', ')}`)
    .option('--connection <name>', 'with a config: the connection the command targets')
    .option('--as <kind:name>', 'who asks, e.g. agent:copilot or human:alice', 'agent:agent')
    .option('--groups <a,b>', 'groups of the principal (added to those in config)')
    .option('--on-behalf-of <human>', 'for an agent: the human it acts for')
    .option('--door <door>', 'door the command comes through', 'api')
    .option('--jsonl', 'read {"command": ..., "kind"|"connection": ...} lines from stdin')
    .argument('[command...]', 'the command (after --)')
    .action(async (words: string[], options: PolicyTestOptions) => {
      const target = chooseTarget(options, configOption());
      const analysers = await createAnalysers();
      const principal = buildPrincipal(options, target.loaded);
      const gate = dryRunGate(target.policy, analysers, target.connections);
      const decide = (command: string, connection: ConnectionRef) => evaluate(gate, principal, options.door, connection, command);

      if (!options.jsonl) {
        if (words.length === 0) throw new CliError('give the command after --, e.g. sluice policy test --preset read-only --kind postgres -- "SELECT 1"');
        printJson(decide(words.join(' '), target.connectionFor({})));
        return;
      }
      if (words.length > 0) throw new CliError('with --jsonl the commands come from stdin, not the command line');
      let lineNo = 0;
      let failures = 0;
      for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
        lineNo++;
        if (line.trim() === '') continue;
        try {
          const input = parseLine(line);
          printJson(decide(input.command, target.connectionFor(input)));
        } catch (error) {
          failures++;
          printJson({ error: { line: lineNo, message: (error as Error).message } });
        }
      }
      if (failures > 0) process.exitCode = 1;
    });
}

function chooseTarget(options: PolicyTestOptions, configPath: string | undefined): Target {
  if (options.preset !== undefined) {
    if (options.connection !== undefined) throw new CliError('use either --preset/--kind or --config/--connection, not both');
    const defaultKind = options.kind;
    if (defaultKind !== undefined && !KINDS.includes(defaultKind)) {
      throw new CliError(`--kind must be one of: ${KINDS.join(', ')} (got "${defaultKind}")`);
    }
    const preset = options.preset;
    if (!isPresetName(preset)) throw new CliError(`--preset: unknown preset "${preset}" (known: ${PRESET_NAMES.join(', ')})`);
    const policy: PolicyDecider = compilePolicy({ rules: [{ preset }] });
    return {
      policy,
      connections: KINDS.map((kind) => ({ name: kind, kind, labels: {} })),
      connectionFor(line) {
        if (line.connection !== undefined) throw new Error('"connection" needs --config; with --preset give "kind"');
        const kind = line.kind ?? defaultKind;
        if (kind === undefined) throw new Error(`no kind: pass --kind or give "kind" (${KINDS.join(', ')})`);
        if (!KINDS.includes(kind)) throw new Error(`unknown kind "${kind}" (known: ${KINDS.join(', ')})`);
        return { name: kind, kind, labels: {} };
      },
    };
  }
  const loaded = resolveConfig(configPath);
  const defaultConnection = options.connection;
  const connections = loaded.config.connections;
  return {
    policy: loaded.policy,
    loaded,
    connections: Object.entries(connections).map(([name, c]) => ({ name, kind: c.kind, labels: c.labels })),
    connectionFor(line) {
      const name = line.connection ?? defaultConnection;
      if (name === undefined) throw new Error('no connection: pass --connection or give "connection"');
      const config = connections[name];
      if (!config) throw new Error(`no connection "${name}" in ${loaded.file} (known: ${Object.keys(connections).join(', ') || 'none'})`);
      return { name, kind: config.kind, labels: config.labels };
    },
  };
}

function buildPrincipal(options: PolicyTestOptions, loaded: LoadedConfig | undefined): Principal {
  const { kind, name } = parsePrincipalSpec(options.as);
  const declared = loaded?.config.identities[name];
  if (declared && declared.kind !== kind) throw new CliError(`--as: "${name}" is declared as a ${declared.kind}, not a ${kind}`);
  if (options.onBehalfOf !== undefined && kind !== 'agent') throw new CliError('--on-behalf-of is only for agents');
  const onBehalfOf = kind === 'agent' ? (options.onBehalfOf ?? declared?.on_behalf_of) : undefined;
  return {
    kind,
    name,
    groups: [...new Set([...(declared?.groups ?? []), ...splitList(options.groups)])].sort(),
    ...(onBehalfOf !== undefined ? { onBehalfOf } : {}),
  };
}

function parseLine(line: string): { command: string; kind?: string; connection?: string } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new Error('not a JSON object');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object');
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!['command', 'kind', 'connection'].includes(key)) throw new Error(`unknown field "${key}" (expected command, kind, connection)`);
  }
  if (typeof record.command !== 'string') throw new Error('"command" must be a string');
  for (const key of ['kind', 'connection'] as const) {
    if (record[key] !== undefined && typeof record[key] !== 'string') throw new Error(`"${key}" must be a string`);
  }
  return record as { command: string; kind?: string; connection?: string };
}

/** The gate's own Action building and decision path, with audit and execution refused. */
function dryRunGate(policy: PolicyDecider, analysers: ReadonlyMap<string, Analyser>, refs: ConnectionRef[]): Gate {
  const never = (what: string) => () => Promise.reject(new Error(`policy test never ${what}`));
  const connections = new Map(
    refs.map((ref) => [ref.name, { ref, language: ref.kind, connector: { kind: 'none', execute: never('runs'), close: () => Promise.resolve() } }]),
  );
  return new Gate({
    policy: () => policy,
    analysers,
    audit: { append: never('records') },
    reviews: { hold: never('holds') },
    connection: (name) => connections.get(name),
    maskingProfiles: new Map(),
  });
}

function evaluate(gate: Gate, principal: Principal, door: string, connection: ConnectionRef, command: string) {
  const { action } = gate.buildAction({ principal, session: 'policy-test', connection: connection.name, door, command });
  const intent = action.intent;
  const decision = gate.decide(action);
  return {
    effect: decision.effect,
    rule: decision.rule,
    reason: decision.reason,
    ...(decision.mask ? { mask: decision.mask } : {}),
    intent: {
      class: intent.class,
      classes: intent.classes,
      flags: intent.flags,
      objects: intent.objects,
      ...(intent.error ? { error: intent.error } : {}),
    },
  };
}
