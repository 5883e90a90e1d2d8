/**
 * Where a run writes, read from its command: the repo's RL template output (the batch script as
 * Slurm gets it, the Ray entrypoint) and the seed's own launch. The overrides read here are
 * checked against the arguments bash really hands `verl.trainer.main_ppo` (a stand-in that
 * prints its argv), so quoting and variables are read as the shell reads them.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildJob, defaultParams } from '../../../src/core/jobs';
import { renderSbatchScript } from '../../../src/core/jobs/slurmText';
import { runConfigFromJob, scriptOverrides } from '../../../src/core/runs/runConfig';

const SEED = readFileSync(path.join(__dirname, '../../fixtures/golden/codedance-rl-seed-command.sh'), 'utf8');
const OVERRIDE = /^(?:\+{1,2})?([A-Za-z_][\w@/-]*(?:\.[\w@/-]+)+)=(.*)$/s;

describe('runs: the run config from the job command', () => {
  let repo: string;
  before(() => {
    repo = mkdtempSync(path.join(os.tmpdir(), 'runs-config-'));
    mkdirSync(path.join(repo, 'verl/trainer'), { recursive: true });
    writeFileSync(path.join(repo, 'verl/trainer/main_ppo.py'), 'import json, sys\nprint(json.dumps(sys.argv[1:]))\n');
  });
  after(() => rmSync(repo, { recursive: true, force: true }));

  /** the overrides bash passes to the stand-in trainer, run in `repo` */
  function bashOverrides(script: string, env: Record<string, string> = {}): Map<string, string> {
    const r = spawnSync('bash', ['-c', script], { cwd: repo, env: { PATH: process.env.PATH!, ...env }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const m = new Map<string, string>();
    for (const a of JSON.parse(r.stdout) as string[]) {
      const o = OVERRIDE.exec(a);
      if (o) m.set(o[1], o[2]);
    }
    return m;
  }

  const params = defaultParams({ experimentName: 'codeformat-34k-step-beta-0.2', dataRoot: '/data/rl', modelPath: '/ckpt/sft' });

  it('the template as Slurm runs it: the same overrides bash passes, the folders under its working dir', () => {
    const spec = buildJob('codedance-rl', { ...params, extraOverrides: ["trainer.validation_data_dir='./val dumps/'"] }, 'slurm');
    const script = renderSbatchScript({ ...spec, workingDir: repo }, { jobsDir: '/tmp/jobs' });
    const ours = scriptOverrides(script);
    assert.equal(ours.cwd, repo, 'the working dir from #SBATCH --chdir');
    assert.deepEqual(ours.overrides, bashOverrides(script));
    assert.ok(ours.overrides.size >= 49);

    const c = runConfigFromJob(script);
    assert.equal(c.project, 'CodeDance');
    assert.equal(c.experiment, 'codeformat-34k-step-beta-0.2');
    assert.equal(c.rolloutDir, `${repo}/rollout_sft_step`);
    assert.equal(c.validationDir, `${repo}/val dumps`, 'a user override given later wins, its Hydra quotes removed');
    assert.equal(c.checkpointDir, `${repo}/checkpoints/CodeDance/codeformat-34k-step-beta-0.2`, "verl's default");
    assert.equal(c.saveFreq, 20);
    assert.equal(c.testFreq, 300);
    assert.deepEqual(c.valFiles, [
      '/data/rl/vstar_val.parquet',
      '/data/rl/countbench_QA_eval.parquet',
      '/data/rl/pixmo_test.parquet',
      '/data/rl/mathvision_testmini.parquet',
      '/data/rl/mathvista_testmini.parquet',
      '/data/rl/mathverse_vision_only_testmini.parquet',
    ]);
    assert.equal(c.trainFiles.length, 6);
    assert.equal(c.trainFiles[0], '/data/rl/df_toolbox_v1_new_format.parquet');
  });

  it('the template with an output dir and changed seed values (quoted as one shell word each)', () => {
    const spec = buildJob(
      'codedance-rl',
      {
        ...params,
        outputDir: '/scratch/ckpt',
        valFiles: 'vstar_val.parquet,/abs/other.parquet',
        overrides: { 'trainer.rollout_data_dir': "'/scratch/roll outs/'", 'trainer.save_freq': '50' },
      },
      'slurm',
    );
    const script = renderSbatchScript({ ...spec, workingDir: repo }, { jobsDir: '/tmp/jobs' });
    assert.deepEqual(scriptOverrides(script).overrides, bashOverrides(script));
    const c = runConfigFromJob(script);
    assert.equal(c.rolloutDir, '/scratch/roll outs');
    assert.equal(c.checkpointDir, '/scratch/ckpt/codeformat-34k-step-beta-0.2');
    assert.equal(c.saveFreq, 50);
    assert.deepEqual(c.valFiles, ['/data/rl/vstar_val.parquet', '/abs/other.parquet']);
  });

  it('a Ray entrypoint: the job env from its spec, relative folders kept relative without a working dir', () => {
    const spec = buildJob('codedance-rl', params, 'ray');
    const c = runConfigFromJob(spec.entrypoint, undefined, spec.env);
    assert.equal(c.rolloutDir, 'rollout_sft_step');
    assert.equal(c.validationDir, 'validation_sft_step');
    assert.equal(c.checkpointDir, 'checkpoints/CodeDance/codeformat-34k-step-beta-0.2');
    assert.equal(c.valFiles[0], '/data/rl/vstar_val.parquet');
    assert.equal(c.workingDir, undefined);
    const noEnv = runConfigFromJob(spec.entrypoint, '/home/u/CodeDance');
    assert.equal(noEnv.valFiles[0], '${DATA_ROOT}/vstar_val.parquet', 'a variable the script does not set stays as written');
    assert.equal(noEnv.rolloutDir, '/home/u/CodeDance/rollout_sft_step');
  });

  it("the seed's own launch, with a user's extra overrides after it", () => {
    const env = { DATA_ROOT: '/d', PT_CKPT_PATH: '/ckpt' };
    const ours = scriptOverrides(SEED, repo, env);
    assert.deepEqual(ours.overrides, bashOverrides(SEED, env));
    const c = runConfigFromJob(SEED, '/home/u/CodeDance', env);
    assert.equal(c.rolloutDir, '/home/u/CodeDance/rollout_sft_step');
    assert.equal(c.validationDir, '/home/u/CodeDance/validation_sft_step');
    assert.equal(c.valFiles.length, 6);
    const later = runConfigFromJob(
      `${SEED}\ncd /elsewhere\npython3 -m verl.trainer.main_ppo trainer.default_local_dir='\${trainer.project_name}/x' trainer.rollout_data_dir=null`,
      '/home/u/CodeDance',
      env,
    );
    assert.equal(later.checkpointDir, '/elsewhere/CodeDance/x', "Hydra's ${trainer.project_name}, relative to the folder cd'd into");
    assert.equal(later.rolloutDir, undefined, 'null: no dumps');
  });

  it("verl's defaults when the command sets nothing", () => {
    const c = runConfigFromJob('python3 -m verl.trainer.main_ppo', '/w');
    assert.deepEqual(c, {
      project: 'verl_examples',
      experiment: 'gsm8k',
      rolloutDir: undefined,
      validationDir: undefined,
      checkpointDir: '/w/checkpoints/verl_examples/gsm8k',
      valFiles: [],
      trainFiles: [],
      saveFreq: undefined,
      testFreq: undefined,
      workingDir: '/w',
    });
  });
});
