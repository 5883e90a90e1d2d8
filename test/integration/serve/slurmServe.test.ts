/**
 * Serve → reach → use → stop on a real one-node Slurm cluster behind a real sshd (127.0.0.1).
 * The "vLLM" is the project's fixture model server (test/fixtures/serveFixtureModel.ts) started by
 * a stand-in `vllm` executable on the job's PATH, so the batch script, srun, the address files,
 * the SSH port forward and the OpenAI wire protocol through it are all real.
 */
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import * as path from 'node:path';
import { SlurmBackend, type SlurmClusterProfile } from '../../../src/core/jobs';
import { createChatModel } from '../../../src/core/model';
import {
  buildServeJob,
  policyDefaults,
  ServedEndpoints,
  ServeError,
  ServeSession,
  withServedEndpoints,
  type ServeParams,
} from '../../../src/core/serve';
import { ensureSlurmCluster, slurmPrerequisites, stopSlurmCluster, type SlurmCluster } from '../../fixtures/slurmCluster';
import { fakeVllmEnv } from './fakeVllm';

async function portRefuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(false)));
    s.once('error', () => resolve(true));
  });
}

describe('serve: a model on Slurm, reached through an SSH tunnel (real Slurm + sshd)', function () {
  this.timeout(180_000);
  let cluster: SlurmCluster;
  let profile: SlurmClusterProfile;
  let backend: SlurmBackend;
  let jobEnv: Record<string, string>;
  const sessions: ServeSession[] = [];

  before(async function () {
    const why = slurmPrerequisites();
    if (why) {
      console.log(`      (skipped: ${why})`);
      this.skip();
    }
    cluster = await ensureSlurmCluster();
    profile = {
      name: 'hpc',
      kind: 'slurm',
      host: '127.0.0.1',
      port: cluster.sshPort,
      user: cluster.user,
      identityFile: cluster.identityFile,
      knownHosts: path.join(cluster.dir, 'known_hosts_serve'),
      jobsDir: path.join(cluster.dir, 'serve-jobs'),
    };
    backend = new SlurmBackend(profile);
    jobEnv = await fakeVllmEnv(cluster.dir);
  });

  afterEach(async () => {
    for (const s of sessions.splice(0)) await s.stop().catch(() => undefined);
  });

  after(async () => {
    await backend?.dispose();
    await stopSlurmCluster(); // jobs cancelled first: a batch step must not outlive the daemons
  });

  function session(p: ServeParams, extra: Partial<ConstructorParameters<typeof ServeSession>[0]> = {}, b = backend) {
    const s = new ServeSession({
      backend: b,
      clusterName: 'hpc',
      role: p.role,
      servedModelName: p.servedModelName,
      replicas: p.replicas,
      pollMs: 250,
      readyTimeoutMs: 60_000,
      ...extra,
    });
    sessions.push(s);
    return s;
  }

  function spec(p: ServeParams) {
    const s = buildServeJob(p, 'slurm');
    return { ...s, env: { ...s.env, ...jobEnv } };
  }

  it('2 replicas: discovered, tunnelled, ready; a question answered through the tunnel; a dropped SSH connection mid-stream is retried on a re-opened tunnel; stop removes it', async () => {
    const p = policyDefaults({
      name: 'serve-it',
      modelPath: '/ckpt/codedance-7b',
      servedModelName: 'codedance-7b',
      replicas: 2,
      port: 18000 + Math.floor(Math.random() * 2000),
      protocol: 'codedance-tools',
    });
    const states: string[] = [];
    const s = session(p, { onState: (st) => states.push(st.phase) });
    const t0 = Date.now();
    const id = await s.submit(spec(p));
    const replicas = await s.waitReady();
    const readyMs = Date.now() - t0;
    assert.equal(replicas.length, 2);
    assert.deepEqual(replicas.map((r) => r.port).sort(), [p.port, p.port + 1]);
    assert.equal(new Set(replicas.map((r) => r.baseUrl)).size, 2, 'one local port per replica');
    for (const r of replicas) assert.match(r.baseUrl, /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    assert.match(replicas[0].clusterUrl, new RegExp(`^http://[^/]+:${p.port}/v1$`));
    assert.deepEqual(
      [...new Set(states)],
      ['submitting', 'pending', 'starting', 'ready'].filter((x) => states.includes(x)),
    );
    assert.equal(states.at(-1), 'ready');
    const log = await backend.logs(id);
    assert.match(
      log,
      /vllm-args: serve \/ckpt\/codedance-7b --port 1\d+ --gpu-memory-utilization 0\.9 --max-model-len 32768 --tensor-parallel-size 1 --served-model-name codedance-7b --trust-remote-code --disable-log-requests --host :: --enable-auto-tool-choice --tool-call-parser hermes --limit-mm-per-prompt \{"image":8\}/,
    );
    console.log(`      ready in ${readyMs} ms (submit → 2 replicas answering through the tunnel)`);

    // use it: the registry gives chat its endpoints
    const served = new ServedEndpoints();
    served.set({
      key: `hpc/${id}`,
      clusterName: 'hpc',
      jobId: id,
      role: 'policy',
      servedModelName: 'codedance-7b',
      baseUrls: replicas.map((r) => r.baseUrl),
      clusterUrls: replicas.map((r) => r.clusterUrl),
    });
    const use = withServedEndpoints(['http://127.0.0.1:8000/v1'], '', served);
    assert.equal(use.modelName, 'codedance-7b');
    assert.equal(served.policy()!.summary, 'hpc · 2 replicas · codedance-7b');
    const client = createChatModel({ endpoints: use.endpoints, retry: { baseDelayMs: 50, maxDelayMs: 200 } });
    const ans = await client.complete({ model: 'codedance-7b', messages: [{ role: 'user', content: 'What is in this picture?' }] });
    assert.ok(ans.content.length > 0 || ans.toolCalls.length > 0);
    assert.ok(
      replicas.some((r) => r.baseUrl === ans.endpoint.replace(/\/+$/, '')),
      ans.endpoint,
    );

    // kill the SSH connection under a streaming answer: the request is sent again and completes
    const events: string[] = [];
    let dropped = 0;
    let text = '';
    for await (const ev of client.stream({
      model: 'codedance-7b',
      messages: [{ role: 'user', content: 'Describe the image in detail, please.' }],
    })) {
      events.push(ev.type);
      if (ev.type === 'delta' && !dropped) dropped = cluster.dropSshConnections();
      if (ev.type === 'retry') text = '';
      if (ev.type === 'delta') text += ev.text;
      if (ev.type === 'done') assert.equal(ev.content, text, 'the answer after the retry is whole');
    }
    assert.ok(dropped >= 1, 'an sshd session was killed');
    assert.ok(events.includes('retry'), `a retry after the drop: ${events.join(',')}`);
    assert.equal(events.at(-1), 'done');
    assert.ok(text.length > 0);
    assert.ok(
      s.tunnelList.some((t) => t.reconnects >= 1),
      'the tunnel re-opened its SSH connection',
    );

    // stop: the job is cancelled, the tunnels close
    const ports = s.tunnelList.map((t) => t.localPort);
    await s.stop();
    assert.equal(s.state.phase, 'ended');
    for (const port of ports) assert.ok(await portRefuses(port), `local port ${port} closed`);
    const st = await backend.status(id);
    assert.ok(['CANCELLED', 'COMPLETING'].includes(st.rawStatus) || st.status === 'STOPPED', st.rawStatus);
    served.remove(`hpc/${id}`);
    assert.equal(served.policy(), undefined);
  });

  it('the job fails before it is ready: the reason and the log tail', async () => {
    const p = policyDefaults({ name: 'serve-bad', modelPath: '/bad', port: 18500 });
    const s = session(p);
    await s.submit(spec(p));
    await assert.rejects(s.waitReady(), (e: unknown) => {
      assert.ok(e instanceof ServeError, String(e));
      assert.equal(e.failure, 'job-ended');
      assert.match(e.message, /ended \(FAILED, exit 1/);
      assert.match(e.message, /CUDA out of memory/);
      return true;
    });
    assert.equal(s.state.phase, 'failed');
  });

  it('the port never answers: a timeout naming the node and port', async () => {
    const p = policyDefaults({ name: 'serve-silent', modelPath: '/silent', port: 18600 });
    const s = session(p, { readyTimeoutMs: 3000 });
    await s.submit(spec(p));
    await assert.rejects(s.waitReady(), (e: unknown) => {
      assert.ok(e instanceof ServeError, String(e));
      assert.equal(e.failure, 'no-answer');
      assert.match(e.message, /did not answer at \S+:18600 within 3 s \(last: nothing answers at \S+:18600 through/);
      return true;
    });
  });

  it('the server serves another model name: says which', async () => {
    const p = policyDefaults({ name: 'serve-mismatch', modelPath: '/mismatch', servedModelName: 'codedance-7b', port: 18700 });
    const s = session(p);
    await s.submit(spec(p));
    await assert.rejects(
      s.waitReady(),
      (e: unknown) =>
        e instanceof ServeError && e.failure === 'model-mismatch' && /serves 'other-model', not 'codedance-7b'/.test(e.message),
    );
  });

  it('a login node that refuses TCP forwarding: names AllowTcpForwarding', async () => {
    const port = await cluster.startExtraSshd(['AllowTcpForwarding no']);
    const refusing = new SlurmBackend({ ...profile, port, strictHostKeyChecking: 'no', knownHosts: path.join(cluster.dir, 'kh-none') });
    try {
      const p = policyDefaults({ name: 'serve-refused', modelPath: '/ckpt/x', port: 18800 });
      const s = session(p, {}, refusing);
      await s.submit(spec(p));
      await assert.rejects(
        s.waitReady(),
        (e: unknown) => e instanceof ServeError && e.failure === 'tunnel-refused' && /AllowTcpForwarding/.test(e.message),
      );
    } finally {
      for (const s of sessions.splice(0)) await s.stop().catch(() => undefined);
      await refusing.dispose();
    }
  });
});
