/**
 * The kernel-hosts job as text: the batch script (bash -n, its #SBATCH lines, no token in it), the
 * launcher (Python compiles it; its probe answers on this machine), the checks of the settings,
 * the token (HMAC of the nonce under the local key; the key file made private), and what the
 * sandbox labels say of cluster hosts.
 */
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { renderSbatchScript } from '../../../src/core/jobs/slurmText';
import { describeSandbox, isSandboxed, localCellHost, sandboxLabel, type CellHost } from '../../../src/core/kernel/sandboxNotice';
import { kernelLauncherSource } from '../../../src/core/serve/kernelHostLauncher';
import { buildKernelHostsJob, kernelHostsDefaults, kernelHostsProblems } from '../../../src/core/serve/kernelHostsJob';
import { kernelHostsKey, kernelHostsToken, newNonce } from '../../../src/core/serve/kernelHostsToken';

const PY = '/usr/bin/python3';

describe('kernel hosts: the job, the launcher, the token', () => {
  let tmp: string;
  before(() => (tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-kh-unit-'))));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('Slurm: one task per host with its CPUs; bash reads the script; the settings are quoted variables, no token', () => {
    const nonce = newNonce();
    const spec = buildKernelHostsJob(kernelHostsDefaults({ nonce, tasks: 3, cpusPerTask: 2, python: '/opt/py env/bin/python3' }), 'slurm');
    const script = renderSbatchScript(spec, { jobsDir: '/home/me/.codedance/jobs' });
    assert.match(script, /^#SBATCH --ntasks=3$/m);
    assert.match(script, /^#SBATCH --cpus-per-task=2$/m);
    assert.match(script, /^export KH_PYTHON='\/opt\/py env\/bin\/python3'$/m);
    assert.match(script, /^export KH_CAPACITY=2$/m, 'one kernel per CPU by default');
    assert.match(script, new RegExp(`^export KH_NONCE=${nonce}$`, 'm'));
    assert.match(script, /^srun --kill-on-bad-exit=0 --wait=0 "\$SERVE_DIR\/host\.sh"$/m, 'a host that ends leaves the others running');
    assert.doesNotMatch(script, /CODEDANCE_KH_TOKEN=/, 'the token comes only in the environment');
    assert.equal(spec.secretEnv, undefined, 'the caller adds the token as a secret');
    const file = path.join(tmp, 'job.sbatch');
    writeFileSync(file, script);
    execFileSync('bash', ['-n', file]);
    assert.equal(spec.metadata?.kernel_hosts_nonce, nonce);
  });

  it('Ray: the servers in one job on the driver node, on port … port+N−1; bash reads it', () => {
    const spec = buildKernelHostsJob(kernelHostsDefaults({ nonce: newNonce(), tasks: 2, port: 19000 }), 'ray');
    assert.equal(spec.env.KH_PORT, '19000');
    assert.deepEqual([spec.metadata?.serve_port, spec.metadata?.serve_replicas], ['19000', '2']);
    assert.equal(spec.entrypointNumCpus, 8);
    const file = path.join(tmp, 'ray.sh');
    writeFileSync(file, spec.entrypoint);
    execFileSync('bash', ['-n', file]);
  });

  it('refuses settings that cannot work, naming each', () => {
    const p = kernelHostsDefaults({ nonce: 'xyz', tasks: 0, cpusPerTask: 1.5, python: 'py\nrm -rf /', passEnv: ['OK', 'BAD-NAME'] });
    assert.deepEqual(kernelHostsProblems(p), [
      'tasks: a whole number from 1 to 256',
      'cpus-per-task: a whole number from 1 to 1024',
      'python: a command or path on the cluster, on one line',
      'pass-env: environment variable names only',
      'nonce: 16-64 hex digits',
    ]);
    assert.throws(() => buildKernelHostsJob(p, 'slurm'), /kernel hosts: tasks: a whole number/);
  });

  it('the launcher compiles, carries the local sandbox constants, and its probe answers here', () => {
    const src = kernelLauncherSource();
    const file = path.join(tmp, 'launcher.py');
    writeFileSync(file, src);
    execFileSync(PY, ['-m', 'py_compile', file]);
    assert.match(
      src,
      /^NAMESPACES = \["--unshare-pid","--unshare-ipc","--unshare-uts","--unshare-cgroup-try","--die-with-parent","--new-session"\]$/m,
    );
    assert.match(src, /"envNames": \[.*"PATH".*\]/);
    assert.doesNotMatch(src.match(/"envNames": \[.*\]/)![0], /TOKEN|KEY|SECRET|PASSWORD/);
    const r = spawnSync(PY, [file, '--probe'], { encoding: 'utf8', env: { PATH: process.env.PATH, KH_DIR: tmp } });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout.trim(), /^(sandboxed|unsandboxed: .+)$/);
    const noBwrap = spawnSync(PY, [file, '--probe'], { encoding: 'utf8', env: { PATH: '/nonexistent', KH_DIR: tmp } });
    assert.match(noBwrap.stdout.trim(), /^unsandboxed: bubblewrap \(bwrap\) is not installed on /);
  });

  it('the token: HMAC of the nonce under the key; the key from the environment or a private file made once', () => {
    const key = 'ab'.repeat(32);
    const t = kernelHostsToken(key, 'a'.repeat(32));
    assert.match(t, /^[a-f0-9]{64}$/);
    assert.equal(kernelHostsToken(key, 'a'.repeat(32)), t);
    assert.notEqual(kernelHostsToken(key, 'b'.repeat(32)), t);
    assert.notEqual(kernelHostsToken('cd'.repeat(32), 'a'.repeat(32)), t);
    assert.equal(kernelHostsKey({ CODEDANCE_KERNEL_HOSTS_KEY: key.toUpperCase() }), key);
    assert.throws(() => kernelHostsKey({ CODEDANCE_KERNEL_HOSTS_KEY: 'short' }), /32-128 hex digits/);
    const home = path.join(tmp, 'home');
    const made = kernelHostsKey({}, home);
    const file = path.join(home, '.codedance', 'kernel-hosts.key');
    assert.equal(readFileSync(file, 'utf8').trim(), made);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(kernelHostsKey({}, home), made, 'made once, then read');
  });

  it('sandbox labels: a cluster host says what its node applies; several hosts say the weakest', () => {
    const boxed: CellHost = { kind: 'cluster', cluster: 'hpc', host: 'node1:8888', sandboxed: true, network: false };
    const open: CellHost = {
      kind: 'cluster',
      cluster: 'hpc',
      host: 'node2:8888',
      sandboxed: false,
      network: false,
      detail: 'bubblewrap (bwrap) is not installed on node2',
    };
    assert.equal(sandboxLabel(boxed), 'sandboxed');
    assert.equal(sandboxLabel(open), 'unsandboxed: remote kernel');
    assert.match(
      describeSandbox(open),
      /unsandboxed: remote kernel on kernel host node2:8888 of the kernel-hosts job on hpc \(bubblewrap \(bwrap\) is not installed on node2\)/,
    );
    assert.match(describeSandbox(boxed), /bubblewrap sandbox on kernel host node1:8888 .*no network/);
    const both: CellHost = { kind: 'hosts', hosts: [boxed, open] };
    assert.equal(sandboxLabel(both), 'unsandboxed: remote kernel');
    assert.equal(isSandboxed(both), false);
    assert.equal(sandboxLabel({ kind: 'hosts', hosts: [boxed, boxed] }), 'sandboxed');
    assert.equal(isSandboxed({ kind: 'hosts', hosts: [boxed, boxed] }), true);
    const withLocal: CellHost = { kind: 'hosts', hosts: [localCellHost('off'), boxed] };
    assert.equal(sandboxLabel(withLocal), 'unsandboxed: sandbox off');
    assert.match(
      describeSandbox(withLocal),
      /^Python cells run on 2 kernel hosts: \[this machine\]: Python cells run UNSANDBOXED .* \[node1:8888 on hpc\]: /,
    );
  });
});
