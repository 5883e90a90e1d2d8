import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { renderSbatchScript } from '../../../src/core/jobs/slurmText';
import {
  buildServeJob,
  judgeDefaults,
  parseAddrFiles,
  policyDefaults,
  rayReplicas,
  ServedEndpoints,
  serveProblems,
  vllmCommand,
  withServedEndpoints,
} from '../../../src/core/serve';

/** The seed's judge command (README step 1, ../shared/docs/codedance-training.md), word for word. */
const SEED_JUDGE =
  'vllm serve Qwen/Qwen2.5-72B-Instruct --port 18901 --gpu-memory-utilization 0.8 --max-model-len 32768 --tensor-parallel-size 8 --served-model-name judge --trust-remote-code --disable-log-requests --host ::';

/** What bash hands `vllm` for a command line, with the job's environment. */
function argv(cmd: string, env: Record<string, string>): string {
  return execFileSync('bash', ['-c', `vllm() { echo "vllm $*"; }\n${cmd}`], {
    env: { PATH: process.env.PATH!, ...env },
    encoding: 'utf8',
  }).trim();
}

describe('serve: vLLM job templates', () => {
  it("the judge is the seed's command exactly", () => {
    const spec = buildServeJob(judgeDefaults(), 'slurm');
    assert.equal(argv(vllmCommand(judgeDefaults()), { ...spec.env, PORT: spec.env.SERVE_PORT }), SEED_JUDGE);
    assert.equal(spec.gpusPerTask, 8);
    assert.equal(spec.tasks, 1);
    assert.equal(spec.metadata?.served_model_name, 'judge');
  });

  it('policy: tool-call flags only for codedance-tools, images limit, TP, extra flags last; values only through the environment', () => {
    const p = policyDefaults({
      modelPath: "/ckpt/it's mine",
      servedModelName: 'codedance-7b',
      tensorParallel: 2,
      protocol: 'codedance-tools',
      imagesPerPrompt: 4,
      extraArgs: ['--max-num-seqs', '64'],
    });
    const spec = buildServeJob(p, 'slurm');
    assert.equal(
      argv(vllmCommand(p), { ...spec.env, PORT: '8000' }),
      'vllm serve /ckpt/it\'s mine --port 8000 --gpu-memory-utilization 0.9 --max-model-len 32768 --tensor-parallel-size 2 --served-model-name codedance-7b --trust-remote-code --disable-log-requests --host :: --enable-auto-tool-choice --tool-call-parser hermes --limit-mm-per-prompt {"image":4} --max-num-seqs 64',
    );
    assert.doesNotMatch(vllmCommand(policyDefaults({ modelPath: 'm' })), /tool-call-parser/);
    const script = renderSbatchScript(spec, { jobsDir: '/home/u/.codedance/jobs' });
    assert.match(script, /^#SBATCH --ntasks=1$/m);
    assert.match(script, /^#SBATCH --gpus-per-task=2$/m);
    assert.match(script, /^export MODEL_PATH='\/ckpt\/it'\\''s mine'$/m);
    execFileSync('bash', ['-n'], { input: script });
  });

  it('the Slurm job announces each replica as HOST PORT in serve-$SLURM_JOB_ID/ (run for real with a stand-in vllm)', () => {
    const spec = buildServeJob(policyDefaults({ modelPath: 'm', replicas: 2, port: 9000 }), 'slurm');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'serve-tpl-'));
    writeFileSync(path.join(dir, 'vllm'), '#!/bin/sh\necho "vllm $*"\n', { mode: 0o755 });
    // srun starts each task with its SLURM_PROCID / SLURM_LOCALID; the stand-in plays both tasks
    const body = spec.entrypoint.replace(
      'srun --kill-on-bad-exit=1 "$SERVE_DIR/replica.sh"',
      'for i in 0 1; do SLURM_PROCID=$i SLURM_LOCALID=$i "$SERVE_DIR/replica.sh"; done',
    );
    const out = execFileSync('bash', ['-c', body], {
      env: { PATH: `${dir}:${process.env.PATH}`, SLURM_SUBMIT_DIR: dir, SLURM_JOB_ID: '42', SERVE_ADVERTISE_HOST: 'node7', ...spec.env },
      encoding: 'utf8',
      input: '',
    }).trim();
    assert.match(out, /replica 0: codedance-7b on node7:9000\n/);
    const files = execFileSync('bash', ['-c', `cd ${dir} && grep -H . serve-42/replica-*.addr`], { encoding: 'utf8' });
    assert.deepEqual(parseAddrFiles(files), [
      { index: 0, host: 'node7', port: 9000 },
      { index: 1, host: 'node7', port: 9001 },
    ]);
    assert.match(out, /vllm serve m --port 9001 /);
    assert.deepEqual(
      parseAddrFiles('serve-1/replica-0.addr:evil;rm 80\nserve-1/replica-1.addr:n1 99999\n'),
      [],
      'bad lines are never trusted',
    );
  });

  it('Ray: the replicas on the driver node, consecutive ports; names bad fields', () => {
    const spec = buildServeJob(policyDefaults({ modelPath: 'm', replicas: 2, tensorParallel: 4 }), 'ray');
    assert.equal(spec.entrypointNumGpus, 8);
    assert.match(spec.entrypoint, /^bash <<'SERVE'\n/);
    assert.deepEqual(rayReplicas({ id: 'x', status: 'RUNNING', rawStatus: 'RUNNING', driverNodeIp: '10.0.0.5', metadata: spec.metadata }), [
      { index: 0, host: '10.0.0.5', port: 8000 },
      { index: 1, host: '10.0.0.5', port: 8001 },
    ]);
    assert.deepEqual(
      serveProblems(policyDefaults({ modelPath: '', servedModelName: 'a b', replicas: 0, port: 80, extraArgs: ['--x;rm'] })).map(
        (b) => b.split(':')[0],
      ),
      ['modelPath', 'servedModelName', 'port', 'replicas', 'extraArgs'],
    );
  });

  it('served endpoints: the same model name joins the configured pool, another replaces it; removal empties it', () => {
    const s = new ServedEndpoints();
    let changes = 0;
    s.onChange(() => changes++);
    assert.deepEqual(withServedEndpoints(['http://a/v1'], '', s), { endpoints: ['http://a/v1'] });
    s.set({
      key: 'hpc/1',
      clusterName: 'hpc',
      jobId: '1',
      role: 'policy',
      servedModelName: 'codedance-7b',
      baseUrls: ['http://127.0.0.1:5001/v1', 'http://127.0.0.1:5002/v1'],
      clusterUrls: [],
    });
    assert.equal(s.policy()!.summary, 'hpc · 2 replicas · codedance-7b');
    const joined = withServedEndpoints(['http://a/v1'], 'codedance-7b', s);
    assert.deepEqual(joined.endpoints, ['http://a/v1', { baseUrl: 'http://127.0.0.1:5001/v1' }, { baseUrl: 'http://127.0.0.1:5002/v1' }]);
    const replaced = withServedEndpoints(['http://a/v1'], 'other', s);
    assert.equal(replaced.endpoints.length, 2);
    assert.equal(replaced.modelName, 'codedance-7b');
    assert.match(replaced.note!, /instead of http:\/\/a\/v1/);
    s.set({
      key: 'hpc/2',
      clusterName: 'hpc',
      jobId: '2',
      role: 'judge',
      servedModelName: 'judge',
      baseUrls: ['http://127.0.0.1:5003/v1'],
      clusterUrls: ['http://n1:18901/v1'],
    });
    assert.equal(s.judge()!.clusterUrls[0], 'http://n1:18901/v1');
    assert.ok(s.remove('hpc/1'));
    assert.equal(s.policy(), undefined);
    assert.equal(changes, 3);
  });
});
