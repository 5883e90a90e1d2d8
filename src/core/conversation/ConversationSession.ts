/**
 * One conversation and its kernel, without any UI: ask, follow-up, Retry, Edit & re-run (fork),
 * Stop, approvals, the kernel's rebuild when it is fresh, and the trajectory of a failed run.
 * Every run goes through `runAgent`; the session only decides what to hand it. Its host (the
 * chat panel, a test) gets everything as `SessionEvent`s and words it.
 */
import { randomUUID } from 'node:crypto';
import type { ApprovalDecision, AgentOptions, ReplayStep } from '../agent/options';
import { keptCode } from '../agent/resume';
import { runAgent } from '../agent/runAgent';
import { CodeDanceError, toErrorInfo } from '../errors';
import { redactSecrets } from '../secrets';
import type { KernelSession } from '../kernel/types';
import type { Trajectory, TrajectoryReference } from '../trajectory/types';
import { failedTrajectory, imageMime, newConversation, restorePlan, retryTurn, withMessages } from './exchanges';
import type { Conversation, ConversationKernelState, SessionHost } from './types';

export class ConversationSession {
  private conv: Conversation;
  private kernel?: KernelSession;
  private kernelUnsub?: () => void;
  /** the kernel holds the conversation's state (false: a fresh kernel that needs the earlier code re-run) */
  private inSync = true;
  /** the user declined re-running the earlier code in this kernel: its state is incomplete */
  private notRestored = false;
  private retireAfterRun = false;
  private run?: { id: string; ctrl: AbortController };
  /** answers awaited by the running run: `cell:<id>` and `restore` */
  private readonly pending = new Map<string, (answer: ApprovalDecision | boolean) => void>();
  kernelState: ConversationKernelState = 'none';

  constructor(
    private readonly host: SessionHost,
    conversation: Conversation = newConversation(),
  ) {
    this.conv = conversation;
    this.inSync = conversation.exchanges.length === 0;
  }

  get conversation(): Conversation {
    return this.conv;
  }

  get running(): boolean {
    return this.run !== undefined;
  }

  /** the id of the run in progress (approvals are answered with it) */
  get runId(): string | undefined {
    return this.run?.id;
  }

  /** false after the user declined re-running earlier code in this kernel */
  get kernelRestored(): boolean {
    return !this.notRestored;
  }

  /** Replaces the conversation (open from history, an eval sample, new chat); stops a run, drops the kernel. */
  load(conversation: Conversation = newConversation()): void {
    this.stop();
    this.conv = conversation;
    this.disposeKernel();
    this.host.emit({ type: 'conversation', conversation });
  }

  /** A new question, after the earlier exchanges (a follow-up when there are any); `reference`: its known correct answer (a dataset row's). */
  async ask(
    question: string,
    images: Uint8Array[],
    runId: string = randomUUID(),
    reference?: TrajectoryReference,
  ): Promise<Trajectory | undefined> {
    this.assertIdle();
    const index = this.conv.exchanges.length;
    const kernel = await this.beginRun(runId);
    if (!this.conv.title) this.conv.title = question.split('\n')[0].slice(0, 80);
    const replay = this.inSync ? [] : restorePlan(this.conv.exchanges, images.length === 0);
    const shown = images.map((d) => ({ mime: imageMime(d), data: Buffer.from(d).toString('base64') }));
    this.host.emit({ type: 'exchangeStart', runId, index, question, images: shown, replace: false });
    return this.execute(index, question, images, kernel, (cfg) => {
      const previous = withMessages(this.conv.exchanges, cfg.protocol, cfg.timeoutMs, cfg.maxObservationTokens).at(-1);
      return { history: previous?.messages, replay, reference };
    });
  }

