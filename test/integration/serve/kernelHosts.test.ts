/**
 * Kernels on the cluster, on a real one-node Slurm behind a real sshd (127.0.0.1): a kernel-hosts
 * job with two tasks, each a real Jupyter Server (Debian's python3-jupyter-server) whose
 * `codedance` kernelspec runs the launcher: bubblewrap on the node, reached through the SSH
 * tunnels serve opens. The model is the fixture VLM; each question holds Python that waits a
 * little and prints which host's private folder its kernel was started from (its connection file's
 * path), so the answer says where the code ran, and the servers' own logs say it too.
 *
 * 1. in-process eval over both hosts (the job started for it): samples finish on both; host 1's
 *    server is killed (SIGKILL) while one of its kernels runs a cell → its samples run again on
 *    host 0; the results file holds each index exactly once, none an error; the killed server's
 *    kernels died with it; the job is stopped at the end; the token is in no log.
 * 2. the CLI: `kernels start` → `kernels status` → `eval --kernel-hosts local:1,cluster:hpc` (the
 *    running job is used and left running) → `kernels stop`.
 */
import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { evalPaths, runEval } from '../../../src/core/eval';
import { openClusterKernelHosts } from '../../../src/core/eval/clusterKernelHosts';
import { SpreadKernels, type KernelHost } from '../../../src/core/eval/kernelHosts';
import { SlurmBackend, type SlurmClusterProfile } from '../../../src/core/jobs';
import { createChatModel } from '../../../src/core/model';
import { describeSandbox, sandboxLabel } from '../../../src/core/kernel/sandboxNotice';
import { kernelHostsToken } from '../../../src/core/serve/kernelHostsToken';
import { CLI, runCli } from '../../fixtures/cli';
import { startFixtureModel, type FixtureModel } from '../../fixtures/fixtureModel';
import { circlesImage } from '../../fixtures/images';
import { writeEvalJsonl } from '../../fixtures/parquetWriter';
import { ensureSlurmCluster, slurmPrerequisites, stopSlurmCluster, type SlurmCluster } from '../../fixtures/slurmCluster';

const KEY = 'c0ffee'.repeat(8);
/** the answer the model gave (the seed's pred_ans is its whole reply) */
const answer = (r: { codedance: { trajectory: { answer?: string } } }) => r.codedance.trajectory.answer ?? '';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, ms = 60_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(150);
  }
}

/** each question: wait, then print the host whose private folder the kernel's connection file is in */
const WHERE = (i: number) =>
  [
    `Sample ${i}. Run this:`,
    '```python',
    'import sys, time',
    'time.sleep(1.5)',
    'f = [a for a in sys.argv if a.endswith("connection.json")][0]',
    'print("ran on host-" + f.split("/cdkh-")[1].split("-")[0])',
    '```',
  ].join('\n');

/** the processes whose command line holds `needle` (the kernels of one host: their launcher and bwrap) */
function processesWith(needle: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(needle)) out.push(Number(d));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

