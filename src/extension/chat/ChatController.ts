/**
 * The chat's state and actions, without the webview plumbing: the conversation, its kernel, the
 * run in progress (Stop), approvals, attachments, Retry, Edit & re-run (fork), history and export.
 * It drives `runAgent` and forwards its event stream to the panel as it is.
 */
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import type { AgentEvent } from '../../core/agent/events';
import { replayCode, runAgent, type AgentOptions, type ApprovalDecision, type ResumeOptions } from '../../core/agent/runAgent';
import type { KernelSession } from '../../core/kernel';
import { createChatModel, redactSecrets, resolveModelName } from '../../core/model';
import { getProtocol, isProtocolId, templateHash } from '../../core/protocol';
import type { Trajectory, TrajectoryImage } from '../../core/trajectory/types';
import type { ApprovalReply, Attachment, ExchangeView, PanelKernelState, ToWebview } from '../../webview/protocol';
import { readSettings } from '../settings';
import { conversationNotebook, writeMarkdownExport } from './exportConversation';
import { HistoryStore, newConversation, type Conversation } from './historyStore';
import type { KernelService } from './kernelService';

export const API_KEY_SECRET = 'codedance.apiKey';
export const IMAGE_EXTENSIONS = ['png', 'jpg', 'jpeg', 'webp', 'gif', 'bmp'];
const MIME: Record<string, string> = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', webp: 'image/webp', gif: 'image/gif', bmp: 'image/bmp' };
const MAX_IMAGE_BYTES = 50 * 1024 * 1024;

interface PendingAttachment extends Attachment {
  data: Uint8Array;
}

export function isImageName(name: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(name).slice(1).toLowerCase());
}

/** PNG/JPEG/GIF/BMP/WebP by their magic bytes (the file name can lie). */
export function sniffImage(b: Uint8Array): string | undefined {
  const s = (i: number, str: string) => [...str].every((c, k) => b[i + k] === c.charCodeAt(0));
  if (b[0] === 0x89 && s(1, 'PNG')) return 'image/png';
  if (b[0] === 0xff && b[1] === 0xd8) return 'image/jpeg';
  if (s(0, 'GIF8')) return 'image/gif';
  if (s(0, 'BM')) return 'image/bmp';
  if (s(0, 'RIFF') && s(8, 'WEBP')) return 'image/webp';
  return undefined;
}

