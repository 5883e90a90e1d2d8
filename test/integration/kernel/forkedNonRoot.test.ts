/**
 * Forked kernels when CodeDance is not root (forkTemplate.ts, forkLaunch.ts, fork/template.py):
 * bwrap then makes each sandbox in a user namespace of its own, and the template's fork must
 * enter the outer one, the others, then the inner one, and give up what it holds there. Run as
 * root, the test starts Node as an unprivileged user (CODEDANCE_TEST_NONROOT_UID, default 65534,
 * nobody) on fixtures/forkedProbe.ts, which starts kernels forked and anew and probes each; the
 * probes must be the same (PIDs aside). Then the same user's Node under a seccomp policy that
 * refuses setns: the fork fails for a structural reason, the key is marked broken, and kernels
 * start anew. Skipped, with the reason in the title, where it cannot run.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findOnPath } from '../../../src/core/kernel/sandboxHost';
import { PYTHON } from './helpers';

const ROOT = path.resolve(__dirname, '../../..');
const UID = Number(process.env.CODEDANCE_TEST_NONROOT_UID ?? 65534);
const FIXTURE = path.join(__dirname, 'fixtures/forkedProbe.ts');

/** Python that makes setns fail with EPERM for itself and what it runs (no_new_privs, a seccomp filter), then runs argv[1:] */
const DENY_SETNS = `
import ctypes, os, platform, struct, sys
arch, nr = {'x86_64': (0xc000003e, 308), 'aarch64': (0xc00000b7, 268)}[platform.machine()]
ins = [(0x20, 0, 0, 4), (0x15, 0, 3, arch), (0x20, 0, 0, 0), (0x15, 0, 1, nr), (0x06, 0, 0, 0x00050001), (0x06, 0, 0, 0x7fff0000)]
prog = ctypes.create_string_buffer(b''.join(struct.pack('<HBBI', *i) for i in ins))
class Fprog(ctypes.Structure):
    _fields_ = [('len', ctypes.c_ushort), ('filter', ctypes.c_void_p)]
libc = ctypes.CDLL(None, use_errno=True)
assert libc.prctl(38, 1, 0, 0, 0) == 0 and libc.prctl(22, 2, ctypes.byref(Fprog(len(ins), ctypes.cast(prog, ctypes.c_void_p))), 0, 0) == 0
os.execvp(sys.argv[1], sys.argv[1:])
`;

interface Run {
  kind: string;
  startError?: string;
  forked?: boolean;
  sandboxed?: boolean;
  startMs?: number;
  probe?: Record<string, unknown> & { status: Record<string, string>; pid?: number; ppid?: number };
  timeout?: { status: string; ename?: string; restarts: number };
  interrupt?: { status: string; ename?: string; restarts: number };
  after?: string;
}
interface Report {
  uid: number;
  forkUnavailable: string | null;
  runs: Run[];
  gone: boolean[];
}

const asUser = ['--reuid', String(UID), '--regid', String(UID), '--clear-groups'];

/** why this cannot run here, or undefined */
function whyNot(setpriv: string | undefined, bwrap: string | undefined): string | undefined {
  if (process.platform !== 'linux') return 'Linux only';
  if (process.getuid?.() !== 0) return 'the test must run as root to start Node as another user';
  if (!setpriv) return 'setpriv is not installed';
  if (!bwrap) return 'bwrap is not installed';
  if (statSync(bwrap).mode & 0o4000) return 'bwrap is setuid: a user who is not root gets no forked kernels (forkLaunch.ts)';
  if (!['x64', 'arm64'].includes(process.arch)) return 'the setns policy below knows x86_64 and aarch64 only';
  const files = ['scripts/registerTs.cjs', 'node_modules/tsx/package.json', 'src/core/kernel/index.ts', path.relative(ROOT, FIXTURE)];
  const readable = spawnSync(setpriv, [...asUser, 'sh', '-c', 'for f do test -r "$f" || exit 1; done', 'sh', ...files], { cwd: ROOT });
  if (readable.status !== 0) return `uid ${UID} cannot read the repository (${files.join(', ')})`;
  const box = spawnSync(
    setpriv,
    [
      ...asUser,
      bwrap,
      '--unshare-user',
      '--unshare-pid',
      '--unshare-net',
      '--ro-bind',
      '/',
      '/',
      '--proc',
      '/proc',
      '--dev',
      '/dev',
      'true',
    ],
    {
      encoding: 'utf8',
    },
  );
  if (box.status !== 0) return `bwrap cannot make a sandbox as uid ${UID} here (${box.stderr.trim() || box.status})`;
  return undefined;
}

/** a base folder every user can reach (os.tmpdir() may be a private one) */
function openBase(): string {
  const reachable = (d: string) =>
    d
      .split(path.sep)
      .map((_, i, parts) => parts.slice(0, i + 1).join(path.sep) || path.sep)
      .every((p) => (statSync(p).mode & 0o001) !== 0);
  return reachable(os.tmpdir()) ? os.tmpdir() : '/tmp';
}

