/**
 * Hostile cells against the bubblewrap sandbox (sandbox.ts) with a real ipykernel: each attack
 * is blocked or contained, the session goes on (a following cell runs), and no secret of the
 * parent's environment or home appears in any output. Redaction is OFF in the sessions that
 * test the sandbox itself, so a secret could only be missing because it was unreachable.
 *
 * Network checks only ever target a server this test runs on 127.0.0.1.
 */
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { planKernelLaunch, sandboxStatus } from '../../../src/core/kernel/sandbox';
import type { ExecutionResult } from '../../../src/core/kernel/types';
import { disposeAll, newSession, processAlive, PYTHON, waitFor } from './helpers';

const SECRETS = {
  OPENAI_API_KEY: 'sk-test-FAKE-openai-9f8e7d6c5b4a',
  LLM_AS_A_JUDGE_API_KEY: 'judge-FAKE-key-1a2b3c4d5e6f',
  CODEDANCE_RAY_TOKEN: 'ray-FAKE-token-77aa88bb99cc',
  CODEDANCE_SSH_PASSPHRASE: 'FAKE passphrase horse battery',
};
const SSH_KEY = '-----BEGIN OPENSSH PRIVATE KEY-----\nFAKE-ssh-key-material-0123456789\n-----END OPENSSH PRIVATE KEY-----\n';

/** every text of a result, for "no secret anywhere" checks */
function texts(r: ExecutionResult): string {
  return [r.stdout, r.stderr, r.error?.ename ?? '', r.error?.evalue ?? '', ...(r.error?.traceback ?? [])].join('\n');
}

function assertNoSecret(all: string): void {
  for (const v of [...Object.values(SECRETS), 'FAKE-ssh-key-material']) assert.ok(!all.includes(v), `a secret leaked: ${v}`);
}

