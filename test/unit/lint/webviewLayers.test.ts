// eslint.config.mjs on the seams around the webviews, proven on small in-memory files: the
// extension imports nothing of src/webview (types included); the webviews import nothing of
// src/extension or src/cli, core's types only, core's code only as src/protocol re-exports it;
// src/protocol runs in the browser too and runs only the pure core modules it lists; core
// imports nothing of src/protocol. Each form of import is tried, and the legal neighbours pass.
import { strict as assert } from 'node:assert';
import path from 'node:path';
import { ESLint } from 'eslint';

const root = path.resolve(__dirname, '../../..');

describe('eslint.config.mjs: extension, webview and protocol layers', function () {
  this.timeout(60000);
  let eslint: ESLint;
  before(() => {
    eslint = new ESLint({ cwd: root, overrideConfigFile: path.join(root, 'eslint.config.mjs') });
  });

  async function lint(rel: string, code: string): Promise<string[]> {
    const [result] = await eslint.lintText(code, { filePath: path.join(root, rel), warnIgnored: true });
    return result.messages.map((m) => `${m.ruleId ?? 'fatal'}: ${m.message}`);
  }
  const restricted = /^(@typescript-eslint\/no-restricted-imports|no-restricted-syntax): /;
  async function assertRejected(rel: string, code: string, why: RegExp): Promise<void> {
    const problems = await lint(rel, code);
    assert.ok(
      problems.some((p) => restricted.test(p) && why.test(p)),
      `${rel} should be rejected (${why}); got ${JSON.stringify(problems)}`,
    );
  }
  async function assertClean(rel: string, code: string): Promise<void> {
    assert.deepEqual(await lint(rel, code), [], `${rel} should lint clean`);
  }

  describe('src/extension', () => {
    const why = /src\/extension must not import src\/webview/;
    it('imports nothing of src/webview: run-time, type-only, re-export and dynamic forms', async () => {
      await assertRejected(
        'src/extension/chat/probe.ts',
        "import { ExchangeRenderer } from '../../webview/exchange';\nexport const r = ExchangeRenderer;\n",
        why,
      );
      await assertRejected(
        'src/extension/chat/probe.ts',
        "import type { Compose } from '../../webview/compose';\nexport type C = Compose;\n",
        why,
      );
      await assertRejected(
        'src/extension/chat/probe.ts',
        "import { type Compose } from '../../webview/compose';\nexport type C = Compose;\n",
        why,
      );
      await assertRejected('src/extension/probe.ts', "export { Messenger } from '../webview/messenger';\n", why);
      await assertRejected('src/extension/probe.ts', "export type M = typeof import('../webview/messenger');\n", why);
      await assertRejected('src/extension/probe.ts', "export const m = import('../webview/main');\n", why);
    });

    it('imports the protocols from src/protocol, types and code', async () => {
      await assertClean(
        'src/extension/chat/probe.ts',
        [
          "import { chatRequest, type FromWebview } from '../../protocol/chat';",
          "import { sessionMessage } from '../../protocol/panelEvents';",
          'export type M = FromWebview;',
          'export const all = [chatRequest, sessionMessage];',
          '',
        ].join('\n'),
      );
    });
  });

  describe('src/webview', () => {
    const layers = /src\/webview runs in the browser and reaches the extension only through messages/;
    const core = /src\/webview runs core's code only as src\/protocol re-exports it/;
    it('imports nothing of src/extension or src/cli, types included', async () => {
      await assertRejected(
        'src/webview/probe.ts',
        "import { routeRequests } from '../extension/webviewRequests';\nexport const r = routeRequests;\n",
        layers,
      );
      await assertRejected(
        'src/webview/report/probe.ts',
        "import type { Host } from '../../extension/chat/chatHosts';\nexport type H = Host;\n",
        layers,
      );
      await assertRejected('src/webview/probe.ts', "export type X = typeof import('../cli/main');\n", layers);
      await assertRejected('src/webview/probe.ts', "export const m = import('../../src/extension/extension');\n", layers);
    });

    it("runs none of core's code itself (static, re-export, dynamic and require forms)", async () => {
      await assertRejected(
        'src/webview/probe.ts',
        "import { imageDataUrl } from '../core/trajectory/images';\nexport const u = imageDataUrl;\n",
        core,
      );
      await assertRejected('src/webview/dataset/probe.ts', "export { replayEvents } from '../../core/trajectory/replay';\n", core);
      await assertRejected('src/webview/probe.ts', "export const m = import('../core/trajectory/replay');\n", core);
      await assertRejected('src/webview/probe.ts', "export const m = require('../core/errors');\n", core);
    });

    it("imports core's types, and the protocols and what they re-export", async () => {
      await assertClean(
        'src/webview/report/probe.ts',
        [
          "import type { CodeCell } from '../../core/trajectory/types';",
          "import { type Trajectory } from '../../core/trajectory/types';",
          "import { imageDataUrl } from '../../protocol/images';",
          "import type { ReportRun } from '../../protocol/report';",
          "import { exchangeEvents } from '../../protocol/panelEvents';",
          "export type T = CodeCell | Trajectory | ReportRun | typeof import('../../core/errors');",
          'export const all = [imageDataUrl, exchangeEvents];',
          '',
        ].join('\n'),
      );
    });
  });

  describe('src/protocol', () => {
    const layer = /src\/protocol is imported by the extension and the webviews alike/;
    const core = /src\/protocol runs only the pure, browser-safe modules of core listed in protocolRunsOfCore/;
    it("runs in the browser: no 'vscode', no Node built-ins", async () => {
      await assertRejected('src/protocol/probe.ts', "import * as vscode from 'vscode';\nexport const v = vscode;\n", layer);
      await assertRejected('src/protocol/probe.ts', "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n", layer);
      await assertRejected('src/protocol/probe.ts', "export const p = require('path');\n", layer);
    });

    it('imports nothing of src/extension, src/webview or src/cli, types included', async () => {
      await assertRejected(
        'src/protocol/probe.ts',
        "import type { Host } from '../extension/chat/chatHosts';\nexport type H = Host;\n",
        layer,
      );
      await assertRejected(
        'src/protocol/probe.ts',
        "import { Messenger } from '../webview/messenger';\nexport const m = Messenger;\n",
        layer,
      );
      await assertRejected('src/protocol/probe.ts', "export type C = typeof import('../cli/main');\n", layer);
    });

    it('runs only the listed pure modules of core; the rest of core as types', async () => {
      await assertRejected(
        'src/protocol/probe.ts',
        "import { DatasetView } from '../core/training-data/datasetView';\nexport const d = DatasetView;\n",
        core,
      );
      await assertRejected('src/protocol/probe.ts', "export { readResults } from '../core/eval/resultsFile';\n", core);
      await assertRejected('src/protocol/probe.ts', "export const m = import('../core/trajectory/types');\n", core);
      await assertClean(
        'src/protocol/probe.ts',
        [
          "import { replayEvents } from '../core/trajectory/replay';",
          "import type { DatasetView } from '../core/training-data/datasetView';",
          "export { imageDataUrl } from '../core/trajectory/images';",
          "export type { RowReward } from '../core/reward/rowReward';",
          'export type D = DatasetView;',
          'export const r = replayEvents;',
          '',
        ].join('\n'),
      );
    });
  });

  describe('src/core', () => {
    it('imports nothing of src/protocol (the webview protocols), while its own protocol/ folder stays legal', async () => {
      const why = /src\/core must stay editor-free/;
      await assertRejected(
        'src/core/agent/probe.ts',
        "import type { PanelEvent } from '../../protocol/chat';\nexport type P = PanelEvent;\n",
        why,
      );
      await assertRejected(
        'src/core/probe.ts',
        "import { sessionMessage } from '../protocol/panelEvents';\nexport const s = sessionMessage;\n",
        why,
      );
      await assertClean('src/core/agent/probe.ts', "import type { ChatMessage } from '../protocol/types';\nexport type M = ChatMessage;\n");
      await assertClean('src/core/probe.ts', "import type { ChatMessage } from './protocol/types';\nexport type M = ChatMessage;\n");
    });
  });
});
