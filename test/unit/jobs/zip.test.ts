import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { rayPackageName, zipDirectory, zipEntries } from '../../../src/core/jobs/zip';

/** What Python's zipfile (the reader Ray unpacks working_dir with) sees in a zip. */
const PY_LIST = `
import json, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None  # every CRC checked
print(json.dumps([[i.filename, i.compress_type, len(z.read(i)), oct(i.external_attr >> 16), list(i.date_time), i.create_system] for i in z.infolist()]))
`;

function pyList(file: string): [string, number, number, string, number[], number][] {
  return JSON.parse(execFileSync('python3', ['-c', PY_LIST, file], { encoding: 'utf8' })) as [
    string,
    number,
    number,
    string,
    number[],
    number,
  ][];
}

describe('jobs: zip (fflate)', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'zip-'));
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it('writes zips that unzip -t and python accept: deflated when smaller, else stored, names in the order given', () => {
    const z = zipEntries([
      { name: 'a.txt', data: Buffer.from('hello '.repeat(100)) },
      { name: 'dir/b.bin', data: Buffer.from([0, 1, 2]) },
      { name: 'empty', data: Buffer.alloc(0) },
      { name: 'dir/é ü.py', data: Buffer.from('print("ok")\n'), mode: 0o755 },
    ]);
    const file = path.join(tmp, 't.zip');
    writeFileSync(file, z);
    assert.match(execFileSync('unzip', ['-t', file], { encoding: 'utf8' }), /No errors detected/);
    assert.deepEqual(pyList(file), [
      ['a.txt', 8, 600, '0o100644', [1980, 1, 1, 0, 0, 0], 3],
      ['dir/b.bin', 0, 3, '0o100644', [1980, 1, 1, 0, 0, 0], 3],
      ['empty', 0, 0, '0o100644', [1980, 1, 1, 0, 0, 0], 3],
      ['dir/é ü.py', 0, 12, '0o100755', [1980, 1, 1, 0, 0, 0], 3],
    ]);
  });

  it('zips a folder for Ray: sorted, excludes skipped, modes kept, the same bytes every time', () => {
    const dir = path.join(tmp, 'wd');
    mkdirSync(path.join(dir, 'src'), { recursive: true });
    mkdirSync(path.join(dir, '.git'), { recursive: true });
    mkdirSync(path.join(dir, '__pycache__'), { recursive: true });
    writeFileSync(path.join(dir, 'train.py'), 'import sys\n'.repeat(50));
    writeFileSync(path.join(dir, 'run.sh'), '#!/bin/sh\npython train.py\n');
    chmodSync(path.join(dir, 'run.sh'), 0o755);
    writeFileSync(path.join(dir, '10'), 'ten');
    writeFileSync(path.join(dir, '2'), 'two');
    writeFileSync(path.join(dir, 'src/util.py'), 'x = 1\n');
    writeFileSync(path.join(dir, '.git/HEAD'), 'ref: refs/heads/main\n');
    writeFileSync(path.join(dir, '__pycache__/train.cpython-312.pyc'), 'bytecode');
    const z = zipDirectory(dir);
    assert.ok(z.equals(zipDirectory(dir)), 'deterministic');
    assert.match(rayPackageName(z), /^_ray_pkg_[0-9a-f]{16}\.zip$/);
    const file = path.join(tmp, 'wd.zip');
    writeFileSync(file, z);
    const listed = pyList(file);
    assert.deepEqual(
      listed.map((e) => e[0]),
      ['10', '2', 'run.sh', 'src/util.py', 'train.py'],
    );
    assert.equal(listed.find((e) => e[0] === 'run.sh')?.[3], '0o100755');
    assert.equal(listed.find((e) => e[0] === 'train.py')?.[3], '0o100644');
    // what Ray does with it: extract, and the script is still executable
    const out = path.join(tmp, 'out');
    execFileSync('unzip', ['-q', file, '-d', out]);
    assert.equal(statSync(path.join(out, 'run.sh')).mode & 0o777, 0o755);
    assert.equal(readFileSync(path.join(out, 'src/util.py'), 'utf8'), 'x = 1\n');
  });

  it('refuses a folder over the package limit, naming it', () => {
    const dir = path.join(tmp, 'big');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'noise.bin'), randomBytes(3000));
    assert.throws(() => zipDirectory(dir, { maxBytes: 1000 }), /working_dir .*big zips to \d+ bytes, over Ray's package limit of 1000/);
    assert.throws(() => zipDirectory(dir, { maxBytes: 100 }), /working_dir .*big is larger than 400 bytes/);
  });
});