/** direct children of a host PID (for the fork bomb) */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const n of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = readFileSync(`/proc/${n}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(n));
    } catch {
      /* gone */
    }
  }
  return out;
}

describe('kernel sandbox (bubblewrap): hostile cells', function () {
  this.timeout(180000);
  const saved: Record<string, string | undefined> = {};
  let home: string;
  let server: Server;
  let port: number;
  let outputs = '';

  before(async function () {
    if (!sandboxStatus().available) this.skip(); // unsandboxed hosts: see the "unsandboxed" suite
    home = mkdtempSync(path.join(os.tmpdir(), 'codedance-h8-home-'));
    mkdirSync(path.join(home, '.ssh'));
    writeFileSync(path.join(home, '.ssh', 'id_ed25519'), SSH_KEY, { mode: 0o600 });
    for (const [k, v] of Object.entries({ ...SECRETS, HOME: home })) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
    server = createServer((s) => s.end('hello from the host\n'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });

  after(async () => {
    await disposeAll();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    server?.close();
    if (home) rmSync(home, { recursive: true, force: true });
    assertNoSecret(outputs);
  });

  async function run(s: Awaited<ReturnType<typeof newSession>>, code: string): Promise<ExecutionResult> {
    const r = await s.execute(code, { timeoutMs: 60000 });
    outputs += texts(r);
    return r;
  }

  async function stillAlive(s: Awaited<ReturnType<typeof newSession>>): Promise<void> {
    const r = await run(s, 'print(canary)');
    assert.equal(r.stdout, 'alive\n', `the session did not go on: ${JSON.stringify(r)}`);
  }

  it('printing the environment shows only the allow-list (no secret, no parent PID)', async () => {
    const s = await newSession({ redact: false });
    assert.equal(s.sandboxed, true);
    await run(s, 'canary = "alive"');
    const r = await run(s, 'import os, json\nprint(json.dumps(dict(os.environ)))');
    assert.equal(r.status, 'ok');
    const env = JSON.parse(r.stdout) as Record<string, string>;
    assert.deepEqual(
      Object.keys(env).filter((k) => /KEY|TOKEN|PASS|SECRET/.test(k)),
      [],
    );
    assert.equal(env.HOME, '/tmp/home');
    assert.equal(env.JPY_PARENT_PID, undefined);
    assertNoSecret(r.stdout);
    await stillAlive(s);
  });

  it('/proc shows neither the parent nor its environment', async () => {
    const s = await newSession({ redact: false });
    await run(s, 'canary = "alive"');
    const read = (p: string) => `try:\n    print(open(${p}).read().replace("\\0", " "))\nexcept OSError as e:\n    print(type(e).__name__)`;
    const r = await run(
      s,
      `import os\nprint(os.getppid())\n${read(`"/proc/${process.pid}/environ"`)}\n${read('f"/proc/{os.getppid()}/environ"')}\nprint(sorted(int(p) for p in os.listdir("/proc") if p.isdigit()))`,
    );
    assert.equal(r.status, 'ok', texts(r));
    const lines = r.stdout.split('\n');
    // started anew, its parent is the sandbox's init (1); forked, its waiter, outside the sandbox's PID namespace (0: not visible)
    assert.match(lines[0], /^[01]$/, 'the parent is the sandbox init or invisible, not Node');
    assert.match(lines[1], /FileNotFoundError|PermissionError/);
    assertNoSecret(r.stdout);
    assert.ok(!(JSON.parse(lines[3]) as number[]).includes(process.pid), `the host's processes are visible: ${lines[3]}`);
    // run as root, CodeDance runs the code as nobody, without capabilities
    const who = await run(
      s,
      'import os\nprint(os.getuid(), [l.split()[1] for l in open("/proc/self/status") if l.startswith("CapEff")][0])',
    );
    assert.equal(who.stdout, `${process.getuid?.() === 0 ? 65534 : process.getuid?.()} 0000000000000000\n`);
    await stillAlive(s);
  });

  it('~/.ssh and the real home are not there', async () => {
    const s = await newSession({ redact: false });
    await run(s, 'canary = "alive"');
    const probe = (p: string) => `try:\n    print(open(${JSON.stringify(p)}).read())\nexcept OSError as e:\n    print(type(e).__name__)`;
    for (const p of ['~/.ssh/id_ed25519', path.join(home, '.ssh', 'id_ed25519'), path.join(os.homedir(), '.ssh', 'id_rsa')]) {
      const r = await run(s, `import os\n${probe(p).replace(JSON.stringify(p), `os.path.expanduser(${JSON.stringify(p)})`)}`);
      assert.equal(r.stdout.trim(), 'FileNotFoundError', `${p}: ${r.stdout}`);
    }
    const r = await run(s, `import os\nprint(os.path.exists(${JSON.stringify(home)}), os.listdir(os.path.expanduser("~")))`);
    assert.match(r.stdout, /^False \[/);
    assert.ok(!r.stdout.includes('.ssh'), r.stdout);
    await stillAlive(s);
  });

  it("a TCP server on the host's 127.0.0.1 is unreachable; with network on it is reachable", async () => {
    const s = await newSession({ redact: false });
    await run(s, 'canary = "alive"');
    const connect = `import socket\ns = socket.create_connection(("127.0.0.1", ${port}), timeout=5)\nprint(s.recv(100).decode().strip())`;
    const r = await run(s, connect);
    assert.equal(r.status, 'error');
    assert.match(r.error!.ename, /ConnectionRefusedError|OSError|TimeoutError/);
    await stillAlive(s);
    // the control: the same code reaches the server when the workspace turns network on
    const n = await newSession({ redact: false, network: true });
    const ok = await run(n, connect);
    assert.equal(ok.stdout, 'hello from the host\n', texts(ok));
  });

  it('writes outside the working folder fail or stay inside the sandbox', async () => {
    const s = await newSession({ redact: false });
    await run(s, 'canary = "alive"');
    const escape = path.join(os.tmpdir(), `codedance-h8-escape-${process.pid}`);
    for (const target of ['/usr/local/escape.txt', '/etc/escape.txt', path.join(os.homedir(), 'escape.txt')]) {
      const r = await run(s, `open(${JSON.stringify(target)}, "w").write("x")`);
      assert.equal(r.status, 'error', target);
      assert.match(r.error!.ename, /OSError|PermissionError|FileNotFoundError/);
      assert.equal(existsSync(target), false, target);
    }
    // /tmp is the sandbox's own (a tmpfs): a write there never reaches the host's /tmp
    await run(s, `open(${JSON.stringify(escape)}, "w").write("x")`);
    assert.equal(existsSync(escape), false);
    const w = await run(s, 'open("result.txt", "w").write("kept"); print("ok")');
    assert.equal(w.stdout, 'ok\n');
    assert.equal(readFileSync(path.join(s.workdir, 'result.txt'), 'utf8'), 'kept');
    await stillAlive(s);
  });

  it('a fork bomb is contained (process limit; everything dies with the sandbox)', async () => {
    const s = await newSession({ redact: false, maxProcesses: 128 });
    await run(s, 'canary = "alive"');
    // bounded so that a failure cannot take the machine down: at most 400 sleeping children
    const r = await run(
      s,
      'import os, time\nn, err = 0, None\nfor _ in range(400):\n    try:\n        pid = os.fork()\n    except OSError as e:\n        err = type(e).__name__; break\n    if pid == 0:\n        os.setsid(); time.sleep(120); os._exit(0)\n    n += 1\nprint(n, err)',
    );
    assert.equal(r.status, 'ok', texts(r));
    const [n, err] = r.stdout.trim().split(' ');
    // RLIMIT_NPROC where the plan sets it (everywhere but bwrap without a user namespace, or an
    // old Linux); the PID namespace below is the containment in any case
    const plan = await planKernelLaunch({ python: PYTHON, args: [], workdir: s.workdir, writable: [os.tmpdir()], maxProcesses: 128 });
    if (plan.args.includes('--nproc=128')) {
      assert.ok(Number(n) < 128, `forked ${n}`);
      assert.equal(err, 'BlockingIOError');
    }
    await stillAlive(s);
    const kernelPid = s.pid!;
    const kids = childrenOf(kernelPid);
    assert.ok(kids.length >= Math.min(Number(n), 10), `children seen on the host: ${kids.length}`);
    await s.dispose();
    // setsid() children escape a process-group kill, not the PID namespace
    await waitFor(() => kids.every((p) => !processAlive(p)), 5000, 'the forked children to die with the sandbox');
  });

  it('allocating past memoryLimitMb raises MemoryError; the limit cannot be raised from inside', async () => {
    const s = await newSession({ redact: false, memoryLimitMb: 1024 });
    await run(s, 'canary = "alive"');
    const r = await run(s, 'x = bytearray(2 * 1024**3)');
    assert.equal(r.error?.ename, 'MemoryError');
    const raise = await run(s, 'import resource\nresource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))');
    assert.equal(raise.status, 'error');
    assert.match(raise.error!.evalue, /not allowed to raise maximum limit/);
    await stillAlive(s);
  });

  it('redaction catches a secret the code was given explicitly (stdout, stderr, errors, streamed output)', async () => {
    const streamed: string[] = [];
    const s = await newSession({ env: { PASSED_IN: SECRETS.OPENAI_API_KEY } });
    const r = await s.execute('import os, sys\nv = os.environ["PASSED_IN"]\nprint(v)\nprint(v, file=sys.stderr)\nraise ValueError(v)', {
      onOutput: (e) => e.kind === 'stream' && streamed.push(e.text),
    });
    outputs += texts(r) + streamed.join('');
    assert.equal(r.stdout, '***\n');
    assert.equal(r.stderr, '***\n');
    assert.equal(r.error!.evalue, '***');
    assert.ok(streamed.join('').includes('***'));
  });
});

describe('kernel environment without the sandbox', function () {
  this.timeout(120000);
  after(disposeAll);

  it('is still an allow-list (sandbox off)', async () => {
    const before = process.env.OPENAI_API_KEY;
    process.env.OPENAI_API_KEY = SECRETS.OPENAI_API_KEY;
    try {
      const s = await newSession({ sandbox: 'off', redact: false });
      assert.equal(s.sandboxed, false);
      const r = await s.execute('import os\nprint(sorted(os.environ))\nprint(os.environ.get("OPENAI_API_KEY"))');
      assert.equal(r.status, 'ok');
      assert.ok(r.stdout.endsWith('None\n'), r.stdout);
      assertNoSecret(r.stdout);
    } finally {
      if (before === undefined) delete process.env.OPENAI_API_KEY;
      else process.env.OPENAI_API_KEY = before;
    }
  });
});
