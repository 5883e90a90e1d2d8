/**
 * Which Python runs the chat's kernels (the setting, else the Python extension's active
 * environment, else python3 / /usr/bin/python3) and kernels started ahead on it (core's
 * `InterpreterPool`), so that a question's first cell does not wait for a kernel start. Only in a
 * trusted workspace: an untrusted one starts nothing. An interpreter change retires the kernels
 * waiting; a conversation's kernel is its holder's to retire after its run.
 * When "CodeDance: Select Kernel" chose a Jupyter server for this workspace (src/extension/kernel),
 * a conversation's kernel is started there instead (core/kernel/remote), one per conversation.
 */
import * as vscode from 'vscode';
import { CodeDanceError } from '../../core/errors';
import { InterpreterPool, resolvePython, type KernelSession, type ResolvedPython } from '../../core/kernel';
import { describeFastPaths, type FastPathReport } from '../../core/kernel/fastPaths';
import { type CellHost, describeSandbox, isSandboxed, localCellHost, remoteCellHost, sandboxLabel } from '../../core/kernel/sandboxNotice';
import type { KernelSource } from '../../core/eval/runner';
import { showError } from '../errors';
import { describeChoice, type KernelChoice, type KernelChoiceStore } from '../kernel/store';
import type { CellsStatus } from '../../protocol/chat';
import { readSettings } from '../settings';

/** settings that change how kernels are started: a change retires the waiting ones */
const KERNEL_SETTINGS = [
  'codedance.execution.sandbox',
  'codedance.execution.network',
  'codedance.execution.memoryLimitMb',
  'codedance.execution.passEnv',
  'codedance.execution.forkedKernels',
];

/** What `KernelService.tuning()` gives a kernel start: sandbox, network, memory limit and passed variables. */
export interface KernelTuning {
  sandbox: 'auto' | 'on' | 'off';
  network: boolean;
  memoryLimitMb?: number;
  passEnv: string[];
  forkedStarts: boolean;
}

/**
 * The interpreter the editor uses for kernels (chat and eval alike): `choice`, the one picked for
 * this workspace with "CodeDance: Select Kernel" (none: the order without the workspace's pick),
 * else the setting, else the Python extension's, else the usual candidates.
 */
export async function resolveEditorPython(opts: { choice?: KernelChoice; log?: vscode.LogOutputChannel } = {}): Promise<ResolvedPython> {
  const picked = opts.choice;
  if (picked?.kind === 'local' && picked.python) {
    const r = await resolvePython({ explicit: picked.python, env: {} });
    return { ...r, reason: `chosen for this workspace with CodeDance: Select Kernel (${r.reason})` };
  }
  const s = readSettings();
  const fromExtension = s.interpreter ? undefined : await pythonExtensionInterpreter(opts.log);
  return resolvePython({ explicit: s.interpreter || undefined, pythonExtension: fromExtension });
}

export class KernelService implements vscode.Disposable {
  private readonly source: InterpreterPool;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly changed = new vscode.EventEmitter<void>();
  /** fires when the interpreter choice may have changed (setting, Python extension) */
  readonly onDidChangePython = this.changed.event;

  /** the last fast-path report logged: each kernel says the same, the log says it once */
  private fastPathsLogged = '';
  private readonly logFastPaths = (r: FastPathReport) => {
    const line = describeFastPaths(r);
    if (line === this.fastPathsLogged) return;
    this.fastPathsLogged = line;
    this.log.info(`kernel: ${line}`);
  };

