/** Shared by the in-host tests: the extension handle and the result lines the node side parses. */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';

export const EXTENSION_ID = 'codedance.codedance-vscode';

export const COMMANDS = [
  'codedance.askAboutImage',
  'codedance.newChat',
  'codedance.runEval',
  'codedance.startTrainingJob',
  'codedance.openEvalReport',
];

export function codedance(): vscode.Extension<unknown> {
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  assert.ok(ext, `extension ${EXTENSION_ID} is not loaded: check package.json publisher/name and extensionDevelopmentPath`);
  return ext;
}

/** One machine-readable line through the extension host's console: `TAG {json}`. */
export function emit(tag: 'CODEDANCE_E2E_TEST' | 'CODEDANCE_E2E_INFO' | 'CODEDANCE_E2E_RESULT', data: object): void {
  console.log(`${tag} ${JSON.stringify(data)}`);
}
