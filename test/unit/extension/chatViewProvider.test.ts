/**
 * The chat view's listeners live as long as the view they were registered for: resolving the view
 * again (VS Code does after the view is hidden and shown with its context dropped) disposes the
 * previous view's listeners, closing it disposes its own. Runs on a small stand-in for the
 * `vscode` module: only what the provider touches when it is built and resolved.
 */
import { strict as assert } from 'node:assert';
import Module from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { ServedEndpoints } from '../../../src/core/serve';

type Listener<T> = (e: T) => unknown;

class FakeEmitter<T> {
  readonly listeners = new Set<Listener<T>>();
  /** every disposable this emitter handed out, with whether it was disposed */
  readonly handed: { disposed: boolean }[] = [];
  readonly event = (l: Listener<T>) => {
    this.listeners.add(l);
    const d = { disposed: false, dispose: () => ((d.disposed = true), this.listeners.delete(l)) };
    this.handed.push(d);
    return d;
  };
  fire(e: T): void {
    for (const l of [...this.listeners]) l(e);
  }
  dispose(): void {
    this.listeners.clear();
  }
}

const noEvent = () => ({ dispose() {} });
const uri = (p: string) => ({ fsPath: p, path: p, toString: () => `file://${p}` });
const fakeVscode = {
  EventEmitter: FakeEmitter,
  ConfigurationTarget: { Global: 1, Workspace: 2 },
  Uri: { joinPath: (base: { path: string }, ...parts: string[]) => uri(path.join(base.path, ...parts)), file: uri },
  workspace: {
    isTrusted: false,
    workspaceFolders: undefined,
    onDidGrantWorkspaceTrust: noEvent,
    onDidChangeConfiguration: noEvent,
    getConfiguration: () => ({ get: (_k: string, d: unknown) => d, inspect: () => undefined }),
  },
  extensions: { getExtension: () => undefined },
  window: { showWarningMessage: async () => undefined, showErrorMessage: async () => undefined },
  commands: { executeCommand: async () => undefined },
  env: {},
};

function fakeView() {
  const messages = new FakeEmitter<unknown>();
  const disposed = new FakeEmitter<void>();
  const view = {
    webview: {
      options: {},
      html: '',
      cspSource: 'vscode-resource:',
      asWebviewUri: (u: unknown) => u,
      onDidReceiveMessage: messages.event,
      postMessage: async () => true,
    },
    onDidDispose: disposed.event,
  };
  return { view, messages, disposed };
}

describe('chat view: listeners per resolved view', () => {
  const M = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
  const original = M._resolveFilename;
  let ChatViewProvider: typeof import('../../../src/extension/chatViewProvider').ChatViewProvider;

  before(() => {
    M._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]) {
      return request === 'vscode' ? 'vscode' : original.call(this, request, ...rest);
    };
    require.cache.vscode = { id: 'vscode', filename: 'vscode', loaded: true, exports: fakeVscode } as unknown as NodeJS.Module;
    // loaded after the stand-in is in place (a static import would resolve `vscode` first)
    ({ ChatViewProvider } = require('../../../src/extension/chatViewProvider') as typeof import('../../../src/extension/chatViewProvider'));
  });

  after(() => {
    M._resolveFilename = original;
    delete require.cache.vscode;
  });

  it("a second resolve disposes the first view's listeners; closing the view disposes its own", () => {
    const storage = uri(path.join(os.tmpdir(), 'codedance-view-test'));
    const context = {
      extensionUri: uri('/ext'),
      storageUri: storage,
      globalStorageUri: storage,
      secrets: { onDidChange: noEvent, get: async () => undefined },
      globalState: { get: () => false },
    };
    const log = { info() {}, warn() {}, error() {} };
    const provider = new ChatViewProvider(context as never, log as never, new ServedEndpoints());
    try {
      const first = fakeView();
      provider.resolveWebviewView(first.view as never);
      assert.equal(provider.viewListenerCount, 2);
      assert.equal(first.messages.listeners.size, 1);

      const second = fakeView();
      provider.resolveWebviewView(second.view as never);
      assert.equal(first.messages.listeners.size, 0, "the first view's message listener is gone");
      assert.ok([...first.messages.handed, ...first.disposed.handed].every((d) => d.disposed));
      assert.equal(provider.viewListenerCount, 2, 'only the current view holds listeners');

      second.disposed.fire();
      assert.equal(provider.viewListenerCount, 0);
      assert.ok([...second.messages.handed, ...second.disposed.handed].every((d) => d.disposed));
      for (let i = 0; i < 20; i++) {
        const v = fakeView();
        provider.resolveWebviewView(v.view as never);
        v.disposed.fire();
      }
      assert.equal(provider.viewListenerCount, 0, 'no growth over many show/hide cycles');
    } finally {
      provider.dispose();
    }
  });

  it('badges the view while a cell waits for approval, and replays the live run to a webview that reloads', async () => {
    const storage = uri(path.join(os.tmpdir(), 'codedance-view-test'));
    const context = {
      extensionUri: uri('/ext'),
      storageUri: storage,
      globalStorageUri: storage,
      secrets: { onDidChange: noEvent, get: async () => undefined },
      globalState: { get: () => false },
    };
    const provider = new ChatViewProvider(context as never, { info() {}, warn() {}, error() {} } as never, new ServedEndpoints());
    try {
      const v = fakeView();
      const posted: { type: string; replace?: boolean }[] = [];
      (v.view.webview as { postMessage: (m: never) => Promise<boolean> }).postMessage = async (m) => (posted.push(m), true);
      provider.resolveWebviewView(v.view as never);
      const badge = () => (v.view as { badge?: { value: number } }).badge;
      let running = true; // the session's run (the conversation core is tested on its own)
      Object.defineProperty(provider.chat, 'running', { get: () => running });
      provider.post({ type: 'running', running: true });
      provider.post({ type: 'exchangeStart', run: 'r1', index: 0, question: 'q', images: [] });
      provider.post({
        type: 'event',
        run: 'r1',
        index: 0,
        event: { type: 'approval_request', turn: 0, cellId: 'c0', code: 'print(1)' } as never,
      });
      assert.equal(badge()?.value, 1, 'one cell waits');
      // the webview (re)loads mid-run: it gets the run so far, the exchange replacing any stale copy
      v.messages.fire({ type: 'ready', id: 'w-1' });
      await new Promise((r) => setTimeout(r, 50));
      const replay = posted.filter((m) => m.type === 'exchangeStart' || m.type === 'event');
      assert.deepEqual(
        replay.map((m) => m.type),
        ['exchangeStart', 'event'],
      );
      assert.equal(replay[0].replace, true);
      provider.post({ type: 'event', run: 'r1', index: 0, event: { type: 'approval', turn: 0, cellId: 'c0', decision: 'run' } as never });
      assert.equal(badge()?.value, 0, 'answered: no badge (0 hides it)');
      provider.post({
        type: 'event',
        run: 'r1',
        index: 0,
        event: { type: 'approval_request', turn: 1, cellId: 'c1', code: 'print(2)' } as never,
      });
      assert.equal(badge()?.value, 1);
      running = false;
      provider.post({ type: 'running', running: false });
      assert.equal(badge()?.value, 0, 'a run that ends leaves nothing pending');
    } finally {
      provider.dispose();
    }
  });
});
