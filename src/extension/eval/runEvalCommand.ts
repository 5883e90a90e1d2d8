/**
 * `Run CodeDance Eval`: a short quick-pick flow (dataset, endpoint(s), workers, judge), prefilled
 * from the settings, then `runEval` from src/core/eval in a cancellable progress notification
 * with counts and accuracy so far; details go to the CodeDance log. A cancelled run keeps its
 * finished samples: running it again resumes. Keys come from SecretStorage only.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { HttpJudge, judgeEndpointsFrom, MATH_SOURCES, runEval, safeName, type EvalSummary } from '../../core/eval';
import { registerSecret } from '../../core/kernel/redact';
import { createChatModel, resolveModelName } from '../../core/model';

/** a secret read from SecretStorage, registered for redaction */
function registered(secret: string | undefined): string | undefined {
  registerSecret(secret);
  return secret;
}
import { editorKernelSource, kernelTuningFromSettings, resolveEditorPython } from '../chat/kernelService';
import { endpointListProblem, showError } from '../errors';
import { servedModels } from '../serve/servedModels';
import { readSettings } from '../settings';
import { EvalReportPanel, pickResultsFiles } from './reportPanel';

export const MODEL_KEY_SECRET = 'codedance.apiKey';
export const JUDGE_KEY_SECRET = 'codedance.judgeApiKey';

/** What a caller (a test, a keybinding with args) may pass to skip the quick picks. */
export interface RunEvalArgs {
  dataPath?: string;
  endpoints?: string[] | string;
  numWorkers?: number;
  /** a judge URL (comma list), or 'none' for --no-judge */
  judge?: string;
  modelName?: string;
  saveDir?: string;
  limit?: number;
  /** open the report when done (default: offer it in the notification) */
  openReport?: boolean;
  /** 'shared' reuses a judge verdict across samples with the same question, answer and prediction (default 'sample': the seed's behaviour) */
  judgeCache?: 'sample' | 'shared';
}

async function pickDataset(): Promise<string | undefined> {
  const found = await vscode.workspace.findFiles('**/*.{parquet,jsonl}', '{**/node_modules/**,**/result_*.jsonl,**/judge_cache.jsonl}', 200);
  const browse = '$(folder-opened) Browse…';
  const items: vscode.QuickPickItem[] = [...found.map((u) => ({ label: path.basename(u.fsPath), description: vscode.workspace.asRelativePath(path.dirname(u.fsPath)), detail: u.fsPath })), { label: browse, detail: '' }];
  const p = await vscode.window.showQuickPick(items, { title: 'CodeDance Eval (1/4): dataset', placeHolder: 'a .parquet or .jsonl benchmark file', ignoreFocusOut: true });
  if (!p) return undefined;
  if (p.label !== browse) return p.detail;
  const uris = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { Datasets: ['parquet', 'jsonl'] }, openLabel: 'Evaluate on this dataset' });
  return uris?.[0]?.fsPath;
}

