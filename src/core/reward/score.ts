/**
 * Scoring per data_source exactly as the seed's `compute_score` routes it:
 *   - `thinklite_eureka`, `xince` -> math: symbolic check, then the math judge;
 *   - `vstar`, `vl_agent`, `chart` -> default judge; every other non-empty source -> the
 *     (identical) "SA1B" judge; an empty source -> default.
 * The returned `judge_result` has the seed's fields (`score, acc, tool_step, tool_success_rate,
 * tool_reward_component, format_r, ground_truth, answer`); NaN is written as null (JSON has
 * no NaN; the seed's Python writes a bare `NaN` token).
 */
import { mathEquivalent, normalizeMathAnswer } from './mathVerify';
import { JUDGE_SYSTEM_PROMPT, JUDGE_TEMPERATURE, judgePrompt, MATH_JUDGE_TEMPERATURE, mathJudgePrompt } from './judgePrompts';
import type { Judge, SymbolicMathCheck } from './types';

export const MATH_SOURCES = ['thinklite_eureka', 'xince'];
export const DEFAULT_SOURCES = ['vstar', 'vl_agent', 'chart'];

export type Scorer = 'default' | 'sa1b' | 'math';

export interface JudgeResult {
  score: number;
  acc: number;
  tool_step: number[];
  tool_success_rate: number | null;
  tool_reward_component: number;
  format_r: number;
  ground_truth: string;
  answer: string;
}

export interface ScoreDetail {
  /** `deepeyes`: DeepEyes' judge (deepeyesJudge.ts), whatever the data_source */
  scorer: Scorer | 'deepeyes';
  /** how acc was decided (`rule`: DeepEyes' rule check, without the LLM judge) */
  method: 'judge' | 'symbolic' | 'no-answer' | 'too-long' | 'normalized-match' | 'judge-error' | 'rule';
  judgeText?: string;
  cached?: boolean;
  judgeError?: string;
  /** the verdict could not be read strictly (strict mode) */
  unparsed?: boolean;
  /** math rows: which symbolic check ran (the seed's math_verify, or the approximate JS one) */
  mathCheck?: 'math_verify' | 'approximate';
}

export interface ScoreOptions {
  /** absent = `--no-judge`: normalized exact match (and the symbolic check for math) */
  judge?: Judge;
  /** strict verdict parsing: the text after the last "Judgement:" must be exactly 0 or 1 */
  strictVerdict?: boolean;
  signal?: AbortSignal;
  /** the sample's identity for the judge's verdict cache (see JudgeRequest.sample) */
  sample?: string;
  /** the math rows' symbolic check (absent: the approximate JS one) */
  math?: SymbolicMathCheck;
}

/** Python's `len(s)`: code points, not UTF-16 units (an emoji counts 1, not 2). */
export function codePointLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

export function scorerFor(dataSource: string): Scorer {
  if (DEFAULT_SOURCES.includes(dataSource)) return 'default';
  if (MATH_SOURCES.includes(dataSource)) return 'math';
  if (dataSource) return 'sa1b';
  return 'default';
}

const count = (s: string, sub: string) => s.split(sub).length - 1;

/** `re.findall(r"<tool_response>(.*?)</tool_response>", s, re.DOTALL)` */
function toolResponses(s: string): string[] {
  return [...s.matchAll(/<tool_response>(.*?)<\/tool_response>/gs)].map((m) => m[1]);
}
const TOOL_ERROR_STRINGS = ['Code executed successfully. No explicit output or figures produced.', 'Error', 'timeout'];

/** Each `<tool_response>`'s own score, in order: −0.5 for a failed call (the seed's error strings), else 0. */
export function toolCallScores(s: string): number[] {
  return toolResponses(s).map((r) => (TOOL_ERROR_STRINGS.some((e) => r.includes(e)) ? -0.5 : 0));
}

/** the seed's `tool_reward_step` (discount 0.2) */
export function toolRewardStep(s: string): number[] {
  const scores = toolCallScores(s);
  scores.push(0);
  const out = new Array<number>(scores.length).fill(1);
  out[out.length - 1] = scores[scores.length - 1];
  for (let i = scores.length - 2; i >= 0; i--) out[i] = scores[i] + 0.2 * out[i + 1];
  return out;
}

/** the seed's `tool_reward`, NaN (null) when there are no calls */
export function toolSuccessRate(s: string): number | null {
  const rs = toolCallScores(s);
  if (!rs.length) return null;
  return rs.filter((x) => x === 0).length / rs.length;
}

