/**
 * Checkpoint → merge → serve → eval → recorded, on the real local Slurm over real SSH
 * (test/fixtures/slurmCluster.ts), through the built CLI (`codedance train eval-checkpoint`):
 *   - the run: the repo's codedance-rl job with the stand-in trainer (test/fixtures/runs), which
 *     saves global_step_N/actor/ every trainer.save_freq steps, validating on a parquet file of
 *     this test's (3 rows: 2 ground truths right, 1 wrong) under the job's DATA_ROOT;
 *   - the merge: a Slurm job running `python -m verl.model_merger merge …` with a stand-in verl
 *     (test/fixtures/fakeVerl) on the merge job's PYTHONPATH;
 *   - serving: the serve flow's vLLM job with the stand-in `vllm` of the serve tests, which starts
 *     the fixture model (real OpenAI wire protocol) — reached through an SSH tunnel;
 *   - the eval: `codedance eval` on the val file copied down from the cluster, real kernels running
 *     the fixture model's code on the images (it answers what its code measured);
 *   - the result: in <save-path>/checkpoint-evals.json under the run's key, at the step.
 * Run again: the merge is not redone (no second merge job), the copy is reused. A merger that fails
 * stops the chain with the merge job's log, before any serve job.
 */
import * as assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildJob, defaultParams } from '../../../src/core/jobs';
import { SlurmBackend } from '../../../src/core/jobs/SlurmBackend';
import type { SlurmClusterProfile } from '../../../src/core/jobs/types';
import { checkpointEvalsOf } from '../../../src/core/runs/checkpointEvals';
import { CheckpointError } from '../../../src/core/runs/checkpointErrors';
import { waitForJob } from '../../../src/core/runs/mergeJob';
import { copyDown } from '../../../src/core/runs/remoteCopy';
import { CLI, runCli, type CliRun } from '../../fixtures/cli';
import { circlesImage, circlesQuestion } from '../../fixtures/images';
import { writeEvalParquet } from '../../fixtures/parquetWriter';
import { standInCheckout } from '../../fixtures/runs/standIn';
import { ensureSlurmCluster, slurmPrerequisites, stopSlurmCluster, type SlurmCluster } from '../../fixtures/slurmCluster';
import { fakeVllmEnv } from '../serve/fakeVllm';

const FAKE_VERL = path.resolve(__dirname, '../../fixtures/fakeVerl');
const PYTHON = process.env.CODEDANCE_TEST_PYTHON ?? '/usr/bin/python3';

