# The forked-kernel PROTOTYPE's template (bench/forkKernels.ts; docs/kernels.md, "Forked kernels").
# Measured by the bench only; nothing in src/ uses it.
#
# One long-lived Python process that has imported what a kernel imports (ipykernel, numpy, PIL,
# matplotlib) and executed the CodeDance prelude module, then forks one kernel per request line
# on stdin. Each request names a sandbox that bubblewrap made for that one kernel (a "holder":
# bwrap with the kernel's own mounts, namespaces and cgroup, running `sleep`). The fork:
#   1. (child)      joins the kernel's cgroup (cgroup.procs), closes every inherited descriptor,
#                   joins the holder's namespaces (user if it has its own, ipc, uts, net, cgroup,
#                   pid, mnt: setns(2); the mount namespace's root and cwd become the holder's);
#   2. (grandchild) forked inside the holder's PID namespace; the child reports its host pid and
#                   exits (the grandchild's parent is then the sandbox's init, as a kernel's is);
#                   sets the limits (RLIMIT_AS, NPROC, CPU, hard = soft), drops every capability
#                   from the bounding set, switches to nobody when run as root, sets no_new_privs
#                   and installs the kernel's seccomp program (kernel/seccomp.ts), reseeds the
#                   random generators, and starts ipykernel on its connection file.
# The kernel never runs code before step 2 is complete; the template never runs the model's code.
import base64
import ctypes
import json
import os
import resource
import sys
import time
import types

t0 = time.perf_counter()
os.environ["MPLBACKEND"] = "Agg"
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
with open(sys.argv[1], encoding="utf-8") as f:
    exec(compile(f.read(), "<codedance-prelude>", "exec"), _prelude.__dict__)
sys.modules["_codedance"] = _prelude
import gc  # noqa: E402

gc.collect()
gc.freeze()

libc = ctypes.CDLL(None, use_errno=True)
CLONE = {"user": 0x10000000, "ipc": 0x08000000, "uts": 0x04000000, "net": 0x40000000,
         "cgroup": 0x02000000, "pid": 0x20000000, "mnt": 0x00020000}
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER, PR_CAPBSET_DROP = 38, 22, 2, 24


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def check(r, what):
    if r != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


def join_namespaces(holder):
    # user first (it grants the rights for the others), mnt last (it changes root and cwd)
    for name in ("user", "ipc", "uts", "net", "cgroup", "pid", "mnt"):
        theirs = f"/proc/{holder}/ns/{name}"
        if os.stat(theirs).st_ino == os.stat(f"/proc/self/ns/{name}").st_ino:
            continue
        fd = os.open(theirs, os.O_RDONLY)
        try:
            check(libc.setns(fd, CLONE[name]), f"setns {name}")
        finally:
            os.close(fd)


def confine(req):
    os.chdir(req["workdir"])
    os.environ["PWD"] = req["workdir"]  # as the shell that joins today's kernel to its cgroup sets it
    for res, key in ((resource.RLIMIT_AS, "as"), (resource.RLIMIT_NPROC, "nproc"), (resource.RLIMIT_CPU, "cpu")):
        v = req["limits"].get(key) or 0
        if v > 0:
            resource.setrlimit(res, (v, v))
    for cap in range(64):
        if libc.prctl(PR_CAPBSET_DROP, ctypes.c_ulong(cap), 0, 0, 0) != 0 and ctypes.get_errno() == 22:
            break  # EINVAL: past the last capability
    run_as = req.get("runAs")
    if run_as:
        os.setgroups([])
        os.setresgid(run_as["gid"], run_as["gid"], run_as["gid"])
        os.setresuid(run_as["uid"], run_as["uid"], run_as["uid"])
    check(libc.prctl(PR_SET_NO_NEW_PRIVS, ctypes.c_ulong(1), 0, 0, 0), "no_new_privs")
    if req.get("seccomp"):
        prog = base64.b64decode(req["seccomp"])
        buf = ctypes.create_string_buffer(prog, len(prog))
        fprog = SockFprog(len(prog) // 8, ctypes.cast(buf, ctypes.c_void_p))
        check(libc.prctl(PR_SET_SECCOMP, ctypes.c_ulong(SECCOMP_MODE_FILTER), ctypes.byref(fprog), 0, 0), "seccomp")
    import random
    random.seed()
    numpy.random.seed()


def kernel(req):
    confine(req)
    app = IPKernelApp.instance()
    app.initialize(["-f", req["connectionFile"], "--HistoryManager.enabled=False", "--IPKernelApp.quiet=True"])
    app.start()


def fork_kernel(req, out):
    r, w = os.pipe()
    pid = os.fork()
    if pid:
        os.close(w)
        with os.fdopen(r) as f:
            answer = f.read()
        os.waitpid(pid, 0)
        return json.loads(answer) if answer else {"error": "the fork ended without an answer"}
    # the child: never returns
    try:
        os.close(r)
        for procs in req.get("cgroupProcs") or []:
            with open(procs, "w") as f:
                f.write(str(os.getpid()))
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.closerange(3, w)
        os.closerange(w + 1, 65536)
        os.setsid()
        join_namespaces(req["holder"])
        kid = os.fork()
        if kid == 0:
            os.close(w)
            try:
                kernel(req)
            except BaseException:  # noqa: BLE001 (said in the kernel's folder, for the bench's error)
                import traceback
                with open(os.path.join(req["workdir"], ".fork-error"), "w") as f:
                    f.write(traceback.format_exc())
            finally:
                os._exit(1)
        os.write(w, json.dumps({"pid": kid}).encode())
    except BaseException as e:  # noqa: BLE001 (the answer carries it)
        os.write(w, json.dumps({"error": f"{type(e).__name__}: {e}"}).encode())
    os._exit(0)


out = sys.stdout
out.write(json.dumps({"ready": True, "importMs": round((time.perf_counter() - t0) * 1000)}) + "\n")
out.flush()
for line in sys.stdin:
    if not line.strip():
        continue
    req = json.loads(line)
    t = time.perf_counter()
    answer = fork_kernel(req, out)
    answer["id"] = req["id"]
    answer["forkMs"] = round((time.perf_counter() - t) * 1000, 2)
    out.write(json.dumps(answer) + "\n")
    out.flush()
