/**
 * "CodeDance: Select Kernel": where this workspace's chat runs its code — the local interpreter
 * (as resolved today: setting, Python extension, python3, /usr/bin/python3) or a kernelspec on a
 * Jupyter server the user added (URL in global state, token in SecretStorage). The choice is per
 * workspace and shown in the status bar. Notebook kernels (issue 12 §2) are not offered yet.
 */
import * as vscode from 'vscode';
import type { KernelService } from '../chat/kernelService';
import { describeChoice, KernelChoiceStore } from './store';

/** lists a server's kernelspecs (checks URL and token); loaded when first needed, not at activation */
async function listSpecs(url: string, token: string | undefined) {
  const { chooseKernelSpec, serverSettings } = await import('../../core/kernel/remote/server');
  return chooseKernelSpec(serverSettings({ url, token }), url);
}

type Item = vscode.QuickPickItem & { run?: () => Thenable<unknown> };

const ADD = 'Add Jupyter Server…';

/** Asks for a server URL and token, checks them (kernelspecs listed = URL and token good), adds it. */
async function addServer(store: KernelChoiceStore): Promise<string | undefined> {
  const url = await vscode.window.showInputBox({
    title: 'CodeDance: Jupyter server URL',
    prompt: 'The base URL the server prints, e.g. http://gpu-box:8888/ (a JupyterHub server: https://hub/user/NAME/)',
    ignoreFocusOut: true,
    validateInput: (v) => (/^https?:\/\/\S+$/.test(v.trim()) ? undefined : 'an http:// or https:// URL'),
  });
  if (!url) return undefined;
  const fromUrl = new URL(url.trim()).searchParams.get('token') ?? undefined;
  const token = fromUrl ?? (await vscode.window.showInputBox({ title: 'CodeDance: Jupyter server token', prompt: 'The token the server printed (`jupyter server list`); empty if it has none. Kept in SecretStorage.', password: true, ignoreFocusOut: true }));
  if (token === undefined) return undefined;
  try {
    await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'CodeDance: checking the Jupyter server…' }, () => listSpecs(url, token));
  } catch (e) {
    void vscode.window.showErrorMessage(`CodeDance: ${(e as Error).message}`);
    return undefined;
  }
  return store.addServer(url, token);
}

/** The server's Python kernelspecs to choose from (checks URL and token again). */
async function pickKernelSpec(store: KernelChoiceStore, url: string): Promise<void> {
  const token = await store.token(url);
  let specs;
  try {
    specs = await listSpecs(url, token);
  } catch (e) {
    const act = await vscode.window.showErrorMessage(`CodeDance: ${(e as Error).message}`, 'Set Token', 'Remove Server');
    if (act === 'Set Token') {
      const t = await vscode.window.showInputBox({ title: `CodeDance: token for ${url}`, password: true, ignoreFocusOut: true });
      if (t !== undefined) await store.addServer(url, t);
    } else if (act === 'Remove Server') await store.removeServer(url);
    return;
  }
  const items = specs.available
    .filter((s) => s.language.toLowerCase() === 'python')
    .map((s) => ({ label: s.displayName, description: s.name === specs.name ? `${s.name} (default)` : s.name, name: s.name }));
  const pick = items.length === 1 ? items[0] : await vscode.window.showQuickPick(items, { title: `CodeDance: kernel on ${url}` });
  if (!pick) return;
  await store.choose({ kind: 'remote', url, kernelName: pick.name });
}

export async function selectKernel(store: KernelChoiceStore, kernels: KernelService): Promise<void> {
  const current = store.choice;
  let local = 'local Python';
  try {
    local = `local: ${(await kernels.localPython()).python}`;
  } catch {
    /* shown as plain "local Python"; choosing it reports what is missing */
  }
  const items: Item[] = [
    { label: '$(device-desktop) ' + local, description: current.kind === 'local' ? 'current' : undefined, detail: 'a kernel on this machine (codedance.python.interpreter, else the Python extension, else python3)', run: () => store.choose({ kind: 'local' }) },
    { label: '$(settings) Pick Local Interpreter…', run: () => vscode.commands.executeCommand('codedance.pickInterpreter').then(() => store.choose({ kind: 'local' })) },
    { label: 'Jupyter servers', kind: vscode.QuickPickItemKind.Separator },
    ...store.servers().map((url) => ({
      label: `$(server) ${url}`,
      description: current.kind === 'remote' && current.url === url ? `current: ${current.kernelName ?? 'default kernel'}` : undefined,
      run: () => pickKernelSpec(store, url),
    })),
    {
      label: `$(add) ${ADD}`,
      run: async () => {
        const url = await addServer(store);
        if (url) await pickKernelSpec(store, url);
      },
    },
    ...(store.servers().length ? [{ label: '$(trash) Remove Jupyter Server…', run: async () => {
      const url = await vscode.window.showQuickPick(store.servers(), { title: 'CodeDance: remove which server (and its token)?' });
      if (url) await store.removeServer(url);
    } }] : []),
  ];
  const pick = await vscode.window.showQuickPick(items, { title: 'CodeDance: where the chat runs code', placeHolder: `now: ${describeChoice(current)}` });
  await pick?.run?.();
}

/** The command, the status bar item and the hook into the chat's kernels. */
export function registerKernelPicker(context: vscode.ExtensionContext, kernels: KernelService): KernelChoiceStore {
  const store = new KernelChoiceStore(context.workspaceState, context.globalState, context.secrets);
  kernels.useChoices(store);
  const status = vscode.window.createStatusBarItem('codedance.kernel', vscode.StatusBarAlignment.Right, 90);
  status.name = 'CodeDance Kernel';
  status.command = 'codedance.selectKernel';
  const show = () => {
    const c = store.choice;
    status.text = c.kind === 'local' ? '$(device-desktop) CodeDance: local kernel' : `$(server) CodeDance: ${describeChoice(c)}`;
    status.tooltip = `CodeDance runs the chat's code ${c.kind === 'local' ? 'in a local Python kernel' : `in the kernel "${c.kernelName ?? 'default'}" on the Jupyter server ${c.url}`}. Click to change.`;
    status.show();
  };
  show();
  context.subscriptions.push(
    status,
    store.onDidChange(show),
    vscode.commands.registerCommand('codedance.selectKernel', () => selectKernel(store, kernels)),
  );
  return store;
}
