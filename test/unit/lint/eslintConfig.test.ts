// The project's eslint.config.mjs, proven rule by rule on small in-memory files: each layer zone
// rejects every import form of what it bans, unused code and files over 400 lines are errors, and
// clean files (including the legal neighbours of each banned import) pass.
import { strict as assert } from 'node:assert';
import path from 'node:path';
import { ESLint } from 'eslint';

const root = path.resolve(__dirname, '../../..');

describe('eslint.config.mjs', function () {
  this.timeout(60000);
  let eslint: ESLint;
  before(() => {
    eslint = new ESLint({ cwd: root, overrideConfigFile: path.join(root, 'eslint.config.mjs') });
  });

  /** Lints `code` as if it were the file `rel`; returns `ruleId: message` of each problem. */
  async function lint(rel: string, code: string): Promise<string[]> {
    const [result] = await eslint.lintText(code, { filePath: path.join(root, rel), warnIgnored: true });
    return result.messages.map((m) => `${m.ruleId ?? 'fatal'}: ${m.message}`);
  }
  async function assertRejected(rel: string, code: string, rule: RegExp, why: RegExp): Promise<void> {
    const problems = await lint(rel, code);
    assert.ok(problems.some((p) => rule.test(p) && why.test(p)), `${rel} should be rejected by ${rule}; got ${JSON.stringify(problems)}`);
  }
  async function assertClean(rel: string, code: string): Promise<void> {
    assert.deepEqual(await lint(rel, code), [], `${rel} should lint clean`);
  }
  const restricted = /^(@typescript-eslint\/no-restricted-imports|no-restricted-syntax): /;

  describe('src/core zone', () => {
    it("rejects importing 'vscode' (value, type-only, dynamic and require forms)", async () => {
      const why = /src\/core must stay editor-free/;
      await assertRejected('src/core/agent/probe.ts', "import * as vscode from 'vscode';\nexport const x = vscode;\n", restricted, why);
      await assertRejected('src/core/probe.ts', "import type { Uri } from 'vscode';\nexport type U = Uri;\n", restricted, why);
      await assertRejected('src/core/kernel/probe.ts', "export const m = import('vscode');\n", restricted, why);
      await assertRejected('src/core/kernel/probe.ts', "export const m = require('vscode');\n", restricted, why);
      await assertRejected('src/core/kernel/probe.ts', "export type T = typeof import('vscode');\n", restricted, why);
    });

    it('rejects imports from src/extension, src/webview and src/cli at any depth', async () => {
      const why = /src\/core must stay editor-free/;
      await assertRejected('src/core/agent/probe.ts', "import { x } from '../../extension/x';\nexport const y = x;\n", restricted, why);
      await assertRejected('src/core/agent/probe.ts', "export { render } from '../../webview/exchange';\n", restricted, why);
      await assertRejected('src/core/probe.ts', "import { main } from '../cli';\nexport const y = main;\n", restricted, why);
      await assertRejected('src/core/eval/probe.ts', "export const m = import('../../cli/main');\n", restricted, why);
      await assertRejected('src/core/eval/probe.ts', "import { y } from '../../../src/extension/y';\nexport const z = y;\n", restricted, why);
      await assertRejected('src/core/eval/probe.ts', "export const m = import('../../../src/webview/main');\n", restricted, why);
    });

    it('allows core-internal, node and npm imports, including a core folder named like a banned layer', async () => {
      await assertClean('src/core/agent/probe.ts', [
        "import { readFileSync } from 'node:fs';",
        "import OpenAI from 'openai';",
        "import { a } from '../model/a';",
        "import { b } from '../extension/b';", // src/core/extension/b, still inside core
        "import { c } from './cli';",
        'export const all = [readFileSync, OpenAI, a, b, c];',
        '',
      ].join('\n'));
    });
  });

  describe('src/webview zone', () => {
    it("rejects 'vscode' and node built-ins, with or without the node: prefix", async () => {
      const why = /src\/webview runs in the browser/;
      await assertRejected('src/webview/probe.ts', "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n", restricted, why);
      await assertRejected('src/webview/report/probe.ts', "import path from 'path';\nexport const p = path;\n", restricted, why);
      await assertRejected('src/webview/probe.ts', "import { readFile } from 'fs/promises';\nexport const r = readFile;\n", restricted, why);
      await assertRejected('src/webview/probe.ts', "import type * as vscode from 'vscode';\nexport type V = typeof vscode;\n", restricted, why);
      await assertRejected('src/webview/probe.ts', "export const c = import('node:crypto');\n", restricted, why);
      await assertRejected('src/webview/probe.ts', "export const c = require('child_process');\n", restricted, why);
    });

    it('allows browser code: relative modules and npm packages', async () => {
      await assertClean('src/webview/probe.ts', "import MarkdownIt from 'markdown-it';\nimport { post } from './protocol';\nexport const all = [MarkdownIt, post];\n");
    });

    it('leaves src/extension free to import vscode and node', async () => {
      await assertClean('src/extension/probe.ts', "import * as vscode from 'vscode';\nimport { readFileSync } from 'node:fs';\nexport const all = [vscode, readFileSync];\n");
    });
  });

  describe('unused code', () => {
    it('rejects an unused variable, import, parameter and expression', async () => {
      await assertRejected('src/core/probe.ts', 'export function f(): number {\n  const unused = 1;\n  return 2;\n}\n', /^@typescript-eslint\/no-unused-vars: 'unused'/, /never used/);
      await assertRejected('test/unit/probe.test.ts', "import { strict as assert } from 'node:assert';\nexport const x = 1;\n", /^@typescript-eslint\/no-unused-vars: 'assert'/, /never used/);
      await assertRejected('scripts/probe.mjs', 'export function f(a, b) {\n  return a;\n}\n', /^@typescript-eslint\/no-unused-vars: 'b'/, /never used/);
      await assertRejected('src/extension/probe.ts', 'export function f(x: number): void {\n  x + 1;\n}\n', /^@typescript-eslint\/no-unused-expressions: /, /./);
      await assertRejected('src/extension/probe.ts', 'export class P {\n  constructor(private readonly context: string) {}\n}\n', /^@typescript-eslint\/no-unused-private-class-members: /, /'context'/);
      await assertRejected('src/core/probe.ts', 'export function f(): number {\n  let n = 0;\n  n = 2;\n  return n;\n}\n', /^no-useless-assignment: /, /'n'/);
    });

    it('allows `_`-prefixed parameters and rest siblings', async () => {
      await assertClean('src/core/probe.ts', 'export function f(_a: number, b: number): number {\n  return b;\n}\nexport function g(o: { a: 1; b: 2 }): object {\n  const { a, ...rest } = o;\n  return rest;\n}\n');
    });
  });

  describe('file size', () => {
    it('rejects a file over 400 lines, counting blank lines and comments', async () => {
      const file = (comments: number) => ['export const x = 1;', ...Array.from({ length: comments }, () => '// note'), ...Array.from({ length: 200 }, () => ''), 'export const y = 2;', ''].join('\n');
      await assertRejected('src/core/probe.ts', file(199), /^max-lines: /, /too many lines \(401\)/);
      await assertClean('src/core/probe.ts', file(198));
    });

    it('skips generated files (GENERATED at the top), such as the embedded kernel prelude', async () => {
      const [result] = await eslint.lintText('export const x = 1;\n', { filePath: path.join(root, 'src/core/kernel/prelude.ts'), warnIgnored: true });
      assert.ok(result.messages.some((m) => /ignored/i.test(m.message)), JSON.stringify(result.messages));
    });
  });
});