  /** Retry: redo the last model call of the last question (the kernel's state kept, or rebuilt when fresh). */
  async retry(runId: string = randomUUID()): Promise<Trajectory | undefined> {
    this.assertIdle();
    const index = this.conv.exchanges.length - 1;
    if (index < 0) return undefined;
    const kernel = await this.beginRun(runId);
    const inSync = this.inSync;
    const replay = inSync ? [] : restorePlan(this.conv.exchanges.slice(0, index), this.conv.exchanges[index].inputImages.length === 0);
    const last = this.conv.exchanges[index];
    this.host.emit({ type: 'exchangeStart', runId, index, question: last.question, images: last.inputImages, replace: true });
    return this.execute(index, last.question, [], kernel, (cfg) => {
      const from = withMessages(this.conv.exchanges, cfg.protocol, cfg.timeoutMs, cfg.maxObservationTokens)[index];
      // a run that never reached the model never bound its images either
      return { replay, resume: { from, turn: retryTurn(from), replayKernel: !inSync || from.turns.length === 0 } };
    });
  }

  /** Edit & re-run: a new conversation (the original is saved as it is) from the edited cell on. */
  async fork(index: number, cellId: string, code: string, runId: string = randomUUID()): Promise<Trajectory | undefined> {
    this.assertIdle();
    const src = this.conv.exchanges[index];
    const turn = src ? src.turns.findIndex((t) => t.cells.some((c) => c.id === cellId)) : -1;
    if (!src || turn < 0)
      throw new CodeDanceError('input', `cell ${cellId} of question ${index + 1} is not part of this conversation`, {
        fix: 'reopen the conversation and edit a cell it shows',
      });
    await this.host.save(this.conv);
    const earlier = this.conv.exchanges.slice(0, index + 1);
    const forked = newConversation(`${this.conv.title || 'conversation'} (edited)`);
    forked.exchanges = this.conv.exchanges.slice(0, index);
    this.load(forked);
    const kernel = await this.beginRun(runId);
    const replay = restorePlan(forked.exchanges, src.inputImages.length === 0);
    this.host.emit({ type: 'exchangeStart', runId, index, question: src.question, images: src.inputImages, replace: false });
    return this.execute(index, src.question, [], kernel, (cfg) => {
      const from = withMessages(earlier, cfg.protocol, cfg.timeoutMs, cfg.maxObservationTokens)[index];
      return { replay, resume: { from, turn, edits: { [cellId]: code }, replayKernel: true } };
    });
  }

  /** Stops the run: the model call and the running cell are cancelled, waiting approvals skipped. */
  stop(): void {
    if (!this.run) return;
    this.run.ctrl.abort(new CodeDanceError('cancelled', 'stopped by the user'));
    this.settleApprovals();
  }

  /** The user's decision on a cell that waits for approval (`approval_request`); stale answers are ignored. */
  answerApproval(runId: string, cellId: string, decision: ApprovalDecision): boolean {
    return this.answer(runId, `cell:${cellId}`, decision);
  }

  /** The user's decision on re-running earlier code (`restore_request`): true runs the batch. */
  answerRestore(runId: string, run: boolean): boolean {
    return this.answer(runId, 'restore', run);
  }

  /** A fresh kernel now; the conversation's earlier state is rebuilt before the next question. */
  async restartKernel(): Promise<void> {
    this.stop();
    this.disposeKernel();
    await this.ensureKernel();
  }

  /** The interpreter changed: the kernel goes after the run in progress (now when idle); the next run gets a new one. */
  retireKernel(): void {
    if (this.running) this.retireAfterRun = true;
    else this.disposeKernel();
  }

  dispose(): void {
    this.stop();
    this.disposeKernel();
  }

  private assertIdle(): void {
    if (this.run) throw new CodeDanceError('input', 'a question is running', { fix: 'stop it first, or wait for its answer' });
  }

  private answer(runId: string, key: string, value: ApprovalDecision | boolean): boolean {
    if (this.run?.id !== runId) return false;
    const resolve = this.pending.get(key);
    if (!resolve) return false;
    this.pending.delete(key);
    resolve(value);
    return true;
  }

  private wait<T extends ApprovalDecision | boolean>(key: string): Promise<T> {
    return new Promise<T>((resolve) => this.pending.set(key, resolve as (a: ApprovalDecision | boolean) => void));
  }

  private settleApprovals(): void {
    for (const [key, resolve] of this.pending) resolve(key === 'restore' ? false : { action: 'skip' });
    this.pending.clear();
  }

