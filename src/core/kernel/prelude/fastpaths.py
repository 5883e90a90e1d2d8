# CodeDance kernel prelude, part 6 of 7: the fast paths. Each saves a fraction of a millisecond
# per cell by replacing a private part of ipykernel, jupyter_client or pyzmq. Each is used only
#  - when the client asks for them (config fastPaths, default true; Node's switch is
#    CODEDANCE_KERNEL_FAST_PATHS=0 or the fastPaths option), and never in a notebook's kernel;
#  - with the versions of the packages it replaces parts of that it was written and tested
#    with (TESTED_VERSIONS: major.minor);
#  - when what it replaces is there, in the shape it expects (its self-check).
# Otherwise that path stays as the package has it (the plain path, which the kernel integration
# suite also runs: scripts/test-all.mjs). install() returns which paths are on, and why each
# other one is off; the client logs it once.

import inspect
import os

# the versions each fast path was written and tested with (major.minor); a new one is added
# here only after the kernel integration suite passed on it, with fast paths on and off
TESTED_VERSIONS = {
    "ipykernel": ("6.17",),
    "jupyter_client": ("7.4",),
    "pyzmq": ("24.0",),
    "tornado": ("6.2",),
}
# tests only: "ipykernel=7.0.0,pyzmq=26.0.0" stands for the installed versions (it can only turn
# paths off: a path needs both its installed and this version to be tested ones)
VERSIONS_ENV = "CODEDANCE_TEST_FAST_PATH_VERSIONS"


def _installed_versions():
    out = {}
    for pkg, module, attr in (("ipykernel", "ipykernel", "__version__"), ("jupyter_client", "jupyter_client", "__version__"),
                              ("pyzmq", "zmq", "__version__"), ("tornado", "tornado", "version")):
        try:
            out[pkg] = str(getattr(__import__(module), attr))
        except Exception:
            out[pkg] = None
    return out


def _stand_in_versions():
    out = {}
    for item in os.environ.get(VERSIONS_ENV, "").split(","):
        name, _, version = item.partition("=")
        if name.strip() and version.strip():
            out[name.strip()] = version.strip()
    return out


def _untested(packages, installed, stand_in):
    """why these package versions rule a path out, or None"""
    for pkg in packages:
        for v in (installed.get(pkg), stand_in.get(pkg, installed.get(pkg))):
            if v is None:
                return pkg + "'s version is unknown"
            if ".".join(v.split(".")[:2]) not in TESTED_VERSIONS[pkg]:
                return pkg + " " + v + " is not a version it was tested with (" + ", ".join(TESTED_VERSIONS[pkg]) + ")"
    return None


def _params(f):
    try:
        return list(inspect.signature(f).parameters)
    except (TypeError, ValueError):
        return None


# ----------------------------------------------------------------------------------------------
# each path: its self-check (why it cannot be used here, or None) and what it does
# ----------------------------------------------------------------------------------------------

def _check_direct_execute(kernel):
    p = _params(getattr(kernel, "do_execute", None))
    if p is None or p[:5] != ["code", "silent", "store_history", "user_expressions", "allow_stdin"]:
        return "kernel.do_execute has another signature: " + str(p)
    send = _params(getattr(getattr(kernel, "session", None), "send", None))
    if send is None or send[:9] != ["stream", "msg_or_type", "content", "parent", "ident", "buffers", "track", "header", "metadata"]:
        return "session.send has another signature: " + str(send)
    return None


def _check_reply_at_once(kernel):
    stream = getattr(kernel, "shell_stream", None)
    if stream is None:
        return "the kernel has no shell_stream"
    for name in ("sending", "closed", "_rebuild_io_state"):
        if not callable(getattr(stream, name, None)):
            return "its shell stream has no " + name + "()"
    if not hasattr(getattr(stream, "socket", None), "send_multipart"):
        return "its shell stream has no socket"
    return None


def _apply_reply_at_once(kernel):
    """nothing to set up: _socket_now (executor.py) sends our cell's reply itself only while
    this path is in _fast"""


def _check_no_execute_sleep(kernel):
    if not isinstance(getattr(kernel, "_execute_sleep", None), (int, float)):
        return "the kernel has no _execute_sleep"
    return None


def _apply_no_execute_sleep(kernel):
    """a 0.5 ms sleep after every execute, gone: the client waits for iopub's 'idle', which the
    IO thread sends after every output of the cell, or for a reply that says the cell sent
    nothing on iopub; so nothing can be missed"""
    kernel._execute_sleep = 0


