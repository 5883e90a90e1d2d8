/**
 * No kernel outlives the CLI: `codedance ask` (the built dist/cli.js, the fixture model) runs a
 * cell that holds Python's GIL in C code (`sum(range(10**13))`), so the prelude's watchdog
 * thread cannot run; the CLI is then SIGKILLed. The kernel must be gone within 2 s, sandboxed
 * (bwrap --die-with-parent) and unsandboxed (PR_SET_PDEATHSIG set by the launcher). SIGTERM is
 * handled like Ctrl+C: the CLI stops the cell, shuts the kernel down and exits 130.
 */
import { strict as assert } from 'node:assert';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sandboxStatus } from '../../../src/core/kernel/sandbox';
import { startFixtureModel, type FixtureModel } from '../../fixtures/fixtureModel';
import { circlesImage } from '../../fixtures/images';

const ROOT = path.resolve(__dirname, '../../..');
const CLI = path.join(ROOT, 'dist/cli.js');
const PYTHON = process.env.CODEDANCE_TEST_PYTHON ?? '/usr/bin/python3';
const BURN = 'Run this.\n```python\nsum(range(10**13))\nprint("done")\n```';

/** pids of the live (not zombie) ipykernel processes among `of` (bwrap's command line names it too) */
function kernelPids(of: Iterable<number>): number[] {
  const want = new Set(of);
  const r = spawnSync('ps', ['-eo', 'pid=,stat=,args='], { encoding: 'utf8' });
  return (
    r.stdout
      .split('\n')
      // a kernel started anew, or forked from the template (kernel/forkTemplate.ts), or the template
      .filter((l) => /ipykernel_launcher|codedance-kernel-template/.test(l) && !/\bps\b/.test(l))
      .map((l) => l.trim().split(/\s+/))
      .filter(([pid, stat]) => !stat.startsWith('Z') && want.has(Number(pid)))
      .map(([pid]) => Number(pid))
  );
}

/** every process below `root` (children, grandchildren…), from /proc */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const n of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = readFileSync(`/proc/${n}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(n)]);
    } catch {
      /* gone */
    }
  }
  const out: number[] = [];
  const walk = (p: number) => (children.get(p) ?? []).forEach((c) => (out.push(c), walk(c)));
  walk(root);
  return out;
}

/** CPU seconds a process has used (utime + stime) */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

describe('no orphaned kernels when the CLI is killed mid-cell', function () {
  this.timeout(120000);
  let tmp: string;
  let image: string;
  let fm: FixtureModel;
  let child: ChildProcess | undefined;

  before(function () {
    if (process.platform !== 'linux') this.skip();
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'node scripts/build.mjs' first (npm test does it)`);
    tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-orphans-'));
    image = path.join(tmp, 'circles.png');
    writeFileSync(image, circlesImage({ red: 2, seed: 3 }).png);
  });
  beforeEach(async () => (fm = await startFixtureModel()));
  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await fm.close();
  });
  after(() => tmp && rmSync(tmp, { recursive: true, force: true }));

  /** starts `ask` with the burning cell; resolves once the new kernel is busy burning CPU */
  async function startBurning(extra: string[]): Promise<{ kernels: number[]; stderr: () => string; exited: Promise<number | null> }> {
    let stderr = '';
    child = spawn(
      process.execPath,
      [
        CLI,
        'ask',
        image,
        BURN,
        '--base-url',
        fm.baseUrl,
        '--python',
        PYTHON,
        '--timeout',
        '600',
        '--out',
        path.join(tmp, `out-${Date.now()}`),
        ...extra,
      ],
      {
        cwd: ROOT,
        env: { ...process.env, CODEDANCE_BASE_URL: undefined, OPENAI_API_KEY: undefined, CODEDANCE_API_KEY: undefined },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    child.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    await until(() => fm.chatRequests.length >= 1, 60000, 'the first model request');
    let kernels: number[] = [];
    // the CLI's own kernel processes (bwrap, its init, the interpreter), one of them burning
    await until(
      () => {
        kernels = kernelPids(descendants(child!.pid!));
        return kernels.some((p) => cpuSeconds(p) > 1);
      },
      60000,
      `a busy kernel (stderr so far: ${stderr})`,
    );
    return { kernels, stderr: () => stderr, exited };
  }

  const modes: [string, string[]][] = [
    ['sandboxed', []],
    ['unsandboxed', ['--no-sandbox']],
  ];
  for (const [name, flags] of modes) {
    it(`SIGKILL: no kernel after 2 s (${name})`, async function () {
      if (name === 'sandboxed' && !sandboxStatus().available) this.skip();
      const { kernels, exited, stderr } = await startBurning(flags);
      assert.ok(kernels.length > 0);
      // the CLI says plainly where cells run
      assert.match(
        stderr(),
        name === 'sandboxed'
          ? /^sandbox: Python cells run in a bubblewrap sandbox/m
          : /^sandbox: Python cells run UNSANDBOXED \(sandbox turned off\)/m,
      );
      child!.kill('SIGKILL');
      await exited;
      await sleep(2000);
      const left = kernelPids(kernels);
      assert.deepEqual(left, [], `kernel process(es) still running 2 s after the CLI was killed: ${left.join(', ')}`);
    });
  }

  it('SIGTERM is handled like Ctrl+C: the cell is stopped, the kernel shut down, exit 130', async () => {
    const { kernels, stderr, exited } = await startBurning([]);
    // the kernel is restarted after the interrupt (the cell held the GIL): its processes too
    const all = new Set(kernels);
    const watch = setInterval(() => descendants(child!.pid!).forEach((p) => all.add(p)), 20);
    child!.kill('SIGTERM');
    let deadline: NodeJS.Timeout | undefined;
    const code = await Promise.race([exited, new Promise((r) => (deadline = setTimeout(() => r('still running'), 30000)))]);
    clearTimeout(deadline);
    clearInterval(watch);
    assert.equal(code, 130, stderr());
    assert.match(stderr(), /interrupting/);
    // one started after the interrupt may still be on its way out when the CLI exits
    await until(() => kernelPids(all).length === 0, 2000, 'no kernel 2 s after the CLI exited');
  });
});
