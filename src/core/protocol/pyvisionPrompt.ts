/**
 * The `pyvision` format's first message: the prompt templates PyVision's loop uses
 * (agents-x-project/PyVision prompt_template/prompt_template_vis.json at d08b450, byte for byte,
 * `{{`/`}}` and all: Python's str.format reads them) and the user message
 * inference_engine/vis_inference_demo_gpt.py builds around them: `process_prompt_init` (one image,
 * lines 104-218) and `process_prompt_init_multi_images` (several, lines 220-324). There is no
 * system message. Lines and the choice of template: docs/protocols.md, "pyvision".
 */
import { CodeDanceError } from '../errors';
import { pyStrip } from './extract';
import type { ChatMessage, ContentPart } from './types';

/** prompt_template_vis.json line 6, `vistool_with_img_info_v2`: the one-image template (vis_inference_demo_gpt.py line 470 forces it) */
export const PYVISION_TEMPLATE = [
  'You are an agent - please keep going until the user’s query is completely resolved, before ending your turn and yielding back to the user. Only terminate your turn when you are sure that the problem is solved. ',
  '',
  'Solve the following problem step by step. You now have the ability to selectively write executable Python code to enhance your reasoning process. The Python code will be executed by an external sandbox. ',
  '',
  'You MUST plan extensively before each function call, and reflect extensively on the outcomes of the previous function calls. DO NOT do this entire process by making function calls only, as this can impair your ability to solve the problem and think insightfully.',
  '',
  'For all the provided images, in order, the i-th image has already been read into the global variable `image_clue_i` using the PIL.Image.open() function. When writing Python code, you can directly use these variables without needing to read them again.',
  '',
  'Since you are dealing with the vision-related question answering task, you MUST use the python tool (e.g., matplotlib library) to analyze or transform images whenever it could improve your understanding or aid your reasoning. This includes but is not limited to zooming in, rotating, adjusting contrast, computing statistics, or isolating features. ',
  '',
  'Note that when you use matplotlib to visualize data or further process images, you need to use plt.show() to display these images; there is no need to save them. Do not use image processing libraries like cv2 or PIL. If you want to check the value of a variable, you MUST use print() to check it.',
  '',
  'The output (wrapped in `<interpreter>output_str</interpreter>`) can be returned to aid your reasoning and help you arrive at the final answer. The Python code should be complete scripts, including necessary imports. ',
  'Each code snippet is wrapped with `<code>',
  '```python',
  'code snippet',
  '```',
  '</code>`.',
  'The last part of your response should be in the following format:',
  '<answer>',
  "\\boxed{{'The final answer goes here.'}}",
  '</answer>',
  '',
  '*image resolution:*',
  '',
  'Image Width: {width}; Image Height: {height}',
  '',
  '*user question:*',
  'Answer the following Problem with an image provided and put the answer in the format of \\boxed{{answer}}',
  '',
  '{query}',
  '',
  'Remember to place the final answer in the last part using the format: ',
  '<answer>',
  "\\boxed{{'The final answer goes here.'}}",
  '</answer>',
].join('\n');

/** prompt_template_vis.json line 5, `vistool_with_img_info_multi_image`: the template for two or more images (line 473 forces it) */
export const PYVISION_TEMPLATE_MULTI_IMAGE = [
  'Solve the following problem step by step. You now have the ability to selectively write executable Python code to enhance your reasoning process. The Python code will be executed by an external sandbox.',
  '',
  'For all the provided images, in order, the i-th image has already been read into the global variable `image_clue_i` using the PIL.Image.open() function. When writing Python code, you can directly use these variables without needing to read them again.',
  '',
  'Since you are dealing with the VQA task, you MUST use the python tool (e.g., matplotlib library) to analyze or transform images whenever it could improve your understanding or aid your reasoning. This includes but is not limited to zooming in, rotating, adjusting contrast, computing statistics, or isolating features. ',
  '',
  'Note that when you use matplotlib to visualize data or further process images, you need to use plt.show() to display these images; there is no need to save them. Do not use image processing libraries like cv2 or PIL. If you want to check the value of a variable, you MUST use print() to check it.',
  '',
  'The output (wrapped in `<interpreter>output_str</interpreter>`) can be returned to aid your reasoning and help you arrive at the final answer. The Python code should be complete scripts, including necessary imports. ',
  'Each code snippet is wrapped with `<code>',
  '```python',
  'code snippet',
  '```',
  '</code>`.',
  'The last part of your response should be in the following format:',
  '<answer>',
  "\\boxed{{'The final answer goes here.'}}",
  '</answer>',
  '',
  '*image resolution:*',
  '',
  '{image_information}',
  '',
  '*user question:*',
  'Answer the following Problem with an image provided and put the answer in the format of \\boxed{{answer}}',
  '',
  '{query}',
  '',
  'Remember to place the final answer in the last part using the format: ',
  '<answer>',
  "\\boxed{{'The final answer goes here.'}}",
  '</answer>',
].join('\n');

