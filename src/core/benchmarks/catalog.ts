/**
 * The built-in benchmarks: each Hub repository pinned to a commit, the files to fetch, the
 * expected row count, the scoring route and where every choice comes from. docs/benchmarks.md
 * is the long form (one section per set). Facts that could not be read from the Hub are marked
 * `unverified:`; an entry whose commit could not be found is not pinned (`isPinned` is false) and
 * its `revision` says how to pin it: `assertPinned` refuses it before anything is fetched.
 */
import { BenchmarkError, type BenchmarkEntry } from './types';

/** The revisions of the harnesses whose definitions were read. */
export const LMMS_EVAL = 'EvolvingLMMs-Lab/lmms-eval';
export const LMMS_EVAL_REV = '75571cfe0fa36ca5ec2e6aa2bb268f9d38295af3';
const DEEPEYES_REV = '6c5e79671dbff958a6f9d44848ba2ca87854f0b0';
const SEED = 'CodeDance-VL/CodeDance:verl/utils/reward_score/llm_judge_qwen_tool_step.py:498-509@62f8c6f59804b4bee84157aba9638ac3ddc50bbf';

const lm = (file: string, lines: string) => `${LMMS_EVAL}:lmms_eval/tasks/${file}:${lines}@${LMMS_EVAL_REV}`;
const card = (repo: string, page: string) => `https://huggingface.co/datasets/${repo}/${page}`;
const JUDGE_ROUTE = `route: judge — ${SEED} sends every data_source but thinklite_eureka/xince to the general judge`;
const MATH_ROUTE =
  `route: math — data_source thinklite_eureka, which ${SEED} sends to the math check (math_verify, then MATH_VERIFY_PROMPT): ` +
  'free-form numbers and expressions, as the seed scores its math data; our choice, the seed’s own *_val.parquet files are not published';

const unpinned = (repo: string) =>
  `UNPINNED: the commit of ${repo} could not be verified; open https://huggingface.co/datasets/${repo}/commits/main, ` +
  'take the 40-hex commit of the files listed here, and set it as this entry’s revision';

/** The math check's data_source (the seed's ThinkLite math data). */
const MATH_SOURCE = 'thinklite_eureka';

const hrbench = (k: '4k' | '8k'): BenchmarkEntry => ({
  name: `hrbench${k}`,
  title: `HR-Bench ${k.toUpperCase()}`,
  repo: 'DreamMr/HR-Bench',
  revision: unpinned('DreamMr/HR-Bench'),
  files: [`hr_bench_${k}.parquet`],
  license: 'unverified: the card’s licence tag reads “other” and its LICENSE file is empty',
  rows: 800,
  scoring: 'judge',
  dataSource: `hrbench${k}`,
  split: `hrbench_${k}`,
  sources: [
    `files: ${card('DreamMr/HR-Bench', 'tree/main')} (main at 37c2d2e: hr_bench_4k.parquet 430 MB, hr_bench_8k.parquet 2.83 GB); unverified: the full commit`,
    `config/split: ${lm(`hrbench/hrbench${k}.yaml`, '1-6')} (hrbench_version_split, split hrbench_${k}; token: True); unverified: that the split is this file`,
    'columns index, question, answer, category, A–D, cycle_category, image (base64 text): /work/shared/docs/benchmarks-sources.md; rows 800: same; unverified on the card',
    `prompt: ${lm('hrbench/utils.py', '40-53')} (hrbench_doc_to_options, hrbench_doc_to_text)`,
    `ground truth: the letter and its option text, as ${'Visual-Agent/DeepEyes'}:eval/judge_result.py:140@${DEEPEYES_REV} gives V*’s judge ('A. ' + answer)`,
    JUDGE_ROUTE,
  ],
});

