/** A session host for tests: fake kernels it counts, a scripted model, every event kept. */
import type { ChatModel } from '../../../src/core/agent/model';
import type { Conversation, RunConfig, SessionEvent, SessionHost } from '../../../src/core/conversation/types';
import type { AgentEvent } from '../../../src/core/trajectory/events';
import { FakeKernel, tagFormat } from '../agent/fakes';

export class FakeHost implements SessionHost {
  readonly events: SessionEvent[] = [];
  readonly kernels: FakeKernel[] = [];
  readonly saved: Conversation[] = [];
  approval: 'always' | 'auto' = 'auto';
  /** set to make the next runConfig fail (an endpoint that cannot be reached) */
  configError?: Error;
  kernelError?: Error;
  /** called on each event as it is emitted (to answer approvals) */
  onEvent?: (e: SessionEvent) => void;
  /** replaces fields of the run config (another format, limits) */
  config: Partial<RunConfig> = {};

  constructor(public model: ChatModel) {}

  async acquireKernel(): Promise<FakeKernel> {
    if (this.kernelError) throw this.kernelError;
    const k = new FakeKernel();
    this.kernels.push(k);
    return k;
  }

  async runConfig(): Promise<RunConfig> {
    if (this.configError) throw this.configError;
    return {
      model: this.model,
      modelName: 'm',
      protocol: tagFormat,
      endpoints: ['fake://model'],
      timeoutMs: 5000,
      approval: this.approval,
      ...this.config,
    };
  }

  emit(e: SessionEvent): void {
    this.events.push(e);
    this.onEvent?.(e);
  }

  async save(c: Conversation): Promise<void> {
    this.saved.push(structuredClone(c));
  }

  /** the agent events of all runs, in order */
  agentEvents(): AgentEvent[] {
    return this.events.flatMap((e) => (e.type === 'event' ? [e.event] : []));
  }

  clear(): void {
    this.events.length = 0;
  }
}
