/**
 * `codedance data fetch REPO --cluster NAME --to DIR` on a real one-node Slurm reached over a real
 * OpenSSH server on 127.0.0.1 (test/fixtures/slurmCluster.ts), downloading from the fixture Hub
 * (HF_ENDPOINT, on 127.0.0.1 too: the node is this machine). The job runs the ecosystem's own
 * downloader there; when the node's python3 has huggingface_hub (PYTHONPATH passes through
 * --env), the files land in DIR and the RL template's train files are filled from them, the
 * token a secret of the job only; without it, the job fails and the CLI says what to install.
 * Skips only when the Slurm/OpenSSH packages are missing (scripts/setup.sh installs them).
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLI, runCli } from '../../fixtures/cli';
import { startHubServer, type HubServer } from '../../fixtures/hub-server';
import { ensureSlurmCluster, slurmPrerequisites, stopSlurmCluster, type SlurmCluster } from '../../fixtures/slurmCluster';

const COMMIT = 'fedcba9876543210fedcba9876543210fedcba98';
const TOKEN = 'hf_clusterFixtureToken4242';
const TRAIN0 = Buffer.alloc(5000, 7);
const TRAIN1 = Buffer.alloc(4000, 9);

/** Every file under `dir` (recursive), its text. */
function allText(dir: string): string {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => readFileSync(path.join(e.parentPath, e.name), 'utf8'))
    .join('\n');
}

describe('codedance data fetch --cluster (real Slurm over SSH, fixture Hub)', function () {
  this.timeout(180_000);
  let cluster: SlurmCluster;
  let hub: HubServer;
  let tmp: string;
  let clusters: string;
  let jobsDir: string;

  before(async function () {
    const why = slurmPrerequisites();
    if (why) {
      console.log(`      skipped: ${why}`);
      this.skip();
    }
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' first (npm test does it)`);
    cluster = await ensureSlurmCluster();
    hub = await startHubServer({
      repos: [
        {
          id: 'org/rl',
          commit: COMMIT,
          files: { 'README.md': '# rl\n', 'data/train-00000-of-00002.parquet': TRAIN0, 'data/train-00001-of-00002.parquet': TRAIN1 },
          gatedFor: [TOKEN],
        },
      ],
    });
    tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-clusterfetch-'));
    const knownHosts = path.join(tmp, 'known_hosts');
    writeFileSync(knownHosts, cluster.hostKeyLine + '\n');
    jobsDir = path.join(tmp, 'remote-jobs');
    clusters = path.join(tmp, 'clusters.json');
    writeFileSync(
      clusters,
      JSON.stringify([
        {
          name: 'local-slurm',
          kind: 'slurm',
          host: '127.0.0.1',
          port: cluster.sshPort,
          user: cluster.user,
          identityFile: cluster.identityFile,
          knownHosts,
          strictHostKeyChecking: 'yes',
          sshConfig: path.join(tmp, 'no-ssh-config'),
          jobsDir,
        },
      ]),
    );
  });
  after(async () => {
    await hub?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    await stopSlurmCluster();
  });

  it('downloads on the cluster into --to and fills the train files; or says what to install there', async () => {
    const to = path.join(tmp, 'on-cluster', 'rl');
    // what the node's python3 can import: this process's PYTHONPATH, passed to the job
    const pythonPath = process.env.PYTHONPATH;
    const canDownload =
      spawnSync('/usr/bin/python3', ['-c', 'import huggingface_hub'], {
        env: { PATH: '/usr/bin:/bin', ...(pythonPath ? { PYTHONPATH: pythonPath } : {}) },
      }).status === 0;
    const args = ['data', 'fetch', 'org/rl', '--cluster', 'local-slurm', '--clusters', clusters, '--to', to, '--json'];
    // the job's python3 is the one checked here: Debian's (the node's PATH may put another first)
    if (pythonPath) args.push('--env', `PYTHONPATH=${pythonPath}`, '--env', 'PATH=/usr/bin:/bin:/usr/sbin:/sbin');
    const r = await runCli(args, { HF_ENDPOINT: hub.url, HF_TOKEN: TOKEN, HF_HOME: path.join(tmp, 'hf') });
    assert.ok(!r.stdout.includes(TOKEN) && !r.stderr.includes(TOKEN), 'the token is never printed');
    assert.ok(!allText(jobsDir).includes(TOKEN), 'nor written into the job script or its log');
    if (!canDownload) {
      assert.equal(r.code, 5, r.stderr);
      assert.match(
        r.stderr,
        /no Hugging Face downloader on the cluster: install huggingface_hub there \(python3 -m pip install -U huggingface_hub\)/,
      );
      assert.match(r.stderr, /neither hf, huggingface-cli nor python3 with huggingface_hub/);
      console.log(
        '      (the node has no huggingface_hub: the failure path ran; set PYTHONPATH to a huggingface_hub checkout to run the download)',
      );
      return;
    }
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { where: string; dir: string; files: string[]; train_files: string[]; val_files: string[] };
    assert.equal(j.where, 'local-slurm');
    assert.equal(j.dir, to);
    assert.deepEqual(j.files, ['data/train-00000-of-00002.parquet', 'data/train-00001-of-00002.parquet']);
    assert.deepEqual(j.train_files, [`${to}/data/train-00000-of-00002.parquet`, `${to}/data/train-00001-of-00002.parquet`]);
    assert.deepEqual(j.val_files, []);
    assert.deepEqual(readFileSync(path.join(to, 'data/train-00000-of-00002.parquet')), TRAIN0);
    assert.deepEqual(readFileSync(path.join(to, 'data/train-00001-of-00002.parquet')), TRAIN1);
    const fromJob = hub.requests.filter((x) => x.server === 'hub');
    assert.ok(
      fromJob.length > 0 && fromJob.every((x) => x.authorization === `Bearer ${TOKEN}`),
      'the job sent the token it was given as a secret',
    );
  });

  it('--cluster without --to is a usage error', async () => {
    const r = await runCli(['data', 'fetch', 'org/rl', '--cluster', 'local-slurm', '--clusters', clusters], {});
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--cluster needs --to DIR/);
  });
});
