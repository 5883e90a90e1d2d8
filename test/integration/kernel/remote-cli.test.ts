/**
 * `codedance ask|eval --jupyter-url URL` end to end: the built CLI (dist/cli.js), the fixture VLM
 * server and a kernel on a real Jupyter Server. The fixture model only knows what the code
 * printed, so a right answer means the remote kernel ran the model's code on the image, which
 * reached it as bytes. Wrong token: exit 3 and the 403 said plainly.
 */
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLI, type CliRun, runCli } from '../../fixtures/cli';
import { startFixtureModel, type FixtureModel } from '../../fixtures/fixtureModel';
import { circlesImage, circlesQuestion } from '../../fixtures/images';
import { writeEvalJsonl } from '../../fixtures/parquetWriter';
import { type JupyterServerFixture, startJupyterServer } from '../../fixtures/jupyterServer';

function cli(args: string[], env: Record<string, string | undefined>): Promise<CliRun> {
  return runCli(args, { CODEDANCE_BASE_URL: undefined, CODEDANCE_PYTHON: undefined, JUPYTER_TOKEN: undefined, ...env });
}

async function kernelIds(srv: JupyterServerFixture): Promise<string[]> {
  const r = await fetch(`${srv.url}api/kernels?token=${srv.token}`);
  return ((await r.json()) as Array<{ id: string }>).map((k) => k.id);
}

describe('codedance ask --jupyter-url (CLI, fixture model, kernel on a real Jupyter Server)', function () {
  this.timeout(120_000);
  let fm: FixtureModel;
  let srv: JupyterServerFixture;
  let tmp: string;
  before(async function () {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' first (npm test does it)`);
    tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-cli-remote-'));
    [fm, srv] = await Promise.all([startFixtureModel(), startJupyterServer()]);
  });
  after(async () => {
    await Promise.all([fm?.close(), srv?.stop()]);
    rmSync(tmp, { recursive: true, force: true });
  });

  const circles = circlesImage({ red: 5, blue: 3, green: 2, seed: 11 });

  it('answers through the remote kernel (token from JUPYTER_TOKEN), stdout clean, kernel shut down after', async () => {
    const img = path.join(tmp, 'circles.png');
    writeFileSync(img, circles.png);
    const out = path.join(tmp, 'out');
    const r = await cli(['ask', img, circlesQuestion('red'), '--base-url', fm.baseUrl, '--out', out, '--jupyter-url', srv.url], {
      JUPYTER_TOKEN: srv.token,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`^kernel: the server's default kernelspec on the Jupyter server at ${srv.url}$`, 'm'));
    // where the code runs, truthfully: not in a bubblewrap sandbox here, whatever this machine has
    assert.match(
      r.stderr,
      new RegExp(
        `^sandbox: Python cells run unsandboxed: remote kernel on the Jupyter server at ${srv.url}\\. .*as whatever user the server runs as`,
        'm',
      ),
    );
    assert.doesNotMatch(r.stderr, /bubblewrap sandbox/);
    assert.doesNotMatch(r.stdout + r.stderr, /Starting WebSocket|Kernel: |Connection lost/, "the client library's console lines are muted");
    assert.doesNotMatch(r.stdout + r.stderr, new RegExp(srv.token), 'the token is never printed');
    const t = JSON.parse(readFileSync(path.join(out, 'trajectory.json'), 'utf8'));
    assert.equal(t.status, 'answered');
    assert.equal(t.answer, '5');
    assert.match(t.turns[0].cells[0].stdout, /red_count = 5/);
    assert.deepEqual(await kernelIds(srv), [], 'the kernel was shut down when the run ended');
  });

  it('a wrong token: exit 3 and "refused the token (HTTP 403 Forbidden)"', async () => {
    const img = path.join(tmp, 'circles2.png');
    writeFileSync(img, circles.png);
    const r = await cli(['ask', img, 'how many?', '--base-url', fm.baseUrl, '--out', path.join(tmp, 'out2'), '--jupyter-url', srv.url], {
      JUPYTER_TOKEN: 'not-the-token',
    });
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /refused the token \(HTTP 403 Forbidden\)/);
    assert.match(r.stderr, /JUPYTER_TOKEN/);
  });

  it('eval --jupyter-url: every sample runs in its own kernel on the server, all shut down after', async () => {
    const file = path.join(tmp, 'mini.jsonl');
    const c2 = circlesImage({ green: 3, red: 1, seed: 5 });
    writeEvalJsonl(file, [
      { dataSource: 'vstar', question: circlesQuestion('red'), answer: '5', image: circles.png },
      { dataSource: 'chart', question: circlesQuestion('green'), answer: '3', image: c2.png },
    ]);
    const save = path.join(tmp, 'save');
    const r = await cli(
      [
        'eval',
        '--model-name',
        'rj',
        '--api-url',
        fm.baseUrl,
        '--data-path',
        file,
        '--save-path',
        save,
        '--num-workers',
        '2',
        '--no-judge',
        '--jupyter-url',
        srv.url,
      ],
      { JUPYTER_TOKEN: srv.token },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`kernels on the Jupyter server at ${srv.url}`));
    assert.match(r.stderr, /^sandbox: Python cells run unsandboxed: remote kernel/m);
    const manifest = JSON.parse(readFileSync(path.join(save, 'rj', 'manifest_rj_mini.json'), 'utf8'));
    assert.equal(manifest.cells.label, 'unsandboxed: remote kernel', 'the manifest records where the cells ran');
    const recs = readFileSync(path.join(save, 'rj', 'result_rj_mini.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(recs.length, 2);
    assert.ok(
      recs.every((x) => x.acc === 1),
      JSON.stringify(recs.map((x) => x.acc)),
    );
    assert.deepEqual(await kernelIds(srv), []);
  });
});
