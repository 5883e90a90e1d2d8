/**
 * "CodeDance: Select Kernel": where this workspace's chat runs its code — the local interpreter
 * (as resolved today: setting, Python extension, python3, /usr/bin/python3) or a kernelspec on a
 * Jupyter server the user added (URL in global state, token in SecretStorage), an environment of
 * the Python extension, or the kernel of an open notebook (the Jupyter extension's). The choice
 * is per workspace and shown in the status bar and the chat's status line.
 */
import * as vscode from 'vscode';
import { type KernelService, resolveEditorPython } from '../chat/kernelService';
import { jupyterApi, listNotebookKernels } from './notebookKernels';
import { listPythonEnvironments } from './pythonEnvironments';
import { describeChoice, type KernelChoice, KernelChoiceStore } from './store';

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
  const token =
    fromUrl ??
    (await vscode.window.showInputBox({
      title: 'CodeDance: Jupyter server token',
      prompt: 'The token the server printed (`jupyter server list`); empty if it has none. Kept in SecretStorage.',
      password: true,
      ignoreFocusOut: true,
    }));
  if (token === undefined) return undefined;
  try {
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'CodeDance: checking the Jupyter server…' },
      () => listSpecs(url, token),
    );
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

/** the Python extension's environments: each a local interpreter for this workspace */
async function environmentItems(choices: KernelChoiceStore, current: KernelChoice, log?: vscode.LogOutputChannel): Promise<Item[]> {
  const envs = await listPythonEnvironments(log);
  if (!envs.length) return [];
  return [
    { label: 'Python environments (Python extension)', kind: vscode.QuickPickItemKind.Separator },
    ...envs.map((e) => ({
      label: `$(symbol-namespace) ${e.label}`,
      description: current.kind === 'local' && current.python === e.python ? `${e.python} · current` : e.python,
      run: () => choices.choose({ kind: 'local', python: e.python }),
    })),
  ];
}

/** the open notebooks' kernels, when the Jupyter extension is there (else nothing, and no error) */
async function notebookItems(choices: KernelChoiceStore, current: KernelChoice): Promise<Item[]> {
  // no Jupyter extension (or it failed to activate): no notebook kernels to offer, the other choices stay
  const api = await jupyterApi().catch(() => undefined);
  if (!api) return [];
  const kernels = await listNotebookKernels(api);
  return [
    { label: 'Notebook kernels (Jupyter extension)', kind: vscode.QuickPickItemKind.Separator },
    ...kernels.map((k) => ({
      label: `$(notebook) Use the kernel of ${k.name}`,
      description: current.kind === 'notebook' && current.uri === k.uri.toString() ? 'current' : vscode.workspace.asRelativePath(k.uri),
      detail: "the model's code runs in that notebook's kernel, next to its variables",
      run: () => choices.choose({ kind: 'notebook', uri: k.uri.toString(), name: k.name }),
    })),
    ...(kernels.length
      ? []
      : [
          {
            label: '$(info) No notebook kernel is running',
            detail: 'run a cell of an open notebook to start its kernel',
            run: () => Promise.resolve(),
          },
        ]),
  ];
}

export async function selectKernel(choices: KernelChoiceStore, log?: vscode.LogOutputChannel): Promise<void> {
  const current = choices.choice;
  let local = 'Local Python';
  try {
    local = `Local Python: ${(await resolveEditorPython()).python}`;
  } catch {
    /* shown as plain "Local Python"; choosing it reports what is missing */
  }
  const [envs, notebooks] = await Promise.all([environmentItems(choices, current, log), notebookItems(choices, current)]);
  const items: Item[] = [
    {
      label: '$(device-desktop) ' + local,
      description: current.kind === 'local' && !current.python ? 'current' : undefined,
      detail: "codedance.python.interpreter → the Python extension's active one → python3",
      run: () => choices.choose({ kind: 'local' }),
    },
    {
      label: '$(settings) Pick Local Interpreter…',
      run: () => vscode.commands.executeCommand('codedance.pickInterpreter').then(() => choices.choose({ kind: 'local' })),
    },
    ...envs,
    { label: 'Jupyter servers', kind: vscode.QuickPickItemKind.Separator },
    ...choices.servers().map((url) => ({
      label: `$(server) ${url}`,
      description: current.kind === 'remote' && current.url === url ? `current: ${current.kernelName ?? 'default kernel'}` : undefined,
      run: () => pickKernelSpec(choices, url),
    })),
    {
      label: `$(add) ${ADD}`,
      run: async () => {
        const url = await addServer(choices);
        if (url) await pickKernelSpec(choices, url);
      },
    },
    ...(choices.servers().length
      ? [
          {
            label: '$(trash) Remove Jupyter Server…',
            run: async () => {
              const url = await vscode.window.showQuickPick(choices.servers(), {
                title: 'CodeDance: remove which server (and its token)?',
              });
              if (url) await choices.removeServer(url);
            },
          },
        ]
      : []),
    ...notebooks,
  ];
  const pick = await vscode.window.showQuickPick(items, {
    title: 'CodeDance: where the chat runs code',
    placeHolder: `now: ${describeChoice(current)}`,
    matchOnDescription: true,
  });
  await pick?.run?.();
}

/** the status bar's words for a choice */
function statusText(c: KernelChoice): { text: string; tooltip: string } {
  if (c.kind === 'local') {
    return {
      text: `$(device-desktop) CodeDance: ${c.python ? `local: ${c.python}` : 'local kernel'}`,
      tooltip: `CodeDance runs the chat's code in a local Python kernel${c.python ? ` of ${c.python} (chosen for this workspace)` : ''}. Click to change.`,
    };
  }
  if (c.kind === 'notebook')
    return {
      text: `$(notebook) CodeDance: kernel of ${c.name}`,
      tooltip: `CodeDance runs the chat's code in the kernel of the notebook ${c.name}, next to its variables. Click to change.`,
    };
  return {
    text: `$(server) CodeDance: ${describeChoice(c)}`,
    tooltip: `CodeDance runs the chat's code in the kernel "${c.kernelName ?? 'default'}" on the Jupyter server ${c.url}. Click to change.`,
  };
}

/** The command, the status bar item and the hook into the chat's kernels. */
export function registerKernelPicker(context: vscode.ExtensionContext, kernels: KernelService): KernelChoiceStore {
  const store = new KernelChoiceStore(context.workspaceState, context.globalState, context.secrets);
  kernels.useChoices(store);
  const status = vscode.window.createStatusBarItem('codedance.kernel', vscode.StatusBarAlignment.Right, 90);
  status.name = 'CodeDance Kernel';
  status.command = 'codedance.selectKernel';
  const show = () => {
    const { text, tooltip } = statusText(store.choice);
    status.text = text;
    status.tooltip = tooltip;
    status.show();
  };
  show();
  context.subscriptions.push(
    status,
    store.onDidChange(show),
    vscode.commands.registerCommand('codedance.selectKernel', () => selectKernel(store)),
  );
  return store;
}
