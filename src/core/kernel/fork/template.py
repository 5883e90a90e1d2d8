# The fork template (kernel/forkTemplate.ts; docs/kernels.md, "Forked kernels").
#
# One long-lived process per interpreter and kernel environment. It has imported what a kernel
# imports (ipykernel, numpy, PIL, matplotlib) and executed the CodeDance prelude module once; it
# never runs the model's code. Node writes one JSON request per line on stdin; each names a
# sandbox that bubblewrap made for ONE kernel (its "holder": the kernel's own mounts, namespaces
# and cgroup, running `sleep`). Per request the template forks a WAITER, which:
#   1. closes every inherited descriptor, opens the kernel's cgroup.procs files and the holder's
#      cgroup namespace, and joins the holder's other namespaces (the outermost user namespace
#      that is not ours first, then ipc, uts, net, pid, mnt: the mount namespace's root and
#      working folder become the sandbox's);
#   2. forks the KERNEL, which is therefore inside the sandbox's PID namespace. It joins its
#      cgroup, then the cgroup namespace, then the inner user namespaces; its stdout and stderr are a pipe the waiter keeps the
#      tail of. Before it runs anything it sets the sandbox's limits (RLIMIT_AS, CPU, NPROC; hard = soft), drops every
#      capability (bounding set, then the user: nobody when Node runs as root, then capset 0),
#      sets no_new_privs and the kernel's seccomp program (kernel/seccomp.ts), dies with its
#      waiter, reseeds the random generators, takes exactly the kernel's environment, and starts
#      ipykernel on its connection file;
#   3. once the kernel has done all of that (or failed to: then its error is the answer), reports
#      the kernel's host PID, waits for it, and reports how it ended.
# Answers, one JSON line each on stdout: {"id", "pid"} | {"id", "error", "structural"} | {"id", "exit", "signal"}.
# An error is structural when every fork here would fail the same way (a setns or capset the
# kernel refuses: sandboxes of a setuid bwrap, a seccomp policy on CodeDance itself); Node then
# starts this interpreter's kernels anew. The holder gone, or no memory or process left, is not.
import ctypes
import errno
import json
import os
import select
import selectors
import signal
import sys
import time
import types

t0 = time.perf_counter()
libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, PR_CAPBSET_DROP, PR_CAP_AMBIENT = 1, 38, 22, 24, 47
SECCOMP_MODE_FILTER, PR_CAP_AMBIENT_CLEAR_ALL, NS_GET_PARENT = 2, 4, 0xB702
CLONE = {"ipc": 0x08000000, "uts": 0x04000000, "net": 0x40000000, "cgroup": 0x02000000,
         "pid": 0x20000000, "mnt": 0x00020000}
CLONE_NEWUSER = 0x10000000
libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # the template goes with Node


# a fork that failed with one of these may work next time (the holder ended, the machine is full)
TRANSIENT = {errno.ENOENT, errno.ESRCH, errno.EAGAIN, errno.ENOMEM, errno.EINTR, errno.EMFILE, errno.ENFILE}


def failure(e):
    """the answer for a fork that failed: what, and whether it is structural (see above)"""
    return {"error": f"{type(e).__name__}: {e}", "structural": not (isinstance(e, OSError) and e.errno in TRANSIENT)}


def check(r, what):
    if r != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


def first_line():
    """the first request (the prelude), read from the descriptor itself: nothing buffered elsewhere"""
    got = b""
    while b"\n" not in got:
        data = os.read(0, 1 << 16)
        if not data:
            sys.exit(0)
        got += data
    line, rest = got.split(b"\n", 1)
    return json.loads(line)["prelude"], rest


preludeSource, buf = first_line()
os.environ["MPLBACKEND"] = "Agg"
_env_before = dict(os.environ)
from ipykernel.kernelapp import IPKernelApp  # noqa: E402
import ipykernel.ipkernel  # noqa: E402,F401
import ipykernel.zmqshell  # noqa: E402,F401
import numpy  # noqa: E402
import PIL.Image  # noqa: E402,F401
import PIL.JpegImagePlugin  # noqa: E402,F401
import PIL.PngImagePlugin  # noqa: E402,F401
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot  # noqa: E402,F401

_prelude = types.ModuleType("_codedance")
exec(compile(preludeSource, "<codedance-prelude>", "exec"), _prelude.__dict__)
sys.modules["_codedance"] = _prelude
del preludeSource
# what the imports put in the environment (debugpy's PYDEVD_USE_FRAME_EVAL): a kernel started anew has it too
IMPORTS_SET = {k: v for k, v in os.environ.items() if _env_before.get(k) != v}
import gc  # noqa: E402

