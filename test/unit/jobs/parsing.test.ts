import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseClusterProfile } from '../../../src/core/jobs';
import { checkHostKey, verifyHostKey } from '../../../src/core/jobs/knownHosts';
import { makeSubmissionId, normalizeRayAddress, versionAtLeast } from '../../../src/core/jobs/RayJobsBackend';
import { parseSacct, parseScontrol, parseSqueue, scontrolToInfo, slurmStateToStatus } from '../../../src/core/jobs/slurmText';
import { parseSshConfig } from '../../../src/core/jobs/sshConfig';

describe('jobs: Slurm text', () => {
  it('maps Slurm states onto the five statuses', () => {
    const cases: Record<string, string> = {
      PENDING: 'PENDING',
      CONFIGURING: 'PENDING',
      RUNNING: 'RUNNING',
      COMPLETING: 'RUNNING',
      COMPLETED: 'SUCCEEDED',
      CANCELLED: 'STOPPED',
      'CANCELLED by 0': 'STOPPED',
      FAILED: 'FAILED',
      TIMEOUT: 'FAILED',
      OUT_OF_MEMORY: 'FAILED',
      NODE_FAIL: 'FAILED',
      PREEMPTED: 'FAILED',
    };
    for (const [k, v] of Object.entries(cases)) assert.equal(slurmStateToStatus(k), v, k);
  });

  it('reads scontrol show job -o (values with spaces), squeue and sacct lines', () => {
    const line =
      'JobId=42 JobName=rl run UserId=root(0) JobState=CANCELLED Reason=None Dependency=(null) ExitCode=0:15 RunTime=00:00:03 StartTime=2026-11-25T10:56:54 EndTime=2026-11-25T10:56:57 Command=/home/u/.codedance/jobs/rl.sbatch WorkDir=/home/u/my dir StdOut=/home/u/.codedance/jobs/rl-42.out';
    const kv = parseScontrol(line);
    assert.equal(kv.JobName, 'rl run');
    assert.equal(kv.WorkDir, '/home/u/my dir');
    const info = scontrolToInfo(kv);
    assert.deepEqual(
      { id: info.id, status: info.status, raw: info.rawStatus, exit: info.exitCode, log: info.logPath, msg: info.message },
      { id: '42', status: 'STOPPED', raw: 'CANCELLED', exit: 143, log: '/home/u/.codedance/jobs/rl-42.out', msg: undefined },
    );
    assert.equal(info.endTime! - info.startTime!, 3000);
    assert.deepEqual(
      parseSqueue('7|PENDING|w|N/A|N/A|Resources\n8|RUNNING|r|2026-11-25T10:00:00|Unknown|None\njunk\n').map((j) => [
        j.id,
        j.status,
        j.message,
      ]),
      [
        ['7', 'PENDING', 'Resources'],
        ['8', 'RUNNING', undefined],
      ],
    );
    assert.deepEqual(
      parseSacct('9|COMPLETED|x|2026-11-25T10:00:00|2026-11-25T10:00:05|0:0\n9.batch|COMPLETED|batch|||0:0\n').map((j) => [
        j.id,
        j.status,
        j.exitCode,
      ]),
      [['9', 'SUCCEEDED', 0]],
    );
  });
});

