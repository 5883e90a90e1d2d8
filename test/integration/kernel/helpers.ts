/**
 * Shared helpers for the real-kernel integration tests: the interpreter (Debian's
 * /usr/bin/python3 has ipykernel, Pillow, numpy, matplotlib; override with
 * CODEDANCE_TEST_PYTHON), session bookkeeping so that every test leaves no kernel behind.
 * The suites run against each backend of BACKENDS: the local kernel, and a kernel on a real
 * Jupyter Server (test/fixtures/jupyterServer.ts, started once, stopped after the run).
 */
import { execFileSync } from 'node:child_process';
import { startKernelSession } from '../../../src/core/kernel';
import { type RemoteKernelSession, startRemoteKernelSession } from '../../../src/core/kernel/remote';
import type { JupyterKernelSession } from '../../../src/core/kernel/session';
import type { KernelSessionOptions, OutputImage } from '../../../src/core/kernel/types';
import { encodePng, Raster } from '../../fixtures/images';
import { type JupyterServerFixture, startJupyterServer } from '../../fixtures/jupyterServer';

export const PYTHON = process.env.CODEDANCE_TEST_PYTHON ?? '/usr/bin/python3';

export type Backend = 'local' | 'remote';
/** where the kernel suites run: both by default; CODEDANCE_TEST_BACKENDS=local (or remote) for one */
export const BACKENDS = (process.env.CODEDANCE_TEST_BACKENDS ?? 'local,remote').split(',').map((b) => b.trim()) as Backend[];
export type TestKernel = JupyterKernelSession | RemoteKernelSession;
/** the suite title's backend part */
export const backendTitle = (b: Backend) => (b === 'local' ? 'real ipykernel' : 'real ipykernel on a Jupyter Server');

let server: Promise<JupyterServerFixture> | undefined;
/** one real Jupyter Server for the whole run (started at the first remote session) */
export function sharedJupyterServer(): Promise<JupyterServerFixture> {
  return (server ??= startJupyterServer());
}
if (typeof after === 'function') {
  // a root hook: after every file of the run
  after(async () => {
    const s = await server?.catch(() => undefined);
    server = undefined;
    await s?.stop();
  });
}

const open = new Set<TestKernel>();

export function newSession(opts?: Partial<KernelSessionOptions>): Promise<JupyterKernelSession>;
export function newSession(opts: Partial<KernelSessionOptions>, backend: Backend): Promise<TestKernel>;
export async function newSession(opts: Partial<KernelSessionOptions> = {}, backend: Backend = 'local'): Promise<TestKernel> {
  let s: TestKernel;
  if (backend === 'remote') {
    const srv = await sharedJupyterServer();
    s = await startRemoteKernelSession({ url: srv.url, token: srv.token, ...opts });
  } else {
    s = await startKernelSession({ python: PYTHON, ...opts });
  }
  open.add(s);
  return s;
}

export async function disposeAll(): Promise<void> {
  await Promise.all([...open].map((s) => s.dispose()));
  open.clear();
}

export function processAlive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // a zombie still answers kill(0): look at its state
  try {
    const stat = execFileSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).trim();
    return stat !== '' && !stat.startsWith('Z');
  } catch {
    return false;
  }
}

export async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Whether the session's kernel uses fast path `name` (src/core/kernel/fastPaths.ts). The suite also
 * runs with every fast path off (CODEDANCE_KERNEL_FAST_PATHS=0): a test of a fast path's own
 * mechanism is skipped there, every other assertion holds on both paths.
 */
export function fastPathOn(k: TestKernel, name: string): boolean {
  return k.fastPaths?.on.includes(name) ?? false;
}

/** width/height of a PNG or JPEG from its bytes */
export function imageSize(img: OutputImage): { width: number; height: number } {
  const b = Buffer.from(img.data, 'base64');
  if (b.readUInt32BE(0) === 0x89504e47) return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
  // JPEG: walk the markers to the SOFn segment
  let i = 2;
  while (i < b.length) {
    if (b[i] !== 0xff) throw new Error('bad JPEG');
    const marker = b[i + 1];
    const len = b.readUInt16BE(i + 2);
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: b.readUInt16BE(i + 5), width: b.readUInt16BE(i + 7) };
    }
    i += 2 + len;
  }
  throw new Error('no SOF in JPEG');
}

/** a PNG of the given size, a horizontal gradient with a red square, as bytes */
export function testPng(width: number, height: number): Buffer {
  const r = new Raster(width, height, [255, 255, 255]);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) r.set(x, y, [Math.floor((x * 255) / Math.max(1, width - 1)), 128, 64]);
  for (let y = 0; y < Math.min(10, height); y++) for (let x = 0; x < Math.min(10, width); x++) r.set(x, y, [255, 0, 0]);
  return encodePng(width, height, r.data);
}
