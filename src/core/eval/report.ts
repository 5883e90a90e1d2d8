/**
 * What the eval report shows, read from a results file (streamed, no vscode): the run's
 * summary and one small row per sample, plus an index of byte offsets so that one sample's
 * full line (trajectory and images) is read only when it is opened.
 */
import { existsSync, openSync, readSync, closeSync, readFileSync, createReadStream } from 'node:fs';
import path from 'node:path';
import type { ReportImage, ReportRun, ReportSampleDetail, ReportSampleRow } from './reportTypes';
import type { Trajectory } from '../trajectory/types';
import type { ImageRef, ResultRecord } from './record';
import { parseResultLine } from './resultsFile';
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

function imageSrc(r: ResultRecord, ref: ImageRef): string {
  const raw = r.multi_modal_data.image[ref.ref] ?? '';
  if (raw.startsWith('data:')) return ref.mime === 'image/jpeg' ? raw.replace(/^data:image\/png/, 'data:image/jpeg') : raw;
  return `data:${ref.mime};base64,${raw}`;
}

export function sampleDetail(r: ResultRecord, run: 'A' | 'B'): ReportSampleDetail {
  const t = r.codedance?.trajectory;
  const img = (x: ImageRef): ReportImage => ({ id: x.id, src: imageSrc(r, x), width: x.width, height: x.height });
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
    inputImages: (t?.inputImages ?? []).map(img),
    turns: (t?.turns ?? []).map((tu) => ({
      index: tu.index,
      content: tu.content,
      latencyMs: tu.latencyMs,
      discarded: tu.discarded,
      observation: tu.observation,
      cells: tu.cells.map((c) => ({ id: c.id, code: c.code, status: c.status, stdout: c.stdout, stderr: c.stderr, error: c.error ? `${c.error.ename}: ${c.error.evalue}` : undefined, durationMs: c.durationMs, images: c.images.map(img) })),
    })),
    output: t ? '' : r.output,
  };
}

/** The stored sample as a `Trajectory` again (images inlined), e.g. to continue it in the chat panel. */
export function recordToTrajectory(r: ResultRecord): Trajectory {
  const t = r.codedance?.trajectory;
  if (!t) throw new Error(`sample ${r.index} has no trajectory (it was ${r.codedance?.outcome ?? r.status})`);
  const data = (x: ImageRef) => {
    const raw = r.multi_modal_data.image[x.ref] ?? '';
    return raw.replace(/^data:[^,]*,/, '');
  };
  const image = (x: ImageRef) => ({ id: x.id, mime: (x.mime === 'image/jpeg' ? 'image/jpeg' : 'image/png') as 'image/png' | 'image/jpeg', data: data(x), width: x.width, height: x.height, source: x.source as never });
  return {
    version: 1,
    id: t.id,
    createdAt: r.codedance.finished_at,
    question: r.question,
    inputImages: t.inputImages.map(image),
    model: t.model,
    endpoints: r.codedance.endpoints,
    protocol: t.protocol,
    sampling: {},
    maxTurns: Math.max(7, t.turns.length),
    messages: [],
    turns: t.turns.map((tu) => ({
      index: tu.index,
      endpoint: tu.endpoint,
      startedAt: r.codedance.finished_at,
      latencyMs: tu.latencyMs,
      firstTokenMs: tu.firstTokenMs,
      content: tu.content,
      toolCalls: [],
      retries: tu.retries,
      discarded: tu.discarded,
      usage: tu.usage,
      cells: tu.cells.map((c) => ({ ...c, images: c.images.map(image) })),
      malformed: [],
    })),
    answer: t.answer,
    status: (t.status as Trajectory['status']) ?? 'answered',
    usage: { promptTokens: r.codedance.tokens.prompt, completionTokens: r.codedance.tokens.completion, totalTokens: r.codedance.tokens.total },
    durationMs: r.codedance.latency_ms,
  };
}
