/**
 * The parquet layouts of the exported files, written with an explicit schema (never inferred, so
 * an empty or sparse export has the published types):
 *
 *   CodeDance-SFT  messages: list<struct<role: string, content: string>>, images: list<binary>
 *   CodeDance-RL   data_source: string, prompt: list<struct<role, content>>, images: list<binary>,
 *                  ability: string, reward_model: struct<ground_truth: string, style: string>,
 *                  extra_info: struct<question: string, answer: string, index: int64, split: string,
 *                    need_tools_kwargs: bool, tools_kwargs: struct<execute_python_code:
 *                    struct<create_kwargs: struct<image: struct<bytes: binary, path: string>>>>>
 *
 * `prompt` is verl's default `data.prompt_key` (what the seed's RL launch reads); the published
 * card names the same column `messages`, which `promptKey: 'messages'` writes instead.
 */
import type { SchemaElement } from 'hyparquet';

export type Sch = SchemaElement;

const str = (name: string): Sch => ({ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' });
const group = (name: string, children: Sch[][]): Sch[] => [
  { name, repetition_type: 'OPTIONAL', num_children: children.length },
  ...children.flat(),
];

/** list<struct<role: string, content: string>> */
export function messagesSchema(name: string): Sch[] {
  return [
    { name, repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
    { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
    { name: 'element', repetition_type: 'OPTIONAL', num_children: 2 },
    str('role'),
    str('content'),
  ];
}

/** list<binary> */
export function imagesSchema(name = 'images'): Sch[] {
  return [
    { name, repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
    { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
    { name: 'element', type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL' },
  ];
}

export const SFT_COLUMNS = ['messages', 'images'] as const;

export function sftSchema(): Sch[] {
  return [{ name: 'schema', num_children: 2 }, ...messagesSchema('messages'), ...imagesSchema()];
}

export const RL_COLUMNS = ['data_source', 'prompt', 'images', 'ability', 'reward_model', 'extra_info'] as const;

export function rlSchema(promptKey: 'prompt' | 'messages' = 'prompt'): Sch[] {
  const image = group('image', [[{ name: 'bytes', type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL' }], [str('path')]]);
  const toolsKwargs = group('tools_kwargs', [group('execute_python_code', [group('create_kwargs', [image])])]);
  const extra = group('extra_info', [
    [str('question')],
    [str('answer')],
    [{ name: 'index', type: 'INT64', repetition_type: 'OPTIONAL' }],
    [str('split')],
    [{ name: 'need_tools_kwargs', type: 'BOOLEAN', repetition_type: 'OPTIONAL' }],
    toolsKwargs,
  ]);
  return [
    { name: 'schema', num_children: 6 },
    str('data_source'),
    ...messagesSchema(promptKey),
    ...imagesSchema(),
    str('ability'),
    ...group('reward_model', [[str('ground_truth')], [str('style')]]),
    ...extra,
  ];
}
