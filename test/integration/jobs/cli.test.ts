/**
 * `codedance jobs ...` as a user runs it (the built dist/cli.js), against the Ray contract
 * fixture and the real local Slurm over real SSH.
 */
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startRayJobsFixture, type RayJobsFixture } from '../../fixtures/rayJobsServer';
import { ensureSlurmCluster, slurmPrerequisites, stopSlurmCluster } from '../../fixtures/slurmCluster';

const ROOT = path.resolve(__dirname, '../../..');
const CLI = path.join(ROOT, 'dist/cli.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string | undefined> = {}, cwd = ROOT): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, 'jobs', ...args], {
      cwd,
      env: { ...process.env, CODEDANCE_CLUSTERS: undefined, CODEDANCE_RAY_TOKEN: undefined, ...env },
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d));
    p.stderr.on('data', (d: Buffer) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('jobs: the codedance jobs CLI', function () {
  this.timeout(60000);
  let ray: RayJobsFixture;
  let tmp: string;

  before(async () => {
    ray = await startRayJobsFixture({ token: 'cli-token-123456' });
    tmp = mkdtempSync(path.join(os.tmpdir(), 'jobs-cli-'));
  });
  after(async () => {
    await ray?.close();
    await stopSlurmCluster();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('Ray: submit --follow streams the log and exits 0; list/status/logs; token from the environment only', async () => {
    const env = { CODEDANCE_RAY_TOKEN: 'cli-token-123456', WANDB_API_KEY: 'wandb-cli-secret-9' };
    const r = await cli(
      [
        'submit',
        '--ray',
        ray.url,
        '--experiment',
        'cli-rl',
        '--model',
        '/ckpt/sft',
        '--judge-url',
        'http://judge:1/v1',
        '--entrypoint',
        'echo "ckpt=$PT_CKPT_PATH judge=$LLM_AS_A_JUDGE_BASE wandb=${#WANDB_API_KEY}"',
        '--env',
        'EXTRA=x y',
        '--follow',
      ],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    const id = /submitted (\S+) to/.exec(r.stdout)![1];
    // the secret reached the job's environment (its length is printed, never the value), from the user's environment at submit time
    assert.match(r.stdout, /ckpt=\/ckpt\/sft judge=http:\/\/judge:1\/v1 wandb=18\n/);
    assert.match(r.stderr, /passed WANDB_API_KEY from your environment/);
    assert.doesNotMatch(JSON.stringify(ray.jobs.get(id)!.details.metadata), /wandb-cli-secret/);
    const dryRl = await cli(['submit', '--ray', ray.url, '--dry-run'], env);
    assert.doesNotMatch(dryRl.stdout, /wandb-cli-secret/, 'the reviewed request never holds the secret');
    assert.match(r.stderr, new RegExp(`job ${id} SUCCEEDED \\(exit 0\\)`));
    assert.equal((ray.jobs.get(id)!.details.runtime_env as { env_vars: Record<string, string> }).env_vars.EXTRA, 'x y');
    const list = await cli(['list', '--ray', ray.url], env);
    assert.equal(list.code, 0);
    assert.match(list.stdout, new RegExp(`^ID\\s+STATUS[\\s\\S]*${id}\\s+SUCCEEDED\\s+cli-rl`, 'm'));
    const st = await cli(['status', id, '--ray', ray.url, '--json'], env);
    assert.equal(JSON.parse(st.stdout).status, 'SUCCEEDED');
    assert.equal((await cli(['logs', id, '--ray', ray.url], env)).stdout, 'ckpt=/ckpt/sft judge=http://judge:1/v1 wandb=18\n');
    const noToken = await cli(['list', '--ray', ray.url]);
    assert.equal(noToken.code, 5);
    assert.match(noToken.stderr, /needs a token.*CODEDANCE_RAY_TOKEN/);
    const missing = await cli(['status', 'nope', '--ray', ray.url], env);
    assert.equal(missing.code, 6);
    assert.match(missing.stderr, /Job nope does not exist/);
  });

  it('Ray: a failing job exits 1; stop and delete; profiles from .vscode/settings.json (JSONC) with --workspace-profiles', async () => {
    const ws = path.join(tmp, 'ws');
    mkdirSync(path.join(ws, '.vscode'), { recursive: true });
    writeFileSync(
      path.join(ws, '.vscode/settings.json'),
      `{\n  // clusters\n  "codedance.jobs.clusters": [\n    { "name": "dev-ray", "kind": "ray", "address": "${ray.url}", },\n  ],\n}\n`,
    );
    const env = { CODEDANCE_RAY_TOKEN: 'cli-token-123456', HOME: path.join(tmp, 'empty-home') };
    const off = await cli(['clusters'], env, ws);
    assert.match(off.stdout, /no cluster profiles/);
    assert.match(off.stderr, /\.vscode\/settings\.json has cluster profiles: pass --workspace-profiles to use them/);
    const clusters = await cli(['clusters', '--workspace-profiles'], env, ws);
    assert.match(clusters.stdout, new RegExp(`dev-ray\\s+ray\\s+${ray.url}\\s+\\(workspace: \\S+settings\\.json\\)`));
    const wcli = (args: string[]) => cli([...args, '--workspace-profiles'], env, ws);
    const f = await wcli(['submit', '--cluster', 'dev-ray', '--entrypoint', 'exit 3', '--follow']);
    assert.match(f.stderr, /using the workspace's cluster profile 'dev-ray'/);
    assert.equal(f.code, 1);
    assert.match(f.stderr, /FAILED \(exit 3\)/);
    const long = await wcli(['submit', '--entrypoint', 'sleep 60', '--json']);
    const id = JSON.parse(long.stdout).id;
    await new Promise((r) => setTimeout(r, 400));
    assert.match((await wcli(['stop', id])).stdout, new RegExp(`stopping ${id}`));
    for (let i = 0; i < 50 && ray.jobs.get(id)!.details.status !== 'STOPPED'; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal((await wcli(['status', id])).code, 1);
    assert.equal((await wcli(['delete', id])).code, 0);
    assert.ok(!ray.jobs.has(id));
    const bad = await wcli(['submit', '--cluster', 'nope']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /no cluster profile 'nope'.*have dev-ray/);
    const dry = await wcli(['submit', '--template', 'codedance-sft', '--gpus-per-node', '4', '--dry-run']);
    assert.equal(dry.code, 0);
    assert.equal(JSON.parse(dry.stdout).entrypoint_num_gpus, 4);
  });

  it("a cloned repo cannot redirect the user's profile (and token) to its own server", async () => {
    const evil = await startRayJobsFixture();
    try {
      const home = path.join(tmp, 'user-home');
      mkdirSync(path.join(home, '.codedance'), { recursive: true });
      writeFileSync(path.join(home, '.codedance/clusters.json'), JSON.stringify([{ name: 'lab', kind: 'ray', address: ray.url }]));
      const repo = path.join(tmp, 'cloned');
      mkdirSync(path.join(repo, '.vscode'), { recursive: true });
      writeFileSync(
        path.join(repo, '.vscode/settings.json'),
        JSON.stringify({ 'codedance.jobs.clusters': [{ name: 'lab', kind: 'ray', address: evil.url }] }),
      );
      const env = { HOME: home, CODEDANCE_RAY_TOKEN: 'cli-token-123456' };
      for (const extra of [[], ['--workspace-profiles']]) {
        const r = await cli(['list', '--cluster', 'lab', ...extra], env, repo);
        assert.equal(r.code, 0, r.stderr);
        if (extra.length) assert.match(r.stderr, /the workspace's profile 'lab' .* is ignored: your own profile of that name is used/);
        const first = await cli(['list', ...extra], env, repo); // no --cluster: the first profile, the user's
        assert.equal(first.code, 0, first.stderr);
      }
      assert.equal(evil.requests.length, 0, "the repository's server was never contacted");
      assert.ok(ray.requests.some((q) => q.headers.authorization === 'Bearer cli-token-123456'));
    } finally {
      await evil.close();
    }
  });

  it('bad --env names and script values are usage errors (exit 2) with the fix, never a stack trace', async () => {
    const env = { CODEDANCE_RAY_TOKEN: 'cli-token-123456' };
    for (const args of [
      ['--env', 'A;x=1'],
      ['--env', 'A;x=1', '--dry-run'],
      ['--env', '1A=1'],
    ]) {
      const r = await cli(['submit', '--ray', ray.url, '--entrypoint', 'true', ...args], env);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /--env: '(A;x|1A)' is not a variable name \(letters, digits and _, not starting with a digit\): fix --env/);
      assert.ok(!/\n\s+at /.test(r.stderr) && !/unexpected error/.test(r.stderr), r.stderr);
    }
    const t = await cli(['submit', '--ray', ray.url, '--time', '1:00\ntouch /tmp/x', '--dry-run'], env);
    assert.equal(t.code, 2);
    assert.match(t.stderr, /timeLimit: .* is not a Slurm time/);
  });

  it('Slurm over SSH: submit --follow, list, stop a running job (real sbatch/scancel)', async function () {
    const why = slurmPrerequisites();
    if (why) {
      console.log(`      skipped: ${why}`);
      this.skip();
    }
    const c = await ensureSlurmCluster();
    const home = path.join(tmp, 'home'); // known_hosts (accept-new) lands here, not in the real ~/.ssh
    mkdirSync(home, { recursive: true });
    const env = { HOME: home };
    const ssh = ['--ssh', `${c.user}@127.0.0.1:${c.sshPort}`, '--identity', c.identityFile, '--jobs-dir', path.join(c.dir, 'cli-jobs')];
    const dry = await cli(['submit', ...ssh, '--template', 'ray-on-slurm', '--nodes', '2', '--dry-run'], env);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(
      dry.stdout,
      /^#!\/bin\/bash\n#SBATCH --job-name=codedance-rl\n#SBATCH --output=\S+\/cli-jobs\/%x-%j\.out\n#SBATCH --nodes=2/,
    );
    const r = await cli(
      [
        'submit',
        ...ssh,
        '--experiment',
        'cli-slurm',
        '--nodes',
        '1',
        '--gpus-per-node',
        '1',
        '--entrypoint',
        'echo "on $SLURM_JOB_NODELIST exp=$SLURM_JOB_NAME"',
        '--follow',
      ],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`on ${c.nodeName} exp=cli-slurm\\n`));
    const long = await cli(
      ['submit', ...ssh, '--experiment', 'cli-long', '--nodes', '1', '--gpus-per-node', '0', '--entrypoint', 'sleep 120', '--json'],
      env,
    );
    const id = JSON.parse(long.stdout).id;
    const list = await cli(['list', ...ssh], env);
    assert.match(list.stdout, new RegExp(`${id}\\s+(PENDING|RUNNING)\\s+\\S*\\s*cli-long`));
    assert.equal((await cli(['stop', id, ...ssh], env)).code, 0);
    for (let i = 0; i < 100 && c.slurm('squeue', ['-h', '-t', 'all', '-j', id, '-o', '%T']).trim() !== 'CANCELLED'; i++)
      await new Promise((r) => setTimeout(r, 50));
    const st = await cli(['status', id, ...ssh, '--json'], env);
    assert.equal(JSON.parse(st.stdout).rawStatus, 'CANCELLED');
    const refused = await cli(['list', '--ssh', `nobody@127.0.0.1:${c.sshPort}`, '--identity', c.identityFile], env);
    assert.equal(refused.code, 5);
    assert.match(refused.stderr, /refused/);
  });
});
