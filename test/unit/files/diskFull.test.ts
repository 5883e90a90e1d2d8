/**
 * A full disk (ENOSPC) or a used-up quota (EDQUOT): recognised whatever reports it (Node, the
 * kernel's Python, a saved error), worded with the file, the disk's mount point and the fix,
 * its own exit code — and every writer of results, images and trajectories leaves whole files
 * only: the target as it was, no temporary file, the results lines before the failure kept.
 * The writes are tested on a real full disk (a small tmpfs; root only, else skipped saying so).
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describeError, EXIT, exitCodeFor } from '../../../src/cli/errors';
import { diskFullCode, toErrorInfo } from '../../../src/core/errors';
import { evalPaths, ResultsWriter, runEval, writeJsonAtomic } from '../../../src/core/eval';
import { writeFileAtomic, writeFileAtomicSync } from '../../../src/core/files/atomicWrite';
import { asDiskFull, DiskFullError, formatBytes, mountPointOf } from '../../../src/core/files/diskFull';
import { createTrajectory } from '../../../src/core/trajectory/create';
import { storeImages } from '../../../src/core/trajectory/imageFiles';
import { startFixtureModel } from '../../fixtures/fixtureModel';
import { circlesImage, circlesQuestion } from '../../fixtures/images';
import { writeEvalParquet } from '../../fixtures/parquetWriter';
import { mountTmpfs, type SmallDisk } from '../../fixtures/tmpfs';
import { fixtureEvalOptions } from '../eval/fixtureEval';

const enospc = (file: string) =>
  Object.assign(new Error(`ENOSPC: no space left on device, open '${file}'`), { code: 'ENOSPC', errno: -28 });

/** every file under `dir`, recursively, relative */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => path.relative(dir, path.join(d.parentPath, d.name)));
}

