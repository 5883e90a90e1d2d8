/**
 * The Slurm backend against a real one-node Slurm (Debian slurm-wlm + munge) reached through a
 * real OpenSSH server on 127.0.0.1 (test/fixtures/slurmCluster.ts). Skips only when the Debian
 * packages are missing (scripts/setup.sh installs them).
 */
import * as assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { buildJob, defaultParams } from '../../../src/core/jobs';
import { JobNotFoundError, JobsAuthError, JobsError } from '../../../src/core/jobs/errors';
import { SlurmBackend } from '../../../src/core/jobs/SlurmBackend';
import type { JobInfo, JobSpec, SlurmClusterProfile } from '../../../src/core/jobs/types';
import { ensureSlurmCluster, slurmPrerequisites, stopSlurmCluster, type SlurmCluster } from '../../fixtures/slurmCluster';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitStatus(b: SlurmBackend, id: string, want: (j: JobInfo) => boolean, ms = 20000): Promise<{ info: JobInfo; ms: number }> {
  const t0 = Date.now();
  let last: JobInfo | undefined;
  while (Date.now() - t0 < ms) {
    last = await b.status(id);
    if (want(last)) return { info: last, ms: Date.now() - t0 };
    await sleep(20);
  }
  throw new Error(`job ${id} still ${last?.rawStatus} after ${ms} ms`);
}

export const measured: Record<string, number> = {};

