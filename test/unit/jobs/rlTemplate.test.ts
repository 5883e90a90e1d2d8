/**
 * Golden test of the RL entrypoint against the seed's launch (test/fixtures/golden/
 * codedance-rl-seed-command.sh, copied from the seed's example script without its `nohup … &`):
 * both run under bash with a stand-in `verl.trainer.main_ppo` (a Python module that prints the
 * arguments it got), and must hand verl the same arguments, in the same order.
 */
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildJob, defaultParams, TEMPLATES, validateParams } from '../../../src/core/jobs';
import { SEED_RL_OVERRIDES } from '../../../src/core/jobs/rlTemplate';
import { renderSbatchScript } from '../../../src/core/jobs/slurmText';

const SEED = path.join(__dirname, '../../fixtures/golden/codedance-rl-seed-command.sh');

describe('jobs: the codedance-rl template against the seed launch (golden)', () => {
  let repo: string;
  before(() => {
    repo = mkdtempSync(path.join(os.tmpdir(), 'codedance-rl-golden-'));
    mkdirSync(path.join(repo, 'verl/trainer'), { recursive: true });
    mkdirSync(path.join(repo, 'configs'));
    // the stand-in trainer: `python3 -m verl.trainer.main_ppo` finds it as a namespace package in the checkout
    writeFileSync(
      path.join(repo, 'verl/trainer/main_ppo.py'),
      'import json, os, sys\nprint(json.dumps({"argv": sys.argv[1:], "judge": os.environ.get("LLM_AS_A_JUDGE_BASE"), "hydra": os.environ.get("HYDRA_FULL_ERROR"), "wandb": os.environ.get("WANDB_API_KEY")}))\nsys.exit(int(os.environ.get("STANDIN_EXIT", "0")))\n',
    );
  });
  after(() => rmSync(repo, { recursive: true, force: true }));

  function runSeed(extra: string[], env: Record<string, string>): { argv: string[] } {
    return JSON.parse(execFileSync('bash', [SEED, ...extra], { cwd: repo, env: { PATH: process.env.PATH!, ...env }, encoding: 'utf8' }));
  }

  /** The job as Slurm would run it: the rendered batch script, under bash, in the checkout. */
  function runJob(spec: ReturnType<typeof buildJob>, env: Record<string, string> = {}) {
    const script = renderSbatchScript({ ...spec, workingDir: undefined }, { jobsDir: '/tmp/jobs' });
    const r = spawnSync('bash', ['-c', script], { cwd: repo, env: { PATH: process.env.PATH!, ...env }, encoding: 'utf8' });
    return {
      ...r,
      out: r.status === 0 ? (JSON.parse(r.stdout) as { argv: string[]; judge: string; hydra: string; wandb: string | null }) : undefined,
      script,
    };
  }

  it("with the seed values, verl gets exactly the seed's arguments in the seed's order (foreground, extras last)", () => {
    const extras = ['trainer.total_epochs=1', '+trainer.new_key=a b'];
    const spec = buildJob(
      'codedance-rl',
      defaultParams({
        experimentName: 'codeformat-34k-step-beta-0.2',
        modelPath: '/ckpt/sft-7b',
        dataRoot: '/data/rl',
        extraOverrides: extras,
      }),
      'slurm',
    );
    const seed = runSeed(extras, { DATA_ROOT: '/data/rl', PT_CKPT_PATH: '/ckpt/sft-7b' });
    const job = runJob(spec);
    assert.equal(job.status, 0, job.stderr);
    assert.deepEqual(job.out!.argv, seed.argv);
    // every override of the seed is there, as a visible line of the script the user reviews
    for (const [k] of SEED_RL_OVERRIDES) assert.match(job.script, new RegExp(`^  ${k.replace(/[.+]/g, '\\$&')}=`, 'm'), k);
    assert.equal(seed.argv.length, 2 + SEED_RL_OVERRIDES.length + extras.length);
    assert.deepEqual(seed.argv.slice(-2), extras, 'user overrides come last');
    assert.match(
      job.script,
      /^python3 -m verl\.trainer\.main_ppo --config-path="\$CONFIG_PATH" --config-name='multiturn_config\.yaml' \\$/m,
    );
    assert.doesNotMatch(job.script, /nohup|&\s*$|scripts\/train\.sh/m, 'the command runs in the foreground');
    assert.equal(job.out!.hydra, '1');
    assert.equal(job.out!.judge, 'http://127.0.0.1:18901/v1');
  });

  it("the job ends with the trainer: its exit status is the trainer's", () => {
    const job = runJob(buildJob('codedance-rl', defaultParams(), 'slurm'), { STANDIN_EXIT: '3' });
    assert.equal(job.status, 3);
  });

  it('fields change their override in place; picked files, rollout engine, reward and tool config; a user value reaches Hydra as typed', () => {
    const spec = buildJob(
      'codedance-rl',
      defaultParams({
        experimentName: 'mine',
        nodes: 1,
        gpusPerNode: 4,
        rolloutName: 'vllm',
        trainFiles: 'exported/my_rows.parquet,/abs/b.parquet',
        valFiles: 'vstar_val.parquet',
        rewardFunctionPath: './my_reward.py',
        rewardFunctionName: 'score',
        toolConfigPath: '/cfg/tools.yaml',
        overrides: { 'actor_rollout_ref.rollout.n': '16', 'trainer.logger': "['console']" },
        outputDir: '/scratch/ckpt',
        judgeUrl: 'http://node7:18901/v1',
      }),
      'ray',
    );
    const { out } = runJob(spec, { DATA_ROOT: '/d' });
    const argv = out!.argv;
    const val = (k: string) => argv.find((a) => a.startsWith(k + '='))?.slice(k.length + 1);
    assert.equal(val('trainer.nnodes'), '1');
    assert.equal(val('trainer.n_gpus_per_node'), '4');
    assert.equal(val('actor_rollout_ref.rollout.name'), 'vllm');
    assert.equal(
      val('data.train_files'),
      "['data/exported/my_rows.parquet','/abs/b.parquet']",
      'relative names under DATA_ROOT (the env default, data)',
    );
    assert.equal(val('data.val_files'), "['data/vstar_val.parquet']");
    assert.equal(val('custom_reward_function.path'), './my_reward.py');
    assert.equal(val('custom_reward_function.name'), 'score');
    assert.equal(val('actor_rollout_ref.rollout.multi_turn.tool_config_path'), '/cfg/tools.yaml');
    assert.equal(val('actor_rollout_ref.rollout.n'), '16');
    assert.equal(val('trainer.logger'), "['console']");
    assert.equal(val('trainer.experiment_name'), 'mine');
    assert.equal(val('trainer.default_local_dir'), '/scratch/ckpt/mine');
    assert.equal(out!.judge, 'http://node7:18901/v1');
    assert.equal(spec.metadata?.checkpoint_dir, '/scratch/ckpt/mine');
    assert.equal(spec.env.PT_CKPT_PATH, 'Qwen/Qwen2.5-VL-7B-Instruct');
  });

  it('names bad fields; no file name can break out of the data list', () => {
    const bad = validateParams(
      defaultParams({
        rolloutName: 'trt' as 'vllm',
        trainFiles: "a.parquet,b';rm -rf ~'",
        overrides: { 'not.a.seed.key': '1' },
        extraOverrides: ['x=1\nrm -rf /'],
      }),
    );
    assert.deepEqual(
      bad.map((b) => b.split(':')[0]),
      ['trainFiles', 'rolloutName', 'overrides', 'extraOverrides'],
    );
    assert.throws(() => buildJob('codedance-rl', defaultParams({ valFiles: 'a$(id).parquet' }), 'ray'), /valFiles: .* is not a plain path/);
  });

  it('secrets are declared by the template, never part of the spec', () => {
    assert.deepEqual(TEMPLATES.find((t) => t.id === 'codedance-rl')?.secretEnv, ['WANDB_API_KEY']);
    const spec = buildJob('codedance-rl', defaultParams(), 'slurm');
    assert.equal(spec.secretEnv, undefined);
    assert.ok(!('WANDB_API_KEY' in spec.env));
  });
});
