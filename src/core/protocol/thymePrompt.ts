/**
 * The strings of the `thyme` format, copied from yfzhang114/Thyme at b9285b7 (the file and lines
 * at each; docs/protocols.md "## Thyme" has every rule): its evaluation's system prompts, the
 * question template, the multiple-choice prompt VLMEvalKit builds for it, the stop strings, the
 * `<code>` pattern and the sandbox output's tags.
 */
import { imageExtension, sniffBase64ImageMime } from '../images/sniffImageMime';

/** eval/VLMEvalKit/vlmeval/vlm/thyme/utils.py 4-17, `REASONING_SYS_PROMPT` */
export const THYME_SYSTEM_PROMPT = [
  'You are a helpful assistant.',
  '',
  'Solve the following problem step by step, and optionally write Python code for image manipulation to enhance your reasoning process. The Python code will be executed by an external sandbox, and the processed image or result (wrapped in <sandbox_output></sandbox_output>) can be returned to aid your reasoning and help you arrive at the final answer.',
  '',
  '**Reasoning & Image Manipulation (Optional but Encouraged):**',
  '    * You have the capability to write executable Python code to perform image manipulations (e.g., cropping to a Region of Interest (ROI), resizing, rotation, adjusting contrast) or perform calculation for better reasoning.',
  '    * The code will be executed in a secure sandbox, and its output will be provided back to you for further analysis.',
  '    * All Python code snippets **must** be wrapped as follows:',
  '    <code>',
  '    ```python',
  '    # your code.',
  '    ```',
  '    </code>',
  '    * At the end of the code, print the path of the processed image (processed_path) or the result for further processing in a sandbox environment.',
].join('\n');

/** utils.py 20, `SIMPLE_SYS_PROMPT`: the system prompt of the last, plain try (model.py 419-420) */
export const THYME_SIMPLE_SYSTEM_PROMPT = 'You are a helpful assistant.';

/** utils.py 45, the size when the image cannot be opened (a question without one) */
export const THYME_UNKNOWN_SIZE = 'Unable to determine (error reading image)';

/** utils.py 30-49, `generate_prompt_final_qa(user_question, user_image_path)` with the size it reads */
export function thymePrompt(question: string, imagePath: string, imageSize: string): string {
  return `<image>
${question}

### User Image Path:** "${imagePath}"
### User Image Size:** "${imageSize}"

### **Output Format (strict adherence required):**

<think>Your detailed reasoning process, including any code, should go here.</think>
<answer>Your final answer to the user's question goes here.</answer>
`;
}

/** utils.py 22-28, `generate_prompt_simple_qa(user_question)` */
export function thymeSimplePrompt(question: string): string {
  return `
You are an advanced AI assistant specializing in visual question answering (VQA). You don't need to perform any image manipulation or reasoning. Give the answer to the following question directly.
**User's Question:** "${question}"
`;
}

/** prompt.py 78-79 */
export const THYME_MCQ_EN_PROMPT = 'Please select the correct answer from the options above.';
export const THYME_MCQ_CN_PROMPT = '请直接回答选项字母。';

/**
 * prompt.py 76-114, `_build_mcq_prompt` (the prompt VLMEvalKit gives Thyme for a multiple-choice
 * question, V* and HR-Bench among them): `Question: …`, the options lettered A., B., …, the
 * instruction (Chinese when the prompt holds CJK), right-stripped. Without options: the question
 * as it is (VLMEvalKit's Y/N and VQA suffixes depend on the data set: not known here).
 */
export function thymeQuestion(question: string, options?: readonly string[]): string {
  if (!options?.length) return question;
  const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  let prompt = `Question: ${question}\n` + 'Options:\n' + options.map((o, i) => `${letters[i] ?? String(i + 1)}. ${o}\n`).join('');
  prompt += /[\u4e00-\u9fff]/.test(prompt) ? THYME_MCQ_CN_PROMPT : THYME_MCQ_EN_PROMPT;
  return pyRstrip(prompt);
}

/** utils.py 51, `SPECIAL_STRING_LIST`: where each generation stops */
export const THYME_STOP = ['</code>', '</answer>'];

/** model.py 348 and 362 */
export const SANDBOX_OUTPUT_OPEN = '<sandbox_output>';
export const SANDBOX_OUTPUT_CLOSE = '</sandbox_output>';

/** model.py 471, the answer when the last reply has no `<answer>…</answer>` */
export const THYME_NO_ANSWER = 'No answer tag found in the final output.';

/** What Python's `str.isspace()` calls whitespace (its `\s` and `strip()`). */
const PY_SPACE = '[\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';

/**
 * model.py 324, `re.compile(r'<code>\s*(?:```\s*)?(?:python\s*)?([\s\S]*?)\s*(?:```\s*)?</code>', re.IGNORECASE)`
 * (Python's `\s`: its whitespace, not JavaScript's)
 */
export const THYME_CODE_PATTERN = new RegExp(
  `<code>${PY_SPACE}*(?:\`\`\`${PY_SPACE}*)?(?:python${PY_SPACE}*)?([\\s\\S]*?)${PY_SPACE}*(?:\`\`\`${PY_SPACE}*)?</code>`,
  'iu',
);

const PY_STRIP = new RegExp(`^${PY_SPACE}+|${PY_SPACE}+$`, 'gu');
const PY_RSTRIP = new RegExp(`${PY_SPACE}+$`, 'u');

export function pyStripText(s: string): string {
  return s.replace(PY_STRIP, '');
}

function pyRstrip(s: string): string {
  return s.replace(PY_RSTRIP, '');
}

/** model.py 326-330: the first `<code>` block's code, stripped; undefined without one */
export function thymeCode(text: string): string | undefined {
  const m = THYME_CODE_PATTERN.exec(text);
  return m ? pyStripText(m[1]) : undefined;
}

/** Where the question's first image file is put in the kernel (the path the prompt names). */
export function thymeImagePath(workdir: string | undefined, imageBase64: string | undefined): string {
  if (imageBase64 === undefined) return '';
  const mime = sniffBase64ImageMime(imageBase64);
  const name = `thyme/input_image.${mime ? imageExtension(mime) : 'jpg'}`;
  return workdir ? `${workdir.replace(/\/+$/, '')}/${name}` : name;
}

const PATH_MARK = '\n\n### User Image Path:** "';
const SIZE_MARK = '"\n### User Image Size:** "';

/** The question and image path a `thymePrompt` was made with (read back from its text). */
export function thymePromptParts(text: string): { question: string; imagePath: string } | undefined {
  const at = text.lastIndexOf(PATH_MARK);
  if (!text.startsWith('<image>\n') || at < 0) return undefined;
  const end = text.indexOf(SIZE_MARK, at + PATH_MARK.length);
  if (end < 0) return undefined;
  return { question: text.slice('<image>\n'.length, at), imagePath: text.slice(at + PATH_MARK.length, end) };
}
