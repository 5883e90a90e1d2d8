import { strict as assert } from 'node:assert';
import { createRedactor, MIN_SECRET_LENGTH, Redactor, registerSecret, secretValuesFromEnv } from '../../../src/core/kernel/redact';
import type { ExecutionResult } from '../../../src/core/kernel/types';

const result = (over: Partial<ExecutionResult>): ExecutionResult => ({ status: 'ok', stdout: '', stderr: '', images: [], durationMs: 1, ...over });

describe('redact: secret values never leave the kernel layer', () => {
  it('takes the values of secret-looking variables only, long enough to be safe', () => {
    const v = secretValuesFromEnv({ OPENAI_API_KEY: 'sk-abcdef123', CODEDANCE_RAY_TOKEN: 'tok-999999', SSH_PASSPHRASE: 'horse battery', MY_SECRET: 'hush-hush', PATH: '/usr/bin', HOME: '/root', SOME_KEY: '1' });
    assert.deepEqual(v.sort(), ['hush-hush', 'horse battery', 'sk-abcdef123', 'tok-999999', '1'].sort());
    // "1" is collected but too short to redact
    const r = new Redactor(v);
    assert.equal(r.size, 4);
    assert.equal(r.redact('count: 1'), 'count: 1');
    assert.ok(MIN_SECRET_LENGTH >= 6);
  });

  it('replaces every occurrence, longest first, regex characters literal', () => {
    const r = new Redactor(['abc.def+1', 'abc.def+1-extended', 'p(a)s$s^']);
    assert.equal(r.redact('x abc.def+1-extended y abc.def+1 z abcXdef+1 p(a)s$s^'), 'x *** y *** z abcXdef+1 ***');
  });

  it('redacts stdout, stderr, error value and traceback of a result, leaves images alone', () => {
    const r = new Redactor(['sk-SECRET-42']);
    const img = { mime: 'image/png' as const, data: 'c2stU0VDUkVULTQy', source: 'expression' as const };
    const out = r.redactResult(result({ status: 'error', stdout: 'key=sk-SECRET-42\n', stderr: 'sk-SECRET-42', images: [img], error: { ename: 'ValueError', evalue: 'bad sk-SECRET-42', traceback: ['line sk-SECRET-42'] } }));
    assert.equal(out.stdout, 'key=***\n');
    assert.equal(out.stderr, '***');
    assert.equal(out.error!.evalue, 'bad ***');
    assert.deepEqual(out.error!.traceback, ['line ***']);
    assert.deepEqual(out.images, [img]);
  });

  it('wraps a live listener for streamed text', () => {
    const seen: string[] = [];
    const fn = new Redactor(['sk-SECRET-42']).wrapListener((e) => e.kind === 'stream' && seen.push(e.text))!;
    fn({ kind: 'stream', name: 'stdout', text: 'a sk-SECRET-42 b' });
    assert.deepEqual(seen, ['a *** b']);
  });

  it('registerSecret: a key from a settings store is redacted by every redactor, also existing ones', () => {
    const r = createRedactor({ env: false });
    assert.equal(r.redact('key-from-secretstorage-123'), 'key-from-secretstorage-123');
    registerSecret('key-from-secretstorage-123', undefined, '');
    assert.equal(r.redact('x key-from-secretstorage-123'), 'x ***');
    assert.equal(createRedactor(false).redact('key-from-secretstorage-123'), 'key-from-secretstorage-123');
  });

  it('createRedactor: environment plus explicit values; false redacts nothing', () => {
    const r = createRedactor({ env: { JUDGE_API_KEY: 'judge-123456' }, values: ['explicit-value-1'] });
    assert.equal(r.redact('judge-123456 explicit-value-1'), '*** ***');
    assert.equal(createRedactor(false).redact('judge-123456'), 'judge-123456');
    assert.equal(createRedactor(false).size, 0);
  });
});
