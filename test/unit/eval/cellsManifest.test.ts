/**
 * The eval manifest and report say where the cells ran (sandboxNotice.ts): a run on a remote
 * kernel is recorded as "unsandboxed: remote kernel", with the notice; a resumed run that ran
 * elsewhere makes the report say "mixed".
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cellsEntry, cellsLabel, evalPaths, loadRun, runEval, type RunManifest } from '../../../src/core/eval';
import { remoteCellHost } from '../../../src/core/kernel/sandboxNotice';
import { startFixtureModel, type FixtureModel } from '../../fixtures/fixtureModel';
import { circlesImage, circlesQuestion } from '../../fixtures/images';
import { writeEvalJsonl } from '../../fixtures/parquetWriter';
import { fixtureEvalOptions, redCountKernels } from './fixtureEval';

describe('eval manifest and report: where the cells ran', function () {
  this.timeout(60_000);
  let tmp: string;
  let fm: FixtureModel;
  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-cells-'));
    fm = await startFixtureModel();
  });
  after(async () => {
    await fm.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('cellsEntry: label, notice and the host as data', () => {
    const e = cellsEntry(remoteCellHost('http://u:pw-secret@h:8888/'))!;
    assert.equal(e.label, 'unsandboxed: remote kernel');
    assert.equal(e.sandboxed, false);
    assert.match(e.notice, /whatever user the server runs as/);
    assert.deepEqual(e.host, { kind: 'remote', server: 'http://h:8888/' });
    assert.equal(cellsEntry(undefined), undefined);
  });

  it('a run on a remote kernel: manifest and report say "unsandboxed: remote kernel"; a resume elsewhere: "mixed"', async () => {
    const data = path.join(tmp, 'set.jsonl');
    writeEvalJsonl(data, [
      { dataSource: 'vstar', question: circlesQuestion('red'), answer: '3', image: circlesImage({ red: 3, seed: 4 }).png },
    ]);
    const save = path.join(tmp, 'save');
    const kernels = { ...redCountKernels(), host: remoteCellHost('http://127.0.0.1:8888/?token=abcdef123') };
    await runEval(fixtureEvalOptions(fm.baseUrl, data, save, { kernels }));
    const p = evalPaths(save, 'm', 'set');
    const m = JSON.parse(readFileSync(p.manifest, 'utf8')) as RunManifest;
    assert.equal(m.cells?.label, 'unsandboxed: remote kernel');
    assert.equal(m.runs[0].cells, 'unsandboxed: remote kernel');
    assert.doesNotMatch(JSON.stringify(m), /abcdef123/);
    assert.equal((await loadRun(p.results)).run.cells, 'unsandboxed: remote kernel');

    await runEval(
      fixtureEvalOptions(fm.baseUrl, data, save, { kernels: { ...redCountKernels(), host: { kind: 'notebook', notebook: 'a.ipynb' } } }),
    );
    assert.equal((await loadRun(p.results)).run.cells, 'mixed: unsandboxed: remote kernel; unsandboxed: notebook kernel');
    assert.equal(cellsLabel(undefined), undefined);
  });
});
