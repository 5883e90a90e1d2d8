/**
 * Renders the agent's event stream in a terminal: streamed reasoning, code cells with their
 * output, saved image paths, the answer. The same events feed the chat panel and the eval.
 */
import type { AgentEvent } from '../core/trajectory/events';
import { describeError } from './errors';

export interface Writer {
  write(s: string): void;
}

const useColor = process.stdout.isTTY && !process.env.NO_COLOR;
const c = (code: string) => (s: string) => (useColor ? `\x1b[${code}m${s}\x1b[0m` : s);
export const dim = c('2');
export const bold = c('1');
export const green = c('32');
export const red = c('31');
export const cyan = c('36');
export const yellow = c('33');

type EventOf<T extends AgentEvent['type']> = Extract<AgentEvent, { type: T }>;

function indent(text: string, prefix = '  │ '): string {
  return (
    text
      .replace(/\n$/, '')
      .split('\n')
      .map((l) => prefix + l)
      .join('\n') + '\n'
  );
}

export class TerminalRenderer {
  private atLineStart = true;
  constructor(
    private readonly out: Writer,
    private readonly opts: { quiet?: boolean } = {},
  ) {}

  private print(s: string): void {
    if (!s) return;
    this.out.write(s);
    this.atLineStart = s.endsWith('\n');
  }

  private newline(): void {
    if (!this.atLineStart) this.print('\n');
  }

  /** `savedImages` maps cell ids to the files their images were saved to */
  handle(e: AgentEvent, savedImages?: (cellId: string) => string[]): void {
    (this.renderers[e.type] as (e: AgentEvent, savedImages?: (cellId: string) => string[]) => void)(e, savedImages);
  }

  /** What each event prints (the typed map makes a new event type a compile error until it is placed here). */
  private readonly renderers: { [T in AgentEvent['type']]: (e: EventOf<T>, savedImages?: (cellId: string) => string[]) => void } = {
    start: (e) => {
      if (!this.opts.quiet) this.print(dim(`model ${e.model} · protocol ${e.protocol} · at most ${e.maxTurns} model calls\n`));
    },
    turn_start: (e) => {
      if (!this.opts.quiet) this.print(`\n${cyan(bold(`── model call ${e.turn + 1}`))}\n`);
    },
    delta: (e) => {
      if (!this.opts.quiet) this.print(e.text);
    },
    retry: (e) => {
      this.newline();
      this.print(yellow(`  ↻ retrying the model request (attempt ${e.attempt}): ${e.reason}\n`));
    },
    turn_end: (e) => {
      this.newline();
      if (e.discarded)
        this.print(yellow('  (no code and no answer in this reply: the request is sent again, as the CodeDance eval does)\n'));
      else if (!this.opts.quiet)
        this.print(
          dim(`  ${(e.latencyMs / 1000).toFixed(2)} s${e.usage ? ` · ${e.usage.promptTokens}+${e.usage.completionTokens} tokens` : ''}\n`),
        );
    },
    tool_call: (e) => {
      if (!this.opts.quiet) this.print(`${bold('▶ running code')} ${dim(`(${e.cell.id})`)}\n`);
    },
    approval: (e) => {
      if (e.decision !== 'run') this.print(yellow(`  code ${e.decision === 'skip' ? 'skipped' : 'edited'} by the user\n`));
    },
    exec_end: (e, savedImages) => {
      if (!this.opts.quiet) this.execEnd(e, savedImages?.(e.cellId) ?? []);
    },
    malformed: (e) => this.print(yellow(`  malformed tool call: ${e.message}\n`)),
    answer: (e) => {
      this.newline();
      this.print(`\n${green(bold('Answer:'))} ${e.text}\n`);
    },
    error: (e) => {
      this.newline();
      this.print(red(`error: ${describeError(e.error, 'ask')}\n`));
    },
    kernel: () => undefined,
    exec_start: () => undefined,
    exec_output: () => undefined,
    observation: () => undefined,
    done: () => undefined,
    approval_request: () => undefined,
    restore_request: () => undefined,
    restore: () => undefined,
  };

  /** A cell's outputs, the files its images were saved to, and its status line. */
  private execEnd(e: EventOf<'exec_end'>, saved: string[]): void {
    const r = e.result;
    const status = r.status === 'ok' ? green('ok') : red(r.status);
    if (r.stdout) this.print(indent(r.stdout));
    if (r.stderr) this.print(indent(r.stderr, '  ! '));
    if (r.error) this.print(red(indent(`${r.error.ename}: ${r.error.evalue}`, '  ✗ ')));
    for (const f of saved) this.print(`  🖼  ${f}\n`);
    this.print(dim(`  └ ${status} in ${(r.durationMs / 1000).toFixed(2)} s${r.images.length ? `, ${r.images.length} image(s)` : ''}\n`));
  }
}
