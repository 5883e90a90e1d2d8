/**
 * `Run CodeDance Eval`: a short quick-pick flow (dataset, endpoint(s), workers, judge), prefilled
 * from the settings, then `runEval` from src/core/eval in a cancellable progress notification
 * with counts and accuracy so far; details go to the CodeDance log. A cancelled run keeps its
 * finished samples: running it again resumes. Keys come from SecretStorage only.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { HttpJudge, MATH_SOURCES, runEval, safeName, type EvalSummary } from '../../core/eval';
import { createChatModel, resolveModelName, type ModelClient } from '../../core/model';
import type { ServedEndpoints } from '../../core/serve';
import type { KernelService } from '../chat/kernelService';
import { showError } from '../errors';
import { readSettings, type CodeDanceSettings } from '../settings';
import { askEvalChoices, JUDGE_KEY_SECRET, type EvalChoices, type RunEvalArgs } from './evalWizard';
import { EvalReportPanel, pickResultsFiles } from './reportPanel';

export type { RunEvalArgs } from './evalWizard';
const MODEL_KEY_SECRET = 'codedance.apiKey';

/** What the command takes from the window: the chat's kernels (interpreter, sandbox, Select Kernel's server) and the models served from it. */
export interface EvalCommandDeps {
  kernels: KernelService;
  served: ServedEndpoints;
}

/** Everything a run needs, asked and resolved before it starts. */
interface PreparedEval extends EvalChoices {
  model: ModelClient;
  evalModelName: string;
  modelName: string;
  saveDir: string;
  judge?: HttpJudge;
  python: string;
}

export async function runEvalCommand(
  context: vscode.ExtensionContext,
  log: vscode.LogOutputChannel,
  deps: EvalCommandDeps,
  arg?: vscode.Uri | RunEvalArgs,
): Promise<EvalSummary | undefined> {
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showWarningMessage(
      'CodeDance: this workspace is not trusted, so no eval runs here (it would execute model-written code).',
    );
    return undefined;
  }
  const a: RunEvalArgs = arg instanceof vscode.Uri ? { dataPath: arg.fsPath } : (arg ?? {});
  const s = readSettings();
  const choices = await askEvalChoices(context, a, s, deps.served);
  if (!choices) return undefined;
  // several benchmarks picked: one run each, in turn; a cancelled or failed one ends the series
  let summary: EvalSummary | undefined;
  for (const dataPath of choices.dataPaths) {
    summary = await runOneEval(context, log, deps, a, s, { ...choices, dataPath });
    if (!summary || summary.cancelled) break;
  }
  return summary;
}

/** One dataset's run, with the answers given. */
async function runOneEval(
  context: vscode.ExtensionContext,
  log: vscode.LogOutputChannel,
  deps: EvalCommandDeps,
  a: RunEvalArgs,
  s: CodeDanceSettings,
  choices: EvalChoices,
): Promise<EvalSummary | undefined> {
  const ctrl = new AbortController();
  const run = await prepareEval(context, log, deps, a, s, choices, ctrl.signal);
  if (!run) return undefined;
  log.info(
    `eval: ${run.dataPath} with ${run.evalModelName} at ${run.endpoints.join(', ')}, ${run.workers} worker(s), judge ${run.judge ? run.judge.endpoints.join(', ') : 'none'}, python ${run.python}, results under ${run.saveDir}`,
  );
  const summary = await runWithProgress(context, log, deps.kernels, a, s, run, ctrl);
  if (!summary) return undefined;
  await reportSummary(context, log, summary, !!run.judge, a.openReport);
  return summary;
}

/** The model (and its name), the judge, the interpreter and the results folder; undefined after an error is shown. */
async function prepareEval(
  context: vscode.ExtensionContext,
  log: vscode.LogOutputChannel,
  deps: EvalCommandDeps,
  a: RunEvalArgs,
  s: CodeDanceSettings,
  c: EvalChoices,
  signal: AbortSignal,
): Promise<PreparedEval | undefined> {
  const apiKey = await context.secrets.get(MODEL_KEY_SECRET);
  const model = createChatModel({ endpoints: c.endpoints, apiKey, log: (l) => log.info(`eval model: ${l}`) });
  let evalModelName: string;
  try {
    const served = deps.served.policy();
    const usesServed = served && c.endpoints.every((u) => served.endpoints.some((e) => e.baseUrl === u.replace(/\/+$/, '')));
    evalModelName = a.evalModelName ?? ((usesServed ? served.modelName : s.model) || (await resolveModelName(model, { signal })));
  } catch (e) {
    void showError(vscode, e, 'CodeDance Eval'); // the message names the endpoint
    return undefined;
  }
  const modelName = a.modelName ?? evalModelName;
  const saveDir = a.saveDir ?? path.join(vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? path.dirname(c.dataPath), 'codedance-eval');
  const judge = await evalJudge(context, log, deps.served, s, {
    choice: c.judgeChoice,
    cacheFile: path.join(saveDir, safeName(modelName), 'judge_cache.jsonl'),
    cacheScope: a.judgeCache,
  });
  if (!judge) return undefined;
  let python: string;
  try {
    python = (await deps.kernels.editorPython()).python; // the chat's resolution: setting, Python extension, candidates
  } catch (e) {
    void showError(vscode, e, 'CodeDance Eval');
    return undefined;
  }
  await vscode.workspace.fs.createDirectory(vscode.Uri.file(path.join(saveDir, safeName(modelName))));
  return { ...c, model, evalModelName, modelName, saveDir, judge: judge.judge, python };
}

