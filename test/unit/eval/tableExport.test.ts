/**
 * The results table as Markdown, LaTeX (booktabs) and CSV: golden strings for a table with two
 * runs, a benchmark only the first has, the pooled row, a flagged row, and names that need
 * escaping in each format (`|` in Markdown; `&`, `_`, `%`, `|` in LaTeX; commas and quotes in CSV).
 */
import { strict as assert } from 'node:assert';
import { latexEscape, renderTable } from '../../../src/core/eval/tableExport';
import type { CellSettings, ResultsTable, TableCell } from '../../../src/core/eval/tableTypes';

const settings = (protocol: string): CellSettings => ({
  protocol,
  prompts: 'abc123',
  scoring: 'llm-judge, judge prompts 0f0f',
  judge: 'judge',
  maxTurns: '7',
  imageBudget: 'max_pixels 12845056 (smart resize), 32 images/request',
  dataset: 'deadbeef0000',
  revision: 'org/chartqa@0123456789ab',
});

const cell = (
  run: number,
  benchmark: string,
  n: number,
  correct: number,
  ci: [number, number],
  more: Partial<TableCell> = {},
): TableCell => ({
  run,
  benchmark,
  n,
  correct,
  accuracy: correct / n,
  ci,
  errors: 0,
  timeouts: 0,
  skipped: 0,
  meanToolCalls: 1,
  settings: settings(run ? 'deepeyes' : 'codedance'),
  files: [],
  ...more,
});

const POOLED = 'all (pooled)';
const TABLE: ResultsTable = {
  runs: [
    { label: 'base', path: '/r/base', files: ['/r/base/result_base_mix.jsonl'], notes: [] },
    { label: 'm&m_1', path: '/r/m&m_1', files: ['/r/m&m_1/result_m&m_1_mix.jsonl'], notes: [] },
  ],
  benchmarks: ['chart|qa%', 'vstar', POOLED],
  pooled: POOLED,
  cells: [
    cell(0, 'chart|qa%', 40, 30, [0.5981, 0.8581], { errors: 2, timeouts: 1, meanToolCalls: 1.5 }),
    cell(1, 'chart|qa%', 40, 20, [0.352, 0.648], { skipped: 1, meanToolCalls: 2.25 }),
    cell(0, 'vstar', 10, 7, [0.3968, 0.8922]),
    cell(0, POOLED, 50, 37, [0.6039, 0.8414], { errors: 2, timeouts: 1, meanToolCalls: 1.4 }),
    cell(1, POOLED, 40, 20, [0.352, 0.648], { skipped: 1, meanToolCalls: 2.25 }),
  ],
  comparisons: [
    {
      a: 0,
      b: 1,
      rows: [
        {
          benchmark: 'chart|qa%',
          ...{ paired: 40, onlyA: 0, onlyB: 0, accA: 0.75, accB: 0.5, diff: -0.25 },
          test: { method: 'chi-square-cc', b: 20, c: 10, statistic: 2.7, p: 0.10035 },
          flips: [],
        },
        {
          benchmark: POOLED,
          ...{ paired: 40, onlyA: 10, onlyB: 0, accA: 0.75, accB: 0.5, diff: -0.25 },
          test: { method: 'exact', b: 12, c: 2, p: 0.0000123 },
          flips: [],
        },
      ],
    },
  ],
  flags: [
    {
      benchmark: 'chart|qa%',
      kind: 'differs',
      field: 'protocol',
      values: { 0: 'codedance', 1: 'deepeyes' },
      message: 'protocol differs (base: codedance, m&m_1: deepeyes)',
    },
  ],
};

const LEGEND =
  "Accuracy (%) with its 95% Wilson score interval; n: samples; err/to: samples that ended in an error / of them timeouts; tools: code executions per sample. Δ: the difference in accuracy with base on the samples both runs have (points); p: McNemar's test on those samples (exact binomial when fewer than 25 samples differ, else chi-square with continuity correction).";
const SETTINGS = (label: string, protocol: string) =>
  `${label}: protocol ${protocol} · protocol prompts abc123 · scoring llm-judge, judge prompts 0f0f · judge model judge · max turns 7 · image budget max_pixels 12845056 (smart resize), 32 images/request · dataset file deadbeef0000 · benchmark revision org/chartqa@0123456789ab`;

