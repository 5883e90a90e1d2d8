/**
 * The one error model: a CodeDanceError root with kind, retryable, reason, fix and cause; its
 * plain-JSON form for events and trajectories; the CLI's exit codes and wording; the
 * extension's wording and buttons. Core says what to fix by a neutral setting key, each
 * adapter names it its own way.
 */
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describeError, EXIT, exitCodeFor, CliError } from '../../src/cli/errors';
import { CodeDanceError, ERROR_KINDS, errorKind, toErrorInfo, type ErrorKind } from '../../src/core/errors';
import { JobNotFoundError, JobsAuthError, JobsError } from '../../src/core/jobs/errors';
import { KernelLaunchError, KernelSessionError, PythonEnvironmentError } from '../../src/core/kernel/errors';
import { ModelConfigError, ModelConnectionError, ModelHttpError } from '../../src/core/model/errors';
import { endpointListProblem, showError, wordError } from '../../src/extension/errors';

const EP = 'http://127.0.0.1:8000/v1';

describe('CodeDanceError: the one error root', () => {
  it('carries kind, retryable, reason, a machine-readable fix and the cause; the message is reason — fix', () => {
    const cause = new Error('inner');
    const e = new CodeDanceError('config', 'judge endpoint missing', {
      fix: { text: 'set a judge endpoint', setting: 'judge.endpoint' },
      cause,
    });
    assert.ok(e instanceof Error);
    assert.equal(e.kind, 'config');
    assert.equal(e.retryable, false);
    assert.equal(e.reason, 'judge endpoint missing');
    assert.deepEqual(e.fix, { text: 'set a judge endpoint', setting: 'judge.endpoint' });
    assert.equal(e.cause, cause);
    assert.equal(e.message, 'judge endpoint missing — set a judge endpoint');
    assert.equal(new CodeDanceError('internal', 'just a reason').message, 'just a reason');
    assert.deepEqual(new CodeDanceError('input', 'r', { fix: 'plain text fix' }).fix, { text: 'plain text fix' });
  });

  it('every domain error is one, with its kind', () => {
    const cases: [unknown, ErrorKind][] = [
      [new ModelHttpError(401, { endpoint: EP }), 'model-auth'],
      [new ModelHttpError(503, { endpoint: EP }), 'model-endpoint'],
      [new ModelHttpError(400, { endpoint: EP }), 'model-request'],
      [new ModelConnectionError({ endpoint: EP, code: 'ECONNREFUSED' }), 'model-endpoint'],
      [new ModelConfigError('bad url'), 'config'],
      [new PythonEnvironmentError({ reason: 'no python', fix: 'install one' }, []), 'python-env'],
      [new KernelLaunchError({ reason: 'died', fix: 'check ipykernel' }), 'kernel'],
      [new KernelSessionError({ reason: 'the input image could not be prepared', fix: 'pass a PNG' }), 'kernel'],
      [new JobsError('config', 'bad profile'), 'config'],
      [new JobsError('server', 'HTTP 500'), 'jobs'],
      [new JobsAuthError('needs a token', 401), 'jobs'],
      [new JobNotFoundError('raysubmit_1', 'ray'), 'jobs'],
    ];
    for (const [e, kind] of cases) {
      assert.ok(e instanceof CodeDanceError, String(e));
      assert.equal((e as CodeDanceError).kind, kind, String(e));
    }
    assert.equal(new JobsError('connection', 'x').retryable, true);
    assert.equal(new JobsAuthError('x').code, 'auth');
  });

  it('toErrorInfo is plain JSON that survives a round trip (events, webview, trajectory.json)', () => {
    const e = new KernelSessionError({
      reason: 'the input image could not be prepared: not an image',
      fix: 'pass a PNG, JPEG, GIF, BMP or WebP file',
    });
    const info = toErrorInfo(e);
    assert.deepEqual(JSON.parse(JSON.stringify(info)), info);
    assert.deepEqual(info, {
      name: 'KernelSessionError',
      message: 'the input image could not be prepared: not an image\nFix: pass a PNG, JPEG, GIF, BMP or WebP file',
      kind: 'kernel',
      retryable: false,
      reason: 'the input image could not be prepared: not an image',
      fix: { text: 'pass a PNG, JPEG, GIF, BMP or WebP file' },
    });
    assert.equal(toErrorInfo(new JobNotFoundError('7', 'slurm')).status, 404);
    assert.equal(toErrorInfo('a string').kind, 'internal');
    // trajectories written before kinds existed: { name, message } only
    assert.equal(errorKind({ name: 'Error', message: 'old' }), 'internal');
    assert.equal(errorKind({ name: 'X', message: 'm', kind: 'kernel' }), 'kernel');
    assert.equal(errorKind({ kind: 'not-a-kind' }), 'internal');
  });
});

