/**
 * The pieces under "Evaluate this checkpoint": the merge job's script run by bash with a stand-in
 * `verl.model_merger` (test/fixtures/fakeVerl; `python` absent, as on Debian: python3 is used),
 * the environment lines taken from a training script, the copy of a cluster file over a command
 * channel (bash here: the same commands the SSH connection runs), and the checkpoint-eval index.
 */
import * as assert from 'node:assert/strict';
import { spawnSync, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  checkpointEvalSeries,
  checkpointEvalsFile,
  checkpointEvalsOf,
  onCheckpointEvalRecorded,
  recordCheckpointEval,
  type CheckpointEval,
} from '../../../src/core/runs/checkpointEvals';
import { mergeJobSpec, mergeScript, setupLinesOf } from '../../../src/core/runs/mergeJob';
import { copyDown, type CommandHost } from '../../../src/core/runs/remoteCopy';
import { CheckpointError } from '../../../src/core/runs/checkpointErrors';

const FAKE_VERL = path.resolve(__dirname, '../../fixtures/fakeVerl');

describe('runs: the merge job, the copy of a run file, the checkpoint-eval index', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'ckpt-merge-'));
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  function checkpoint(step: number): string {
    const ckpt = path.join(tmp, `checkpoints/CodeDance/exp/global_step_${step}`);
    mkdirSync(path.join(ckpt, 'actor/huggingface'), { recursive: true });
    writeFileSync(path.join(ckpt, 'actor/huggingface/config.json'), JSON.stringify({ model_type: 'qwen2_5_vl', step }));
    writeFileSync(path.join(ckpt, 'actor/model_world_size_1_rank_0.pt'), 'shard');
    return ckpt;
  }

  /** The script as the Slurm job runs it: bash, set -eo pipefail, no `python` on PATH. */
  function runMerge(script: string, env: Record<string, string> = {}) {
    return spawnSync('bash', ['-c', `set -eo pipefail\n${script}`], {
      env: { PATH: '/usr/bin:/bin', PYTHONPATH: FAKE_VERL, PYTHONDONTWRITEBYTECODE: '1', ...env },
      encoding: 'utf8',
      cwd: tmp,
    });
  }

  it('merges into the merged folder through a partial one; run again it does nothing; a failed merge leaves no folder behind', () => {
    const ckpt = checkpoint(20);
    const merged = path.join(ckpt, 'merged_hf');
    const r = runMerge(mergeScript(ckpt, merged, { workingDir: tmp }));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /Saved merged model to .*merged_hf\.partial-[a-z0-9]+\n/);
    assert.deepEqual(JSON.parse(readFileSync(path.join(merged, 'config.json'), 'utf8')), { model_type: 'qwen2_5_vl', step: 20 });
    assert.deepEqual(readdirSync(ckpt).sort(), ['actor', 'merged_hf'], 'no partial folder is left');
    // again (a second window, a resumed chain): no merger is run
    rmSync(path.join(ckpt, 'actor'), { recursive: true });
    const again = runMerge(mergeScript(ckpt, merged));
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /is merged already/);

    const other = checkpoint(40);
    const bad = runMerge(mergeScript(other, path.join(other, 'merged_hf')), { FAKE_MERGER_FAIL: '1' });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /stand-in merger failed on purpose/);
    assert.deepEqual(readdirSync(other), ['actor'], 'neither the merged nor the partial folder');
  });

  it('a merged folder left incomplete by hand (no config.json) is replaced; a checkpoint without shards fails naming it', () => {
    const ckpt = checkpoint(60);
    const merged = path.join(ckpt, 'merged_hf');
    mkdirSync(merged);
    writeFileSync(path.join(merged, 'model.safetensors'), 'half');
    const r = runMerge(mergeScript(ckpt, merged));
    assert.equal(r.status, 0, r.stderr);
    assert.ok(existsSync(path.join(merged, 'config.json')));
    const none = runMerge(mergeScript(path.join(tmp, 'nowhere/global_step_1'), path.join(tmp, 'nowhere/global_step_1/merged_hf')));
    assert.equal(none.status, 1);
    assert.match(none.stderr, /nowhere\/global_step_1\/actor is not a checkpoint folder/);
  });

  it("runs the training script's environment lines first, in its working folder", () => {
    const ckpt = checkpoint(80);
    const venv = path.join(tmp, 'venv');
    mkdirSync(path.join(venv, 'bin'), { recursive: true });
    writeFileSync(path.join(venv, 'bin/activate'), `export VIRTUAL_ENV=${venv}\nexport PYTHONPATH=${FAKE_VERL}\n`);
    const training = [
      '#!/bin/bash',
      '#SBATCH --job-name=exp',
      'set -eo pipefail',
      `source ${venv}/bin/activate`,
      'module load cuda/12.4 2>/dev/null || true',
      'export HYDRA_FULL_ERROR=1',
      'python3 -m verl.trainer.main_ppo trainer.save_freq=20',
    ].join('\n');
    const setup = setupLinesOf(training);
    assert.deepEqual(setup, [`source ${venv}/bin/activate`, 'module load cuda/12.4 2>/dev/null || true']);
    // the stand-in verl is found only through the activated environment
    const r = runMerge(mergeScript(ckpt, path.join(ckpt, 'merged_hf'), { workingDir: tmp, setup }), { PYTHONPATH: '' });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(existsSync(path.join(ckpt, 'merged_hf/config.json')));
  });

  it('the Ray entrypoint is the same script under bash (Ray runs entrypoints with /bin/sh)', () => {
    const ckpt = checkpoint(100);
    const spec = mergeJobSpec(100, ckpt, path.join(ckpt, 'merged_hf'), { kind: 'ray', env: { X: '1' } });
    assert.deepEqual(spec.metadata, { template: 'checkpoint-merge', checkpoint: ckpt, merged: path.join(ckpt, 'merged_hf'), step: '100' });
    const r = spawnSync('sh', ['-c', spec.entrypoint], {
      env: { PATH: '/usr/bin:/bin', PYTHONPATH: FAKE_VERL, PYTHONDONTWRITEBYTECODE: '1' },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(existsSync(path.join(ckpt, 'merged_hf/config.json')));
    const slurm = mergeJobSpec(100, ckpt, path.join(ckpt, 'merged_hf'), { kind: 'slurm' });
    assert.equal(slurm.gpusPerNode, 0);
    assert.equal(slurm.name, 'merge-step100');
  });

  /** bash on this machine as the "cluster": the commands copyDown sends over SSH; counts the chunk commands */
  function localHost(): CommandHost & { chunks: number } {
    const host = {
      chunks: 0,
      target: { label: 'fake-login' },
      exec(command: string) {
        if (command.startsWith('tail -c')) host.chunks++;
        return new Promise<{ stdout: string; stderr: string; code: number | null }>((resolve) => {
          execFile('bash', ['-c', command], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) =>
            resolve({ stdout, stderr, code: err ? ((err as { code?: number }).code ?? 1) : 0 }),
          );
        });
      },
    };
    return host;
  }

  it('copies a binary file in chunks, resumes a copy cut short, reuses a current copy, and copies a changed file again', async () => {
    const remote = path.join(tmp, 'cluster/data/vstar_val.parquet');
    mkdirSync(path.dirname(remote), { recursive: true });
    const bytes = randomBytes(100_000);
    writeFileSync(remote, bytes);
    const cache = path.join(tmp, 'cache');
    const host = localHost();
    // cut short after the first chunk
    const ac = new AbortController();
    await assert.rejects(
      copyDown(host, remote, cache, { chunkBytes: 16_384, signal: ac.signal, onProgress: (done) => done > 0 && ac.abort() }),
      (e: CheckpointError) => e.code === 'cancelled' && /16384 of 100000 bytes kept/.test(e.message),
    );
    assert.equal(host.chunks, 1);
    const progress: number[] = [];
    const local = await copyDown(host, remote, cache, { chunkBytes: 16_384, onProgress: (d) => progress.push(d) });
    assert.equal(path.basename(local), 'vstar_val.parquet');
    assert.ok(readFileSync(local).equals(bytes));
    assert.equal(progress[0], 16_384, 'went on from the bytes kept');
    assert.equal(host.chunks, 7, '1 before the cut, 6 after it');
    // current: no chunk is read again
    assert.equal(await copyDown(host, remote, cache, { chunkBytes: 16_384 }), local);
    assert.equal(host.chunks, 7);
    // changed on the cluster (same size, new time): copied again
    const changed = randomBytes(100_000);
    writeFileSync(remote, changed);
    utimesSync(remote, new Date(), new Date(Date.now() + 5000));
    await copyDown(host, remote, cache, { chunkBytes: 50_000 });
    assert.ok(readFileSync(local).equals(changed));
    assert.equal(host.chunks, 9);
    await assert.rejects(
      copyDown(host, path.join(tmp, 'cluster/none.parquet'), cache),
      (e: CheckpointError) => e.code === 'no-data' && /does not exist on fake-login/.test(e.message),
    );
  });

  function evalOf(step: number, dataset: string, accuracy: number): CheckpointEval {
    return {
      step,
      accuracy,
      n: 10,
      dataset,
      dataFile: `/data/${dataset}.parquet`,
      evalDir: `/ws/e/${step}`,
      model: `/ck/global_step_${step}/merged_hf`,
      judged: true,
      finishedAt: '2026-12-07T16:00:00.000Z',
    };
  }

  it('the index: one entry per run, step and dataset (evaluating again replaces it), writes at once all kept, bad entries dropped, series by dataset', async () => {
    const file = checkpointEvalsFile(path.join(tmp, 'codedance-eval'));
    const heard: number[] = [];
    const off = onCheckpointEvalRecorded((e) => heard.push(e.evals.length));
    try {
      await Promise.all([
        recordCheckpointEval(file, 'job:hpc:1', evalOf(40, 'vstar_val', 0.5)),
        recordCheckpointEval(file, 'job:hpc:1', evalOf(20, 'vstar_val', 0.25)),
        recordCheckpointEval(file, 'job:hpc:1', evalOf(20, 'pixmo_test', 0.75)),
        recordCheckpointEval(file, 'job:hpc:2', evalOf(20, 'vstar_val', 0.1)),
      ]);
      await recordCheckpointEval(file, 'job:hpc:1', evalOf(40, 'vstar_val', 0.625));
    } finally {
      off();
    }
    assert.deepEqual(heard, [1, 2, 3, 1, 3]);
    const one = await checkpointEvalsOf(file, 'job:hpc:1');
    assert.deepEqual(
      one.map((e) => [e.step, e.dataset, e.accuracy]),
      [
        [20, 'pixmo_test', 0.75],
        [20, 'vstar_val', 0.25],
        [40, 'vstar_val', 0.625],
      ],
    );
    assert.deepEqual(checkpointEvalSeries(one), [
      { dataset: 'pixmo_test', points: [[20, 0.75]] },
      {
        dataset: 'vstar_val',
        points: [
          [20, 0.25],
          [40, 0.625],
        ],
      },
    ]);
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    assert.equal(doc.kind, 'codedance-checkpoint-evals');
    doc.runs['job:hpc:2'].push({ step: -1, accuracy: 3 }, 'nonsense');
    writeFileSync(file, JSON.stringify(doc));
    assert.deepEqual(
      (await checkpointEvalsOf(file, 'job:hpc:2')).map((e) => e.step),
      [20],
    );
    assert.deepEqual(await checkpointEvalsOf(path.join(tmp, 'none.json'), 'job:hpc:1'), []);
    await assert.rejects(recordCheckpointEval(file, 'job:hpc:1', { ...evalOf(1, 'x', 0.5), accuracy: Number.NaN }));
  });
});