describe('disk full: recognised, worded, its own exit code', () => {
  it('recognises ENOSPC and EDQUOT from Node, Python and saved errors, and nothing else', () => {
    assert.equal(diskFullCode(enospc('/x')), 'ENOSPC');
    assert.equal(diskFullCode(Object.assign(new Error('quota'), { code: 'EDQUOT' })), 'EDQUOT');
    assert.equal(diskFullCode(new Error('wrapped', { cause: enospc('/x') })), 'ENOSPC');
    // the kernel's Python, through a KernelError's message or a trajectory's plain-JSON error
    assert.equal(
      diskFullCode({
        name: 'KernelSessionError',
        message: "the input image could not be prepared: [Errno 28] No space left on device: '/tmp/k/input_image.jpg'",
        kind: 'kernel',
      }),
      'ENOSPC',
    );
    assert.equal(diskFullCode({ message: 'OSError: [Errno 122] Disk quota exceeded' }), 'EDQUOT');
    assert.equal(diskFullCode(Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' })), undefined);
    assert.equal(diskFullCode(undefined), undefined);
    // a bare Node error travels as kind disk-full
    assert.deepEqual(toErrorInfo(enospc('/x')), {
      name: 'Error',
      message: "ENOSPC: no space left on device, open '/x'",
      kind: 'disk-full',
      retryable: false,
      code: 'ENOSPC',
    });
  });

  it('names the file, the mount point and the fix; the CLI words the fix with the command’s flag', () => {
    const full = asDiskFull(enospc('/definitely/not/here/out/trajectory.json'), { file: '/definitely/not/here/out/trajectory.json' })!;
    assert.ok(full instanceof DiskFullError);
    assert.equal(full.kind, 'disk-full');
    const mount = mountPointOf('/definitely/not/here');
    assert.equal(full.details.mount, mount);
    assert.match(
      full.message,
      new RegExp(
        `^cannot write /definitely/not/here/out/trajectory\\.json: no space left on the disk mounted at ${mount} \\(.* free\\) — free space on ${mount}, or write the output to a folder on another disk$`,
      ),
    );
    assert.match(describeError(full, 'ask'), /write the output to a folder on another disk \(--out\)$/);
    assert.match(describeError(full, 'eval'), /\(--save-path\)$/);
    assert.match(describeError(full, 'data'), /\(--out\)$/);
    assert.equal(exitCodeFor(full), EXIT.diskFull);
    assert.equal(exitCodeFor(toErrorInfo(full)), 74);
    assert.equal(describeError(toErrorInfo(full), 'ask'), describeError(full, 'ask'));
    // the kernel's own files (its temporary folder): the fix is TMPDIR, whatever kind reported it
    const py = {
      name: 'KernelSessionError',
      message: "the input image could not be prepared: [Errno 28] No space left on device: '/tmp/codedance-x/input_image.jpg'",
      kind: 'kernel' as const,
    };
    assert.equal(exitCodeFor(py), EXIT.diskFull);
    assert.match(
      describeError(py, 'ask'),
      /^cannot write \/tmp\/codedance-x\/input_image\.jpg: no space left on the disk mounted at .* — free space on .*, or point TMPDIR at a folder on another disk/,
    );
    assert.equal(asDiskFull(new Error('other')), undefined);
    // a model server (or a cluster) whose own disk is full: their error, not this machine's
    const server = {
      name: 'ModelHttpError',
      message: 'HTTP 500 from http://gpu:8000/v1: OSError: [Errno 28] No space left on device',
      kind: 'model-endpoint' as const,
    };
    assert.equal(exitCodeFor(server), EXIT.model);
    assert.equal(asDiskFull(server), undefined);
    assert.equal(describeError(server, 'ask'), server.message);
    assert.match(
      new DiskFullError({ code: 'EDQUOT', role: 'output' }).message,
      /^the disk quota on a disk CodeDance writes to is used up — free disk space, or write the output/,
    );
  });

  it('finds the mount point of a path in /proc/self/mountinfo (escaped names, the longest match)', () => {
    const info = [
      '22 1 8:1 / / rw - ext4 /dev/vda rw',
      '40 22 0:5 / /mnt/my\\040disk rw - tmpfs tmpfs rw',
      '41 22 0:6 / /mnt rw - tmpfs tmpfs rw',
      '',
    ].join('\n');
    assert.equal(mountPointOf('/mnt/my disk/out/a.png', info), '/mnt/my disk');
    assert.equal(mountPointOf('/mnt/other', info), '/mnt');
    assert.equal(mountPointOf('/home/u', info), '/');
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(80 * 1024 ** 3), '80 GiB');
  });
});

describe('disk full: writers on a real full disk (a 64 KiB tmpfs)', function () {
  this.timeout(60_000);
  let disk: SmallDisk;
  before(function () {
    const m = mountTmpfs(64 * 1024);
    if ('skip' in m) {
      console.log(`      (skipped: ${m.skip})`);
      this.skip();
    }
    disk = m as SmallDisk;
  });
  after(() => disk?.unmount());
  let n = 0;
  let dir: string;
  beforeEach(() => {
    dir = path.join(disk.dir, `t${n++}`);
    mkdirSync(dir);
  });
  const big = Buffer.alloc(200 * 1024, 7);

  it('writeFileAtomic: the target stays as it was (absent, or its old bytes), no temporary file, a DiskFullError naming the mount', async () => {
    const f = path.join(dir, 'trajectory.json');
    assert.throws(
      () => writeFileAtomicSync(f, big),
      (e: unknown) =>
        e instanceof DiskFullError &&
        e.details.mount === disk.dir &&
        e.details.file === f &&
        e.message.includes(`free space on ${disk.dir}`),
    );
    assert.deepEqual(readdirSync(dir), []);
    writeFileSync(f, '{"old": true}');
    await assert.rejects(writeFileAtomic(f, big), DiskFullError);
    assert.equal(readFileSync(f, 'utf8'), '{"old": true}');
    assert.deepEqual(readdirSync(dir), ['trajectory.json']);
    // the eval's manifest and stats go the same way
    assert.throws(() => writeJsonAtomic(f, { pad: big.toString('latin1') }), DiskFullError);
    assert.equal(readFileSync(f, 'utf8'), '{"old": true}');
  });

  it('the results file: a line that does not fit is taken back whole; the lines before it stay', () => {
    const f = path.join(dir, 'result_m_set.jsonl');
    const w = new ResultsWriter(f, false);
    try {
      w.append({ index: 0, acc: 1 });
      w.append({ index: 1, acc: 0 });
      assert.throws(
        () => w.append({ index: 2, pad: 'x'.repeat(200 * 1024) }),
        (e: unknown) => e instanceof DiskFullError && e.details.file === f,
      );
      assert.equal(readFileSync(f, 'utf8'), '{"index":0,"acc":1}\n{"index":1,"acc":0}\n', 'no part of the third line');
      w.append({ index: 3, acc: 1 });
    } finally {
      w.close();
    }
    assert.equal(readFileSync(f, 'utf8').split('\n').filter(Boolean).length, 3);
  });

  it('a trajectory’s image files: none half-written, no temporary file', async () => {
    const t = createTrajectory({
      question: 'q',
      model: 'm',
      protocol: 'codedance',
      inputImages: [{ id: 'input-0', mime: 'image/png', data: big.toString('base64'), source: 'input' }],
    });
    await assert.rejects(storeImages(t, path.join(dir, 'images')), DiskFullError);
    assert.deepEqual(filesUnder(dir), []);
  });

  it('an eval whose save folder fills up: exits with DiskFullError, every line whole, and resumes once there is room', async () => {
    const fm = await startFixtureModel();
    try {
      const img = circlesImage({ red: 3, seed: 4 });
      const data = path.join(dir, '..', 'set.parquet');
      if (!existsSync(data))
        writeEvalParquet(
          data,
          Array.from({ length: 40 }, () => ({ dataSource: 'vstar', question: circlesQuestion('red'), answer: '3', image: img.png })),
        );
      const save = path.join(dir, 'save');
      await assert.rejects(
        runEval(fixtureEvalOptions(fm.baseUrl, data, save, { numWorkers: 2 })),
        (e: unknown) => e instanceof DiskFullError && e.details.mount === disk.dir,
      );
      const p = evalPaths(save, 'm', 'set');
      const lines = readFileSync(p.results, 'utf8').split('\n');
      assert.equal(lines.at(-1), '', 'the file ends with a whole line');
      const kept = lines.filter(Boolean).map((l) => JSON.parse(l) as { index: number });
      assert.ok(kept.length > 0 && kept.length < 40, `some samples fit (${kept.length})`);
      assert.ok(!filesUnder(save).some((f) => f.endsWith('.tmp')), filesUnder(save).join(', '));
      JSON.parse(readFileSync(p.manifest, 'utf8'));
      // room again: the rerun keeps every line written and runs the rest
      assert.equal(spawnSync('mount', ['-o', 'remount,size=16m', disk.dir]).status, 0);
      const s = await runEval(fixtureEvalOptions(fm.baseUrl, data, save, { numWorkers: 2 }));
      assert.equal(s.resumed, kept.length);
      assert.equal(s.stats.total_samples, 40);
      assert.equal('skipped_lines' in s.stats.codedance, false);
    } finally {
      await fm.close();
      spawnSync('mount', ['-o', 'remount,size=64k', disk.dir]);
    }
  });
});
