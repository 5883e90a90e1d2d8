/**
 * The chat's setup actions through VS Code's own UI: connect a model (fixture / vLLM / OpenAI /
 * any URL), the approval mode, links from model output, and the status bar item's picker.
 */
import * as vscode from 'vscode';
import type { SetupAction } from '../../protocol/chat';
import { endpointListProblem } from '../errors';
import { readSettings } from '../settings';

export const FIXTURE_ENDPOINT = 'http://127.0.0.1:8738/v1';
export const VLLM_ENDPOINT = 'http://127.0.0.1:8000/v1';
export const OPENAI_ENDPOINT = 'https://api.openai.com/v1';

const cfg = () => vscode.workspace.getConfiguration('codedance');
const workspaceTarget = () =>
  vscode.workspace.workspaceFolders?.length ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
// also refuses user:password@ in a URL, so that it is never saved in settings
const validUrls = endpointListProblem;

/** Asks for the endpoint URL(s) and stores them; false when cancelled. */
export async function setEndpoint(): Promise<boolean> {
  const v = await vscode.window.showInputBox({
    title: 'CodeDance: model endpoint',
    prompt: 'OpenAI-compatible base URL(s), comma-separated (e.g. http://127.0.0.1:8000/v1 for vllm serve)',
    value: readSettings().endpoints.join(', '),
    validateInput: validUrls,
  });
  if (v === undefined) return false;
  await cfg().update(
    'model.endpoints',
    v
      .split(',')
      .map((u) => u.trim())
      .filter(Boolean),
    vscode.ConfigurationTarget.Global,
  );
  return true;
}

interface ModelChoice extends vscode.QuickPickItem {
  id: 'fixture' | 'vllm' | 'openai' | 'other';
}

/**
 * "Connect a Model…": the walkthrough's first step. Sets endpoint, protocol (and model for
 * OpenAI); true when done (the caller sets `codedance.modelConnected`, which completes the step).
 */
export async function connectModel(): Promise<boolean> {
  const current = readSettings().endpoints[0];
  const items: ModelChoice[] = [
    {
      id: 'fixture',
      label: '$(beaker) Fixture model',
      description: FIXTURE_ENDPOINT,
      detail: 'The test model `npm start` serves: writes real measuring code, no GPU needed.',
    },
    {
      id: 'vllm',
      label: '$(server) vLLM on this machine',
      description: VLLM_ENDPOINT,
      detail: '`vllm serve CodeDance-7B` (or Qwen2.5-VL), the CodeDance evaluation format.',
    },
    {
      id: 'openai',
      label: '$(cloud) OpenAI',
      description: OPENAI_ENDPOINT,
      detail: 'GPT-4o with function calling; asks for your API key (kept in SecretStorage).',
    },
    { id: 'other', label: '$(edit) Other OpenAI-compatible server…', detail: 'Any base URL, several comma-separated.' },
  ];
  for (const i of items) if (i.description === current) i.label += '  $(check)';
  const pick = await vscode.window.showQuickPick(items, {
    title: 'CodeDance: connect a model',
    placeHolder: `now: ${current ?? 'none'}`,
    matchOnDescription: true,
  });
  if (!pick) return false;
  const update = (key: string, value: unknown) => cfg().update(key, value, vscode.ConfigurationTarget.Global);
  switch (pick.id) {
    case 'fixture':
    case 'vllm':
      await update('model.endpoints', [pick.description]);
      await update('model.protocol', 'codedance');
      break;
    case 'openai': {
      await update('model.endpoints', [OPENAI_ENDPOINT]);
      await update('model.protocol', 'openai-tools');
      if (!readSettings().model) await update('model.name', 'gpt-4o');
      await vscode.commands.executeCommand('codedance.setApiKey');
      break;
    }
    case 'other':
      if (!(await setEndpoint())) return false;
      break;
  }
  return true;
}

