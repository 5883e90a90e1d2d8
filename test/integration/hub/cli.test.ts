/**
 * `codedance data benchmark`, `codedance data fetch` and `codedance eval --benchmark` as a user
 * runs them (the built dist/cli.js), against the fixture Hub on 127.0.0.1 through HF_ENDPOINT,
 * serving the catalog's V* set shaped as its repository holds it (test/fixtures/benchmarks/hub):
 * as `craigwu/vstar_bench`, its 3 fixture rows repeated to the catalog's 191 (the built-in entry,
 * its converter, `eval --benchmark vstar`); as `org/my-vstar`, the 3 rows (a user entry,
 * `--benchmarks FILE`). The built-in entry over the 3-row copy is the row-count error.
 */
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CATALOG } from '../../../src/core/benchmarks';
import { parquetInfo } from '../../../src/core/data/parquet';
import { HUB_FIXTURES, VSTAR_ROWS } from '../../fixtures/benchmarks/hubFixtures';
import { CLI, runCli, type CliRun } from '../../fixtures/cli';
import { startFixtureModel, type FixtureModel } from '../../fixtures/fixtureModel';
import { startHubServer, type HubServer } from '../../fixtures/hub-server';

const VSTAR_COMMIT = 'd9ae62c903da0c98336e85c5ee89cd863b04b4da';
const RL_COMMIT = '0123456789abcdef0123456789abcdef01234567';
/** the user entry's set at a later commit (another fixture repository: the fixture Hub serves one commit per repository) */
const NEXT_COMMIT = 'abcdef0123456789abcdef0123456789abcdef01';
const TOKEN = 'hf_cliFixtureToken7788';
const PYTHON = process.env.CODEDANCE_TEST_PYTHON ?? '/usr/bin/python3';

/** Every file under `dir`, as repository paths → bytes. */
function tree(dir: string, prefix = ''): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) Object.assign(out, tree(p, `${prefix}${e.name}/`));
    else out[`${prefix}${e.name}`] = readFileSync(p);
  }
  return out;
}

/** The V* fixture with its rows repeated to the catalog's 191 (each its own question_id). */
function vstar191(): Record<string, Buffer> {
  const files = tree(path.join(HUB_FIXTURES, 'craigwu/vstar_bench'));
  const lines = Array.from({ length: 191 }, (_, i) => JSON.stringify({ ...VSTAR_ROWS[i % VSTAR_ROWS.length], question_id: i }));
  return { ...files, 'test_questions.jsonl': Buffer.from(`${lines.join('\n')}\n`) };
}

/** A user entry over the 3-row V* fixture: the same files and references. */
const MY_VSTAR = {
  name: 'my_vstar',
  title: 'V* (fixture copy)',
  repo: 'org/my-vstar',
  revision: VSTAR_COMMIT,
  files: ['test_questions.jsonl'],
  references: { file: 'test_questions.jsonl', field: 'image' },
  license: 'fixture',
  rows: 3,
  scoring: 'judge',
  dataSource: 'vstar',
  columns: { question: 'text', answer: 'label', image: 'image', id: 'question_id' },
};

