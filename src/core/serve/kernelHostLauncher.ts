/**
 * The kernel launcher of a kernel-hosts job (kernelHostsJob.ts): a Python program that a Jupyter
 * Server on a cluster node runs as its `codedance` kernelspec (`python launcher.py
 * {connection_file}`). It applies there what `planKernelLaunch` (kernel/sandbox.ts) applies to a
 * local kernel, with the same constants: the namespaces (`NAMESPACES`), the folders hidden behind
 * empty tmpfs (`HIDDEN_FOLDERS`) plus the job's own folder, the interpreter's folders bound back
 * read-only, the environment's allow-list (`KERNEL_ENV_NAMES`), a fresh HOME, no network unless
 * asked, the address-space limit (min(8192, half the RAM) MiB when none is set, none on a node
 * with an NVIDIA GPU: `defaultMemoryLimitMb`, `automaticMemoryLimitMb`), root's capabilities
 * dropped, `--die-with-parent`.
 *
 * No network: the kernel's ZeroMQ sockets cannot be TCP across the namespace, so the server runs
 * with `--KernelManager.transport=ipc`. The server's connection file names socket paths beside
 * every other kernel's connection file; the kernel must see none of those (each holds a kernel's
 * HMAC key). The launcher makes a private folder per kernel, writes the kernel's connection file
 * there with the socket paths moved into it, binds only that folder into the sandbox, and puts a
 * symbolic link at each path the server connects to (ZeroMQ follows it, and retries until the
 * kernel has bound its socket).
 *
 * `--probe` says whether bubblewrap works on this node (`sandboxed`, or `unsandboxed: why`): the
 * task writes it where CodeDance reads it, and the eval's sandbox label says it. Where it does
 * not work ('auto'), kernels run unsandboxed with the same allow-listed environment; 'on' makes
 * the task fail instead.
 */
import { KERNEL_ARGS } from '../kernel/launch';
import { KERNEL_ENV_NAMES } from '../kernel/kernelEnvironment';
import { NAMESPACES } from '../kernel/sandboxHost';
import { HIDDEN_FOLDERS } from '../kernel/sandboxMounts';

