/**
 * What the workbench shows around the chat, read from the messages to the panel: approvals
 * waiting (badge, status bar), the kernel's state, the model of the last run, and the live run's
 * messages so far (replayed to a webview that (re)loads mid-run). No VS Code here.
 */
import type { PanelKernelState, ToWebview } from '../../protocol/chat';

export class RunWatch {
  /** approval and restore requests waiting for the user, as `run:cellId` / `run:restore` */
  readonly pending = new Set<string>();
  kernel: PanelKernelState = 'none';
  running = false;
  /** the model the last run used */
  model = '';
  /** the live run's messages since its exchangeStart (which replaces a stale copy when replayed) */
  liveRun: ToWebview[] = [];

  /** Takes in one message; says whether the pending approvals changed and whether a question was answered. */
  observe(msg: ToWebview): { changed: boolean; pendingChanged: boolean; answered: boolean } {
    const before = this.pending.size;
    let answered = false;
    if (msg.type === 'kernel') this.kernel = msg.state;
    else if (msg.type === 'running') {
      this.running = msg.running;
      if (!msg.running) this.pending.clear();
    } else if (msg.type === 'exchangeStart') this.liveRun = [{ ...msg, replace: true }];
    else if (msg.type === 'event') {
      const first = this.liveRun[0];
      if (first?.type === 'exchangeStart' && first.run === msg.run) this.liveRun.push(msg);
      const e = msg.event;
      if (e.type === 'approval_request') this.pending.add(`${msg.run}:${e.cellId}`);
      else if (e.type === 'approval') this.pending.delete(`${msg.run}:${e.cellId}`);
      else if (e.type === 'restore_request') this.pending.add(`${msg.run}:restore`);
      else if (e.type === 'restore') this.pending.delete(`${msg.run}:restore`);
      else if (e.type === 'start') this.model = e.model;
      else if (e.type === 'done') {
        for (const k of [...this.pending]) if (k.startsWith(`${msg.run}:`)) this.pending.delete(k);
        answered = e.summary.status === 'answered';
      }
    } else return { changed: false, pendingChanged: false, answered };
    return { changed: true, pendingChanged: this.pending.size !== before, answered };
  }
}
