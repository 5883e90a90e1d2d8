/**
 * The one place where messages from the webview are checked: a message id, shape and types,
 * bounded sizes. Anything else is dropped (and logged by the caller).
 */
import type { FromWebview } from '../../webview/protocol';

type Check = (m: Record<string, unknown>) => boolean;

const str = (v: unknown, max = 1_000_000): v is string => typeof v === 'string' && v.length <= max;
const int = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const oneOf = (v: unknown, values: readonly string[]) => typeof v === 'string' && values.includes(v);

const SETUP = ['setEndpoint', 'setApiKey', 'pickInterpreter', 'trust', 'openSettings', 'dismissWalkthrough', 'askAboutImage', 'toggleApproval', 'connectModel', 'openWalkthrough', 'moveToSideBar', 'showEditor'] as const;

const id = (v: unknown): v is string => typeof v === 'string' && /^[\w-]{1,100}$/.test(v);

const checks: Record<FromWebview['type'], Check> = {
  ready: () => true,
  ask: (m) => str(m.question, 100_000),
  stop: () => true,
  retry: () => true,
  newChat: () => true,
  attachPick: () => true,
  attachData: (m) => str(m.name, 500) && str(m.mime, 100) && str(m.data, 80 * 1024 * 1024),
  attachUris: (m) => Array.isArray(m.uris) && m.uris.length <= 50 && m.uris.every((u) => str(u, 4000)),
  removeAttachment: (m) => str(m.attachmentId, 100),
  approval: (m) => {
    const r = m.reply as Record<string, unknown> | undefined;
    return id(m.run) && str(m.cellId, 100) && !!r && (oneOf(r.action, ['run', 'skip']) || (r.action === 'edit' && str(r.code, 1_000_000)));
  },
  restore: (m) => id(m.run) && typeof m.accept === 'boolean',
  fork: (m) => int(m.index) && str(m.cellId, 100) && str(m.code, 1_000_000),
  openImage: (m) => int(m.index) && str(m.imageId, 200),
  saveImage: (m) => int(m.index) && str(m.imageId, 200),
  copyText: (m) => str(m.text, 1_000_000),
  openCode: (m) => str(m.code, 1_000_000),
  openLink: (m) => str(m.href, 4000),
  restartKernel: () => true,
  history: (m) => oneOf(m.action, ['open', 'rename', 'delete']) && id(m.conversationId),
  showHistory: () => true,
  export: (m) => oneOf(m.format, ['ipynb', 'markdown']),
  setup: (m) => oneOf(m.action, SETUP),
};

export function validateFromWebview(raw: unknown): FromWebview | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const m = raw as Record<string, unknown>;
  if (!id(m.id) || typeof m.type !== 'string' || !Object.prototype.hasOwnProperty.call(checks, m.type)) return undefined;
  return checks[m.type as FromWebview['type']](m) ? (m as FromWebview) : undefined;
}
