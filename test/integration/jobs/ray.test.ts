/**
 * The Ray backend against the contract fixture of the Job Submission API
 * (test/fixtures/rayJobsServer.ts): jobs really run there as bash processes.
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildJob, defaultParams } from '../../../src/core/jobs';
import { JobNotFoundError, JobsAuthError, JobsError } from '../../../src/core/jobs/errors';
import { RayJobsBackend } from '../../../src/core/jobs/RayJobsBackend';
import type { JobInfo } from '../../../src/core/jobs/types';
import { describeError } from '../../../src/cli/errors';
import { wordError } from '../../../src/extension/errors';
import { startRayJobsFixture, type RayJobsFixture } from '../../fixtures/rayJobsServer';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitStatus(b: RayJobsBackend, id: string, want: (j: JobInfo) => boolean, ms = 10000): Promise<JobInfo[]> {
  const seen: JobInfo[] = [];
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    const j = await b.status(id);
    if (seen.at(-1)?.status !== j.status) seen.push(j);
    if (want(j)) return seen;
    await sleep(20);
  }
  throw new Error(`job ${id}: ${seen.map((s) => s.status).join(' → ')} after ${ms} ms`);
}

describe('jobs: Ray Job Submission API (contract fixture)', function () {
  this.timeout(30000);
  let ray: RayJobsFixture;
  let backend: RayJobsBackend;
  let tmp: string;

  before(async () => {
    ray = await startRayJobsFixture();
    backend = new RayJobsBackend({ address: ray.url });
    tmp = mkdtempSync(path.join(os.tmpdir(), 'ray-backend-test-'));
  });
  after(async () => {
    await ray?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('reads the version; an address without scheme gets http://', async () => {
    const info = await new RayJobsBackend({ address: `127.0.0.1:${ray.port}/` }).check();
    assert.deepEqual(info, { kind: 'ray', version: '2.40.0', detail: 'session session_fixture' });
  });

  it('submits with entrypoint, submission_id, env_vars, metadata; PENDING → RUNNING → SUCCEEDED; logs', async () => {
    const { id } = await backend.submit({
      name: 'My RL run',
      entrypoint: 'echo "judge=$LLM_AS_A_JUDGE_BASE exp=$EXPERIMENT_NAME"; sleep 0.3; echo bye',
      env: { LLM_AS_A_JUDGE_BASE: 'http://j:1/v1', EXPERIMENT_NAME: 'e1' },
      metadata: { template: 'codedance-rl' },
    });
    assert.match(id, /^my-rl-run-\d{8}-\d{6}-[a-z0-9]+$/);
    const post = ray.requests.find((r) => r.method === 'POST' && r.path === '/api/jobs/')!;
    assert.deepEqual(post.body, {
      entrypoint: 'echo "judge=$LLM_AS_A_JUDGE_BASE exp=$EXPERIMENT_NAME"; sleep 0.3; echo bye',
      submission_id: id,
      metadata: { name: 'My RL run', submitted_by: 'codedance', template: 'codedance-rl' },
      runtime_env: { env_vars: { LLM_AS_A_JUDGE_BASE: 'http://j:1/v1', EXPERIMENT_NAME: 'e1' } },
    });
    const seen = await waitStatus(backend, id, (j) => j.status === 'SUCCEEDED');
    assert.deepEqual(
      seen.map((s) => s.status),
      ['PENDING', 'RUNNING', 'SUCCEEDED'],
    );
    const done = seen.at(-1)!;
    assert.equal(done.exitCode, 0);
    assert.equal(done.name, 'My RL run');
    assert.ok(done.endTime! >= done.startTime!);
    assert.equal(await backend.logs(id), 'judge=http://j:1/v1 exp=e1\nbye\n');
    assert.ok((await backend.list()).some((j) => j.id === id && j.status === 'SUCCEEDED'));
  });

  it('tails logs live over the websocket, and the stream ends with the job', async () => {
    const { id } = await backend.submit({
      name: 'tail',
      entrypoint: 'for i in 1 2 3; do echo "line $i $(date +%s%N)"; sleep 0.3; done',
      env: {},
    });
    const chunks: { text: string; at: number }[] = [];
    for await (const c of backend.tailLogs(id)) chunks.push({ text: c, at: Date.now() });
    const text = chunks.map((c) => c.text).join('');
    assert.match(text, /line 1 .*\nline 2 .*\nline 3 .*\n$/);
    assert.ok(chunks.length >= 3, 'lines arrived as they were written');
    for (const c of chunks) for (const m of c.text.matchAll(/line \d (\d+)/g)) assert.ok(c.at - Number(BigInt(m[1]) / 1000000n) < 500);
    assert.equal((await backend.status(id)).status, 'SUCCEEDED');
    // a finished job's tail sends the whole log and closes
    let again = '';
    for await (const c of backend.tailLogs(id)) again += c;
    assert.equal(again, text);
  });

  it('stops a running job (→ STOPPED), refuses to delete it while running, deletes it after', async () => {
    const { id } = await backend.submit({ name: 'long', entrypoint: 'echo started; sleep 60', env: {} });
    await waitStatus(backend, id, (j) => j.status === 'RUNNING');
    await assert.rejects(
      backend.delete(id),
      (e: unknown) => e instanceof JobsError && e.code === 'rejected' && e.status === 400 && /terminal state/.test(e.message),
    );
    assert.equal(await backend.stop(id), true);
    const seen = await waitStatus(backend, id, (j) => j.status !== 'RUNNING');
    assert.equal(seen.at(-1)!.status, 'STOPPED');
    assert.equal(await backend.stop(id), false);
    assert.equal(await backend.delete(id), true);
    await assert.rejects(backend.status(id), (e: unknown) => e instanceof JobNotFoundError && /Job .* does not exist/.test(e.message));
  });

  it("reports FAILED with the exit code and Ray's message", async () => {
    const { id } = await backend.submit({ name: 'fail', entrypoint: 'echo boom >&2; exit 7', env: {} });
    const j = (await waitStatus(backend, id, (x) => x.status === 'FAILED')).at(-1)!;
    assert.equal(j.exitCode, 7);
    assert.match(j.message!, /exit code 7/);
  });

  it('uploads a local working_dir as a zip package once, then refers to it as gcs://', async () => {
    const dir = path.join(tmp, 'repo');
    mkdirSync(path.join(dir, 'scripts'), { recursive: true });
    mkdirSync(path.join(dir, '.git'), { recursive: true });
    writeFileSync(path.join(dir, '.git/HEAD'), 'ref: x');
    writeFileSync(path.join(dir, 'scripts/prep.sh'), '#!/bin/bash\necho prep\n');
    chmodSync(path.join(dir, 'scripts/prep.sh'), 0o755);
    // a stand-in trainer in the checkout: `python3 -m verl.trainer.main_ppo` runs it from the unpacked working_dir
    mkdirSync(path.join(dir, 'verl/trainer'), { recursive: true });
    writeFileSync(
      path.join(dir, 'verl/trainer/main_ppo.py'),
      'import os, sys\nprint("main_ppo", os.environ["PT_CKPT_PATH"], "wandb=" + ("ok" if os.environ.get("WANDB_API_KEY") == "wk-secret-123456" else "missing"), *sys.argv[1:])\n',
      { mode: 0o644 },
    );
    const spec = buildJob('codedance-rl', defaultParams({ experimentName: 'wd-test', repoDir: dir }), 'ray');
    const r1 = await backend.submit({ ...spec, secretEnv: { WANDB_API_KEY: 'wk-secret-123456' } });
    assert.match(r1.workingDirUri!, /^gcs:\/\/_ray_pkg_[0-9a-f]{16}\.zip$/);
    const name = r1.workingDirUri!.slice(6);
    // a real zip: python's zipfile reads it; .git is left out; the script stays executable
    const zipFile = path.join(tmp, name);
    writeFileSync(zipFile, ray.packages.get(name)!);
    assert.equal(
      execFileSync(
        'python3',
        [
          '-c',
          'import sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); print(z.testzip(), sorted((i.filename, oct(i.external_attr>>16)) for i in z.infolist()))',
          zipFile,
        ],
        { encoding: 'utf8' },
      ).trim(),
      "None [('scripts/prep.sh', '0o100755'), ('verl/trainer/main_ppo.py', '0o100644')]",
    );
    const done = (await waitStatus(backend, r1.id, (j) => j.status !== 'RUNNING' && j.status !== 'PENDING')).at(-1)!;
    const logs = await backend.logs(r1.id);
    assert.equal(done.status, 'SUCCEEDED', logs);
    // the seed launch ran in the foreground in the working_dir, the secret reached the trainer's environment
    assert.match(
      logs,
      /^main_ppo Qwen\/Qwen2\.5-VL-7B-Instruct wandb=ok --config-path=\S+\/configs --config-name=multiturn_config\.yaml algorithm\.adv_estimator=grpo /,
    );
    assert.match(logs, / trainer\.experiment_name=wd-test /);
    assert.doesNotMatch(logs, /wk-secret/);
    // … and is in no metadata
    const post1 = ray.requests.filter((r) => r.method === 'POST' && r.path === '/api/jobs/').at(-1)!;
    assert.doesNotMatch(JSON.stringify((post1.body as { metadata: unknown }).metadata), /wk-secret/);
    assert.doesNotMatch(JSON.stringify(await backend.status(r1.id)), /wk-secret/);
    const puts = () => ray.requests.filter((r) => r.method === 'PUT').length;
    assert.equal(puts(), 1);
    await backend.submit(spec); // same content: no second upload
    assert.equal(puts(), 1);
    const post = ray.requests.filter((r) => r.method === 'POST' && r.path === '/api/jobs/').at(-1)!;
    assert.equal((post.body as { runtime_env: { working_dir: string } }).runtime_env.working_dir, r1.workingDirUri);
    await assert.rejects(backend.submit({ ...spec, workingDir: path.join(tmp, 'missing') }), /neither a local folder nor a URI/);
  });

  it('sends entrypoint_num_gpus only to a Ray that knows it (≥ 2.2)', async () => {
    const r = await backend.submit({ name: 'g', entrypoint: 'true', env: {}, entrypointNumGpus: 1 });
    assert.equal(ray.jobs.get(r.id)!.details.entrypoint_num_gpus, 1);
    const old = await startRayJobsFixture({ rayVersion: '2.1.0' });
    try {
      const b = new RayJobsBackend({ address: old.url });
      await assert.rejects(
        b.submit({ name: 'g', entrypoint: 'true', env: {}, entrypointNumGpus: 1 }),
        (e: unknown) => e instanceof JobsError && e.kind === 'config' && /Ray ≥ 2\.2/.test(e.message),
      );
      const ok = await b.submit({ name: 'g', entrypoint: 'true', env: {} });
      assert.ok(ok.id);
      assert.ok(!('entrypoint_num_gpus' in (old.requests.find((q) => q.method === 'POST')!.body as object)));
    } finally {
      await old.close();
    }
  });

  it('maps errors: 404 unknown id, 400 duplicate id, 500 no agent, 400 driver stop, unreachable dashboard', async () => {
    await assert.rejects(
      backend.status('nope'),
      (e: unknown) => e instanceof JobNotFoundError && e.message.includes('Job nope does not exist'),
    );
    await assert.rejects(backend.logs('nope'), JobNotFoundError);
    await assert.rejects(backend.stop('nope'), JobNotFoundError);
    await assert.rejects(backend.delete('nope'), JobNotFoundError);
    await assert.rejects(async () => {
      for await (const _ of backend.tailLogs('nope')) void _;
    }, JobNotFoundError);
    await backend.submit({ name: 'd', entrypoint: 'true', env: {}, submissionId: 'dup-1' });
    await assert.rejects(
      backend.submit({ name: 'd', entrypoint: 'true', env: {}, submissionId: 'dup-1' }),
      (e: unknown) => e instanceof JobsError && e.code === 'rejected' && /already exists/.test(e.message),
    );
    ray.setAgentAvailable(false);
    try {
      await assert.rejects(
        backend.submit({ name: 'x', entrypoint: 'true', env: {} }),
        (e: unknown) => e instanceof JobsError && e.code === 'server' && e.status === 500 && /No available agent/.test(e.message),
      );
    } finally {
      ray.setAgentAvailable(true);
    }
    ray.addDriverJob('02000000');
    await assert.rejects(backend.stop('02000000'), /Can only stop submission type jobs/);
    await assert.rejects(backend.submit({ name: 'x', entrypoint: '  ', env: {} }), /no entrypoint/);
    const closed = await startRayJobsFixture();
    await closed.close(); // a port nothing listens on
    const dead = new RayJobsBackend({ address: closed.url, timeoutMs: 2000 });
    await assert.rejects(
      dead.check(),
      (e: unknown) => e instanceof JobsError && e.code === 'connection' && /ECONNREFUSED/.test(e.message) && /8265/.test(e.message),
    );
  });

  it('token auth: no token → 401, wrong token → 403 (REST and log tail), right token works; never echoed', async () => {
    const secured = await startRayJobsFixture({ token: 'tok-s3cret-value' });
    try {
      await assert.rejects(new RayJobsBackend({ address: secured.url }).check(), (e: unknown) => {
        assert.ok(e instanceof JobsAuthError && e.status === 401 && /needs a token/.test(e.message), String(e));
        // core names no VS Code command and no CLI variable: the fix's key is worded by each adapter
        assert.doesNotMatch(e.message, /CodeDance:|CODEDANCE_/);
        assert.equal(e.fix?.setting, 'jobs.token');
        assert.match(
          describeError(e, 'jobs'),
          /needs a token \(401.*\) — set this cluster's token \(the CODEDANCE_RAY_TOKEN environment variable\)$/,
        );
        const worded = wordError(e);
        assert.match(worded.message, /set this cluster's token \(the command "CodeDance: Set Cluster Secret"\)$/);
        assert.deepEqual(
          worded.actions.map((a) => a.command),
          ['codedance.jobs.setClusterSecret'],
        );
        return true;
      });
      await assert.rejects(
        new RayJobsBackend({ address: secured.url, token: 'wrong-token' }).list(),
        (e: unknown) => e instanceof JobsAuthError && e.status === 403 && !e.message.includes('wrong-token'),
      );
      const good = new RayJobsBackend({ address: secured.url, token: 'tok-s3cret-value' });
      const { id } = await good.submit({ name: 'auth', entrypoint: 'echo authorized', env: {} });
      assert.equal(secured.requests.at(-1)!.headers.authorization, 'Bearer tok-s3cret-value');
      let log = '';
      for await (const c of good.tailLogs(id)) log += c;
      assert.equal(log, 'authorized\n');
      const wsReq = secured.requests.find((r) => r.method === 'WS')!;
      assert.equal(wsReq.headers.authorization, 'Bearer tok-s3cret-value');
      const wrong = new RayJobsBackend({ address: secured.url, token: 'wrong-token' });
      await assert.rejects(async () => {
        for await (const _ of wrong.tailLogs(id)) void _;
      }, JobsAuthError);
    } finally {
      await secured.close();
    }
  });

  it('a 401/403 body that echoes the token is redacted before it reaches the message', async () => {
    const echoing = await startRayJobsFixture({ token: 'tok-right-value', echoAuthInRefusals: true });
    try {
      const token = 'wrong-token-0123456789'; // no "Bearer" prefix in the echo: only knowing the token catches it
      const b = new RayJobsBackend({ address: echoing.url, token });
      const raw = await fetch(`${echoing.url}/api/jobs/`, { headers: { Authorization: `Bearer ${token}` } });
      assert.match(await raw.text(), new RegExp(`token '${token}'`), 'the fixture echoes it');
      for (const call of [() => b.list(), () => b.check(), () => b.submit({ name: 'x', entrypoint: 'true', env: {} })]) {
        await assert.rejects(call(), (e: unknown) => {
          assert.ok(e instanceof JobsAuthError && e.status === 403, String(e));
          assert.ok(!e.message.includes(token) && !(e.stack ?? '').includes(token), e.message);
          assert.ok(!e.message.includes(token.slice(0, 12)), 'no part of it either');
          assert.match(e.message, /refused the token \(403: Forbidden: Invalid authentication token '\*\*\*'/);
          return true;
        });
      }
    } finally {
      await echoing.close();
    }
  });

  it('aborting a tail closes the websocket and ends the iteration', async () => {
    const { id } = await backend.submit({ name: 'abort', entrypoint: 'while true; do echo tick; sleep 0.1; done', env: {} });
    const ac = new AbortController();
    let n = 0;
    const t0 = Date.now();
    for await (const c of backend.tailLogs(id, { signal: ac.signal })) {
      n += (c.match(/tick/g) ?? []).length;
      if (n >= 3) ac.abort();
    }
    assert.ok(Date.now() - t0 < 3000);
    await sleep(100);
    assert.equal(ray.jobs.get(id)!.tails.size, 0, 'the server still holds the tail');
    await backend.stop(id);
  });
});
