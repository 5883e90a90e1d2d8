import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sweepStaleFolders } from '../../../src/core/kernel/hostFolders';
import { describeExit } from '../../../src/core/kernel/process';

describe('kernel process helpers', () => {
  it('describes exits the way the died-result says them', () => {
    assert.equal(describeExit(3, null), 'exited with code 3');
    assert.equal(describeExit(null, 'SIGSEGV'), 'killed by signal SIGSEGV (segmentation fault)');
    assert.equal(describeExit(null, 'SIGKILL'), 'killed by signal SIGKILL (killed, e.g. by the out-of-memory killer)');
    assert.equal(describeExit(null, 'SIGTERM'), 'killed by signal SIGTERM');
  });

  it('sweeps folders whose owning Node process is gone, and only those', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'codedance-sweep-test-'));
    try {
      const deadPid = spawnSync('true').pid!; // has exited by now
      const mk = (name: string, owner: object | undefined) => {
        const rt = path.join(root, `codedance-rt-${name}`);
        const wd = path.join(root, `codedance-${name}`);
        mkdirSync(rt, { mode: 0o700 });
        mkdirSync(wd);
        if (owner) writeFileSync(path.join(rt, 'owner.json'), JSON.stringify({ ...owner, workdir: wd }));
        return { rt, wd };
      };
      const dead = mk('dead', { nodePid: deadPid });
      const alive = mk('alive', { nodePid: process.ppid });
      const mine = mk('mine', { nodePid: process.pid });
      const foreign = mk('foreign', undefined);
      assert.equal(sweepStaleFolders(root, true), 1);
      assert.ok(!existsSync(dead.rt) && !existsSync(dead.wd));
      for (const x of [alive, mine, foreign]) assert.ok(existsSync(x.rt) && existsSync(x.wd));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('trusts no record a sandbox could have written: public folders, linked records and linked work folders are left alone', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'codedance-sweep-test-'));
    try {
      const deadPid = spawnSync('true').pid!;
      const victim = path.join(root, 'victim', 'codedance-x');
      mkdirSync(victim, { recursive: true });
      writeFileSync(path.join(victim, 'precious'), 'x');
      // 1. a runtime folder others can write (not one we made: ours are 0700)
      const pub = path.join(root, 'codedance-rt-public');
      mkdirSync(pub, { mode: 0o777 });
      writeFileSync(path.join(pub, 'owner.json'), JSON.stringify({ nodePid: deadPid, workdir: victim }));
      // 2. a private runtime folder whose record is a link to a file elsewhere
      const linked = path.join(root, 'codedance-rt-linked');
      mkdirSync(linked, { mode: 0o700 });
      writeFileSync(path.join(root, 'record.json'), JSON.stringify({ nodePid: deadPid, workdir: victim }));
      symlinkSync(path.join(root, 'record.json'), path.join(linked, 'owner.json'));
      // 3. a record whose work folder is a link to the victim
      const viaLink = path.join(root, 'codedance-rt-vialink');
      mkdirSync(viaLink, { mode: 0o700 });
      symlinkSync(victim, path.join(root, 'codedance-wd-link'));
      writeFileSync(path.join(viaLink, 'owner.json'), JSON.stringify({ nodePid: deadPid, workdir: path.join(root, 'codedance-wd-link') }));
      sweepStaleFolders(root, true);
      assert.ok(existsSync(path.join(victim, 'precious')), 'the victim folder survived');
      assert.ok(existsSync(pub) && existsSync(linked), 'folders not private to us are not ours');
      assert.ok(!existsSync(viaLink), 'our own stale runtime folder is removed');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
