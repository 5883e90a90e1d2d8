/**
 * A user's own benchmark entries: a JSON file (an array of entries, or `{ "benchmarks": [...] }`)
 * with the catalog's fields plus a column mapping, checked with valibot; and the generic
 * converter that a mapping drives (question, answer and image columns, options lettered A., B., …
 * after the question, or a prompt template).
 */
import * as v from 'valibot';
import { CATALOG } from './catalog';
import type { Converter } from './converters';
import { field } from './converters';
import { letteredOptions } from './prompts';
import { sourceImage, text, textList } from './sourceRows';
import { BenchmarkError, type BenchmarkEntry, type ColumnMapping } from './types';

/** The data_source values the seed's compute_score sends to the math check (llm_judge_qwen_tool_step.py:504). */
export const MATH_DATA_SOURCES: readonly string[] = ['thinklite_eureka', 'xince'];

const column = v.pipe(v.string(), v.minLength(1), v.maxLength(200));
const repoPath = v.pipe(
  v.string(),
  v.minLength(1),
  v.maxLength(1000),
  v.check(
    (p) => !p.startsWith('/') && !p.includes('\\') && !p.split('/').some((s) => s === '..' || s === ''),
    'a path inside the repository',
  ),
);

const mapping = v.strictObject({
  question: column,
  answer: column,
  image: column,
  options: v.optional(v.union([column, v.pipe(v.array(column), v.minLength(1), v.maxLength(26))])),
  prompt: v.optional(v.pipe(v.string(), v.maxLength(10_000))),
  id: v.optional(column),
});

const entry = v.pipe(
  v.strictObject({
    name: v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9_]{0,63}$/, 'lower-case letters, digits and _')),
    title: v.pipe(v.string(), v.minLength(1), v.maxLength(200)),
    repo: v.pipe(v.string(), v.regex(/^[A-Za-z0-9][\w.-]{0,95}\/[\w.-]{1,96}$/, 'owner/name of a Hub dataset')),
    revision: v.pipe(v.string(), v.regex(/^[0-9a-f]{40}$/, 'the 40-hex commit the set is pinned to')),
    files: v.pipe(v.array(repoPath), v.minLength(1), v.maxLength(1000)),
    references: v.optional(v.strictObject({ file: repoPath, field: column })),
    license: v.pipe(v.string(), v.maxLength(500)),
    rows: v.pipe(v.number(), v.integer(), v.minValue(1)),
    scoring: v.picklist(['judge', 'math']),
    dataSource: v.pipe(v.string(), v.minLength(1), v.maxLength(200)),
    split: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(200)), 'test'),
    gated: v.optional(v.pipe(v.string(), v.maxLength(1000))),
    sources: v.optional(v.array(v.pipe(v.string(), v.maxLength(2000))), []),
    columns: mapping,
  }),
  v.check(
    (e) => (e.scoring === 'math') === MATH_DATA_SOURCES.includes(e.dataSource),
    `scoring and dataSource disagree: the math check is given to dataSource ${MATH_DATA_SOURCES.join(' or ')}, the judge to any other`,
  ),
);

const entries = v.pipe(v.array(entry), v.maxLength(1000));

function issueText(issues: readonly v.BaseIssue<unknown>[]): string {
  return issues
    .slice(0, 5)
    .map((i) => {
      const at = (i.path ?? []).map((p) => String(p.key)).join('.');
      return at ? `${at}: ${i.message}` : i.message;
    })
    .join('; ');
}

/**
 * The entries of a user's benchmarks file (its parsed JSON). Throws a BenchmarkError naming the
 * field at fault; a name already in the catalog (`builtIn`) or given twice is refused.
 */
export function loadUserBenchmarks(json: unknown, builtIn: readonly string[] = CATALOG.map((e) => e.name)): BenchmarkEntry[] {
  const wrapped = json && typeof json === 'object' && !Array.isArray(json) ? (json as { benchmarks?: unknown }).benchmarks : undefined;
  const given = Array.isArray(json) ? json : wrapped;
  if (!Array.isArray(given))
    throw new BenchmarkError(
      `the benchmarks file holds ${json === null ? 'null' : Array.isArray(json) ? 'an array' : typeof json}, not a list of entries`,
      'give an array of entries, or {"benchmarks": [...]}',
    );
  const r = v.safeParse(entries, given);
  if (!r.success)
    throw new BenchmarkError(
      `the benchmarks file is not valid: ${issueText(r.issues)}`,
      'each entry needs name, title, repo, revision (40-hex), files, license, rows, scoring, dataSource and columns {question, answer, image}',
    );
  const list = r.output;
  const seen = new Set<string>();
  for (const e of list) {
    if (builtIn.includes(e.name) || seen.has(e.name))
      throw new BenchmarkError(
        `the benchmarks file names '${e.name}' ${seen.has(e.name) ? 'twice' : 'which is a built-in benchmark'}`,
        'give your entry a name of its own',
      );
    seen.add(e.name);
  }
  return list.map((e) => ({ ...e, files: [...e.files], sources: [...e.sources], columns: { ...e.columns } }));
}

const PLACEHOLDER = /\{([A-Za-z_][\w-]*)\}/g;

function templateColumns(prompt: string | undefined): string[] {
  return prompt ? [...prompt.matchAll(PLACEHOLDER)].map((m) => m[1]).filter((k) => k !== 'question' && k !== 'options') : [];
}

/** The converter a column mapping drives. */
export function mappingConverter(m: ColumnMapping): Converter {
  const optionColumns = m.options === undefined ? [] : typeof m.options === 'string' ? [m.options] : m.options;
  const columns = [m.question, m.answer, m.image, ...optionColumns, ...templateColumns(m.prompt), ...(m.id ? [m.id] : [])];
  return {
    columns: [...new Set(columns)],
    async row(r, c) {
      const question = field(r, m.question, c);
      const options =
        m.options === undefined
          ? []
          : typeof m.options === 'string'
            ? textList(r[m.options])
            : m.options.flatMap((k) => (text(r[k]) === undefined ? [] : [text(r[k])!]));
      const lettered = letteredOptions(options);
      const values: Record<string, string> = { question, options: lettered };
      const filled = m.prompt
        ? m.prompt.replace(PLACEHOLDER, (_all, k: string) => values[k] ?? field(r, k, c))
        : [question, lettered].filter((s) => s !== '').join('\n');
      return {
        question: filled,
        answer: field(r, m.answer, c),
        image: await sourceImage(c.entry, c.files, r[m.image], `row ${c.index}`),
        id: m.id ? field(r, m.id, c) : String(c.index),
      };
    },
  };
}
