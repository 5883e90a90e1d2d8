/**
 * Kernel layer benchmarks, each measured side by side with its baseline in the same run:
 *
 *  1. trivial cell round trip (`x = 1`, `1 + 1`) through our kernel (execute_request over
 *     ZeroMQ, prelude semantics, reply + idle) vs the same code exec'd in a plain Python loop
 *     (median, p95, ratio, added ms; goal: at most 1.0 ms added at the median, 2 ms at p95);
 *  2. crop of a 1024x1024 image to 512x512 + PNG encode, shown with Image.show() and returned
 *     to Node as an image, vs plain Python doing the crop + PNG encode (goal: ≤ 1.10×);
 *  3. cold start (start a kernel, run the first cell) vs a pooled acquire + first cell (goal:
 *     the pooled first cell does not wait for a kernel start);
 *  4. sandboxed vs unsandboxed kernels (trivial cell, cold start). Sections 1-3 use the
 *     default: sandboxed where bubblewrap works.
 *  5. a kernel on a Jupyter Server on loopback (core/kernel/remote) vs the local kernel
 *     (unsandboxed, like the server's): trivial cell and crop + PNG (goal: ≤ 2 ms added).
 *  6. with --profile (CODEDANCE_BENCH_PROFILE=1): the parts of a trivial cell vs a bare
 *     ipykernel's execute_request (the floor; goal ≤ 0.3 ms added), in both sandbox modes, and
 *     the parts of the crop + PNG cell (kernelProfile.ts).
 *
 * Rounds alternate baseline and kernel so that machine noise hits both alike.
 * Run alone: `npx tsx bench/kernel.bench.ts` (prints a table and the JSON).
 */
import { execFile } from 'node:child_process';
import { KernelPool, resolvePython, startKernelSession } from '../src/core/kernel';
import { startRemoteKernelSession } from '../src/core/kernel/remote';
import { sandboxStatus } from '../src/core/kernel/sandbox';
import { startJupyterServer } from '../test/fixtures/jupyterServer';
import { profileImageCell, profileKernel } from './kernelProfile';

export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  baseline?: number;
  ratio?: number;
  goal?: string;
  pass?: boolean;
}

const ROUNDS = 5;
const TRIVIAL_PER_ROUND = 200;
const CROP_PER_ROUND = 20;
/**
 * Section 5 judges the difference of two ~31 ms medians: with 5 rounds of the crop (100 cells a
 * side) it moved by ±0.3 ms between runs on 2 cores; 10 rounds halve that spread's variance.
 */
const REMOTE_ROUNDS = 10;
/** `npm run bench -- --profile`: each measure's parts too (kernelProfile.ts) */
const PROFILE = process.env.CODEDANCE_BENCH_PROFILE === '1';

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
  return s[i];
}
const median = (xs: number[]) => quantile(xs, 0.5);
const p95 = (xs: number[]) => quantile(xs, 0.95);
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

/** Python that makes the test image: a smooth gradient with some texture (photo-like PNG cost) */
const MAKE_IMAGE = `
import numpy as np
from PIL import Image
_y, _x = np.mgrid[0:1024, 0:1024]
_rng = np.random.default_rng(0)
_a = np.stack([(_x * 255 // 1023), (_y * 255 // 1023), ((_x + _y) * 127 // 1023)], axis=-1).astype(np.int16)
_a += _rng.integers(-12, 13, size=_a.shape, dtype=np.int16)
bench_img = Image.fromarray(np.clip(_a, 0, 255).astype(np.uint8), "RGB")
`;
const CROP_BOX = '(256, 256, 768, 768)';

/** Runs `code` N times in a fresh plain Python process; returns per-iteration ms. */
function pythonLoop(python: string, setup: string, code: string, n: number): Promise<number[]> {
  const script = `
import json, time, io, base64
ns = {}
exec(compile(${JSON.stringify(setup)}, "<setup>", "exec"), ns)
code = compile(${JSON.stringify(code)}, "<bench>", "exec")
for _ in range(5):
    exec(code, ns)
out = []
for _ in range(${n}):
    t = time.perf_counter()
    exec(code, ns)
    out.append((time.perf_counter() - t) * 1000)
print(json.dumps(out))
`;
  return new Promise((resolve, reject) => {
    execFile(python, ['-c', script], { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${err.message}\n${stderr}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop()!) as number[]);
    });
  });
}

