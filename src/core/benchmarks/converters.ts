/**
 * One converter per built-in set: which columns it reads, and a source row → question (the text
 * lmms-eval asks, prompts.ts), ground truth and image. Each is a port of the set's lmms-eval task;
 * docs/benchmarks.md gives the file and line of every choice.
 */
import {
  chartqaQuestion,
  countbenchAnswer,
  countbenchQuestion,
  hrbenchQuestion,
  mathverseQuestion,
  mathvisionQuestion,
  mathvistaQuestion,
  optionLetter,
  pixmoQuestion,
  vstarQuestion,
} from './prompts';
import { sourceImage, text, textList, type SourceImage, type SourceRow } from './sourceRows';
import { BenchmarkError, type BenchmarkEntry, type BenchmarkFiles } from './types';

/** What a converter makes of one source row. */
export interface ConvertedRow {
  question: string;
  answer: string;
  image: SourceImage;
  id: string;
}

export interface RowContext {
  entry: BenchmarkEntry;
  files: BenchmarkFiles;
  /** zero-based position of the row */
  index: number;
}

export interface Converter {
  /** the parquet columns it reads (all must exist); JSON Lines rows are read whole */
  columns: string[];
  row(r: SourceRow, ctx: RowContext): Promise<ConvertedRow>;
}

const rowName = (c: RowContext) => `row ${c.index}`;

/** A required text field of the row. */
export function field(r: SourceRow, key: string, c: RowContext): string {
  const v = text(r[key]);
  if (v === undefined)
    throw new BenchmarkError(
      `${c.entry.name} ${rowName(c)}: '${key}' is empty (null or missing)`,
      'check that the file is the pinned revision',
    );
  return v;
}

/**
 * V*: craigwu/vstar_bench test_questions.jsonl rows `{image, text, category, question_id, label}`.
 * Ground truth `B. <option>` (the letter and its text) as DeepEyes' judge compares it
 * (eval/judge_result.py:140 `answer = 'A. ' + answer`), so the judge sees what the letter means.
 */
const vstar: Converter = {
  columns: ['image', 'text', 'label', 'question_id'],
  async row(r, c) {
    const raw = field(r, 'text', c);
    const label = field(r, 'label', c).trim().toUpperCase();
    const options = [...raw.matchAll(/\(([A-D])\)\s*([^()]+?)(?=\s*\([A-D]\)|\n?$)/g)].map((m) => [m[1], m[2].split('\n')[0].trim()]);
    const option = options.find(([k]) => k === label);
    if (!option)
      throw new BenchmarkError(`${c.entry.name} ${rowName(c)}: label '${label}' is not one of the options in its text`, 'check the file');
    return {
      question: vstarQuestion(raw),
      answer: `${label}. ${option[1]}`,
      image: await sourceImage(c.entry, c.files, r.image, rowName(c)),
      id: field(r, 'question_id', c),
    };
  },
};

const HR_LETTERS = ['A', 'B', 'C', 'D'];

/** HR-Bench: hr_bench_{4k,8k}.parquet `index, question, answer, category, A–D, cycle_category, image` (base64). */
const hrbench: Converter = {
  columns: ['index', 'question', 'answer', ...HR_LETTERS, 'image'],
  async row(r, c) {
    const options = HR_LETTERS.flatMap((k): [string, string][] => {
      const v = text(r[k]);
      return v === undefined ? [] : [[k, v]];
    });
    const letter = field(r, 'answer', c).trim();
    const chosen = options.find(([k]) => k === letter);
    if (!chosen)
      throw new BenchmarkError(`${c.entry.name} ${rowName(c)}: answer '${letter}' is not one of its options A–D`, 'check the file');
    return {
      question: hrbenchQuestion(field(r, 'question', c), options),
      answer: `${letter}. ${chosen[1]}`,
      image: await sourceImage(c.entry, c.files, r.image, rowName(c)),
      id: field(r, 'index', c),
    };
  },
};

/**
 * MathVista testmini. A multiple-choice row's answer is the choice's text; the prompt asks for
 * the letter, so the ground truth is the letter of that choice (lmms-eval maps a letter back to
 * the text before comparing: mathvista_evals.py:289-303).
 */
