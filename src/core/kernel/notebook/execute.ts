/**
 * One execute through the Jupyter extension's `Kernel.executeCode`, with the outcome shapes of
 * the other kernels (request.ts): each output turned back into its Jupyter message, then 'done'
 * (with a reply made from what was seen), 'exited' (the kernel died or restarted meanwhile) or
 * 'timeout'. Cancelling the token is how the extension is asked to interrupt the kernel.
 */
import { KernelSessionError } from '../errors';
import { delay, type RequestOutcome } from '../request';
import type { JupyterMessage } from '../wire';
import { type CancellationSourceLike, type NotebookKernelLike, type NotebookKernelStatus, outputToMessage } from './api';

/** the statuses after which the kernel's namespace (and our prelude) is gone */
export const LOST_STATUSES: readonly NotebookKernelStatus[] = ['dead', 'restarting', 'autorestarting', 'terminating'];

export interface NotebookExecOptions<T> {
  onMessage: (m: JupyterMessage) => void;
  /** a new cancellation source (the editor's CancellationTokenSource) */
  cancellation: () => CancellationSourceLike<T>;
  /** stop waiting after this long (the execute is cancelled): 'timeout' */
  timeoutMs?: number;
  /** a handle to cancel it from outside (an interrupt) */
  onStart?: (cancel: () => void) => void;
  /** the notebook in words, for errors */
  notebook: string;
  /** how a user picks another kernel (see NotebookKernelSessionOptions) */
  otherwise?: string;
}

/** what the Jupyter extension's refusals mean, and what to do */
export function executeRefused(e: unknown, notebook: string, otherwise = 'choose another kernel'): KernelSessionError {
  const err = e as Error;
  const revoked = err?.name === 'vscode.jupyter.apiAccessRevoked';
  return new KernelSessionError({
    reason: `the Jupyter extension did not run CodeDance's code in the kernel of ${notebook}: ${err?.message ?? String(e)}`,
    fix: revoked
      ? `allow CodeDance to use the Jupyter extension's kernels (the Jupyter extension manages that access), or ${otherwise}`
      : `open ${notebook} and run a cell so that its kernel is started, or ${otherwise}`,
    error: e,
    retryable: !revoked,
  });
}

export async function notebookExecute<T>(
  kernel: NotebookKernelLike<T>,
  code: string,
  opts: NotebookExecOptions<T>,
): Promise<RequestOutcome> {
  const source = opts.cancellation();
  let lostTo: NotebookKernelStatus | undefined;
  let markLost!: () => void;
  const lost = new Promise<void>((r) => (markLost = r));
  const sub = kernel.onDidChangeStatus((s) => {
    if (LOST_STATUSES.includes(s)) {
      lostTo ??= s;
      markLost();
    }
  });
  const timer = opts.timeoutMs === undefined ? undefined : delay(opts.timeoutMs);
  let timedOut = false;
  opts.onStart?.(() => source.cancel());
  let error: { ename: string; evalue: string; traceback: string[] } | undefined;
  const consume = (async () => {
    for await (const output of kernel.executeCode(code, source.token)) {
      const m = outputToMessage(output);
      if (!m) continue;
      if (m.header.msg_type === 'error') error = m.content as typeof error;
      opts.onMessage(m);
    }
  })();
  try {
    const r = await Promise.race([
      consume.then(() => 'done' as const),
      lost.then(() => 'lost' as const),
      ...(timer ? [timer.promise.then(() => 'timeout' as const)] : []),
    ]);
    if (r === 'timeout') {
      timedOut = true;
      return { kind: 'timeout' };
    }
    if (r === 'lost') {
      const description = lostTo === 'dead' ? 'died' : lostTo === 'terminating' ? 'was shut down' : 'was restarted';
      return {
        kind: 'exited',
        info: { code: null, signal: null, description: `the kernel of ${opts.notebook} ${description}`, outputTail: '' },
      };
    }
    const reply: JupyterMessage = {
      identities: [],
      header: { msg_id: '', msg_type: 'execute_reply', session: '', username: '', date: '', version: '5.3' },
      parent_header: {},
      metadata: {},
      content: error ? { status: 'error', ...error } : { status: 'ok' },
      buffers: [],
    };
    return { kind: 'done', reply };
  } catch (e) {
    throw executeRefused(e, opts.notebook, opts.otherwise);
  } finally {
    timer?.cancel();
    sub.dispose();
    // a request still in the extension's queue or running is given up (the extension interrupts it)
    if (timedOut || lostTo) source.cancel();
    source.dispose();
    // after a timeout or a lost kernel the cancelled stream may still reject: that outcome is already returned
    consume.catch(() => undefined);
  }
}