describe('kernels on the cluster: a kernel-hosts job on real Slurm + sshd', function () {
  this.timeout(300_000);
  let cluster: SlurmCluster;
  let profile: SlurmClusterProfile;
  let backend: SlurmBackend;
  let fm: FixtureModel;
  let tmp: string;
  let data: string;
  const N = 10;

  before(async function () {
    const why = slurmPrerequisites();
    if (why) {
      console.log(`      (skipped: ${why})`);
      this.skip();
    }
    cluster = await ensureSlurmCluster();
    tmp = path.join(cluster.dir, 'kernel-hosts-test');
    mkdirSync(tmp, { recursive: true });
    profile = {
      name: 'hpc',
      kind: 'slurm',
      host: '127.0.0.1',
      port: cluster.sshPort,
      user: cluster.user,
      identityFile: cluster.identityFile,
      knownHosts: path.join(cluster.dir, 'known_hosts_kernels'),
      jobsDir: path.join(cluster.dir, 'kernel-jobs'),
    };
    backend = new SlurmBackend(profile);
    fm = await startFixtureModel();
    const img = circlesImage({ red: 2, seed: 3 }).png;
    data = path.join(tmp, 'where.jsonl');
    writeEvalJsonl(
      data,
      Array.from({ length: N }, (_, i) => ({ dataSource: 'vstar', question: WHERE(i), answer: 'ran on host-0', image: img })),
    );
  });

  after(async () => {
    await fm?.close();
    await backend?.dispose();
    await stopSlurmCluster();
  });

  it('an eval over two hosts; one host killed mid-run: its samples run again on the other, each index once, the job stopped at the end', async () => {
    const lines: string[] = [];
    const log = (l: string) => lines.push(l);
    const hosts = await openClusterKernelHosts({
      backend,
      cluster: 'hpc',
      key: KEY,
      params: { tasks: 2, cpusPerTask: 1, capacity: 2, python: '/usr/bin/python3' },
      pollMs: 300,
      log,
    });
    assert.equal(hosts.startedHere, true, 'no kernel-hosts job was running: the eval started one');
    assert.equal(hosts.hosts.length, 2);
    const infos = hosts.session.hosts;
    for (const h of infos) {
      assert.equal(h.sandbox, 'sandboxed', 'bwrap works on this node: the launcher applies it');
      assert.equal(h.capacity, 2);
      assert.match(h.url, /^http:\/\/127\.0\.0\.1:\d+\/$/, 'reached through a local tunnel port');
    }
    const token = kernelHostsToken(
      KEY,
      (await backend.ssh.exec(`grep -h '^export KH_NONCE=' ${profile.jobsDir}/*.sbatch`)).stdout.trim().split('=')[1],
    );
    // host 1 as it is, except that the test hears when one of its kernels starts a sample's cell
    let cellStarted!: () => void;
    const cellOnHost1 = new Promise<void>((r) => (cellStarted = r));
    let finishedOnHost1 = 0;
    const h1 = hosts.hosts[1];
    const watched: KernelHost = {
      ...h1,
      start: async (signal) => {
        const k = await h1.start(signal);
        const execute = k.execute.bind(k);
        k.execute = (code, opts) => {
          if (code.includes('time.sleep') && finishedOnHost1 > 0) cellStarted();
          return execute(code, opts);
        };
        return k;
      },
    };
    const spread = new SpreadKernels([hosts.hosts[0], watched], { log, watchMs: 1000 });
    assert.equal(spread.host.kind, 'hosts');

    // kill host 1's server once it has finished a sample and runs a cell again
    const save = path.join(tmp, 'save');
    let killed = false;
    const busyOnHost1 = async () => {
      const r = await fetch(`${infos[1].url}api/kernels`, { headers: { Authorization: `token ${token}` } });
      return ((await r.json()) as { execution_state: string }[]).some((k) => k.execution_state === 'busy');
    };
    const killer = (async () => {
      await cellOnHost1; // after a sample finished there
      await until('the cell running on host 1 (its server says so)', busyOnHost1, 60_000);
      process.kill(infos[1].pid!, 'SIGKILL');
      killed = true;
    })();
    const summary = await runEval({
      dataPath: data,
      saveDir: save,
      modelName: 'kh',
      evalModelName: 'codedance-fixture-7b',
      model: createChatModel({ endpoints: fm.baseUrl, retry: { maxRetries: 0 } }),
      endpoints: [fm.baseUrl],
      numWorkers: 4,
      retries: 0,
      kernels: spread,
      fsync: false,
      onSample: (r) => {
        if (/ran on host-1/.test(r.pred_ans ?? '')) finishedOnHost1++;
      },
      log,
    });
    await killer;
    assert.ok(killed);
    await spread.dispose();

    const recs = readFileSync(evalPaths(save, 'kh', 'where').results, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      recs.map((r) => r.index).sort((a, b) => a - b),
      Array.from({ length: N }, (_, i) => i),
      'each index exactly once',
    );
    assert.ok(
      recs.every((r) => r.status === 'success' && /^ran on host-[01]$/.test(answer(r))),
      JSON.stringify(recs.map((r) => [r.index, r.status, answer(r), r.codedance.error?.message])),
    );
    const on = (h: string) => recs.filter((r) => answer(r) === `ran on ${h}`).length;
    assert.ok(on('host-0') > 0 && on('host-1') > 0, `samples ran on both hosts (host-0 ${on('host-0')}, host-1 ${on('host-1')})`);
    for (const r of recs) assert.match(r.codedance.trajectory.where, new RegExp(`kernel host hpc/${answer(r).slice(-1)} \\(\\S+:\\d+\\)`));
    const rerun = lines.filter((l) => /running it again on another kernel host/.test(l));
    assert.ok(rerun.length >= 1, lines.join('\n'));
    for (const l of rerun) {
      const i = Number(/sample (\d+)/.exec(l)![1]);
      assert.equal(answer(recs.find((r) => r.index === i)), 'ran on host-0', `sample ${i} finished on host 0`);
    }
    assert.match(lines.join('\n'), /kernel host hpc\/1 \(\S+:\d+\) is out/);
    assert.equal(summary.manifest.cells?.label, 'sandboxed');
    assert.match(summary.manifest.cells!.notice, /bubblewrap sandbox on kernel host \S+:\d+ of the kernel-hosts job on hpc/);

    // the servers' side: each started kernels of the `codedance` kernelspec
    const dir = `${profile.jobsDir}/serve-${hosts.jobId}`;
    for (const k of [0, 1]) assert.match(readFileSync(`${dir}/host-${k}.log`, 'utf8'), /Kernel started: [0-9a-f-]{36}/);
    // the killed server's kernels went with it (the launcher's parent-death signal, bwrap --die-with-parent)
    assert.match(infos[1].runtime!, /^\/tmp\/cdkh-1-/);
    await until('host 1 kernels gone', () => processesWith(`${infos[1].runtime}/`).length === 0 || undefined, 20_000);

    await hosts.close();
    const job = await until('the job stopped', async () => {
      const j = await backend.status(hosts.jobId);
      return j.status === 'RUNNING' ? undefined : j;
    });
    assert.equal(job.status, 'STOPPED');
    const logs = [
      await backend.logs(hosts.jobId),
      readFileSync(`${dir}/host-0.log`, 'utf8'),
      readFileSync(`${dir}/host-1.log`, 'utf8'),
    ].join('\n');
    assert.doesNotMatch(logs, new RegExp(token), 'the token is in no log');
    assert.doesNotMatch(readFileSync(job.entrypoint!, 'utf8'), new RegExp(token), 'nor in the script');
    assert.match(logs, /kernel host 0: Jupyter Server on \S+:\d+, sandboxed, up to 2 kernels/);
  });

  it('--no-sandbox on the cluster: the host says so, the label is "unsandboxed: remote kernel", the kernel still gets only the allow-listed environment', async () => {
    const hosts = await openClusterKernelHosts({
      backend,
      cluster: 'hpc',
      key: KEY,
      params: { name: 'kh-open', tasks: 1, cpusPerTask: 1, python: '/usr/bin/python3', sandbox: 'off' },
      pollMs: 300,
    });
    try {
      assert.equal(hosts.session.hosts[0].sandbox, 'unsandboxed: the sandbox is turned off');
      const spread = new SpreadKernels(hosts.hosts, { watchMs: 0 });
      assert.equal(sandboxLabel(spread.host), 'unsandboxed: remote kernel');
      assert.match(
        describeSandbox(spread.host),
        /unsandboxed: remote kernel on kernel host \S+:\d+ of the kernel-hosts job on hpc \(the sandbox is turned off\)/,
      );
      const k = await spread.acquire();
      const r = await k.execute(
        'import os\nprint(sorted(os.environ))\nprint(os.getppid() > 1, os.path.exists("/root/.ssh") or os.path.isdir("/root"))',
      );
      assert.equal(r.status, 'ok', r.stderr);
      assert.doesNotMatch(
        r.stdout,
        /JUPYTER_TOKEN|CODEDANCE_KH|KH_NONCE|SLURM_/,
        "the server's token and the job's variables stay out of the kernel",
      );
      assert.match(r.stdout, /True True/, "no sandbox: the host's processes and files are there");
      await spread.release(k);
      await spread.dispose();
    } finally {
      await hosts.close();
    }
  });

  it('the CLI: kernels start → status → eval --kernel-hosts local:1,cluster:hpc (the job used, left running) → kernels stop', async () => {
    assert.ok(existsSync(CLI), `${CLI} is missing: run 'node scripts/build.mjs' first`);
    const clusters = path.join(tmp, 'clusters.json');
    writeFileSync(clusters, JSON.stringify([profile]));
    const env = { CODEDANCE_KERNEL_HOSTS_KEY: KEY, CODEDANCE_BASE_URL: undefined, CODEDANCE_PYTHON: '/usr/bin/python3' };
    const where = ['--clusters', clusters, '--cluster', 'hpc'];
    const started = await runCli(
      ['kernels', 'start', ...where, '--tasks', '2', '--cpus-per-task', '1', '--capacity', '2', '--python', '/usr/bin/python3', '--json'],
      env,
    );
    assert.equal(started.code, 0, started.stderr);
    const out = JSON.parse(started.stdout.trim().split('\n').pop()!);
    assert.equal(out.hosts.length, 2);
    assert.ok(out.hosts.every((h: { sandbox: string }) => h.sandbox === 'sandboxed'));

    const status = await runCli(['kernels', 'status', ...where], env);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /host 0: \S+:\d+ {2}2 kernels {2}sandboxed {2}answers/);
    assert.match(status.stdout, /host 1: \S+:\d+ {2}2 kernels {2}sandboxed {2}answers/);
    assert.match(status.stdout, new RegExp(`kernel-hosts job ${out.jobId} on hpc: 2 host\\(s\\), 4 kernels at once`));

    const small = path.join(tmp, 'small.jsonl');
    const img = circlesImage({ red: 1, seed: 9 }).png;
    writeEvalJsonl(
      small,
      Array.from({ length: 4 }, (_, i) => ({ dataSource: 'vstar', question: WHERE(i), answer: 'x', image: img })),
    );
    const ev = await runCli(
      [
        'eval',
        '--model-name',
        'cli',
        '--api-url',
        fm.baseUrl,
        '--data-path',
        small,
        '--save-path',
        path.join(tmp, 'cli-save'),
        '--num-workers',
        '3',
        '--no-judge',
        '--kernel-hosts',
        'local:1,cluster:hpc',
        '--clusters',
        clusters,
      ],
      env,
    );
    assert.equal(ev.code, 0, ev.stderr);
    assert.match(ev.stderr, new RegExp(`kernel hosts: using job ${out.jobId} on hpc \\(it keeps running after the eval\\)`));
    assert.match(ev.stderr, /kernels on local ×1, hpc\/0 \(\S+:\d+\) ×2, hpc\/1 \(\S+:\d+\) ×2/);
    assert.match(
      ev.stderr,
      /^sandbox: Python cells run on 3 kernel hosts: \[this machine\]: .*\[\S+:\d+ on hpc\]: Python cells run in a bubblewrap sandbox on kernel host/m,
    );
    const recs = readFileSync(evalPaths(path.join(tmp, 'cli-save'), 'cli', 'small').results, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(recs.map((r) => r.index).sort(), [0, 1, 2, 3]);
    assert.ok(
      recs.every((r) => r.status === 'success'),
      JSON.stringify(recs.map((r) => r.codedance.error)),
    );
    assert.equal((await backend.status(out.jobId)).status, 'RUNNING', 'a job the eval did not start keeps running');

    const stopped = await runCli(['kernels', 'stop', ...where], env);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.match(stopped.stdout, new RegExp(`stopping kernel-hosts job ${out.jobId}`));
    await until('the CLI job stopped', async () => ((await backend.status(out.jobId)).status === 'STOPPED' ? true : undefined));
  });
});
