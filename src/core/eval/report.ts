/**
 * What the eval report shows, read from a results file (streamed, no vscode): the run's
 * summary and one small row per sample, plus an index of byte offsets so that one sample's
 * full line (its trajectory, images from the files beside it) is read only when it is opened.
 * The lines are read in large blocks and their inline images skipped unparsed (lineScan.ts).
 * Each sample counts once, from its last line; the lines that do not count are named in
 * `run.skippedLines` (resultsScan.ts).
 */
import { existsSync, openSync, readSync, closeSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { CodeDanceError } from '../errors';
import type { ReportRun, ReportSample, ReportSampleRow } from './reportTypes';
import type { Trajectory } from '../trajectory/types';
import type { ResultRecord } from './record';
import { forEachLine, withoutSeedImages } from './lineScan';
import { recordTrajectory } from './recordTrajectory';
import { parseResultLine } from './resultsFile';
import { ResultsTally } from './resultsScan';
import { rowReward } from '../reward/rowReward';
import { StatsAccumulator, statsInput } from './stats';

export interface LoadedRun {
  run: ReportRun;
  /** sample index -> [byte offset, byte length] of its line */
  offsets: Map<number, [number, number]>;
}

export async function loadRun(file: string, label = 'A'): Promise<LoadedRun> {
  const offsets = new Map<number, [number, number]>();
  const protocols = new Set<string>(); // the formats the samples' trajectories name
  // each sample once, from its last line (resultsScan.ts); the lines that do not count are named
  const tally = new ResultsTally((r) => {
    const rec = r as unknown as ResultRecord;
    if (typeof rec.codedance?.trajectory?.protocol === 'string') protocols.add(rec.codedance.trajectory.protocol);
    return { stats: statsInput(r), row: rec.codedance?.skipped ? undefined : sampleRow(rec) };
  });
  // the seed's inline images (most of each line) are skipped, not parsed: the summary never reads them
  await forEachLine(file, (buf, start) => {
    const counted = tally.line(withoutSeedImages(buf));
    if (counted) offsets.set(counted.index, [start, buf.length]);
  });
  const scan = tally.finish();
  const acc = new StatsAccumulator();
  const samples: ReportSampleRow[] = [];
  const latencies: number[] = [];
  for (const { stats, row } of scan.byIndex.values()) {
    acc.add(stats);
    if (!row) continue;
    samples.push(row);
    if (stats.codedance?.latency_ms !== undefined) latencies.push(stats.codedance.latency_ms);
  }
  samples.sort((a, b) => a.index - b.index);
  const { manifest, judged, model, dataset } = runIdentity(file);
  const s = acc.finish({ modelName: model, dataSource: '', dataset, judged, skippedLines: scan.skipped });
  return {
    offsets,
    run: {
      label,
      file,
      model,
      dataset,
      ...runProtocol(manifest, protocols),
      scoring: s.codedance.scoring,
      total: s.total_samples,
      avgAcc: s.avg_acc,
      perSource: s.codedance.per_source,
      toolHistogram: s.codedance.tool_calls_histogram,
      turnsHistogram: s.codedance.turns_histogram,
      toolErrorRate: s.codedance.tool_error_rate,
      toolTimeoutRate: s.codedance.tool_timeout_rate,
      sampleErrorRate: s.codedance.sample_error_rate,
      sampleTimeoutRate: s.codedance.sample_timeout_rate,
      skipped: s.codedance.skipped_samples,
      latency: s.codedance.latency_ms,
      latencies,
      samples,
      manifest,
      cells: cellsLabel(manifest),
      ...(s.codedance.skipped_lines
        ? { skippedLines: { count: s.codedance.skipped_lines.count, note: s.codedance.skipped_lines.note } }
        : {}),
    },
  };
}

/** The run's manifest beside its results file, and the model and dataset it names (else the file's name says). */
function runIdentity(file: string): { manifest: Record<string, unknown> | undefined; judged: boolean; model: string; dataset: string } {
  const dir = path.dirname(file);
  const stem = path.basename(file, '.jsonl');
  const manifestFile = path.join(dir, stem.replace(/^result_/, 'manifest_') + '.json');
  const manifest = existsSync(manifestFile) ? (JSON.parse(readFileSync(manifestFile, 'utf8')) as Record<string, unknown>) : undefined;
  const judged = (manifest?.judge as { mode?: string } | undefined)?.mode !== 'no-judge';
  const model = (manifest?.model_name as string | undefined) ?? path.basename(dir);
  const prefix = `result_${model}_`;
  const dataset = ((manifest?.dataset as { stem?: string } | undefined)?.stem ??
    (stem.startsWith(prefix) ? stem.slice(prefix.length) : stem.replace(/^result_/, ''))) as string;
  return { manifest, judged, model, dataset };
}

/** The run's format: its manifest's, else its samples' (all of them when they differ). */
function runProtocol(manifest: Record<string, unknown> | undefined, fromSamples: Set<string>): Pick<ReportRun, 'protocol' | 'protocols'> {
  const all = [...new Set([...(typeof manifest?.protocol === 'string' ? [manifest.protocol] : []), ...fromSamples])];
  return { ...(all.length ? { protocol: all[0] } : {}), ...(all.length > 1 ? { protocols: all } : {}) };
}

/**
 * Why two runs' numbers cannot be compared as they stand, for the A/B view: the formats they
 * spoke differ (a DeepEyes run next to a CodeDance one measures two harnesses, not two models), or
 * one run mixes formats. Empty when nothing stands out.
 */
export function comparisonWarnings(a: ReportRun, b: ReportRun): string[] {
  const out: string[] = [];
  for (const r of [a, b]) if (r.protocols) out.push(`run ${r.label} mixes protocols (${r.protocols.join(', ')})`);
  if (a.protocol && b.protocol && a.protocol !== b.protocol)
    out.push(
      `the runs use different protocols (${a.label}: ${a.protocol}, ${b.label}: ${b.protocol}): each model was asked in a different format`,
    );
  return out;
}

/** The report table's row of a sample. */
function sampleRow(r: ResultRecord): ReportSampleRow {
  const c = r.codedance;
  return {
    index: r.index,
    source: c?.data_source ?? 'default',
    acc: r.acc,
    status: r.status,
    outcome: c?.outcome ?? r.status,
    tries: r.try_count,
    tools: r.tool_call_count,
    toolErrors: c?.tool_errors ?? 0,
    latencyMs: c?.latency_ms ?? 0,
    question: r.question.slice(0, 300),
    answer: (r.judge_result as { answer?: string })?.answer ?? '',
    groundTruth: String(r.ground_truth).slice(0, 300),
    error: c?.error ? `${c.error.name}: ${c.error.message}` : undefined,
    reward: sampleReward(r),
  };
}

/** Where the run's cells ran, from its manifest: one label, or each label when resumed runs ran in different places. */
export function cellsLabel(manifest: Record<string, unknown> | undefined): string | undefined {
  const runs = Array.isArray(manifest?.runs) ? (manifest.runs as { cells?: unknown }[]) : [];
  const labels = [...new Set(runs.map((r) => r?.cells).filter((c): c is string => typeof c === 'string' && c !== ''))];
  if (labels.length > 1) return `mixed: ${labels.join('; ')}`;
  return labels[0] ?? (manifest?.cells as { label?: string } | undefined)?.label;
}

/** The sample's training reward for the report's table and charts (its trajectory's messages are read, not its images). */
function sampleReward(r: ResultRecord): ReportSampleRow['reward'] {
  const w = rowReward(r as unknown as Record<string, unknown>);
  if (!w) return undefined;
  const { cells: _cells, note: _note, ...rest } = w;
  return rest;
}

export function readRecordAt(file: string, at: [number, number]): ResultRecord {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(at[1]);
    readSync(fd, buf, 0, at[1], at[0]);
    return parseResultLine<ResultRecord>(buf.toString('utf8'));
  } finally {
    closeSync(fd);
  }
}

