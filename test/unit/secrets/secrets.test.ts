/**
 * core/secrets: one redaction for kernel output, errors and logs. URL credentials are masked
 * wherever they appear; every value of the secret store is redacted whatever its variable's
 * name; values shorter than MIN_SECRET_LENGTH never are.
 */
import { strict as assert } from 'node:assert';
import { displayUrl, MIN_SECRET_LENGTH, processSecrets, redactSecrets, SecretSet, secretValuesFromEnv } from '../../../src/core/secrets';

describe('secrets: URL credentials, wherever they appear', () => {
  it('masks the password of any scheme://user:password@host in a text', () => {
    const s = new SecretSet();
    assert.equal(
      s.redact('connecting to postgres://user:pass@db.internal:5432/app ...'),
      'connecting to postgres://user:***@db.internal:5432/app ...',
    );
    assert.equal(s.redact('REDIS=redis://:hunter22@cache:6379/0'), 'REDIS=redis://:***@cache:6379/0');
    assert.equal(
      s.redact('["mysql://root:p%40ss@localhost/x", "https://u:tok-123456@git.example.com/r.git"]'),
      '["mysql://root:***@localhost/x", "https://u:***@git.example.com/r.git"]',
    );
    assert.equal(s.redact('http://user:pw123@host/v1'), 'http://user:***@host/v1');
  });

  it('masks credentials in query strings; leaves ordinary URLs alone', () => {
    const s = new SecretSet();
    assert.equal(s.redact('open http://127.0.0.1:8888/lab?token=abc123def456 now'), 'open http://127.0.0.1:8888/lab?token=*** now');
    assert.equal(s.redact('https://s3/x?X-Amz-Signature=f00ba4&a=1&api_key=zzz'), 'https://s3/x?X-Amz-Signature=***&a=1&api_key=***');
    for (const t of ['http://host:8080/path?email=a@b.com', 'https://example.com/design?monkey=1&page=2', 'see https://docs.python.org/3/'])
      assert.equal(s.redact(t), t);
  });

  it('displayUrl: no user, password or token; other query parameters kept', () => {
    assert.equal(displayUrl('http://u:pw@h:8888/?token=abc'), 'http://h:8888/');
    assert.equal(
      displayUrl('https://user:secret@api.example.com/v1?api-version=2024-06-01'),
      'https://api.example.com/v1?api-version=2024-06-01',
    );
    assert.equal(displayUrl('not a url, postgres://a:b-secret@x'), 'not a url, postgres://a:***@x');
  });
});

describe('secrets: values of the secret store, whatever the name', () => {
  it('takes secret-looking names and, for any name, the credentials of a URL value', () => {
    const v = secretValuesFromEnv({
      OPENAI_API_KEY: 'sk-abcdef123',
      MYAPP_AUTH: 'auth-value-123',
      DATABASE_URL: 'postgres://app:s3cretpw@db/x',
      SENTRY_DSN: 'https://k3y@o1.ingest.sentry.io/1',
      GIT_AUTHOR_NAME: 'Jane Doe',
      PATH: '/usr/bin',
      HOME: '/root',
    });
    assert.ok(v.includes('sk-abcdef123'));
    assert.ok(v.includes('auth-value-123'), 'MYAPP_AUTH');
    assert.ok(v.includes('s3cretpw'), "DATABASE_URL's password");
    assert.ok(v.includes('https://k3y@o1.ingest.sentry.io/1'));
    assert.ok(!v.includes('Jane Doe') && !v.includes('/usr/bin') && !v.includes('/root'));
  });

  it('redacts every value it holds, whatever name it was stored under, and the password of a URL value alone', () => {
    // e.g. job secrets MYAPP_AUTH and DATABASE_URL kept in the editor's SecretStorage
    const s = new SecretSet(['x9-harmless-name-value', 'postgres://app:s3cretpw@db/x']);
    assert.equal(s.redact('auth=x9-harmless-name-value'), 'auth=***');
    assert.equal(s.redact('the password is s3cretpw'), 'the password is ***');
    assert.equal(s.redact('url postgres://app:s3cretpw@db/x'), 'url ***');
  });

  it('never redacts values shorter than the minimum, nor placeholders', () => {
    assert.ok(MIN_SECRET_LENGTH >= 6);
    const s = new SecretSet(['1', 'true', 'abcde', 'EMPTY', 'none', 'password', ' abcdef ']);
    assert.deepEqual(s.values(), ['abcdef']);
    assert.equal(s.redact('count: 1, true, abcde, EMPTY, password, abcdefg'), 'count: 1, true, abcde, EMPTY, password, ***g');
  });

  it('replaces longest first, regex characters literally', () => {
    const s = new SecretSet(['abc.def+1', 'abc.def+1-extended', 'p(a)s$s^']);
    assert.equal(s.redact('x abc.def+1-extended y abc.def+1 z abcXdef+1 p(a)s$s^'), 'x *** y *** z abcXdef+1 ***');
  });

  it("a set redacts its parent's values, also those added after it was made", () => {
    const parent = new SecretSet();
    const child = new SecretSet(['child-secret-1'], parent);
    assert.equal(child.redact('late-parent-secret child-secret-1'), 'late-parent-secret ***');
    parent.add('late-parent-secret');
    assert.equal(child.redact('late-parent-secret child-secret-1'), '*** ***');
    assert.equal(parent.redact('child-secret-1'), 'child-secret-1');
  });

  it("redactSecrets: the process's secrets, the extra values and the patterns", () => {
    processSecrets.add('process-wide-secret-42');
    assert.equal(redactSecrets('a process-wide-secret-42 b my-secret-key c'), 'a *** b my-secret-key c');
    assert.equal(redactSecrets('a my-secret-key', ['my-secret-key', undefined]), 'a ***');
    assert.equal(redactSecrets('Authorization: Bearer abc.def-123'), 'Authorization: Bearer ***');
    assert.equal(redactSecrets('Incorrect API key provided: sk-proj-abcdef123456'), 'Incorrect API key provided: sk-***');
    assert.equal(redactSecrets('pip install scikit-learn sk-learn'), 'pip install scikit-learn sk-learn');
  });
});