describe('CLI adapter (src/cli/errors.ts)', () => {
  it('exit codes by kind, as the README documents them', () => {
    const want: Record<ErrorKind, number> = {
      'model-endpoint': 4,
      'model-auth': 4,
      'model-request': 4,
      'model-response': 4,
      'python-env': 3,
      kernel: 3,
      input: 2,
      dataset: 2,
      config: 2,
      jobs: 5,
      'disk-full': 74,
      cancelled: 130,
      internal: 70,
    };
    for (const kind of ERROR_KINDS) {
      assert.equal(exitCodeFor(new CodeDanceError(kind, 'r')), want[kind], kind);
      assert.equal(exitCodeFor(toErrorInfo(new CodeDanceError(kind, 'r'))), want[kind], `${kind} (plain JSON)`);
    }
    assert.equal(exitCodeFor(new JobNotFoundError('1', 'ray')), EXIT.notFound);
    assert.equal(exitCodeFor(new CliError('x', 2)), 2);
    assert.equal(exitCodeFor(new TypeError('bug')), EXIT.internal);
  });

  it('words the fix with the command’s own flags and environment variables', () => {
    const refused = new ModelConnectionError({ endpoint: EP, code: 'ECONNREFUSED' });
    assert.equal(
      describeError(refused, 'ask'),
      `cannot reach ${EP}: connection refused — is the model server (e.g. vLLM) running there? Check the endpoint URL (--base-url (or $CODEDANCE_BASE_URL))`,
    );
    assert.match(describeError(refused, 'eval'), /\(--api-url\)$/);
    assert.match(
      describeError(new ModelHttpError(401, { endpoint: EP }), 'ask'),
      /set the API key for this endpoint \(the CODEDANCE_API_KEY environment variable\)$/,
    );
    const py = new PythonEnvironmentError(
      {
        reason: 'no usable Python',
        fix: {
          text: 'install the packages, or use another interpreter',
          setting: 'python.interpreter',
          command: 'sudo apt-get install python3-ipykernel',
        },
      },
      [],
    );
    assert.equal(
      describeError(py, 'ask'),
      'no usable Python\nFix: install the packages, or use another interpreter (--python (or $CODEDANCE_PYTHON)): sudo apt-get install python3-ipykernel',
    );
    // the plain-JSON form (from an event) is worded the same
    assert.equal(describeError(toErrorInfo(refused), 'ask'), describeError(refused, 'ask'));
    assert.equal(describeError(new Error('plain')), 'plain');
    assert.equal(describeError({ name: 'Error', message: 'old trajectory' }), 'old trajectory');
  });
});