gc.collect()
gc.freeze()


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def user_chain(holder):
    """the holder's user namespaces that are not ours, outermost first (bwrap run by a user who
    is not root nests one inside another); open descriptors"""
    ours = os.stat("/proc/self/ns/user").st_ino
    fd = os.open(f"/proc/{holder}/ns/user", os.O_RDONLY)
    chain = []
    while os.fstat(fd).st_ino != ours:
        chain.insert(0, fd)
        parent = libc.ioctl(fd, NS_GET_PARENT)
        if parent < 0:
            e = ctypes.get_errno()
            raise OSError(e, f"the sandbox's user namespace has no parent we can reach: {os.strerror(e)}")
        fd = parent
    os.close(fd)
    return chain


def other_namespace(holder, name):
    """a descriptor of the holder's namespace of this kind, or None when it is ours"""
    theirs = f"/proc/{holder}/ns/{name}"
    if os.stat(theirs).st_ino == os.stat(f"/proc/self/ns/{name}").st_ino:
        return None
    return os.open(theirs, os.O_RDONLY)


def join_namespaces(holder):
    """all but the cgroup namespace and the inner user namespaces (the kernel joins those, after
    its cgroup: from inside an inner user namespace it could join neither); their descriptors"""
    users = user_chain(holder)
    others = {}
    for name in CLONE:
        if name != "cgroup" and (fd := other_namespace(holder, name)) is not None:
            others[name] = fd
    steps = [("user", fd, CLONE_NEWUSER) for fd in users[:1]]
    steps += [(name, fd, CLONE[name]) for name, fd in others.items()]  # mnt last (dict order: CLONE's)
    for name, fd, flag in steps:
        try:
            check(libc.setns(fd, flag), f"setns {name}")
        finally:
            os.close(fd)
    return users[1:]


def enter_last(procs, cgroup_ns, inner_users):
    """(the kernel, still privileged) its cgroup, the cgroup namespace, the inner user namespaces"""
    for fd in procs:
        os.write(fd, str(os.getpid()).encode())  # its PID in the sandbox: the writer's namespace
        os.close(fd)
    joins = ([("cgroup", cgroup_ns, CLONE["cgroup"])] if cgroup_ns is not None else [])
    joins += [("user", fd, CLONE_NEWUSER) for fd in inner_users]
    for name, fd, flag in joins:
        try:
            check(libc.setns(fd, flag), f"setns {name}")
        finally:
            os.close(fd)


def drop_capabilities(run_as):
    for cap in range(64):
        if libc.prctl(PR_CAPBSET_DROP, ctypes.c_ulong(cap), 0, 0, 0) != 0 and ctypes.get_errno() == 22:
            break  # EINVAL: past the last capability
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    if run_as:
        os.setgroups([])
        os.setresgid(run_as["gid"], run_as["gid"], run_as["gid"])
        os.setresuid(run_as["uid"], run_as["uid"], run_as["uid"])
    header = CapHeader(0x20080522, 0)
    data = (CapData * 2)()
    check(libc.capset(ctypes.byref(header), ctypes.byref(data)), "capset")