describe('jobs: ssh_config and known_hosts', () => {
  it('applies the first matching value per keyword, with patterns and negation', () => {
    const cfg = `# comment\nHost login*.hpc !login9.hpc\n  HostName %h.example.org\n  User alice\n  Port 2222\n  IdentityFile ~/.ssh/hpc_ed25519\nHost *\n  User fallback\n  IdentityFile ~/.ssh/id_rsa\n`;
    const c = parseSshConfig(cfg, 'login1.hpc');
    assert.equal(c.hostName, 'login1.hpc.example.org');
    assert.equal(c.user, 'alice');
    assert.equal(c.port, 2222);
    assert.deepEqual(c.identityFiles, [path.join(os.homedir(), '.ssh/hpc_ed25519'), path.join(os.homedir(), '.ssh/id_rsa')]);
    const neg = parseSshConfig(cfg, 'login9.hpc');
    assert.equal(neg.hostName, undefined);
    assert.equal(neg.user, 'fallback');
  });

  it('matches plain and hashed host names; a different key is CHANGED', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kh-'));
    try {
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'k')]);
      const [type, b64] = readFileSync(path.join(dir, 'k.pub'), 'utf8').split(' ');
      const blob = Buffer.from(b64, 'base64');
      const kh = path.join(dir, 'known_hosts');
      writeFileSync(kh, `[host.example]:2222 ${type} ${b64}\n`);
      execFileSync('ssh-keygen', ['-q', '-H', '-f', kh], { stdio: 'pipe' }); // hash the names, as HashKnownHosts does
      const text = readFileSync(kh, 'utf8');
      assert.match(text, /^\|1\|/);
      assert.equal(checkHostKey(text, '[host.example]:2222', blob), 'known');
      assert.equal(checkHostKey(text, 'host.example', blob), 'unknown');
      assert.equal(
        checkHostKey(text, '[host.example]:2222', Buffer.concat([blob.subarray(0, -1), Buffer.from([blob.at(-1)! ^ 1])])),
        'changed',
      );
      // accept-new appends a line ssh itself accepts
      const kh2 = path.join(dir, 'kh2');
      assert.deepEqual(verifyHostKey({ file: kh2, mode: 'accept-new' }, 'h2', 22, blob), { ok: true, verdict: 'unknown' });
      assert.equal(readFileSync(kh2, 'utf8'), `h2 ${type} ${b64}\n`);
      assert.match(execFileSync('ssh-keygen', ['-F', 'h2', '-f', kh2], { encoding: 'utf8' }), /Host h2 found/);
      assert.deepEqual(verifyHostKey({ file: kh2, mode: 'yes' }, 'h3', 22, blob), { ok: false, verdict: 'unknown' });
      // 'no' accepts an unknown key without saving it, but a CHANGED key is refused in every mode
      const other = Buffer.concat([blob.subarray(0, -1), Buffer.from([blob.at(-1)! ^ 1])]);
      for (const mode of ['yes', 'accept-new', 'no'] as const)
        assert.deepEqual(verifyHostKey({ file: kh2, mode }, 'h2', 22, other), { ok: false, verdict: 'changed' }, mode);
      assert.deepEqual(verifyHostKey({ file: kh2, mode: 'no' }, 'h2', 22, blob), { ok: true, verdict: 'known' });
      assert.deepEqual(verifyHostKey({ file: kh2, mode: 'no' }, 'h4', 22, blob), { ok: true, verdict: 'unknown' });
      assert.equal(readFileSync(kh2, 'utf8'), `h2 ${type} ${b64}\n`, "'no' remembers nothing");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('jobs: Ray helpers, profiles', () => {
  it('normalizes addresses, compares versions, makes submission ids', () => {
    assert.equal(normalizeRayAddress(' head:8265/ '), 'http://head:8265');
    assert.equal(normalizeRayAddress('https://ray.example/dash/'), 'https://ray.example/dash');
    assert.ok(versionAtLeast('2.10.0', '2.2'));
    assert.ok(!versionAtLeast('2.1.9', '2.2'));
    assert.ok(versionAtLeast('3.0.0.dev0', '2.52'));
    assert.match(
      makeSubmissionId('CodeDance RL / 7B!', new Date('2026-01-02T03:04:05Z')),
      /^codedance-rl-7b-20260102-030405-[a-z0-9]{1,4}$/,
    );
  });

  it('checks cluster profiles from settings and names what is wrong', () => {
    assert.deepEqual(parseClusterProfile({ name: 'r', kind: 'ray', address: 'http://h:8265' }), {
      name: 'r',
      kind: 'ray',
      address: 'http://h:8265',
    });
    assert.equal(parseClusterProfile({ name: 's', kind: 'slurm', host: 'hpc', port: 22 }).kind, 'slurm');
    assert.throws(() => parseClusterProfile({ kind: 'ray' }), /needs a "name"/);
    assert.throws(() => parseClusterProfile({ name: 'r', kind: 'ray' }), /needs "address"/);
    assert.throws(() => parseClusterProfile({ name: 's', kind: 'slurm', host: 'h', port: 70000 }), /port/);
    assert.throws(() => parseClusterProfile({ name: 'k', kind: 'k8s' }), /"ray" or "slurm"/);
  });
});
