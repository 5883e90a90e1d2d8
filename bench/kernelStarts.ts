/**
 * Kernel starts after the first (issue #26): the start of the 2nd…Nth kernel, started one after
 * another, and the memory each added kernel takes (USS of its sandbox's processes, its waiter
 * included), for the pool's forked kernels (the default: kernel/forkTemplate.ts, one template
 * forks each kernel into a sandbox of its own) vs each kernel a new sandboxed
 * `python -m ipykernel_launcher` (forkedStarts: false, round 2's pool), in the same run.
 * The same probe runs in one kernel of each: what it can see and do must be the same (the
 * sandbox's isolation), else the bench fails. N: CODEDANCE_BENCH_KERNEL_STARTS (default 32).
 */
import { createServer } from 'node:net';
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
    const pool = await poolStarts(python, n, false, probe);
    const fork = await poolStarts(python, n, true, probe);
    const later = (xs: number[]) => xs.slice(1);
    const poolMs = median(later(pool.ms));
    const forkMs = median(later(fork.ms));
    const poolUss = median(later(pool.ussMb));
    const forkUss = median(later(fork.ussMb));
    const diff = pool.probe && fork.probe ? probeDifferences(pool.probe, fork.probe) : ['no probe ran'];
    const isolated =
      fork.probe?.["sees another kernel's folder"] === false &&
      fork.probe?.["reaches the host's 127.0.0.1"] === false &&
      fork.probe?.['can make a user namespace'] === false;
    if (!isolated) throw new Error(`the forked kernel is not sandboxed as a new kernel is: ${JSON.stringify({ probe: fork.probe })}`);
    const cpuFork = median(later(fork.cpuMs));
    const cpuCold = median(later(pool.cpuMs));
    return [
      {
        name: `kernel.start.2nd_to_${ordinal(n)}.median: forked from the template (the pool's default) vs a new sandboxed interpreter each (forkedStarts: false)`,
        value: round(forkMs),
        unit: 'ms',
        baseline: round(poolMs),
        ratio: round(forkMs / poolMs, 3),
        goal: '≤ 100 ms (issue #26)',
        pass: forkMs <= 100,
      },
      {
        name: `kernel.start.cpu_per_kernel.median: forked vs a new interpreter each (CPU time of the kernel's processes to start, its share of the template's forks included)`,
        value: round(cpuFork),
        unit: 'ms',
        baseline: round(cpuCold),
        ratio: round(cpuFork / cpuCold, 3),
      },
      {
        name: `kernel.uss_per_added_kernel.median (kernels 2…${n}): forked vs a new interpreter each (the template itself: ${round(fork.templateUssMb ?? NaN)} MB once)`,
        value: round(forkUss),
        unit: 'MB',
        baseline: round(poolUss),
        ratio: round(forkUss / poolUss, 3),
        goal: '≤ 50 MB (issue #26)',
        pass: forkUss <= 50,
      },
      {
        name: `kernel.forked.isolation: what a forked kernel can see and do vs a new one (same probe; differing: ${diff.join(', ') || 'nothing'})`,
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
