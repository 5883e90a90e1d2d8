// The project's eslint.config.mjs, proven rule by rule on small in-memory files: each layer zone
// rejects every import form of what it bans, unused code, files over 400 lines and functions over
// 80 lines of code or of complexity over 20 are errors, and clean files (including the legal
// neighbours of each banned import) pass.
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
    assert.ok(
      problems.some((p) => rule.test(p) && why.test(p)),
      `${rel} should be rejected by ${rule}; got ${JSON.stringify(problems)}`,
    );
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
      await assertRejected(
        'src/core/eval/probe.ts',
        "import { y } from '../../../src/extension/y';\nexport const z = y;\n",
        restricted,
        why,
      );
      await assertRejected('src/core/eval/probe.ts', "export const m = import('../../../src/webview/main');\n", restricted, why);
    });

    it('allows core-internal, node and npm imports, including a core folder named like a banned layer', async () => {
      await assertClean(
        'src/core/agent/probe.ts',
        [
          "import { readFileSync } from 'node:fs';",
          "import OpenAI from 'openai';",
          "import { a } from '../model/a';",
          "import { b } from '../extension/b';", // src/core/extension/b, still inside core
          "import { c } from './cli';",
          'export const all = [readFileSync, OpenAI, a, b, c];',
          '',
        ].join('\n'),
      );
    });
  });

  describe('src/webview zone', () => {
    it("rejects 'vscode' and node built-ins, with or without the node: prefix", async () => {
      const why = /src\/webview runs in the browser/;
      await assertRejected(
        'src/webview/probe.ts',
        "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n",
        restricted,
        why,
      );
      await assertRejected('src/webview/report/probe.ts', "import path from 'path';\nexport const p = path;\n", restricted, why);
      await assertRejected(
        'src/webview/probe.ts',
        "import { readFile } from 'fs/promises';\nexport const r = readFile;\n",
        restricted,
        why,
      );
      await assertRejected(
        'src/webview/probe.ts',
        "import type * as vscode from 'vscode';\nexport type V = typeof vscode;\n",
        restricted,
        why,
      );
      await assertRejected('src/webview/probe.ts', "export const c = import('node:crypto');\n", restricted, why);
      await assertRejected('src/webview/probe.ts', "export const c = require('child_process');\n", restricted, why);
    });

    it('allows browser code: relative modules and npm packages', async () => {
      await assertClean(
        'src/webview/probe.ts',
        "import MarkdownIt from 'markdown-it';\nimport { post } from './protocol';\nexport const all = [MarkdownIt, post];\n",
      );
    });

    it('leaves src/extension free to import vscode and node', async () => {
      await assertClean(
        'src/extension/probe.ts',
        "import * as vscode from 'vscode';\nimport { readFileSync } from 'node:fs';\nexport const all = [vscode, readFileSync];\n",
      );
    });
  });

  describe('src/core folder order (coreLayers)', () => {
    const order = /^import-x\/no-restricted-paths: /;
    it('rejects an upward import, type-only and re-export forms included, at any depth', async () => {
      await assertRejected(
        'src/core/trajectory/replay.ts',
        "import type { AgentOptions } from '../agent/options';\nexport type O = AgentOptions;\n",
        order,
        /trajectory \(tier 4\).*agent is tier 6/,
      );
      await assertRejected(
        'src/core/eval/probe.ts',
        "export { exportTrainingData } from '../training-data/export';\n",
        order,
        /eval \(tier 7\).*training-data is tier 8/,
      );
      await assertRejected(
        'src/core/kernel/remote/probe.ts',
        "import type { ChatMessage } from '../../protocol/types';\nexport type M = ChatMessage;\n",
        order,
        /kernel \(tier 2\).*protocol is tier 3/,
      );
      await assertRejected(
        'src/core/errors.ts',
        "import { writeFileAtomic } from './files/atomicWrite';\nexport const w = writeFileAtomic;\n",
        order,
        /errors\.ts \(tier 0\).*files is tier 1/,
      );
      await assertRejected('src/core/trajectory/probe.ts', "export const m = import('../agent/runAgent');\n", order, /agent is tier 6/);
    });

    it('rejects a neighbour in the same tier', async () => {
      await assertRejected(
        'src/core/conversation/probe.ts',
        "import { runEval } from '../eval/runner';\nexport const r = runEval;\n",
        order,
        /conversation \(tier 7\).*eval is tier 7, its neighbour/,
      );
      await assertRejected(
        'src/core/reward/probe.ts',
        "import { runAgent } from '../agent/runAgent';\nexport const r = runAgent;\n",
        order,
        /reward \(tier 6\).*agent is tier 6, its neighbour/,
      );
    });

    it('allows imports down the order', async () => {
      await assertClean(
        'src/core/eval/probe.ts',
        [
          "import { computeScore } from '../reward/score';",
          "import { runAgentToEnd } from '../agent/runAgent';",
          "import type { AgentEvent } from '../trajectory/events';",
          "import { CodeDanceError } from '../errors';",
          'export type E = AgentEvent;',
          'export const all = [computeScore, runAgentToEnd, CodeDanceError];',
          '',
        ].join('\n'),
      );
      await assertClean(
        'src/core/training-data/probe.ts',
        "import { scanResults } from '../eval/resultsScan';\nimport { rowReward } from '../reward/rowReward';\nexport const all = [scanResults, rowReward];\n",
      );
    });
  });

  // src/extension, src/webview and src/protocol between each other: webviewLayers.test.ts

  describe('import cycles', () => {
    const cycle = /^import-x\/no-cycle: /;
    it('rejects a run-time import that closes a cycle (runner.ts imports runSample.ts)', async () => {
      await assertRejected(
        'src/core/eval/runSample.ts',
        "import { runEval } from './runner';\nexport const r = runEval;\n",
        cycle,
        /Dependency cycle/,
      );
      await assertRejected(
        'src/core/training-data/verifySummary.ts',
        "import { verifySftFile } from './verify';\nexport const v = verifySftFile;\n",
        cycle,
        /Dependency cycle/,
      );
    });

    it('does not follow `import type` (erased by tsc: no run-time cycle)', async () => {
      const problems = await lint(
        'src/core/eval/runSample.ts',
        "import type { EvalSummary } from './runner';\nexport type S = EvalSummary;\n",
      );
      assert.ok(!problems.some((p) => cycle.test(p)), JSON.stringify(problems));
    });
  });

  describe('unused code', () => {
    it('rejects an unused variable, import, parameter and expression', async () => {
      await assertRejected(
        'src/core/probe.ts',
        'export function f(): number {\n  const unused = 1;\n  return 2;\n}\n',
        /^@typescript-eslint\/no-unused-vars: 'unused'/,
        /never used/,
      );
      await assertRejected(
        'test/unit/probe.test.ts',
        "import { strict as assert } from 'node:assert';\nexport const x = 1;\n",
        /^@typescript-eslint\/no-unused-vars: 'assert'/,
        /never used/,
      );
      await assertRejected(
        'scripts/probe.mjs',
        'export function f(a, b) {\n  return a;\n}\n',
        /^@typescript-eslint\/no-unused-vars: 'b'/,
        /never used/,
      );
      await assertRejected(
        'src/extension/probe.ts',
        'export function f(x: number): void {\n  x + 1;\n}\n',
        /^@typescript-eslint\/no-unused-expressions: /,
        /./,
      );
      await assertRejected(
        'src/extension/probe.ts',
        'export class P {\n  constructor(private readonly context: string) {}\n}\n',
        /^@typescript-eslint\/no-unused-private-class-members: /,
        /'context'/,
      );
      await assertRejected(
        'src/core/probe.ts',
        'export function f(): number {\n  let n = 0;\n  n = 2;\n  return n;\n}\n',
        /^no-useless-assignment: /,
        /'n'/,
      );
    });

    it('allows `_`-prefixed parameters and rest siblings', async () => {
      await assertClean(
        'src/core/probe.ts',
        'export function f(_a: number, b: number): number {\n  return b;\n}\nexport function g(o: { a: 1; b: 2 }): object {\n  const { a, ...rest } = o;\n  return rest;\n}\n',
      );
    });
  });

  describe('file size', () => {
    it('rejects a file over 400 lines, counting blank lines and comments', async () => {
      const file = (comments: number) =>
        [
          'export const x = 1;',
          ...Array.from({ length: comments }, () => '// note'),
          ...Array.from({ length: 200 }, () => ''),
          'export const y = 2;',
          '',
        ].join('\n');
      await assertRejected('src/core/probe.ts', file(199), /^max-lines: /, /too many lines \(401\)/);
      await assertClean('src/core/probe.ts', file(198));
    });
  });

  describe('function size (functionSizeBlock)', () => {
    /** a function of `lines` lines of code, with a blank and a comment line after most of them */
    const longFunction = (lines: number) =>
      [
        'export function f(): number {',
        '  let n = 0;',
        ...Array.from({ length: lines - 4 }, (_, i) => [`  n += ${i};`, '', '  // a note']).flat(),
        '  return n;',
        '}',
        '',
      ].join('\n');
    /** a function with `ifs` branches (complexity ifs + 1) */
    const branchyFunction = (ifs: number) =>
      [
        'export function g(x: number): number {',
        ...Array.from({ length: ifs }, (_, i) => `  if (x === ${i}) return ${i};`),
        '  return -1;',
        '}',
        '',
      ].join('\n');
    /** one `??` chain of `n` defaults: each `??` counts like a branch */
    const defaultsChain = (n: number) =>
      `export function h(o: Record<string, number | undefined>): number {\n  return ${Array.from({ length: n }, (_, i) => `o.k${i}`).join(' ?? ')} ?? 0;\n}\n`;

    it('rejects a function over 80 lines of code; blank lines and comments do not count', async () => {
      // 80 lines of code (and 152 more blank or comment lines)
      await assertClean('src/core/probe.ts', longFunction(80));
      await assertRejected(
        'src/core/probe.ts',
        longFunction(81),
        /^max-lines-per-function: /,
        /'f' has too many lines \(81\)\. Maximum allowed is 80/,
      );
      await assertRejected('src/extension/probe.ts', longFunction(100), /^max-lines-per-function: /, /too many lines/);
      const arrow = `export const run = async (): Promise<number> => {\n${longFunction(90).split('\n').slice(1, -2).join('\n')}\n};\n`;
      await assertRejected('src/cli/probe.ts', arrow, /^max-lines-per-function: /, /too many lines/);
    });

    it('rejects a function of complexity over 20, `??` chains included', async () => {
      await assertClean('src/core/probe.ts', branchyFunction(19));
      await assertRejected('src/core/probe.ts', branchyFunction(20), /^complexity: /, /'g' has a complexity of 21\. Maximum allowed is 20/);
      await assertRejected('src/extension/probe.ts', defaultsChain(20), /^complexity: /, /'h' has a complexity of 21/);
      await assertClean('src/extension/probe.ts', defaultsChain(19));
    });

    it('holds in src only, the webviews and the chat view provider included', async () => {
      await assertClean('test/unit/probe.test.ts', longFunction(120));
      await assertClean('scripts/probe.ts', branchyFunction(30));
      await assertRejected('src/webview/probe.ts', longFunction(120), /^max-lines-per-function: /, /too many lines \(120\)/);
      await assertRejected('src/extension/chatViewProvider.ts', branchyFunction(30), /^complexity: /, /complexity of 31/);
    });
  });
});
