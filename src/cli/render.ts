/**
 * Renders the agent's event stream in a terminal: streamed reasoning, code cells with their
 * output, saved image paths, the answer. The same events feed the chat panel and the eval.
 */
import type { AgentEvent } from '../core/agent/events';
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

function indent(text: string, prefix = '  │ '): string {
  return text.replace(/\n$/, '').split('\n').map((l) => prefix + l).join('\n') + '\n';
}

export class TerminalRenderer {
  private atLineStart = true;
  constructor(private readonly out: Writer, private readonly opts: { quiet?: boolean } = {}) {}

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
    const q = this.opts.quiet;
    switch (e.type) {
      case 'start':
        if (!q) this.print(dim(`model ${e.model} · protocol ${e.protocol} · at most ${e.maxTurns} model calls\n`));
        break;
      case 'turn_start':
        if (!q) this.print(`\n${cyan(bold(`── model call ${e.turn + 1}`))}\n`);
        break;
      case 'delta':
        if (!q) this.print(e.text);
        break;
      case 'retry':
        this.newline();
        this.print(yellow(`  ↻ retrying the model request (attempt ${e.attempt}): ${e.reason}\n`));
        break;
      case 'turn_end':
        this.newline();
        if (e.discarded) this.print(yellow('  (no code and no answer in this reply: the request is sent again, as the CodeDance eval does)\n'));
        else if (!q) this.print(dim(`  ${(e.latencyMs / 1000).toFixed(2)} s${e.usage ? ` · ${e.usage.promptTokens}+${e.usage.completionTokens} tokens` : ''}\n`));
        break;
      case 'tool_call':
        if (!q) this.print(`${bold('▶ running code')} ${dim(`(${e.cell.id})`)}\n`);
        break;
      case 'approval':
        if (e.decision !== 'run') this.print(yellow(`  code ${e.decision === 'skip' ? 'skipped' : 'edited'} by the user\n`));
        break;
      case 'exec_end': {
        const r = e.result;
        const status = r.status === 'ok' ? green('ok') : red(r.status);
        if (!q) {
          if (r.stdout) this.print(indent(r.stdout));
          if (r.stderr) this.print(indent(r.stderr, '  ! '));
          if (r.error) this.print(red(indent(`${r.error.ename}: ${r.error.evalue}`, '  ✗ ')));
          for (const f of savedImages?.(e.cellId) ?? []) this.print(`  🖼  ${f}\n`);
          this.print(dim(`  └ ${status} in ${(r.durationMs / 1000).toFixed(2)} s${r.images.length ? `, ${r.images.length} image(s)` : ''}\n`));
        }
        break;
      }
      case 'malformed':
        this.print(yellow(`  malformed tool call: ${e.message}\n`));
        break;
      case 'answer':
        this.newline();
        this.print(`\n${green(bold('Answer:'))} ${e.text}\n`);
        break;
      case 'error':
        this.newline();
        this.print(red(`error: ${describeError(e.error, 'ask')}\n`));
        break;
      case 'kernel':
      case 'exec_start':
      case 'exec_output':
      case 'observation':
      case 'done':
        break;
    }
  }
}
