/**
 * `codedance train metrics|rollouts|watch` as a user runs it (the built dist/cli.js): on a local
 * log and rollout folder, on a job of the real local Slurm over real SSH (the repo's codedance-rl
 * template with a stand-in trainer, test/fixtures/runs/standIn.ts), and on the Ray contract
 * fixture.
 */
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from '../../fixtures/cli';
import { startRayJobsFixture, type RayJobsFixture } from '../../fixtures/rayJobsServer';
import { standInCheckout } from '../../fixtures/runs/standIn';
import { ensureSlurmCluster, slurmPrerequisites, stopSlurmCluster, type SlurmCluster } from '../../fixtures/slurmCluster';

const FIX = path.join(__dirname, '../../fixtures/runs');
const LOG = path.join(FIX, 'verl-console.log');
const clean = { CODEDANCE_CLUSTERS: undefined, CODEDANCE_RAY_TOKEN: undefined };
const train = (args: string[], env: Record<string, string | undefined> = {}, onChild?: Parameters<typeof runCli>[2]) =>
  runCli(['train', ...args], { ...clean, ...env }, onChild);

/** The step numbers of the table rows in `out`, in order. */
const rowSteps = (out: string) => [...out.matchAll(/^(\d+) +[-\d.]/gm)].map((m) => Number(m[1]));

