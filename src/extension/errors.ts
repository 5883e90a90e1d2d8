/**
 * The extension's side of the one error model: words a CodeDanceError (or its plain-JSON form
 * from an event or a saved trajectory) for VS Code: the fix names the `codedance.*` setting
 * or the command that fixes it, and notifications get buttons that open that setting or run
 * that command. Core never names settings; this file does. No `vscode` import: the UI is
 * passed in, so the wording is unit-tested in plain Node.
 */
import { isCodeDanceError, type ErrorInfo, type SettingKey } from '../core/errors';
import { endpointUrlProblem } from '../core/model/EndpointPool';

/** A notification button: a VS Code command and its arguments. */
export interface ErrorAction {
  title: string;
  command: string;
  args: unknown[];
}

export interface WordedError {
  /** the reason and the fix, with the setting or command named */
  message: string;
  actions: ErrorAction[];
}

/** How each setting key is reached in VS Code: a setting to open, or a command to run. */
const SETTINGS: Record<SettingKey, { setting: string } | { command: string; title: string; label: string } | undefined> = {
  'model.endpoints': { setting: 'codedance.model.endpoints' },
  'model.name': { setting: 'codedance.model.name' },
  'model.apiKey': { command: 'codedance.setApiKey', title: 'Set API Key', label: 'the command "CodeDance: Set API Key"' },
  'model.protocol': { setting: 'codedance.model.protocol' },
  sampling: { setting: 'codedance.sampling' },
  'agent.maxTurns': { setting: 'codedance.agent.maxTurns' },
  'python.interpreter': { setting: 'codedance.python.interpreter' },
  'execution.timeoutSeconds': { setting: 'codedance.execution.timeoutSeconds' },
  'execution.memoryLimitMb': { setting: 'codedance.execution.memoryLimitMb' },
  'kernel.jupyterToken': {
    command: 'codedance.selectKernel',
    title: 'Select Kernel',
    label: 'the command "CodeDance: Select Kernel" → the server → set token',
  },
  'judge.endpoint': { setting: 'codedance.judge.endpoint' },
  'eval.numWorkers': { setting: 'codedance.eval.numWorkers' },
  'eval.savePath': undefined,
  'output.folder': undefined,
  'jobs.clusters': { setting: 'codedance.jobs.clusters' },
  'jobs.token': {
    command: 'codedance.jobs.setClusterSecret',
    title: 'Set Cluster Secret',
    label: 'the command "CodeDance: Set Cluster Secret"',
  },
  'jobs.sshPassphrase': {
    command: 'codedance.jobs.setClusterSecret',
    title: 'Set Cluster Secret',
    label: 'the command "CodeDance: Set Cluster Secret"',
  },
};

function infoOf(e: unknown): Partial<ErrorInfo> {
  if (isCodeDanceError(e)) return e;
  if (e instanceof Error) return { message: e.message };
  if (typeof e === 'object' && e !== null && typeof (e as { message?: unknown }).message === 'string') return e as ErrorInfo;
  return { message: String(e) };
}

/** The message and buttons for an error, worded for VS Code. */
export function wordError(e: unknown): WordedError {
  const info = infoOf(e);
  const fix = info.fix;
  if (!fix || info.reason === undefined) return { message: info.message ?? String(e), actions: [] };
  const target = fix.setting ? SETTINGS[fix.setting] : undefined;
  let text = fix.text;
  const actions: ErrorAction[] = [];
  if (target && 'setting' in target) {
    text += ` (setting ${target.setting}${target.setting === 'codedance.sampling' ? '.*' : ''})`;
    actions.push({ title: 'Open Setting', command: 'workbench.action.openSettings', args: [target.setting] });
  } else if (target) {
    text += ` (${target.label})`;
    actions.push({ title: target.title, command: target.command, args: [] });
  }
  if (fix.command && !text.includes(fix.command)) text += `: ${fix.command}`;
  const sep = info.message?.startsWith(`${info.reason}\nFix: `) ? '\nFix: ' : ' — ';
  return { message: `${info.reason}${sep}${text}`, actions };
}

/** The message alone (for the chat panel, logs, tree items). */
export function errorMessage(e: unknown): string {
  return wordError(e).message;
}

/** What `showError` needs of VS Code: pass the `vscode` module itself. */
export interface ErrorUi {
  window: { showErrorMessage(message: string, ...items: string[]): PromiseLike<string | undefined> };
  commands: { executeCommand(command: string, ...args: unknown[]): PromiseLike<unknown> };
}

/** An error notification, prefixed (e.g. "CodeDance Eval"), with a button per fix action. */
export async function showError(ui: ErrorUi, e: unknown, prefix = 'CodeDance'): Promise<void> {
  const w = wordError(e);
  const picked = await ui.window.showErrorMessage(`${prefix}: ${w.message}`, ...w.actions.map((a) => a.title));
  const action = w.actions.find((a) => a.title === picked);
  if (action) await ui.commands.executeCommand(action.command, ...action.args);
}

/**
 * For an input box of endpoint URLs (comma-separated): why the text cannot be saved (a URL
 * that is not http(s), or one with `user:password@` in it), or undefined when it can.
 */
export function endpointListProblem(text: string): string | undefined {
  const urls = text.split(',').map((u) => u.trim());
  if (!urls.some(Boolean) || !urls.every((u) => /^https?:\/\/\S+$/.test(u)))
    return 'http(s) URLs, comma-separated, e.g. http://127.0.0.1:8000/v1';
  const problem = urls.map((u) => endpointUrlProblem(u)).find((p) => p !== undefined);
  return problem && errorMessage(problem);
}
