/** Runs inside VS Code's extension host: the manifest as VS Code read it, activation, commands. */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { codedance, COMMANDS, emit } from './util';

interface Manifest {
  contributes: {
    viewsContainers: { activitybar: Array<{ id: string; title: string }> };
    views: Record<string, Array<{ id: string; name: string; type?: string }>>;
    menus: Record<string, Array<{ command: string; when?: string }>>;
  };
}

describe('CodeDance extension in VS Code', () => {
  it('is present as the extension under development', () => {
    const manifest = codedance().packageJSON as { main?: string; engines?: { vscode?: string } };
    assert.equal(manifest.main, './dist/extension.js');
    assert.ok(manifest.engines?.vscode, 'package.json has no engines.vscode');
  });

  it('activates', async () => {
    const ext = codedance();
    const t0 = performance.now();
    await ext.activate();
    const activateCallMs = performance.now() - t0;
    assert.ok(ext.isActive, 'extension did not become active');
    const exported = ext.exports as { activationMs?: number } | undefined;
    emit('CODEDANCE_E2E_INFO', { activateCallMs: round(activateCallMs), activationMs: round(exported?.activationMs) });
  });

  it('registers its commands', async () => {
    const all = new Set(await vscode.commands.getCommands(true));
    const missing = COMMANDS.filter((id) => !all.has(id));
    assert.deepEqual(missing, [], `commands not registered: ${missing.join(', ')}`);
  });

  it('contributes the CodeDance container with the Chat webview and the Training Jobs tree', () => {
    const { contributes } = codedance().packageJSON as Manifest;
    const container = contributes.viewsContainers.activitybar.find((c) => c.id === 'codedance');
    assert.ok(container, 'no activity bar container "codedance"');
    assert.equal(container.title, 'CodeDance');
    const views = contributes.views['codedance'] ?? [];
    const chat = views.find((v) => v.id === 'codedance.chat');
    const jobs = views.find((v) => v.id === 'codedance.jobs');
    assert.equal(chat?.type, 'webview', 'codedance.chat must be a webview view');
    assert.ok(jobs, 'no codedance.jobs view');
    assert.ok(jobs.type === undefined || jobs.type === 'tree', `codedance.jobs must be a tree view, is ${jobs.type}`);
  });

  it('offers "Ask about image" in the explorer for image files only', () => {
    const { contributes } = codedance().packageJSON as Manifest;
    const item = contributes.menus['explorer/context']?.find((m) => m.command === 'codedance.askAboutImageFromExplorer');
    assert.ok(item?.when, 'no explorer/context entry for codedance.askAboutImageFromExplorer');
    const regex = /resourceExtname\s*=~\s*\/(.+)\/(\w*)/.exec(item.when);
    assert.ok(regex, `unexpected when clause: ${item.when}`);
    const matches = new RegExp(regex[1]!, regex[2]);
    for (const ext of ['.png', '.jpg', '.jpeg', '.webp', '.gif', '.bmp', '.PNG']) assert.ok(matches.test(ext), `${ext} not matched`);
    for (const ext of ['.txt', '.md', '.py', '.pngx']) assert.ok(!matches.test(ext), `${ext} should not match`);
  });

  it('opens its views (the chat webview resolves)', async () => {
    await vscode.commands.executeCommand('workbench.view.extension.codedance');
    await vscode.commands.executeCommand('codedance.chat.focus');
    await vscode.commands.executeCommand('codedance.jobs.focus');
  });
});

function round(ms: number | undefined): number | undefined {
  return ms === undefined ? undefined : Math.round(ms * 10) / 10;
}
