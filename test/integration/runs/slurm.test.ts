/**
 * An RL run on the real local Slurm over real SSH (test/fixtures/slurmCluster.ts): the repo's
 * codedance-rl template submitted as is, with a stand-in `verl.trainer.main_ppo`
 * (test/fixtures/runs/standin_main_ppo.py) that writes what verl writes. Its log followed through
 * a dropped SSH connection and from a saved offset; its folders read back from its own batch
 * script; its rollouts and checkpoints read over SFTP on the same SSH connection.
 */
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { JobInfo } from '../../../src/core/jobs';
import { SlurmBackend } from '../../../src/core/jobs/SlurmBackend';
import type { SlurmClusterProfile } from '../../../src/core/jobs/types';
import {
  followJobLog,
  jobRun,
  listCheckpoints,
  MetricsStore,
  parseRolloutFile,
  readJobLog,
  RunsError,
  rolloutStepsFromNames,
  sshRunFiles,
} from '../../../src/core/runs';
import { rlJob, standInCheckout } from '../../fixtures/runs/standIn';
import { ensureSlurmCluster, slurmPrerequisites, stopSlurmCluster, type SlurmCluster } from '../../fixtures/slurmCluster';

describe('runs: an RL job on Slurm over SSH (real slurmctld/slurmd + sshd on 127.0.0.1)', function () {
  this.timeout(120000);
  let cluster: SlurmCluster;
  let profile: SlurmClusterProfile;
  let backend: SlurmBackend;
  let tmp: string;
  let repo: string;

  before(async function () {
    const why = slurmPrerequisites();
    if (why) {
      console.log(`      skipped: ${why}`);
      this.skip();
    }
    cluster = await ensureSlurmCluster();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'runs-slurm-'));
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
    backend = new SlurmBackend(profile);
  });

  after(async () => {
    await backend?.dispose();
    await stopSlurmCluster();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  let id: string;
  let info: JobInfo;

  it('follows the log through a dropped SSH connection: every byte once, then the job ends', async () => {
    ({ id } = await backend.submit(rlJob(repo, { STANDIN_STEPS: '6', STANDIN_STEP_S: '0.5', STANDIN_FAIL: '1' }, ['trainer.save_freq=2'])));
    const chunks: string[] = [];
    const reconnects: number[] = [];
    let dropped = 0;
    const store = new MetricsStore();
    for await (const c of followJobLog(backend, id, { retryMs: 100, onReconnect: (r) => reconnects.push(r.offset) })) {
      chunks.push(c);
      const steps = store.feed(c, Date.now());
      if (!dropped && steps.some((s) => s.step === 2)) dropped = cluster.dropSshConnections();
    }
    assert.ok(dropped >= 1, 'an sshd session was killed');
    assert.ok(reconnects.length >= 1, 'it reconnected');
    info = await backend.status(id);
    assert.equal(info.status, 'FAILED');
    const file = readFileSync(info.logPath!, 'utf8');
    assert.equal(chunks.join(''), file, 'the bytes given out are the file, once each');
    store.end();
    assert.deepEqual(
      store.snapshot().steps.map((s) => s.step),
      [1, 2, 3, 4, 5, 6],
    );
    assert.match(file, /RuntimeError: CUDA error: an illegal memory access was encountered/);
  });

  it('resumes from a saved offset, streaming only the bytes after it', async () => {
    const file = readFileSync(info.logPath!);
    const offset = Math.floor(file.length / 2);
    const b = new SlurmBackend(profile);
    let streamed = 0;
    const stream = b.ssh.stream.bind(b.ssh);
    b.ssh.stream = (cmd, signal) => ({
      async *[Symbol.asyncIterator]() {
        for await (const c of stream(cmd, signal)) {
          streamed += Buffer.byteLength(c, 'utf8');
          yield c;
        }
      },
    });
    try {
      let got = '';
      for await (const c of followJobLog(b, id, { offset })) got += c;
      assert.equal(got, file.subarray(offset).toString('utf8'));
      assert.ok(streamed <= file.length - offset, `streamed ${streamed} bytes for ${file.length - offset} new ones`);
      assert.equal(await readJobLog(b, id), file.toString('utf8'));
    } finally {
      await b.dispose();
    }
  });

  it("reads the run's folders from its own batch script, and its rollouts and checkpoints over SSH", async () => {
    const run = await jobRun(backend, id);
    assert.equal(run.config.rolloutDir, `${repo}/rollout_sft_step`);
    assert.equal(run.config.validationDir, `${repo}/validation_sft_step`);
    assert.equal(run.config.checkpointDir, `${repo}/checkpoints/CodeDance/runs-it`);
    assert.equal(run.config.saveFreq, 2, 'the extra override given last wins over the seed value');
    assert.equal(run.config.valFiles[0], '/data/rl/vstar_val.parquet');
    const files = run.files!;
    const steps = rolloutStepsFromNames(await files.list(run.config.rolloutDir!));
    assert.deepEqual(steps, [1, 2, 3, 4, 5, 6]);
    const rs = parseRolloutFile(await files.read(`${run.config.rolloutDir}/6.jsonl`), 6);
    assert.equal(rs.length, 4);
    assert.ok(Number.isNaN(rs[1].fields.tool_success_rate as number), "Python's bare NaN, read over SSH");
    const val = parseRolloutFile(await files.read(`${run.config.validationDir}/6.jsonl`), 6);
    assert.equal(val[0].images.length, 1);
    const ckpts = await listCheckpoints(files, run.config.checkpointDir);
    assert.deepEqual(
      ckpts.map((c) => [c.step, c.path, c.mergedPath]),
      [2, 4, 6].map((s) => [s, `${run.config.checkpointDir}/global_step_${s}`, undefined]),
    );
  });

  it('SSH run files: odd names, offsets, a tree, and a clear error for what is not there', async () => {
    const files = sshRunFiles(backend.ssh);
    const odd = path.join(tmp, "it's a dir");
    mkdirSync(path.join(odd, 'global_step_3/merged_hf'), { recursive: true });
    writeFileSync(path.join(odd, 'global_step_3/merged_hf/config.json'), '{}');
    writeFileSync(path.join(odd, 'grow.log'), 'héllo\nwörld\n');
    assert.deepEqual((await files.list(odd)).sort(), ['global_step_3', 'grow.log']);
    assert.equal(await files.read(path.join(odd, 'grow.log')), 'héllo\nwörld\n');
    assert.equal(await files.readFrom!(path.join(odd, 'grow.log'), Buffer.byteLength('héllo\n')), 'wörld\n');
    // a dump bigger than the reads in flight at once (64 × 32 KiB), every byte in its place
    const big = Array.from({ length: 60000 }, (_, i) => `{"i": ${i}, "output": "ünïcode ${'x'.repeat(i % 97)}"}\n`).join('');
    writeFileSync(path.join(odd, 'big.jsonl'), big);
    assert.ok(Buffer.byteLength(big) > 4 * 1024 * 1024);
    assert.equal(await files.read(path.join(odd, 'big.jsonl')), big);
    const from = Buffer.byteLength(big) - 3 * 1024 * 1024 - 7;
    assert.equal(await files.readFrom!(path.join(odd, 'big.jsonl'), from), Buffer.from(big).subarray(from).toString('utf8'));
    assert.equal(await files.readFrom!(path.join(odd, 'big.jsonl'), Buffer.byteLength(big)), '');
    assert.deepEqual((await files.listDeep!(odd, 3)).sort(), [
      'big.jsonl',
      'global_step_3',
      'global_step_3/merged_hf',
      'global_step_3/merged_hf/config.json',
      'grow.log',
    ]);
    assert.deepEqual(await listCheckpoints(files, odd), [
      { step: 3, path: `${odd}/global_step_3`, mergedPath: `${odd}/global_step_3/merged_hf` },
    ]);
    await assert.rejects(
      files.read(path.join(odd, 'nope.jsonl')),
      (e: unknown) => e instanceof RunsError && e.code === 'notFound' && /does not exist on/.test(e.message),
    );
    await assert.rejects(files.list(path.join(odd, 'nope')), (e: unknown) => e instanceof RunsError && e.code === 'notFound');
    assert.ok(statSync(odd).isDirectory());
  });

  it('tailLogs from a byte offset (TailOptions.fromByte): the bytes after it, byte-identical', async () => {
    const file = readFileSync(info.logPath!);
    const lineEnd = file.indexOf('\n', Math.floor(file.length / 3)) + 1;
    for (const offset of [0, lineEnd, lineEnd + 5, file.length]) {
      let got = '';
      for await (const c of backend.tailLogs(id, { fromByte: offset })) got += c;
      assert.equal(got, file.subarray(offset).toString('utf8'), `from byte ${offset}`);
    }
  });

  it('a rollout folder with a space and a quote in its name, over SFTP (no shell command for a read); a missing one names its setting', async () => {
    const rollouts = path.join(tmp, "roll outs/it's here");
    const { id: spaced } = await backend.submit(
      rlJob(repo, { STANDIN_STEPS: '2', STANDIN_STEP_S: '0.1' }, [`trainer.rollout_data_dir=${rollouts}`]),
    );
    for await (const c of followJobLog(backend, spaced, { retryMs: 100 })) void c;
    const run = await jobRun(backend, spaced);
    assert.equal(run.config.rolloutDir, rollouts);
    const commands: string[] = [];
    const exec = backend.ssh.exec.bind(backend.ssh);
    backend.ssh.exec = (cmd, stdin) => (commands.push(cmd), exec(cmd, stdin));
    try {
      const files = run.files!;
      assert.deepEqual(rolloutStepsFromNames(await files.list(rollouts)), [1, 2]);
      const text = await files.read(`${rollouts}/2.jsonl`);
      assert.equal(text, readFileSync(path.join(rollouts, '2.jsonl'), 'utf8'));
      assert.equal(parseRolloutFile(text, 2).length, 4);
      const first = text.indexOf('\n') + 1;
      assert.equal(await files.readFrom!(`${rollouts}/2.jsonl`, first), text.slice(first));
      assert.deepEqual((await files.listDeep!(path.dirname(rollouts), 2)).sort(), ["it's here", "it's here/1.jsonl", "it's here/2.jsonl"]);
      assert.deepEqual(commands, [], 'reads go over SFTP, not through a shell');
    } finally {
      backend.ssh.exec = exec;
    }
    rmSync(rollouts, { recursive: true });
    await assert.rejects(run.files!.list(rollouts), (e: unknown) => {
      assert.ok(e instanceof RunsError && e.code === 'notFound');
      assert.equal(
        e.message,
        `folder ${rollouts} does not exist on ${backend.ssh.target.label} (trainer.rollout_data_dir of job ${spaced}): check the path (or wait until the trainer writes it)`,
      );
      return true;
    });
  });

  it('a job still pending or running: the follower waits for its output, then reads it all', async () => {
    const { id: slow } = await backend.submit(rlJob(repo, { STANDIN_STEPS: '2', STANDIN_STEP_S: '0.3' }));
    let got = '';
    for await (const c of followJobLog(backend, slow, { retryMs: 100 })) got += c;
    const done = await backend.status(slow);
    assert.equal(done.status, 'SUCCEEDED');
    assert.equal(got, readFileSync(done.logPath!, 'utf8'));
  });
});
