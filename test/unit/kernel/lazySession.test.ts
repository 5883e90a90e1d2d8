import { strict as assert } from 'node:assert';
import { LazyKernelSession, type LazyKernelOptions } from '../../../src/core/kernel/lazySession';
import type { KernelSession, KernelState, PrepareImageOptions } from '../../../src/core/kernel/types';
import { StubKernel } from '../eval/stubKernel';

/** a stub kernel that records what was done to it, in order */
class RecordingKernel extends StubKernel {
  readonly log: string[] = [];
  override async setInputImages(images: Uint8Array[], opts?: PrepareImageOptions) {
    // `for the code only`: the model's PNG was made without the kernel, so it is not made again
    this.log.push(`bind ${images.length}${opts?.modelImage === false ? ' for the code only' : ''}`);
    return super.setInputImages(images);
  }
  override async execute(code: string) {
    this.log.push(`run ${code}`);
    return super.execute(code);
  }
}

function lazyWith(extra: Partial<LazyKernelOptions> = {}) {
  const kernels: RecordingKernel[] = [];
  const released: KernelSession[] = [];
  const signals: (AbortSignal | undefined)[] = [];
  const prepared: number[] = [];
  const session = new LazyKernelSession({
    python: 'py',
    acquire: async (signal) => {
      signals.push(signal);
      const k = new RecordingKernel();
      kernels.push(k);
      return k;
    },
    release: async (k) => {
      released.push(k);
      await k.dispose();
    },
    prepareImages: async (images) => {
      prepared.push(images.length);
      return images.map(() => ({ pngBase64: 'cHJlcA==', width: 28, height: 28, originalWidth: 56, originalHeight: 56 }));
    },
    ...extra,
  });
  return { session, kernels, released, signals, prepared };
}

const img = new Uint8Array([1, 2, 3]);

describe('LazyKernelSession: the kernel is taken at the first cell', () => {
  it('prepares the images without a kernel; the first cell takes one, binds the images, then runs', async () => {
    const { session, kernels, released, signals, prepared } = lazyWith();
    const states: KernelState[] = [];
    session.onStateChange((s) => states.push(s));
    const p = await session.setInputImages([img], { resize: 'qwen-smart' });
    assert.equal(p[0].pngBase64, 'cHJlcA==');
    assert.deepEqual(prepared, [1]);
    assert.equal(kernels.length, 0, 'no kernel for the images');
    assert.equal(session.acquired, false);
    const ctrl = new AbortController();
    await session.execute('print(1)', { signal: ctrl.signal });
    await session.execute('print(2)');
    assert.equal(kernels.length, 1, 'one kernel for the question');
    assert.deepEqual(kernels[0].log, ['bind 1 for the code only', 'run print(1)', 'run print(2)']);
    assert.equal(signals[0], ctrl.signal, "the first cell's signal reaches the acquire");
    assert.ok(session.waitMs >= 0);
    assert.equal(states[0], 'starting');
    await session.dispose();
    assert.deepEqual(released, kernels);
    assert.equal(session.state, 'disposed');
  });

  it('a question that never runs code never takes a kernel', async () => {
    const { session, kernels, released } = lazyWith();
    await session.setInputImages([img], { resize: 'none' });
    await session.dispose();
    assert.equal(kernels.length, 0);
    assert.equal(released.length, 0);
    assert.equal(session.waitMs, 0);
  });

  it('without a preparer (or when it cannot), setInputImages takes the kernel and binds there', async () => {
    for (const extra of [{ prepareImages: undefined }, { prepareImages: async () => undefined }]) {
      const { session, kernels } = lazyWith(extra);
      await session.setInputImages([img, img], { resize: 'none' });
      assert.equal(kernels.length, 1);
      await session.execute('x = 1');
      assert.deepEqual(kernels[0].log, ['bind 2', 'run x = 1'], 'bound once, before the cell');
      await session.dispose();
    }
  });

  it('images set after the kernel was taken go to it directly', async () => {
    const { session, kernels, prepared } = lazyWith();
    await session.execute('a = 1');
    await session.setInputImages([img], { resize: 'none' });
    assert.deepEqual(prepared, []);
    assert.deepEqual(kernels[0].log, ['run a = 1', 'bind 1']);
    await session.dispose();
  });

  it('a kernel that arrives after dispose is given back at once; a failed acquire leaves the session usable', async () => {
    let arrive!: (k: KernelSession) => void;
    const released: KernelSession[] = [];
    const session = new LazyKernelSession({
      python: 'py',
      acquire: () => new Promise((r) => (arrive = r)),
      release: async (k) => void released.push(k),
    });
    const cell = session.execute('x');
    await new Promise((r) => setImmediate(r));
    const disposed = session.dispose();
    const k = new StubKernel();
    arrive(k);
    await assert.rejects(cell, /disposed/);
    await disposed;
    assert.deepEqual(released, [k]);

    let fail = true;
    const flaky = new LazyKernelSession({
      python: 'py',
      acquire: async () => {
        if (fail) throw new Error('no kernel today');
        return new StubKernel();
      },
      release: async () => undefined,
    });
    await assert.rejects(flaky.execute('x'), /no kernel today/);
    assert.equal(flaky.state, 'idle');
    fail = false;
    assert.equal((await flaky.execute('x')).status, 'ok');
    await flaky.dispose();
  });
});
