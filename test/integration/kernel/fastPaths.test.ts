/**
 * The kernel's fast paths (src/core/kernel/fastPaths.ts, prelude/fastpaths.py) are used only with
 * the package versions they were tested with, after their self-check, and not at all when turned
 * off; the prelude says which are on and why each other one is off, and cells give the same
 * results either way. (The whole kernel suite also runs with them off: scripts/test-all.mjs.)
 */
import { strict as assert } from 'node:assert';
import { FAST_PATHS_ENV, fastPathsWanted } from '../../../src/core/kernel/fastPaths';
import { TESTED_WS_VERSIONS } from '../../../src/core/kernel/remote/frames';
import { WS_VERSION } from '../../../src/core/kernel/remote/server';
import type { FastPathReport } from '../../../src/core/kernel/fastPaths';
import { BACKENDS, backendTitle, disposeAll, newSession, type TestKernel } from './helpers';

/** the prelude's paths, in its order */
const KERNEL_PATHS = [
  'direct_execute',
  'reply_at_once',
  'no_execute_sleep',
  'skip_control_flush',
  'quick_empty_flush',
  'fast_dates',
  'busy',
];
/** those that replace parts of ipykernel (jupyter_client's fast_dates does not) */
const IPYKERNEL_PATHS = KERNEL_PATHS.filter((p) => p !== 'fast_dates');
/** the versions of Debian's /usr/bin/python3 (bookworm), which the paths were tested with */
const TESTED = { ipykernel: '6.17', jupyter_client: '7.4', pyzmq: '24.0', tornado: '6.2' };

const minor = (v: string | null | undefined) => (v ?? '').split('.').slice(0, 2).join('.');
const testedHere = (r: FastPathReport) => Object.entries(TESTED).every(([p, v]) => minor(r.versions[p]) === v);

/** a cell of each kind gives the same result on either path */
async function cellsWork(k: TestKernel): Promise<void> {
  const r = await k.execute(
    'import sys\nprint("out")\nprint("err", file=sys.stderr)\nfrom PIL import Image\nImage.new("RGB", (200, 120), "red").show()\n1 + 1',
  );
  assert.equal(r.status, 'ok', JSON.stringify(r.error));
  assert.equal(r.stdout, 'out\n2\n');
  assert.equal(r.stderr, 'err\n');
  assert.deepEqual(
    r.images.map((i) => [i.width, i.height]),
    [[200, 120]],
  );
  const e = await k.execute('x = 41\n1 / 0');
  assert.equal(e.status, 'error');
  assert.equal(e.error?.ename, 'ZeroDivisionError');
  const q = await k.execute('print(x + 1)\nexit()');
  assert.equal(q.status, 'ok');
  assert.ok(q.exited);
  assert.ok(q.stdout.startsWith('42\n'));
  const t = await k.execute('import time\ntime.sleep(10)', { timeoutMs: 500 });
  assert.equal(t.status, 'timeout');
  assert.equal((await k.execute('print(x)')).stdout, '41\n', 'the namespace survives the interrupt');
}

for (const backend of BACKENDS)
  describe(`kernel (${backendTitle(backend)}): fast paths, version-gated and switchable`, function () {
    this.timeout(90000);
    after(disposeAll);

    it(`reports each path on where it was tested (and ${FAST_PATHS_ENV} does not turn them off), naming the versions`, async () => {
      const k = await newSession({}, backend);
      const r = k.fastPaths;
      assert.ok(r, 'the prelude said which fast paths are on');
      const names = [...r.on, ...Object.keys(r.off)];
      for (const p of KERNEL_PATHS) assert.ok(names.includes(p), `${p} is in the report: ${JSON.stringify(r)}`);
      if (backend === 'remote') assert.ok(names.includes('ws_frames'), 'the remote client reports its own path (ws)');
      assert.ok(r.versions.ipykernel, 'the report names the installed ipykernel');
      if (!fastPathsWanted()) {
        assert.deepEqual(r.on, [], 'the environment switch turns every path off');
        for (const why of Object.values(r.off)) assert.match(why, /turned off/);
      } else if (testedHere(r)) {
        assert.deepEqual(
          r.on,
          KERNEL_PATHS.concat(backend === 'remote' && TESTED_WS_VERSIONS.includes(minor(WS_VERSION)) ? ['ws_frames'] : []),
          JSON.stringify(r.off),
        );
      }
      await cellsWork(k);
    });

    it('fastPaths: false turns every path off, says why, and cells work the same', async () => {
      const k = await newSession({ fastPaths: false }, backend);
      const r = k.fastPaths!;
      assert.deepEqual(r.on, []);
      assert.deepEqual(Object.keys(r.off).sort(), [...KERNEL_PATHS, ...(backend === 'remote' ? ['ws_frames'] : [])].sort());
      for (const why of Object.values(r.off)) assert.match(why, /turned off by the client/);
      await cellsWork(k);
      // nothing of ipykernel was replaced: its own methods are in place
      const own = await k.execute(
        'import sys\nk = get_ipython().kernel\nfrom ipykernel.iostream import OutStream\n' +
          'print(k._execute_sleep > 0, "do_execute" in vars(k), "_flush_control_queue" in vars(k), "_publish_status" in vars(k), "send" in vars(k.session), hasattr(OutStream.flush, "_codedance_fast"))',
      );
      assert.equal(own.stdout, 'True False False False False False\n', own.stderr);
    });

    if (backend === 'local') {
      it('an ipykernel it was not tested with: the paths that replace its parts are off, naming the version; cells work', async () => {
        const k = await newSession({ env: { CODEDANCE_TEST_FAST_PATH_VERSIONS: 'ipykernel=7.0.1' } });
        const r = k.fastPaths!;
        assert.deepEqual(r.standIn, { ipykernel: '7.0.1' });
        for (const p of IPYKERNEL_PATHS) {
          assert.ok(!r.on.includes(p), `${p} is off`);
          if (fastPathsWanted()) assert.equal(r.off[p], 'ipykernel 7.0.1 is not a version it was tested with (6.17)');
        }
        // jupyter_client's own path does not depend on ipykernel's version
        if (fastPathsWanted() && testedHere(r)) assert.deepEqual(r.on, ['fast_dates']);
        await cellsWork(k);
      });
    }
  });
