/**
 * The host side of the sandbox (issue #21): code in a sandboxed cell must not be able to make
 * CodeDance write, chown, read back or delete anything outside the sandbox. Each test is one of
 * the audit's attacks, run from inside a real sandboxed kernel against victims the sandbox cannot
 * see (a private folder of the test's own); each failed on the code before the fix.
 *   1. links planted where the host writes the next connection file / input files / owner record
 *   2. a child that swaps a folder of the work folder for a link while the host deletes it
 *   3. an ownership record rewritten to point the stale-folder sweep at a victim
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sweepStaleFolders } from '../../../src/core/kernel/hostFolders';
import { KernelPool } from '../../../src/core/kernel/pool';
import { sandboxStatus } from '../../../src/core/kernel/sandbox';
import { disposeAll, newSession, PYTHON } from './helpers';

const PNG_1PX = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC', 'base64');

/** a folder the sandbox cannot see (the host's /tmp is hidden behind an empty tmpfs) with files to protect */
function makeVictim(names: string[]): { dir: string; check: () => string[] } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'victim-'));
  for (const n of names) writeFileSync(path.join(dir, n), `precious ${n}`, { mode: 0o600 });
  const owner = statSync(dir).uid;
  return {
    dir,
    /** what happened to the victims: empty when nothing did */
    check: () =>
      names.flatMap((n) => {
        const f = path.join(dir, n);
        if (!existsSync(f)) return [`${n} deleted`];
        const st = statSync(f);
        const bad = [];
        if (readFileSync(f, 'utf8') !== `precious ${n}`) bad.push(`${n} overwritten`);
        if (st.uid !== owner) bad.push(`${n} chowned to ${st.uid}`);
        if ((st.mode & 0o777) !== 0o600) bad.push(`${n} chmodded`);
        return bad;
      }),
  };
}

describe('kernel sandbox: the host never acts on a path the sandboxed code can change', function () {
  this.timeout(120_000);
  const victims: string[] = [];
  before(function () {
    if (!sandboxStatus().available) this.skip();
  });
  afterEach(async () => {
    await disposeAll();
    for (const v of victims.splice(0)) rmSync(v, { recursive: true, force: true });
  });

  it('links planted next to the connection file, the inputs and the owner record are never written through', async () => {
    const names = ['target'];
    const v = makeVictim(names);
    victims.push(v.dir);
    const s = await newSession({ sandbox: 'on' });
    await s.setInputImages([PNG_1PX], { resize: 'none' });
    const target = path.join(v.dir, 'target');
    // every name the host ever writes in the runtime folder (old layout and new), next to the
    // connection file and one level up, becomes a link to the victim
    const plant = await s.execute(
      [
        'import os, glob',
        'from ipykernel.connect import get_connection_file',
        'here = os.path.dirname(get_connection_file())',
        `names = ["owner.json", "kernel.json"] + [f"kernel-{i}.json" for i in range(1, 9)] + [f"k-{i}" for i in range(1, 9)] + [f"links-{i}" for i in range(1, 9)] + [f"input-{i}.bin" for i in range(1, 9)] + [f"input-{b}-{i}.bin" for b in range(1, 5) for i in range(1, 4)]`,
        'made = 0',
        'for d in {here, os.path.dirname(here), os.path.join(os.path.dirname(here), "in"), os.path.join(here, "ipc")}:',
        '    for n in names:',
        '        p = os.path.join(d, n)',
        '        try:',
        '            if os.path.lexists(p): os.remove(p)',
        `            os.symlink(${JSON.stringify(target)}, p); made += 1`,
        '        except OSError: pass',
        'print("planted", made)',
      ].join('\n'),
    );
    assert.equal(plant.status, 'ok', plant.stderr + (plant.error?.evalue ?? ''));
    // the kernel dies; the session starts the next one (new connection file) and binds the inputs again
    const died = await s.execute('import os; os._exit(1)');
    assert.equal(died.status, 'died');
    const restarted = await s.setInputImages([PNG_1PX, PNG_1PX], { resize: 'none' }).then(
      () => 'ok',
      (e: Error) => e.message,
    );
    assert.deepEqual(v.check(), []);
    assert.equal(restarted, 'ok');
    const after = await s.execute('print(input_image.size)');
    assert.equal(after.stdout.trim(), '(1, 1)');
  });

  it('a child swapping folders for links while the session ends deletes nothing outside', async () => {
    const names = Array.from({ length: 3000 }, (_, i) => `f${i}`);
    const v = makeVictim(names);
    victims.push(v.dir);
    // the pool as an eval uses it; release() ends the sample (whatever a pool once did with it)
    const pool = new KernelPool({ python: PYTHON, size: 0, sandbox: 'on', recycle: true } as ConstructorParameters<typeof KernelPool>[0]);
    try {
      const s = await pool.acquire();
      // a folder of many files that turns into a link to the victim as soon as something starts
      // deleting it: a delete that walks it by path then deletes the victim's files
      const swapper = [
        'import os, time',
        `while len(os.listdir("a")) >= ${names.length}: time.sleep(0.0005)`,
        'os.rename("a", "a_real")',
        `os.symlink(${JSON.stringify(v.dir)}, "a")`,
        'time.sleep(60)',
      ].join('\n');
      const r = await s.execute(
        `import os, subprocess, sys\nos.makedirs("a")\nfor n in ${JSON.stringify(names)}: open(os.path.join("a", n), "w").close()\nsubprocess.Popen([sys.executable, "-c", ${JSON.stringify(swapper)}], start_new_session=True)\nprint("started")`,
      );
      assert.equal(r.stdout.trim(), 'started', r.stderr);
      await new Promise((res) => setTimeout(res, 300));
      await pool.release(s);
      await new Promise((res) => setTimeout(res, 300));
      assert.deepEqual(v.check(), []);
    } finally {
      await pool.dispose();
    }
  });

  it('an ownership record the code rewrites cannot aim the stale-folder sweep at a victim', async () => {
    const v = makeVictim(['precious']);
    victims.push(v.dir);
    const victim = path.join(v.dir, 'codedance-victim');
    mkdirSync(victim);
    writeFileSync(path.join(victim, 'precious'), 'x');
    const deadPid = spawnSync('true').pid!;
    const s = await newSession({ sandbox: 'on' });
    const r = await s.execute(
      [
        'import os, json',
        'from ipykernel.connect import get_connection_file',
        'here = os.path.dirname(get_connection_file())',
        'n = 0',
        'for d in (here, os.path.dirname(here)):',
        '    p = os.path.join(d, "owner.json")',
        '    try:',
        '        if os.path.lexists(p): os.remove(p)',
        `        open(p, "w").write(json.dumps({"nodePid": ${deadPid}, "workdir": ${JSON.stringify(victim)}})); n += 1`,
        '    except OSError: pass',
        'print(n)',
      ].join('\n'),
    );
    assert.equal(r.status, 'ok', r.stderr);
    // what the next run does after this one was killed: sweep the stale folders
    sweepStaleFolders(os.tmpdir(), true);
    assert.ok(existsSync(path.join(victim, 'precious')), 'the sweep deleted a folder the code named');
    // the record the host keeps still names this session's own work folder
    const records = readdirSync(os.tmpdir())
      .filter((n) => n.startsWith('codedance-rt-'))
      .map((n) => path.join(os.tmpdir(), n, 'owner.json'))
      .filter((f) => existsSync(f))
      .map((f) => JSON.parse(readFileSync(f, 'utf8')) as { nodePid: number; workdir: string });
    assert.ok(
      records.some((o) => o.workdir === s.workdir && o.nodePid === process.pid),
      'our record is intact',
    );
  });
});