describe('extension adapter (src/extension/errors.ts)', () => {
  it('names the setting and offers to open it; the API key fix runs the Set API Key command', () => {
    const w = wordError(new ModelConnectionError({ endpoint: EP, code: 'ECONNREFUSED' }));
    assert.equal(
      w.message,
      `cannot reach ${EP}: connection refused — is the model server (e.g. vLLM) running there? Check the endpoint URL (setting codedance.model.endpoints)`,
    );
    assert.deepEqual(w.actions, [{ title: 'Open Setting', command: 'workbench.action.openSettings', args: ['codedance.model.endpoints'] }]);
    const auth = wordError(toErrorInfo(new ModelHttpError(403, { endpoint: EP })));
    assert.match(auth.message, /set the API key for this endpoint \(the command "CodeDance: Set API Key"\)$/);
    assert.deepEqual(auth.actions, [{ title: 'Set API Key', command: 'codedance.setApiKey', args: [] }]);
    assert.match(wordError(new ModelHttpError(400, { endpoint: EP })).message, /\(setting codedance\.sampling\.\*\)$/);
    assert.deepEqual(wordError(new Error('plain')), { message: 'plain', actions: [] });
  });

  it('endpoint input boxes refuse user:password@ before anything is saved, and say why', () => {
    assert.equal(endpointListProblem('http://127.0.0.1:8000/v1, https://api.example.com/v1'), undefined);
    assert.match(endpointListProblem('localhost:8000') ?? '', /http\(s\) URLs, comma-separated/);
    const p = endpointListProblem('http://127.0.0.1:8000/v1,https://bob:s3cretpw@api.example.com/v1') ?? '';
    assert.match(p, /has a user name or password in the URL.* API key store instead \(the command "CodeDance: Set API Key"\)/);
    assert.ok(!p.includes('s3cretpw'), p);
  });

  it('showError shows the notification and runs the picked action', async () => {
    const shown: string[][] = [];
    const ran: unknown[][] = [];
    const ui = {
      window: { showErrorMessage: async (m: string, ...items: string[]) => (shown.push([m, ...items]), items[0]) },
      commands: { executeCommand: async (c: string, ...args: unknown[]) => void ran.push([c, ...args]) },
    };
    await showError(ui, new ModelHttpError(401, { endpoint: EP }), 'CodeDance Eval');
    assert.equal(shown.length, 1);
    assert.match(shown[0][0], /^CodeDance Eval: http:\/\/127\.0\.0\.1:8000\/v1 rejected the API key \(HTTP 401\) — set the API key/);
    assert.deepEqual(shown[0].slice(1), ['Set API Key']);
    assert.deepEqual(ran, [['codedance.setApiKey']]);
  });
});

describe('core names no VS Code setting and no CLI flag', () => {
  const SETTING = /\bcodedance\.(model|sampling|agent|python|execution|judge|eval)\.\w+/;
  const FLAG =
    /(?<![\w-])--(base-url|api-url|api-key|model|python|judge-url|no-judge|num-workers|save-path|max-turns|max-observation-tokens|timeout|protocol|out|clusters)\b/;
  /** a VS Code command by its title ("CodeDance: Set Cluster Secret") */
  const COMMAND = /\bCodeDance: [A-Z]/;
  /** the environment variables only the CLI reads a cluster's secrets from */
  const CLI_ENV = /\bCODEDANCE_(RAY_TOKEN|SSH_PASSPHRASE|SSH_PASSWORD)\b/;

  function files(dir: string): string[] {
    return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
      d.isDirectory() ? files(path.join(dir, d.name)) : d.name.endsWith('.ts') ? [path.join(dir, d.name)] : [],
    );
  }

  it('in the strings of src/core (comments aside): adapters word fix.setting', () => {
    const found: string[] = [];
    for (const f of files(path.join(__dirname, '../../src/core'))) {
      const code = readFileSync(f, 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' '))
        .replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
      code.split('\n').forEach((line, i) => {
        if (SETTING.test(line) || FLAG.test(line) || COMMAND.test(line) || CLI_ENV.test(line))
          found.push(`${path.relative(process.cwd(), f)}:${i + 1}: ${line.trim().slice(0, 140)}`);
      });
    }
    assert.deepEqual(found, []);
  });
});