const probeWithoutPids = (r: Run) => ({ ...r.probe, pid: undefined, ppid: undefined });

/** the sandbox as it must be, whichever way the kernel started */
function assertConfined(r: Run): void {
  const p = r.probe!;
  assert.equal(r.sandboxed, true);
  assert.equal(p.uid, UID);
  for (const k of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) assert.equal(p.status[k], '0000000000000000', k);
  assert.equal(p.status.NoNewPrivs, '1');
  assert.equal(p.status.Seccomp, '2');
  assert.equal(p.cwd, '<workdir>');
  assert.equal((p.env as Record<string, string>).PWD, '<workdir>');
  assert.notEqual(p.tcpToHost, true, 'a port on the host 127.0.0.1');
  assert.equal(p.userNamespace, false);
  assert.notEqual((p.writeOutside as Record<string, unknown>)['/'], true);
  assert.deepEqual(r.timeout, { status: 'timeout', ename: 'TimeoutError', restarts: 0 });
  assert.deepEqual(r.interrupt, { status: 'cancelled', ename: 'KeyboardInterrupt', restarts: 0 });
  assert.equal(r.after, '42');
}

describe('forked kernels as a user who is not root (real ipykernel, bwrap in a user namespace)', function () {
  this.timeout(60_000);
  const setpriv = findOnPath('setpriv');
  const bwrap = findOnPath('bwrap');
  let reason: string | undefined;
  let scratch: string | undefined;
  let coldProbe: Record<string, unknown> | undefined;

  before(() => {
    reason = whyNot(setpriv, bwrap);
    if (reason) return;
    scratch = mkdtempSync(path.join(openBase(), 'codedance-nonroot-'));
    for (const d of [scratch, path.join(scratch, 'home'), path.join(scratch, 'tmp')]) {
      mkdirSync(d, { recursive: true, mode: 0o700 });
      chownSync(d, UID, UID);
    }
  });
  after(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  /** the fixture as the user (under `wrap`, a command that runs its arguments), its report */
  function probeAsUser(kinds: string, wrap: string[] = []): Promise<Report> {
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: path.join(scratch!, 'home'),
      TMPDIR: path.join(scratch!, 'tmp'),
      LANG: 'C.UTF-8',
    };
    const args = [...asUser, '--', 'env', '-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...wrap];
    args.push(process.execPath, '--require', path.join(ROOT, 'scripts/registerTs.cjs'), FIXTURE, kinds, PYTHON);
    return new Promise((resolve, reject) =>
      execFile(setpriv!, args, { cwd: ROOT, timeout: 50_000, maxBuffer: 16 << 20 }, (e, stdout, stderr) =>
        e ? reject(new Error(`the probe as uid ${UID} failed: ${e.message}\n${stderr}`)) : resolve(JSON.parse(stdout) as Report),
      ),
    );
  }

  function skipIfNot(ctx: Mocha.Context): void {
    if (!reason) return;
    ctx.test!.title += ` (skipped: ${reason})`;
    ctx.skip();
  }

  it('forks kernels into its sandboxes: what they are and can do is what a new interpreter is and can do', async function () {
    skipIfNot(this);
    const r = await probeAsUser('forked,forked,cold');
    assert.equal(r.uid, UID);
    assert.equal(r.forkUnavailable, null);
    assert.deepEqual(
      r.runs.map((x) => [x.kind, x.startError ?? x.forked]),
      [
        ['forked', true],
        ['forked', true],
        ['cold', false],
      ],
    );
    r.runs.forEach(assertConfined);
    const [a, b, cold] = r.runs.map(probeWithoutPids);
    assert.deepEqual(a, cold);
    assert.deepEqual(b, cold);
    assert.deepEqual(r.gone, [true, true, true], 'every kernel ended with its session');
    coldProbe = cold;
  });

  it('where setns is refused (a seccomp policy on CodeDance), marks the template broken and starts kernels anew', async function () {
    skipIfNot(this);
    const r = await probeAsUser('forked,forked', [PYTHON, '-c', DENY_SETNS]);
    assert.match(r.forkUnavailable ?? '', /could not be forked into its sandbox: PermissionError: \[Errno 1\] setns user/);
    const [first, second] = r.runs;
    // this start fails (or, where the start is retried, comes up anew); the next one is a new interpreter
    if (first.startError) assert.match(first.startError, /could not be forked into its sandbox: PermissionError/);
    else assert.equal(first.forked, false);
    assert.equal(second.startError, undefined);
    assert.equal(second.forked, false);
    assertConfined(second);
    if (coldProbe) assert.deepEqual(probeWithoutPids(second), coldProbe);
  });
});