export const CATALOG: readonly BenchmarkEntry[] = [
  {
    name: 'vstar',
    title: 'V* Bench',
    repo: 'craigwu/vstar_bench',
    revision: 'd9ae62c903da0c98336e85c5ee89cd863b04b4da',
    files: ['test_questions.jsonl'],
    references: { file: 'test_questions.jsonl', field: 'image' },
    license: 'unverified: the dataset card states no licence',
    rows: 191,
    scoring: 'judge',
    dataSource: 'vstar',
    split: 'test',
    sources: [
      `files: ${card('craigwu/vstar_bench', 'tree/main')} (main = d9ae62c “Uploading ground truth labels (#3)”: test_questions.jsonl, direct_attributes/, relative_position/); full commit from third-party pins of the same repository`,
      `rows 191: ${card('craigwu/vstar_bench', 'viewer/default/test')} (test: 191 rows)`,
      'row keys image (a path in the repository), text, category, question_id, label (a letter): unverified on the file itself; as third-party copies show them (text ends with the instruction)',
      `prompt: ${lm('vstar_bench/utils.py', '12-41')} with ${lm('vstar_bench/_default_template_yaml', '16-19')} (lmms-eval reads a parquet copy, lmms-lab-encoder/vstar-bench, _default_template_yaml:1-3)`,
      `ground truth: the letter and its option text, as Visual-Agent/DeepEyes:eval/judge_result.py:140@${DEEPEYES_REV}`,
      `data_source vstar: ${SEED} (the seed names it)`,
      JUDGE_ROUTE,
    ],
  },
  hrbench('4k'),
  hrbench('8k'),
  {
    name: 'mathvista_testmini',
    title: 'MathVista testmini',
    repo: 'AI4Math/MathVista',
    revision: '2b6ad69445fbb5695c9b165475e8decdbeb97747',
    files: ['data/testmini-00000-of-00001-725687bf7a18d64b.parquet'],
    license: 'cc-by-sa-4.0',
    rows: 1000,
    scoring: 'math',
    dataSource: MATH_SOURCE,
    split: 'testmini',
    sources: [
      `commit: ${card('AI4Math/MathVista', 'tree/2b6ad69445fbb5695c9b165475e8decdbeb97747')} (main: “Update README.md” 2b6ad69, 34 commits)`,
      `card ${card('AI4Math/MathVista', 'blob/main/README.md')}: license cc-by-sa-4.0; split testmini → data/testmini-*; columns pid, question, image, decoded_image (image), choices (list<string>), unit, precision (float64), answer, question_type, answer_type, metadata (struct), query; testmini 1,000 examples`,
      'file name data/testmini-00000-of-00001-725687bf7a18d64b.parquet: from several public scripts that load it; unverified on the Hub tree page',
      `prompt: ${lm('mathvista/utils.py', '26-45')} → ${lm('mathvista/mathvista_evals.py', '350-560')} with ${lm('mathvista/mathvista_testmini_format.yaml', '20-25')} (format-prompt, 0 shots)`,
      `ground truth: the answer; for multiple choice the letter of the answer’s choice (the prompt asks for the letter; lmms-eval maps letters back: ${lm('mathvista/mathvista_evals.py', '289-303')})`,
      `gated: lmms-eval loads it with token: True (${lm('mathvista/mathvista_testmini_format.yaml', '2-3')}); unverified whether the Hub gates it`,
      MATH_ROUTE,
    ],
  },
  {
    name: 'mathverse_testmini_vision_only',
    title: 'MathVerse testmini (vision only)',
    repo: 'CaraJ/MathVerse-lmmseval',
    revision: '8479d5e87785a3274da612e169d942c3d972b7fe',
    files: ['testmini_vision_only.parquet'],
    license: 'unverified: the card shows no licence tag',
    rows: 788,
    scoring: 'math',
    dataSource: MATH_SOURCE,
    split: 'vision_only',
    sources: [
      `commit and file: ${card('CaraJ/MathVerse-lmmseval', 'tree/main')} (main = 8479d5e “Update README.md”, 19 commits; testmini_vision_only.parquet 90.7 MB)`,
      `config/split: ${lm('mathverse/mathverse_testmini_vision_only.yaml', '1-6')} (testmini_version_split, split vision_only, token: False); unverified: the README’s mapping of that split to this file`,
      `columns read (sample_index, query_wo, answer, image): ${lm('mathverse/utils.py', '23-41')}; their parquet types unverified`,
      'rows 788: evalscope’s MathVerse page (5 testmini subsets of 788); unverified on the card',
      `prompt: ${lm('mathverse/mathverse_evals.py', '122-182')} with ${lm('mathverse/mathverse_testmini_vision_only.yaml', '28-31')} (format-prompt, query_wo)`,
      'ground truth: the answer column as lmms-eval’s target (doc_to_target: answer, yaml:10)',
      MATH_ROUTE,
    ],
  },
  {
    name: 'mathvision_testmini',
    title: 'MATH-Vision testmini',
    repo: 'MathLLMs/MathVision',
    revision: '0c681f39d3dacd336abf62ceb833e40320c8599f',
    files: ['data/testmini-00000-of-00001-f8ff70fcb2f29b1d.parquet'],
    license: 'mit',
    rows: 304,
    scoring: 'math',
    dataSource: MATH_SOURCE,
    split: 'testmini',
    sources: [
      `files: ${card('MathLLMs/MathVision', 'tree/14b5e86a95856c4231a056b82f658584eae2b309/data')} (data/testmini-00000-of-00001-f8ff70fcb2f29b1d.parquet, 6.99 MB; data/ unchanged up to 0c681f3)`,
      `commit: ${card('MathLLMs/MathVision', 'tree/0c681f39d3dacd336abf62ceb833e40320c8599f')} (“Update README.md”, 17 commits); unverified: that it is the newest`,
      'licence mit: the card’s licence tag; rows 304: the official testmini (19 problems per subject)',
      `columns read (id, question, options, decoded_image, answer): ${lm('mathvision/utils.py', '45-64')}; parquet types unverified`,
      `prompt: ${lm('mathvision/utils.py', '49-64')} with ${lm('mathvision/mathvision_testmini.yaml', '20-24')}`,
      `gated: lmms-eval loads it with token: True (${lm('mathvision/mathvision_testmini.yaml', '2-3')}); unverified whether the Hub gates it`,
      MATH_ROUTE,
    ],
  },
  {
    name: 'countbench',
    title: 'CountBench (CountBenchQA)',
    repo: 'vikhyatk/CountBenchQA',
    revision: '76d600309e9d6147bd3713b4cd431518ac1206c8',
    files: ['data/test-00000-of-00001.parquet'],
    license: 'unverified: the dataset card states no licence',
    rows: 491,
    scoring: 'judge',
    dataSource: 'countbench',
    split: 'test',
    sources: [
      `files and commit: ${card('vikhyatk/CountBenchQA', 'tree/76d600309e9d6147bd3713b4cd431518ac1206c8/data')} (main = 76d6003, 5 commits)`,
      `card ${card('vikhyatk/CountBenchQA', 'blob/ab72615b4926a2a3ee9639136fe369e33e5eb1b7/README.md')}: image (image), text (string), question (string), number (int32); test 491 examples`,
      `prompt: ${lm('countbench/utils.py', '36-41')} with ${lm('countbench/countbench.yaml', '17-20')}; answer: ${lm('countbench/utils.py', '27-45')}`,
      JUDGE_ROUTE,
    ],
  },
  {
    name: 'chartqa_test',
    title: 'ChartQA test',
    repo: 'lmms-lab-encoder/ChartQA',
    revision: '9e63b7df1592a1c2158e735cc1725454aef0d6d9',
    files: ['data/test-00000-of-00001.parquet'],
    license: 'unverified: the card states no licence (the original ChartQA, ahmed-masry/ChartQA, is gpl-3.0)',
    rows: 2500,
    scoring: 'judge',
    dataSource: 'chartqa',
    split: 'test',
    sources: [
      `files and commit: ${card('lmms-lab-encoder/ChartQA', 'tree/main/data')} (main = 9e63b7d “Update README.md”, 4 commits; data/test-00000-of-00001.parquet 72.6 MB)`,
      `rows 2,500: ${card('lmms-lab/ChartQA', 'viewer/default/test')} (the same repository’s history under its former name)`,
      `columns read (type, question, answer, image): ${lm('chartqa/utils.py', '1-22')}; parquet types unverified`,
      `prompt: ${lm('chartqa/utils.py', '5-9')} with ${lm('chartqa/chartqa.yaml', '27-30')} (default, not qwen_vl)`,
      `gated: lmms-eval loads it with token: True (${lm('chartqa/chartqa.yaml', '1-3')}); unverified whether the Hub gates it`,
      JUDGE_ROUTE,
    ],
  },
  {
    name: 'pixmo_count_test',
    title: 'PixMo-Count test',
    repo: 'kcz358/pixmo-count',
    revision: unpinned('kcz358/pixmo-count'),
    files: ['data/test-00000-of-00001.parquet'],
    license: 'unverified: this copy’s card was not found (the original, allenai/pixmo-count, is odc-by)',
    rows: 534,
    scoring: 'judge',
    dataSource: 'pixmo_count',
    split: 'test',
    sources: [
      `dataset and split: ${lm('pixmo_count/pixmo_count.yaml', '1-3')}`,
      'file data/test-00000-of-00001.parquet and 534 rows (vs 540 in allenai/pixmo-count test): a public converter that reads this copy; unverified on the Hub',
      `columns read (question, answer, image): ${lm('pixmo_count/utils.py', '1-14')}; parquet types unverified`,
      `prompt: ${lm('pixmo_count/utils.py', '5-9')} with ${lm('pixmo_count/pixmo_count.yaml', '17-20')}`,
      JUDGE_ROUTE,
    ],
  },
];