export async function runEvalCommand(context: vscode.ExtensionContext, log: vscode.LogOutputChannel, arg?: vscode.Uri | RunEvalArgs): Promise<EvalSummary | undefined> {
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showWarningMessage('CodeDance: this workspace is not trusted, so no eval runs here (it would execute model-written code).');
    return undefined;
  }
  const a: RunEvalArgs = arg instanceof vscode.Uri ? { dataPath: arg.fsPath } : (arg ?? {});
  const s = readSettings();

  const dataPath = a.dataPath ?? (await pickDataset());
  if (!dataPath) return undefined;

  let endpointsRaw = Array.isArray(a.endpoints) ? a.endpoints.join(',') : a.endpoints;
  if (endpointsRaw === undefined) {
    endpointsRaw = await vscode.window.showInputBox({
      title: 'CodeDance Eval (2/4): model endpoint(s)',
      prompt: 'OpenAI-compatible base URL(s), comma-separated; several are balanced by requests in flight',
      // a model served from this window (CodeDance: Serve Model on Cluster) is offered first
      value: (servedModels.policy()?.endpoints.map((e) => e.baseUrl) ?? s.endpoints).join(','),
      ignoreFocusOut: true,
      validateInput: endpointListProblem,
    });
    if (endpointsRaw === undefined) return undefined;
  }
  const endpoints = endpointsRaw.split(',').map((x) => x.trim()).filter(Boolean);

  let workers = a.numWorkers;
  if (workers === undefined) {
    const w = await vscode.window.showInputBox({
      title: 'CodeDance Eval (3/4): workers',
      prompt: 'Samples evaluated at a time (each has its own Python kernel)',
      value: String(s.numWorkers),
      ignoreFocusOut: true,
      validateInput: (v) => (/^\d+$/.test(v.trim()) && Number(v) >= 1 && Number(v) <= 256 ? undefined : 'a whole number from 1 to 256'),
    });
    if (w === undefined) return undefined;
    workers = Number(w);
  }

  let judgeChoice = a.judge;
  if (judgeChoice === undefined) {
    const configured = judgeEndpointsFrom(s.judgeEndpoint || undefined);
    const items: (vscode.QuickPickItem & { value: string })[] = [];
    const servedJudge = servedModels.judge();
    if (servedJudge) items.push({ label: `$(server-process) Judge served on ${servedJudge.clusterName}`, description: `'${servedJudge.servedModelName}' (job ${servedJudge.jobId}) through ${servedJudge.baseUrls.join(', ')}`, value: servedJudge.baseUrls.join(',') });
    if (configured.length) items.push({ label: `$(law) LLM judge at ${configured.join(', ')}`, description: `model '${s.judgeModel}', the seed's prompts`, value: configured.join(',') });
    items.push({ label: '$(edit) Another judge endpoint…', value: 'enter' });
    items.push({ label: '$(key) Set the judge API key…', description: 'kept in SecretStorage', value: 'key' });
    items.push({ label: '$(circle-slash) No judge', description: 'normalized exact match: not comparable with published (judged) numbers', value: 'none' });
    for (;;) {
      const p = await vscode.window.showQuickPick(items, { title: 'CodeDance Eval (4/4): scoring', ignoreFocusOut: true });
      if (!p) return undefined;
      if (p.value === 'key') {
        const k = await vscode.window.showInputBox({ title: 'Judge API key', password: true, prompt: 'Stored in SecretStorage; empty removes it', ignoreFocusOut: true });
        if (k !== undefined) await (k.trim() ? context.secrets.store(JUDGE_KEY_SECRET, k.trim()) : context.secrets.delete(JUDGE_KEY_SECRET));
        continue;
      }
      if (p.value === 'enter') {
        const u = await vscode.window.showInputBox({ title: 'Judge endpoint(s)', prompt: 'OpenAI-compatible base URL(s), comma-separated', value: 'http://127.0.0.1:18901/v1', ignoreFocusOut: true });
        if (!u) continue;
        judgeChoice = u;
      } else judgeChoice = p.value;
      break;
    }
  }

  const apiKey = await context.secrets.get(MODEL_KEY_SECRET);
  registerSecret(apiKey); // never shown in a cell's output (core/kernel/redact.ts)
  const model = createChatModel({ endpoints, apiKey, log: (l) => log.info(`eval model: ${l}`) });
  const ctrl = new AbortController();
  let evalModelName: string;
  try {
    const served = servedModels.policy();
    const usesServed = served && endpoints.every((u) => served.endpoints.some((e) => e.baseUrl === u.replace(/\/+$/, '')));
    evalModelName = (usesServed ? served.modelName : s.model) || (await resolveModelName(model, { signal: ctrl.signal }));
  } catch (e) {
    void showError(vscode, e, 'CodeDance Eval'); // the message names the endpoint
    return undefined;
  }
  const modelName = a.modelName ?? evalModelName;
  const saveDir = a.saveDir ?? path.join(vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? path.dirname(dataPath), 'codedance-eval');
  let judge: HttpJudge | undefined;
  if (judgeChoice !== 'none') {
    try {
      judge = new HttpJudge({
        endpoints: judgeChoice,
        // a judge served from this window answers to its --served-model-name, not to codedance.judge.model
        model: servedModels.judge()?.baseUrls.join(',') === judgeChoice ? servedModels.judge()!.servedModelName : s.judgeModel,
        apiKey: registered(await context.secrets.get(JUDGE_KEY_SECRET)),
        cacheFile: path.join(saveDir, safeName(modelName), 'judge_cache.jsonl'),
        cacheScope: a.judgeCache === 'shared' ? 'shared' : 'sample',
        log: (l) => log.info(`eval judge: ${l}`),
      });
    } catch (e) {
      void showError(vscode, e, 'CodeDance Eval');
      return undefined;
    }
  }
  let python: string;
  try {
    python = (await resolveEditorPython(log)).python; // the chat's resolution: setting, Python extension, candidates
  } catch (e) {
    void showError(vscode, e, 'CodeDance Eval');
    return undefined;
  }
  await vscode.workspace.fs.createDirectory(vscode.Uri.file(path.join(saveDir, safeName(modelName))));

  log.info(`eval: ${dataPath} with ${evalModelName} at ${endpoints.join(', ')}, ${workers} worker(s), judge ${judge ? judge.endpoints.join(', ') : 'none'}, python ${python}, results under ${saveDir}`);
  let summary: EvalSummary | undefined;
  await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `CodeDance Eval: ${path.basename(dataPath)}`, cancellable: true },
    async (progress, token) => {
      token.onCancellationRequested(() => {
        log.info('eval: cancelled by the user; finished samples are kept, run it again to resume');
        ctrl.abort();
      });
      let lastDone = -1;
      try {
        summary = await runEval({
          dataPath,
          saveDir,
          modelName,
          evalModelName,
          model,
          endpoints,
          numWorkers: workers!,
          limit: a.limit,
          protocol: s.protocol,
          maxTurns: s.maxTurns,
          sampling: { temperature: s.temperature, top_p: s.topP, max_tokens: s.maxTokens },
          cellTimeoutMs: s.timeoutSeconds * 1000,
          maxObservationTokens: s.maxObservationTokens,
          python,
          kernelSandbox: kernelTuningFromSettings(log),
          kernels: await editorKernelSource(log), // a Jupyter server chosen with Select Kernel, else the local pool
          judge,
          signal: ctrl.signal,
          extensionVersion: String(context.extension.packageJSON.version ?? '0.0.0'),
          log: (l) => log.info(`eval: ${l}`),
          onSample: (r) => {
            if (r.codedance.skipped) log.warn(`eval: row ${r.index} skipped (${r.codedance.error?.name}): ${r.codedance.error?.message}`);
            else if (r.status === 'error') log.warn(`eval: sample ${r.index}: ${r.codedance.error?.name}: ${r.codedance.error?.message}`);
          },
          onProgress: (p) => {
            const acc = p.scored ? `${((100 * p.correct) / p.scored).toFixed(1)}%` : '–';
            const eta = p.etaSeconds !== undefined ? ` · ETA ${Math.ceil(p.etaSeconds)} s` : '';
            const inc = lastDone < 0 ? (100 * p.done) / Math.max(1, p.total) : (100 * (p.done - lastDone)) / Math.max(1, p.total);
            lastDone = p.done;
            progress.report({ increment: inc, message: `${p.done}/${p.total} · acc ${acc} · errors ${p.errors}${p.skipped ? ` · skipped ${p.skipped}` : ''} · ${p.rate.toFixed(2)}/s${eta}` });
          },
        });
      } catch (e) {
        log.error(`eval: ${(e as Error).message}`);
        void showError(vscode, e, 'CodeDance Eval');
      }
    },
  );
  if (!summary) return undefined;
  const st = summary.stats;
  const skipped = st.codedance.skipped_samples ? `; ${st.codedance.skipped_samples} row(s) skipped (unreadable, no answer, or an image that does not load: see the log)` : '';
  const text = `CodeDance Eval ${summary.cancelled ? 'stopped' : 'finished'}: acc ${(st.avg_acc * 100).toFixed(1)}% on ${st.total_samples} sample(s)${judge ? '' : ' (no judge)'}${skipped}${summary.cancelled ? '; run it again to resume' : ''}.`;
  log.info(`eval: ${text} results ${summary.paths.results}`);
  const mc = summary.manifest.math_check;
  if (mc && Object.keys(st.codedance.per_source).some((k) => MATH_SOURCES.includes(k))) {
    log.info(`eval: ${mc.note}`);
    if (mc.mode === 'approximate')
      void vscode.window.showWarningMessage(`CodeDance Eval: ${mc.note}, so math scores may differ from the seed's. Install it into the eval's Python for the seed's check: ${mc.fix ?? 'pip install math-verify'}`);
  }
  if (a.openReport) await EvalReportPanel.show(context, log, [summary.paths.results]);
  else
    void vscode.window.showInformationMessage(text, 'Open Report', 'Show Results File').then(async (b) => {
      if (b === 'Open Report') await EvalReportPanel.show(context, log, [summary!.paths.results]);
      if (b === 'Show Results File') await vscode.window.showTextDocument(vscode.Uri.file(summary!.paths.results));
    });
  return summary;
}

export async function openEvalReportCommand(context: vscode.ExtensionContext, log: vscode.LogOutputChannel, arg?: unknown): Promise<void> {
  let files: string[] | undefined;
  if (arg instanceof vscode.Uri) files = [arg.fsPath];
  else if (typeof arg === 'string') files = [arg];
  else if (Array.isArray(arg)) files = arg.map((x) => (x instanceof vscode.Uri ? x.fsPath : String(x)));
  else files = await pickResultsFiles('CodeDance: open eval report', true);
  if (!files?.length) return;
  try {
    await EvalReportPanel.show(context, log, files);
  } catch (e) {
    void vscode.window.showErrorMessage(`CodeDance: cannot open the eval report: ${(e as Error).message}`);
  }
}