/**
 * The answer and the format error of a solution, by the scorer's rules: default/SA1B: the first
 * `<answer>`, exactly one `<answer>`/`</answer>` pair, balanced `<think>` tags, an answer under
 * 1000 characters; math: the last `<answer>` after the last `</think>`, balanced `<think>` tags,
 * no `tool_call` after the last `</think>`.
 */
export function answerAndFormat(scorer: Scorer, s: string): { answer: string | undefined; formatError: boolean } {
  let fmt = count(s, '<think>') !== count(s, '</think>');
  if (scorer === 'math') {
    const noThink = s.split('</think>').pop()!.trim();
    if (noThink.includes('tool_call')) fmt = true;
    const answers = [...noThink.matchAll(/<answer>(.*?)<\/answer>/gs)].map((m) => m[1]);
    if (!answers.length) return { answer: undefined, formatError: true };
    return { answer: answers[answers.length - 1].trim(), formatError: fmt };
  }
  if (count(s, '<answer>') !== 1 || count(s, '</answer>') !== 1) fmt = true;
  const answer = extractAnswer(s);
  if (answer === undefined) return { answer: undefined, formatError: true };
  if (codePointLength(answer) >= 1000) fmt = true;
  return { answer, formatError: fmt };
}

/** The reward's parts once acc is decided (the seed's `compute_score` tail): score, tool parts, format_r. */
export function rewardParts(scorer: Scorer, s: string, acc: number, formatError: boolean): Omit<JudgeResult, 'ground_truth' | 'answer'> {
  const formatR = formatError ? -1 : 0;
  const rate = toolSuccessRate(s);
  const math = scorer === 'math';
  const comp = rate === null ? 0 : (math ? (acc > 0.5 ? 2 : 1) : acc > 0.5 ? 1.5 : 0.5) * rate;
  return {
    score: math ? acc * 1.2 + 0.4 * formatR : acc * 1.0 + 0.2 * formatR,
    acc,
    tool_step: toolRewardStep(s),
    tool_success_rate: rate,
    tool_reward_component: comp,
    format_r: formatR,
  };
}

/** The seed's verdict reading: cut after the last "Judgement:", any "1" -> 1 (substring test). */
export function parseVerdict(text: string, strict = false): { acc: number; unparsed: boolean } {
  let r = text.trim();
  if (r.includes('Judgement:')) r = r.split('Judgement:').pop()!.trim();
  if (strict) {
    const m = /^\**\s*([01])\s*\**\.?$/.exec(r);
    return m ? { acc: Number(m[1]), unparsed: false } : { acc: 0, unparsed: true };
  }
  if (r.includes('1')) return { acc: 1, unparsed: false };
  if (r.includes('0')) return { acc: 0, unparsed: false };
  return { acc: 0, unparsed: true };
}

/** The seed's math verdict: the text after "## Equivalence Judgement", lower-cased: "true" and not "false". */
export function parseMathVerdict(text: string): { acc: number; unparsed: boolean } {
  const j = text.trim().split('## Equivalence Judgement').pop()!.toLowerCase();
  if (j.includes('true') && !j.includes('false')) return { acc: 1, unparsed: false };
  if (j.includes('false') && !j.includes('true')) return { acc: 0, unparsed: false };
  return { acc: 0, unparsed: true };
}

