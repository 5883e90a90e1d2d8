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
 *  6. the kernel's fast paths (core/kernel/fastPaths.ts) on vs off (the plain path, as where
 *     they were not tested or CODEDANCE_KERNEL_FAST_PATHS=0): trivial cell and crop + PNG, the
 *     cost of the plain path as a number.
 *  7. with --profile (CODEDANCE_BENCH_PROFILE=1): the parts of a trivial cell vs a bare
 *     ipykernel's execute_request (the floor; goal ≤ 0.3 ms added), in both sandbox modes, and
 *     the parts of the crop + PNG cell (kernelProfile.ts).
 *  8. the start of the 2nd…32nd kernel and the memory each adds (USS), a new interpreter each vs the
 *     pool's forked kernels (kernelStarts.ts; kernel/forkTemplate.ts; issue #26).
 * Sections 4-6 and what the sections share (rounds, statistics, the test image) are in
 * kernelSections.ts.
 *
 * Rounds alternate baseline and kernel so that machine noise hits both alike.
 * Run alone: `node --require ./scripts/registerTs.cjs bench/kernel.bench.ts` (prints a table and the JSON).
 */
import { execFile } from 'node:child_process';
import { KernelPool, resolvePython, startKernelSession } from '../src/core/kernel';
import { profileImageCell, profileKernel } from './kernelProfile';
import {
  CROP_BOX,
  CROP_PER_ROUND,
  fastPathsSideBySide,
  MAKE_IMAGE,
  median,
  p95,
  remoteSideBySide,
  round,
  ROUNDS,
  sandboxSideBySide,
  TRIVIAL_PER_ROUND,
} from './kernelSections';
import { kernelStartsSideBySide } from './kernelStarts';

export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  baseline?: number;
  ratio?: number;
  goal?: string;
  pass?: boolean;
}

/** `npm run bench -- --profile`: each measure's parts too (kernelProfile.ts) */
const PROFILE = process.env.CODEDANCE_BENCH_PROFILE === '1';

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
        {
          name: `kernel.trivial_cell.${tag}.median`,
          value: round(median(ours)),
          unit: 'ms',
          baseline: round(median(base), 4),
          ratio: round(median(ours) / median(base), 1),
          goal: '≤ 1.0 ms added over in-process exec',
          pass: added <= 1,
        },
        {
          name: `kernel.trivial_cell.${tag}.p95`,
          value: round(p95(ours)),
          unit: 'ms',
          baseline: round(p95(base), 4),
          ratio: round(p95(ours) / p95(base), 1),
          goal: '≤ 2 ms added over in-process exec',
          pass: addedP95 <= 2,
        },
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
        if (res.images.length !== 1 || res.images[0].width !== 512)
          throw new Error(`bench crop failed: ${JSON.stringify({ ...res, images: res.images.length })}`);
      }
    }
    results.push(
      {
        name: 'kernel.crop_png_1024.median',
        value: round(median(ours), 2),
        unit: 'ms',
        baseline: round(median(base), 2),
        ratio: round(median(ours) / median(base), 3),
        goal: '≤ 1.10× plain Python crop + PNG encode',
        pass: median(ours) / median(base) <= 1.1,
      },
      {
        name: 'kernel.crop_png_1024.p95',
        value: round(p95(ours), 2),
        unit: 'ms',
        baseline: round(p95(base), 2),
        ratio: round(p95(ours) / p95(base), 3),
      },
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
  const forkedFirst: number[] = [];
  const pooledAcquire: number[] = [];
  const pooledFirst: number[] = [];
  for (let r = 0; r < 3; r++) {
    // cold: a new interpreter (what a start costs without the template); forked: the default once the template is up
    const t0 = performance.now();
    const s = await startKernelSession({ python, forkedStarts: false });
    coldStart.push(performance.now() - t0);
    await s.execute('x = 1');
    cold.push(performance.now() - t0);
    await s.dispose();
    const tf = performance.now();
    const f = await startKernelSession({ python });
    await f.execute('x = 1');
    if (r > 0) forkedFirst.push(performance.now() - tf);
    await f.dispose();

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
    { name: 'kernel.cold_start.kernel_ready (a new interpreter)', value: round(median(coldStart), 1), unit: 'ms' },
    { name: 'kernel.cold_start.first_cell (a new interpreter)', value: round(coldMed, 1), unit: 'ms' },
    {
      name: 'kernel.forked_start.first_cell (forked from the template, the default) vs a new interpreter',
      value: round(median(forkedFirst), 1),
      unit: 'ms',
      baseline: round(coldMed, 1),
      ratio: round(median(forkedFirst) / coldMed, 3),
    },
    {
      name: 'kernel.pooled.acquire',
      value: round(median(pooledAcquire), 3),
      unit: 'ms',
      goal: 'instant when warm (< 5 ms)',
      pass: median(pooledAcquire) < 5,
    },
    {
      name: 'kernel.pooled.first_cell vs a cold start (a new interpreter)',
      value: round(pooledMed, 2),
      unit: 'ms',
      baseline: round(coldMed, 1),
      ratio: round(pooledMed / coldMed, 4),
      goal: 'the pooled first cell does not wait for a start (< 10% of a cold start)',
      pass: pooledMed < 0.1 * coldMed,
    },
  );
  results.push(...(await sandboxSideBySide(python)));
  results.push(...(await kernelStartsSideBySide(python)));
  results.push(...(await remoteSideBySide(python)));
  results.push(...(await fastPathsSideBySide(python)));
  if (PROFILE) results.push(...(await profileKernel(python)));
  return results;
}

if (require.main === module) {
  run().then(
    (rs) => {
      for (const r of rs) {
        const extra = [
          r.baseline !== undefined ? `baseline ${r.baseline} ${r.unit}` : '',
          r.ratio !== undefined ? `${r.ratio}×` : '',
          r.goal ? `goal ${r.goal}: ${r.pass ? 'PASS' : 'FAIL'}` : '',
        ]
          .filter(Boolean)
          .join(', ');
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