describe('runs: the codedance train CLI', function () {
  this.timeout(120000);
  let tmp: string;
  before(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'runs-cli-'));
  });
  after(async () => {
    await stopSlurmCluster();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('metrics LOG: the key metrics per step, the validation point; --json keeps every key and NaN', async () => {
    const r = await train(['metrics', LOG]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^STEP +score +acc +tool_ok +format +turns +resp_len +clipped +tool\+ok +tool\+bad +none\+ok +none\+bad +val_acc\n/,
    );
    assert.deepEqual(rowSteps(r.stdout), [1, 2, 3, 4, 5, 6]);
    assert.match(r.stdout, /^5 +0\.6777 +0\.625 +0\.8516 +-0\.0234 +3\.06 +1341 +0 +0\.5195 /m, 'step 5: the resumed run holds');
    assert.match(
      r.stdout,
      /validation at step 4: val-core\/acc=0\.6875, val-core\/mean_turns=3\.125, val-core\/vstar\/acc\/mean@1=0\.6875/,
    );
    assert.doesNotMatch(r.stdout, /ALARM/);
    const j = await train(['metrics', LOG, '--json']);
    const data = JSON.parse(j.stdout) as {
      steps: { step: number; values: Record<string, number | string> }[];
      keys: string[];
      alarms: unknown[];
    };
    assert.equal(data.steps.length, 6);
    assert.equal(data.steps[4].values['actor/is_resumed'], 1);
    assert.ok(data.keys.includes('actor/cnt_no_tool_call_incorrect'));
    assert.deepEqual(data.alarms, []);
    // a log whose format score drops: an alarm, unless its threshold flag says otherwise
    const bad = path.join(tmp, 'bad.log');
    writeFileSync(bad, readFileSync(LOG, 'utf8') + '(TaskRunner pid=4101) step:7 - actor/format_score:-0.5 - critic/score/mean:nan\n');
    const a = await train(['metrics', bad, '--json']);
    const parsed = JSON.parse(a.stdout) as {
      steps: { values: Record<string, number | string> }[];
      alarms: { kind: string; step: number; values: Record<string, unknown> }[];
    };
    assert.equal(parsed.steps[6].values['critic/score/mean'], 'NaN', 'NaN kept, as a string');
    const alarms = parsed.alarms;
    assert.deepEqual(
      alarms.map((x) => [x.kind, x.step]),
      [
        ['format-errors-rising', 7],
        ['nan', 7],
      ],
    );
    const text = await train(['metrics', bad, '--format-drop', '0.6']);
    assert.match(text.stdout, /^ALARM nan \(step 7\): critic\/score\/mean = NaN at step 7$/m);
    assert.doesNotMatch(text.stdout, /format-errors-rising/);
    const usage = await train(['metrics', bad, '--format-drop', 'lots']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--format-drop must be a number >= 0, got 'lots'/);
  });

  it('rollouts DIR: the last step by default, --step, --json with NaN/Infinity kept, clear errors', async () => {
    const r = await train(['rollouts', path.join(FIX, 'rollouts')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^STEP +IDX +SCORE +ACC +TOOLS +TOOL_OK +FORMAT +IMAGES +SOURCE +ANSWER\n3 +0 +1 +1 +1 +1 +0 +0 +red\n3 +1 +1 +1 +0 +nan +0 +0 +red\n/,
    );
    assert.match(r.stdout, /2 rollouts of step 3 \(.*rollouts\/3\.jsonl\); steps 1–3 \(3 files\)/, 'the half-written line is left out');
    const j = await train(['rollouts', path.join(FIX, 'rollouts'), '--step', '1', '--json']);
    const rs = JSON.parse(j.stdout) as { index: number; fields: Record<string, unknown> }[];
    assert.equal(rs.length, 3);
    assert.equal(rs[1].fields.tool_success_rate, 'NaN');
    assert.equal(rs[2].fields.response_ppl, 'Infinity');
    const v = await train(['rollouts', path.join(FIX, 'validation'), '--json']);
    assert.equal((JSON.parse(v.stdout) as { images: string[] }[])[1].images.length, 2);
    const none = await train(['rollouts', path.join(FIX, 'rollouts'), '--step', '9']);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no rollouts of step 9 in .*: it has steps 1–3 \(3 files\)/);
    const missing = await train(['rollouts', path.join(tmp, 'nope')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /folder .*nope does not exist/);
    const both = await train(['rollouts', 'x', '--job', '1']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /give DIR or --job ID, not both/);
  });

  describe('on a Slurm job over SSH', () => {
    let c: SlurmCluster;
    let ssh: string[];
    let env: Record<string, string>;
    let repo: string;

    before(async function () {
      const why = slurmPrerequisites();
      if (why) {
        console.log(`      skipped: ${why}`);
        this.skip();
      }
      c = await ensureSlurmCluster();
      const home = path.join(tmp, 'home'); // known_hosts (accept-new) lands here, not in the real ~/.ssh
      mkdirSync(home, { recursive: true });
      env = { HOME: home };
      ssh = ['--ssh', `${c.user}@127.0.0.1:${c.sshPort}`, '--identity', c.identityFile, '--jobs-dir', path.join(tmp, 'cli-jobs')];
      repo = standInCheckout(tmp);
    });

    /** submits the repo's codedance-rl job for the stand-in through `codedance jobs submit` */
    async function submit(standin: Record<string, string>): Promise<string> {
      const envFlags = Object.entries(standin).flatMap(([k, val]) => ['--env', `${k}=${val}`]);
      const r = await runCli(
        [
          'jobs',
          'submit',
          ...ssh,
          '--experiment',
          'runs-it',
          '--repo-dir',
          repo,
          '--nodes',
          '1',
          '--gpus-per-node',
          '0',
          '--data-root',
          '/data/rl',
          ...envFlags,
          '--json',
        ],
        { ...clean, ...env },
      );
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as { id: string }).id;
    }

    it('watch: each step once, the tool-use collapse and the failed end with its traceback; then metrics and rollouts', async () => {
      const id = await submit({ STANDIN_STEPS: '6', STANDIN_STEP_S: '0.5', STANDIN_COLLAPSE_AT: '5', STANDIN_FAIL: '1' });
      const w = await train(['watch', '--job', id, ...ssh, '--early-steps', '3'], env);
      assert.equal(w.code, 1, `a failed job: exit 1\n${w.stderr}`);
      assert.deepEqual(rowSteps(w.stdout), [1, 2, 3, 4, 5, 6]);
      assert.match(
        w.stdout,
        // raised by step 5, whose line may come in one chunk with step 6's
        /^ALARM tool-use-collapse \(step ([56])\): tool use collapsing: share of rollouts with a tool call 0 at step \1, 0\.5 in steps 1–3/m,
      );
      assert.match(
        w.stdout,
        /^ALARM job-ended \(step 6\): the job ended FAILED \(exit 1\) after step 6: RuntimeError: CUDA error: an illegal memory access was encountered$/m,
      );
      assert.match(w.stdout, /^ {4}Traceback \(most recent call last\):\n(?: {6}.*\n)*? {6}File ".*main_ppo\.py", line \d+, in main\n/m);
      assert.equal(w.stdout.match(/^ALARM tool-use-collapse/gm)?.length, 1, 'an alarm is printed once while it holds');
      assert.match(w.stderr, new RegExp(`job ${id} FAILED \\(exit 1\\); 6 steps, the last 6`));

      const m = await train(['metrics', '--job', id, ...ssh, '--json'], env);
      assert.equal(m.code, 0, m.stderr);
      const data = JSON.parse(m.stdout) as { steps: unknown[]; alarms: { kind: string; step: number }[]; job: { status: string } };
      assert.equal(data.steps.length, 6);
      assert.equal(data.job.status, 'FAILED');
      assert.deepEqual(
        data.alarms.map((a) => [a.kind, a.step]),
        [
          ['tool-use-collapse', 6],
          ['tool-success-falling', 6],
          ['job-ended', 6],
        ],
        'a run shorter than the early window (50 steps): its steps before the last make the early mean',
      );

      const r = await train(['rollouts', '--job', id, ...ssh], env);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`4 rollouts of step 6 \\(${repo}/rollout_sft_step/6\\.jsonl\\); steps 1–6 \\(6 files\\)`));
      const val = await train(['rollouts', '--job', id, ...ssh, '--validation', '--json'], env);
      assert.equal((JSON.parse(val.stdout) as { images: string[] }[])[0].images.length, 1);
    });

    it('metrics --follow: rows as the job prints them, through a dropped SSH connection', async () => {
      const id = await submit({ STANDIN_STEPS: '5', STANDIN_STEP_S: '0.6' });
      let dropped = 0;
      const r = await train(['metrics', '--job', id, ...ssh, '--follow'], env, (child) => {
        let out = '';
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          if (!dropped && /^2 /m.test(out)) dropped = c.dropSshConnections();
        });
      });
      assert.equal(r.code, 0, r.stderr);
      assert.ok(dropped >= 1, 'an sshd session was killed');
      assert.match(r.stderr, /the log stream of \d+ ended early: reconnecting \(try 1, after byte \d+\)/);
      assert.deepEqual(rowSteps(r.stdout), [1, 2, 3, 4, 5], 'every step once');
    });
  });

  describe('on a Ray job (the dashboard API fixture)', () => {
    let ray: RayJobsFixture;
    before(async () => {
      ray = await startRayJobsFixture();
    });
    after(async () => ray?.close());

    it('metrics --follow reads the log stream; rollouts ask for a mounted folder', async () => {
      const sub = await runCli(
        [
          'jobs',
          'submit',
          '--ray',
          ray.url,
          '--entrypoint',
          "printf '(TaskRunner pid=7) step:1 - actor/acc:0.5\\n'; sleep 0.3; printf '(TaskRunner pid=7) step:2 - actor/acc:np.float64(0.75)\\n'",
          '--json',
        ],
        clean,
      );
      assert.equal(sub.code, 0, sub.stderr);
      const id = (JSON.parse(sub.stdout) as { id: string }).id;
      const r = await train(['metrics', '--job', id, '--ray', ray.url, '--follow', '--json']);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { step?: number; values?: Record<string, number>; job?: { status: string } });
      assert.deepEqual(
        lines.slice(0, 2).map((l) => [l.step, l.values!['actor/acc']]),
        [
          [1, 0.5],
          [2, 0.75],
        ],
      );
      assert.equal(lines[2].job!.status, 'SUCCEEDED');
      const ro = await train(['rollouts', '--job', id, '--ray', ray.url]);
      assert.equal(ro.code, 2);
      assert.match(ro.stderr, /sets no trainer\.rollout_data_dir|which the Ray dashboard does not serve/);
      const missing = await train(['metrics', '--job', 'nope', '--ray', ray.url]);
      assert.equal(missing.code, 6);
    });
  });
});
