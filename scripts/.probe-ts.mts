import { createRequire } from 'node:module';
import { Language, Parser } from 'web-tree-sitter';
await Parser.init();
const wasm = createRequire('/work/main/package.json').resolve('tree-sitter-bash/tree-sitter-bash.wasm');
const lang = await Language.load(wasm);
const p = new Parser(); p.setLanguage(lang);
for (const t of process.argv.slice(2)) console.log(t, '\n ', p.parse(t)!.rootNode.toString());
