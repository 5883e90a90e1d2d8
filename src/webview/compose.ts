/**
 * The chat's compose box: the question, the attached images (paste, drop from the OS or the
 * explorer, or pick), Ask and Stop. Images go to the extension, which keeps them and sends back
 * thumbnails (`attachments`).
 */
import type { Attachment, WebviewRequest } from '../protocol/chat';
import { button, el, formatBytes } from './dom';

export interface Compose {
  form: HTMLFormElement;
  input: HTMLTextAreaElement;
  /** a run started or ended: Stop instead of Ask */
  setRunning(running: boolean): void;
  showAttachments(items: Attachment[]): void;
}

/** `dropTargets`: where else an image may be dropped (the conversation). */
export function createCompose(post: (m: WebviewRequest) => void, isRunning: () => boolean, dropTargets: HTMLElement[]): Compose {
  const form = el('form', { class: 'compose', 'aria-label': 'Ask a question' });
  const thumbs = el('div', { class: 'attachments', 'aria-label': 'Attached images' });
  const input = el('textarea', {
    id: 'question',
    rows: '3',
    placeholder: 'Ask about the attached image… (Enter to send, Shift+Enter for a new line)',
    'aria-label': 'Question',
  });
  const buttons = el('div', { class: 'compose-buttons' });
  const submit = () => {
    const q = input.value.trim();
    if (!q || isRunning()) return;
    post({ type: 'ask', question: q });
    input.value = '';
  };
  const attachBtn = button('Attach image…', () => post({ type: 'attachPick' }), {
    secondary: true,
    action: 'attach',
    title: 'Attach an image from the workspace',
  });
  const sendBtn = button('Ask', () => submit(), { action: 'send', title: 'Ask (Enter)' });
  const stopBtn = button('Stop', () => post({ type: 'stop' }), { action: 'stop', title: 'Stop the model and the running cell' });
  stopBtn.hidden = true;
  buttons.append(attachBtn, el('span', { class: 'spacer' }), stopBtn, sendBtn);
  form.append(thumbs, input, buttons);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submit();
  });
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      submit();
    }
    if (ev.key === 'Escape' && isRunning() && !document.querySelector('.approval:not(.answered)')) post({ type: 'stop' });
  });
  wireImageInput(form, input, [form, ...dropTargets], post);

  const showAttachments = (items: Attachment[]) => {
    thumbs.replaceChildren(...items.map((a) => attachmentBox(a, post)));
    thumbs.hidden = items.length === 0;
  };
  const setRunning = (running: boolean) => {
    stopBtn.hidden = !running;
    sendBtn.hidden = running;
  };
  return { form, input, setRunning, showAttachments };
}

function attachmentBox(a: Attachment, post: (m: WebviewRequest) => void): HTMLElement {
  const box = el('div', { class: 'attachment', 'data-attachment': a.id });
  box.append(el('img', { src: a.thumb, alt: a.name }));
  const meta = el('div', { class: 'attachment-meta' });
  meta.append(
    el('span', { class: 'attachment-name', title: a.name }, a.name),
    el('span', { class: 'attachment-size' }, `${a.width && a.height ? `${a.width}×${a.height} · ` : ''}${formatBytes(a.bytes)}`),
  );
  const remove = el('button', { type: 'button', class: 'remove', title: `Remove ${a.name}`, 'aria-label': `Remove ${a.name}` }, '×');
  remove.addEventListener('click', () => post({ type: 'removeAttachment', attachmentId: a.id }));
  box.append(meta, remove);
  return box;
}

/** Paste and drop: images from the OS (files) and from the explorer (uri lists). */
function wireImageInput(
  form: HTMLFormElement,
  input: HTMLTextAreaElement,
  targets: HTMLElement[],
  post: (m: WebviewRequest) => void,
): void {
  const sendFile = async (f: File) => {
    const buf = new Uint8Array(await f.arrayBuffer());
    let bin = '';
    for (let i = 0; i < buf.length; i += 0x8000) bin += String.fromCharCode(...buf.subarray(i, i + 0x8000));
    post({ type: 'attachData', name: f.name || 'pasted-image.png', mime: f.type || 'application/octet-stream', data: btoa(bin) });
  };
  input.addEventListener('paste', (ev) => {
    const files = [...(ev.clipboardData?.files ?? [])].filter((f) => f.type.startsWith('image/'));
    if (!files.length) return;
    ev.preventDefault();
    for (const f of files) void sendFile(f);
  });
  for (const target of targets) {
    target.addEventListener('dragover', (ev) => {
      ev.preventDefault();
      form.classList.add('drop-target');
    });
    target.addEventListener('dragleave', () => form.classList.remove('drop-target'));
    target.addEventListener('drop', (ev) => {
      ev.preventDefault();
      form.classList.remove('drop-target');
      const dt = ev.dataTransfer;
      if (!dt) return;
      const files = [...dt.files];
      if (files.length) {
        for (const f of files) void sendFile(f);
        return;
      }
      const list = dt.getData('application/vnd.code.uri-list') || dt.getData('text/uri-list') || dt.getData('text/plain');
      const uris = list
        .split(/\r?\n/)
        .map((s) => s.trim())
        .filter((s) => s && !s.startsWith('#'));
      if (uris.length) post({ type: 'attachUris', uris });
    });
  }
}
