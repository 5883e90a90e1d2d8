# CodeDance kernel prelude, part 6 of 6: install() (memory limit, matplotlib Agg, the
# namespace, the parent watchdog, the hooks). See core.py.

import base64
import builtins
import json
import os
import sys
import threading

# ----------------------------------------------------------------------------------------------
# install
# ----------------------------------------------------------------------------------------------

_orphans = []

def _watch_parent(ppid, folders):
    """ends the kernel (and removes its folders) when the Node process that started it is gone
    without shutting it down (e.g. killed with SIGKILL); folders is the live list (reset()
    replaces its contents)"""
    import shutil
    import time
    while True:
        time.sleep(0.5)
        if os.getppid() != ppid:
            for d in list(folders):
                shutil.rmtree(d, ignore_errors=True)
            os._exit(0)


def _speed_up_kernel(kernel):
    """Per-cell costs of ipykernel 6 that buy nothing here (about 1 ms per cell):
     - a 0.5 ms sleep after every execute (the client waits for iopub's 'idle', which the IO
       thread sends after every output of the cell, or for a reply that says the cell sent
       nothing on iopub: so nothing can be missed);
     - flush() of an empty stream still does a round trip to the IO thread; it now returns at
       once when nothing was written since the last flush (a flush with data stays as it is:
       it must wait, or the IO thread would queue the stream message after 'idle')."""
    try:
        if hasattr(kernel, "_execute_sleep"):
            kernel._execute_sleep = 0
    except Exception:
        pass
    if config.get("quietBusy") or config.get("deferBusy"):
        try:
            _skip_busy_of_our_cells(kernel, defer=not config.get("quietBusy"))
        except Exception:
            pass
    try:
        _fast_message_dates()
    except Exception:
        pass
    try:
        # ipykernel 6.x: before each shell message, _flush_control_queue wakes the control thread
        # and then the main loop again (two thread wake-ups, the GIL handed back and forth: about
        # 0.15 ms a cell), for a future that it returns from an async def and nobody awaits.
        # Where it has that shape it orders nothing, so it is skipped; where a later ipykernel
        # returns the future from a plain method (so that dispatch really waits), it stays.
        import inspect
        flush = getattr(type(kernel), "_flush_control_queue", None)
        if flush is not None and inspect.iscoroutinefunction(flush):
            async def _no_flush():
                return None
            kernel._flush_control_queue = _no_flush
    except Exception:
        pass
    try:
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
    except Exception:
        pass


def _fast_message_dates():
    """jupyter_client parses every incoming header's date with dateutil: about 60 us a message
    (the largest single cost of a trivial cell in the kernel's own profile). An ISO 8601 date
    goes through datetime.fromisoformat instead (0.1 us, the same datetime); anything it does
    not take (Python before 3.11 and its 'Z') goes the original way."""
    from datetime import datetime
    from jupyter_client import jsonutil
    original = jsonutil.parse_date
    if getattr(original, "_codedance_fast", False):
        return
    pattern = getattr(jsonutil, "ISO8601_PAT", None)
    ensure_tz = getattr(jsonutil, "_ensure_tzinfo", None)
    if pattern is None or ensure_tz is None:
        return

    def parse_date(s):
        if isinstance(s, str) and pattern.match(s):
            try:
                return ensure_tz(datetime.fromisoformat(s))
            except ValueError:
                pass
        return original(s)

    parse_date._codedance_fast = True
    jsonutil.parse_date = parse_date


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
    import inspect
    original = kernel._publish_status
    if "channel" not in inspect.signature(original).parameters:
        return  # an ipykernel before 6 (no per-channel parents): left as it is
    pub = getattr(kernel, "iopub_thread", None)
    if defer and (pub is None or getattr(pub, "thread", None) is None):
        return  # no IO thread to send it later: 'busy' as usual
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


def install(config_b64):
    """config "notebook": a notebook's own kernel (the user's): cells run in IPython's user
    namespace, next to the user's variables; the matplotlib backend, the memory limit and
    IPython's execute path stay as the user has them"""
    global _np, _Image, _plt, ns
    cfg = json.loads(base64.b64decode(config_b64).decode("utf-8"))
    notebook = bool(cfg.get("notebook"))
    config.clear()
    config.update(cfg)
    fmt = str(cfg.get("expressionImageFormat", "jpeg")).upper()
    config["expressionImageFormat"] = "PNG" if fmt == "PNG" else "JPEG"

    limit_mb = cfg.get("memoryLimitMb")
    if limit_mb:
        import resource
        soft = int(limit_mb) * 1024 * 1024
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY and soft > hard:
            soft = hard
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))

    import matplotlib
    if not notebook:
        os.environ["MPLBACKEND"] = "Agg"
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from PIL import Image
    _np, _Image, _plt = np, Image, plt

    if notebook:
        ns = _shell().user_ns
    else:
        ns.clear()
        ns["__builtins__"] = builtins
    ns["plt"] = plt

    if cfg.get("watchParent", True):
        _orphans[:] = list(cfg.get("orphanCleanup", []))
        t = threading.Thread(target=_watch_parent, args=(os.getppid(), _orphans),
                             name="codedance-parent-watch", daemon=True)
        t.start()

    shell = _shell()
    if cfg.get("hookExecute", True) and getattr(shell, "kernel", None) is not None:
        _hook_do_execute(shell.kernel)
        _speed_up_kernel(shell.kernel)
    shell.user_ns["_codedance_run"] = run
    shell.user_ns["_codedance_set_inputs"] = set_inputs
    shell.user_ns["_codedance_reset"] = reset
    if not notebook:
        # what is loaded now (IPython, numpy, matplotlib, PIL: about 120k objects) lives as long
        # as the process: out of the cyclic collector's way, a full collection that lands in a
        # cell takes microseconds instead of 70 ms (the cells' p95). No collection first (it
        # would cost the start those 70 ms; the start's few garbage objects stay). A notebook's
        # objects are the user's: not frozen.
        import gc
        gc.freeze()
    return {"python": sys.version.split()[0], "pid": os.getpid()}
