/**
 * What the eval report shows, read from a results file (streamed, no vscode): the run's
 * summary and one small row per sample, plus an index of byte offsets so that one sample's
 * full line (its trajectory, images from the files beside it) is read only when it is opened.
 */
import { existsSync, openSync, readSync, closeSync, readFileSync, createReadStream } from 'node:fs';
import path from 'node:path';
import { CodeDanceError } from '../errors';
import type { ReportRun, ReportSample, ReportSampleRow } from './reportTypes';
import type { Trajectory } from '../trajectory/types';
import type { ResultRecord } from './record';
import { recordTrajectory } from './recordTrajectory';
import { parseResultLine } from './resultsFile';
import { rowReward } from '../training-data/rowReward';
import { StatsAccumulator } from './stats';

export interface LoadedRun {
  run: ReportRun;
  /** sample index -> [byte offset, byte length] of its line */
  offsets: Map<number, [number, number]>;
}

export async function loadRun(file: string, label = 'A'): Promise<LoadedRun> {
  const acc = new StatsAccumulator();
  const samples: ReportSampleRow[] = [];
  const latencies: number[] = [];
  const offsets = new Map<number, [number, number]>();
  let offset = 0;
  let rest = Buffer.alloc(0);
  const onLine = (buf: Buffer, start: number) => {
    if (!buf.length) return;
    let r: ResultRecord;
    try {
      r = parseResultLine<ResultRecord>(buf.toString('utf8'));
    } catch {
      return; // a line cut by a kill
    }
    if (typeof r.index !== 'number') return;
    offsets.set(r.index, [start, buf.length]);
    acc.add(r);
    const c = r.codedance;
    if (c?.skipped) return;
    if (c?.latency_ms !== undefined) latencies.push(c.latency_ms);
    samples.push({
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
    });
  };
  await new Promise<void>((resolve, reject) => {
    createReadStream(file)
      .on('data', (chunk) => {
        let buf = rest.length ? Buffer.concat([rest, chunk as Buffer]) : (chunk as Buffer);
        let base = offset - rest.length;
        let i: number;
        while ((i = buf.indexOf(10)) >= 0) {
          onLine(buf.subarray(0, i), base);
          base += i + 1;
          buf = buf.subarray(i + 1);
        }
        rest = Buffer.from(buf);
        offset += (chunk as Buffer).length;
      })
      .on('error', reject)
      .on('end', () => resolve());
  });
  samples.sort((a, b) => a.index - b.index);
  const dir = path.dirname(file);
  const stem = path.basename(file, '.jsonl');
  const manifestFile = path.join(dir, stem.replace(/^result_/, 'manifest_') + '.json');
  const manifest = existsSync(manifestFile) ? (JSON.parse(readFileSync(manifestFile, 'utf8')) as Record<string, unknown>) : undefined;
  const judged = (manifest?.judge as { mode?: string } | undefined)?.mode !== 'no-judge';
  const model = (manifest?.model_name as string | undefined) ?? path.basename(dir);
  const prefix = `result_${model}_`;
  const dataset = ((manifest?.dataset as { stem?: string } | undefined)?.stem ?? (stem.startsWith(prefix) ? stem.slice(prefix.length) : stem.replace(/^result_/, ''))) as string;
  const s = acc.finish({ modelName: model, dataSource: '', dataset, judged });
  return {
    offsets,
    run: {
      label,
      file,
      model,
      dataset,
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
    },
  };
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
  if (!t) throw new CodeDanceError('input', `sample ${r.index} has no trajectory (it was ${r.codedance?.outcome ?? r.status}${r.codedance ? '' : ': a results file without CodeDance fields, e.g. written by the seed\'s eval.py'})`);
  // what the eval knows about the question goes with it: the chat shows the answer's reward against it
  const gt = String(r.ground_truth ?? '');
  if (gt.trim()) {
    const judged = (r.judge_result as { answer?: unknown }).answer;
    t.reference = { groundTruth: gt, dataSource: r.codedance?.data_source ?? '', origin: `${path.basename(file)} sample ${r.index}`, judged: typeof judged === 'string' ? { answer: judged, acc: r.acc } : undefined };
  }
  return t;
}
