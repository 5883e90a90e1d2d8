/**
 * DeepEyes' judge, as Visual-Agent/DeepEyes eval/judge_result.py at 6c5e796 scores V* (file and
 * lines in docs/protocols.md, the `deepeyes` section): the strings byte for byte (typos such as
 * "Judement" kept), its answer extraction (`pred_ans` of eval_vstar.py lines 265-268, then
 * `\boxed{…}` unwrapped, lines 142-143), its rule check (lines 146-157: a one-letter prediction,
 * a two-character one with a dot, a prediction containing the ground truth) and, for the rest, the
 * LLM judge at temperature 0.0 with no seed and its own verdict reading (lines 159-190).
 *
 * The ground truth is `'A. ' + answer` there (line 140): V*'s correct option is always its first
 * (eval_vstar.py line 273). Generalized here to the correct option's letter: a row whose answer
 * is its `options[k]` gets `<letter k>. <answer>` (the repository's own string for k = 0); a row
 * whose answer is already lettered (`B. text`, the catalog's V* and HR-Bench rows) keeps it; a
 * one-letter answer with options gets the option's text. With no letter known (no options, a
 * free-form answer) the ground truth is the answer as it is and the two letter rules are skipped
 * (the repository's `'A'` test would call any one-letter `A` right).
 */
import { createHash } from 'node:crypto';
import { deepeyesAnswer } from '../protocol/deepeyes';
import { pyStrip } from '../protocol/extract';
import { codePointLength, normalizedAcc, parseVerdict, rewardParts, type JudgeResult, type ScoreDetail, type ScoreOptions } from './score';

/** judge_result.py `get_chat_template()` (lines 47-53): the triple-quoted text, `\n\n` escapes included */
export const DEEPEYES_JUDGE_TEMPLATE =
  "\nBelow are two answers to a question. Question is [Question], [Standard Answer] is the standard answer to the question, and [Model_answer] is the answer extracted from a model's output to this question.  Determine whether these two answers are consistent.\nNote that [Model Answer] is consistent with [Standard Answer] whenever they are essentially the same. If the meaning is expressed in the same way, it is considered consistent, for example, 'pink' and 'it is pink'.\nIf they are consistent, Judement is 1; if they are different, Judement is 0. Just output Judement and don't output anything else.\n\n\n";

/** judge_result.py `get_gpt4_score_ICE()` (lines 55-105): seven examples, their standard answers lettered 'A. ' */
export const DEEPEYES_JUDGE_EXAMPLES: readonly string[] = [
  '\n[Question]: Is the countertop tan or blue?\n[Standard Answer]: A. The countertop is tan.\n[Model_answer] : tan\nJudgement: 1\n',
  '\n[Question]: On which side of the picture is the barrier?\n[Standard Answer]: A. The barrier is on the left side of the picture.\n[Model_answer] : A\nJudgement: 1\n',
  '\n[Question]: Is the kite brown and large?\n[Standard Answer]: A. Yes, the kite is brown and large.\n[Model_answer] : Yes\nJudgement: 1\n',
  '\n[Question]: Are the spots on a giraffe?\n[Standard Answer]: A. No, the spots are on a banana.\n[Model_answer] : no\nJudgement: 1\n',
  '\n[Question]: Who is wearing pants?\n[Standard Answer]: A. The boy is wearing pants.\n[Model_answer] : C. The girl in the picture is wearing pants.\nJudgement: 0\n',
  '\n[Question]: Is the man phone both blue and closed?\n[Standard Answer]: A. Yes, the man phone is both blue and closed.\n[Model_answer] : No.\nJudgement: 0\n',
  '\n[Question]: What color is the towel in the center of the picture?\n[Standard Answer]: A. The towel in the center of the picture is blue.\n[Model_answer] : The towel in the center of the picture is pink.\nJudgement: 0\n',
];

/** the judge request's system message (line 165) */
export const DEEPEYES_JUDGE_SYSTEM = 'You are a helpful assistant.';
/** `temperature=0.0` (line 168); no seed is sent */
export const DEEPEYES_JUDGE_TEMPERATURE = 0;

/** sha256 over every string and the temperature above: two runs with the same hash were judged alike */
export const DEEPEYES_JUDGE_PROMPT_HASH = createHash('sha256')
  .update(
    JSON.stringify({
      style: 'deepeyes',
      system: DEEPEYES_JUDGE_SYSTEM,
      template: DEEPEYES_JUDGE_TEMPLATE,
      examples: DEEPEYES_JUDGE_EXAMPLES,
      t: DEEPEYES_JUDGE_TEMPERATURE,
    }),
  )
  .digest('hex');

/** Which judge scores a run: the seed's (`compute_score` per data_source) or DeepEyes' judge_result.py. */
export type JudgeStyle = 'seed' | 'deepeyes';
export const JUDGE_STYLES: readonly JudgeStyle[] = ['seed', 'deepeyes'];

/** A run's judge unless one is chosen: DeepEyes' for the `deepeyes` protocol (its published numbers are judged so), else the seed's. */
export function defaultJudgeStyle(protocolId: string): JudgeStyle {
  return protocolId === 'deepeyes' ? 'deepeyes' : 'seed';
}

/** `get_prompt(predict_str, ground_truth, question)` (lines 107-121): each example followed by two newlines, then the test prompt */
export function deepeyesJudgePrompt(prediction: string, groundTruth: string, question: string): string {
  let demo = DEEPEYES_JUDGE_TEMPLATE;
  for (const example of DEEPEYES_JUDGE_EXAMPLES) demo += example + '\n\n';
  return `${demo}\n[Question]: ${question}\n[Standard Answer]: ${groundTruth}\n[Model_answer] : ${prediction}\nJudgement:`;
}

