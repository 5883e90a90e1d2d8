/**
 * The dataset viewer: a read-only custom editor for `.parquet` (default) and `.jsonl` (Open
 * With…). The file is never loaded whole: the footer (parquet) or a line index (JSONL) at open,
 * then pages of rows, thumbnails and single rows as the webview asks (core/training-data/
 * datasetView.ts). A row opens as a trajectory rendered by the chat's renderer; "Ask about this
 * row" hands its question and image to the chat. A verify results file beside the dataset
 * (`<name>.verify.jsonl`) adds a verify column and filter.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ResultRecord } from '../../core/eval/record';
import { recordTrajectory } from '../../core/eval/recordTrajectory';
import { readResults } from '../../core/eval/resultsFile';
import { imageExtension, sniffImageMime, type ImageMime } from '../../core/images/sniffImageMime';
import { DatasetView } from '../../core/training-data/datasetView';
import { imageBytes } from '../../core/training-data/replayPlan';
import { rowReference, rowReward } from '../../core/reward/rowReward';
import { rowTrajectory } from '../../core/training-data/rowTrajectory';
import type { Trajectory, TrajectoryReference } from '../../core/trajectory/types';
import {
  datasetRequest,
  type DatasetResponses,
  type FromDataset,
  type ToDataset,
  type VerifyOverlay,
  type VerifyRowRecord,
} from '../../protocol/dataset';
import { exchangeView } from '../../protocol/panelEvents';
import { webviewHtml } from '../webviewHtml';
import { routeRequests } from '../webviewRequests';
import { DATASET_JSONL_VIEW_TYPE, DATASET_VIEW_TYPE, datasetViewTypeFor, verifyResultsFile } from './datasetFiles';

export interface DataHost {
  /** opens the chat with `image` attached and asks `question` */
  /** `reference`: the row's known correct answer, so that the chat shows the answer's training reward */
  ask(question: string, image: { name: string; bytes: Uint8Array } | undefined, reference?: TrajectoryReference): Promise<void>;
  /** runs verify on the file (progress, cancel); resolves when it has finished or was cancelled */
  verify(file: vscode.Uri): Promise<void>;
}

async function overlayOf(file: string): Promise<VerifyOverlay | undefined> {
  const out = verifyResultsFile(file);
  if (!existsSync(out)) return undefined;
  const status: Record<number, string> = {};
  for await (const r of readResults<{ index?: unknown; status?: unknown }>(out))
    if (typeof r.index === 'number' && typeof r.status === 'string') status[r.index] = r.status;
  return { file: out, status };
}

/** The row's line in the verify results file beside the dataset (the last one, if a row was verified twice). */
async function verifyRecord(file: string, index: number): Promise<VerifyRowRecord | undefined> {
  const out = verifyResultsFile(file);
  if (!existsSync(out)) return undefined;
  let found: VerifyRowRecord | undefined;
  for await (const r of readResults<VerifyRowRecord & { index?: unknown }>(out)) if (r.index === index) found = r;
  return found;
}

/** The row's fields other than the conversation and the image bytes, as readable JSON. */
function metaText(row: Record<string, unknown>): string {
  const { messages: _m, prompt: _p, images: _i, codedance: _c, multi_modal_data: _d, ...rest } = row;
  const s = JSON.stringify(
    rest,
    (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v instanceof Uint8Array ? `[${v.length} bytes]` : v),
    1,
  );
  return s.length > 20_000 ? `${s.slice(0, 20_000)}\n…` : s;
}

function firstImage(row: Record<string, unknown>, file: string): { mime: ImageMime; bytes: Uint8Array } | undefined {
  let bytes: Uint8Array;
  if (Array.isArray(row.images) && row.images.length) bytes = imageBytes(row.images[0], file);
  else {
    // an eval results line: the seed's multi_modal_data.image, base64 strings
    const mm = (row.multi_modal_data as { image?: unknown } | undefined)?.image;
    if (!Array.isArray(mm) || typeof mm[0] !== 'string') return undefined;
    bytes = Buffer.from(mm[0], 'base64');
  }
  return { mime: sniffImageMime(bytes) ?? 'image/png', bytes };
}