describe('jobs: Slurm over SSH (real slurmctld/slurmd + sshd on 127.0.0.1)', function () {
  this.timeout(120000);
  let cluster: SlurmCluster;
  let profile: SlurmClusterProfile;
  let backend: SlurmBackend;
  const cleanup: SlurmBackend[] = [];

  before(async function () {
    const why = slurmPrerequisites();
    if (why) {
      console.log(`      skipped: ${why}`);
      this.skip();
    }
    cluster = await ensureSlurmCluster();
    measured.clusterStartupMs = cluster.startupMs;
    const knownHosts = path.join(cluster.dir, 'known_hosts');
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
      sshConfig: path.join(cluster.dir, 'no-ssh-config'),
      jobsDir: path.join(cluster.dir, 'remote-jobs'),
    };
    backend = new SlurmBackend(profile);
    cleanup.push(backend);
  });

  after(async () => {
    if (Object.keys(measured).length) console.log(`      measured: ${JSON.stringify(measured)}`);
    await Promise.all(cleanup.map((b) => b.dispose()));
    await stopSlurmCluster();
  });

  it('connects with the key, checks the host key, and reads the Slurm version', async () => {
    const t0 = Date.now();
    const info = await backend.check();
    measured.sshConnectAndCheckMs = Date.now() - t0;
    assert.equal(info.kind, 'slurm');
    assert.match(info.version, /^slurm(-wlm)? \d+\.\d+/);
    assert.match(info.detail ?? '', /debug/);
    assert.equal(await backend.jobsDir(), profile.jobsDir);
  });

  it('submits a job with sbatch, sees it RUNNING, streams its log live, and sees it SUCCEEDED', async () => {
    const spec: JobSpec = {
      name: 'stream-test',
      env: { GREETING: "hello 'slurm'", LLM_AS_A_JUDGE_BASE: 'http://127.0.0.1:18901/v1' },
      entrypoint:
        'echo "start $GREETING judge=$LLM_AS_A_JUDGE_BASE"\nfor i in 1 2 3; do sleep 0.7; echo "tick $i $(date +%s%N)"; done\necho done',
    };
    const t0 = Date.now();
    const { id } = await backend.submit(spec);
    measured.sbatchOverSshMs = Date.now() - t0;
    assert.match(id, /^\d+$/);
    const running = await waitStatus(backend, id, (j) => j.status === 'RUNNING' || j.status === 'SUCCEEDED');
    measured.submitToRunningMs = Date.now() - t0;
    assert.equal(running.info.status, 'RUNNING', `saw ${running.info.rawStatus} before RUNNING`);
    assert.equal(running.info.name, 'stream-test');
    assert.equal(running.info.logPath, path.join(profile.jobsDir!, `stream-test-${id}.out`));

    const chunks: { text: string; at: number }[] = [];
    for await (const c of backend.tailLogs(id)) chunks.push({ text: c, at: Date.now() });
    const text = chunks.map((c) => c.text).join('');
    assert.match(text, /start hello 'slurm' judge=http:\/\/127\.0\.0\.1:18901\/v1/);
    assert.match(text, /tick 1[\s\S]*tick 2[\s\S]*tick 3[\s\S]*done/);
    assert.ok(chunks.length >= 3, `the log arrived in ${chunks.length} chunk(s), not live`);
    // latency: the job stamps each tick with the clock; the chunk arrived a little later
    const lat: number[] = [];
    for (const c of chunks) for (const m of c.text.matchAll(/tick \d (\d+)/g)) lat.push(c.at - Number(BigInt(m[1]) / 1000000n));
    assert.ok(lat.length === 3, `ticks: ${lat.length}`);
    measured.logTailLatencyMaxMs = Math.max(...lat);
    assert.ok(Math.max(...lat) < 1500, `log lines arrived ${lat.join(', ')} ms after they were written`);
    const fin = await waitStatus(backend, id, (j) => j.status !== 'RUNNING');
    assert.equal(fin.info.status, 'SUCCEEDED');
    assert.equal(fin.info.rawStatus, 'COMPLETED');
    assert.equal(fin.info.exitCode, 0);
    assert.equal(await backend.logs(id), text);
    const listed = await backend.list();
    assert.ok(
      listed.some((j) => j.id === id && j.status === 'SUCCEEDED'),
      JSON.stringify(listed),
    );
  });

  it('cancels a running job (scancel → STOPPED) and refuses to delete a running one', async () => {
    const tSubmit = Date.now();
    const { id } = await backend.submit({ name: 'to-cancel', env: {}, entrypoint: 'echo started; sleep 300' });
    await waitStatus(backend, id, (j) => j.status === 'RUNNING');
    measured.submitToRunningWarmMs = Date.now() - tSubmit;
    await assert.rejects(backend.delete(id), (e: unknown) => e instanceof JobsError && e.code === 'rejected' && /stop it/.test(e.message));
    const t0 = Date.now();
    assert.equal(await backend.stop(id), true);
    const st = await waitStatus(backend, id, (j) => j.status !== 'RUNNING');
    measured.scancelToStoppedMs = Date.now() - t0;
    assert.equal(st.info.status, 'STOPPED');
    assert.equal(st.info.rawStatus, 'CANCELLED');
    assert.equal(await backend.stop(id), false, 'a stopped job is not stopped again');
    // delete: the output file and script go, the job leaves the list
    const log = st.info.logPath!;
    assert.match(readFileSync(log, 'utf8'), new RegExp(`^started\n.*JOB ${id} ON \\S+ CANCELLED`));
    assert.equal(await backend.delete(id), true);
    assert.throws(() => readFileSync(log), /ENOENT/);
    assert.ok(!(await backend.list()).some((j) => j.id === id));
  });

  it('a pending job streams nothing until it runs; stopping the tail stops the remote tail', async () => {
    // hold the node: a job that takes every CPU, then one that must wait
    const cpus = cluster.slurm('sinfo', ['-h', '-o', '%c']).trim();
    const hog = await backend.submit({ name: 'hog', env: {}, entrypoint: 'sleep 300', cpusPerTask: Number(cpus) });
    await waitStatus(backend, hog.id, (j) => j.status === 'RUNNING');
    let waiting: { id: string };
    try {
      waiting = await backend.submit({ name: 'waiter', env: {}, entrypoint: 'echo ran' });
      const w = await waitStatus(backend, waiting.id, (j) => j.message !== undefined, 5000);
      assert.equal(w.info.status, 'PENDING');
      assert.match(w.info.message ?? '', /Resources|Priority/);
      assert.equal(await backend.logs(waiting.id), '');
      const ac = new AbortController();
      const got: string[] = [];
      const tail = (async () => {
        for await (const c of backend.tailLogs(waiting.id, { signal: ac.signal })) got.push(c);
      })();
      await sleep(800);
      ac.abort();
      await tail;
      assert.deepEqual(got, []);
      // the remote tail is gone with the channel: no `tail -F` of that file is left on the server
      const { execFileSync } = await import('node:child_process');
      const remoteTails = () =>
        execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
          .split('\n')
          .filter((l) => l.startsWith('tail ') && l.includes(`waiter-${waiting.id}.out`));
      const t0 = Date.now();
      while (remoteTails().length && Date.now() - t0 < 3000) await sleep(50);
      assert.deepEqual(remoteTails(), [], 'a remote tail -F survived the abort');
    } finally {
      await backend.stop(hog.id);
    }
    const done = await waitStatus(backend, waiting.id, (j) => j.status === 'SUCCEEDED');
    assert.equal(done.info.exitCode, 0);
    assert.equal(await backend.logs(waiting.id), 'ran\n');
  });

  it('reports a failing job as FAILED with its exit code, and unknown ids as not found', async () => {
    const { id } = await backend.submit({ name: 'fails', env: {}, entrypoint: 'echo oops >&2; exit 3' });
    const st = await waitStatus(backend, id, (j) => j.status === 'FAILED');
    assert.equal(st.info.exitCode, 3);
    assert.equal(await backend.logs(id), 'oops\n', 'stderr goes to the same output file');
    await assert.rejects(backend.status('987654'), JobNotFoundError);
    await assert.rejects(backend.status('1; rm -rf /'), JobNotFoundError);
    await assert.rejects(backend.logs('987654'), JobNotFoundError);
    // an id that is not a job id never reaches a remote command (logs looks for the output file by id)
    const mark = path.join(cluster.dir, 'id-injected');
    await assert.rejects(backend.logs(`1 /dev/null; touch ${mark}; #`), JobNotFoundError);
    await assert.rejects(async () => {
      for await (const _ of backend.tailLogs(`$(touch ${mark})`)) void _;
    }, JobNotFoundError);
    assert.ok(!existsSync(mark));
  });

  it('schedules GPUs: --gpus-per-node from the spec reaches the job (fake gres)', async () => {
    const { id } = await backend.submit({ name: 'gpu', env: {}, gpusPerNode: 1, entrypoint: 'echo "CUDA=$CUDA_VISIBLE_DEVICES"' });
    await waitStatus(backend, id, (j) => j.status === 'SUCCEEDED');
    assert.equal(await backend.logs(id), 'CUDA=0\n');
  });

  it('refuses script values that would inject commands before anything reaches sbatch', async () => {
    const mark = path.join(cluster.dir, 'injected');
    const jobsDir = await backend.jobsDir();
    const scripts = () => readdirSync(jobsDir).filter((f) => f.endsWith('.sbatch')).length;
    const n = scripts();
    for (const [field, value] of [
      ['partition', `debug\ntouch ${mark}`],
      ['timeLimit', `5\ntouch ${mark}`],
      ['workingDir', `/tmp\ntouch ${mark}`],
      ['partition', `$(touch ${mark})`],
    ] as const) {
      await assert.rejects(
        backend.submit({ name: 'inject', env: {}, entrypoint: 'true', [field]: value }),
        (e: unknown) => e instanceof JobsError && e.code === 'config' && e.message.includes(`${field}: `),
      );
    }
    await sleep(300);
    assert.equal(scripts(), n, 'no script was written');
    assert.ok(!existsSync(mark));
  });

  it('submits an edited script as is, and rejects one sbatch refuses', async () => {
    const script = `#!/bin/bash\n#SBATCH --job-name=edited\n#SBATCH --output=${profile.jobsDir}/custom-%j.log\necho edited by hand\n`;
    const { id } = await backend.submit({ name: 'ignored', env: {}, entrypoint: 'echo never', script });
    const st = await waitStatus(backend, id, (j) => j.status === 'SUCCEEDED');
    assert.equal(st.info.name, 'edited');
    assert.equal(st.info.logPath, `${profile.jobsDir}/custom-${id}.log`);
    assert.equal(await backend.logs(id), 'edited by hand\n');
    await assert.rejects(
      backend.submit({ name: 'bad', env: {}, entrypoint: '', script: '#!/bin/bash\n#SBATCH --partition=nosuchpartition\necho x\n' }),
      (e: unknown) => e instanceof JobsError && e.code === 'remote' && /invalid partition/i.test(e.message),
    );
    await assert.rejects(backend.submit({ name: 'x', env: {}, entrypoint: '', script: 'echo no shebang' }), /must start with #!/);
  });

  it("runs the Ray-on-Slurm template for real (Slurm side real; `ray` and verl's main_ppo are stand-ins that record their arguments); a secret reaches the job, not the script", async () => {
    const repo = path.join(cluster.dir, 'repo');
    mkdirSync(path.join(repo, 'scripts'), { recursive: true });
    mkdirSync(path.join(repo, 'bin'), { recursive: true });
    // the stand-in `ray`: `start --head` marks the head up, `status` answers once it is
    writeFileSync(
      path.join(repo, 'bin/ray'),
      `#!/bin/bash\nif [ "$1" = status ]; then test -e ${repo}/head-up; exit $?; fi\n[ "$1 $2" = "start --head" ] && touch ${repo}/head-up\necho "ray $* on $(hostname -s)"\n`,
    );
    mkdirSync(path.join(repo, 'verl/trainer'), { recursive: true });
    writeFileSync(
      path.join(repo, 'verl/trainer/main_ppo.py'),
      'import os, sys\nprint("main_ppo RAY_ADDRESS=%s judge=%s wandb=%s" % (os.environ["RAY_ADDRESS"], os.environ["LLM_AS_A_JUDGE_BASE"], "ok" if os.environ.get("WANDB_API_KEY") == "wk-slurm-secret-42" else "missing"))\nfor a in sys.argv[1:]: print("arg " + a)\n',
    );
    chmodSync(path.join(repo, 'bin/ray'), 0o755);
    const spec = buildJob(
      'ray-on-slurm',
      defaultParams({ experimentName: 'ros-test', repoDir: repo, nodes: 1, gpusPerNode: 1, judgeUrl: 'http://judge:18901/v1' }),
      'slurm',
    );
    spec.env = { ...spec.env, PATH: `${repo}/bin:/usr/bin:/bin`, RAY_HEAD_TIMEOUT: '20', RAY_WORKER_WAIT: '0' };
    const { id } = await backend.submit({ ...spec, secretEnv: { WANDB_API_KEY: 'wk-slurm-secret-42' } });
    const st = await waitStatus(backend, id, (j) => j.status !== 'RUNNING' && j.status !== 'PENDING', 30000);
    const log = await backend.logs(id);
    assert.equal(st.info.status, 'SUCCEEDED', log);
    const scriptFile = (await backend.status(id)).entrypoint!;
    const script = readFileSync(scriptFile, 'utf8');
    assert.match(script, /python3 -m verl\.trainer\.main_ppo/);
    assert.doesNotMatch(script + log, /wk-slurm-secret/, 'the secret is in no script and no log line');
    assert.match(log, new RegExp(`ray head: ${cluster.nodeName} \\(`));
    assert.match(log, /ray start --head --node-ip-address=\S+ --port=6379 --num-gpus=1/);
    assert.match(log, /main_ppo RAY_ADDRESS=\S+:6379 judge=http:\/\/judge:18901\/v1 wandb=ok/);
    assert.match(log, /arg actor_rollout_ref\.model\.path=Qwen\/Qwen2\.5-VL-7B-Instruct/);
    assert.match(log, /arg trainer\.experiment_name=ros-test/);
    assert.match(log, /arg trainer\.n_gpus_per_node=1/);
  });

  it('refuses a changed host key, accepts and remembers a new one (accept-new), and names auth failures', async () => {
    const kh = path.join(cluster.dir, 'known_hosts_wrong');
    writeFileSync(kh, `[127.0.0.1]:${cluster.sshPort} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBx8Dpq6bEyZ3m1g1+qxLZcM2kI4nEo6y2a4xXh5bA0Z\n`);
    const changed = new SlurmBackend({ ...profile, knownHosts: kh });
    cleanup.push(changed);
    await assert.rejects(changed.check(), (e: unknown) => e instanceof JobsError && /CHANGED/.test(e.message));
    // strictHostKeyChecking 'no' still refuses a changed key; it only lets an unknown one in, without saving it
    const changedNo = new SlurmBackend({ ...profile, knownHosts: kh, strictHostKeyChecking: 'no' });
    cleanup.push(changedNo);
    await assert.rejects(changedNo.check(), (e: unknown) => e instanceof JobsError && /CHANGED/.test(e.message));
    const unknownFile = path.join(cluster.dir, 'known_hosts_no');
    const unknownNo = new SlurmBackend({ ...profile, knownHosts: unknownFile, strictHostKeyChecking: 'no' });
    cleanup.push(unknownNo);
    assert.match((await unknownNo.check()).version, /^slurm(-wlm)? /);
    assert.ok(!existsSync(unknownFile), "'no' saves nothing");

    const fresh = path.join(cluster.dir, 'known_hosts_new');
    const tofu = new SlurmBackend({ ...profile, knownHosts: fresh, strictHostKeyChecking: 'accept-new' });
    cleanup.push(tofu);
    await tofu.check();
    assert.equal(readFileSync(fresh, 'utf8').trim(), cluster.hostKeyLine);

    const strictUnknown = new SlurmBackend({ ...profile, knownHosts: path.join(cluster.dir, 'nothing-here') });
    cleanup.push(strictUnknown);
    await assert.rejects(strictUnknown.check(), /not in .*strictHostKeyChecking is 'yes'/);

    const { execFileSync } = await import('node:child_process');
    const otherKey = path.join(cluster.dir, 'other_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', otherKey]);
    const wrongKey = new SlurmBackend({ ...profile, identityFile: otherKey });
    cleanup.push(wrongKey);
    await assert.rejects(wrongKey.check(), JobsAuthError);

    const encKey = path.join(cluster.dir, 'enc_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'secret-passphrase', '-f', encKey]);
    const encrypted = new SlurmBackend({ ...profile, identityFile: encKey });
    cleanup.push(encrypted);
    await assert.rejects(
      encrypted.check(),
      (e: unknown) =>
        e instanceof JobsAuthError &&
        /passphrase/.test(e.message) &&
        !e.message.includes('secret-passphrase') &&
        e.fix?.setting === 'jobs.sshPassphrase' &&
        !/CodeDance:|CODEDANCE_/.test(e.message),
    );
  });

  it('an encrypted key works with its passphrase; host/user/port/key come from an ssh_config Host alias', async () => {
    const { execFileSync } = await import('node:child_process');
    const encKey = path.join(cluster.dir, 'enc_key2');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'pass phrase 2', '-f', encKey]);
    const auth = path.join(cluster.dir, 'ssh/authorized_keys');
    writeFileSync(auth, readFileSync(auth, 'utf8') + readFileSync(encKey + '.pub', 'utf8'));
    const sshConfig = path.join(cluster.dir, 'ssh_config');
    writeFileSync(
      sshConfig,
      `Host other\n  HostName 10.255.255.1\n\nHost gpu-cluster\n  HostName 127.0.0.1\n  Port ${cluster.sshPort}\n  User ${cluster.user}\n  IdentityFile ${encKey}\n\nHost *\n  User nobody\n`,
    );
    const viaAlias = new SlurmBackend(
      {
        name: 'alias',
        kind: 'slurm',
        host: 'gpu-cluster',
        sshConfig,
        knownHosts: profile.knownHosts,
        strictHostKeyChecking: 'yes',
        jobsDir: profile.jobsDir,
      },
      { passphrase: 'pass phrase 2' },
    );
    cleanup.push(viaAlias);
    assert.equal(viaAlias.ssh.target.label, `${cluster.user}@127.0.0.1:${cluster.sshPort}`);
    assert.match((await viaAlias.check()).version, /^slurm(-wlm)? /);
  });
});