describe('runs: evaluate a checkpoint — merge job, served model, eval, recorded (real Slurm + sshd, CLI)', function () {
  this.timeout(240_000);
  let cluster: SlurmCluster;
  let profile: SlurmClusterProfile;
  let backend: SlurmBackend;
  let tmp: string;
  let repo: string;
  let clusters: string;
  let serveEnv: Record<string, string>;
  let jobId: string;
  let checkpointDir: string;

  before(async function () {
    const why = slurmPrerequisites();
    if (why) {
      console.log(`      skipped: ${why}`);
      this.skip();
    }
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' first (npm test does it)`);
    cluster = await ensureSlurmCluster();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'runs-ckpt-eval-'));
    repo = standInCheckout(tmp);
    const knownHosts = path.join(tmp, 'known_hosts');
    writeFileSync(knownHosts, cluster.hostKeyLine + '\n');
    profile = {
      name: 'local-slurm',
      kind: 'slurm',
      host: '127.0.0.1',
      port: cluster.sshPort,
      user: cluster.user,
      identityFile: cluster.identityFile,
      knownHosts,
      strictHostKeyChecking: 'yes',
      sshConfig: path.join(tmp, 'no-ssh-config'),
      jobsDir: path.join(tmp, 'remote-jobs'),
    };
    clusters = path.join(tmp, 'clusters.json');
    writeFileSync(clusters, JSON.stringify([profile]));
    backend = new SlurmBackend(profile);
    serveEnv = await fakeVllmEnv(tmp);

    // the run's validation file, on the "cluster" under the job's DATA_ROOT
    const data = path.join(tmp, 'data');
    mkdirSync(data);
    writeEvalParquet(path.join(data, 'mini_val.parquet'), [
      { dataSource: 'vstar', question: circlesQuestion('red'), answer: '4', image: circlesImage({ red: 4, blue: 2, seed: 3 }).png },
      { dataSource: 'vstar', question: circlesQuestion('green'), answer: '3', image: circlesImage({ green: 3, red: 1, seed: 5 }).png },
      { dataSource: 'vstar', question: circlesQuestion('blue'), answer: '5', image: circlesImage({ blue: 6, seed: 9 }).png }, // wrong ground truth
    ]);
    const spec = buildJob(
      'codedance-rl',
      defaultParams({
        experimentName: 'ckpt-eval-it',
        repoDir: repo,
        nodes: 1,
        gpusPerNode: 0,
        dataRoot: data,
        valFiles: 'mini_val.parquet',
        extraOverrides: ['trainer.save_freq=2'],
      }),
      'slurm',
    );
    ({ id: jobId } = await backend.submit({ ...spec, env: { ...spec.env, STANDIN_STEPS: '4', STANDIN_STEP_S: '0.1' } }));
    const ended = await waitForJob(backend, jobId, { pollMs: 200 });
    assert.equal(ended.status, 'SUCCEEDED', await backend.logs(jobId));
    checkpointDir = path.join(repo, 'checkpoints/CodeDance/ckpt-eval-it');
    assert.ok(existsSync(path.join(checkpointDir, 'global_step_4/actor')));
  });

  after(async () => {
    await backend?.dispose();
    await stopSlurmCluster();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  function evalCheckpoint(step: number, extra: string[] = []): Promise<CliRun> {
    return runCli(
      [
        'train',
        'eval-checkpoint',
        '--job',
        jobId,
        '--clusters',
        clusters,
        '--cluster',
        'local-slurm',
        '--step',
        String(step),
        '--no-judge',
        '--num-workers',
        '2',
        '--save-path',
        path.join(tmp, 'save'),
        '--cache-dir',
        path.join(tmp, 'cache'),
        '--merge-env',
        `PYTHONPATH=${FAKE_VERL}`,
        '--merge-env',
        'PYTHONDONTWRITEBYTECODE=1', // no __pycache__ in the fixture
        ...Object.entries(serveEnv).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
        '--poll',
        '0.3',
        '--ready-timeout',
        '90',
        '--json',
        ...extra,
      ],
      { CODEDANCE_PYTHON: PYTHON, CODEDANCE_BASE_URL: undefined, LLM_AS_A_JUDGE_BASE: undefined, CODEDANCE_CLUSTERS: undefined },
    );
  }

  /** The jobs of this test's user on the cluster named `name`, newest first. */
  async function jobsNamed(name: string) {
    return (await backend.list()).filter((j) => j.name === name);
  }

  it("merges (a Slurm job), serves the merged model, evaluates it on the run's val file copied down, records the result at the step, stops the serve job", async () => {
    const t0 = Date.now();
    const r = await evalCheckpoint(4);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    const merged = path.join(checkpointDir, 'global_step_4/merged_hf');
    assert.equal(out.merged, merged);
    assert.deepEqual(
      out.evals.map((e: Record<string, unknown>) => [e.step, e.dataset, e.n, e.dataFile, e.model, e.judged]),
      [[4, 'mini_val', 3, path.join(tmp, 'data/mini_val.parquet'), merged, false]],
    );
    assert.ok(Math.abs(out.evals[0].accuracy - 2 / 3) < 1e-9, `accuracy ${out.evals[0].accuracy}`);
    console.log(`      checkpoint → merged → served → 3 samples scored in ${Date.now() - t0} ms`);

    // the merge ran as a job on the cluster, and left the model in place
    const mergeJobs = await jobsNamed('merge-step4');
    assert.equal(mergeJobs.length, 1);
    assert.equal(mergeJobs[0].status, 'SUCCEEDED');
    assert.match(await backend.logs(mergeJobs[0].id), /Saved merged model to .*merged_hf\.partial-/);
    assert.equal(JSON.parse(readFileSync(path.join(merged, 'config.json'), 'utf8')).model_type, 'qwen2_5_vl');
    assert.match(r.stderr, /codedance: merge: merging step 4 into/);
    // the model was served under the checkpoint's name, and the job stopped when the eval ended
    // scancel'd when the eval ended: COMPLETING for a moment, then CANCELLED (one left running fails this wait)
    const serveJob = await waitForJob(backend, out.served.jobId, { pollMs: 200, signal: AbortSignal.timeout(30_000) });
    assert.equal(out.served.servedModelName, 'ckpt-eval-it-step4');
    assert.equal(serveJob.status, 'STOPPED');
    assert.match(
      await backend.logs(out.served.jobId),
      /vllm-args: serve \S+global_step_4\/merged_hf --port \d+ .*--served-model-name ckpt-eval-it-step4/,
    );
    // the eval's own files, named after the checkpoint
    const evalDir = path.join(tmp, 'save', 'ckpt-eval-it-step4');
    assert.equal(out.evals[0].evalDir, evalDir);
    const results = readFileSync(path.join(evalDir, 'result_ckpt-eval-it-step4_mini_val.jsonl'), 'utf8').trim().split('\n');
    assert.equal(results.length, 3);
    assert.deepEqual(
      results.map((l) => JSON.parse(l).acc).sort(),
      [0, 1, 1],
      'the fixture model measured the images: 2 right, the wrong ground truth 0',
    );
    // the copy of the val file is byte for byte the cluster's
    assert.ok(
      readFileSync(path.join(tmp, 'data/mini_val.parquet')).equals(
        readFileSync(path.join(tmp, 'cache', readdirOne(path.join(tmp, 'cache')), 'mini_val.parquet')),
      ),
    );
    // recorded where the run view reads it: the run's key, the step
    const evals = await checkpointEvalsOf(path.join(tmp, 'save/checkpoint-evals.json'), `job:local-slurm:${jobId}`);
    assert.deepEqual(
      evals.map((e) => [e.step, e.dataset, e.n]),
      [[4, 'mini_val', 3]],
    );
  });

  it('run again: no second merge job (merged already), the copy reused, the same result recorded once', async () => {
    const r = await evalCheckpoint(4);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /merge: skipped: step 4 is merged already/);
    assert.doesNotMatch(r.stderr, /copying mini_val\.parquet/);
    assert.equal((await jobsNamed('merge-step4')).length, 1);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    assert.ok(Math.abs(out.evals[0].accuracy - 2 / 3) < 1e-9);
    const evals = await checkpointEvalsOf(path.join(tmp, 'save/checkpoint-evals.json'), `job:local-slurm:${jobId}`);
    assert.equal(evals.length, 1);
  });

  it("a merger that fails: the chain stops with the merge job's log, no model is served, nothing recorded", async () => {
    const before = (await backend.list()).length;
    const r = await evalCheckpoint(2, ['--merge-env', 'FAKE_MERGER_FAIL=1']);
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /the merge job \d+ on local-slurm ended \(FAILED, exit 1\b[^)]*\): check that .*; the job's log ends with:\n/);
    assert.match(r.stderr, /stand-in merger failed on purpose/);
    const jobs = await backend.list();
    assert.equal(jobs.length, before + 1, 'only the merge job');
    assert.ok(!existsSync(path.join(checkpointDir, 'global_step_2/merged_hf')));
    const evals = await checkpointEvalsOf(path.join(tmp, 'save/checkpoint-evals.json'), `job:local-slurm:${jobId}`);
    assert.deepEqual(
      evals.map((e) => e.step),
      [4],
    );
  });

  it("a val file copied over the connection's SFTP session: cut short, it goes on from the bytes kept; a changed file is copied again", async () => {
    const remote = path.join(tmp, 'data/big_val.parquet');
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    writeFileSync(remote, bytes);
    const cache = path.join(tmp, 'cache-sftp');
    const ac = new AbortController();
    const seen: number[] = [];
    let said = -1;
    await assert.rejects(
      copyDown(backend.ssh, remote, cache, {
        signal: ac.signal,
        onProgress: (done) => (seen.push(done), done >= 1024 * 1024 && ac.abort()),
      }),
      (e: CheckpointError) => {
        said = Number(/\((\d+) of 3145745 bytes kept/.exec(e.message)?.[1]);
        return e.code === 'cancelled';
      },
    );
    const part = path.join(cache, readdirOne(cache), 'big_val.parquet.part');
    const kept = statSync(part).size;
    assert.ok(kept > 0 && kept < bytes.length, `kept ${kept}`);
    assert.equal(said, kept, 'the message says what was kept');
    const resumed: number[] = [];
    const local = await copyDown(backend.ssh, remote, cache, { onProgress: (d) => resumed.push(d) });
    assert.equal(resumed[0], kept, 'went on from the bytes kept');
    assert.ok(readFileSync(local).equals(bytes));
    const changed = randomBytes(1000);
    writeFileSync(remote, changed);
    assert.ok(readFileSync(await copyDown(backend.ssh, remote, cache)).equals(changed));
  });

  it('serve-checkpoint: the merged step served by `serve start` until Ctrl-C, which stops its job', async () => {
    let child: ChildProcess | undefined;
    let out = '';
    const done = runCli(
      [
        'train',
        'serve-checkpoint',
        '--job',
        jobId,
        '--clusters',
        clusters,
        '--cluster',
        'local-slurm',
        '--ready-timeout',
        '90',
        ...Object.entries(serveEnv).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
        '--json',
      ],
      { CODEDANCE_CLUSTERS: undefined },
      (c) => {
        child = c;
        c.stdout!.on('data', (d) => {
          out += d;
          if (/"baseUrls"/.test(out)) c.kill('SIGINT');
        });
      },
    );
    const r = await done;
    assert.ok(child);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /merge: skipped: step 4 is merged already/, 'the last step saved, merged by the first test');
    const ready = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    assert.equal(ready.model, 'ckpt-eval-it-step4');
    assert.match(ready.baseUrls[0], /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    // scancel'd: COMPLETING for a moment, then CANCELLED (a job left running fails this wait after 30 s)
    const ended = await waitForJob(backend, ready.jobId, { pollMs: 200, signal: AbortSignal.timeout(30_000) });
    assert.equal(ended.status, 'STOPPED');
  });

  it('a step the run did not save is refused, naming the ones it has', async () => {
    const r = await evalCheckpoint(3);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /has no checkpoint of step 3 in .*ckpt-eval-it \(it has steps 2, 4\)/);
  });
});

function readdirOne(dir: string): string {
  const names = readdirSync(dir);
  assert.equal(names.length, 1, `one cached file in ${dir}`);
  return names[0];
}