def _check_skip_control_flush(kernel):
    flush = getattr(type(kernel), "_flush_control_queue", None)
    if flush is None:
        return "the kernel has no _flush_control_queue"
    if not inspect.iscoroutinefunction(flush) or _params(flush) != ["self"]:
        return "_flush_control_queue is not an async def of no arguments here (dispatch may wait for it)"
    return None


def _apply_skip_control_flush(kernel):
    """ipykernel 6.x: before each shell message, _flush_control_queue wakes the control thread
    and then the main loop again (two thread wake-ups, the GIL handed back and forth: about
    0.15 ms a cell), for a future that it returns from an async def and nobody awaits. In that
    shape (the self-check) it orders nothing, so it is skipped."""
    async def _no_flush():
        return None
    kernel._flush_control_queue = _no_flush


def _check_quick_empty_flush(kernel):
    from ipykernel.iostream import OutStream
    if getattr(OutStream.flush, "_codedance_fast", False):
        return None
    if not (callable(getattr(OutStream, "flush", None)) and callable(getattr(OutStream, "_flush", None))):
        return "OutStream has no flush() and _flush()"
    out = sys.stdout
    if not isinstance(out, OutStream):
        return "stdout is not ipykernel's OutStream"
    if not isinstance(getattr(out, "_flush_pending", None), bool) or not callable(getattr(getattr(out, "_buffer", None), "tell", None)):
        return "OutStream has no _flush_pending and _buffer"
    return None


def _apply_quick_empty_flush(kernel):
    """flush() of an empty stream still does a round trip to the IO thread; it returns at once
    when nothing was written since the last flush (a flush with data stays as it is: it must
    wait, or the IO thread would queue the stream message after 'idle')"""
    from ipykernel.iostream import OutStream
    if getattr(OutStream.flush, "_codedance_fast", False):
        return
    original_flush = OutStream.flush
    original_inner = OutStream._flush
    inflight = [0]

    def _flush(self):
        inflight[0] += 1
        try:
            return original_inner(self)
        finally:
            inflight[0] -= 1

    def flush(self):
        try:
            # nothing written since the last flush, and no flush of the IO thread between
            # taking the text and queueing its message (checked last, see the race notes)
            if (not self._flush_pending and not getattr(self, "_subprocess_flush_pending", False)
                    and self._buffer.tell() == 0 and inflight[0] == 0):
                return
        except Exception:
            pass
        return original_flush(self)

    flush._codedance_fast = True
    OutStream._flush = _flush
    OutStream.flush = flush


def _check_fast_dates(kernel):
    from jupyter_client import jsonutil
    if getattr(jsonutil.parse_date, "_codedance_fast", False):
        return None
    if not callable(getattr(jsonutil, "parse_date", None)) or getattr(jsonutil, "ISO8601_PAT", None) is None or not callable(getattr(jsonutil, "_ensure_tzinfo", None)):
        return "jupyter_client.jsonutil has no parse_date, ISO8601_PAT and _ensure_tzinfo"
    return None


def _apply_fast_dates(kernel):
    """jupyter_client parses every incoming header's date with dateutil: about 60 us a message
    (the largest single cost of a trivial cell in the kernel's own profile). An ISO 8601 date
    goes through datetime.fromisoformat instead (0.1 us, the same datetime); anything it does
    not take (Python before 3.11 and its 'Z') goes the original way."""
    from datetime import datetime
    from jupyter_client import jsonutil
    original = jsonutil.parse_date
    if getattr(original, "_codedance_fast", False):
        return
    pattern = jsonutil.ISO8601_PAT
    ensure_tz = jsonutil._ensure_tzinfo

    def parse_date(s):
        if isinstance(s, str) and pattern.match(s):
            try:
                return ensure_tz(datetime.fromisoformat(s))
            except ValueError:
                pass
        return original(s)

    parse_date._codedance_fast = True
    jsonutil.parse_date = parse_date


def _check_busy(kernel):
    if not (config.get("quietBusy") or config.get("deferBusy")):
        return "not asked for (only a private local kernel or one on a Jupyter Server)"
    if _params(getattr(kernel, "_publish_status", None)) != ["status", "channel", "parent"]:
        return "_publish_status has no per-channel parent"
    if not callable(getattr(kernel, "get_parent", None)):
        return "the kernel has no get_parent()"
    pub = getattr(kernel, "iopub_thread", None)
    if not config.get("quietBusy") and (getattr(pub, "thread", None) is None or not callable(getattr(pub, "schedule", None))):
        return "no IO thread to send 'busy' later"
    return None


