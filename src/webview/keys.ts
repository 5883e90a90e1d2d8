/**
 * The chat's keyboard: Ctrl/Cmd+Enter runs the code waiting for approval (or the batch of earlier
 * cells), Esc skips it, from anywhere in the panel but an open code editor (there Esc leaves the
 * editor for the card's Run button). The buttons stay the one path: the keys click them.
 */

/** the approval card (a cell's, or the kernel rebuild's) still waiting for an answer, latest first */
export function pendingApproval(): HTMLElement | undefined {
  const boxes = [...document.querySelectorAll<HTMLElement>('.approval:not(.answered)')].filter(
    (b) => b.isConnected && !b.closest('[hidden]'),
  );
  return boxes.at(-1);
}

export function wireKeys(announce: (text: string) => void): void {
  document.addEventListener(
    'keydown',
    (ev) => {
      if (ev.isComposing) return;
      const box = pendingApproval();
      if (!box) return;
      const target = ev.target as HTMLElement | null;
      if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        ev.stopPropagation();
        box.querySelector<HTMLElement>('[data-action="approve-run"], [data-action="restore-run"]')?.click();
        announce('Running the code.');
        return;
      }
      if (ev.key === 'Escape') {
        if (target?.matches('textarea.code-editor') && box.contains(target)) {
          // leave the editor, keep the edit: Ctrl+Enter (or Run) runs it
          box.querySelector<HTMLElement>('[data-action="approve-run"]')?.focus();
          ev.preventDefault();
          return;
        }
        ev.preventDefault();
        ev.stopPropagation();
        box.querySelector<HTMLElement>('[data-action="approve-skip"], [data-action="restore-skip"]')?.click();
        announce('Skipped the code.');
      }
    },
    true,
  );
}
