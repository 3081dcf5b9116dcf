// Loads sluice.yaml: YAML parse, schema validation, cross-references and policy
// compilation, with every problem pointed at its file, line and field.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { LineCounter, isMap, isPair, isScalar, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { ConfigError, type ConfigIssue } from './errors.js';
import { configSchema, type SecretRef, type SluiceConfig } from './schema.js';
import { compilePolicy, formatPath, PolicyError, type CompiledPolicy } from '../policy/index.js';

export interface LoadedConfig {
  /** Absolute path of the file, or a label such as `<demo>` for built-in configs. */
  file: string;
  /** Directory that relative paths in the config are resolved against. */
  baseDir: string;
  config: SluiceConfig;
  policy: CompiledPolicy;
  warnings: string[];
}

export function loadConfigFile(path: string): LoadedConfig {
  const file = resolve(path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : `cannot read file (${code ?? 'error'})`;
    throw new ConfigError([{ file, path: '', message: `${why}; create it or pass --config FILE` }]);
  }
  return loadConfigText(text, file, dirname(file));
}

export function loadConfigText(text: string, file: string, baseDir: string): LoadedConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((error) => {
        const pos = error.linePos?.[0] ?? lineCounter.linePos(error.pos[0]);
        return { file, line: pos?.line, column: pos?.col, path: '', message: firstLine(error.message) };
      }),
    );
  }
  const locate = locator(doc, lineCounter, file);
  const raw: unknown = doc.toJS() ?? {};
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.flatMap((issue) => zodIssue(issue, locate)));
  const config = parsed.data;

  const issues = crossCheck(config).map(({ path, message }) => locate(path, message));
  if (issues.length > 0) throw new ConfigError(issues);

  let policy: CompiledPolicy;
  try {
    policy = compilePolicy({
      rules: config.policy.rules,
      connectionPresets: Object.fromEntries(
        Object.entries(config.connections).flatMap(([connection, c]) => (c.policy ? [[connection, c.policy]] : [])),
      ),
      known: { connections: Object.keys(config.connections) },
    });
  } catch (error) {
    if (error instanceof PolicyError) throw new ConfigError(error.issues.map((issue) => locate(issue.path, issue.message)));
    throw error;
  }
  return { file, baseDir, config, policy, warnings: inlineSecretWarnings(config, file) };
}

type Locate = (path: readonly PropertyKey[], message: string, key?: string) => ConfigIssue;

/** Maps a field path to the line and column of the nearest node that exists in the file. */
function locator(doc: Document, lineCounter: LineCounter, file: string): Locate {
  return (path, message, key) => {
    let node: unknown;
    for (let depth = path.length; depth >= 0; depth--) {
      node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
      if (node) break;
    }
    let offset: number | undefined;
    if (key !== undefined && isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && item.key.value === key);
      if (pair && isScalar(pair.key)) offset = pair.key.range?.[0];
    }
    if (offset === undefined) offset = (node as { range?: [number, number, number] } | undefined)?.range?.[0];
    const pos = offset === undefined ? undefined : lineCounter.linePos(offset);
    const segments = path.map((part) => (typeof part === 'number' ? part : String(part)));
    const fullPath = formatPath(key === undefined ? segments : [...segments, key]);
    return { file, line: pos?.line, column: pos?.col, path: fullPath, message };
  };
}

function zodIssue(issue: z.core.$ZodIssue, locate: Locate): ConfigIssue[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => locate(issue.path, `unknown key "${key}"`, key));
  }
  if (issue.code === 'invalid_union' && issue.errors.length > 0 && issue.message.startsWith('Invalid input')) {
    // Report the alternative that got furthest instead of a bare "invalid input".
    const best = issue.errors.reduce((a, b) => (b.length < a.length ? b : a));
    return best.flatMap((inner) => zodIssue({ ...inner, path: [...issue.path, ...inner.path] } as z.core.$ZodIssue, locate));
  }
  return [locate(issue.path, describe(issue))];
}

function describe(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type') {
    const expected = issue.expected;
    return issue.message.includes('received undefined') ? `required field missing (expected ${expected})` : issue.message;
  }
  if (issue.code === 'invalid_value' && 'values' in issue) {
    return `expected one of: ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  return issue.message;
}

/** References between sections that the schema alone cannot check. */
function crossCheck(config: SluiceConfig): { path: PropertyKey[]; message: string }[] {
  const problems: { path: PropertyKey[]; message: string }[] = [];
  const profiles = new Set(Object.keys(config.masking.profiles));
  if (profiles.has('none')) {
    problems.push({ path: ['masking', 'profiles', 'none'], message: '"none" is reserved: it means "do not mask"' });
  }
  profiles.add('none');
  const profileList = () => [...profiles].join(', ');
  config.policy.rules.forEach((rule, index) => {
    const mask = (rule as { mask?: string }).mask;
    if (mask && !profiles.has(mask)) {
      problems.push({ path: ['policy', 'rules', index, 'mask'], message: `unknown masking profile "${mask}" (known: ${profileList()})` });
    }
  });
  for (const [name, connection] of Object.entries(config.connections)) {
    if (connection.mask && !profiles.has(connection.mask)) {
      problems.push({ path: ['connections', name, 'mask'], message: `unknown masking profile "${connection.mask}" (known: ${profileList()})` });
    }
  }
  for (const [name, identity] of Object.entries(config.identities)) {
    if (identity.on_behalf_of === undefined) continue;
    if (identity.kind !== 'agent') {
      problems.push({ path: ['identities', name, 'on_behalf_of'], message: 'only agents act on behalf of a human' });
      continue;
    }
    const human = config.identities[identity.on_behalf_of];
    if (human && human.kind !== 'human') {
      problems.push({ path: ['identities', name, 'on_behalf_of'], message: `"${identity.on_behalf_of}" is a ${human.kind}, not a human` });
    }
  }
  return problems;
}

function inlineSecretWarnings(config: SluiceConfig, file: string): string[] {
  const warnings: string[] = [];
  const check = (ref: SecretRef | string | undefined, path: string) => {
    if (ref && typeof ref === 'object' && 'value' in ref) {
      warnings.push(`${file}: ${path}: inline secret; use {env: ...} or {file: ...} outside development`);
    }
  };
  check(config.store.password, 'store.password');
  for (const [name, connection] of Object.entries(config.connections)) {
    if (connection.kind === 'postgres') check(connection.password, `connections.${name}.password`);
    if (connection.kind === 'mcp') {
      for (const [variable, value] of Object.entries(connection.env.set)) check(value, `connections.${name}.env.set.${variable}`);
      for (const [header, value] of Object.entries(connection.headers)) check(value, `connections.${name}.headers.${header}`);
    }
    if (connection.kind === 'shell') {
      for (const [variable, value] of Object.entries(connection.env.set)) check(value, `connections.${name}.env.set.${variable}`);
      if (!connection.run_as) {
        warnings.push(
          `${file}: connections.${name}: commands run as Sluice's own OS user and can read its environment, config and store; set run_as to an unprivileged uid/gid outside development`,
        );
      }
    }
  }
  if (/^postgres(ql)?:\/\/[^/]*:[^@/]*@/i.test(config.store.url)) {
    warnings.push(`${file}: store.url: the URL contains a password; use store.password with {env: ...} instead`);
  }
  return warnings;
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}