/** The judge of the chosen endpoint(s) (`{}` for 'none'); undefined after an error is shown. */
async function evalJudge(
  context: vscode.ExtensionContext,
  log: vscode.LogOutputChannel,
  served: ServedEndpoints,
  s: CodeDanceSettings,
  j: { choice: string; cacheFile: string; cacheScope?: RunEvalArgs['judgeCache'] },
): Promise<{ judge?: HttpJudge } | undefined> {
  if (j.choice === 'none') return {};
  try {
    return {
      judge: new HttpJudge({
        endpoints: j.choice,
        // a judge served from this window answers to its --served-model-name, not to codedance.judge.model
        model: served.judge()?.baseUrls.join(',') === j.choice ? served.judge()!.servedModelName : s.judgeModel,
        apiKey: await context.secrets.get(JUDGE_KEY_SECRET),
        cacheFile: j.cacheFile,
        cacheScope: j.cacheScope === 'shared' ? 'shared' : 'sample',
        log: (l) => log.info(`eval judge: ${l}`),
      }),
    };
  } catch (e) {
    void showError(vscode, e, 'CodeDance Eval');
    return undefined;
  }
}

/** Runs the eval in a cancellable progress notification (counts, accuracy, rate); undefined when it failed (shown). */
async function runWithProgress(
  context: vscode.ExtensionContext,
  log: vscode.LogOutputChannel,
  kernels: KernelService,
  a: RunEvalArgs,
  s: CodeDanceSettings,
  run: PreparedEval,
  ctrl: AbortController,
): Promise<EvalSummary | undefined> {
  let summary: EvalSummary | undefined;
  const remoteKernels = await kernels.evalKernelSource();
  await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `CodeDance Eval: ${path.basename(run.dataPath)}`, cancellable: true },
    async (progress, token) => {
      token.onCancellationRequested(() => {
        log.info('eval: cancelled by the user; finished samples are kept, run it again to resume');
        ctrl.abort();
      });
      let lastDone = -1;
      try {
        summary = await runEval({
          dataPath: run.dataPath,
          saveDir: run.saveDir,
          modelName: run.modelName,
          evalModelName: run.evalModelName,
          model: run.model,
          endpoints: run.endpoints,
          numWorkers: run.workers,
          limit: a.limit,
          protocol: s.protocol,
          maxTurns: s.maxTurns,
          sampling: { temperature: s.temperature, top_p: s.topP, max_tokens: s.maxTokens },
          cellTimeoutMs: s.timeoutSeconds * 1000,
          maxObservationTokens: s.maxObservationTokens,
          python: run.python,
          // a Jupyter server chosen with Select Kernel (its notice is logged), else the local pool with the sandbox settings
          ...(remoteKernels ? { kernels: remoteKernels } : { kernelSandbox: kernels.tuning() }),
          judge: run.judge,
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
            progress.report({
              increment: inc,
              message: `${p.done}/${p.total} · acc ${acc} · errors ${p.errors}${p.skipped ? ` · skipped ${p.skipped}` : ''} · ${p.rate.toFixed(2)}/s${eta}`,
            });
          },
        });
      } catch (e) {
        log.error(`eval: ${(e as Error).message}`);
        void showError(vscode, e, 'CodeDance Eval');
      }
    },
  );
  return summary;
}

/** Says how the run ended (the log, a warning about an approximate math check), and opens or offers the report. */
async function reportSummary(
  context: vscode.ExtensionContext,
  log: vscode.LogOutputChannel,
  summary: EvalSummary,
  judged: boolean,
  openReport?: boolean,
): Promise<void> {
  const st = summary.stats;
  const skipped = st.codedance.skipped_samples
    ? `; ${st.codedance.skipped_samples} row(s) skipped (unreadable, no answer, or an image that does not load: see the log)`
    : '';
  const text = `CodeDance Eval ${summary.cancelled ? 'stopped' : 'finished'}: acc ${(st.avg_acc * 100).toFixed(1)}% on ${st.total_samples} sample(s)${judged ? '' : ' (no judge)'}${skipped}${summary.cancelled ? '; run it again to resume' : ''}.`;
  log.info(`eval: ${text} results ${summary.paths.results}`);
  const mc = summary.manifest.math_check;
  if (mc && Object.keys(st.codedance.per_source).some((k) => MATH_SOURCES.includes(k))) {
    log.info(`eval: ${mc.note}`);
    if (mc.mode === 'approximate')
      void vscode.window.showWarningMessage(
        `CodeDance Eval: ${mc.note}, so math scores may differ from the seed's. Install it into the eval's Python for the seed's check: ${mc.fix ?? 'pip install math-verify'}`,
      );
  }
  if (openReport) await EvalReportPanel.show(context, log, [summary.paths.results]);
  else
    void vscode.window.showInformationMessage(text, 'Open Report', 'Show Results File').then(async (b) => {
      if (b === 'Open Report') await EvalReportPanel.show(context, log, [summary.paths.results]);
      if (b === 'Show Results File') await vscode.window.showTextDocument(vscode.Uri.file(summary.paths.results));
    });
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