def _apply_busy(kernel):
    _skip_busy_of_our_cells(kernel, defer=not config.get("quietBusy"))


def _skip_busy_of_our_cells(kernel, defer=False):
    """No iopub 'busy' for the execute_request of one of our cells (config quietBusy: a private
    local kernel whose only client is ours, which never reads 'busy'). One message and one
    wake-up of ipykernel's IO thread less per cell: about 0.17 ms. Every other request
    (kernel_info, the prelude's own steps, a user's code) and bench --profile (which times the
    hop to 'busy') keep it; a notebook's kernel never gets this.

    defer (config deferBusy: a kernel on a Jupyter Server, which follows the status for its
    clients and its culler): the 'busy' goes out only when the cell is still running
    HOLD_SECONDS later, from ipykernel's IO thread, so a short cell costs the server one message
    less to relay (about 0.3 ms of a remote cell on loopback) and a long one is 'busy' as
    before. A lock orders it before the cell's 'idle': a 'busy' after 'idle' would leave the
    kernel looking busy."""
    original = kernel._publish_status
    pub = getattr(kernel, "iopub_thread", None)
    lock = threading.Lock()
    waiting = {"id": None}

    def _late_busy(msg_id, channel, parent):
        with lock:
            if waiting["id"] != msg_id:
                return
            waiting["id"] = None
            original("busy", channel, parent)

    def _publish_status(status, channel, parent=None):
        if status == "busy" and channel == "shell" and parent is None and not config.get("profile"):
            try:
                p = kernel.get_parent(channel)
                code = p["content"]["code"] if p["header"]["msg_type"] == "execute_request" else None
            except Exception:
                p, code = None, None
            if isinstance(code, str) and code.startswith(RUN_PREFIX):
                if defer:
                    msg_id = p["header"]["msg_id"]
                    with lock:
                        waiting["id"] = msg_id
                    loop = pub.io_loop
                    pub.schedule(lambda: loop.call_later(HOLD_SECONDS, _late_busy, msg_id, channel, p))
                return None
        if defer and status == "idle":
            with lock:
                waiting["id"] = None
                return original(status, channel, parent)
        return original(status, channel, parent)

    kernel._publish_status = _publish_status


# name, the packages whose private parts it replaces, self-check, what it does; in this order
# (reply_at_once rides direct_execute's reply)
FAST_PATHS = (
    ("direct_execute", ("ipykernel", "jupyter_client"), _check_direct_execute, _hook_do_execute),
    ("reply_at_once", ("ipykernel", "pyzmq", "tornado"), _check_reply_at_once, _apply_reply_at_once),
    ("no_execute_sleep", ("ipykernel",), _check_no_execute_sleep, _apply_no_execute_sleep),
    ("skip_control_flush", ("ipykernel",), _check_skip_control_flush, _apply_skip_control_flush),
    ("quick_empty_flush", ("ipykernel",), _check_quick_empty_flush, _apply_quick_empty_flush),
    ("fast_dates", ("jupyter_client",), _check_fast_dates, _apply_fast_dates),
    ("busy", ("ipykernel",), _check_busy, _apply_busy),
)


def _install_fast_paths(kernel, cfg):
    """Turns on each fast path that may be used here (see the top of this part). Returns
    {"versions": {package: version}, "on": [names], "off": {name: why}}."""
    installed = _installed_versions()
    stand_in = _stand_in_versions()
    report = {"versions": installed, "on": [], "off": {}}
    if stand_in:
        report["standIn"] = stand_in
    if cfg.get("notebook"):
        whole = "a notebook's kernel (the user's): nothing of it is replaced"
    elif not cfg.get("hookExecute", True) or kernel is None:
        whole = "hookExecute is off"
    elif not cfg.get("fastPaths", True):
        whole = "turned off by the client (the fastPaths option, or CODEDANCE_KERNEL_FAST_PATHS=0)"
    else:
        whole = None
    for name, packages, check, apply in FAST_PATHS:
        why = whole or _untested(packages, installed, stand_in)
        if why is None and name == "reply_at_once" and "direct_execute" not in _fast:
            why = "direct_execute is off"
        if why is None:
            try:
                why = check(kernel)
            except Exception as e:
                why = "its self-check failed: " + type(e).__name__ + ": " + str(e)
        if why is None:
            try:
                apply(kernel)
                _fast.add(name)
                report["on"].append(name)
                continue
            except Exception as e:
                why = "it could not be set up: " + type(e).__name__ + ": " + str(e)
        report["off"][name] = why
    return report
