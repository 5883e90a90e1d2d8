/**
 * `codedance serve` as a user runs it (the built dist/cli.js) against real Slurm + sshd on
 * 127.0.0.1: start prints the local base URL and keeps the tunnel open; the model answers through
 * it; status finds the replicas; Ctrl-C stops the job and closes the tunnel.
 */
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { circlesImage, circlesQuestion } from '../../fixtures/images';
import { writeEvalJsonl } from '../../fixtures/parquetWriter';
import { ensureSlurmCluster, slurmPrerequisites, stopSlurmCluster, type SlurmCluster } from '../../fixtures/slurmCluster';
import { fakeVllmEnv } from './fakeVllm';

const ROOT = path.resolve(__dirname, '../../..');
const CLI = path.join(ROOT, 'dist/cli.js');

function run(
  args: string[],
  env: Record<string, string>,
  command = 'serve',
): { p: ChildProcess; out: { stdout: string; stderr: string }; exit: Promise<number | null> } {
  const p = spawn(process.execPath, [CLI, command, ...args], { cwd: ROOT, env: { ...process.env, CODEDANCE_CLUSTERS: undefined, ...env } });
  const out = { stdout: '', stderr: '' };
  p.stdout!.on('data', (d: Buffer) => (out.stdout += d.toString()));
  p.stderr!.on('data', (d: Buffer) => (out.stderr += d.toString()));
  return { p, out, exit: new Promise((r) => p.on('close', (code) => r(code))) };
}

async function until(what: string, ms: number, check: () => boolean, detail: () => string): Promise<void> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}: ${detail()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('serve: the codedance serve CLI (real Slurm + sshd)', function () {
  this.timeout(120_000);
  let c: SlurmCluster;
  let ssh: string[];
  let env: Record<string, string>;
  let jobEnv: string[];

  before(async function () {
    const why = slurmPrerequisites();
    if (why) {
      console.log(`      (skipped: ${why})`);
      this.skip();
    }
    c = await ensureSlurmCluster();
    const home = mkdtempSync(path.join(os.tmpdir(), 'serve-cli-home-'));
    mkdirSync(home, { recursive: true });
    env = { HOME: home };
    ssh = ['--ssh', `${c.user}@127.0.0.1:${c.sshPort}`, '--identity', c.identityFile, '--jobs-dir', path.join(c.dir, 'serve-cli-jobs')];
    jobEnv = Object.entries(await fakeVllmEnv(c.dir)).flatMap(([k, v]) => ['--env', `${k}=${v}`]);
  });

  after(async () => {
    await stopSlurmCluster(); // jobs cancelled first: a batch step must not outlive the daemons
  });

  it('start → the local base URL answers through the tunnel → status → Ctrl-C stops the job', async () => {
    const dry = run(['start', ...ssh, '--model', '/ckpt/cli', '--served-model-name', 'cli-7b', '--dry-run'], env);
    assert.equal(await dry.exit, 0, dry.out.stderr);
    assert.match(dry.out.stdout, /^#SBATCH --ntasks=1$/m);
    assert.match(dry.out.stdout, /^exec vllm serve "\$MODEL_PATH" \\$/m);

    const port = String(19000 + Math.floor(Math.random() * 500));
    const s = run(
      ['start', ...ssh, '--model', '/ckpt/cli', '--served-model-name', 'cli-7b', '--port', port, '--tp', '0', '--json', ...jobEnv],
      env,
    );
    await until(
      'the ready line',
      60_000,
      () => s.out.stdout.includes('"baseUrls"') || s.p.exitCode !== null,
      () => s.out.stderr,
    );
    const ready = JSON.parse(s.out.stdout.trim().split('\n')[0]) as { jobId: string; model: string; baseUrls: string[] };
    assert.equal(ready.model, 'cli-7b');
    assert.match(ready.baseUrls[0], /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    const models = (await (await fetch(`${ready.baseUrls[0]}/models`)).json()) as { data: { id: string }[] };
    assert.deepEqual(
      models.data.map((m) => m.id),
      ['cli-7b'],
    );

    const st = run(['status', ready.jobId, ...ssh], env);
    assert.equal(await st.exit, 0, st.out.stderr);
    assert.match(st.out.stdout, new RegExp(`replica 0: http://127\\.0\\.0\\.1:\\d+/v1  →  \\S+:${port}`));

    // a small eval through the tunnel (the seed's format, no judge)
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'serve-cli-eval-'));
    writeEvalJsonl(path.join(tmp, 'mini.jsonl'), [
      { dataSource: 'vstar', question: circlesQuestion('red'), answer: '4', image: circlesImage({ red: 4, blue: 2, seed: 3 }).png },
      { dataSource: 'vstar', question: circlesQuestion('blue'), answer: '6', image: circlesImage({ blue: 6, seed: 9 }).png },
    ]);
    const ev = run(
      [
        '--model-name',
        'cli-7b',
        '--api-url',
        ready.baseUrls[0],
        '--data-path',
        path.join(tmp, 'mini.jsonl'),
        '--save-path',
        tmp,
        '--num-workers',
        '2',
        '--no-judge',
      ],
      env,
      'eval',
    );
    assert.equal(await ev.exit, 0, ev.out.stderr);
    const recs = readFileSync(path.join(tmp, 'cli-7b', 'result_cli-7b_mini.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { acc: number });
    assert.deepEqual(
      recs.map((r) => r.acc),
      [1, 1],
      'the served model answered both through the tunnel',
    );

    s.p.kill('SIGINT');
    assert.equal(await s.exit, 0, s.out.stderr);
    assert.match(s.out.stderr, /stopped job \d+; cli-7b is gone from /);
    await assert.rejects(fetch(`${ready.baseUrls[0]}/models`), 'the tunnel is closed');
    await until(
      'the job to be cancelled',
      10_000,
      () => /CANCELLED|COMPLETED/.test(c.slurm('squeue', ['-h', '-t', 'all', '-j', ready.jobId, '-o', '%T'])),
      () => '',
    );
  });

  it('bad values are usage errors naming the field', async () => {
    const r = run(['start', ...ssh, '--replicas', '0', '--model', '/x'], env);
    assert.equal(await r.exit, 2);
    assert.match(r.out.stderr, /replicas: a whole number from 1 to 64/);
    const noModel = run(['start', ...ssh], env);
    assert.equal(await noModel.exit, 2);
    assert.match(noModel.out.stderr, /modelPath: empty/);
  });
});
