/**
 * The chat's workbench contributions in package.json: the layout (Chat owns the container,
 * Training Jobs collapsed), view-title icons and the overflow menu, the editor tab's menu,
 * the walkthrough (each step completes on the user's action, its media shipped), and the
 * status bar helpers.
 */
import { strict as assert } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { hostOf, statusText } from '../../../src/extension/chat/statusText';

const ROOT = path.join(__dirname, '..', '..', '..');
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const c = pkg.contributes;
const declared = new Set<string>(c.commands.map((x: { command: string }) => x.command));
type MenuItem = { command: string; when?: string; group?: string };

describe('package.json: the chat as a first-party view', () => {
  it('Chat gets the container: Training Jobs starts collapsed below it', () => {
    const views = c.views.codedance as { id: string; visibility?: string }[];
    assert.equal(views[0].id, 'codedance.chat');
    assert.equal(views.find((v) => v.id === 'codedance.jobs')?.visibility, 'collapsed');
  });

  it('view/title: New chat, History, Open in Editor as icons; the rest in the overflow menu', () => {
    const items = (c.menus['view/title'] as MenuItem[]).filter((m) => m.when?.startsWith('view == codedance.chat'));
    const nav = items.filter((m) => m.group?.startsWith('navigation')).map((m) => m.command);
    assert.deepEqual(nav, ['codedance.newChat', 'codedance.chatHistory', 'codedance.openChatInEditor']);
    const overflow = items.filter((m) => !m.group?.startsWith('navigation')).map((m) => m.command);
    for (const cmd of [
      'codedance.retry',
      'codedance.exportIpynb',
      'codedance.exportMarkdown',
      'codedance.approval.ask',
      'codedance.approval.auto',
    ])
      assert.ok(overflow.includes(cmd), `${cmd} in the overflow menu`);
    for (const m of items) {
      const decl = c.commands.find((x: { command: string }) => x.command === m.command);
      assert.ok(decl, `${m.command} is declared`);
      if (m.group?.startsWith('navigation'))
        assert.match(decl.icon ?? '', /^\$\([\w-]+\)$/, `${m.command} has an icon (its title is the tooltip)`);
    }
  });

  it('the chat editor tab has the same actions and "Move Chat to Side Bar"', () => {
    const items = (c.menus['editor/title'] as MenuItem[])
      .filter((m) => m.when?.includes('activeWebviewPanelId == codedance.chatEditor'))
      .map((m) => m.command);
    for (const cmd of [
      'codedance.newChat',
      'codedance.chatHistory',
      'codedance.moveChatToSideBar',
      'codedance.retry',
      'codedance.exportIpynb',
    ])
      assert.ok(items.includes(cmd), cmd);
  });

  it('every command a menu or keybinding names is declared', () => {
    for (const [menu, items] of Object.entries(c.menus as Record<string, MenuItem[]>))
      for (const m of items) assert.ok(declared.has(m.command), `${menu}: ${m.command}`);
    for (const k of c.keybindings as MenuItem[]) assert.ok(declared.has(k.command), `keybinding ${k.command}`);
  });

  it('the walkthrough: connect, ask, eval, job; each completes on an action; its media ship', () => {
    const [w] = c.walkthroughs as { id: string; steps: { id: string; completionEvents: string[]; media: { markdown: string } }[] }[];
    assert.deepEqual(
      w.steps.map((s) => s.id),
      ['connect', 'ask', 'eval', 'job'],
    );
    for (const s of w.steps) {
      assert.ok(
        s.completionEvents.length > 0 && s.completionEvents.every((e) => /^on(Command|Context|SettingChanged|View):/.test(e)),
        `${s.id}: ${s.completionEvents}`,
      );
      for (const e of s.completionEvents.filter((x) => x.startsWith('onCommand:')))
        assert.ok(declared.has(e.slice('onCommand:'.length)), e);
      assert.ok(existsSync(path.join(ROOT, s.media.markdown)), s.media.markdown);
    }
    assert.ok(
      readFileSync(path.join(ROOT, 'src/extension/chatViewProvider.ts'), 'utf8').includes(`'${pkg.publisher}.${pkg.name}#${w.id}'`),
      'the walkthrough id the extension opens',
    );
  });
});

describe('chat status bar text', () => {
  it('shows the model (else the endpoint host, never a cut URL) and the kernel state', () => {
    const base = {
      endpoint: 'http://127.0.0.1:8738/v1',
      model: '',
      kernel: 'idle' as const,
      approval: 'always' as const,
      pendingApprovals: 0,
      running: false,
    };
    assert.equal(statusText(base), '$(hubot) 127.0.0.1:8738 · $(circle-filled) idle');
    assert.equal(statusText({ ...base, model: 'gpt-4o', kernel: 'none' }), '$(hubot) gpt-4o · $(circle-outline) no kernel');
    assert.match(statusText({ ...base, pendingApprovals: 1 }), /approve\?$/);
    assert.equal(hostOf('https://api.openai.com/v1, http://x:1/v1'), 'api.openai.com');
  });
});
