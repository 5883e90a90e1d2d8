/**
 * `data verify`'s image hasher decodes images that dataset code made (with Pillow), so it runs
 * like a kernel: launched through the kernel's plan (sandbox.ts), in the bubblewrap sandbox
 * where it works and with the allow-listed environment in every mode. A secret in CodeDance's
 * own environment is in none of its processes' environments (read from /proc/<pid>/environ of
 * the whole process tree); sandboxed, its Python is in a PID namespace of its own. Before, it
 * was spawned unsandboxed with the whole process.env.
 */
import { strict as assert } from 'node:assert';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { sandboxStatus } from '../../../src/core/kernel/sandbox';
import { ImageHasher } from '../../../src/core/training-data/imageHash';
import { encodePng } from '../../fixtures/images';

const PYTHON = process.env.CODEDANCE_TEST_PYTHON ?? '/usr/bin/python3';
const SECRET = `hunter2-${Math.random().toString(36).slice(2)}`;

/** `pid` and every process below it (Linux /proc) */
function processTree(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      // "pid (comm) state ppid …": comm may hold spaces and parentheses
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* gone */
    }
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) for (const [p, pp] of parent) if (pp === tree[i]) tree.push(p);
  return tree;
}

const environ = (pid: number) => readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').filter(Boolean);
const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8');

describe('data verify: the image hasher runs sandboxed, with the allow-listed environment', function () {
  this.timeout(60_000);
  const png = encodePng(
    20,
    10,
    new Uint8Array(20 * 10 * 3).map((_, i) => (i * 7) % 256),
  );
  before(function () {
    if (process.platform !== 'linux') this.skip();
    process.env.CODEDANCE_TEST_SECRET = SECRET;
  });
  after(() => delete process.env.CODEDANCE_TEST_SECRET);

  for (const mode of ['auto', 'off'] as const) {
    it(`sandbox ${mode}: hashes images, and no process of it sees CodeDance's secrets`, async () => {
      const hasher = await ImageHasher.open(PYTHON, { sandbox: mode });
      let workdir: string | undefined;
      try {
        const sig = await hasher.signature(png);
        assert.deepEqual([sig.width, sig.height], [20, 10]);
        assert.match(sig.hash, /^[0-9a-f]{16}$/);
        await assert.rejects(hasher.signature(Buffer.from('not an image')), /the image does not decode/);
        assert.equal((await hasher.signature(png)).hash, sig.hash, 'it goes on after a bad image');

        const tree = processTree(hasher.pid!);
        const py = tree.filter((p) => cmdline(p).includes('base64.b64decode'));
        assert.ok(py.length, `the hasher's Python is in its process tree (${tree.map((p) => cmdline(p).split('\0')[0]).join(', ')})`);
        for (const p of tree) {
          const env = environ(p);
          assert.ok(
            !env.some((kv) => kv.startsWith('CODEDANCE_TEST_SECRET=') || kv.includes(SECRET)),
            `process ${p} (${cmdline(p).split('\0')[0]}) sees the secret`,
          );
        }
        const pyPid = py.at(-1)!;
        workdir = readlinkSync(`/proc/${pyPid}/cwd`);
        const sandboxed = mode === 'auto' && sandboxStatus().available;
        assert.equal(hasher.sandboxed, sandboxed);
        if (sandboxed) {
          assert.notEqual(readlinkSync(`/proc/${pyPid}/ns/pid`), readlinkSync('/proc/self/ns/pid'), 'its own PID namespace');
          assert.notEqual(readlinkSync(`/proc/${pyPid}/ns/net`), readlinkSync('/proc/self/ns/net'), 'no network');
        }
        assert.deepEqual(readdirSync(workdir), [], 'an empty working folder of its own');
      } finally {
        await hasher.dispose();
      }
      if (workdir) assert.equal(existsSync(workdir), false, 'its working folder is removed once it has exited');
    });
  }
});
