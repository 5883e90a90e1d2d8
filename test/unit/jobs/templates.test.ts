import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { buildJob, defaultParams, parseReview, renderReview, TEMPLATES, validateParams } from '../../../src/core/jobs';
import { RayJobsBackend } from '../../../src/core/jobs/RayJobsBackend';
import { renderSbatchScript, scriptJobName } from '../../../src/core/jobs/slurmText';

const bashSyntaxOk = (script: string) => execFileSync('bash', ['-n'], { input: script, encoding: 'utf8' });

describe('jobs: templates', () => {
  it('RL: the seed launch with the fields; env holds PT_CKPT_PATH, DATA_ROOT and the judge URL as LLM_AS_A_JUDGE_BASE', () => {
    const p = defaultParams({
      experimentName: 'rl-7b',
      modelPath: '/models/CodeDance-7B',
      trainFiles: '/d/a.parquet,/d/b.parquet',
      nodes: 2,
      gpusPerNode: 4,
      judgeUrl: 'http://j1:18901/v1,http://j2:18901/v1',
    });
    const spec = buildJob('codedance-rl', p, 'ray');
    assert.equal(spec.name, 'rl-7b');
    assert.match(
      spec.entrypoint,
      /^python3 -m verl\.trainer\.main_ppo --config-path="\$CONFIG_PATH" --config-name='multiturn_config\.yaml' \\$/m,
    );
    assert.match(spec.entrypoint, /^  actor_rollout_ref\.model\.path="\$PT_CKPT_PATH" \\$/m);
    assert.match(spec.entrypoint, /^  trainer\.n_gpus_per_node=4 \\\n  trainer\.nnodes=2 \\$/m);
    assert.match(spec.entrypoint, /^train_files="\['\/d\/a\.parquet','\/d\/b\.parquet'\]"$/m);
    assert.deepEqual(spec.env, {
      PT_CKPT_PATH: '/models/CodeDance-7B',
      DATA_ROOT: 'data',
      HYDRA_FULL_ERROR: '1',
      LLM_AS_A_JUDGE_BASE: 'http://j1:18901/v1,http://j2:18901/v1',
    });
    assert.equal(spec.entrypointNumGpus, undefined, "verl's driver reserves no GPU: its workers ask Ray");
    assert.equal(spec.metadata?.template, 'codedance-rl');
  });

  it('SFT: torchrun on one Ray node (GPUs reserved for the entrypoint), srun + torchrun rendezvous on Slurm', () => {
    const ray = buildJob('codedance-sft', defaultParams({ nodes: 3, gpusPerNode: 8 }), 'ray');
    assert.match(ray.entrypoint, /^torchrun --standalone --nnodes=1 --nproc_per_node="\$N_GPUS_PER_NODE"/m);
    assert.match(ray.entrypoint, /-m verl\.trainer\.fsdp_sft_trainer/);
    assert.equal(ray.entrypointNumGpus, 8);
    assert.equal(ray.env.NNODES, '1');
    const slurm = buildJob('codedance-sft', defaultParams({ nodes: 3, gpusPerNode: 8 }), 'slurm');
    assert.match(slurm.entrypoint, /srun --ntasks-per-node=1 torchrun --nnodes="\$SLURM_NNODES"/);
    assert.match(slurm.entrypoint, /--rdzv_endpoint="\$HEAD:29500"/);
    bashSyntaxOk(renderSbatchScript(slurm, { jobsDir: '/home/u/.codedance/jobs' }));
  });

  it('Ray-on-Slurm: head on the first node, workers on the rest, RAY_ADDRESS, then the RL run; Slurm only', () => {
    const spec = buildJob('ray-on-slurm', defaultParams({ nodes: 4 }), 'slurm');
    assert.match(spec.entrypoint, /ray start --head --node-ip-address="\$HEAD_IP"/);
    assert.match(
      spec.entrypoint,
      /for node in "\$\{NODES\[@\]:1\}"; do\n\s+srun --overlap --nodes=1 --ntasks=1 -w "\$node" ray start --address="\$HEAD_IP:\$RAY_PORT"/,
    );
    assert.match(spec.entrypoint, /export RAY_ADDRESS=.*\n# --- the training run ---\n# the seed launch[^\n]*\nPROJECT_DIR=/);
    assert.match(spec.entrypoint, /python3 -m verl\.trainer\.main_ppo/);
    bashSyntaxOk(renderSbatchScript(spec, { jobsDir: '/j' }));
    assert.throws(() => buildJob('ray-on-slurm', defaultParams(), 'ray'), /for slurm clusters, not ray/);
    assert.deepEqual(
      TEMPLATES.filter((t) => t.kinds.includes('ray')).map((t) => t.id),
      ['codedance-rl', 'codedance-sft'],
    );
  });

  it('validates the fields and names each bad one', () => {
    assert.deepEqual(validateParams(defaultParams()), []);
    const bad = validateParams(
      defaultParams({ experimentName: 'a b', modelPath: ' ', nodes: 0, gpusPerNode: 1.5, judgeUrl: 'ftp://x, http://ok/v1' }),
    );
    assert.deepEqual(
      bad.map((b) => b.split(':')[0]),
      ['experimentName', 'modelPath', 'nodes', 'gpusPerNode', 'judgeUrl'],
    );
    assert.throws(() => buildJob('codedance-rl', defaultParams({ nodes: 0 }), 'ray'), /nodes: a whole number ≥ 1/);
  });
});

describe('jobs: batch scripts', () => {
  it('renders #SBATCH lines, quoted exports and the entrypoint; bash accepts it and the env survives quoting', () => {
    const script = renderSbatchScript(
      {
        name: 'rl 7b/x',
        entrypoint: 'echo "$A|$B|$C"',
        env: { A: "it's", B: 'a b $HOME `x`', C: '' },
        nodes: 2,
        gpusPerNode: 8,
        cpusPerTask: 16,
        timeLimit: '1-00:00:00',
        partition: 'gpu',
        workingDir: '/work/repo',
      },
      { jobsDir: '/home/u/.codedance/jobs' },
    );
    assert.equal(
      script,
      [
        '#!/bin/bash',
        '#SBATCH --job-name=rl-7b-x',
        '#SBATCH --output=/home/u/.codedance/jobs/%x-%j.out',
        '#SBATCH --partition=gpu',
        '#SBATCH --nodes=2',
        '#SBATCH --ntasks-per-node=1',
        '#SBATCH --gpus-per-node=8',
        '#SBATCH --cpus-per-task=16',
        '#SBATCH --time=1-00:00:00',
        '#SBATCH --chdir=/work/repo',
        '',
        '# generated by CodeDance; edit freely before submitting',
        'set -eo pipefail',
        '',
        "export A='it'\\''s'",
        "export B='a b $HOME `x`'",
        "export C=''",
        '',
        'echo "$A|$B|$C"',
        '',
      ].join('\n'),
    );
    const body = script
      .split('\n')
      .filter((l) => l.startsWith('export') || l.startsWith('echo'))
      .join('\n');
    assert.equal(execFileSync('bash', ['-c', body], { encoding: 'utf8' }), "it's|a b $HOME `x`|\n");
    assert.equal(scriptJobName(script), 'rl-7b-x');
    assert.throws(
      () => renderSbatchScript({ name: 'x', entrypoint: 'true', env: { 'BAD-NAME': '1' } }, { jobsDir: '/j' }),
      /not a valid environment variable name/,
    );
  });
});

describe('jobs: review documents', () => {
  it('Ray: the POST body as JSON, edited and parsed back', async () => {
    const spec = buildJob('codedance-rl', defaultParams({ repoDir: '/local/repo' }), 'ray');
    const doc = await renderReview(new RayJobsBackend({ address: 'http://127.0.0.1:1' }), spec);
    assert.equal(doc.language, 'json');
    const body = JSON.parse(doc.text);
    assert.match(body.entrypoint, /^# the seed launch/);
    assert.match(
      body.entrypoint,
      /^python3 -m verl\.trainer\.main_ppo --config-path="\$CONFIG_PATH" --config-name='multiturn_config\.yaml' algorithm\.adv_estimator=grpo /m,
    );
    assert.equal(body.runtime_env.working_dir, '/local/repo');
    assert.equal(body.runtime_env.env_vars.LLM_AS_A_JUDGE_BASE, 'http://127.0.0.1:18901/v1');
    assert.equal(body.runtime_env.env_vars.WANDB_API_KEY, undefined);
    body.runtime_env.env_vars.EXTRA = 1;
    body.entrypoint = 'bash scripts/train.sh trainer.total_epochs=1';
    body.entrypoint_num_gpus = 2;
    const back = parseReview('ray', JSON.stringify(body), spec);
    assert.equal(back.entrypoint, 'bash scripts/train.sh trainer.total_epochs=1');
    assert.equal(back.env.EXTRA, '1');
    assert.equal(back.entrypointNumGpus, 2);
    assert.equal(back.workingDir, '/local/repo');
    assert.throws(() => parseReview('ray', '{"entrypoint": ', spec), /not valid JSON/);
    assert.throws(() => parseReview('ray', '{"runtime_env": {}}', spec), /no "entrypoint"/);
  });

  it('Slurm: the edited script is submitted as is', () => {
    const spec = buildJob('codedance-rl', defaultParams(), 'slurm');
    assert.equal(parseReview('slurm', '#!/bin/bash\necho mine\n', spec).script, '#!/bin/bash\necho mine\n');
  });
});
