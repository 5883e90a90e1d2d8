/**
 * The chat panel's setup state (`PanelState`, the panel's `init` message): the endpoint and model
 * in use, trust, the approval mode, whether an API key is set, the Python check, and whether the
 * first-run walkthrough shows.
 */
import * as vscode from 'vscode';
import type { ServedEndpoints } from '../../core/serve';
import type { PanelState, PythonStatus } from '../../protocol/chat';
import { errorMessage } from '../errors';
import { servedEndpointLine } from '../serve/servedModels';
import { readSettings } from '../settings';
import type { KernelService } from './kernelService';
import { API_KEY_SECRET } from './runConfig';

const WALKTHROUGH_DISMISSED = 'codedance.walkthroughDismissed';

export class PanelStateSource {
  private python: PythonStatus = { state: 'checking' };

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly kernels: KernelService,
    private readonly served: ServedEndpoints,
    /** the state changed: send it (`current()`) to the panel */
    private readonly changed: () => void,
  ) {}

  async current(): Promise<PanelState> {
    const s = readSettings();
    const run = servedEndpointLine(s.endpoints, s.model, this.served);
    const key = await this.context.secrets.get(API_KEY_SECRET);
    return {
      endpoint: run.endpoint,
      model: run.model,
      protocol: s.protocol,
      trusted: vscode.workspace.isTrusted,
      approval: s.approval,
      hasApiKey: !!key,
      python: this.python,
      walkthrough: !this.context.globalState.get<boolean>(WALKTHROUGH_DISMISSED, false),
    };
  }

  /** Finds the interpreter (or why there is none), saying `checking` meanwhile. */
  async checkPython(): Promise<void> {
    if (!vscode.workspace.isTrusted) {
      this.python = { state: 'missing', message: 'not checked: the workspace is not trusted' };
      this.changed();
      return;
    }
    this.python = { state: 'checking' };
    this.changed();
    try {
      const r = await this.kernels.python();
      this.python = { state: 'ok', python: r.python, version: r.version, reason: r.reason, cells: this.kernels.cellsStatus() };
    } catch (e) {
      this.python = { state: 'missing', message: errorMessage(e) };
    }
    this.changed();
  }

  async dismissWalkthrough(): Promise<void> {
    await this.context.globalState.update(WALKTHROUGH_DISMISSED, true);
    this.changed();
  }
}