/** width × height from the header, for PNG/GIF/JPEG (best effort, for the thumbnail caption). */
export function imageSize(b: Uint8Array): { width: number; height: number } | undefined {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  try {
    if (b[0] === 0x89) return { width: dv.getUint32(16), height: dv.getUint32(20) };
    if (b[0] === 0x47) return { width: dv.getUint16(6, true), height: dv.getUint16(8, true) };
    if (b[0] === 0xff && b[1] === 0xd8) {
      let i = 2;
      while (i < b.length) {
        if (b[i] !== 0xff) return undefined;
        const marker = b[i + 1];
        const len = dv.getUint16(i + 2);
        if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) return { height: dv.getUint16(i + 5), width: dv.getUint16(i + 7) };
        i += 2 + len;
      }
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/** The exchange as the panel gets it: no model messages (they can be large and are not shown). */
export function exchangeView(t: Trajectory): ExchangeView {
  const { messages: _messages, ...rest } = t;
  return rest as ExchangeView;
}

export class ChatController implements vscode.Disposable {
  conversation: Conversation = newConversation();
  private kernel?: KernelSession;
  /** the kernel holds the conversation's state (false: a fresh kernel that needs the earlier code replayed) */
  private kernelInSync = true;
  private kernelState: PanelKernelState = 'none';
  private kernelUnsub?: () => void;
  private run?: AbortController;
  private readonly approvals = new Map<string, (r: ApprovalReply) => void>();
  private attachments: PendingAttachment[] = [];
  private modelNames = new Map<string, string>();
  readonly store: HistoryStore;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly kernels: KernelService,
    private readonly log: vscode.LogOutputChannel,
    private readonly post: (m: ToWebview) => void,
  ) {
    this.store = new HistoryStore((context.storageUri ?? context.globalStorageUri).fsPath);
  }

  get running(): boolean {
    return this.run !== undefined;
  }

  // -------------------------------------------------------------------------------------------
  // panel sync
  // -------------------------------------------------------------------------------------------

  /** Everything the panel needs after a (re)load. */
  async sync(): Promise<void> {
    this.postConversation();
    this.post({ type: 'attachments', items: this.attachments.map(strip) });
    this.post({ type: 'kernel', state: this.kernelState });
    this.post({ type: 'running', running: this.running });
    this.post({ type: 'history', items: await this.store.list(), activeId: this.conversation.id });
  }

  private postConversation(): void {
    this.post({ type: 'conversation', id: this.conversation.id, title: this.conversation.title, exchanges: this.conversation.exchanges.map(exchangeView) });
  }

  private setKernelState(s: PanelKernelState): void {
    this.kernelState = s;
    this.post({ type: 'kernel', state: s });
  }

  // -------------------------------------------------------------------------------------------
  // attachments
  // -------------------------------------------------------------------------------------------

  async attachFiles(uris: vscode.Uri[], focus = false): Promise<void> {
    for (const uri of uris) {
      const name = path.basename(uri.path);
      if (!isImageName(name)) {
        void vscode.window.showErrorMessage(`CodeDance: ${name} is not an image. Pick a ${IMAGE_EXTENSIONS.join(', ')} file.`);
        continue;
      }
      let data: Uint8Array;
      try {
        data = await vscode.workspace.fs.readFile(uri);
      } catch (e) {
        void vscode.window.showErrorMessage(`CodeDance: cannot read ${name}: ${(e as Error).message}`);
        continue;
      }
      this.addAttachment(name, data);
    }
    this.post({ type: 'attachments', items: this.attachments.map(strip), focus });
  }

  attachData(name: string, data: Uint8Array): void {
    this.addAttachment(name, data);
    this.post({ type: 'attachments', items: this.attachments.map(strip), focus: true });
  }

  private addAttachment(name: string, data: Uint8Array): void {
    const mime = sniffImage(data);
    if (!mime) {
      void vscode.window.showErrorMessage(`CodeDance: ${name} is not a readable image (not PNG, JPEG, GIF, BMP or WebP data).`);
      return;
    }
    if (data.byteLength > MAX_IMAGE_BYTES) {
      void vscode.window.showErrorMessage(`CodeDance: ${name} is larger than ${MAX_IMAGE_BYTES / 1024 / 1024} MB.`);
      return;
    }
    const size = imageSize(data);
    this.attachments.push({ id: randomUUID(), name, mime, bytes: data.byteLength, ...size, thumb: `data:${mime};base64,${Buffer.from(data).toString('base64')}`, data });
  }

  removeAttachment(id: string): void {
    this.attachments = this.attachments.filter((a) => a.id !== id);
    this.post({ type: 'attachments', items: this.attachments.map(strip) });
  }

  // -------------------------------------------------------------------------------------------
  // runs
  // -------------------------------------------------------------------------------------------

  /** Why nothing can run now, or undefined. */
  private refusal(): string | undefined {
    if (!vscode.workspace.isTrusted) return 'This workspace is not trusted, so CodeDance runs no code here. Trust the workspace to ask questions.';
    if (this.running) return 'A question is running: stop it first.';
    if (!readSettings().endpoints.length) return 'No model endpoint is set: set codedance.model.endpoints (or use "Set endpoint…").';
    return undefined;
  }

  async ask(question: string): Promise<void> {
    const why = this.refusal();
    if (why) {
      this.post({ type: 'notice', level: 'error', text: why });
      return;
    }
    const previous = this.conversation.exchanges.at(-1);
    const index = this.conversation.exchanges.length;
    const kernel = await this.startRun();
    if (!kernel) return; // attachments stay for the next try
    const images = this.attachments.map((a) => a.data);
    this.attachments = [];
    this.post({ type: 'attachments', items: [] });
    if (!this.conversation.title) this.conversation.title = question.split('\n')[0].slice(0, 80);
    if (!this.kernelInSync && previous) await this.rebuildKernelState(kernel, this.conversation.exchanges, images.length === 0);
    this.kernelInSync = true;
    this.post({ type: 'exchangeStart', index, question, images: images.map((d) => ({ mime: sniffImage(d) ?? 'image/png', data: Buffer.from(d).toString('base64') })) });
    await this.execute(index, question, images, kernel, { history: previous?.messages });
  }

  /** Retry: redo the last model call of the last question (same kernel, its state kept). */
  async retry(): Promise<void> {
    const last = this.conversation.exchanges.at(-1);
    if (!last) return;
    const why = this.refusal();
    if (why) {
      this.post({ type: 'notice', level: 'error', text: why });
      return;
    }
    const index = this.conversation.exchanges.length - 1;
    const lastMsg = last.messages.at(-1);
    const turn = last.turns.length === 0 ? 0 : last.status === 'answered' || lastMsg?.role === 'assistant' ? last.turns.length - 1 : last.turns.length;
    const kernel = await this.startRun();
    if (!kernel) return;
    const inSync = this.kernelInSync;
    if (!inSync) await this.rebuildKernelState(kernel, this.conversation.exchanges.slice(0, index), last.inputImages.length === 0);
    this.kernelInSync = true;
    this.post({ type: 'exchangeStart', index, question: last.question, images: last.inputImages, replace: true });
    await this.execute(index, last.question, [], kernel, { resume: { from: last, turn, replayKernel: !inSync } });
  }

  /** Edit & re-run: a new conversation (the original stays in history) from the edited cell on. */
  async fork(index: number, cellId: string, code: string): Promise<void> {
    const src = this.conversation.exchanges[index];
    const turn = src?.turns.findIndex((t) => t.cells.some((c) => c.id === cellId));
    if (!src || turn === undefined || turn < 0) {
      this.post({ type: 'notice', level: 'error', text: `Cell ${cellId} is not part of this conversation.` });
      return;
    }
    const why = this.refusal();
    if (why) {
      this.post({ type: 'notice', level: 'error', text: why });
      return;
    }
    // the fork is a new conversation holding the exchanges before `index`; the original is saved as it is
    await this.save();
    const forked = newConversation(`${this.conversation.title || 'conversation'} (edited)`);
    forked.exchanges = this.conversation.exchanges.slice(0, index);
    this.conversation = forked;
    this.disposeKernel();
    this.postConversation();
    const kernel = await this.startRun();
    if (!kernel) return;
    await this.rebuildKernelState(kernel, forked.exchanges, src.inputImages.length === 0);
    this.kernelInSync = true;
    this.post({ type: 'exchangeStart', index, question: src.question, images: src.inputImages });
    const resume: ResumeOptions = { from: src, turn, edits: { [cellId]: code }, replayKernel: true };
    await this.execute(index, src.question, [], kernel, { resume });
  }

  stop(): void {
    if (!this.run) return;
    this.log.info('chat: stop requested');
    this.run.abort(new Error('stopped by the user'));
    for (const resolve of this.approvals.values()) resolve({ action: 'skip' });
    this.approvals.clear();
    this.post({ type: 'approvalDone', requestId: '*' });
  }

  answerApproval(requestId: string, reply: ApprovalReply): void {
    const resolve = this.approvals.get(requestId);
    if (!resolve) return;
    this.approvals.delete(requestId);
    resolve(reply);
  }

  /** Marks the run started and gets the conversation's kernel (starting one if needed). */
  private async startRun(): Promise<KernelSession | undefined> {
    this.run = new AbortController();
    this.post({ type: 'running', running: true });
    try {
      return await this.ensureKernel();
    } catch (e) {
      this.run = undefined;
      this.post({ type: 'running', running: false });
      const msg = `No Python kernel: ${(e as Error).message}`;
      this.log.error(`chat: ${msg}`);
      this.post({ type: 'notice', level: 'error', text: msg });
      return undefined;
    }
  }

  private async ensureKernel(): Promise<KernelSession> {
    if (this.kernel && this.kernel.state !== 'disposed' && this.kernel.state !== 'dead') return this.kernel;
    this.disposeKernel();
    this.setKernelState('starting');
    try {
      const k = await this.kernels.acquire();
      this.kernel = k;
      this.kernelInSync = this.conversation.exchanges.length === 0;
      this.kernelUnsub = k.onStateChange((s) => this.setKernelState(s));
      this.setKernelState(k.state);
      return k;
    } catch (e) {
      this.setKernelState('none');
      throw e;
    }
  }

  private disposeKernel(): void {
    this.kernelUnsub?.();
    this.kernelUnsub = undefined;
    if (this.kernel) void this.kernel.dispose();
    this.kernel = undefined;
    this.kernelInSync = this.conversation.exchanges.length === 0;
    this.setKernelState('none');
  }

  async restartKernel(): Promise<void> {
    if (this.running) this.stop();
    this.disposeKernel();
    try {
      await this.ensureKernel();
      this.post({ type: 'notice', level: 'info', text: 'Kernel restarted: variables of earlier cells are rebuilt before the next question.' });
    } catch (e) {
      this.post({ type: 'notice', level: 'error', text: `Kernel restart failed: ${(e as Error).message}` });
    }
  }

  /** A fresh kernel gets the conversation's earlier state: its images bound and its code run again. */
  private async rebuildKernelState(kernel: KernelSession, exchanges: Trajectory[], bindLastImages: boolean): Promise<void> {
    if (!exchanges.length) return;
    const protocol = getProtocol(isProtocolId(exchanges[0].protocol) ? exchanges[0].protocol : undefined);
    const signal = this.run?.signal ?? new AbortController().signal;
    try {
      for (const x of exchanges) {
        if (x.inputImages.length) await kernel.setInputImages(x.inputImages.map(bytesOf), protocol.imagePreparation);
        await replayCode(kernel, x.turns.flatMap((t) => t.cells.filter((c) => c.status === 'ok').map((c) => c.code)), readSettings().timeoutSeconds * 1000, signal);
      }
      if (bindLastImages) {
        const withImages = [...exchanges].reverse().find((x) => x.inputImages.length);
        if (withImages) await kernel.setInputImages(withImages.inputImages.map(bytesOf), protocol.imagePreparation);
      }
    } catch (e) {
      this.log.warn(`chat: replaying earlier cells failed: ${(e as Error).message}`);
    }
  }

  private async execute(index: number, question: string, images: Uint8Array[], kernel: KernelSession, extra: Partial<AgentOptions>): Promise<void> {
    const ctrl = this.run!;
    const s = readSettings();
    const t0 = Date.now();
    let trajectory: Trajectory | undefined;
    try {
      const apiKey = await this.context.secrets.get(API_KEY_SECRET);
      const model = createChatModel({ endpoints: s.endpoints, apiKey: apiKey || undefined });
      const protocol = getProtocol(isProtocolId(s.protocol) ? s.protocol : undefined);
      const key = s.endpoints.join(',');
      let modelName = s.model || this.modelNames.get(key);
      if (!modelName) {
        modelName = await resolveModelName(model, { signal: ctrl.signal });
        this.modelNames.set(key, modelName);
      }
      const approve = s.approval === 'always' ? (req: { turn: number; cell: { id: string; code: string } }) => this.askApproval(index, req.cell.id, req.cell.code) : undefined;
      const events = runAgent(question, images, {
        model,
        modelName,
        protocol,
        kernel,
        endpoints: s.endpoints,
        protocolTemplateHash: templateHash(protocol),
        maxTurns: s.maxTurns,
        timeoutMs: s.timeoutSeconds * 1000,
        sampling: { temperature: s.temperature, top_p: s.topP, max_tokens: s.maxTokens },
        signal: ctrl.signal,
        approve,
        ...extra,
      });
      for await (const e of events) {
        this.forward(index, e);
        if (e.type === 'done') trajectory = e.trajectory;
      }
    } catch (e) {
      const error = { name: (e as Error).name || 'Error', message: redactSecrets((e as Error).message ?? String(e)) };
      this.log.error(`chat: ${error.name}: ${error.message}`);
      this.post({ type: 'event', index, event: { type: 'error', error, fatal: true } });
      trajectory ??= failedTrajectory(question, images, error, ctrl.signal.aborted, Date.now() - t0, extra.resume?.from);
      this.post({ type: 'event', index, event: { type: 'done', trajectory: { ...trajectory, messages: [] } } });
    } finally {
      this.run = undefined;
      for (const resolve of this.approvals.values()) resolve({ action: 'skip' });
      this.approvals.clear();
      this.post({ type: 'running', running: false });
    }
    if (trajectory) {
      this.conversation.exchanges[index] = trajectory;
      this.conversation.exchanges.length = index + 1;
      this.conversation.updatedAt = new Date().toISOString();
      this.log.info(`chat: question ${index + 1} ${trajectory.status} in ${trajectory.durationMs} ms, ${trajectory.usage.totalTokens} tokens`);
      await this.save();
    }
  }

  private forward(index: number, e: AgentEvent): void {
    if (e.type === 'done') {
      this.post({ type: 'event', index, event: { type: 'done', trajectory: { ...e.trajectory, messages: [] } } });
      return;
    }
    if (e.type === 'observation') return; // model-side messages: not shown
    if (e.type === 'error') this.log.error(`chat: ${e.error.name}: ${redactSecrets(e.error.message)}`);
    this.post({ type: 'event', index, event: e });
  }

  private askApproval(index: number, cellId: string, code: string): Promise<ApprovalDecision> {
    const requestId = randomUUID();
    return new Promise<ApprovalDecision>((resolve) => {
      this.approvals.set(requestId, (r) => {
        this.post({ type: 'approvalDone', requestId });
        resolve(r);
      });
      this.post({ type: 'approval', requestId, index, cellId, code });
    });
  }

  // -------------------------------------------------------------------------------------------
  // conversations
  // -------------------------------------------------------------------------------------------

  async newChat(): Promise<void> {
    if (this.running) this.stop();
    this.conversation = newConversation();
    this.disposeKernel();
    this.kernelInSync = true;
    await this.sync();
    this.post({ type: 'focusInput' });
    void this.kernels.prewarm();
  }

  async save(): Promise<void> {
    if (!this.conversation.exchanges.length) return;
    try {
      await this.store.save(this.conversation);
      this.post({ type: 'history', items: await this.store.list(), activeId: this.conversation.id });
    } catch (e) {
      this.log.error(`chat: saving the conversation failed: ${(e as Error).message}`);
    }
  }

  async open(id: string): Promise<void> {
    if (this.running) this.stop();
    try {
      this.conversation = await this.store.load(id);
    } catch (e) {
      this.post({ type: 'notice', level: 'error', text: `Cannot open that conversation: ${(e as Error).message}` });
      return;
    }
    this.disposeKernel();
    await this.sync();
  }

  /** Opens a trajectory (a file path or the object) as a conversation of its own, e.g. from the eval report. */
  async openTrajectory(arg: unknown): Promise<void> {
    let t: Trajectory;
    if (typeof arg === 'string' || arg instanceof vscode.Uri) {
      const file = typeof arg === 'string' ? arg : arg.fsPath;
      t = JSON.parse(await fs.readFile(file, 'utf8')) as Trajectory;
    } else t = arg as Trajectory;
    if (!t || typeof t !== 'object' || !Array.isArray(t.turns) || typeof t.question !== 'string') throw new Error('not a CodeDance trajectory (expects question, turns, …)');
    t.messages ??= [];
    t.inputImages ??= [];
    t.usage ??= { promptTokens: 0, completionTokens: 0, totalTokens: 0 };
    if (this.running) this.stop();
    this.conversation = newConversation(t.question.split('\n')[0].slice(0, 80));
    this.conversation.exchanges = [t];
    this.disposeKernel();
    await this.sync();
  }

  async rename(id: string): Promise<void> {
    const items = await this.store.list();
    const cur = id === this.conversation.id ? this.conversation.title : items.find((x) => x.id === id)?.title;
    const title = await vscode.window.showInputBox({ title: 'Rename conversation', value: cur ?? '', validateInput: (v) => (v.trim() ? undefined : 'a name, please') });
    if (!title) return;
    if (id === this.conversation.id) {
      this.conversation.title = title.trim();
      await this.save();
    } else await this.store.rename(id, title.trim());
    this.post({ type: 'history', items: await this.store.list(), activeId: this.conversation.id });
  }

  async delete(id: string): Promise<void> {
    const items = await this.store.list();
    const title = items.find((x) => x.id === id)?.title ?? 'this conversation';
    const ok = await vscode.window.showWarningMessage(`Delete "${title}" and its images?`, { modal: true }, 'Delete');
    if (ok !== 'Delete') return;
    await this.store.delete(id);
    if (id === this.conversation.id) await this.newChat();
    else this.post({ type: 'history', items: await this.store.list(), activeId: this.conversation.id });
  }

  async history(): Promise<void> {
    this.post({ type: 'history', items: await this.store.list(), activeId: this.conversation.id });
  }

  // -------------------------------------------------------------------------------------------
  // images, code, export
  // -------------------------------------------------------------------------------------------

  private findImage(index: number, imageId: string): TrajectoryImage | undefined {
    const t = this.conversation.exchanges[index];
    if (!t) return undefined;
    return t.inputImages.find((i) => i.id === imageId) ?? t.turns.flatMap((x) => x.cells.flatMap((c) => c.images)).find((i) => i.id === imageId);
  }

  /** Full size in an editor tab (VS Code's image preview) from a file under the extension's storage. */
  async openImage(index: number, imageId: string): Promise<void> {
    const im = this.findImage(index, imageId);
    if (!im) return;
    const dir = vscode.Uri.joinPath(this.context.storageUri ?? this.context.globalStorageUri, 'images', this.conversation.id);
    await vscode.workspace.fs.createDirectory(dir);
    const file = vscode.Uri.joinPath(dir, `q${index}-${imageId.replace(/[^\w-]/g, '_')}.${im.mime === 'image/jpeg' ? 'jpg' : 'png'}`);
    await vscode.workspace.fs.writeFile(file, Buffer.from(im.data, 'base64'));
    await vscode.commands.executeCommand('vscode.open', file, { preview: true });
  }

  async saveImage(index: number, imageId: string): Promise<void> {
    const im = this.findImage(index, imageId);
    if (!im) return;
    const ext = im.mime === 'image/jpeg' ? 'jpg' : 'png';
    const base = vscode.workspace.workspaceFolders?.[0]?.uri;
    const target = await vscode.window.showSaveDialog({ defaultUri: base ? vscode.Uri.joinPath(base, `${imageId}.${ext}`) : undefined, filters: { Images: [ext] } });
    if (!target) return;
    await vscode.workspace.fs.writeFile(target, Buffer.from(im.data, 'base64'));
  }

  async export(format: 'ipynb' | 'markdown'): Promise<void> {
    const c = this.conversation;
    if (!c.exchanges.length) return;
    const ext = format === 'ipynb' ? 'ipynb' : 'md';
    const base = vscode.workspace.workspaceFolders?.[0]?.uri;
    const name = `${(c.title || 'codedance').replace(/[^\w-]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'codedance'}.${ext}`;
    const target = await vscode.window.showSaveDialog({ defaultUri: base ? vscode.Uri.joinPath(base, name) : undefined, filters: format === 'ipynb' ? { Notebook: ['ipynb'] } : { Markdown: ['md'] } });
    if (!target) return;
    if (format === 'ipynb') {
      await vscode.workspace.fs.writeFile(target, Buffer.from(JSON.stringify(conversationNotebook(c), null, 1)));
      this.post({ type: 'notice', level: 'info', text: `Exported ${path.basename(target.fsPath)}.` });
    } else {
      const n = await writeMarkdownExport(c, target.fsPath);
      this.post({ type: 'notice', level: 'info', text: `Exported ${path.basename(target.fsPath)} with ${n} image(s).` });
    }
  }

  dispose(): void {
    this.stop();
    this.disposeKernel();
  }
}

function strip(a: PendingAttachment): Attachment {
  const { data: _data, ...rest } = a;
  return rest;
}

function bytesOf(im: TrajectoryImage): Uint8Array {
  return new Uint8Array(Buffer.from(im.data, 'base64'));
}

/** A trajectory for a run that failed before the loop could make one (endpoint unreachable, …). */
function failedTrajectory(question: string, images: Uint8Array[], error: { name: string; message: string }, cancelled: boolean, durationMs: number, from?: Trajectory): Trajectory {
  return {
    version: 1,
    id: randomUUID(),
    createdAt: new Date().toISOString(),
    question: from?.question ?? question,
    inputImages: from?.inputImages ?? images.map((d, i) => ({ id: `input-${i}`, mime: sniffImage(d) === 'image/jpeg' ? 'image/jpeg' : 'image/png', data: Buffer.from(d).toString('base64'), source: 'input' })),
    model: from?.model ?? '',
    endpoints: from?.endpoints ?? [],
    protocol: from?.protocol ?? 'codedance',
    sampling: {},
    maxTurns: from?.maxTurns ?? 0,
    messages: from?.messages ?? [],
    turns: from?.turns ?? [],
    status: cancelled ? 'cancelled' : 'error',
    error,
    usage: { promptTokens: 0, completionTokens: 0, totalTokens: 0 },
    durationMs,
  };
}
