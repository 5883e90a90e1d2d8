/** Kernel output goes through the session's SecretSet (core/secrets) before anyone sees it. */
import { strict as assert } from 'node:assert';
import { redactingListener, redactResult, sessionSecrets } from '../../../src/core/kernel/redactOutput';
import type { ExecutionResult } from '../../../src/core/kernel/types';
import { processSecrets, SecretSet } from '../../../src/core/secrets';

const result = (over: Partial<ExecutionResult>): ExecutionResult => ({
  status: 'ok',
  stdout: '',
  stderr: '',
  images: [],
  durationMs: 1,
  ...over,
});

describe('kernel output redaction', () => {
  it('redacts stdout, stderr, error value and traceback of a result, leaves images alone', () => {
    const s = new SecretSet(['sk-SECRET-42']);
    const img = { mime: 'image/png' as const, data: 'c2stU0VDUkVULTQy', source: 'expression' as const };
    const out = redactResult(
      result({
        status: 'error',
        stdout: 'key=sk-SECRET-42 db=postgres://u:dbpass99@db/x\n',
        stderr: 'sk-SECRET-42',
        images: [img],
        error: { ename: 'ValueError', evalue: 'bad sk-SECRET-42', traceback: ['line sk-SECRET-42'] },
      }),
      s,
    );
    assert.equal(out.stdout, 'key=*** db=postgres://u:***@db/x\n');
    assert.equal(out.stderr, '***');
    assert.equal(out.error!.evalue, 'bad ***');
    assert.deepEqual(out.error!.traceback, ['line ***']);
    assert.deepEqual(out.images, [img]);
  });

  it('wraps a live listener for streamed text', () => {
    const seen: string[] = [];
    const fn = redactingListener((e) => e.kind === 'stream' && seen.push(e.text), new SecretSet(['sk-SECRET-42']))!;
    fn({ kind: 'stream', name: 'stdout', text: 'a sk-SECRET-42 b' });
    assert.deepEqual(seen, ['a *** b']);
  });

  it("a session's secrets: the environment's (any name for URL credentials), the explicit values and the process's, also later ones", () => {
    const s = sessionSecrets({
      env: { JUDGE_API_KEY: 'judge-123456', MYAPP_DB: 'mysql://a:envpass77@h/x' },
      values: ['explicit-value-1'],
    })!;
    assert.equal(s.redact('judge-123456 explicit-value-1 envpass77'), '*** *** ***');
    processSecrets.add('key-from-secretstorage-123');
    assert.equal(s.redact('x key-from-secretstorage-123'), 'x ***');
    assert.equal(sessionSecrets(false), undefined);
    assert.equal(
      redactResult(result({ stdout: 'key-from-secretstorage-123' }), sessionSecrets(false)).stdout,
      'key-from-secretstorage-123',
      'redact: false redacts nothing',
    );
  });
});
