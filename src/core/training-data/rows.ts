/**
 * One trajectory as a training row:
 *  - `sftRow`: CodeDance-SFT (`messages`, `images`): the whole conversation as the model saw it
 *    (system, question with its image, every reply, every `<tool_response>` with its output
 *    images), images inline in order of their `<image>` tokens; in the format's own form (PyVision:
 *    the `<interpreter>` user messages; Thyme: its last generation as one assistant message with
 *    the `<sandbox_output>`s inside, thymeConversation);
 *  - `rlRow`: CodeDance-RL: the prompt (the messages before the first reply of this exchange),
 *    its images, `data_source`, `ability`, `reward_model{ground_truth, style}` and
 *    `extra_info{question, answer, index, split, need_tools_kwargs, tools_kwargs}`.
 * The ground truth is always given by the caller (the dataset's answer, or the user's): a row is
 * never made from the model's own answer.
 */
import { CodeDanceError } from '../errors';
import type { ChatMessage } from '../protocol/types';
import { FILE_REF } from '../trajectory/images';
import type { Trajectory } from '../trajectory/types';
import { toSftMessages, type SftMessage } from '../protocol/sftText';
import { thymeConversation } from '../protocol/thymeLoop';

export interface SftRow {
  messages: SftMessage[];
  images: Uint8Array[];
}

export interface RlRow {
  data_source: string;
  prompt: SftMessage[];
  images: Uint8Array[];
  ability: string;
  reward_model: { ground_truth: string; style: string };
  extra_info: {
    question: string;
    answer: string;
    index: bigint;
    split: string;
    need_tools_kwargs: boolean;
    tools_kwargs: { execute_python_code: { create_kwargs: { image: { bytes: Uint8Array | null; path: string | null } } } };
  };
}

/** Why a trajectory cannot become a row: named, with what to do. */
export class ExportError extends CodeDanceError {
  override name = 'ExportError';
  constructor(reason: string, fix: string) {
    super('input', reason, { fix });
  }
}

function bytes(b64: string, what: string, t: Trajectory): Uint8Array {
  if (b64.startsWith(FILE_REF))
    throw new ExportError(
      `trajectory ${t.id}: ${what} is a file reference (${b64}), not image bytes`,
      'load the trajectory with its images folder (loadImages) before exporting',
    );
  if (!b64)
    throw new ExportError(
      `trajectory ${t.id}: ${what} is empty (its image file was missing)`,
      'restore the images folder beside the conversation or results file, or leave this trajectory out',
    );
  return Uint8Array.from(Buffer.from(b64, 'base64'));
}

function converted(t: Trajectory, messages: readonly ChatMessage[]): { messages: SftMessage[]; images: Uint8Array[] } {
  let sft;
  try {
    sft = toSftMessages(messages, { imageTokenInText: t.protocol === 'thyme' });
  } catch (e) {
    throw new ExportError(
      `trajectory ${t.id}: ${(e as Error).message}`,
      'export from the saved conversation or results file, whose images are inline or beside it',
    );
  }
  return { messages: sft.messages, images: sft.images.map((im, i) => bytes(im.data, `image ${i} of its messages`, t)) };
}

/** The SFT row of a trajectory. Throws an ExportError when it has no messages. */
export function sftRow(t: Trajectory): SftRow {
  if (!t.messages.length)
    throw new ExportError(
      `trajectory ${t.id} has no messages (a run that failed before the model was called)`,
      'leave it out, or re-run the question',
    );
  // Thyme: its own record (one assistant message per generation, the sandbox outputs inside it), not our history
  return converted(t, t.protocol === 'thyme' ? thymeConversation(t) : t.messages);
}

/** The messages before this exchange's first reply (a follow-up's prompt holds the earlier exchanges). */
export function promptMessages(t: Trajectory): ChatMessage[] {
  const own = t.turns.filter((x) => !x.discarded).length;
  const assistants = t.messages.flatMap((m, i) => (m.role === 'assistant' ? [i] : []));
  const cut = own > 0 && assistants.length >= own ? assistants[assistants.length - own] : t.messages.length;
  return t.messages.slice(0, cut);
}

export interface RlFields {
  groundTruth: string;
  dataSource: string;
  ability: string;
  index: number;
  split: string;
  /** reward_model.style (default 'rule', verl's usual value) */
  style?: string;
}

/** The RL row of a trajectory, with the caller's ground truth and labels. */
export function rlRow(t: Trajectory, f: RlFields): RlRow {
  if (!f.groundTruth.trim())
    throw new ExportError(
      `trajectory ${t.id} ('${t.question.slice(0, 60)}'): the ground truth is empty`,
      'give the correct answer (an RL row is scored against it; it is never taken from the model)',
    );
  const prompt = promptMessages(t);
  if (!prompt.some((m) => m.role === 'user'))
    throw new ExportError(`trajectory ${t.id} has no user message to use as the prompt`, 'leave it out');
  const { messages, images } = converted(t, prompt);
  // the tool's image is the question's input image (what `input_image` was bound to)
  const input = t.inputImages[0] ? bytes(t.inputImages[0].data, 'its input image', t) : images[0];
  return {
    data_source: f.dataSource,
    prompt: messages,
    images,
    ability: f.ability,
    reward_model: { ground_truth: f.groundTruth, style: f.style ?? 'rule' },
    extra_info: {
      question: t.question,
      answer: f.groundTruth,
      index: BigInt(f.index),
      split: f.split,
      need_tools_kwargs: true,
      tools_kwargs: { execute_python_code: { create_kwargs: { image: { bytes: input ?? null, path: null } } } },
    },
  };
}