export async function run(): Promise<BenchResult[]> {
  const py = await resolvePython();
  const python = py.python;
  const results: BenchResult[] = [];

  // ---------------------------------------------------------------------------------------
  // 1. trivial cell round trip
  // ---------------------------------------------------------------------------------------
  const kernel = await startKernelSession({ python });
  try {
    for (const code of ['x = 1', '1 + 1']) {
      const ours: number[] = [];
      const base: number[] = [];
      for (let i = 0; i < 20; i++) await kernel.execute(code); // warm-up
      for (let r = 0; r < ROUNDS; r++) {
        base.push(...(await pythonLoop(python, '', code, TRIVIAL_PER_ROUND)));
        for (let i = 0; i < TRIVIAL_PER_ROUND; i++) {
          const t0 = performance.now();
          const res = await kernel.execute(code);
          ours.push(performance.now() - t0);
          if (res.status !== 'ok') throw new Error(`bench cell failed: ${JSON.stringify(res.error)}`);
        }
      }
      const tag = code === 'x = 1' ? 'assign' : 'expr';
      const added = median(ours) - median(base);
      const addedP95 = p95(ours) - p95(base);
      results.push(
        { name: `kernel.trivial_cell.${tag}.median`, value: round(median(ours)), unit: 'ms', baseline: round(median(base), 4), ratio: round(median(ours) / median(base), 1), goal: '≤ 1.0 ms added over in-process exec', pass: added <= 1 },
        { name: `kernel.trivial_cell.${tag}.p95`, value: round(p95(ours)), unit: 'ms', baseline: round(p95(base), 4), ratio: round(p95(ours) / p95(base), 1), goal: '≤ 2 ms added over in-process exec', pass: addedP95 <= 2 },
        { name: `kernel.trivial_cell.${tag}.added_median`, value: round(added), unit: 'ms' },
        { name: `kernel.trivial_cell.${tag}.added_p95`, value: round(addedP95), unit: 'ms' },
      );
    }

    // -------------------------------------------------------------------------------------
    // 2. crop + PNG encode round trip
    // -------------------------------------------------------------------------------------
    await kernel.execute(MAKE_IMAGE.replace(/^\n/, ''), { timeoutMs: 60000 });
    const cropCell = `bench_img.crop(${CROP_BOX}).show()`;
    const cropRaw = `c = bench_img.crop(${CROP_BOX})\nb = io.BytesIO()\nc.save(b, format="PNG")\ndata = b.getvalue()`;
    const ours: number[] = [];
    const base: number[] = [];
    for (let i = 0; i < 3; i++) await kernel.execute(cropCell);
    for (let r = 0; r < ROUNDS; r++) {
      base.push(...(await pythonLoop(python, `import io\n${MAKE_IMAGE}`, cropRaw, CROP_PER_ROUND)));
      for (let i = 0; i < CROP_PER_ROUND; i++) {
        const t0 = performance.now();
        const res = await kernel.execute(cropCell);
        ours.push(performance.now() - t0);
        if (res.images.length !== 1 || res.images[0].width !== 512) throw new Error(`bench crop failed: ${JSON.stringify({ ...res, images: res.images.length })}`);
      }
    }
    results.push(
      { name: 'kernel.crop_png_1024.median', value: round(median(ours), 2), unit: 'ms', baseline: round(median(base), 2), ratio: round(median(ours) / median(base), 3), goal: '≤ 1.10× plain Python crop + PNG encode', pass: median(ours) / median(base) <= 1.1 },
      { name: 'kernel.crop_png_1024.p95', value: round(p95(ours), 2), unit: 'ms', baseline: round(p95(base), 2), ratio: round(p95(ours) / p95(base), 3) },
      { name: 'kernel.crop_png_1024.added_median', value: round(median(ours) - median(base), 2), unit: 'ms' },
    );
    if (PROFILE) results.push(...(await profileImageCell(kernel, cropCell, 40)));
  } finally {
    await kernel.dispose();
  }

  // ---------------------------------------------------------------------------------------
  // 3. cold start vs pooled acquire
  // ---------------------------------------------------------------------------------------
  const cold: number[] = [];
  const coldStart: number[] = [];
  const pooledAcquire: number[] = [];
  const pooledFirst: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    const s = await startKernelSession({ python });
    coldStart.push(performance.now() - t0);
    await s.execute('x = 1');
    cold.push(performance.now() - t0);
    await s.dispose();

    const pool = new KernelPool({ python, size: 1 });
    try {
      await pool.warm();
      const t1 = performance.now();
      const k = await pool.acquire();
      pooledAcquire.push(performance.now() - t1);
      await k.execute('x = 1');
      pooledFirst.push(performance.now() - t1);
      await k.dispose();
    } finally {
      await pool.dispose();
    }
  }
  const coldMed = median(cold);
  const pooledMed = median(pooledFirst);
  results.push(
    { name: 'kernel.cold_start.kernel_ready', value: round(median(coldStart), 1), unit: 'ms' },
    { name: 'kernel.cold_start.first_cell', value: round(coldMed, 1), unit: 'ms' },
    { name: 'kernel.pooled.acquire', value: round(median(pooledAcquire), 3), unit: 'ms', goal: 'instant when warm (< 5 ms)', pass: median(pooledAcquire) < 5 },
    {
      name: 'kernel.pooled.first_cell',
      value: round(pooledMed, 2),
      unit: 'ms',
      baseline: round(coldMed, 1),
      ratio: round(pooledMed / coldMed, 4),
      goal: 'the pooled first cell does not wait for a start (< 10% of a cold start)',
      pass: pooledMed < 0.1 * coldMed,
    },
  );
  results.push(...(await recycleCost(python, coldMed)));
  results.push(...(await sandboxSideBySide(python)));
  results.push(...(await remoteSideBySide(python)));
  if (PROFILE) results.push(...(await profileKernel(python)));
  return results;
}