const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** The standard answer the judge is shown, and the correct option's letter when one is known (see the module comment). */
export function deepeyesGroundTruth(answer: string, options?: readonly string[]): { groundTruth: string; letter?: string } {
  const k = options ? options.indexOf(answer) : -1;
  if (k >= 0 && k < LETTERS.length) return { groundTruth: `${LETTERS[k]}. ${answer}`, letter: LETTERS[k] };
  const lettered = /^([A-Z])\. /.exec(answer);
  if (lettered) return { groundTruth: answer, letter: lettered[1] };
  const j = answer.length === 1 ? LETTERS.indexOf(answer) : -1;
  if (options && j >= 0 && j < options.length) return { groundTruth: `${answer}. ${options[j]}`, letter: answer };
  return { groundTruth: answer };
}

/**
 * `pred_ans` as the judge reads it: the last reply's answer (eval_vstar.py 265-268: between the
 * first `<answer>` and the next `</answer>`, stripped, else the whole reply), then
 * `pred_ans.split('\\boxed{')[1].split('}')[0]` when it holds `\boxed` (lines 142-143). A `\boxed`
 * without `{` made the repository's split raise (IndexError): `error` says so.
 */
export function deepeyesPrediction(lastReply: string): { pred: string; error?: string } {
  const pred = deepeyesAnswer(lastReply);
  if (!pred.includes('\\boxed')) return { pred };
  const parts = pred.split('\\boxed{');
  if (parts.length < 2)
    return {
      pred,
      error: "IndexError: list index out of range (the answer holds '\\boxed' without '{', which judge_result.py line 143 cannot split)",
    };
  return { pred: parts[1].split('}')[0] };
}

/** The rule check (lines 146-157): 1 or 0 when it decides, undefined when the LLM judge is asked. */
export function deepeyesRule(pred: string, groundTruth: string, letter: string | undefined): number | undefined {
  const n = codePointLength(pred);
  if (letter !== undefined && n === 1) return pred === letter ? 1 : 0;
  if (letter !== undefined && n === 2 && pred.includes('.')) return pred.includes(letter) ? 1 : 0;
  if (pred.includes(groundTruth)) return 1;
  return undefined;
}

/**
 * The verdict as lines 170-190 read it: the reply stripped; with `Judgement:` the text after the
 * last one, stripped, is right when it holds a `1`, wrong when it holds a `0`; without it the
 * reply must be exactly `1` or `0`. Anything else is wrong (`unparsed`: the repository's
 * "resp format error" warning).
 */
export function parseDeepeyesVerdict(text: string): { acc: number; unparsed: boolean } {
  let r = pyStrip(text);
  if (r.includes('Judgement:')) {
    r = pyStrip(r.split('Judgement:').pop()!);
    if (r.includes('1')) return { acc: 1, unparsed: false };
    if (r.includes('0')) return { acc: 0, unparsed: false };
    return { acc: 0, unparsed: true };
  }
  if (r === '1') return { acc: 1, unparsed: false };
  if (r === '0') return { acc: 0, unparsed: false };
  return { acc: 0, unparsed: true };
}

/** What DeepEyes' judge needs of a sample: its question, its answer and options, and the run's last reply. */
export interface DeepeyesSample {
  question: string;
  answer: string;
  options?: readonly string[];
}

/**
 * One sample scored as judge_result.py's `process(line)` scores it. The result has the seed's
 * fields: `acc` is DeepEyes' `acc_reward`, `score` equals it (its judge has no format term:
 * `format_r` 0), the tool parts are the seed's over the same reply; `answer` is the `pred_ans`
 * judged and `ground_truth` the standard answer shown. Without a judge the undecided rest is
 * scored by normalized match; a judge that fails scores 0 and says so.
 */
export async function scoreDeepeyes(
  lastReply: string,
  sample: DeepeyesSample,
  opts: ScoreOptions = {},
): Promise<{ result: JudgeResult; detail: ScoreDetail }> {
  const { groundTruth, letter } = deepeyesGroundTruth(sample.answer, sample.options);
  const done = (acc: number, detail: ScoreDetail, answer: string) => ({
    result: { ...rewardParts('default', lastReply, acc, false), ground_truth: groundTruth, answer },
    detail,
  });
  const { pred, error } = deepeyesPrediction(lastReply);
  if (error) return done(0, { scorer: 'deepeyes', method: 'judge-error', judgeError: error }, pred);
  const ruled = deepeyesRule(pred, groundTruth, letter);
  if (ruled !== undefined) return done(ruled, { scorer: 'deepeyes', method: 'rule' }, pred);
  if (!opts.judge) return done(normalizedAcc('default', pred, groundTruth), { scorer: 'deepeyes', method: 'normalized-match' }, pred);
  try {
    const r = await opts.judge.ask(
      {
        kind: 'deepeyes',
        prompt: deepeyesJudgePrompt(pred, groundTruth, sample.question),
        system: DEEPEYES_JUDGE_SYSTEM,
        temperature: DEEPEYES_JUDGE_TEMPERATURE,
        randomSeed: false,
        question: sample.question,
        answer: groundTruth,
        prediction: pred,
        sample: opts.sample,
      },
      opts.signal,
    );
    const v = opts.strictVerdict ? parseVerdict(r.text, true) : parseDeepeyesVerdict(r.text);
    const detail: ScoreDetail = { scorer: 'deepeyes', method: 'judge', judgeText: r.text, cached: r.cached };
    if (v.unparsed) detail.unparsed = true;
    return done(v.acc, detail, pred);
  } catch (e) {
    return done(0, { scorer: 'deepeyes', method: 'judge-error', judgeError: (e as Error).message }, pred);
  }
}
