/**
 * Kernels spread over hosts (eval --kernel-hosts): stand-in hosts with stub kernels. The spread
 * by share of capacity, capacity never passed under load, the line, a host that dies (its kernels
 * fail at once with KernelHostLostError, later samples go elsewhere), a start on a dead host moved
 * to another, a kernel that dies by itself on a live host (the model sees it), no host left; then
 * the eval runner over two hosts, one of which dies mid-run: every sample in the results file
 * exactly once, none an error, the lost ones run again on the other host.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { evalPaths, runEval } from '../../../src/core/eval';
import { isHostLost, KernelHostLostError, SpreadKernels, type KernelHost } from '../../../src/core/eval/kernelHosts';
import { parseKernelHosts } from '../../../src/core/eval/clusterKernelHosts';
import type { ExecutionResult, KernelSession } from '../../../src/core/kernel/types';
import { remoteCellHost } from '../../../src/core/kernel/sandboxNotice';
import { startFixtureModel, type FixtureModel } from '../../fixtures/fixtureModel';
import { circlesImage, circlesQuestion } from '../../fixtures/images';
import { writeEvalParquet } from '../../fixtures/parquetWriter';
import { fixtureEvalOptions } from './fixtureEval';
import { StubKernel } from './stubKernel';

/** a stand-in host: stub kernels; `alive` false makes it silent and its kernels' cells hang (as over a dead tunnel) */
class StubHost implements KernelHost {
  alive = true;
  startFails = false;
  readonly kernels: StubKernel[] = [];
  held = 0;
  maxHeld = 0;
  hang: ((code: string) => boolean) | undefined;
  /** its cells fail with a socket error and it does not answer (a server gone while the tunnel says so at once) */
  refusing = false;
  readonly cell;
  constructor(
    readonly name: string,
    readonly capacity: number,
    private readonly out: (code: string) => Partial<ExecutionResult> = (code) => ({
      stdout: code.includes('red') ? 'red_count = 3\n' : 'x\n',
    }),
  ) {
    this.cell = remoteCellHost(`http://${name}:8888/`);
  }
  async start(): Promise<KernelSession> {
    await new Promise((r) => setImmediate(r));
    if (this.startFails || !this.alive) throw new Error(`${this.name}: connection refused`);
    const host = this;
    const k = new (class extends StubKernel {
      get where() {
        return `stub on ${host.name}`;
      }
      override async execute(code: string) {
        if (host.refusing) throw new Error('the connection to the kernel is lost');
        if (!host.alive || host.hang?.(code)) return new Promise<ExecutionResult>(() => undefined); // the socket is gone: nothing comes back
        return super.execute(code);
      }
    })(this.out);
    this.kernels.push(k);
    this.maxHeld = Math.max(this.maxHeld, ++this.held);
    return k;
  }
  async release(k: KernelSession): Promise<void> {
    this.held--;
    await k.dispose();
  }
  async answers(): Promise<boolean> {
    return this.alive && !this.refusing;
  }
  async dispose(): Promise<void> {}
}

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('kernel hosts: spread, capacity, failover', () => {
  it('spreads by share of capacity, then waits in line for the first free room', async () => {
    const a = new StubHost('a', 4);
    const b = new StubHost('b', 2);
    const spread = new SpreadKernels([a, b], { watchMs: 0 });
    const got = [];
    for (let i = 0; i < 6; i++) got.push(await spread.acquire());
    assert.deepEqual(
      got.map((k) => /kernel host (\w)/.exec(k.where!)![1]),
      ['a', 'b', 'a', 'a', 'b', 'a'],
      'each to the host with the most free room by share (ties: the first listed)',
    );
    assert.deepEqual(
      spread.stats.map((s) => s.inFlight),
      [4, 2],
    );
    let seventh: KernelSession | undefined;
    const waiting = spread.acquire().then((k) => (seventh = k));
    await tick();
    assert.equal(seventh, undefined, 'every host is full: the seventh waits');
    await spread.release(got[1]); // one of b's
    await waiting;
    assert.match(seventh!.where!, /kernel host b/, 'it gets the room that was freed');
    for (const k of [...got.slice(0, 1), ...got.slice(2), seventh!]) await spread.release(k);
    assert.deepEqual(
      spread.stats.map((s) => s.inFlight),
      [0, 0],
    );
    await spread.dispose();
  });

  it('never holds more kernels on a host than its capacity, under concurrent acquire/release', async () => {
    const hosts = [new StubHost('a', 3), new StubHost('b', 1), new StubHost('c', 2)];
    const spread = new SpreadKernels(hosts, { watchMs: 0 });
    await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const k = await spread.acquire();
        await new Promise((r) => setTimeout(r, i % 3));
        await spread.release(k);
      }),
    );
    assert.deepEqual(
      hosts.map((h) => h.maxHeld),
      [3, 1, 2],
    );
    assert.equal(
      hosts.reduce((n, h) => n + h.kernels.length, 0),
      40,
    );
    assert.ok(hosts.every((h) => h.held === 0 && h.kernels.every((k) => k.disposed)));
    await spread.dispose();
  });

  it('a host that dies: its running cells fail at once with KernelHostLostError, the next kernels go to the other host', async () => {
    const a = new StubHost('a', 2);
    const b = new StubHost('b', 2);
    const lines: string[] = [];
    const spread = new SpreadKernels([a, b], { watchMs: 20, log: (l) => lines.push(l) });
    const ka = await spread.acquire();
    const kb = await spread.acquire();
    assert.match(kb.where!, /kernel host b/);
    b.alive = false;
    const cell = kb.execute('print(1)');
    await assert.rejects(
      cell,
      (e: Error) => e instanceof KernelHostLostError && isHostLost(e) && /kernel host b .*is gone/.test(e.message),
    );
    assert.equal(kb.state, 'dead');
    assert.match(lines.join('\n'), /kernel host b is out: it did not answer twice in a row; its 1 sample\(s\) run again on another host/);
    const next = [await spread.acquire()];
    assert.match(next[0].where!, /kernel host a/, 'a dead host gets no more kernels');
    assert.equal((await ka.execute('red')).stdout, 'red_count = 3\n', 'the live host is untouched');
    await Promise.all([ka, kb, ...next].map((k) => spread.release(k)));
    assert.equal(spread.stats[1].out, 'it did not answer twice in a row');
    await spread.dispose();
  });

  it('a cell that finds its kernel dead: a lost host when the host is silent, the result itself when it answers', async () => {
    const a = new StubHost('a', 1, () => ({ status: 'died', stdout: '' }));
    const spread = new SpreadKernels([a, new StubHost('b', 1)], { watchMs: 0 });
    const k = await spread.acquire();
    assert.equal((await k.execute('import os; os._exit(1)')).status, 'died', 'the code killed its own kernel: the model is told');
    a.answers = async () => false;
    await assert.rejects(k.execute('x'), KernelHostLostError);
    await spread.release(k);
    await spread.dispose();
  });

  it('a start on a host that does not answer goes to another host; no host left: the error says why each is out', async () => {
    const a = new StubHost('a', 1);
    const b = new StubHost('b', 1);
    a.alive = false;
    const spread = new SpreadKernels([a, b], { watchMs: 0 });
    const k = await spread.acquire();
    assert.match(k.where!, /kernel host b/);
    const waiting = spread.acquire();
    b.refusing = true;
    await assert.rejects(k.execute('x'), KernelHostLostError);
    await assert.rejects(
      waiting,
      /every kernel host is out: a: it does not answer after: a: connection refused; b: it does not answer after: the connection to the kernel is lost/,
    );
    await assert.rejects(spread.acquire(), /every kernel host is out/);
    await spread.release(k);
    await spread.dispose();
  });

  it('a host whose kernels fail to start while it answers is left out after 3 failures in a row; the error reaches the sample', async () => {
    const a = new StubHost('a', 1);
    a.startFails = true;
    const spread = new SpreadKernels([a, new StubHost('b', 1)], { watchMs: 0 });
    // both empty: a is first in the list
    for (let i = 0; i < 3; i++) await assert.rejects(spread.acquire(), /a: connection refused/);
    assert.match(spread.stats[0].out!, /3 kernel starts failed in a row/);
    const again = await spread.acquire();
    assert.match(again.where!, /kernel host b/);
    await spread.release(again);
    await spread.dispose();
  });

  it('--kernel-hosts is read strictly', () => {
    assert.deepEqual(parseKernelHosts('local, cluster:hpc'), [{ kind: 'local' }, { kind: 'cluster', cluster: 'hpc' }]);
    assert.deepEqual(parseKernelHosts('local:4,cluster:hpc:4711'), [
      { kind: 'local', capacity: 4 },
      { kind: 'cluster', cluster: 'hpc', jobId: '4711' },
    ]);
    assert.throws(() => parseKernelHosts('local:0'), /'local:0' is not local or local:N/);
    assert.throws(() => parseKernelHosts('cluster:'), /names no cluster profile/);
    assert.throws(() => parseKernelHosts('gpu-box'), /neither local nor cluster:NAME/);
    assert.throws(() => parseKernelHosts('local,local:2'), /local is named twice/);
    assert.throws(() => parseKernelHosts(' , '), /no host/);
  });
});

