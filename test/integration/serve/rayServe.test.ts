/**
 * Serve on Ray (the Jobs API contract fixture): the N servers run in one job, found on the
 * driver's node (driver_info.node_ip_address) on consecutive ports, reached directly; stop ends it.
 */
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RayJobsBackend } from '../../../src/core/jobs';
import { createChatModel } from '../../../src/core/model';
import { buildServeJob, policyDefaults, rayJumpConnection, ServeSession } from '../../../src/core/serve';
import { ensureSlurmCluster, slurmPrerequisites, stopSlurmCluster } from '../../fixtures/slurmCluster';
import { startRayJobsFixture, type RayJobsFixture } from '../../fixtures/rayJobsServer';
import { fakeVllmEnv } from './fakeVllm';

describe('serve: a model on Ray (Jobs API contract fixture)', function () {
  this.timeout(60_000);
  let ray: RayJobsFixture;
  let tmp: string;
  before(async () => {
    ray = await startRayJobsFixture();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'serve-ray-'));
  });
  after(async () => {
    await stopSlurmCluster(); // the jump-host test's sshd (no-op when it did not start)
    await ray.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('2 replicas on the driver node: ready, answering, stopped', async () => {
    const backend = new RayJobsBackend({ address: ray.url });
    const p = policyDefaults({
      name: 'ray-serve',
      modelPath: '/ckpt/x',
      servedModelName: 'codedance-7b',
      replicas: 2,
      tensorParallel: 0,
      port: 19500 + Math.floor(Math.random() * 400),
    });
    const spec = buildServeJob(p, 'ray');
    const s = new ServeSession({
      backend,
      clusterName: 'lab-ray',
      role: 'policy',
      servedModelName: p.servedModelName,
      replicas: 2,
      pollMs: 200,
      readyTimeoutMs: 30_000,
    });
    try {
      const id = await s.submit({ ...spec, env: { ...spec.env, ...(await fakeVllmEnv(tmp)) } });
      const replicas = await s.waitReady();
      assert.deepEqual(
        replicas.map((r) => r.baseUrl),
        [`http://127.0.0.1:${p.port}/v1`, `http://127.0.0.1:${p.port + 1}/v1`],
      );
      const post = ray.requests.find((r) => r.method === 'POST' && r.path === '/api/jobs/')!;
      assert.equal((post.body as { metadata: Record<string, string> }).metadata.serve_replicas, '2');
      const ans = await createChatModel({ endpoints: replicas.map((r) => r.baseUrl) }).complete({
        model: 'codedance-7b',
        messages: [{ role: 'user', content: 'hello' }],
      });
      assert.ok(ans.content.length > 0 || ans.toolCalls.length > 0);
      await s.stop();
      for (let i = 0; i < 50 && (await backend.status(id)).status !== 'STOPPED'; i++) await new Promise((r) => setTimeout(r, 100));
      assert.equal((await backend.status(id)).status, 'STOPPED');
    } finally {
      await s.stop().catch(() => undefined);
      await backend.dispose();
    }
  });

  it("through the profile's jump host: one SSH tunnel per replica to the driver node; detached (window closed) and attached again (next window)", async function () {
    const why = slurmPrerequisites();
    if (why) {
      console.log(`      (skipped: ${why})`);
      this.skip();
    }
    const c = await ensureSlurmCluster(); // its sshd is the jump host
    const backend = new RayJobsBackend({ address: ray.url });
    const via = rayJumpConnection({
      name: 'lab-ray',
      kind: 'ray',
      address: ray.url,
      jumpHost: {
        host: '127.0.0.1',
        port: c.sshPort,
        user: c.user,
        identityFile: c.identityFile,
        strictHostKeyChecking: 'no',
        knownHosts: path.join(tmp, 'kh'),
      },
    });
    assert.ok(via);
    const p = policyDefaults({
      name: 'ray-jump',
      modelPath: '/ckpt/x',
      replicas: 1,
      tensorParallel: 0,
      port: 19950 + Math.floor(Math.random() * 40),
    });
    const spec = buildServeJob(p, 'ray');
    const session = () =>
      new ServeSession({
        backend,
        clusterName: 'lab-ray',
        role: 'policy',
        servedModelName: p.servedModelName,
        replicas: 1,
        pollMs: 200,
        readyTimeoutMs: 30_000,
        tunnelVia: via,
      });
    const s = session();
    const again = session();
    try {
      const id = await s.submit({ ...spec, env: { ...spec.env, ...(await fakeVllmEnv(tmp)) } });
      const [r] = await s.waitReady();
      assert.notEqual(r.baseUrl, r.clusterUrl, 'reached through a local tunnel port');
      assert.match(r.baseUrl, /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
      assert.equal(r.clusterUrl, `http://127.0.0.1:${p.port}/v1`);
      const models = (await (await fetch(`${r.baseUrl}/models`)).json()) as { data: { id: string }[] };
      assert.deepEqual(
        models.data.map((m) => m.id),
        ['codedance-7b'],
      );

      // the window closes (tunnels closed, the job left serving); the next window attaches to the same job
      await s.detach();
      await assert.rejects(fetch(`${r.baseUrl}/models`), 'the old tunnel port is closed');
      assert.equal((await backend.status(id)).status, 'RUNNING');
      again.attach(id);
      const [r2] = await again.waitReady();
      assert.equal(r2.clusterUrl, r.clusterUrl);
      const models2 = (await (await fetch(`${r2.baseUrl}/models`)).json()) as { data: { id: string }[] };
      assert.deepEqual(
        models2.data.map((m) => m.id),
        ['codedance-7b'],
      );
      await again.stop();
      for (let i = 0; i < 50 && (await backend.status(id)).status !== 'STOPPED'; i++) await new Promise((res) => setTimeout(res, 100));
      assert.equal((await backend.status(id)).status, 'STOPPED');
    } finally {
      await again.stop().catch(() => undefined);
      await s.stop().catch(() => undefined);
      via!.close();
      await backend.dispose();
    }
  });
});
