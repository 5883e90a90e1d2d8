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
     - a 0.5 ms sleep after every execute (we wait for iopub's 'idle', which the IO thread
       sends after every output of the cell, so nothing can be missed);
     - flush() of an empty stream still does a round trip to the IO thread; it now returns at
       once when nothing was written since the last flush (a flush with data stays as it is:
       it must wait, or the IO thread would queue the stream message after 'idle')."""
    try:
        if hasattr(kernel, "_execute_sleep"):
            kernel._execute_sleep = 0
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


def install(config_b64):
    global _np, _Image, _plt
    cfg = json.loads(base64.b64decode(config_b64).decode("utf-8"))
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

    os.environ["MPLBACKEND"] = "Agg"
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from PIL import Image
    _np, _Image, _plt = np, Image, plt

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
    return {"python": sys.version.split()[0], "pid": os.getpid()}
