/**
 * The run manifest: written atomically (a kill mid-write leaves the old manifest or the new
 * one, never half of one), and a damaged manifest is reported with its cause and what to do —
 * not a bare SyntaxError.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EvalManifestError, evalPaths, readManifest, resumeManifest, writeJsonAtomic, type RunManifest } from '../../../src/core/eval';
import { CodeDanceError } from '../../../src/core/errors';

const manifest = (over: Partial<RunManifest> = {}): RunManifest => ({
  kind: 'codedance-eval-manifest',
  version: 1,
  model_name: 'm',
  eval_model_name: 'e',
  endpoints: [],
  protocol: 'codedance',
  protocol_template_hash: 'p',
  sampling: {},
  max_turns: 7,
  cell_timeout_ms: 1,
  sample_timeout_ms: 1,
  num_workers: 1,
  data_source: 'default',
  judge: { mode: 'no-judge', prompt_hash: 'h', strict_verdict: false },
  dataset: { file: 'f', stem: 's', format: 'jsonl', rows: 1, sha256: 'x' },
  extension_version: '0',
  node: 'v20',
  started_at: 't0',
  runs: [{ started_at: 't0', ran: 1 }],
  ...over,
});

describe('eval run manifest', function () {
  this.timeout(60_000);
  let tmp: string;
  beforeEach(() => (tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-manifest-'))));
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it('a damaged manifest: the error names the file, its folder, the cause and the fix', () => {
    const paths = evalPaths(tmp, 'm', 'set');
    mkdirSync(paths.dir, { recursive: true });
    assert.equal(readManifest(paths), undefined, 'none yet: a new run');
    writeFileSync(paths.manifest, '{"kind": "codedance-eval-manifest", "runs": [');
    assert.throws(
      () => readManifest(paths),
      (e: unknown) => {
        assert.ok(e instanceof EvalManifestError && e instanceof CodeDanceError);
        assert.equal(e.kind, 'input');
        assert.equal(e.file, paths.manifest);
        assert.match(
          e.message,
          new RegExp(
            `^manifest_m_set\\.json in ${paths.dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not valid JSON \\(.+\\): delete it to start over with the finished samples in result_m_set\\.jsonl kept`,
          ),
        );
        assert.doesNotMatch(e.message, /SyntaxError/);
        return true;
      },
    );
    writeFileSync(paths.manifest, '[1, 2]');
    assert.throws(() => readManifest(paths), /manifest_m_set\.json in .* is not a CodeDance eval manifest .*: delete it to start over/);
    writeJsonAtomic(paths.manifest, manifest());
    assert.equal(readManifest(paths)!.model_name, 'm');
  });

  it('a resume with other settings is refused with what changed and what to do', () => {
    const paths = evalPaths(tmp, 'm', 'set');
    const prev = manifest();
    assert.throws(
      () => resumeManifest(prev, manifest({ eval_model_name: 'other', runs: [] }), paths),
      (e: EvalManifestError) =>
        /belongs to a different run: the model changed \(e -> other\): resume with the same settings/.test(e.message),
    );
    const next = resumeManifest(prev, manifest({ started_at: 't1', runs: [] }), paths);
    assert.equal(next.started_at, 't0');
    assert.equal(next.runs.length, 1);
  });

  it('writeJsonAtomic: a process killed while writing leaves a whole manifest, never a cut one, and no temporary files', async () => {
    const file = path.join(tmp, 'manifest.json');
    writeJsonAtomic(file, { n: -1, pad: '' });
    const script = `
      const { writeJsonAtomic } = require(${JSON.stringify(path.resolve(__dirname, '../../../src/core/eval/manifest.ts'))});
      const pad = 'x'.repeat(4 << 20);
      process.stdout.write('ready\\n');
      for (let n = 0; ; n++) writeJsonAtomic(${JSON.stringify(file)}, { n, pad });
    `;
    for (let round = 0; round < 3; round++) {
      const child = spawn(process.execPath, ['--require', './scripts/registerTs.cjs', '-e', script], {
        cwd: path.resolve(__dirname, '../../..'),
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const exited = new Promise((r) => child.once('exit', r));
      try {
        await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
        // a reader meanwhile always sees a whole file (rename is atomic)
        for (let i = 0; i < 15; i++) {
          await new Promise((r) => setTimeout(r, 7 + round));
          assert.equal(typeof JSON.parse(readFileSync(file, 'utf8')).n, 'number', 'a whole manifest while it is being rewritten');
        }
      } finally {
        child.kill('SIGKILL');
        await exited;
      }
      const v = JSON.parse(readFileSync(file, 'utf8')) as { n: number };
      assert.equal(typeof v.n, 'number', 'the manifest parses after a kill');
    }
    // the killed writer may leave its temporary file; the manifest itself is whole, and the next write is clean
    writeJsonAtomic(file, { n: 'last' });
    assert.equal(JSON.parse(readFileSync(file, 'utf8')).n, 'last');
    const ok = readdirSync(tmp).filter((f) => !f.endsWith('.tmp'));
    assert.deepEqual(ok, ['manifest.json']);
    assert.ok(existsSync(file));
  });
});
