/**
 * `codedance eval table` end to end: two eval output folders written by the built CLI itself
 * (`codedance eval`, a real kernel, the fixture VLM on the real wire protocol), one with the
 * protocol's turns and one with a single model call (it runs its code and is cut off before it
 * can answer), then the table of both: printed, as JSON, Markdown, LaTeX and CSV, to stdout and
 * to a file; the max-turns difference flagged; every sample the first run got right listed as
 * flipped; a folder that is not a run refused with what a run folder holds.
 */
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLI, type CliRun, runCli } from '../../fixtures/cli';
import { startFixtureModel, type FixtureModel } from '../../fixtures/fixtureModel';
import { circlesImage, circlesQuestion } from '../../fixtures/images';
import { writeEvalJsonl } from '../../fixtures/parquetWriter';

const PYTHON = process.env.CODEDANCE_TEST_PYTHON ?? '/usr/bin/python3';

function cli(args: string[]): Promise<CliRun> {
  return runCli(args, {
    CODEDANCE_BASE_URL: undefined,
    LLM_AS_A_JUDGE_BASE: undefined,
    OPENAI_API_KEY: undefined,
    CODEDANCE_API_KEY: undefined,
    CODEDANCE_PYTHON: PYTHON,
  });
}

describe('codedance eval table (CLI, runs written by codedance eval, real kernel)', function () {
  this.timeout(240_000);
  let tmp: string;
  let fm: FixtureModel;
  let runA: string;
  let runB: string;
  /** per sample index: did run A get it right (read from its results file) */
  let rightA: Map<number, boolean>;

  before(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' first (npm test does it)`);
    tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-evaltable-'));
    fm = await startFixtureModel();
    const img = circlesImage({ red: 3, blue: 2, seed: 5 });
    const data = path.join(tmp, 'mini.jsonl');
    writeEvalJsonl(data, [
      { dataSource: 'vstar', question: circlesQuestion('red'), answer: '3', image: img.png },
      { dataSource: 'vstar', question: circlesQuestion('blue'), answer: '2', image: img.png },
      { dataSource: 'chart', question: circlesQuestion('red'), answer: '3', image: img.png },
    ]);
    const save = path.join(tmp, 'save');
    const evalRun = async (model: string, extra: string[]) => {
      const r = await cli([
        'eval',
        '--model-name',
        model,
        '--api-url',
        fm.baseUrl,
        '--data-path',
        data,
        '--save-path',
        save,
        '--num-workers',
        '2',
        '--no-judge',
        '--quiet',
        ...extra,
      ]);
      assert.equal(r.code, 0, r.stderr);
      return path.join(save, model);
    };
    runA = await evalRun('full', []);
    runB = await evalRun('oneturn', ['--max-turns', '1']);
    rightA = new Map(
      readFileSync(path.join(runA, 'result_full_mini.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { index: number; acc: number })
        .map((r) => [r.index, r.acc === 1]),
    );
    assert.ok([...rightA.values()].some(Boolean), 'the fixture model counts the circles right in run A');
  });
  after(async () => {
    await fm.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('prints the table: both runs per benchmark, the comparison, the flipped samples, the max-turns flag and the settings', async () => {
    const r = await cli(['eval', 'table', runA, runB]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.match(lines[0], /^benchmark\s+full\s+oneturn\s+oneturn vs full$/);
    assert.match(r.stdout, /^chart ⚠ +\d+\.\d% \[[\d.]+, [\d.]+\] n=1 /m);
    assert.match(r.stdout, /^vstar ⚠ +\d+\.\d% \[[\d.]+, [\d.]+\] n=2 /m);
    assert.match(r.stdout, /^all \(pooled\) +/m);
    assert.match(r.stdout, /⚠ vstar: max turns differs \(full: 7, oneturn: 1\)/);
    assert.match(
      r.stdout,
      /^ {2}full: protocol codedance · protocol prompts [0-9a-f]{12} · scoring no-judge \(normalized match\) · .*max turns 7 · image budget max_pixels 12845056 \(smart resize\), 32 images\/request/m,
    );
    const right = [...rightA].filter(([, ok]) => ok).map(([i]) => i);
    const vstarRight = right.filter((i) => i < 2).sort();
    assert.match(
      r.stdout,
      new RegExp(
        `vstar \\(oneturn vs full\\):\\n {2}correct→wrong: ${vstarRight.length} \\(${vstarRight.join(', ')}\\)\\n {2}wrong→correct: none`,
      ),
    );
  });

  it('--json: the whole table, every flipped sample with its two results files', async () => {
    const r = await cli(['eval', 'table', runA, runB, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const t = JSON.parse(r.stdout);
    assert.deepEqual(t.benchmarks, ['chart', 'vstar', 'all (pooled)']);
    assert.deepEqual(
      t.runs.map((x: { label: string }) => x.label),
      ['full', 'oneturn'],
    );
    const cellB = t.cells.find((c: { benchmark: string; run: number }) => c.benchmark === 'all (pooled)' && c.run === 1);
    assert.equal(cellB.correct, 0, 'one model call: code, but no answer');
    const flips = t.comparisons[0].rows
      .filter((x: { benchmark: string }) => x.benchmark !== 'all (pooled)')
      .flatMap((x: { flips: { index: number; direction: string; fileA: string; fileB: string }[] }) => x.flips);
    assert.deepEqual(
      flips.map((f: { index: number }) => f.index).sort(),
      [...rightA]
        .filter(([, ok]) => ok)
        .map(([i]) => i)
        .sort(),
    );
    for (const f of flips) {
      assert.equal(f.direction, 'correct-to-wrong');
      assert.equal(f.fileA, path.join(runA, 'result_full_mini.jsonl'));
      assert.equal(f.fileB, path.join(runB, 'result_oneturn_mini.jsonl'));
    }
    assert.ok(t.flags.some((f: { field?: string; benchmark: string }) => f.field === 'maxTurns' && f.benchmark === 'vstar'));
  });

  it('--format md|latex|csv to stdout, and --out FILE (its extension picks the format)', async () => {
    const md = await cli(['eval', 'table', runA, runB, '--format', 'md']);
    assert.equal(md.code, 0, md.stderr);
    assert.match(md.stdout, /^\| Benchmark \| full acc\. % \[95% CI\] \| full n \|/);
    assert.match(md.stdout, /^\| vstar ⚠ \| /m);
    const tex = await cli(['eval', 'table', runA, runB, '--format', 'latex']);
    assert.match(tex.stdout, /\\begin\{tabular\}\{lrrrrrrrrrr\}\n\\toprule\n & \\multicolumn\{4\}\{c\}\{full\}/);
    assert.match(tex.stdout, /\\bottomrule\n\\end\{tabular\}\n/);
    const csv = await cli(['eval', 'table', runA, runB, '--format', 'csv']);
    const rows = csv.stdout.trim().split('\r\n');
    assert.equal(rows.length, 1 + 3 * 2, 'a header and one row per benchmark and run');
    assert.match(rows[0], /^benchmark,run,path,protocol,/);
    const out = path.join(tmp, 'table.tex');
    const f = await cli(['eval', 'table', runA, runB, '--out', out]);
    assert.equal(f.code, 0, f.stderr);
    assert.equal(f.stdout, '');
    assert.match(f.stderr, /wrote .*table\.tex/);
    assert.equal(readFileSync(out, 'utf8'), tex.stdout);
  });

  it('refuses a folder that is not a run (naming it and what a run folder holds) and conflicting flags', async () => {
    const missing = path.join(tmp, 'no-such-run');
    const r = await cli(['eval', 'table', runA, missing]);
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr.trim(),
      `codedance: run folder ${missing} does not exist — a run is what an eval writes: a folder \`<save path>/<model name>/\` holding result_<model>_<dataset>.jsonl files, each with its manifest_<model>_<dataset>.json (or one such results file)`,
    );
    const above = await cli(['eval', 'table', path.dirname(runA)]);
    assert.equal(above.code, 2);
    assert.match(
      above.stderr,
      /has no results file \(result_\*\.jsonl\) \(it looks like a save path: its run folders are .*full, .*oneturn\)/,
    );
    const both = await cli(['eval', 'table', runA, '--json', '--format', 'md']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /give --json or --format, not both/);
    const none = await cli(['eval', 'table']);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /give at least one RUN/);
  });
});