/** Sets the approval mode; turning approval off asks first. */
export async function setApproval(mode: 'always' | 'auto'): Promise<void> {
  if (mode === readSettings().approval) return;
  if (mode === 'auto') {
    const ok = await vscode.window.showWarningMessage(
      'Run every cell the model writes without asking?',
      { modal: true },
      'Run without asking',
    );
    if (ok !== 'Run without asking') return;
  }
  await cfg().update('execution.approval', mode, workspaceTarget());
}

/** Links in model output open only after the user confirms, and only http(s)/mailto; returns a warning for a blocked one. */
export async function openLink(href: string): Promise<string | undefined> {
  let uri: vscode.Uri;
  try {
    uri = vscode.Uri.parse(href, true);
  } catch {
    return undefined;
  }
  if (!['http', 'https', 'mailto'].includes(uri.scheme)) return `Blocked a ${uri.scheme}: link from the model output.`;
  const ok = await vscode.window.showWarningMessage(
    `The model's answer links to:\n${href}\n\nOpen it in your browser?`,
    { modal: true },
    'Open Link',
  );
  if (ok === 'Open Link') await vscode.env.openExternal(uri);
  return undefined;
}

/** The status bar item's picker: model, key, interpreter, kernel, approval, settings. */
export async function chatStatusPicker(): Promise<void> {
  const s = readSettings();
  const items: (vscode.QuickPickItem & { command: string; args?: unknown[] })[] = [
    { label: '$(plug) Connect a Model…', description: s.endpoints.join(', '), command: 'codedance.connectModel' },
    { label: '$(key) Set API Key…', command: 'codedance.setApiKey' },
    { label: '$(symbol-namespace) Pick Python Interpreter…', command: 'codedance.pickInterpreter' },
    {
      label: '$(debug-restart) Restart Kernel',
      detail: 'A fresh kernel; earlier cells re-run before the next question.',
      command: 'codedance.restartKernel',
    },
    s.approval === 'auto'
      ? { label: '$(shield) Ask Before Running Code', description: 'now: runs without asking', command: 'codedance.approval.ask' }
      : { label: '$(run-all) Run Code Without Asking', description: 'now: asks before each cell', command: 'codedance.approval.auto' },
    { label: '$(gear) Open Settings', command: 'workbench.action.openSettings', args: ['codedance'] },
    { label: '$(output) Show Log', command: 'codedance.showLog' },
  ];
  const pick = await vscode.window.showQuickPick(items, { title: 'CodeDance chat' });
  if (pick) await vscode.commands.executeCommand(pick.command, ...(pick.args ?? []));
}

/** What a setup action needs from the chat panel. */
export interface SetupHost {
  connectModel(): Promise<void>;
  pickInterpreter(): Promise<void>;
  dismissWalkthrough(): Promise<void>;
  openWalkthrough(): Promise<void>;
  moveToSideBar(): Promise<void>;
  showEditor(): Promise<void>;
}

/** A button of the panel's setup guide or status line. */
export async function runSetupAction(action: SetupAction, host: SetupHost): Promise<void> {
  switch (action) {
    case 'setEndpoint':
      await setEndpoint();
      return;
    case 'connectModel':
      return host.connectModel();
    case 'setApiKey':
      await vscode.commands.executeCommand('codedance.setApiKey');
      return;
    case 'pickInterpreter':
      return host.pickInterpreter();
    case 'trust':
      await vscode.commands.executeCommand('workbench.trust.manage');
      return;
    case 'openSettings':
      await vscode.commands.executeCommand('workbench.action.openSettings', 'codedance');
      return;
    case 'dismissWalkthrough':
      return host.dismissWalkthrough();
    case 'openWalkthrough':
      return host.openWalkthrough();
    case 'askAboutImage':
      await vscode.commands.executeCommand('codedance.askAboutImage');
      return;
    case 'toggleApproval':
      await setApproval(readSettings().approval === 'always' ? 'auto' : 'always');
      return;
    case 'moveToSideBar':
      return host.moveToSideBar();
    case 'showEditor':
      return host.showEditor();
  }
}
