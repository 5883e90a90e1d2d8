import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeExit, sweepStaleFolders } from '../../../src/core/kernel/process';

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
        mkdirSync(rt);
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
});