const mathvista: Converter = {
  columns: ['pid', 'question', 'decoded_image', 'choices', 'unit', 'precision', 'answer', 'question_type', 'answer_type'],
  async row(r, c) {
    const choices = r.choices === null || r.choices === undefined ? null : textList(r.choices);
    const p = {
      question: field(r, 'question', c),
      unit: text(r.unit) ?? null,
      choices,
      questionType: field(r, 'question_type', c),
      answerType: field(r, 'answer_type', c),
      precision: r.precision === null || r.precision === undefined ? null : Number(r.precision),
    };
    const question = mathvistaQuestion(p);
    if (question === undefined)
      throw new BenchmarkError(
        `${c.entry.name} ${rowName(c)}: answer type '${p.answerType}' with precision ${p.precision} has no format-prompt hint in lmms-eval`,
        'check the file: the testmini rows have integer, float (precision 1 or 2), list or multiple-choice answers',
      );
    let answer = field(r, 'answer', c);
    if (p.questionType === 'multi_choice') {
      const k = (choices ?? []).indexOf(answer);
      if (k < 0) throw new BenchmarkError(`${c.entry.name} ${rowName(c)}: answer '${answer}' is not one of its choices`, 'check the file');
      answer = optionLetter(k);
    }
    return { question, answer, image: await sourceImage(c.entry, c.files, r.decoded_image, rowName(c)), id: field(r, 'pid', c) };
  },
};

/** MathVerse testmini vision-only: the `query_wo` text; the answer as the set gives it (a letter for multiple choice). */
const mathverse: Converter = {
  columns: ['sample_index', 'query_wo', 'answer', 'image'],
  async row(r, c) {
    return {
      question: mathverseQuestion(field(r, 'query_wo', c)),
      answer: field(r, 'answer', c),
      image: await sourceImage(c.entry, c.files, r.image, rowName(c)),
      id: field(r, 'sample_index', c),
    };
  },
};

/** MathVision testmini: question and `options`; the answer as the set gives it (a letter when it has options). */
const mathvision: Converter = {
  columns: ['id', 'question', 'options', 'decoded_image', 'answer'],
  async row(r, c) {
    return {
      question: mathvisionQuestion(field(r, 'question', c), textList(r.options)),
      answer: field(r, 'answer', c),
      image: await sourceImage(c.entry, c.files, r.decoded_image, rowName(c)),
      id: field(r, 'id', c),
    };
  },
};

/** CountBenchQA: `image, text, question, number`; the answer is the number (countbench/utils.py:44-45). */
const countbench: Converter = {
  columns: ['image', 'question', 'number'],
  async row(r, c) {
    return {
      question: countbenchQuestion(field(r, 'question', c)),
      answer: countbenchAnswer(field(r, 'number', c)),
      image: await sourceImage(c.entry, c.files, r.image, rowName(c)),
      id: String(c.index),
    };
  },
};

/** PixMo-count (lmms-eval's copy): `question`, `answer`, `image`. */
const pixmo: Converter = {
  columns: ['image', 'question', 'answer'],
  async row(r, c) {
    return {
      question: pixmoQuestion(field(r, 'question', c)),
      answer: field(r, 'answer', c).trim(),
      image: await sourceImage(c.entry, c.files, r.image, rowName(c)),
      id: String(c.index),
    };
  },
};

/** ChartQA test (lmms-eval's copy): `type, question, answer, image`. */
const chartqa: Converter = {
  columns: ['question', 'answer', 'image'],
  async row(r, c) {
    return {
      question: chartqaQuestion(field(r, 'question', c)),
      answer: field(r, 'answer', c),
      image: await sourceImage(c.entry, c.files, r.image, rowName(c)),
      id: String(c.index),
    };
  },
};

/** The built-in converters, by catalog name. */
export const BUILT_IN_CONVERTERS: Readonly<Record<string, Converter>> = {
  vstar,
  hrbench4k: hrbench,
  hrbench8k: hrbench,
  mathvista_testmini: mathvista,
  mathverse_testmini_vision_only: mathverse,
  mathvision_testmini: mathvision,
  countbench,
  chartqa_test: chartqa,
  pixmo_count_test: pixmo,
};
