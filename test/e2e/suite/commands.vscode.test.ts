/** Runs inside VS Code's extension host: every command runs without throwing. */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { codedance } from './util';

/**
 * A command may legitimately wait on the user (a quick pick, a dialog). Give it a moment; if it
 * is still waiting, close the quick input and keep watching for a late error.
 */
async function execute(id: string, ...args: unknown[]): Promise<Error | undefined> {
  let error: Error | undefined;
  const done = Promise.resolve(vscode.commands.executeCommand(id, ...args)).then(
    () => 'done',
    (err: unknown) => {
      error = err instanceof Error ? err : new Error(String(err));
      return 'done';
    },
  );
  const outcome = await Promise.race([done, sleep(3000).then(() => 'waiting')]);
  if (outcome === 'waiting') {
    await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
    await Promise.race([done, sleep(1000)]);
  }
  return error;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function fixtureImage(): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'no workspace folder open: the e2e workspace is test/e2e/fixtures/workspace');
  return vscode.Uri.joinPath(folder.uri, 'circles.png');
}

describe('CodeDance commands', () => {
  before(async () => {
    await codedance().activate();
  });

  afterEach(async () => {
    await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
  });

  const cases: Array<[string, () => unknown[]]> = [
    ['codedance.newChat', () => []],
    ['codedance.askAboutImage', () => [fixtureImage()]],
    ['codedance.askAboutImageFromExplorer', () => [fixtureImage()]],
    ['codedance.runEval', () => []],
    ['codedance.startTrainingJob', () => []],
    ['codedance.openEvalReport', () => []],
  ];
  for (const [id, args] of cases) {
    it(`${id} runs without throwing`, async () => {
      const error = await execute(id, ...args());
      assert.equal(error, undefined, `${id} threw: ${error?.stack}`);
    });
  }
});
