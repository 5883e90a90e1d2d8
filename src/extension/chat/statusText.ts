/** The chat status bar item's text (pure: unit-tested without VS Code). */
import type { PanelKernelState } from '../../protocol/chat';

export interface ChatStatus {
  endpoint: string;
  /** the model setting, else the model the last run used, else '' */
  model: string;
  kernel: PanelKernelState;
  approval: 'always' | 'auto';
  pendingApprovals: number;
  running: boolean;
}

const KERNEL_ICON: Record<string, string> = {
  none: '$(circle-outline)',
  starting: '$(loading~spin)',
  idle: '$(circle-filled)',
  busy: '$(sync~spin)',
  dead: '$(error)',
};

/** The item's text, e.g. "$(hubot) gpt-4o · $(circle-filled) idle". */
export function statusText(s: ChatStatus): string {
  const model = s.model || hostOf(s.endpoint) || 'no model';
  const kernel = s.kernel === 'none' ? 'no kernel' : s.kernel;
  const approval = s.pendingApprovals ? ' · $(shield) approve?' : '';
  return `$(hubot) ${model} · ${KERNEL_ICON[s.kernel] ?? ''} ${kernel}${approval}`;
}

/** host[:port] of a URL, so the status never shows a URL cut mid-word */
export function hostOf(endpoint: string): string {
  const first = endpoint.split(',')[0]?.trim() ?? '';
  try {
    return new URL(first).host;
  } catch {
    return first;
  }
}