const LAUNCHER = String.raw`
import ctypes, json, os, resource, shutil, signal, subprocess, sys, tempfile

def bwrap():
    for d in os.environ.get("PATH", "/usr/bin:/bin").split(":"):
        p = os.path.join(d or ".", "bwrap")
        if d and os.access(p, os.X_OK):
            return p
    return None

def root_caps():
    return ["--cap-drop", "ALL"] if os.getuid() == 0 else []

def probe():
    b = bwrap()
    if not b:
        return "unsandboxed: bubblewrap (bwrap) is not installed on " + os.uname().nodename
    args = [b] + NAMESPACES + ["--unshare-net"] + root_caps() + ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--", "true"]
    r = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30)
    if r.returncode == 0:
        return "sandboxed"
    why = (r.stderr.decode("utf-8", "replace").strip().split("\n") or [""])[0] or "exit code %d" % r.returncode
    return "unsandboxed: bwrap cannot create namespaces on %s (%s)" % (os.uname().nodename, why)

def kernel_env(home):
    names = set(CONF["envNames"])
    passed = set(CONF["passEnv"])
    env = {k: v for k, v in os.environ.items() if k.upper() in names or k.startswith("LC_") or k in passed}
    env["HOME"] = home
    if home == "/tmp/home":
        env["TMPDIR"] = "/tmp"
    return env

def memory_limit_mb():
    if CONF["memoryLimitMb"] is not None:
        return CONF["memoryLimitMb"]
    if os.path.exists("/dev/nvidiactl"):
        return 0
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return max(512, min(8192, total // 2 // (1024 * 1024)))

def under(p, root):
    return p == root or p.startswith(root.rstrip("/") + "/")

def real_dir(p):
    return os.path.isdir(p) and not os.path.islink(p)

def python_dirs():
    dirs = [sys.prefix, sys.base_prefix, os.path.dirname(sys.executable), os.path.dirname(os.path.realpath(sys.executable))]
    dirs += [p for p in sys.path if p and os.path.isabs(p)]
    return [d for d in dirs if os.path.exists(d)]

def mounts(private):
    home = os.environ.get("HOME", "")
    hidden = [d for d in CONF["hidden"] if real_dir(d)]
    for extra in [home, CONF["jobDir"], os.environ.get("JUPYTER_RUNTIME_DIR", "")]:
        if extra and extra != "/" and os.path.isabs(extra) and os.path.isdir(extra) and not any(under(extra, h) for h in hidden):
            hidden.append(extra)
    a = NAMESPACES + ([] if CONF["network"] else ["--unshare-net"]) + ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    for d in sorted(os.listdir("/dev")):
        if d.startswith("nvidia") or d == "dri":
            a += ["--dev-bind-try", "/dev/" + d, "/dev/" + d]
    for h in hidden:
        a += ["--tmpfs", h]
    made = set(hidden)
    def bind(d, how):
        parents = []
        if any(under(d, h) for h in made):
            p = os.path.dirname(d)
            while p not in made and p != os.path.dirname(p):
                parents.insert(0, p)
                p = os.path.dirname(p)
        for p in parents:
            a.extend(["--perms", "0755", "--dir", p])
            made.add(p)
        a.extend([how, d, d])
    back = set()
    for d in python_dirs():
        for p in {d, os.path.realpath(d)}:
            if any(under(p, h) for h in hidden):
                back.add(p)
    kept = []
    for d in sorted(back, key=len):
        if not any(under(d, k) for k in kept):
            kept.append(d)
            bind(d, "--ro-bind")
    a += ["--dir", "/tmp/home"]
    bind(private, "--bind")
    return a + root_caps() + ["--chdir", "/tmp/home"]

def die_with_server():
    # the server's end (killed outright too) ends its kernels: Linux's parent-death signal
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
    except Exception:
        pass
    if os.getppid() == 1:
        sys.exit(1)

def private_connection(conn_file, info):
    top = os.environ.get("KH_PRIVATE") or os.path.join(tempfile.gettempdir(), "cdkh-p")
    os.makedirs(top, mode=0o700, exist_ok=True)
    private = tempfile.mkdtemp(prefix="k-", dir=top)
    mine = dict(info, ip=os.path.join(private, "ipc"))
    path = os.path.join(private, "connection.json")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(mine, f)
    for k in ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"):
        link = "%s-%s" % (info["ip"], info[k])
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink("%s-%s" % (mine["ip"], info[k]), link)
    return private, path

def limit():
    die_with_server()
    mb = memory_limit_mb()
    if mb > 0:
        resource.setrlimit(resource.RLIMIT_AS, (mb * 1024 * 1024, mb * 1024 * 1024))

def run(argv, env, private=None):
    child = subprocess.Popen(argv, env=env, preexec_fn=limit)
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, lambda n, f: child.send_signal(n))
    try:
        return child.wait()
    finally:
        if private:
            shutil.rmtree(private, ignore_errors=True)

def main():
    if sys.argv[1:] == ["--probe"]:
        print(probe())
        return 0
    die_with_server()
    conn_file = sys.argv[1]
    kernel = ["-m", "ipykernel_launcher", "-f"]
    sandboxed = os.environ.get("CODEDANCE_KH_SANDBOX") == "sandboxed"
    if not sandboxed:
        return run([sys.executable] + kernel + [conn_file] + KERNEL_ARGS, kernel_env(os.environ.get("HOME", "/tmp")))
    with open(conn_file) as f:
        info = json.load(f)
    if info.get("transport") != "ipc" and not CONF["network"]:
        sys.stderr.write("codedance: the server must run with --KernelManager.transport=ipc for a kernel without network\n")
        return 2
    private, path = (None, conn_file) if CONF["network"] else private_connection(conn_file, info)
    argv = [bwrap()] + mounts(private or os.path.dirname(os.path.abspath(conn_file)))
    return run(argv + ["--", sys.executable] + kernel + [path] + KERNEL_ARGS, kernel_env("/tmp/home"), private)

sys.exit(main())
`;

/**
 * The launcher as a shell heredoc body: its configuration comes from the task's environment at
 * start (`KH_DIR`, `KH_NETWORK`, `KH_MEMORY_MB`, `KH_PASS_ENV`), read by a first Python line, so
 * the file holds no value of the job and the script stays a template.
 */
export function kernelLauncherSource(): string {
  const constants = [
    `NAMESPACES = ${JSON.stringify(NAMESPACES)}`,
    `KERNEL_ARGS = ${JSON.stringify(KERNEL_ARGS)}`,
    'CONF = {',
    `    "envNames": ${JSON.stringify([...KERNEL_ENV_NAMES])},`,
    `    "hidden": ${JSON.stringify(HIDDEN_FOLDERS)},`,
    '    "jobDir": os.environ["KH_DIR"],',
    '    "network": os.environ.get("KH_NETWORK") == "1",',
    '    "memoryLimitMb": int(os.environ["KH_MEMORY_MB"]) if os.environ.get("KH_MEMORY_MB", "") != "" else None,',
    '    "passEnv": [n for n in os.environ.get("KH_PASS_ENV", "").split(",") if n],',
    '}',
  ];
  const [imports, ...body] = LAUNCHER.trim().split('\n');
  return [imports, ...constants, ...body].join('\n') + '\n';
}
