/**
 * The chat panel's adapter over `ConversationSession` (src/core/conversation): it reads the
 * settings and the API key for each run, keeps the attachments, saves history, exports, and posts
 * what the session reports to the webview. The conversation's logic lives in the session.
 */
import path from 'node:path';
import * as vscode from 'vscode';
import type { ApprovalDecision } from '../../core/agent/options';
import { ConversationSession } from '../../core/conversation/ConversationSession';
import { newConversation } from '../../core/conversation/exchanges';
import type { Conversation, SessionEvent } from '../../core/conversation/types';
import { isCodeDanceError } from '../../core/errors';
import { redactSecrets } from '../../core/secrets';
import type { ServedEndpoints } from '../../core/serve';
import type { TrajectoryReference } from '../../core/trajectory/types';
import { sessionMessage } from '../../protocol/panelEvents';
import { exchangeWithReward, withReward } from '../data/chatReward';
import type { ToWebview } from '../../protocol/chat';
import { errorMessage } from '../errors';
import { readSettings } from '../settings';
import { Attachments } from './attachments';
import { exportConversation, openImage, readTrajectoryArg, saveImage } from './chatFiles';
import { HistoryStore, type HistoryDamage } from './historyStore';
import { IMAGE_EXTENSIONS, isImageName } from './images';
import type { KernelService } from './kernelService';
import { RunConfigSource } from './runConfig';

export { API_KEY_SECRET } from './runConfig';

