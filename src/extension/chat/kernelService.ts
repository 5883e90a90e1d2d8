/**
 * Which Python runs the chat's kernels (the setting, else the Python extension's active
 * environment, else python3 / /usr/bin/python3) and a `KernelPool` that keeps one kernel started
 * ahead, so that a question's first cell does not wait for a kernel start. Only in a trusted
 * workspace: an untrusted one starts nothing.
 */
import * as vscode from 'vscode';
import { KernelPool, resolvePython, type KernelSession, type ResolvedPython } from '../../core/kernel';
import { readSettings } from '../settings';

export class KernelService implements vscode.Disposable {
  private resolved?: Promise<ResolvedPython>;
  private pool?: KernelPool;
  private poolPython?: string;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly changed = new vscode.EventEmitter<void>();
  /** fires when the interpreter choice may have changed (setting, Python extension) */
  readonly onDidChangePython = this.changed.event;

  constructor(private readonly log: vscode.LogOutputChannel) {
    this.disposables.push(
      this.changed,
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('codedance.python.interpreter')) this.invalidate();
      }),
    );
    void this.watchPythonExtension();
  }

  /** The interpreter, resolved once (cached until the setting or the Python extension's choice changes). */
  python(): Promise<ResolvedPython> {
    if (!this.resolved) {
      this.resolved = (async () => {
        const s = readSettings();
        const fromExtension = s.interpreter ? undefined : await pythonExtensionInterpreter(this.log);
        const r = await resolvePython({ explicit: s.interpreter || undefined, pythonExtension: fromExtension });
        this.log.info(`chat: python ${r.python} (${r.reason})`);
        return r;
      })();
      this.resolved.catch(() => (this.resolved = undefined));
    }
    return this.resolved;
  }

  invalidate(): void {
    this.resolved = undefined;
    void this.pool?.dispose();
    this.pool = undefined;
    this.changed.fire();
  }

  /** Starts a kernel ahead (trusted workspaces only). Errors are logged; the next acquire reports them. */
  async prewarm(): Promise<void> {
    if (!vscode.workspace.isTrusted) return;
    try {
      await this.ensurePool();
    } catch (e) {
      this.log.warn(`chat: no kernel started ahead: ${(e as Error).message}`);
    }
  }

  /** A started kernel for one conversation; the caller owns (disposes) it. */
  async acquire(): Promise<KernelSession> {
    if (!vscode.workspace.isTrusted) throw new Error('this workspace is not trusted: CodeDance runs no code here');
    const pool = await this.ensurePool();
    const t0 = performance.now();
    const k = await pool.acquire();
    this.log.info(`chat: kernel ${k.id} acquired in ${(performance.now() - t0).toFixed(0)} ms (warm: ${pool.stats.acquiredWarm}/${pool.stats.acquired})`);
    return k;
  }

  private async ensurePool(): Promise<KernelPool> {
    const py = await this.python();
    if (this.pool && this.poolPython === py.python) return this.pool;
    void this.pool?.dispose();
    this.poolPython = py.python;
    this.pool = new KernelPool({ python: py.python, size: 1 });
    return this.pool;
  }

  private async watchPythonExtension(): Promise<void> {
    try {
      if (!vscode.extensions.getExtension('ms-python.python')) return;
      const { PythonExtension } = await import('@vscode/python-extension');
      const api = await PythonExtension.api();
      this.disposables.push(
        api.environments.onDidChangeActiveEnvironmentPath(() => {
          if (!readSettings().interpreter) this.invalidate();
        }),
      );
    } catch (e) {
      this.log.warn(`chat: Python extension API unavailable: ${(e as Error).message}`);
    }
  }

  dispose(): void {
    void this.pool?.dispose();
    this.pool = undefined;
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

/** The Python extension's active environment for the first workspace folder, if that extension is installed. */
export async function pythonExtensionInterpreter(log?: vscode.LogOutputChannel): Promise<string | undefined> {
  try {
    if (!vscode.extensions.getExtension('ms-python.python')) return undefined;
    const { PythonExtension } = await import('@vscode/python-extension');
    const api = await PythonExtension.api();
    const p = api.environments.getActiveEnvironmentPath(vscode.workspace.workspaceFolders?.[0]?.uri);
    const env = await api.environments.resolveEnvironment(p);
    return env?.executable.uri?.fsPath ?? p.path;
  } catch (e) {
    log?.warn(`chat: could not read the Python extension's interpreter: ${(e as Error).message}`);
    return undefined;
  }
}

/**
 * "Pick interpreter": the Python extension's picker when it is installed (its choice is then
 * used), else a quick pick of the usual interpreters or a file, written to
 * `codedance.python.interpreter`.
 */
export async function pickInterpreter(kernels: KernelService): Promise<void> {
  if (vscode.extensions.getExtension('ms-python.python')) {
    await vscode.commands.executeCommand('python.setInterpreter');
    kernels.invalidate();
    return;
  }
  const items: (vscode.QuickPickItem & { value?: string })[] = [
    { label: 'python3', description: 'python3 on PATH', value: 'python3' },
    { label: '/usr/bin/python3', description: 'the system Python', value: '/usr/bin/python3' },
    { label: 'Browse…', description: 'pick an interpreter file' },
  ];
  const pick = await vscode.window.showQuickPick(items, { title: 'CodeDance: Python interpreter for the kernel', placeHolder: 'needs ipykernel, Pillow, numpy and matplotlib' });
  if (!pick) return;
  let value = pick.value;
  if (!value) {
    const f = await vscode.window.showOpenDialog({ canSelectMany: false, openLabel: 'Use this interpreter' });
    value = f?.[0]?.fsPath;
  }
  if (!value) return;
  try {
    const r = await resolvePython({ explicit: value, env: {} });
    await vscode.workspace.getConfiguration('codedance').update('python.interpreter', value, vscode.ConfigurationTarget.Global);
    void vscode.window.showInformationMessage(`CodeDance: kernels will use ${r.python} (Python ${r.version}).`);
  } catch (e) {
    void vscode.window.showErrorMessage(`CodeDance: ${(e as Error).message}`);
  }
}
