/**
 * The question text each built-in set asks, ported line by line from lmms-eval's `doc_to_text`
 * with the task's default `lmms_eval_specific_kwargs` (EvolvingLMMs-Lab/lmms-eval at
 * 75571cfe0fa36ca5ec2e6aa2bb268f9d38295af3; file and line per function, and in
 * docs/benchmarks.md). Quirks are kept: the numbers are only comparable if the text is the same.
 */

/** Python's `str.strip()` (whitespace at both ends). */
const strip = (s: string): string => s.trim();

/** `A. x\nB. y` (the lettering every set here uses for its options). */
export function letteredOptions(options: readonly string[]): string {
  return options.map((o, i) => `${String.fromCharCode(65 + i)}. ${o}`).join('\n');
}

/** The letter of option `i` (0 → 'A'). */
export const optionLetter = (i: number): string => String.fromCharCode(65 + i);

export const VSTAR_POST_PROMPT = "\nAnswer with the option's letter from the given choices directly.";

/**
 * vstar_bench/utils.py:12-41 `vstar_doc_to_text` with _default_template_yaml:16-19 (pre_prompt
 * '', post_prompt above). The options `(A) x (B) y` found in the text are re-lettered `A. x`
 * on their own lines. `$` in the pattern is Python's: the end, or before a final newline.
 * The set's `text` already ends with the same instruction, which lmms-eval's pattern keeps
 * inside the last option: the instruction then appears twice, as lmms-eval sends it.
 */
export function vstarQuestion(text: string): string {
  let question = text;
  const found = [...text.matchAll(/\([A-D]\)\s*([^()]+?)(?=\s*\([A-D]\)|\n?$)/g)].map((m) => m[1]);
  if (found.length) {
    const stem = strip(text.split('(A)')[0]);
    const lines = found.slice(0, 4).map((o, i) => `${optionLetter(i)}. ${strip(o)}`);
    question = `${stem}\n` + lines.join('\n');
  }
  return question + VSTAR_POST_PROMPT;
}

/** hrbench/utils.py:45-53 `hrbench_doc_to_text`: the question, `X. option` lines, then the instruction. */
export function hrbenchQuestion(question: string, options: readonly [string, string][]): string {
  const lines = options.map(([k, v]) => `${k}. ${v}\n`).join('');
  return `${strip(question)}\n${lines}Answer the option letter directly.`;
}

export interface MathVistaProblem {
  question: string;
  unit: string | null;
  choices: string[] | null;
  questionType: string;
  answerType: string;
  precision: number | null;
}

/** mathvista_evals.py:441-456, the `format-prompt` hint; undefined where lmms-eval has none (it would fail). */
function mathvistaHint(p: MathVistaProblem): string | undefined {
  if (p.questionType === 'multi_choice') return "Answer with the option's letter from the given choices directly.";
  if (p.answerType === 'integer') return 'Answer the question using a single integer number.';
  if (p.answerType === 'float' && p.precision === 1)
    return 'Answer the question using a single floating-point number with one decimal place.';
  if (p.answerType === 'float' && p.precision === 2)
    return 'Answer the question using a single floating-point number with two decimal places.';
  if (p.answerType === 'list') return 'Answer the question using a Python list.';
  return undefined;
}

/**
 * mathvista/utils.py:26-45 → mathvista_evals.py:350-560 `create_one_query` with
 * mathvista_testmini_format.yaml:20-25 (shot_type format-prompt, 0 shots, no caption, no OCR):
 * the question (` (Unit: u)` when it has one), `A. choice` lines, the hint; joined by newlines.
 */
export function mathvistaQuestion(p: MathVistaProblem): string | undefined {
  const hint = mathvistaHint(p);
  if (hint === undefined) return undefined;
  const question = p.unit ? `${p.question} (Unit: ${p.unit})` : p.question;
  const choices = p.choices?.length ? letteredOptions(p.choices) : '';
  return strip([question, choices, hint].filter((e) => e !== '').join('\n'));
}

/** mathverse/utils.py:29-41 → mathverse_evals.py:122-182 with shot_type format-prompt, query_type query_wo: the `query_wo` column. */
export function mathverseQuestion(queryWo: string): string {
  return strip(queryWo);
}

export const MATHVISION_MC_PROMPT = "Answer the question with the option's letter from the given choices directly.";

/** mathvision/utils.py:49-64 `mathvision_doc_to_text` with mathvision_testmini.yaml:20-24 (mc_prompt above). */
export function mathvisionQuestion(question: string, options: readonly string[]): string {
  const choices = letteredOptions(options);
  let query = 'Please solve the problem step by step and put your answer in one "\\boxed{}".';
  if (choices) query += `${question}\nChoices: ${choices}` + `\n${MATHVISION_MC_PROMPT}`;
  else query += question;
  return query;
}

export const COUNTBENCH_PRE_PROMPT =
  'Look at the image carefully and count the objects. Answer with just a number, without any additional text. ';

/** countbench/utils.py:36-41 with countbench.yaml:17-20. */
export function countbenchQuestion(question: string): string {
  return `${COUNTBENCH_PRE_PROMPT}${strip(question)}`;
}

/** countbench/utils.py:1-29 `_normalize_count_answer`: the number as text, number words as numerals. */
export function countbenchAnswer(n: unknown): string {
  const words = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'].concat([
    'eleven',
    'twelve',
    'thirteen',
    'fourteen',
    'fifteen',
    'sixteen',
    'seventeen',
    'eighteen',
    'nineteen',
    'twenty',
  ]);
  const s = strip(String(n)).toLowerCase();
  if (s === 'none') return '0';
  const k = words.indexOf(s);
  return k >= 0 ? String(k) : s;
}

/** pixmo_count/utils.py:5-9 with pixmo_count.yaml:17-20. */
export function pixmoQuestion(question: string): string {
  return `${strip(question.replaceAll('<image>', ''))}\nAnswer with a single number.`;
}

/** chartqa/utils.py:5-9 with chartqa.yaml:27-30 (default, not the qwen_vl variant). */
export function chartqaQuestion(question: string): string {
  return `${question}\nAnswer the question with a single word.`;
}
