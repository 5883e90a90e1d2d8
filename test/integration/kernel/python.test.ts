import { strict as assert } from 'node:assert';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  clearPythonProbeCache,
  KernelLaunchError,
  probePython,
  PythonEnvironmentError,
  resolvePython,
  startKernelSession,
} from '../../../src/core/kernel';

/** a stand-in interpreter: prints a probe answer, counts its runs */
function fakePython(dir: string, name: string, answer: object): { path: string; runs: () => number } {
  const file = path.join(dir, name);
  const counter = `${file}.runs`;
  writeFileSync(counter, '');
  writeFileSync(file, `#!/bin/sh\necho x >> '${counter}'\necho '${JSON.stringify(answer)}'\n`);
  chmodSync(file, 0o755);
  return { path: file, runs: () => readFileSync(counter, 'utf8').split('\n').filter(Boolean).length };
}

describe('kernel: Python interpreter resolution', function () {
  this.timeout(60000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'codedance-pytest-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  beforeEach(clearPythonProbeCache);

  it('picks the first of python3 on PATH and /usr/bin/python3 that has ipykernel, PIL, numpy, matplotlib, and says why', async () => {
    const onPath = await probePython('python3');
    const r = await resolvePython({ env: {} });
    assert.equal(r.source, 'candidate');
    if (onPath.ok) {
      assert.equal(r.command, 'python3');
    } else {
      // this machine: pyenv's python3 lacks ipykernel, Debian's has everything
      assert.equal(r.command, '/usr/bin/python3');
      assert.equal(r.python, '/usr/bin/python3');
      assert.match(r.reason, /first of python3 on PATH and \/usr\/bin\/python3/);
      assert.match(r.reason, /skipped python3 \(.*\): cannot import ipykernel/);
      assert.equal(r.tried.length, 2);
    }
    assert.match(r.version, /^3\.\d+\.\d+$/);
  });

  it('names what a Python lacks and the exact pip fix (the pyenv python3 on PATH lacks ipykernel)', async function () {
    const p = await probePython('python3');
    if (p.ok || p.failure) this.skip();
    try {
      await resolvePython({ explicit: 'python3', env: {} });
      assert.fail('should have thrown');
    } catch (e) {
      assert.ok(e instanceof PythonEnvironmentError);
      const m = (e as Error).message;
      assert.match(m, /The configured Python interpreter cannot run the CodeDance kernel/);
      assert.equal((e as PythonEnvironmentError).fix.setting, 'python.interpreter', 'the adapters name the setting or flag');
      assert.match(m, new RegExp(`cannot import ${p.missing.join(', ')}`));
      assert.ok(
        m.includes(
          `Fix: install the missing packages with \`${p.executable} -m pip install ${p.missing.map((x) => (x === 'PIL' ? 'pillow' : x)).join(' ')}\``,
        ),
        m,
      );
      assert.equal((e as PythonEnvironmentError).tried[0].command, 'python3');
    }
  });

  it('an explicit setting wins and is not silently replaced; CODEDANCE_PYTHON is used when no setting is given', async () => {
    const r = await resolvePython({ explicit: '/usr/bin/python3', env: {} });
    assert.equal(r.source, 'explicit');
    assert.equal(r.python, '/usr/bin/python3');
    const e = await resolvePython({ env: { CODEDANCE_PYTHON: '/usr/bin/python3' } });
    assert.equal(e.source, 'env');
    assert.match(e.reason, /CODEDANCE_PYTHON/);
    await assert.rejects(resolvePython({ explicit: '/no/such/python', env: { CODEDANCE_PYTHON: '/usr/bin/python3' } }), (err: unknown) => {
      assert.ok(err instanceof PythonEnvironmentError);
      assert.match((err as Error).message, /\/no\/such\/python: not found/);
      assert.match((err as Error).message, /Fix: use an interpreter that exists and has ipykernel/);
      return true;
    });
  });

  it("uses the Python extension's interpreter when usable, else falls back to the candidates", async () => {
    const ok = await resolvePython({ pythonExtension: '/usr/bin/python3', env: {}, candidates: [] });
    assert.equal(ok.source, 'python-extension');
    const fallback = await resolvePython({ pythonExtension: '/no/such/python', env: {}, candidates: ['/usr/bin/python3'] });
    assert.equal(fallback.source, 'candidate');
    assert.match(fallback.reason, /skipped \/no\/such\/python: not found/);
  });

  it('when nothing is usable: lists every interpreter tried, what is missing, and the apt fix for a Debian system Python', async () => {
    const sys = fakePython(dir, 'sys-python', {
      executable: '/usr/bin/python3',
      version: '3.11.2',
      missing: ['ipykernel', 'PIL', 'numpy', 'matplotlib'],
      em: true,
      prefix: '/usr',
    });
    const venv = fakePython(dir, 'venv-python', {
      executable: '/home/u/.venv/bin/python',
      version: '3.12.1',
      missing: ['matplotlib'],
      em: false,
      prefix: '/home/u/.venv',
    });
    try {
      await resolvePython({ env: {}, candidates: [venv.path, sys.path, '/no/such/python3'] });
      assert.fail('should have thrown');
    } catch (e) {
      assert.ok(e instanceof PythonEnvironmentError);
      const m = (e as Error).message;
      assert.match(m, /^No usable Python for the CodeDance kernel\. It needs ipykernel, Pillow \(PIL\), numpy and matplotlib\. Tried:/);
      assert.match(m, /venv-python \(\/home\/u\/\.venv\/bin\/python, Python 3\.12\.1\): cannot import matplotlib/);
      assert.match(m, /sys-python \(\/usr\/bin\/python3, Python 3\.11\.2\): cannot import ipykernel, PIL, numpy, matplotlib/);
      assert.match(m, /\/no\/such\/python3: not found/);
      assert.ok(m.includes('`/home/u/.venv/bin/python -m pip install matplotlib`'), m);
      assert.ok(m.includes('`sudo apt-get install python3-ipykernel python3-pil python3-numpy python3-matplotlib`'), m);
      assert.match(m, /choose an interpreter that has them \(or set CODEDANCE_PYTHON\)/);
      assert.equal((e as PythonEnvironmentError).fix.setting, 'python.interpreter');
      assert.equal((e as PythonEnvironmentError).tried.length, 3);
    }
  });

  it('probes each interpreter once (cached per path) until the cache is cleared', async () => {
    const good = fakePython(dir, 'good-python', {
      executable: '/opt/py/bin/python3',
      version: '3.11.9',
      missing: [],
      em: false,
      prefix: '/opt/py',
    });
    const a = await resolvePython({ explicit: good.path, env: {} });
    const b = await resolvePython({ explicit: good.path, env: {} });
    await probePython(good.path);
    assert.equal(a.python, '/opt/py/bin/python3');
    assert.equal(b.python, '/opt/py/bin/python3');
    assert.equal(good.runs(), 1);
    clearPythonProbeCache();
    await probePython(good.path);
    assert.equal(good.runs(), 2);
  });

  it('starting a kernel on a Python without ipykernel fails with a KernelLaunchError quoting Python and saying the fix', async function () {
    const p = await probePython('python3');
    if (p.ok || p.failure || !p.missing.includes('ipykernel')) this.skip();
    await assert.rejects(startKernelSession({ python: p.executable! }), (e: unknown) => {
      assert.ok(e instanceof KernelLaunchError);
      const m = (e as Error).message;
      assert.match(m, /exited with code 1 while starting/);
      assert.match(m, /No module named ipykernel_launcher/);
      assert.match(m, /Fix: .*-m pip install ipykernel/);
      return true;
    });
    await assert.rejects(startKernelSession({ python: '/no/such/python3' }), /could not be started \(spawn \/no\/such\/python3 ENOENT\)/);
  });

  it('rejects a Python older than 3.8', async () => {
    const old = fakePython(dir, 'old-python', {
      executable: '/usr/local/bin/python3.6',
      version: '3.6.9',
      missing: [],
      em: false,
      prefix: '/usr/local',
    });
    const p = await probePython(old.path);
    assert.equal(p.ok, false);
    assert.match(p.failure!, /3\.6\.9 is too old/);
  });
});