describe('kernel hosts: the eval runner when a host dies mid-run (fixture model, stub hosts)', function () {
  this.timeout(60_000);
  let tmp: string;
  let fm: FixtureModel;
  let data: string;
  const N = 12;

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-kernelhosts-'));
    const img = circlesImage({ red: 3, seed: 4 });
    data = path.join(tmp, 'set.parquet');
    writeEvalParquet(
      data,
      Array.from({ length: N }, () => ({ dataSource: 'vstar', question: circlesQuestion('red'), answer: '3', image: img.png })),
    );
    fm = await startFixtureModel();
  });
  after(async () => {
    await fm.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('each index exactly once, no error, the lost samples run again on the other host (not counted as retries)', async () => {
    const a = new StubHost('a', 2);
    const b = new StubHost('b', 2);
    let bCells = 0;
    // b dies at its third cell: that cell and every kernel b holds never answer again
    b.hang = () => {
      if (++bCells >= 3) b.alive = false;
      return !b.alive;
    };
    const lines: string[] = [];
    const spread = new SpreadKernels([a, b], { watchMs: 20, log: (l) => lines.push(l) });
    const save = path.join(tmp, 'run');
    const s = await runEval(
      fixtureEvalOptions(fm.baseUrl, data, save, { numWorkers: 4, kernels: spread, retries: 0, log: (l) => lines.push(l) }),
    );
    await spread.dispose();
    const recs = readFileSync(evalPaths(save, 'm', 'set').results, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      recs.map((r) => r.index).sort((x, y) => x - y),
      Array.from({ length: N }, (_, i) => i),
      'every index once',
    );
    assert.ok(
      recs.every((r) => r.status === 'success' && r.acc === 1 && r.codedance.attempts === 1),
      JSON.stringify(recs.map((r) => [r.index, r.status, r.codedance.error?.message])),
    );
    const rerun = lines.filter((l) => /running it again on another kernel host/.test(l));
    assert.ok(rerun.length >= 1, lines.join('\n'));
    const where = recs.map((r) => r.codedance.trajectory.where as string);
    assert.ok(
      where.some((w) => /kernel host b/.test(w)),
      'samples finished on b before it died',
    );
    for (const l of rerun) {
      const i = Number(/sample (\d+)/.exec(l)![1]);
      assert.match(recs.find((r) => r.index === i).codedance.trajectory.where, /kernel host a/, `sample ${i} finished on a`);
    }
    assert.equal(s.ranNow, N);
    assert.equal(s.manifest.cells?.label, 'unsandboxed: remote kernel');
    assert.ok(a.kernels.every((k) => k.disposed));
  });
});