def confine(req):
    for res, key in ((resource.RLIMIT_AS, "as"), (resource.RLIMIT_NPROC, "nproc"), (resource.RLIMIT_CPU, "cpu")):
        v = req["limits"].get(key) or 0
        if v > 0:
            resource.setrlimit(res, (v, v))
    drop_capabilities(req.get("runAs"))
    check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")
    if os.getppid() == 1:
        os._exit(1)  # the waiter is already gone
    check(libc.prctl(PR_SET_NO_NEW_PRIVS, ctypes.c_ulong(1), 0, 0, 0), "no_new_privs")
    if req.get("seccomp"):
        import base64
        prog = base64.b64decode(req["seccomp"])
        buf = ctypes.create_string_buffer(prog, len(prog))
        fprog = SockFprog(len(prog) // 8, ctypes.cast(buf, ctypes.c_void_p))
        check(libc.prctl(PR_SET_SECCOMP, ctypes.c_ulong(SECCOMP_MODE_FILTER), ctypes.byref(fprog), 0, 0), "seccomp")


def prepare(req, procs, cgroup_ns, inner_users):
    """(the kernel) everything before ipykernel: the joins left, the limits, no capabilities"""
    enter_last(procs, cgroup_ns, inner_users)
    os.setsid()  # as bwrap --new-session
    os.chdir(req["workdir"])
    confine(req)
    os.environ.clear()
    os.environ.update(req["env"])
    os.environ.update(IMPORTS_SET)
    sys.path[0] = req["workdir"]  # as `python -m` puts its working folder first


def kernel(req):
    import random
    random.seed()
    numpy.random.seed()
    app = IPKernelApp.instance()
    app.initialize(["-f", req["connectionFile"], *req["kernelArgs"]])
    app.start()


def waiter(req, w):
    """the fork that joins the sandbox, forks the kernel inside it, keeps the tail of what the
    kernel writes to its stdout and stderr (a fatal error's last words), and waits for it"""
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.closerange(3, w)
    os.closerange(w + 1, 1 << 16)
    os.setsid()
    # the kernel joins its cgroup itself (the waiter stays out: it must outlive the cgroup's
    # kill to reap the kernel), then the sandbox's cgroup namespace: both opened here, on the host
    procs = [os.open(p, os.O_WRONLY) for p in req.get("cgroupProcs") or []]
    cgroup_ns = other_namespace(req["holder"], "cgroup")
    inner_users = join_namespaces(req["holder"])
    tail_r, tail_w = os.pipe()
    setup_r, setup_w = os.pipe()  # the kernel's setup error, or closed once it is done
    wake_r, wake_w = os.pipe()
    for fd in (wake_r, wake_w):
        os.set_blocking(fd, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    kid = os.fork()
    if kid == 0:
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            for fd in (w, tail_r, setup_r, wake_r, wake_w):
                os.close(fd)
            os.dup2(tail_w, 1)
            os.dup2(tail_w, 2)
            os.close(tail_w)
        except BaseException:  # noqa: BLE001 (no way to say it: the waiter sees the setup pipe close early)
            os._exit(1)
        try:
            prepare(req, procs, cgroup_ns, inner_users)
        except BaseException as e:  # noqa: BLE001 (the waiter's answer carries it)
            os.write(setup_w, json.dumps(failure(e)).encode())
            os._exit(1)
        os.close(setup_w)
        try:
            kernel(req)
        except BaseException:  # noqa: BLE001 (its stderr is the waiter's tail: Node reports it)
            import traceback
            traceback.print_exc()
        finally:
            os._exit(1)
    for fd in [tail_w, setup_w, *procs, *inner_users, *([cgroup_ns] if cgroup_ns is not None else [])]:
        os.close(fd)
    refused = read_all(setup_r)
    if refused:
        os.waitpid(kid, 0)
        os.write(w, refused + b"\n")
        return
    os.write(w, (json.dumps({"pid": kid}) + "\n").encode())
    status, tail = watch(kid, tail_r, wake_r)
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    code = os.WEXITSTATUS(status) if sig is None else None
    os.write(w, (json.dumps({"exit": code, "signal": sig, "tail": tail.decode("utf-8", "replace")}) + "\n").encode())


def read_all(fd):
    """what the other end wrote before closing it"""
    got = b""
    while data := os.read(fd, 1 << 16):
        got += data
    os.close(fd)
    return got


def watch(kid, tail_r, wake_r, keep=16 * 1024):
    """(wait status, the last `keep` bytes the kernel wrote) once the kernel has ended"""
    tail = b""
    fds = [tail_r, wake_r]
    while True:
        ready, _, _ = select.select(fds, [], [], 1.0)
        if tail_r in ready:
            data = os.read(tail_r, 1 << 16)
            if data:
                tail = (tail + data)[-keep:]
            else:
                fds.remove(tail_r)
        if wake_r in ready:
            os.read(wake_r, 4096)
        pid, status = os.waitpid(kid, os.WNOHANG)
        if pid:
            break
    os.set_blocking(tail_r, False)
    try:
        while data := os.read(tail_r, 1 << 16):
            tail = (tail + data)[-keep:]
    except OSError:
        pass  # nothing more now (a child of the kernel may hold the pipe): the tail is what came
    return status, tail


import resource  # noqa: E402

out = sys.stdout
sel = selectors.DefaultSelector()
pending = {}  # read end -> [request id, waiter pid, text so far, exit reported]


def say(msg):
    out.write(json.dumps(msg) + "\n")
    out.flush()


def start(req):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            waiter(req, w)
        except BaseException as e:  # noqa: BLE001 (the answer carries it)
            try:
                os.write(w, (json.dumps(failure(e)) + "\n").encode())
            except OSError:
                pass
        os._exit(0)
    os.close(w)
    pending[r] = [req["id"], pid, b"", False]
    sel.register(r, selectors.EVENT_READ)


def heard(r):
    entry = pending[r]
    data = os.read(r, 4096)
    if data:
        entry[2] += data
        while b"\n" in entry[2]:
            line, entry[2] = entry[2].split(b"\n", 1)
            msg = json.loads(line)
            entry[3] = entry[3] or "exit" in msg or "error" in msg
            say({"id": entry[0], **msg})
        return
    sel.unregister(r)
    os.close(r)
    del pending[r]
    os.waitpid(entry[1], 0)
    if not entry[3]:
        say({"id": entry[0], "exit": None, "signal": None, "lost": True})


say({"ready": True, "importMs": round((time.perf_counter() - t0) * 1000)})
sel.register(sys.stdin.fileno(), selectors.EVENT_READ)
while True:
    for key, _ in sel.select():
        if key.fd != sys.stdin.fileno():
            heard(key.fd)
            continue
        data = os.read(key.fd, 1 << 16)
        if not data:
            sys.exit(0)
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if line.strip():
                start(json.loads(line))
