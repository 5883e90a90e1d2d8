/**
 * The seed's judge prompts, verbatim (verl/utils/reward_score/llm_judge_qwen_tool_step.py:
 * `get_chat_template`, `get_gpt4_score_ICE`, `get_prompt`, `MATH_VERIFY_PROMPT`). They are part
 * of the scoring protocol: published numbers were judged with exactly these strings (typos
 * such as "Judement" included). `JUDGE_PROMPT_HASH` covers every string and temperature here.
 */
import { createHash } from 'node:crypto';

export const JUDGE_SYSTEM_PROMPT = 'You are a helpful assistant.';

export const JUDGE_CHAT_TEMPLATE =
  "\nBelow are two answers to a question. Question is [Question], [Standard Answer] is the standard answer to the question, and [Model_answer] is the answer extracted from a model's output to this question.  Determine whether these two answers are consistent.\nNote that [Model Answer] is consistent with [Standard Answer] whenever they are essentially the same. If the meaning is expressed in the same way, it is considered consistent, for example, 'pink' and 'it is pink'.\nIf they are consistent, Judement is 1; if they are different, Judement is 0. Just output Judement and don't output anything else.\n\n\n";

export const JUDGE_EXAMPLES: readonly string[] = [
  '\n[Question]: Is the countertop tan or blue?\n[Standard Answer]: The countertop is tan.\n[Model_answer] : tan\nJudgement: 1\n',
  '\n[Question]: On which side of the picture is the barrier?\n[Standard Answer]: The barrier is on the left side of the picture.\n[Model_answer] : left\nJudgement: 1\n',
  '\n[Question]: Is the kite brown and large?\n[Standard Answer]: Yes, the kite is brown and large.\n[Model_answer] : Yes\nJudgement: 1\n',
  '\n[Question]: Are the spots on a giraffe?\n[Standard Answer]: No, the spots are on a banana.\n[Model_answer] : no\nJudgement: 1\n',
  '\n[Question]: Who is wearing pants?\n[Standard Answer]: The boy is wearing pants.\n[Model_answer] : The person in the picture is wearing pants.\nJudgement: 1\n',
  '\n[Question]: Is the man phone both blue and closed?\n[Standard Answer]: Yes, the man phone is both blue and closed.\n[Model_answer] : No.\nJudgement: 0\n',
  '\n[Question]: What color is the towel in the center of the picture?\n[Standard Answer]: The towel in the center of the picture is blue.\n[Model_answer] : The towel in the center of the picture is pink.\nJudgement: 0\n',
];

export const MATH_VERIFY_PROMPT =
  "# CONTEXT #\nI am a teacher, and I have some high-level math problems. I am tasked with evaluating the correctness of a student's answer. \nBelow, I am provided with a problem and a reference answer. Additionally, a student's answer is provided. My job is to assess whether the student's answer captures the same meaning as the reference answer, even when expressed with different wording or format.\n\n# OBJECTIVE #\nI need you to judge whether the student's answer is correct given the ground truth answer.\n\nYour tasks include:\n1. Identify Mathematical or Notational Equivalence: Pay special attention to any LaTeX expressions in both answers. Confirm that the mathematical relationships, variables, and operations conveyed are equivalent.\n\n# TONE #\nProfessional, scientific.\n\n# RESPONSE: MARKDOWN REPORT #\n## Equivalence Judgement\n[Whether the student's answer share the same meaning with the reference answer. (TRUE or FALSE)]\n\n# ATTENTION #\n - The reference answer is ALWAYS correct. You should carefully judge whether the student gives the same answer as reference answer.\n - The Equivalence Judgement is only TRUE or FALSE. The answer is FALSE even if the student's final answer almost correct with a minor mistakes.\n - Don't give extra explanation.\n\n**Question**:\n{query}\n\n**Reference Answer**\n{gold_ans}\n\n## Student Final Answer\n{pred_ans}";

/** the default judge's temperature (compute_score_default / _SA1B) */
export const JUDGE_TEMPERATURE = 0.3;
/** the math judge's temperature (generative_verify) */
export const MATH_JUDGE_TEMPERATURE = 0;
/** the seed's judge model name */
export const DEFAULT_JUDGE_MODEL = 'judge';

/** `get_prompt(predict_str, ground_truth, question)` */
export function judgePrompt(prediction: string, groundTruth: string, question: string): string {
  const demo = JUDGE_CHAT_TEMPLATE + JUDGE_EXAMPLES.join('\n\n');
  return `${demo}\n[Question]: ${question}\n[Standard Answer]: ${groundTruth}\n[Model_answer] : ${prediction}\nJudgement:`;
}

/** `MATH_VERIFY_PROMPT.format(query=..., gold_ans=..., pred_ans=...)` (a single pass, like str.format) */
export function mathJudgePrompt(question: string, groundTruth: string, prediction: string): string {
  const values: Record<string, string> = { query: question, gold_ans: groundTruth, pred_ans: prediction };
  return MATH_VERIFY_PROMPT.replace(/\{(query|gold_ans|pred_ans)\}/g, (_, k: string) => values[k]);
}

/** sha256 over every judge string and temperature: two runs with the same hash were judged alike. */
export const JUDGE_PROMPT_HASH = createHash('sha256')
  .update(
    JSON.stringify({
      system: JUDGE_SYSTEM_PROMPT,
      template: JUDGE_CHAT_TEMPLATE,
      examples: JUDGE_EXAMPLES,
      math: MATH_VERIFY_PROMPT,
      t: JUDGE_TEMPERATURE,
      tm: MATH_JUDGE_TEMPERATURE,
    }),
  )
  .digest('hex');