/**
 * 3b. what giving a kernel to the next question costs (session.recycle(): namespace emptied,
 * figures closed, rc defaults, a new working folder; what KernelPool.release does between eval
 * samples) after a cell that leaves an array, a figure and a file behind, vs a cold start.
 */
async function recycleCost(python: string, coldMs: number): Promise<BenchResult[]> {
  const k = await startKernelSession({ python });
  try {
    const dirty = 'import numpy as np\nimport matplotlib.pyplot as plt\na = np.zeros((512, 512, 3))\nplt.figure(); plt.plot([1, 2])\nopen("out.txt", "w").write("x" * 1000)';
    const t: number[] = [];
    for (let i = 0; i < 13; i++) {
      await k.execute(dirty);
      const t0 = performance.now();
      await k.recycle();
      if (i >= 3) t.push(performance.now() - t0);
    }
    return [{ name: 'kernel.recycle (next question, same process)', value: round(median(t), 2), unit: 'ms', baseline: round(coldMs, 1), ratio: round(median(t) / coldMs, 4) }];
  } finally {
    await k.dispose();
  }
}

/**
 * 4. the bubblewrap sandbox (sandbox.ts) vs the same kernel unsandboxed, alternating rounds:
 * trivial cell latency (ipc vs tcp sockets, the namespaces) and cold start (bwrap setup). Skipped
 * where the sandbox is unavailable (the other sections then ran unsandboxed).
 */
