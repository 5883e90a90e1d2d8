/**
 * The one place where messages from the webview are checked: shape and types, bounded sizes.
 * Anything else is dropped (and logged by the caller).
 */
import type { FromWebview } from '../../webview/protocol';

type Check = (m: Record<string, unknown>) => boolean;

const str = (v: unknown, max = 1_000_000): v is string => typeof v === 'string' && v.length <= max;
const int = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const oneOf = (v: unknown, values: readonly string[]) => typeof v === 'string' && values.includes(v);

const SETUP = ['setEndpoint', 'setApiKey', 'pickInterpreter', 'trust', 'openSettings', 'dismissWalkthrough', 'askAboutImage', 'toggleApproval'] as const;

const checks: Record<FromWebview['type'], Check> = {
  ready: () => true,
  ask: (m) => str(m.question, 100_000),
  stop: () => true,
  retry: () => true,
  newChat: () => true,
  attachPick: () => true,
  attachData: (m) => str(m.name, 500) && str(m.mime, 100) && str(m.data, 80 * 1024 * 1024),
  attachUris: (m) => Array.isArray(m.uris) && m.uris.length <= 50 && m.uris.every((u) => str(u, 4000)),
  removeAttachment: (m) => str(m.id, 100),
  approval: (m) => {
    const r = m.reply as Record<string, unknown> | undefined;
    return str(m.requestId, 100) && !!r && (oneOf(r.action, ['run', 'skip']) || (r.action === 'edit' && str(r.code, 1_000_000)));
  },
  fork: (m) => int(m.index) && str(m.cellId, 100) && str(m.code, 1_000_000),
  openImage: (m) => int(m.index) && str(m.imageId, 200),
  saveImage: (m) => int(m.index) && str(m.imageId, 200),
  copyText: (m) => str(m.text, 1_000_000),
  openCode: (m) => str(m.code, 1_000_000),
  openLink: (m) => str(m.href, 4000),
  restartKernel: () => true,
  history: (m) => oneOf(m.action, ['open', 'rename', 'delete']) && str(m.id, 100) && /^[\w-]+$/.test(m.id as string),
  showHistory: () => true,
  export: (m) => oneOf(m.format, ['ipynb', 'markdown']),
  setup: (m) => oneOf(m.action, SETUP),
};

export function validateFromWebview(raw: unknown): FromWebview | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const m = raw as Record<string, unknown>;
  if (typeof m.type !== 'string' || !Object.prototype.hasOwnProperty.call(checks, m.type)) return undefined;
  return checks[m.type as FromWebview['type']](m) ? (m as FromWebview) : undefined;
}