/** `--no-judge`: lower-case, punctuation and articles removed, whitespace collapsed. */
export function normalizeAnswer(s: string): string {
  return s
    .toLowerCase()
    .replace(/<[^>]+>/g, ' ')
    .replace(/[^\p{L}\p{N}.\s-]/gu, ' ')
    .replace(/\b(a|an|the)\b/g, ' ')
    .replace(/(\d)\.(?!\d)/g, '$1')
    .replace(/\.(?!\d)/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** `--no-judge` match: normalized equality, or a lone option letter "(B)" vs "B", or equal numbers. */
export function normalizedMatch(prediction: string, groundTruth: string): boolean {
  const p = normalizeAnswer(prediction);
  const g = normalizeAnswer(groundTruth);
  if (!p || !g) return false;
  if (p === g) return true;
  const pn = Number(p);
  const gn = Number(g);
  return Number.isFinite(pn) && Number.isFinite(gn) && Math.abs(pn - gn) <= 1e-9 * Math.max(1, Math.abs(gn));
}

/** `--no-judge` acc: the normalized match (math answers normalized as math first; the symbolic check is separate). */
export function normalizedAcc(scorer: Scorer, answer: string, groundTruth: string): number {
  if (scorer === 'math') return normalizedMatch(normalizeMathAnswer(answer), normalizeMathAnswer(groundTruth)) ? 1 : 0;
  return normalizedMatch(answer, groundTruth) ? 1 : 0;
}

function extractAnswer(s: string): string | undefined {
  const m = /<answer>(.*?)<\/answer>/s.exec(s);
  return m ? m[1].trim() : undefined;
}

/**
 * `compute_score(data_source, solution_str, ground_truth, {question})` for one sample: the
 * solution is the last assistant message. Judge failures give acc 0 like the seed, and say so
 * in the detail.
 */
export async function computeScore(
  dataSource: string,
  solution: string,
  groundTruth: string,
  question: string,
  opts: ScoreOptions = {},
): Promise<{ result: JudgeResult; detail: ScoreDetail }> {
  const scorer = scorerFor(dataSource);
  return scorer === 'math' ? scoreMath(solution, groundTruth, question, opts) : scoreDefault(scorer, solution, groundTruth, question, opts);
}

async function scoreDefault(
  scorer: Scorer,
  s: string,
  gt: string,
  question: string,
  opts: ScoreOptions,
): Promise<{ result: JudgeResult; detail: ScoreDetail }> {
  const parsed = answerAndFormat(scorer, s);
  const answer = parsed.answer ?? '';
  const detail: ScoreDetail = { scorer, method: 'judge' };
  let acc: number;
  if (!opts.judge) {
    detail.method = 'normalized-match';
    acc = normalizedAcc(scorer, answer, gt);
  } else {
    // the seed asks the judge even for an empty answer
    try {
      const r = await opts.judge.ask(
        {
          kind: 'default',
          prompt: judgePrompt(answer, gt, question),
          system: JUDGE_SYSTEM_PROMPT,
          temperature: JUDGE_TEMPERATURE,
          question,
          answer: gt,
          prediction: answer,
          sample: opts.sample,
        },
        opts.signal,
      );
      detail.judgeText = r.text;
      detail.cached = r.cached;
      const v = r.text ? parseVerdict(r.text, opts.strictVerdict) : { acc: 0, unparsed: true };
      acc = v.acc;
      if (v.unparsed) detail.unparsed = true;
    } catch (e) {
      detail.method = 'judge-error';
      detail.judgeError = (e as Error).message;
      acc = 0;
    }
  }
  if (codePointLength(answer) >= 1000) {
    acc = 0;
    detail.method = 'too-long';
  }
  return { result: { ...rewardParts(scorer, s, acc, parsed.formatError), ground_truth: gt, answer }, detail };
}

async function scoreMath(
  s: string,
  gt: string,
  question: string,
  opts: ScoreOptions,
): Promise<{ result: JudgeResult; detail: ScoreDetail }> {
  const parsed = answerAndFormat('math', s);
  let answer = '';
  let acc = 0;
  const detail: ScoreDetail = { scorer: 'math', method: 'symbolic' };
  if (parsed.answer === undefined) detail.method = 'no-answer';
  else {
    answer = parsed.answer;
    // the seed: rule_math_verify(ground_truth, model_answer), the raw strings
    const equal = await (opts.math ? opts.math.equivalent(gt, answer) : mathEquivalent(gt, answer));
    detail.mathCheck = opts.math?.info.mode ?? 'approximate';
    if (equal) acc = 1;
    else if (!opts.judge) {
      detail.method = 'normalized-match';
      acc = normalizedAcc('math', answer, gt);
    } else {
      detail.method = 'judge';
      try {
        const r = await opts.judge.ask(
          {
            kind: 'math',
            prompt: mathJudgePrompt(question, gt, answer),
            temperature: MATH_JUDGE_TEMPERATURE,
            question,
            answer: gt,
            prediction: answer,
            sample: opts.sample,
          },
          opts.signal,
        );
        detail.judgeText = r.text;
        detail.cached = r.cached;
        const v = parseMathVerdict(r.text);
        acc = v.acc;
        if (v.unparsed) detail.unparsed = true;
      } catch (e) {
        detail.method = 'judge-error';
        detail.judgeError = (e as Error).message;
      }
    }
  }
  return { result: { ...rewardParts('math', s, acc, parsed.formatError), ground_truth: gt, answer }, detail };
}