/** `<IMAGE_PLACE_HOLDER_{i}>` (lines 111, 243): where a question wants image i */
export const pyvisionPlaceholder = (i: number): string => `<IMAGE_PLACE_HOLDER_${i}>`;
/** line 246: one line of `image_information` per image */
export const pyvisionImageInformation = (i: number, width: number, height: number): string =>
  `width of image_clue_${i}: ${width}, height of image_clue_${i}: ${height}\n`;
/** lines 165-167, 290-292, 317-319: an input image between its tags */
export const PYVISION_INPUT_CLUE = { open: '<image_clue_{i}>', close: '</image_clue_{i}>\n\n' };
/** every image part (lines 129, 166, 214, 340, …): a `data:image/jpeg` URL whatever the bytes are */
export const PYVISION_IMAGE_URL_PREFIX = 'data:image/jpeg;base64,';

export interface ImageSize {
  width: number;
  height: number;
}

const text = (t: string): ContentPart => ({ type: 'text', text: t });

export function pyvisionImagePart(base64: string): ContentPart {
  return { type: 'image_url', image_url: { url: PYVISION_IMAGE_URL_PREFIX + base64 } };
}

/**
 * Python's `template.format(**values)` for a template with named fields only: `{{` and `}}` are
 * braces, `{name}` the value; one pass (braces in a value stay as they are). A field without a
 * value raises, as KeyError does.
 */
export function pyFormat(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\{\{|\}\}|\{([^{}]*)\}/g, (m: string, name: string | undefined) => {
    if (m === '{{') return '{';
    if (m === '}}') return '}';
    if (name === undefined || !Object.hasOwn(values, name)) throw new CodeDanceError('internal', `pyvision: KeyError: '${name}'`);
    return values[name];
  });
}

function inputClue(i: number, base64: string): ContentPart[] {
  return [
    text(PYVISION_INPUT_CLUE.open.replace('{i}', String(i))),
    pyvisionImagePart(base64),
    text(PYVISION_INPUT_CLUE.close.replace('{i}', String(i))),
  ];
}

/** process_prompt_init (lines 144-180, 201-218): the tool branch for one image */
function oneImage(question: string, image: string, size: ImageSize): ContentPart[] {
  const prompt = pyFormat(PYVISION_TEMPLATE, { query: question, width: String(size.width), height: String(size.height) });
  if (!question.includes(pyvisionPlaceholder(0))) return [...inputClue(0, image), text(prompt)];
  // the text before the first placeholder and after it, each stripped; a second placeholder's rest is dropped (lines 156-171)
  const parts = prompt.split(pyvisionPlaceholder(0));
  const before = pyStrip(parts[0]);
  const after = parts.length > 1 ? pyStrip(parts[1]) : '';
  return [...(before ? [text(before)] : []), ...inputClue(0, image), ...(after ? [text(after)] : [])];
}

/** process_prompt_init_multi_images (lines 225-249, 277-300, 313-324): the tool branch for several images */
function severalImages(question: string, images: readonly string[], sizes: readonly ImageSize[]): ContentPart[] {
  const information = sizes.map((s, i) => pyvisionImageInformation(i, s.width, s.height)).join('');
  const prompt = pyFormat(PYVISION_TEMPLATE_MULTI_IMAGE, { query: question, image_information: information });
  if (!images.some((_, i) => prompt.includes(pyvisionPlaceholder(i)))) return [...images.flatMap((b, i) => inputClue(i, b)), text(prompt)];
  // each image at its placeholder, the text between them unstripped; an image whose placeholder is missing is not sent
  const content: ContentPart[] = [];
  let rest = prompt;
  images.forEach((b, i) => {
    const at = rest.indexOf(pyvisionPlaceholder(i));
    if (at < 0) return;
    if (at > 0) content.push(text(rest.slice(0, at)));
    content.push(...inputClue(i, b));
    rest = rest.slice(at + pyvisionPlaceholder(i).length);
  });
  if (rest) content.push(text(rest));
  return content;
}

/** The first (and only) message of a question: a `user` message, no system message (evaluate_single_data, lines 461-474). */
export function pyvisionFirstMessage(question: string, images: readonly string[], sizes: readonly ImageSize[] = []): ChatMessage {
  if (!images.length)
    throw new CodeDanceError(
      'input',
      'the pyvision format asks only questions that come with an image: PyVision has no prompt without one',
      {
        fix: { text: 'attach an image to the question, or use another protocol', setting: 'model.protocol' },
      },
    );
  if (sizes.length < images.length)
    throw new CodeDanceError('internal', 'pyvision: the sizes of the input images are missing (QuestionContext.imageSizes)');
  const content = images.length === 1 ? oneImage(question, images[0], sizes[0]) : severalImages(question, images, sizes);
  return { role: 'user', content };
}
