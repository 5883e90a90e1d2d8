/** Test doubles for the loop: a scripted model, an in-memory kernel, a tiny tagged format. */
import type { ChatModel, ChatRequest, ChatStreamEvent } from '../../../src/core/agent/model';
import type { ExecuteOptions, ExecutionResult, KernelSession, KernelState, PreparedImage } from '../../../src/core/kernel/types';
import type { AssistantTurn, ChatMessage, ParsedTurn, ProtocolAdapter } from '../../../src/core/protocol/types';

export type Reply = string | Error | ((req: ChatRequest) => string);

export class ScriptedModel implements ChatModel {
  readonly requests: ChatRequest[] = [];
  /** set when a request's signal fired while it was streaming */
  sawAbort = false;
  constructor(
    private readonly replies: Reply[],
    private readonly delayMs = 0,
  ) {}
  async *chat(req: ChatRequest, opts: { signal?: AbortSignal }): AsyncIterable<ChatStreamEvent> {
    this.requests.push(structuredClone(req));
    const r = this.replies.shift();
    if (r === undefined) throw new Error('ScriptedModel: no reply left');
    if (r instanceof Error) throw r;
    const text = typeof r === 'function' ? r(req) : r;
    for (const piece of text.match(/.{1,7}/gs) ?? []) {
      if (this.delayMs) await new Promise((res) => setTimeout(res, this.delayMs));
      if (opts.signal?.aborted) {
        this.sawAbort = true;
        throw new Error('aborted');
      }
      yield { type: 'delta', text: piece };
    }
    yield {
      type: 'done',
      content: text,
      toolCalls: [],
      finishReason: 'stop',
      endpoint: 'fake://model',
      retries: 0,
      usage: { promptTokens: 10, completionTokens: 5, totalTokens: 15 },
    };
  }
}

/** Runs "code" of the form `print <text>` / `fail <msg>` / `sleep <ms>`. */
export class FakeKernel implements KernelSession {
  readonly id = 'fake';
  readonly workdir = '/nonexistent';
  readonly python = '/usr/bin/false';
  state: KernelState = 'idle';
  readonly executed: string[] = [];
  /** how many images each setInputImages call bound */
  readonly bound: number[] = [];
  private listeners = new Set<(s: KernelState) => void>();
  async setInputImages(images: Uint8Array[]): Promise<PreparedImage[]> {
    this.bound.push(images.length);
    return images.map(() => ({ pngBase64: 'iVBORw0KGgo=', width: 28, height: 28, originalWidth: 28, originalHeight: 28 }));
  }
  async execute(code: string, opts: ExecuteOptions = {}): Promise<ExecutionResult> {
    this.executed.push(code);
    this.setState('busy');
    try {
      const [cmd, ...rest] = code.split(' ');
      const arg = rest.join(' ');
      if (cmd === 'sleep') {
        const cancelled = await new Promise<boolean>((res) => {
          const t = setTimeout(() => res(false), Number(arg));
          opts.signal?.addEventListener('abort', () => (clearTimeout(t), res(true)), { once: true });
        });
        if (cancelled)
          return {
            status: 'cancelled',
            stdout: '',
            stderr: '',
            images: [],
            durationMs: 1,
            error: { ename: 'KeyboardInterrupt', evalue: '', traceback: [] },
          };
      }
      if (cmd === 'fail')
        return {
          status: 'error',
          stdout: '',
          stderr: '',
          images: [],
          durationMs: 1,
          error: { ename: 'ValueError', evalue: arg, traceback: [] },
        };
      opts.onOutput?.({ kind: 'stream', name: 'stdout', text: arg + '\n' });
      return { status: 'ok', stdout: cmd === 'print' ? arg + '\n' : '', stderr: '', images: [], durationMs: 1 };
    } finally {
      this.setState('idle');
    }
  }
  private setState(s: KernelState) {
    this.state = s;
    for (const l of this.listeners) l(s);
  }
  onStateChange(l: (s: KernelState) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  async interrupt(): Promise<void> {}
  async dispose(): Promise<void> {
    this.state = 'disposed';
  }
}

/** `[[code]]` runs code, `{{answer}}` answers. */
export const tagFormat: ProtocolAdapter = {
  id: 'tags',
  defaultSampling: { temperature: 0 },
  defaultMaxTurns: 4,
  imagePreparation: { resize: 'none' },
  tools: () => undefined,
  initialMessages: (q) => [
    { role: 'system', content: 'sys' },
    { role: 'user', content: q },
  ],
  parse(turn: AssistantTurn): ParsedTurn {
    const code = [...turn.content.matchAll(/\[\[(.*?)\]\]/g)].map((m) => ({ code: m[1] }));
    const answer = /\{\{(.*?)\}\}/.exec(turn.content)?.[1];
    return { code, answer, malformed: [], empty: code.length === 0 && answer === undefined };
  },
  assistantMessage: (t) => ({ role: 'assistant', content: t.content }),
  observation(executed): ChatMessage[] {
    return [
      {
        role: 'user',
        content: executed
          .map((e) => (e.result.error ? `ERR ${e.result.error.ename}: ${e.result.error.evalue}` : `OUT ${e.result.stdout.trim()}`))
          .join('\n'),
      },
    ];
  },
  isFinal: (p) => p.answer !== undefined,
};
