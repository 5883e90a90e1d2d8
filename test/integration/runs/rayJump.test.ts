/**
 * An RL run on Ray whose files are read over SFTP on the profile's jump host: the repo's
 * codedance-rl template submitted to the Ray Jobs API contract fixture (its working_dir uploaded
 * as a package, the stand-in trainer run from it), the rollout folders set to absolute paths with
 * spaces, and the local sshd (test/fixtures/slurmCluster.ts) as the jump host. In process
 * (`jobRun` with `rayHost`) and through the built CLI (`train rollouts --job … --cluster …`).
 */
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildJob, defaultParams, isTerminal, RayJobsBackend, type RayClusterProfile } from '../../../src/core/jobs';
import { jobRun, listCheckpoints, parseRolloutFile, rolloutStepsFromNames, RunsError } from '../../../src/core/runs';
import { rayJumpConnection } from '../../../src/core/serve';
import { runCli } from '../../fixtures/cli';
import { startRayJobsFixture, type RayJobsFixture } from '../../fixtures/rayJobsServer';
import { standInCheckout } from '../../fixtures/runs/standIn';
import { ensureSlurmCluster, slurmPrerequisites, stopSlurmCluster, type SlurmCluster } from '../../fixtures/slurmCluster';

describe('runs: a Ray job read over SFTP on the profile jump host (Ray fixture + sshd on 127.0.0.1)', function () {
  this.timeout(120000);
  let ray: RayJobsFixture;
  let c: SlurmCluster;
  let tmp: string;
  let profile: RayClusterProfile;
  let backend: RayJobsBackend;
  let id: string;
  let rollouts: string;
  let validation: string;

  before(async function () {
    const why = slurmPrerequisites();
    if (why) {
      console.log(`      skipped: ${why}`);
      this.skip();
    }
    c = await ensureSlurmCluster(); // its sshd is the jump host
    ray = await startRayJobsFixture();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'runs-ray-jump-'));
    const knownHosts = path.join(tmp, 'known_hosts');
    writeFileSync(knownHosts, c.hostKeyLine + '\n');
    profile = {
      name: 'lab-ray',
      kind: 'ray',
      address: ray.url,
      jumpHost: {
        host: '127.0.0.1',
        port: c.sshPort,
        user: c.user,
        identityFile: c.identityFile,
        knownHosts,
        strictHostKeyChecking: 'yes',
      },
    };
    backend = new RayJobsBackend({ address: ray.url });
    rollouts = path.join(tmp, 'ray run/roll outs');
    validation = path.join(tmp, 'ray run/validation');
    const repo = standInCheckout(tmp);
    const spec = buildJob(
      'codedance-rl',
      defaultParams({
        experimentName: 'runs-ray',
        repoDir: repo,
        nodes: 1,
        gpusPerNode: 0,
        dataRoot: '/data/rl',
        extraOverrides: [`trainer.rollout_data_dir=${rollouts}`, `trainer.validation_data_dir=${validation}`, 'trainer.save_freq=1'],
      }),
      'ray',
    );
    ({ id } = await backend.submit({ ...spec, env: { ...spec.env, STANDIN_STEPS: '3', STANDIN_STEP_S: '0.1' } }));
    for (let i = 0; i < 300 && !isTerminal((await backend.status(id)).status); i++) await new Promise((r) => setTimeout(r, 100));
    const done = await backend.status(id);
    assert.equal(done.status, 'SUCCEEDED', await backend.logs(id));
  });

  after(async () => {
    await backend?.dispose();
    await ray?.close();
    await stopSlurmCluster();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('jobRun with the jump host: the folders from the entrypoint, the rollouts read over SFTP; a relative folder says why it cannot be read', async () => {
    const host = rayJumpConnection(profile)!;
    try {
      const run = await jobRun(backend, id, { rayHost: host });
      assert.match(run.info.workingDir ?? '', /^gcs:\/\/_ray_pkg_[0-9a-f]+\.zip$/, "the job's runtime_env.working_dir");
      assert.equal(run.config.rolloutDir, rollouts);
      assert.equal(run.config.validationDir, validation);
      const files = run.files!;
      assert.deepEqual(rolloutStepsFromNames(await files.list(rollouts)), [1, 2, 3]);
      const text = await files.read(`${rollouts}/3.jsonl`);
      assert.equal(text, readFileSync(path.join(rollouts, '3.jsonl'), 'utf8'));
      assert.equal(parseRolloutFile(text, 3).length, 4);
      assert.equal(parseRolloutFile(await files.read(`${validation}/3.jsonl`), 3)[0].images.length, 1);
      // the template's default_local_dir is relative: it lies in Ray's unpacked working_dir on a node
      assert.equal(run.config.checkpointDir, 'checkpoints/CodeDance/runs-ray');
      await assert.rejects(listCheckpoints(files, run.config.checkpointDir), (e: unknown) => {
        assert.ok(e instanceof RunsError && e.code === 'unreadable', String(e));
        assert.equal(
          e.message,
          `job ${id}: trainer.default_local_dir checkpoints/CodeDance/runs-ray cannot be read on ${host.target.label}: it is relative to the job's working_dir ${run.info.workingDir}, which Ray unpacks on each node that runs the job: give trainer.default_local_dir an absolute path on storage ${host.target.label} sees (a shared filesystem), or give the folder mounted here`,
        );
        return true;
      });
    } finally {
      host.close();
    }
    const direct = await jobRun(backend, id);
    assert.equal(direct.files, undefined, 'without a jump host the files cannot be reached');
  });

  it('the CLI: train rollouts --job ID --cluster NAME over the jump host; without one, exit 2 asking for a mounted folder; a missing folder names its setting', async () => {
    const home = path.join(tmp, 'home'); // no ~/.ssh/config of the real user
    mkdirSync(home, { recursive: true });
    const clusters = path.join(tmp, 'clusters.json');
    writeFileSync(clusters, JSON.stringify([profile, { name: 'lab-ray-direct', kind: 'ray', address: ray.url }]));
    const train = (args: string[]) =>
      runCli(['train', 'rollouts', '--job', id, '--clusters', clusters, ...args], {
        HOME: home,
        CODEDANCE_CLUSTERS: undefined,
        CODEDANCE_RAY_TOKEN: undefined,
      });
    const r = await train(['--cluster', 'lab-ray']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes(`4 rollouts of step 3 (${rollouts}/3.jsonl); steps 1–3 (3 files)`), r.stdout);
    const v = await train(['--cluster', 'lab-ray', '--validation', '--json']);
    assert.equal(v.code, 0, v.stderr);
    assert.equal((JSON.parse(v.stdout) as { images: string[] }[])[0].images.length, 1);

    const direct = await train(['--cluster', 'lab-ray-direct']);
    assert.equal(direct.code, 2);
    assert.match(
      direct.stderr,
      /which the Ray dashboard does not serve: give that folder \(mounted here\) as DIR, or a jumpHost in the cluster profile/,
    );

    rmSync(rollouts, { recursive: true });
    const gone = await train(['--cluster', 'lab-ray']);
    assert.equal(gone.code, 2, gone.stderr);
    assert.ok(
      gone.stderr.includes(`folder ${rollouts} does not exist on ${c.user}@127.0.0.1:${c.sshPort} (trainer.rollout_data_dir of job ${id})`),
      gone.stderr,
    );
  });
});
