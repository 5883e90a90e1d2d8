import { strict as assert } from 'node:assert';
import {
  KernelError,
  KernelLaunchError,
  KernelProtocolError,
  KernelSessionError,
  PythonEnvironmentError,
} from '../../../src/core/kernel/errors';

describe('kernel errors', () => {
  it('each domain has its own class; messages carry the cause and the fix', () => {
    const errs = [
      new PythonEnvironmentError({ reason: 'no python', fix: 'install one' }, []),
      new KernelLaunchError({ reason: 'died at start', fix: 'check ipykernel' }),
      new KernelProtocolError({ reason: 'bad signature', fix: 'restart' }),
      new KernelSessionError({ reason: 'disposed', fix: 'acquire another' }),
    ];
    assert.deepEqual(
      errs.map((e) => e.name),
      ['PythonEnvironmentError', 'KernelLaunchError', 'KernelProtocolError', 'KernelSessionError'],
    );
    for (const e of errs) {
      assert.ok(e instanceof KernelError && e instanceof Error);
      assert.match(e.message, /^.+\nFix: .+$/s);
      assert.equal(e.message, `${e.reason}\nFix: ${e.fix.text}`);
    }
  });

  it('keeps the underlying error as `cause`', () => {
    const inner = new Error('ENOENT');
    const e = new KernelLaunchError({ reason: 'spawn failed', fix: 'x', error: inner }, 'tail');
    assert.equal(e.cause, inner);
    assert.equal(e.stderrTail, 'tail');
  });
});