const PINNED = /^[0-9a-f]{40}$/;

/** Whether the entry names a 40-hex commit. */
export const isPinned = (e: BenchmarkEntry): boolean => PINNED.test(e.revision);

/** Throws when the entry is not pinned to a commit (call before fetching). */
export function assertPinned(e: BenchmarkEntry): void {
  if (isPinned(e)) return;
  const how = e.revision.startsWith('UNPINNED: ')
    ? e.revision.slice('UNPINNED: '.length)
    : `its revision '${e.revision.slice(0, 60)}' is not a 40-hex commit`;
  throw new BenchmarkError(
    `${e.name} (${e.repo}) is not pinned to a commit: ${how}`,
    'set the entry’s revision to the 40-hex commit (src/core/benchmarks/catalog.ts, or your own benchmarks file)',
  );
}

/** The built-in entry of that name; an unknown name → an error listing the known ones. */
export function findBenchmark(name: string, extra: readonly BenchmarkEntry[] = []): BenchmarkEntry {
  const all = [...CATALOG, ...extra];
  const e = all.find((x) => x.name === name);
  if (e) return e;
  throw new BenchmarkError(`unknown benchmark '${name}'`, `use one of: ${all.map((x) => x.name).join(', ')}`);
}

/** The name of the converted file, one per pinned revision: `<name>-<revision>.parquet`. */
export function convertedFileName(e: BenchmarkEntry): string {
  assertPinned(e);
  return `${e.name}-${e.revision}.parquet`;
}
