/**
 * The Python extension's environments (ms-python.python, `@vscode/python-extension`:
 * `environments.known`, `resolveEnvironment`), offered by "CodeDance: Select Kernel" as local
 * interpreters. Nothing when the extension is not installed.
 */
import type { Environment, PythonExtension } from '@vscode/python-extension';
import * as vscode from 'vscode';

export const PYTHON_EXTENSION_ID = 'ms-python.python';

export interface PythonEnvironmentItem {
  /** the interpreter's path */
  python: string;
  /** "Python 3.11.2", with the environment's name when it has one */
  label: string;
}

function versionText(v: { major?: number; minor?: number; micro?: number } | undefined): string {
  return v && typeof v.major === 'number'
    ? `Python ${[v.major, v.minor, v.micro].filter((n) => typeof n === 'number' && n >= 0).join('.')}`
    : 'Python';
}

/** The known environments (resolved where the extension has not yet), the active one first. */
export async function listPythonEnvironments(log?: vscode.LogOutputChannel): Promise<PythonEnvironmentItem[]> {
  if (!vscode.extensions.getExtension(PYTHON_EXTENSION_ID)) return [];
  try {
    const { PythonExtension } = await import('@vscode/python-extension');
    const api = await PythonExtension.api();
    const active = api.environments.getActiveEnvironmentPath(vscode.workspace.workspaceFolders?.[0]?.uri);
    const out: PythonEnvironmentItem[] = [];
    const seen = new Set<string>();
    const known = [...api.environments.known].sort((a, b) => Number(b.id === active.id) - Number(a.id === active.id));
    for (const env of known) {
      const item = await environmentItem(api, env, env.id === active.id);
      if (!item || seen.has(item.python)) continue;
      seen.add(item.python);
      out.push(item);
    }
    return out;
  } catch (e) {
    log?.warn(`kernel picker: the Python extension's environments are not available: ${(e as Error).message}`);
    return [];
  }
}

/** One environment as offered: its interpreter (resolved when the extension has not yet) and its label; undefined without a path. */
async function environmentItem(api: PythonExtension, env: Environment, active: boolean): Promise<PythonEnvironmentItem | undefined> {
  // an environment the Python extension cannot resolve (deleted, broken) falls back to its listed path below
  const resolved = env.executable.uri ? env : await api.environments.resolveEnvironment(env).catch(() => undefined);
  const python = resolved?.executable.uri?.fsPath ?? env.path;
  if (!python) return undefined;
  const name = resolved?.environment?.name ?? env.environment?.name;
  return { python, label: `${versionText(resolved?.version ?? env.version)}${name ? ` (${name})` : ''}${active ? ' · active' : ''}` };
}
