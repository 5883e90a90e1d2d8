/**
 * Kernel starts after the first (issue #26): the start of the 2nd…Nth kernel, started one after
 * another, and the memory each added kernel takes (USS of its sandbox's processes), for today's
 * pool (a new sandboxed `python -m ipykernel_launcher` per kernel) vs the forked-kernel prototype
 * (forkKernels.ts: one template forks each kernel into a sandbox of its own), in the same run.
 * The same probe runs in one kernel of each: what it can see and do must be the same (the
 * sandbox's isolation), else the bench fails. N: CODEDANCE_BENCH_KERNEL_STARTS (default 32).
 */
import { createServer } from 'node:net';
import { forkedStarts } from './forkKernels';
import { median, poolStarts } from './kernelMeasure';
import type { BenchResult } from './kernel.bench';

const round = (x: number, d = 1) => Number(x.toFixed(d));
const ordinal = (n: number) =>
  `${n}${n % 10 === 1 && n % 100 !== 11 ? 'st' : n % 10 === 2 && n % 100 !== 12 ? 'nd' : n % 10 === 3 && n % 100 !== 13 ? 'rd' : 'th'}`;

/** the probe's findings that differ between the two kernels (pids and folder names aside) */
function probeDifferences(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  const same = (k: string) => (k === '/tmp' ? true : JSON.stringify(a[k]) === JSON.stringify(b[k]));
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => !same(k));
}

export async function kernelStartsSideBySide(python: string): Promise<BenchResult[]> {
  const n = Math.max(2, Number(process.env.CODEDANCE_BENCH_KERNEL_STARTS ?? 32));
  // a port on the host's loopback that a sandboxed kernel must not reach
  const server = createServer((s) => s.end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  const probe = { other: (dirs: string[]) => dirs[0], port };
  try {
    const pool = await poolStarts(python, n, probe);
    const fork = await forkedStarts(python, n, probe);
    const later = (xs: number[]) => xs.slice(1);
    const poolMs = median(later(pool.ms));
    const forkMs = median(later(fork.ms));
    const poolUss = median(later(pool.ussMb));
    const forkUss = median(later(fork.ussMb));
    const diff = pool.probe && fork.probe ? probeDifferences(pool.probe, fork.probe) : ['no probe ran'];
    const allOwn = fork.inOwnCgroup.every(Boolean);
    const isolated =
      fork.probe?.["sees another kernel's folder"] === false &&
      fork.probe?.["reaches the host's 127.0.0.1"] === false &&
      fork.probe?.['can make a user namespace'] === false;
    if (!isolated || !allOwn)
      throw new Error(
        `the forked kernel is not sandboxed as a pool kernel is: ${JSON.stringify({ probe: fork.probe, inOwnCgroup: fork.inOwnCgroup })}`,
      );
    const phase = (k: 'plan' | 'holder' | 'fork' | 'ready') => round(median(later(fork.phases.map((p) => p[k]))));
    return [
      {
        name: `kernel.start.2nd_to_${ordinal(n)}.median: today's pool (a new sandboxed kernel process each, started one after another)`,
        value: round(poolMs),
        unit: 'ms',
        goal: '≤ 100 ms (issue #26)',
        pass: poolMs <= 100,
      },
      {
        name: `kernel.start.2nd_to_${ordinal(n)}.median: forked-kernel prototype (bench only; same sandbox) vs today's pool`,
        value: round(forkMs),
        unit: 'ms',
        baseline: round(poolMs),
        ratio: round(forkMs / poolMs, 3),
      },
      {
        name: `kernel.start.forked.parts (median ms: launch plan ${phase('plan')}, holder sandbox ${phase('holder')}, fork ${phase('fork')}, kernel_info + prelude ${phase('ready')}); template start`,
        value: round(fork.templateMs),
        unit: 'ms',
      },
      {
        name: `kernel.start.cpu_per_kernel.median: forked-kernel prototype vs today's pool (CPU time of the kernel's processes to start)`,
        value: round(median(later(fork.cpuMs))),
        unit: 'ms',
        baseline: round(median(later(pool.cpuMs))),
        ratio: round(median(later(fork.cpuMs)) / median(later(pool.cpuMs)), 3),
      },
      {
        name: `kernel.uss_per_added_kernel.median: today's pool (kernels 2…${n})`,
        value: round(poolUss),
        unit: 'MB',
        goal: '≤ 50 MB (issue #26)',
        pass: poolUss <= 50,
      },
      {
        name: `kernel.uss_per_added_kernel.median: forked-kernel prototype vs today's pool (template itself: ${round(fork.templateUssMb)} MB once)`,
        value: round(forkUss),
        unit: 'MB',
        baseline: round(poolUss),
        ratio: round(forkUss / poolUss, 3),
      },
      {
        name: `kernel.forked.isolation: what a forked kernel can see and do vs a pool kernel (same probe; differing: ${diff.join(', ') || 'nothing'})`,
        value: diff.length,
        unit: 'differences',
        goal: 'none',
        pass: diff.length === 0,
      },
    ];
  } finally {
    server.close();
  }
}
