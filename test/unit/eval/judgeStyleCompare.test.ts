/**
 * Two runs judged by different judges are flagged: the manifest records `judge.style` (seed |
 * deepeyes), and `codedance eval table` (tableModel's flags) and the A/B report's warnings
 * (reportComparisonWarnings, shown by the report webview's compare box) name the scoring as
 * differing — also without an LLM judge, where the judge's prompts are not compared. A manifest
 * written before the style was recorded is the seed's (as a resume reads it): not flagged.
 * Runs written by the real runner (tableRuns.ts) with the fixture model.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { evalPaths, loadRun } from '../../../src/core/eval';
import { reportComparisonWarnings } from '../../../src/core/eval/tableCompare';
import { loadResultsTable } from '../../../src/core/eval/tableModel';
import { startFixtureModel, type FixtureModel } from '../../fixtures/fixtureModel';
import { editManifest, writeTableDataset, writeTableRun } from './tableRuns';

describe('runs judged with different judge styles are flagged (eval table, A/B report)', function () {
  this.timeout(60_000);
  let tmp: string;
  let fm: FixtureModel;
  let save: string;
  const counts = { red: 3, blue: 2, green: 4 };

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-judge-style-'));
    fm = await startFixtureModel();
    const data = writeTableDataset(tmp, 'mini');
    save = path.join(tmp, 'save');
    await writeTableRun(fm.baseUrl, data, save, 'seed', counts);
    await writeTableRun(fm.baseUrl, data, save, 'deep', counts, { judgeStyle: 'deepeyes' });
    await writeTableRun(fm.baseUrl, data, save, 'deep2', counts, { judgeStyle: 'deepeyes' });
    await writeTableRun(fm.baseUrl, data, save, 'older', counts);
    editManifest(save, 'older', 'mini', (m) => delete (m.judge as Record<string, unknown>).style);
  });
  after(async () => {
    await fm.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  const run = (model: string, label: string) => loadRun(evalPaths(save, model, 'mini').results, label).then((r) => r.run);

  it('the table flags the scoring of every benchmark of a seed-judged and a DeepEyes-judged run', async () => {
    const t = await loadResultsTable([path.join(save, 'seed'), path.join(save, 'deep')]);
    assert.deepEqual(
      t.flags.map((f) => [f.benchmark, f.kind, f.kind === 'differs' ? f.field : '', f.message]),
      ['chart', 'vstar'].map((b) => [
        b,
        'differs',
        'scoring',
        'scoring differs (seed: no-judge (normalized match), deep: no-judge (normalized match), judge style deepeyes)',
      ]),
    );
  });

  it('the A/B report warns of it; two runs of one judge, or a manifest from before the style was recorded, are not flagged', async () => {
    const [seed, deep, deep2, older] = await Promise.all([run('seed', 'A'), run('deep', 'B'), run('deep2', 'B'), run('older', 'B')]);
    assert.deepEqual(reportComparisonWarnings(seed, deep), [
      'scoring differs (run A: no-judge (normalized match), run B: no-judge (normalized match), judge style deepeyes)',
    ]);
    assert.deepEqual(reportComparisonWarnings(deep, deep2), []);
    assert.deepEqual(reportComparisonWarnings(seed, older), []);
    assert.deepEqual((await loadResultsTable([path.join(save, 'deep'), path.join(save, 'deep2')])).flags, []);
  });
});
