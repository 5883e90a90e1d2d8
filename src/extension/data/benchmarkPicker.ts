/**
 * "Run CodeDance Eval" → "A benchmark from the Hub…": a multi-select of the catalog, then each
 * picked set fetched at its pinned revision into the Hugging Face cache (resumable, checked
 * against the Hub's sha256; the disk space checked first) and converted once, in a cancellable
 * notification that shows the size and the speed. The token comes from SecretStorage (or
 * HF_TOKEN in the window's environment), never from a setting; a gated set's error offers to
 * set it and to open the dataset's page, where its terms are accepted.
 */
import * as vscode from 'vscode';
import { CATALOG, isPinned, type BenchmarkEntry } from '../../core/benchmarks';
import { HubError, hubSettings, prepareBenchmark, progressText, type HubProgress, type PreparedBenchmark } from '../../core/hub';
import { showError } from '../errors';

export const HF_TOKEN_SECRET = 'codedance.huggingFaceToken';
const CANCELLED = 'CodeDance: download cancelled; what was downloaded is kept and resumes next time.';

interface EntryItem extends vscode.QuickPickItem {
  entry: BenchmarkEntry;
}

function entryItem(e: BenchmarkEntry): EntryItem {
  return {
    label: e.name,
    description: `${e.title} · ${e.rows} rows · ${e.scoring === 'math' ? 'math check' : 'judge'}${e.gated ? ' · gated' : ''}`,
    detail: isPinned(e) ? `${e.repo}@${e.revision.slice(0, 7)} · ${e.license}` : `${e.repo} · cannot be downloaded until pinned`,
    entry: e,
  };
}

/** The pinned sets, then under a separator the ones that cannot be downloaded until pinned (docs/benchmarks.md says how). */
function entryItems(entries: readonly BenchmarkEntry[]): (EntryItem | vscode.QuickPickItem)[] {
  const unpinned = entries.filter((e) => !isPinned(e));
  return [
    ...entries.filter((e) => isPinned(e)).map(entryItem),
    ...(unpinned.length ? [{ label: 'not pinned yet', kind: vscode.QuickPickItemKind.Separator }, ...unpinned.map(entryItem)] : []),
  ];
}

/** Asks for a Hugging Face token and keeps it in SecretStorage (empty removes it); true when one was stored. */
export async function askHubToken(context: vscode.ExtensionContext): Promise<boolean> {
  const t = await vscode.window.showInputBox({
    title: 'Hugging Face token',
    prompt: 'A read token from huggingface.co/settings/tokens (hf_…), kept in SecretStorage; empty removes it',
    password: true,
    ignoreFocusOut: true,
    validateInput: (v) => (!v.trim() || v.trim().startsWith('hf_') ? undefined : 'a Hub access token starts with hf_'),
  });
  if (t === undefined) return false;
  if (t.trim()) await context.secrets.store(HF_TOKEN_SECRET, t.trim());
  else await context.secrets.delete(HF_TOKEN_SECRET);
  return !!t.trim();
}

/** Each entry fetched and converted, in a cancellable notification; undefined when cancelled. */
async function prepareWithProgress(context: vscode.ExtensionContext, entries: BenchmarkEntry[]): Promise<PreparedBenchmark[] | undefined> {
  const token = await context.secrets.get(HF_TOKEN_SECRET);
  const settings = hubSettings(token ? { token, tokenSource: 'VS Code SecretStorage' } : {});
  const ctrl = new AbortController();
  const done: PreparedBenchmark[] = [];
  await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'CodeDance: benchmarks', cancellable: true },
    async (progress, cancel) => {
      cancel.onCancellationRequested(() => ctrl.abort());
      for (const [i, entry] of entries.entries()) {
        let shown = 0;
        let lastPct = 0;
        const onProgress = (p: HubProgress) => {
          const now = Date.now();
          if (now - shown < 250 && p.bytes < p.total) return;
          shown = now;
          const pct = p.total ? (100 * p.bytes) / p.total / entries.length : 0;
          progress.report({
            message: `${entry.name} (${i + 1}/${entries.length}): ${progressText(p)}`,
            increment: Math.max(0, pct - lastPct),
          });
          lastPct = pct;
        };
        done.push(
          await prepareBenchmark(entry, { settings, signal: ctrl.signal, onProgress, onPhase: (message) => progress.report({ message }) }),
        );
      }
    },
  );
  return ctrl.signal.aborted ? undefined : done;
}

/** A failed fetch: the message, with "Set Hugging Face Token…" and the dataset's page for a gated set; true to try again. */
async function offerFix(context: vscode.ExtensionContext, e: unknown): Promise<boolean> {
  if (!(e instanceof HubError) || (e.code !== 'gated' && e.code !== 'token')) {
    await showError(vscode, e, 'CodeDance benchmarks');
    return false;
  }
  const page = /open (https?:\/\/[^\s,]+)/.exec(e.message)?.[1];
  const pick = await vscode.window.showErrorMessage(
    `CodeDance benchmarks: ${e.message}`,
    'Set Hugging Face Token…',
    ...(page ? ['Open Dataset Page'] : []),
  );
  if (pick === 'Open Dataset Page' && page) await vscode.env.openExternal(vscode.Uri.parse(page));
  if (pick === 'Set Hugging Face Token…') return askHubToken(context);
  return false;
}

/** The converted parquet files of the benchmarks picked, fetched first when needed; undefined when dismissed, cancelled or failed (shown). */
export async function pickBenchmarkDatasets(context: vscode.ExtensionContext): Promise<string[] | undefined> {
  const picked = await vscode.window.showQuickPick(entryItems(CATALOG), {
    title: 'CodeDance Eval (1/4): benchmarks from the Hugging Face Hub',
    placeHolder: 'tick the sets to evaluate (each downloaded once, then reused)',
    canPickMany: true,
    ignoreFocusOut: true,
  });
  const entries = (picked ?? []).flatMap((p) => ('entry' in p ? [(p as EntryItem).entry] : []));
  if (!entries.length) return undefined;
  for (;;) {
    try {
      const done = await prepareWithProgress(context, entries);
      if (done) return done.map((d) => d.parquet);
      void vscode.window.showInformationMessage(CANCELLED);
      return undefined;
    } catch (e) {
      if (e instanceof HubError && e.code === 'cancelled') {
        void vscode.window.showInformationMessage(CANCELLED);
        return undefined;
      }
      if (!(await offerFix(context, e))) return undefined;
    }
  }
}