  constructor(private readonly log: vscode.LogOutputChannel) {
    this.source = new InterpreterPool({
      size: 1,
      resolve: async () => {
        const r = await this.editorPython();
        this.log.info(`chat: python ${r.python} (${r.reason})`);
        return r;
      },
      tuning: () => ({ ...this.tuning(), onFastPaths: this.logFastPaths }),
    });
    this.disposables.push(
      this.changed,
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('codedance.python.interpreter') || KERNEL_SETTINGS.some((k) => e.affectsConfiguration(k)))
          this.invalidate();
      }),
    );
    void this.watchPythonExtension();
  }

  /** the workspace's kernel choice (set when the picker registers), for the editor's eval too */
  private choices: KernelChoiceStore | undefined;
  /** said once a window: cells run unsandboxed because the sandbox is missing */
  private unsandboxedNoticeShown = false;

  /** Where kernels run, per workspace (the kernel picker); a change retires the waiting kernels. */
  useChoices(store: KernelChoiceStore): void {
    this.choices = store;
    this.disposables.push(store.onDidChange(() => this.invalidate()));
  }

  /** Sandbox, network and memory limit from the settings; says once, plainly, when cells run unsandboxed. */
  tuning(): KernelTuning {
    const s = readSettings();
    const host = localCellHost(s.sandbox, s.network);
    const line = describeSandbox(host);
    this.log.info(`kernel: ${line}`);
    // said once when the sandbox is missing; turned off on purpose, the log says it
    if (s.sandbox === 'auto' && !isSandboxed(host) && !this.unsandboxedNoticeShown) {
      this.unsandboxedNoticeShown = true;
      void vscode.window.showWarningMessage(`CodeDance: ${line}`);
    }
    return { sandbox: s.sandbox, network: s.network, memoryLimitMb: s.memoryLimitMb, passEnv: s.passEnv, forkedStarts: s.forkedKernels };
  }

  /** The interpreter the editor uses for kernels (chat, eval, data verify): the workspace's pick first (resolveEditorPython). */
  editorPython(): Promise<ResolvedPython> {
    return resolveEditorPython({ choice: this.choices?.choice, log: this.log });
  }

  /**
   * Kernels for an eval run in the editor: on the Jupyter server chosen with "CodeDance: Select
   * Kernel" (a kernel per sample, shut down when it ends), or undefined for the local pool.
   */
  async evalKernelSource(): Promise<KernelSource | undefined> {
    const c = this.choices?.choice;
    if (c?.kind !== 'remote') return undefined;
    const token = await this.choices!.token(c.url);
    const { startRemoteKernelSession } = await import('../../core/kernel/remote');
    const host = remoteCellHost(c.url);
    this.log.info(`eval: kernels on ${describeChoice(c)}; ${describeSandbox(host)}`);
    return {
      acquire: () => startRemoteKernelSession({ url: c.url, token, kernelName: c.kernelName }),
      dispose: async () => undefined,
      host,
    };
  }

  /** The local interpreter, resolved once (cached until the setting or the Python extension's choice changes). */
  localPython(): Promise<ResolvedPython> {
    return this.source.python();
  }

  /** What runs the chat's code: the local interpreter, the kernelspec on the chosen Jupyter server, or a notebook's kernel. */
  python(): Promise<ResolvedPython> {
    const c = this.choices?.choice;
    if (c?.kind !== 'remote' && c?.kind !== 'notebook') return this.source.python();
    const where = describeChoice(c);
    return Promise.resolve({
      python: where,
      command: where,
      source: 'explicit',
      version: '',
      reason: 'chosen with CodeDance: Select Kernel',
      tried: [],
    });
  }

  /** Where the chat's cells run now: the kernel chosen with Select Kernel, else a local one with the sandbox settings. */
  cellHost(): CellHost {
    const c = this.choices?.choice;
    if (c?.kind === 'remote') return remoteCellHost(c.url);
    if (c?.kind === 'notebook') return { kind: 'notebook', notebook: c.name };
    const s = readSettings();
    return localCellHost(s.sandbox, s.network);
  }

  /** Where the chat's cells run, for the panel's header: a short label and the whole notice. */
  cellsStatus(): CellsStatus {
    const host = this.cellHost();
    return { label: sandboxLabel(host), notice: describeSandbox(host), sandboxed: isSandboxed(host) };
  }

  /** The interpreter may have changed: the waiting kernels go now, handed-out ones after their holder's run. */
  invalidate(): void {
    this.source.invalidate();
    this.changed.fire();
  }

  /** Starts a kernel ahead (trusted workspaces only). Errors are logged; the next acquire reports them. */
  async prewarm(): Promise<void> {
    if (!vscode.workspace.isTrusted || this.choices?.choice.kind === 'remote' || this.choices?.choice.kind === 'notebook') return;
    try {
      await this.source.ensurePool();
    } catch (e) {
      this.log.warn(`chat: no kernel started ahead: ${(e as Error).message}`);
    }
  }

  /** A started kernel for one conversation; the caller owns (disposes) it. */
  async acquire(): Promise<KernelSession> {
    if (!vscode.workspace.isTrusted)
      throw new CodeDanceError('config', 'this workspace is not trusted: CodeDance runs no code here', {
        fix: 'trust the workspace (Workspaces: Manage Workspace Trust) to run code',
      });
    const t0 = performance.now();
    const c = this.choices?.choice;
    if (c?.kind === 'remote') {
      // loaded when first needed: @jupyterlab/services stays out of activation
      const { startRemoteKernelSession } = await import('../../core/kernel/remote');
      const session = await startRemoteKernelSession({
        url: c.url,
        token: await this.choices!.token(c.url),
        kernelName: c.kernelName,
        memoryLimitMb: readSettings().memoryLimitMb,
        onFastPaths: this.logFastPaths,
      });
      this.log.info(
        `chat: kernel ${session.id} (${session.python}) started in ${(performance.now() - t0).toFixed(0)} ms; ${describeSandbox(this.cellHost())}`,
      );
      return session;
    }
    if (c?.kind === 'notebook') {
      const { startNotebookSession } = await import('../kernel/notebookKernels');
      const session = await startNotebookSession(c.uri, c.name, {});
      this.log.info(`chat: ${session.python} ready in ${(performance.now() - t0).toFixed(0)} ms; ${describeSandbox(this.cellHost())}`);
      return session;
    }
    const { session, pool } = await this.source.acquire();
    this.log.info(
      `chat: kernel ${session.id} acquired in ${(performance.now() - t0).toFixed(0)} ms (warm: ${pool.stats.acquiredWarm}/${pool.stats.acquired})`,
    );
    return session;
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
    void this.source.dispose();
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
  const pick = await vscode.window.showQuickPick(items, {
    title: 'CodeDance: Python interpreter for the kernel',
    placeHolder: 'needs ipykernel, Pillow, numpy and matplotlib',
  });
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
    void showError(vscode, e);
  }
}
