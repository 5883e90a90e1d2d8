/**
 * The questions of `Run CodeDance Eval` (dataset, endpoint(s), workers, judge), prefilled from the
 * settings and from the models served from this window; each one is skipped when the caller
 * (a test, a keybinding with args) passed its answer.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { judgeEndpointsFrom } from '../../core/eval';
import type { ServedEndpoints } from '../../core/serve';
import { endpointListProblem } from '../errors';
import { pickBenchmarkDatasets } from '../data/benchmarkPicker';
import type { CodeDanceSettings } from '../settings';

export const JUDGE_KEY_SECRET = 'codedance.judgeApiKey';

/** What a caller (a test, a keybinding with args) may pass to skip the quick picks. */
export interface RunEvalArgs {
  dataPath?: string;
  endpoints?: string[] | string;
  numWorkers?: number;
  /** a judge URL (comma list), or 'none' for --no-judge */
  judge?: string;
  modelName?: string;
  /** the model name sent to the endpoints (default: the served policy's name, else codedance.model, else the endpoint's one model) */
  evalModelName?: string;
  saveDir?: string;
  limit?: number;
  /** open the report when done (default: offer it in the notification) */
  openReport?: boolean;
  /** 'shared' reuses a judge verdict across samples with the same question, answer and prediction (default 'sample': the seed's behaviour) */
  judgeCache?: 'sample' | 'shared';
}

/** The answers: what to evaluate, against which endpoints, with how many workers, scored by which judge ('none': no judge). */
export interface EvalChoices {
  dataPath: string;
  /** every dataset to evaluate, one run each (several when benchmarks from the Hub were picked); dataPath is the first */
  dataPaths: string[];
  endpoints: string[];
  workers: number;
  judgeChoice: string;
}

/** Asks what `a` does not say; undefined when a question is dismissed. */
export async function askEvalChoices(
  context: vscode.ExtensionContext,
  a: RunEvalArgs,
  s: CodeDanceSettings,
  served: ServedEndpoints,
): Promise<EvalChoices | undefined> {
  const dataPaths = a.dataPath ? [a.dataPath] : await pickDataset(context);
  if (!dataPaths?.length) return undefined;
  const endpointsRaw = Array.isArray(a.endpoints) ? a.endpoints.join(',') : (a.endpoints ?? (await askEndpoints(s, served)));
  if (endpointsRaw === undefined) return undefined;
  const endpoints = endpointsRaw
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  const workers = a.numWorkers ?? (await askWorkers(s));
  if (workers === undefined) return undefined;
  const judgeChoice = a.judge ?? (await askJudge(context, s, served));
  if (judgeChoice === undefined) return undefined;
  return { dataPath: dataPaths[0], dataPaths, endpoints, workers, judgeChoice };
}

async function pickDataset(context: vscode.ExtensionContext): Promise<string[] | undefined> {
  const found = await vscode.workspace.findFiles(
    '**/*.{parquet,jsonl}',
    '{**/node_modules/**,**/result_*.jsonl,**/judge_cache.jsonl}',
    200,
  );
  const browse = '$(folder-opened) Browse…';
  const hub = '$(cloud-download) A benchmark from the Hugging Face Hub…';
  const items: vscode.QuickPickItem[] = [
    ...found.map((u) => ({
      label: path.basename(u.fsPath),
      description: vscode.workspace.asRelativePath(path.dirname(u.fsPath)),
      detail: u.fsPath,
    })),
    { label: browse, detail: '' },
    { label: hub, detail: 'V*, HR-Bench, MathVista, … at pinned revisions: downloaded once (resumable) and converted' },
  ];
  const p = await vscode.window.showQuickPick(items, {
    title: 'CodeDance Eval (1/4): dataset',
    placeHolder: 'a .parquet or .jsonl benchmark file',
    ignoreFocusOut: true,
  });
  if (!p) return undefined;
  if (p.label === hub) return pickBenchmarkDatasets(context);
  if (p.label !== browse) return p.detail ? [p.detail] : undefined;
  const uris = await vscode.window.showOpenDialog({
    canSelectMany: false,
    filters: { Datasets: ['parquet', 'jsonl'] },
    openLabel: 'Evaluate on this dataset',
  });
  return uris?.[0] ? [uris[0].fsPath] : undefined;
}

function askEndpoints(s: CodeDanceSettings, served: ServedEndpoints): Thenable<string | undefined> {
  return vscode.window.showInputBox({
    title: 'CodeDance Eval (2/4): model endpoint(s)',
    prompt: 'OpenAI-compatible base URL(s), comma-separated; several are balanced by requests in flight',
    // a model served from this window (CodeDance: Serve Model on Cluster) is offered first
    value: (served.policy()?.endpoints.map((e) => e.baseUrl) ?? s.endpoints).join(','),
    ignoreFocusOut: true,
    validateInput: endpointListProblem,
  });
}

async function askWorkers(s: CodeDanceSettings): Promise<number | undefined> {
  const w = await vscode.window.showInputBox({
    title: 'CodeDance Eval (3/4): workers',
    prompt: 'Samples evaluated at a time (each has its own Python kernel)',
    value: String(s.numWorkers),
    ignoreFocusOut: true,
    validateInput: (v) => (/^\d+$/.test(v.trim()) && Number(v) >= 1 && Number(v) <= 256 ? undefined : 'a whole number from 1 to 256'),
  });
  return w === undefined ? undefined : Number(w);
}

/** The judge: one served from this window, the configured one, another endpoint, or none; setting the judge's key on the way. */
async function askJudge(context: vscode.ExtensionContext, s: CodeDanceSettings, served: ServedEndpoints): Promise<string | undefined> {
  const configured = judgeEndpointsFrom(s.judgeEndpoint || undefined);
  const items: (vscode.QuickPickItem & { value: string })[] = [];
  const servedJudge = served.judge();
  if (servedJudge)
    items.push({
      label: `$(server-process) Judge served on ${servedJudge.clusterName}`,
      description: `'${servedJudge.servedModelName}' (job ${servedJudge.jobId}) through ${servedJudge.baseUrls.join(', ')}`,
      value: servedJudge.baseUrls.join(','),
    });
  if (configured.length)
    items.push({
      label: `$(law) LLM judge at ${configured.join(', ')}`,
      description: `model '${s.judgeModel}', the seed's prompts`,
      value: configured.join(','),
    });
  items.push({ label: '$(edit) Another judge endpoint…', value: 'enter' });
  items.push({ label: '$(key) Set the judge API key…', description: 'kept in SecretStorage', value: 'key' });
  items.push({
    label: '$(circle-slash) No judge',
    description: 'normalized exact match: not comparable with published (judged) numbers',
    value: 'none',
  });
  for (;;) {
    const p = await vscode.window.showQuickPick(items, { title: 'CodeDance Eval (4/4): scoring', ignoreFocusOut: true });
    if (!p) return undefined;
    if (p.value === 'key') {
      const k = await vscode.window.showInputBox({
        title: 'Judge API key',
        password: true,
        prompt: 'Stored in SecretStorage; empty removes it',
        ignoreFocusOut: true,
      });
      if (k !== undefined) await (k.trim() ? context.secrets.store(JUDGE_KEY_SECRET, k.trim()) : context.secrets.delete(JUDGE_KEY_SECRET));
      continue;
    }
    if (p.value !== 'enter') return p.value;
    const u = await vscode.window.showInputBox({
      title: 'Judge endpoint(s)',
      prompt: 'OpenAI-compatible base URL(s), comma-separated',
      value: 'http://127.0.0.1:18901/v1',
      ignoreFocusOut: true,
    });
    if (u) return u;
  }
}
