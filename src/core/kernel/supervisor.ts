/**
 * The supervisor of an UNSANDBOXED kernel on Linux (a sandboxed one has bwrap's PID namespace:
 * when the kernel goes, everything in it goes). Without it, a daemon the code starts (fork,
 * setsid, fork again) outlives the kernel, the run and CodeDance.
 *
 * `python -c SUPERVISOR_SOURCE <node pid> <kernel args…>` runs in the interpreter and:
 *  - becomes a child subreaper (PR_SET_CHILD_SUBREAPER): every orphan below it, however it
 *    detached (setsid, double fork), is re-parented to it, so it can find and kill them all;
 *  - gets SIGTERM when Node goes (PR_SET_PDEATHSIG), and checks Node did not already go;
 *  - starts `<interpreter> <kernel args…>` as its child, with PR_SET_PDEATHSIG=SIGKILL (the
 *    kernel dies at once if the supervisor is killed, even while it holds the GIL in C code);
 *  - forwards SIGINT to the kernel (ipykernel's interrupt); on SIGTERM, SIGHUP or SIGQUIT
 *    forwards SIGTERM and, GRACE_S later at most, kills everything;
 *  - when the kernel has exited, SIGKILLs every remaining descendant (repeatedly, until it has
 *    no child left), then exits as the kernel did (same code, or dies of the same signal).
 *
 * To stop a supervised kernel with all it started, send SIGTERM to the supervisor (the spawned
 * process), not SIGKILL to its group: a SIGKILLed supervisor cannot clean up, and a daemon that
 * called setsid() is not in the group. It contains accidents, not an adversary: code running as
 * the same user can kill the supervisor, or leave through systemd-run/at/ssh.
 */

/** seconds the kernel gets to exit after a forwarded SIGTERM before everything is SIGKILLed */
export const SUPERVISOR_GRACE_S = 1;

export const SUPERVISOR_SOURCE = String.raw`
import ctypes, os, signal, sys, time
libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 1, 36
parent, argv = int(sys.argv[1]), sys.argv[2:]
SIGS = {signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT}
old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, SIGS)
libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
if os.getppid() != parent:
    os._exit(1)
me = os.getpid()
kernel = os.fork()
if kernel == 0:
    try:
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != me:
            os._exit(1)
        for s in (signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(s, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        os.execv(sys.executable, [sys.executable] + argv)
    finally:
        os._exit(127)
status = None

def reap():
    global status
    n = 0
    while True:
        try:
            pid, st = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return n
        if pid == 0:
            return n
        n += 1
        if pid == kernel:
            status = st

def descendants():
    kids = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name, "rb") as f:
                    stat = f.read()
                ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            kids.setdefault(ppid, []).append(int(name))
    out, todo = [], [me]
    while todo:
        for k in kids.get(todo.pop(), ()):
            out.append(k)
            todo.append(k)
    return out

def kill_all():
    for _ in range(20000):
        found = descendants()
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        reaped = reap()
        if not found:
            return
        if not reaped:
            time.sleep(0.002)

deadline = None
while status is None:
    if deadline is None:
        info = signal.sigwaitinfo(SIGS)
    else:
        info = signal.sigtimedwait(SIGS, max(0.0, deadline - time.monotonic()))
        if info is None:
            break
    sig = info.si_signo
    if sig == signal.SIGCHLD:
        reap()
    elif sig == signal.SIGINT:
        try:
            os.kill(kernel, signal.SIGINT)
        except OSError:
            pass
    elif deadline is None:
        try:
            os.kill(kernel, signal.SIGTERM)
        except OSError:
            pass
        deadline = time.monotonic() + GRACE_S
kill_all()
if status is None:
    os._exit(128 + signal.SIGKILL)
if os.WIFSIGNALED(status):
    sig = os.WTERMSIG(status)
    signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})
    os.kill(me, sig)
    os._exit(128 + sig)
os._exit(os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else os.WEXITSTATUS(status))
`.replace('GRACE_S', String(SUPERVISOR_GRACE_S));

/**
 * The interpreter arguments that run `args` (e.g. ['-m', 'ipykernel_launcher', '-f', conn])
 * under the supervisor, for a kernel started by the process `parentPid` (Node's own PID).
 */
export function supervisedArgs(args: string[], parentPid: number = process.pid): string[] {
  return ['-c', SUPERVISOR_SOURCE, String(parentPid), ...args];
}

/** whether kernels here can be supervised (Linux: prctl with PR_SET_CHILD_SUBREAPER, Linux >= 3.4) */
export function supervisorAvailable(platform: string = process.platform): boolean {
  return platform === 'linux';
}