  /** Marks the run started and gets the conversation's kernel; a kernel that cannot start ends it (and is thrown). */
  private async beginRun(id: string): Promise<KernelSession> {
    this.run = { id, ctrl: new AbortController() };
    this.host.emit({ type: 'running', running: true });
    try {
      return await this.ensureKernel();
    } catch (e) {
      this.run = undefined;
      this.host.emit({ type: 'running', running: false });
      throw e;
    }
  }

  private async ensureKernel(): Promise<KernelSession> {
    if (this.kernel && this.kernel.state !== 'disposed' && this.kernel.state !== 'dead') return this.kernel;
    this.disposeKernel();
    this.setKernelState('starting');
    try {
      const k = await this.host.acquireKernel();
      this.kernel = k;
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
    this.inSync = this.conv.exchanges.length === 0;
    this.notRestored = false;
    this.retireAfterRun = false;
    this.setKernelState('none');
  }

  private setKernelState(s: ConversationKernelState): void {
    if (s === this.kernelState) return;
    this.kernelState = s;
    this.host.emit({ type: 'kernel', state: s });
  }

  /** Runs the loop for exchange `index` and stores what it made (a failure still makes a trajectory). */
  private async execute(
    index: number,
    question: string,
    images: Uint8Array[],
    kernel: KernelSession,
    plan: (cfg: Awaited<ReturnType<SessionHost['runConfig']>>) => Partial<AgentOptions> & { replay: ReplayStep[] },
  ): Promise<Trajectory> {
    const { id: runId, ctrl } = this.run!;
    const t0 = Date.now();
    let trajectory: Trajectory | undefined;
    let from: Trajectory | undefined;
    // the run belongs to the conversation it started in, even when another one is opened meanwhile
    const conv = this.conv;
    const emit = (event: Parameters<SessionHost['emit']>[0] & { type: 'event' }) => {
      if (this.conv === conv) this.host.emit(event);
    };
    try {
      const cfg = await this.host.runConfig(ctrl.signal);
      const extra = plan(cfg);
      from = extra.resume?.from;
      const always = cfg.approval === 'always';
      const events = runAgent(question, images, {
        model: cfg.model,
        modelName: cfg.modelName,
        protocol: cfg.protocol,
        kernel,
        endpoints: cfg.endpoints,
        protocolTemplateHash: cfg.protocolTemplateHash,
        maxTurns: cfg.maxTurns,
        timeoutMs: cfg.timeoutMs,
        maxObservationTokens: cfg.maxObservationTokens,
        sampling: cfg.sampling,
        signal: ctrl.signal,
        approve: always ? (req) => this.wait<ApprovalDecision>(`cell:${req.cell.id}`) : undefined,
        approveRestore: always ? () => this.wait<boolean>('restore') : undefined,
        ...extra,
      });
      // the kernel holds the conversation's state once the rebuild ran (or was declined) or none was needed
      let restored =
        !extra.replay.some((s) => s.code.length) &&
        !(extra.resume && extra.resume.replayKernel !== false && keptCode(extra.resume.from, extra.resume.turn).length);
      for await (const e of events) {
        if (e.type === 'restore') {
          restored = true;
          this.notRestored = !e.restored;
        }
        if (e.type === 'done') trajectory = e.trajectory;
        emit({ type: 'event', runId, index, event: e });
      }
      if (restored) this.inSync = true;
    } catch (e) {
      const info = toErrorInfo(e);
      const error = { ...info, message: redactSecrets(info.message), ...(info.reason ? { reason: redactSecrets(info.reason) } : {}) };
      emit({ type: 'event', runId, index, event: { type: 'error', error, fatal: true } });
      trajectory ??= failedTrajectory(question, images, error, ctrl.signal.aborted, Date.now() - t0, from);
      emit({ type: 'event', runId, index, event: { type: 'done', trajectory } });
    } finally {
      this.run = undefined;
      this.settleApprovals();
      if (this.retireAfterRun) this.disposeKernel();
      this.host.emit({ type: 'running', running: false });
    }
    if (!trajectory) throw new CodeDanceError('internal', 'conversation: the agent loop ended without a trajectory');
    conv.exchanges[index] = trajectory;
    conv.exchanges.length = index + 1;
    conv.updatedAt = new Date().toISOString();
    await this.host.save(conv);
    return trajectory;
  }
}