export async function sandboxSideBySide(python: string): Promise<BenchResult[]> {
  if (!sandboxStatus().available) return [{ name: 'kernel.sandbox.available', value: 0, unit: 'bool', goal: `sandbox unavailable: ${sandboxStatus().reason}` }];
  const cells: Record<'on' | 'off', number[]> = { on: [], off: [] };
  const ready: Record<'on' | 'off', number[]> = { on: [], off: [] };
  const first: Record<'on' | 'off', number[]> = { on: [], off: [] };
  for (let r = 0; r < 3; r++) {
    for (const mode of ['on', 'off'] as const) {
      const t0 = performance.now();
      const s = await startKernelSession({ python, sandbox: mode });
      ready[mode].push(performance.now() - t0);
      try {
        await s.execute('x = 1');
        first[mode].push(performance.now() - t0);
        for (let i = 0; i < 20; i++) await s.execute('x = 1');
        for (let i = 0; i < TRIVIAL_PER_ROUND / 2; i++) {
          const t1 = performance.now();
          await s.execute('x = 1');
          cells[mode].push(performance.now() - t1);
        }
      } finally {
        await s.dispose();
      }
    }
  }
  const row = (name: string, xs: Record<'on' | 'off', number[]>, d: number, goal?: string, pass?: boolean): BenchResult => ({
    name,
    value: round(median(xs.on), d),
    unit: 'ms',
    baseline: round(median(xs.off), d),
    ratio: round(median(xs.on) / median(xs.off), 3),
    ...(goal ? { goal, pass } : {}),
  });
  const addedCell = median(cells.on) - median(cells.off);
  const addedStart = median(first.on) - median(first.off);
  return [
    row('kernel.sandbox.trivial_cell.median', cells, 3, '≤ 0.5 ms added by the sandbox', addedCell <= 0.5),
    row('kernel.sandbox.trivial_cell.p95', { on: [p95(cells.on)], off: [p95(cells.off)] }, 3),
    row('kernel.sandbox.cold_start.kernel_ready', ready, 1),
    row('kernel.sandbox.cold_start.first_cell', first, 1, '≤ 500 ms added by the sandbox', addedStart <= 500),
  ];
}

/**
 * 5. the remote backend: the same cells through a kernel on a real Jupyter Server on loopback
 * (test/fixtures/jupyterServer.ts) and through a local kernel, alternating rounds.
 */
export async function remoteSideBySide(python: string): Promise<BenchResult[]> {
  const srv = await startJupyterServer({ maxSeconds: 600 });
  const local = await startKernelSession({ python, sandbox: 'off' });
  const remote = await startRemoteKernelSession({ url: srv.url, token: srv.token });
  try {
    const out: BenchResult[] = [];
    const cropCell = `bench_img.crop(${CROP_BOX}).show()`;
    for (const k of [local, remote]) await k.execute(MAKE_IMAGE.replace(/^\n/, ''), { timeoutMs: 60000 });
    for (const [tag, code, n] of [['trivial_cell', 'x = 1', TRIVIAL_PER_ROUND / 2], ['crop_png_1024', cropCell, CROP_PER_ROUND]] as const) {
      const t: Record<'local' | 'remote', number[]> = { local: [], remote: [] };
      for (const k of [local, remote]) for (let i = 0; i < 10; i++) await k.execute(code);
      for (let r = 0; r < REMOTE_ROUNDS; r++) {
        for (const [name, k] of [['local', local], ['remote', remote]] as const) {
          for (let i = 0; i < n; i++) {
            const t0 = performance.now();
            const res = await k.execute(code);
            t[name].push(performance.now() - t0);
            if (res.status !== 'ok' || (tag === 'crop_png_1024' && res.images.length !== 1)) throw new Error(`bench cell failed (${name}): ${JSON.stringify(res.error)}`);
          }
        }
      }
      const added = median(t.remote) - median(t.local);
      out.push(
        { name: `kernel.remote.${tag}.median`, value: round(median(t.remote), 3), unit: 'ms', baseline: round(median(t.local), 3), ratio: round(median(t.remote) / median(t.local), 2), goal: '≤ 2 ms added over the local kernel (loopback)', pass: added <= 2 },
        { name: `kernel.remote.${tag}.p95`, value: round(p95(t.remote), 3), unit: 'ms', baseline: round(p95(t.local), 3), ratio: round(p95(t.remote) / p95(t.local), 2) },
      );
    }
    return out;
  } finally {
    await Promise.all([local.dispose(), remote.dispose()]);
    await srv.stop();
  }
}

if (require.main === module) {
  run().then(
    (rs) => {
      for (const r of rs) {
        const extra = [r.baseline !== undefined ? `baseline ${r.baseline} ${r.unit}` : '', r.ratio !== undefined ? `${r.ratio}×` : '', r.goal ? `goal ${r.goal}: ${r.pass ? 'PASS' : 'FAIL'}` : ''].filter(Boolean).join(', ');
        console.log(`${r.name.padEnd(40)} ${String(r.value).padStart(10)} ${r.unit}  ${extra}`);
      }
      console.log(JSON.stringify(rs));
    },
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