describe('codedance data benchmark / data fetch / eval --benchmark (CLI, fixture Hub on 127.0.0.1)', function () {
  this.timeout(120_000);
  let hub: HubServer;
  let tmp: string;
  let env: Record<string, string | undefined>;
  let userFile: string;
  const cli = (args: string[], more: Record<string, string | undefined> = {}): Promise<CliRun> => runCli(args, { ...env, ...more });

  before(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' first (npm test does it)`);
    hub = await startHubServer({
      repos: [
        { id: 'craigwu/vstar_bench', commit: VSTAR_COMMIT, files: vstar191() },
        { id: 'org/my-vstar', commit: VSTAR_COMMIT, files: tree(path.join(HUB_FIXTURES, 'craigwu/vstar_bench')) },
        { id: 'org/my-vstar-next', commit: NEXT_COMMIT, files: tree(path.join(HUB_FIXTURES, 'craigwu/vstar_bench')) },
        {
          id: 'org/rl',
          commit: RL_COMMIT,
          files: {
            'README.md': '# rl\n',
            'data/train-00000-of-00002.parquet': Buffer.alloc(3000, 1),
            'data/train-00001-of-00002.parquet': Buffer.alloc(3000, 2),
          },
          gatedFor: [TOKEN],
        },
      ],
    });
  });
  after(() => hub.close());
  beforeEach(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-hubcli-'));
    env = { HF_ENDPOINT: hub.url, HF_HOME: path.join(tmp, 'hf'), HF_TOKEN: undefined, HF_HUB_OFFLINE: undefined, HF_HUB_CACHE: undefined };
    userFile = path.join(tmp, 'benchmarks.json');
    writeFileSync(userFile, JSON.stringify([MY_VSTAR]));
    hub.requests.length = 0;
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it('--list --json: [{name, repo, revision (40-hex, null when not pinned), rows, scoring}] for the whole catalog', async () => {
    const r = await cli(['data', 'benchmark', '--list', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const list = JSON.parse(r.stdout) as Record<string, unknown>[];
    assert.deepEqual(
      list.map((x) => x.name),
      CATALOG.map((e) => e.name),
    );
    for (const x of list) {
      assert.deepEqual(Object.keys(x), ['name', 'repo', 'revision', 'rows', 'scoring']);
      assert.ok(x.revision === null || /^[0-9a-f]{40}$/.test(String(x.revision)), String(x.revision));
      assert.ok(Number.isInteger(x.rows) && (x.rows as number) > 0);
      assert.ok(x.scoring === 'judge' || x.scoring === 'math');
    }
    assert.deepEqual(list[0], { name: 'vstar', repo: 'craigwu/vstar_bench', revision: VSTAR_COMMIT, rows: 191, scoring: 'judge' });
    const human = await cli(['data', 'benchmark', '--list']);
    assert.match(
      human.stdout,
      /^NAME +ROWS +SCORING +REPOSITORY +REVISION +ACCESS\nvstar +191 +judge +craigwu\/vstar_bench +d9ae62c903da +open\n/,
    );
  });

  it('NAME: downloads into the cache, converts once, then reuses the converted file (also offline)', async () => {
    const r = await cli(['data', 'benchmark', 'my_vstar', '--benchmarks', userFile]);
    assert.equal(r.code, 0, r.stderr);
    const parquet = path.join(tmp, 'hf', 'assets', 'codedance', 'benchmarks', 'converted', `my_vstar-${VSTAR_COMMIT}.parquet`);
    assert.match(
      r.stdout,
      new RegExp(`^my_vstar: 3 rows in ${parquet} \\(converted now from org/my-vstar@${VSTAR_COMMIT}; \\d+ bytes downloaded\\)`),
    );
    assert.match(r.stderr, /my_vstar: downloading \(org\/my-vstar@d9ae62c\)/);
    assert.equal((await parquetInfo(parquet)).rowCount, 3);
    const snap = path.join(tmp, 'hf', 'hub', 'datasets--org--my-vstar', 'snapshots', VSTAR_COMMIT);
    assert.deepEqual(
      readdirSync(path.join(snap, 'direct_attributes')).sort(),
      ['sa_4690.jpg', 'sa_86101.jpg'],
      'the images it names, fetched',
    );
    hub.requests.length = 0;
    const again = await cli(['data', 'benchmark', 'my_vstar', '--benchmarks', userFile, '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(JSON.parse(again.stdout), {
      name: 'my_vstar',
      parquet,
      rows: 3,
      revision: VSTAR_COMMIT,
      reused: true,
      downloaded: 0,
      source: `org/my-vstar@${VSTAR_COMMIT}`,
    });
    assert.deepEqual(hub.requests, []);
    // converted file gone, offline: converted again from the cache, not one request
    rmSync(parquet);
    const offline = await cli(['data', 'benchmark', 'my_vstar', '--benchmarks', userFile], { HF_HUB_OFFLINE: '1' });
    assert.equal(offline.code, 0, offline.stderr);
    assert.match(offline.stdout, /converted now/);
    assert.deepEqual(hub.requests, []);
  });

  it('offline with nothing cached: exit 2, naming the file and how to fetch it', async () => {
    const r = await cli(['data', 'benchmark', 'my_vstar', '--benchmarks', userFile], { HF_HUB_OFFLINE: '1' });
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /HF_HUB_OFFLINE is set and test_questions\.jsonl of datasets\/org\/my-vstar at d9ae62c9.* is not in the Hugging Face cache .* — unset HF_HUB_OFFLINE and run `codedance data benchmark my_vstar` once with the network on, or convert an offline copy with --from DIR/,
    );
  });

  it('NAME --from DIR --out FILE: converts an offline copy, no request; the built-in entry with other row counts is refused', async () => {
    const out = path.join(tmp, 'v.parquet');
    const dir = path.join(HUB_FIXTURES, 'craigwu/vstar_bench');
    const r = await cli(['data', 'benchmark', 'my_vstar', '--benchmarks', userFile, '--from', dir, '--out', out, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { parquet: string; rows: number; source: string; reused: boolean };
    assert.deepEqual([j.parquet, j.rows, j.source, j.reused], [out, 3, dir, false]);
    assert.equal((await parquetInfo(out)).rowCount, 3);
    assert.deepEqual(hub.requests, []);
    const bad = await cli(['data', 'benchmark', 'vstar', '--from', dir, '--out', path.join(tmp, 'x.parquet')]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /vstar \(craigwu\/vstar_bench@d9ae62c903da\) has 3 rows .*expected 191/);
    assert.ok(!existsSync(path.join(tmp, 'x.parquet')), 'no file on a row-count error');
  });

  it('data fetch: the RL files into the cache (gated: the token as Bearer, never printed), and the template’s train/val files', async () => {
    const denied = await cli(['data', 'fetch', 'org/rl']);
    assert.equal(denied.code, 2);
    assert.match(
      denied.stderr,
      new RegExp(
        `datasets/org/rl is gated or private \\(HTTP 401\\) and no Hugging Face token was sent — open ${hub.url}/datasets/org/rl and accept its terms`,
      ),
    );
    hub.requests.length = 0;
    const r = await cli(['data', 'fetch', 'org/rl', '--json'], { HF_TOKEN: TOKEN });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes(TOKEN) && !r.stderr.includes(TOKEN));
    assert.ok(hub.requests.filter((x) => x.server === 'hub').every((x) => x.authorization === `Bearer ${TOKEN}`));
    const j = JSON.parse(r.stdout) as {
      dir: string;
      files: string[];
      train_files: string[];
      val_files: string[];
      template_flags: string[];
      note?: string;
    };
    const snap = path.join(tmp, 'hf', 'hub', 'datasets--org--rl', 'snapshots', RL_COMMIT);
    assert.equal(j.dir, snap);
    assert.deepEqual(j.train_files, [`${snap}/data/train-00000-of-00002.parquet`, `${snap}/data/train-00001-of-00002.parquet`]);
    assert.deepEqual(j.val_files, []);
    assert.deepEqual(j.template_flags, [`--train-files ${j.train_files.join(',')}`]);
    assert.match(j.note ?? '', /no validation split was fetched/);
    // --to DIR: the same files there (hard links: no second copy)
    const to = path.join(tmp, 'rl');
    const linked = await cli(['data', 'fetch', 'org/rl', '--to', to], { HF_TOKEN: TOKEN });
    assert.equal(linked.code, 0, linked.stderr);
    assert.match(
      linked.stdout,
      new RegExp(`data\\.train_files: ${to}/data/train-00000-of-00002\\.parquet,${to}/data/train-00001-of-00002\\.parquet`),
    );
    assert.match(linked.stdout, /RL template: codedance jobs submit --template codedance-rl --train-files /);
    assert.equal(statSync(path.join(to, 'data/train-00000-of-00002.parquet')).nlink, 2);
  });

  describe('eval --benchmark (fixture VLM, real kernel)', () => {
    let fm: FixtureModel;
    before(async () => (fm = await startFixtureModel()));
    after(() => fm.close());

    it('--benchmark vstar: the built-in entry fetched at its pinned commit, converted, then evaluated', async () => {
      const save = path.join(tmp, 'save');
      const base = ['eval', '--api-url', fm.baseUrl, '--save-path', save, '--model-name', 'm', '--no-judge', '--num-workers', '2'];
      const run = { CODEDANCE_PYTHON: PYTHON, CODEDANCE_BASE_URL: undefined, OPENAI_API_KEY: undefined, CODEDANCE_API_KEY: undefined };
      const r = await cli([...base, '--benchmark', 'vstar', '--limit', '2'], run);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /vstar: downloading \(craigwu\/vstar_bench@d9ae62c\)/);
      assert.match(r.stderr, /vstar: converting 191 rows/);
      const results = readFileSync(path.join(save, 'm', `result_m_vstar-${VSTAR_COMMIT}.jsonl`), 'utf8')
        .trim()
        .split('\n');
      assert.equal(results.length, 2);
      assert.deepEqual(
        results.map((l) => (JSON.parse(l) as { codedance: { data_source: string } }).codedance.data_source),
        ['vstar', 'vstar'],
      );
      // the run manifest names the set and the commit its rows come from (the converted parquet's metadata)
      const manifest = JSON.parse(readFileSync(path.join(save, 'm', `manifest_m_vstar-${VSTAR_COMMIT}.json`), 'utf8'));
      assert.deepEqual(manifest.benchmark, { name: 'vstar', repo: 'craigwu/vstar_bench', revision: VSTAR_COMMIT });
      const both = await cli([...base, '--data-path', 'x.parquet', '--benchmark', 'vstar'], run);
      assert.equal(both.code, 2);
      assert.match(both.stderr, /give --data-path FILE or --benchmark NAME\[,NAME\]/);
      const unpinned = CATALOG.find((e) => !/^[0-9a-f]{40}$/.test(e.revision));
      if (unpinned) {
        const u = await cli([...base, '--benchmark', unpinned.name], run);
        assert.equal(u.code, 2);
        assert.match(u.stderr, new RegExp(`${unpinned.name} \\(${unpinned.repo}\\) is not pinned to a commit`));
      }
    });

    it('eval table: sets that share a data_source are rows of their own; one set at two revisions is flagged', async () => {
      const save = path.join(tmp, 'save');
      const base = ['eval', '--api-url', fm.baseUrl, '--save-path', save, '--no-judge', '--num-workers', '2', '--quiet'];
      const run = { CODEDANCE_PYTHON: PYTHON, CODEDANCE_BASE_URL: undefined, OPENAI_API_KEY: undefined, CODEDANCE_API_KEY: undefined };
      // my_vstar (a user entry, data_source vstar like the built-in V*) at two commits, converted with `data benchmark`
      const nextFile = path.join(tmp, 'next.json');
      writeFileSync(nextFile, JSON.stringify([{ ...MY_VSTAR, repo: 'org/my-vstar-next', revision: NEXT_COMMIT }]));
      const converted = async (file: string) => {
        const r = await cli(['data', 'benchmark', 'my_vstar', '--benchmarks', file, '--json']);
        assert.equal(r.code, 0, r.stderr);
        return (JSON.parse(r.stdout) as { parquet: string }).parquet;
      };
      const [mine, next] = [await converted(userFile), await converted(nextFile)];
      for (const [model, data] of [
        ['m', mine],
        ['m2', next],
      ]) {
        const v = await cli([...base, '--model-name', model, '--benchmark', 'vstar', '--limit', '2'], run);
        assert.equal(v.code, 0, v.stderr);
        const d = await cli([...base, '--model-name', model, '--data-path', data], run);
        assert.equal(d.code, 0, d.stderr);
      }
      const r = await cli(['eval', 'table', path.join(save, 'm'), path.join(save, 'm2'), '--json']);
      assert.equal(r.code, 0, r.stderr);
      const t = JSON.parse(r.stdout) as {
        benchmarks: string[];
        cells: { benchmark: string; run: number; n: number; settings: { revision: string } }[];
        flags: { benchmark: string; kind: string; field?: string; message: string }[];
      };
      assert.deepEqual(t.benchmarks, ['my_vstar', 'vstar', 'all (pooled)'], 'both write data_source vstar');
      assert.deepEqual(
        t.cells.filter((c) => c.benchmark !== 'all (pooled)').map((c) => [c.benchmark, c.run, c.n, c.settings.revision]),
        [
          ['my_vstar', 0, 3, 'org/my-vstar@d9ae62c903da'],
          ['my_vstar', 1, 3, 'org/my-vstar-next@abcdef012345'],
          ['vstar', 0, 2, 'craigwu/vstar_bench@d9ae62c903da'],
          ['vstar', 1, 2, 'craigwu/vstar_bench@d9ae62c903da'],
        ],
      );
      assert.deepEqual(
        t.flags.filter((f) => f.field === 'revision').map((f) => [f.benchmark, f.message]),
        [
          [
            'my_vstar',
            'benchmark revision differs (m: org/my-vstar@d9ae62c903da, m2: org/my-vstar-next@abcdef012345) (its rows come from another commit or repository: questions, images or answers may differ)',
          ],
        ],
      );
      assert.deepEqual(
        t.flags.filter((f) => f.benchmark === 'vstar'),
        [],
        'V* at one commit in both runs',
      );
      const printed = await cli(['eval', 'table', path.join(save, 'm'), path.join(save, 'm2')]);
      assert.match(printed.stdout, /^my_vstar ⚠ /m);
      assert.match(
        printed.stdout,
        /⚠ my_vstar: benchmark revision differs \(m: org\/my-vstar@d9ae62c903da, m2: org\/my-vstar-next@abcdef012345\)/,
      );
    });
  });
});
