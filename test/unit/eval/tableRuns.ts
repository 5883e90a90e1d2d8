/**
 * Eval output folders for the results-table tests, written by the real runner (`runEval`: its
 * results writer, manifest and stats) with the fixture model on the real wire protocol and stub
 * kernels: the "model" counts circles with code and answers what the code printed, so each run's
 * kernel stub decides which samples it gets right.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { evalPaths, runEval, type EvalOptions } from '../../../src/core/eval';
import { circlesImage, circlesQuestion, type ColorName } from '../../fixtures/images';
import { writeEvalParquet } from '../../fixtures/parquetWriter';
import { fixtureEvalOptions } from './fixtureEval';
import { stubKernels } from './stubKernel';

/** The rows: [data_source, colour, true count]. Index = position. */
export const TABLE_ROWS: [string | null, ColorName, number][] = [
  ['vstar', 'red', 3],
  ['vstar', 'blue', 2],
  ['vstar', 'green', 4],
  ['chart', 'red', 3],
  ['chart', 'blue', 2],
];

/** Writes the dataset `name`.parquet in `dir` (rows: TABLE_ROWS unless given). */
export function writeTableDataset(dir: string, name: string, rows = TABLE_ROWS): string {
  const file = path.join(dir, `${name}.parquet`);
  const img = circlesImage({ red: 1, seed: 7 });
  writeEvalParquet(
    file,
    rows.map(([source, color, n]) => ({ dataSource: source, question: circlesQuestion(color), answer: String(n), image: img.png })),
  );
  return file;
}

/**
 * Runs the eval of `data` into `{saveDir}/{model}/` with kernels that print `counts[colour]` for the
 * count the model's code asks for (so a colour whose count is not the row's answer is answered wrong).
 */
export async function writeTableRun(
  baseUrl: string,
  data: string,
  saveDir: string,
  model: string,
  counts: Partial<Record<ColorName, number>>,
  extra: Partial<EvalOptions> = {},
): Promise<string> {
  const kernels = stubKernels((code) => {
    const color = /print\('(\w+)_count ='/.exec(code)?.[1] as ColorName | undefined;
    return { stdout: color ? `${color}_count = ${counts[color] ?? 0}\n` : 'nothing to count\n' };
  });
  await runEval(fixtureEvalOptions(baseUrl, data, saveDir, { modelName: model, kernels, ...extra }));
  return path.join(saveDir, model);
}

/** Changes a run's manifest as `edit` says (e.g. to make it look like one written before a field existed). */
export function editManifest(saveDir: string, model: string, dataset: string, edit: (m: Record<string, unknown>) => void): void {
  const file = evalPaths(saveDir, model, dataset).manifest;
  const m = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(m);
  writeFileSync(file, JSON.stringify(m, null, 2));
}