/** A row's trajectory: the one an eval results line stores, else the one its conversation reads as. */
async function trajectoryOf(
  row: Record<string, unknown>,
  index: number,
  file: string,
): Promise<{ t: Trajectory; row: Record<string, unknown> }> {
  const stored = (row.codedance as { trajectory?: unknown } | undefined)?.trajectory;
  const t = stored ? await recordTrajectory(row as unknown as ResultRecord, file, { missing: 'empty' }) : undefined;
  return { t: t ?? rowTrajectory(row, index, file), row };
}

export class DatasetEditorProvider implements vscode.CustomReadonlyEditorProvider {
  /** parquet: the default editor; JSONL: offered with Open With… (a .jsonl is often text to edit) */
  static readonly viewType = DATASET_VIEW_TYPE;
  static readonly jsonlViewType = DATASET_JSONL_VIEW_TYPE;
  static viewTypeFor(file: string): string {
    return datasetViewTypeFor(file);
  }

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
    private readonly host: DataHost,
  ) {}

  openCustomDocument(uri: vscode.Uri): vscode.CustomDocument {
    return { uri, dispose: () => undefined };
  }

  /** The dataset webview's page, allowed to load its script and styles. */
  private loadWebview(webview: vscode.Webview): void {
    const ext = this.context.extensionUri;
    webview.options = {
      enableScripts: true,
      localResourceRoots: [vscode.Uri.joinPath(ext, 'dist'), vscode.Uri.joinPath(ext, 'media')],
    };
    webview.html = webviewHtml(webview, ext, {
      script: 'dataset.js',
      styles: ['chat.css', 'dataset.css'],
      title: 'CodeDance Dataset',
      bodyClass: 'dataset',
    });
  }

  async resolveCustomEditor(doc: vscode.CustomDocument, panel: vscode.WebviewPanel): Promise<void> {
    const file = doc.uri.fsPath;
    this.loadWebview(panel.webview);
    const t0 = performance.now();
    const opening = DatasetView.open(file);
    opening.then(
      (v) =>
        this.log.info(
          `dataset viewer: ${file}: ${v.info.rowCount} rows, ${v.info.columns.length} columns, opened in ${(performance.now() - t0).toFixed(0)} ms`,
        ),
      (e: Error) => this.log.warn(`dataset viewer: ${file}: ${e.message}`),
    );
    const post = (m: ToDataset) => void panel.webview.postMessage(m);
    let filtering: AbortController | undefined;
    const subs: vscode.Disposable[] = [];
    panel.onDidDispose(() => {
      filtering?.abort();
      for (const d of subs.splice(0)) d.dispose();
    });
    const trajectory = async (index: number) => trajectoryOf(await (await opening).row(index), index, file);
    const route = routeRequests<FromDataset, DatasetResponses>(
      { what: 'dataset viewer', schema: datasetRequest, log: this.log, reply: post },
      {
        ready: async () => {
          const view = await opening;
          return { info: view.info, openMs: performance.now() - t0, verify: await overlayOf(file) };
        },
        page: async (m) => (await opening).page(m.page),
        thumb: async (m) => {
          const img = firstImage(await (await opening).row(m.index), file);
          return { image: img && { mime: img.mime, data: Buffer.from(img.bytes).toString('base64') } };
        },
        filter: async (m) => {
          filtering?.abort();
          const ctrl = (filtering = new AbortController());
          const view = await opening;
          const r = await view.filter(
            m.filter,
            (done) => post({ type: 'filterProgress', seq: m.seq, done, total: view.info.rowCount }),
            ctrl.signal,
          );
          return ctrl.signal.aborted ? undefined : r;
        },
        row: async (m) => {
          const { t, row } = await trajectory(m.index);
          return {
            exchange: exchangeView(t),
            meta: metaText(row),
            promptOnly: t.turns.length === 0,
            verify: await verifyRecord(file, m.index),
            reward: rowReward(row),
          };
        },
        ask: async (m) => {
          const { t, row } = await trajectory(m.index);
          const im = t.inputImages[0];
          await this.host.ask(
            t.question,
            im && { name: `row-${m.index}.${imageExtension(im.mime)}`, bytes: Buffer.from(im.data, 'base64') },
            rowReference(row, `${path.basename(file)} row ${m.index}`),
          );
        },
        verify: async () => {
          await this.host.verify(doc.uri);
          return { overlay: await overlayOf(file) };
        },
      },
    );
    subs.push(panel.webview.onDidReceiveMessage((m: unknown) => void route(m)));
  }
}