/** One sample for the report's detail view (images inline; a missing image file leaves that image empty). */
export async function reportSample(r: ResultRecord, file: string, run: 'A' | 'B'): Promise<ReportSample> {
  const t = await recordTrajectory(r, file, { messages: false, missing: 'empty' });
  let view: Omit<Trajectory, 'messages'> | undefined;
  if (t) {
    const { messages: _messages, ...rest } = t;
    view = rest;
  }
  return {
    run,
    index: r.index,
    question: r.question,
    groundTruth: String(r.ground_truth),
    prediction: r.pred_ans,
    acc: r.acc,
    status: r.status,
    outcome: r.codedance?.outcome ?? r.status,
    judgeText: r.codedance?.judge_text,
    error: r.codedance?.error ? `${r.codedance.error.name}: ${r.codedance.error.message}` : undefined,
    output: view ? '' : r.output,
    trajectory: view,
    reward: rowReward(r as unknown as Record<string, unknown>),
  };
}

/** The sample's whole trajectory (messages and images inline) with its ground truth as `reference`, e.g. to continue it in the chat panel. */
export async function sampleTrajectory(r: ResultRecord, file: string): Promise<Trajectory> {
  const t = await recordTrajectory(r, file);
  if (!t)
    throw new CodeDanceError(
      'input',
      `sample ${r.index} has no trajectory (it was ${r.codedance?.outcome ?? r.status}${r.codedance ? '' : ": a results file without CodeDance fields, e.g. written by the seed's eval.py"})`,
    );
  // what the eval knows about the question goes with it: the chat shows the answer's reward against it
  const gt = String(r.ground_truth ?? '');
  if (gt.trim()) {
    const judged = (r.judge_result as { answer?: unknown }).answer;
    t.reference = {
      groundTruth: gt,
      dataSource: r.codedance?.data_source ?? '',
      origin: `${path.basename(file)} sample ${r.index}`,
      judged: typeof judged === 'string' ? { answer: judged, acc: r.acc } : undefined,
    };
  }
  return t;
}