export class ChatController implements vscode.Disposable {
  readonly store: HistoryStore;
  readonly session: ConversationSession;
  private readonly attachments = new Attachments();
  private readonly runConfigs: RunConfigSource;
  /** the ask whose exchange has not started yet: its attachments go when it does */
  private askRun?: string;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly kernels: KernelService,
    private readonly log: vscode.LogOutputChannel,
    private readonly post: (m: ToWebview) => void,
    /** the models served from this window (chat's endpoints when none is configured) */
    private readonly served: ServedEndpoints,
  ) {
    this.store = new HistoryStore(this.storage.fsPath, (d) => this.historyDamaged(d));
    this.runConfigs = new RunConfigSource(context.secrets, served);
    this.session = new ConversationSession({
      acquireKernel: async () => {
        try {
          return await kernels.acquire();
        } catch (e) {
          if (isCodeDanceError(e)) throw e; // keeps its kind (python-env, kernel) and fix for the wording
          throw new Error(`No Python kernel: ${(e as Error).message}`);
        }
      },
      runConfig: (signal) => this.runConfigs.read(signal),
      emit: (e) => this.onSessionEvent(e),
      save: (c) => this.save(c),
    });
  }

  private get storage(): vscode.Uri {
    return this.context.storageUri ?? this.context.globalStorageUri;
  }

  get conversation(): Conversation {
    return this.session.conversation;
  }

  get running(): boolean {
    return this.session.running;
  }

  /** Everything the panel needs after a (re)load. */
  async sync(): Promise<void> {
    this.postConversation(this.conversation);
    await this.syncState();
  }

  /** The panel's state around the conversation (the session posts the conversation itself when it changes). */
  private async syncState(): Promise<void> {
    this.post({ type: 'attachments', items: this.attachments.view() });
    this.post({ type: 'kernel', state: this.session.kernelState });
    this.post({ type: 'running', running: this.running });
    await this.history();
  }

  private postConversation(c: Conversation): void {
    this.post({ type: 'conversation', id: c.id, title: c.title, exchanges: c.exchanges.map(exchangeWithReward) });
  }

  private onSessionEvent(e: SessionEvent): void {
    if (e.type === 'exchangeStart' && e.runId === this.askRun) {
      this.askRun = undefined;
      this.attachments.clear();
      this.post({ type: 'attachments', items: [] });
    }
    if (e.type === 'event' && e.event.type === 'error')
      this.log.error(`chat: ${e.event.error.name}: ${redactSecrets(e.event.error.message)}`);
    if (e.type === 'event' && e.event.type === 'done') {
      const t = e.event.trajectory;
      this.log.info(`chat: question ${e.index + 1} ${t.status} in ${t.durationMs} ms, ${t.usage.totalTokens} tokens`);
    }
    // an error is worded for VS Code here (its fix names the setting or command; core names neither)
    const m = sessionMessage(
      e.type === 'event' && e.event.type === 'error'
        ? { ...e, event: { ...e.event, error: { ...e.event.error, message: errorMessage(e.event.error) } } }
        : e,
    );
    if (m) this.post(withReward(m, e));
  }

  /** Throws why nothing can run now (the panel shows it). */
  private checkCanRun(): void {
    let why: string | undefined;
    if (!vscode.workspace.isTrusted)
      why = 'This workspace is not trusted, so CodeDance runs no code here. Trust the workspace to ask questions.';
    else if (this.running) why = 'A question is running: stop it first.';
    else if (!readSettings().endpoints.length && !this.served.policy())
      why = 'No model endpoint is set: set codedance.model.endpoints (or use "Set endpoint…").';
    if (why) throw new Error(why);
  }

  // ----- runs (each streams under the id of the request that started it) -----

  /** `reference`: the question's known correct answer (a dataset row's), for the answer's training reward */
  async ask(question: string, run: string, reference?: TrajectoryReference): Promise<void> {
    this.log.info(`chat: question ${this.conversation.exchanges.length + 1} asked (${question.length} characters)`);
    this.checkCanRun();
    this.askRun = run;
    try {
      await this.session.ask(question, this.attachments.data(), run, reference);
    } finally {
      this.askRun = undefined; // a kernel that did not start keeps the attachments for the next try
    }
  }

  async retry(run: string): Promise<void> {
    if (!this.conversation.exchanges.length) return;
    this.checkCanRun();
    await this.session.retry(run);
  }

  async fork(index: number, cellId: string, code: string, run: string): Promise<void> {
    this.checkCanRun();
    await this.session.fork(index, cellId, code, run);
  }

  stop(): void {
    if (this.running) this.log.info('chat: stop requested');
    this.session.stop();
  }

  answerApproval(run: string, cellId: string, reply: ApprovalDecision): void {
    this.session.answerApproval(run, cellId, reply);
  }

  answerRestore(run: string, accept: boolean): void {
    this.session.answerRestore(run, accept);
  }

  async restartKernel(): Promise<void> {
    try {
      await this.session.restartKernel();
      this.post({
        type: 'notice',
        level: 'info',
        text: 'Kernel restarted: variables of earlier cells are rebuilt before the next question.',
      });
    } catch (e) {
      this.post({ type: 'notice', level: 'error', text: `Kernel restart failed: ${errorMessage(e)}` });
    }
  }

  // ----- attachments -----

  async attachFiles(uris: vscode.Uri[], focus = false): Promise<void> {
    for (const uri of uris) {
      const name = path.basename(uri.path);
      if (!isImageName(name)) {
        void vscode.window.showErrorMessage(`CodeDance: ${name} is not an image. Pick a ${IMAGE_EXTENSIONS.join(', ')} file.`);
        continue;
      }
      try {
        this.attach(name, await vscode.workspace.fs.readFile(uri));
      } catch (e) {
        void vscode.window.showErrorMessage(`CodeDance: cannot read ${name}: ${(e as Error).message}`);
      }
    }
    this.post({ type: 'attachments', items: this.attachments.view(), focus });
  }

  attachData(name: string, data: Uint8Array): void {
    this.attach(name, data);
    this.post({ type: 'attachments', items: this.attachments.view(), focus: true });
  }

  private attach(name: string, data: Uint8Array): void {
    const refused = this.attachments.add(name, data);
    if (refused) void vscode.window.showErrorMessage(`CodeDance: ${refused}`);
  }

  removeAttachment(id: string): void {
    this.attachments.remove(id);
    this.post({ type: 'attachments', items: this.attachments.view() });
  }

  // ----- conversations -----

  async newChat(): Promise<void> {
    this.session.load(newConversation());
    await this.syncState();
    this.post({ type: 'focusInput' });
    void this.kernels.prewarm();
  }

  private async save(c: Conversation): Promise<void> {
    if (!c.exchanges.length) return;
    try {
      await this.store.save(c);
      await this.history();
    } catch (e) {
      // the conversation stays on screen; the user learns it is not in History
      this.log.error(`chat: saving the conversation failed: ${(e as Error).message}`);
      this.post({ type: 'notice', level: 'error', text: `This conversation could not be saved to History: ${errorMessage(e)}` });
    }
  }

  /** A damaged history file the store kept aside: the log and the panel say which, and where it went. */
  private historyDamaged(d: HistoryDamage): void {
    const what = d.what === 'index' ? 'The chat history index' : `Saved conversation ${d.title ? `"${d.title}"` : d.id}`;
    const after = d.what === 'index' ? 'History was rebuilt from the conversation folders.' : 'It is left out of History.';
    this.log.warn(`chat: ${what} could not be read (${d.reason}); kept as ${d.keptAs}`);
    this.post({ type: 'notice', level: 'warning', text: `${what} was damaged (${d.reason}) and was kept as ${d.keptAs}. ${after}` });
  }

  async open(id: string): Promise<void> {
    let c: Conversation;
    try {
      c = await this.store.load(id);
    } catch (e) {
      throw new Error(`Cannot open that conversation: ${(e as Error).message}`);
    }
    this.session.load(c);
    await this.syncState();
  }

  /** Opens a trajectory (a file path or the object) as a conversation of its own, e.g. from the eval report. */
  async openTrajectory(arg: unknown): Promise<void> {
    const t = await readTrajectoryArg(arg);
    const c = newConversation(t.question.split('\n')[0].slice(0, 80));
    c.exchanges = [t];
    this.session.load(c);
    await this.syncState();
  }

  async rename(id: string): Promise<void> {
    const items = await this.store.list();
    const cur = id === this.conversation.id ? this.conversation.title : items.find((x) => x.id === id)?.title;
    const title = await vscode.window.showInputBox({
      title: 'Rename conversation',
      value: cur ?? '',
      validateInput: (v) => (v.trim() ? undefined : 'a name, please'),
    });
    if (!title) return;
    if (id === this.conversation.id) {
      this.conversation.title = title.trim();
      await this.save(this.conversation);
    } else await this.store.rename(id, title.trim());
    await this.history();
  }

  async delete(id: string): Promise<void> {
    const title = (await this.store.list()).find((x) => x.id === id)?.title ?? 'this conversation';
    const ok = await vscode.window.showWarningMessage(`Delete "${title}" and its images?`, { modal: true }, 'Delete');
    if (ok !== 'Delete') return;
    await this.store.delete(id);
    if (id === this.conversation.id) await this.newChat();
    else await this.history();
  }

  async history(): Promise<void> {
    this.post({ type: 'history', items: await this.store.list(), activeId: this.conversation.id });
  }

  // ----- images and export -----

  openImage(index: number, imageId: string, column?: vscode.ViewColumn): Promise<void> {
    return openImage(this.storage, this.conversation, index, imageId, column);
  }

  saveImage(index: number, imageId: string): Promise<void> {
    return saveImage(this.conversation, index, imageId);
  }

  async export(format: 'ipynb' | 'markdown'): Promise<void> {
    const done = await exportConversation(this.conversation, format);
    if (done) this.post({ type: 'notice', level: 'info', text: done });
  }

  dispose(): void {
    this.session.dispose();
  }
}