describe('results table exports', () => {
  it('Markdown: a pipe table, flagged rows marked ⚠ with their flags, then every run’s settings (protocol first)', () => {
    assert.equal(
      renderTable(TABLE, 'md'),
      [
        '| Benchmark | base acc. % [95% CI] | base n | base err/to | base tools | m&m_1 acc. % [95% CI] | m&m_1 n | m&m_1 err/to | m&m_1 tools | Δ m&m_1 − base | p |',
        '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
        '| chart\\|qa% ⚠ | 75.0 [59.8, 85.8] | 40 | 2/1 | 1.50 | 50.0 [35.2, 64.8] | 40 | 0/0 | 2.25 | -25.0 (n=40) | 0.100 |',
        '| vstar | 70.0 [39.7, 89.2] | 10 | 0/0 | 1.00 | — | — | — | — | — | — |',
        '| all (pooled) | 74.0 [60.4, 84.1] | 50 | 2/1 | 1.40 | 50.0 [35.2, 64.8] | 40 | 0/0 | 2.25 | -25.0 (n=40) | 1.2e-5 |',
        '',
        LEGEND,
        '',
        '- ⚠ chart|qa%: protocol differs (base: codedance, m&m_1: deepeyes)',
        '',
        'Settings:',
        '',
        `- ${SETTINGS('base', 'codedance')}`,
        `- ${SETTINGS('m&m_1', 'deepeyes')}`,
        '',
      ].join('\n'),
    );
  });

  it('LaTeX: a booktabs tabular with a column group per run and per comparison, escaped, flags as † comments', () => {
    assert.equal(
      renderTable(TABLE, 'latex'),
      [
        `% ${LEGEND}`,
        `% ${SETTINGS('base', 'codedance')}`,
        `% ${SETTINGS('m&m_1', 'deepeyes')}`,
        '\\begin{tabular}{lrrrrrrrrrr}',
        '\\toprule',
        ' & \\multicolumn{4}{c}{base} & \\multicolumn{4}{c}{m\\&m\\_1} & \\multicolumn{2}{c}{m\\&m\\_1 $-$ base} \\\\',
        '\\cmidrule(lr){2-5} \\cmidrule(lr){6-9} \\cmidrule(lr){10-11}',
        'Benchmark & Acc.\\ (\\%) [95\\% CI] & $n$ & Err./TO & Tools & Acc.\\ (\\%) [95\\% CI] & $n$ & Err./TO & Tools & $\\Delta$ (pts) & $p$ \\\\',
        '\\midrule',
        'chart\\textbar{}qa\\%$^\\dagger$ & 75.0 [59.8, 85.8] & 40 & 2/1 & 1.50 & 50.0 [35.2, 64.8] & 40 & 0/0 & 2.25 & $-$25.0 (n=40) & 0.100 \\\\',
        'vstar & 70.0 [39.7, 89.2] & 10 & 0/0 & 1.00 & -- & -- & -- & -- & -- & -- \\\\',
        '\\midrule',
        'all (pooled) & 74.0 [60.4, 84.1] & 50 & 2/1 & 1.40 & 50.0 [35.2, 64.8] & 40 & 0/0 & 2.25 & $-$25.0 (n=40) & $1.2 \\times 10^{-5}$ \\\\',
        '\\bottomrule',
        '\\end{tabular}',
        '% † chart|qa%: protocol differs (base: codedance, m&m_1: deepeyes)',
        '',
      ].join('\n'),
    );
    assert.equal(
      latexEscape('a\\b~c^d{e}$f#g<h>'),
      'a\\textbackslash{}b\\textasciitilde{}c\\textasciicircum{}d\\{e\\}\\$f\\#g\\textless{}h\\textgreater{}',
    );
  });

  it('CSV: one row per benchmark and run, the comparison with the baseline on the other runs’ rows, RFC 4180 quoting', () => {
    const s =
      '"llm-judge, judge prompts 0f0f",judge,7,"max_pixels 12845056 (smart resize), 32 images/request",deadbeef0000,org/chartqa@0123456789ab';
    const flag = '"protocol differs (base: codedance, m&m_1: deepeyes)"';
    assert.equal(
      renderTable(TABLE, 'csv'),
      [
        'benchmark,run,path,protocol,prompts,scoring,judge,maxTurns,imageBudget,dataset,revision,n,correct,accuracy,ci_low,ci_high,errors,timeouts,skipped,mean_tool_calls,baseline,paired,diff,mcnemar_method,mcnemar_statistic,p_value,correct_to_wrong,wrong_to_correct,flags',
        `chart|qa%,base,/r/base,codedance,abc123,${s},40,30,0.75,0.5981,0.8581,2,1,0,1.5,,,,,,,,,${flag}`,
        `chart|qa%,m&m_1,/r/m&m_1,deepeyes,abc123,${s},40,20,0.5,0.352,0.648,0,0,1,2.25,base,40,-0.25,chi-square-cc,2.7,0.10035,20,10,${flag}`,
        `vstar,base,/r/base,codedance,abc123,${s},10,7,0.7,0.3968,0.8922,0,0,0,1,,,,,,,,,`,
        `all (pooled),base,/r/base,codedance,abc123,${s},50,37,0.74,0.6039,0.8414,2,1,0,1.4,,,,,,,,,`,
        `all (pooled),m&m_1,/r/m&m_1,deepeyes,abc123,${s},40,20,0.5,0.352,0.648,0,0,1,2.25,base,40,-0.25,exact,,0.0000123,12,2,`,
        '',
      ].join('\r\n'),
    );
    const quoted = renderTable({ ...TABLE, runs: [{ ...TABLE.runs[0], label: 'say "hi"' }, TABLE.runs[1]] }, 'csv');
    assert.match(quoted.split('\r\n')[1], /^chart\|qa%,"say ""hi""",/);
  });
});
