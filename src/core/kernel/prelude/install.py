# CodeDance kernel prelude, part 7 of 7: install() (memory limit, matplotlib Agg, the
# namespace, the parent watchdog, the fast paths of fastpaths.py). See core.py.

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
    without shutting it down (e.g. killed with SIGKILL)"""
    import shutil
    import time
    while True:
        time.sleep(0.5)
        if os.getppid() != ppid:
            for d in list(folders):
                shutil.rmtree(d, ignore_errors=True)
            os._exit(0)


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
    # which of the fast paths (fastpaths.py) may be used here; the client logs the report
    fast_paths = _install_fast_paths(getattr(shell, "kernel", None), cfg)
    shell.user_ns["_codedance_run"] = run
    shell.user_ns["_codedance_set_inputs"] = set_inputs
    if not notebook:
        # what is loaded now (IPython, numpy, matplotlib, PIL: about 120k objects) lives as long
        # as the process: out of the cyclic collector's way, a full collection that lands in a
        # cell takes microseconds instead of 70 ms (the cells' p95). No collection first (it
        # would cost the start those 70 ms; the start's few garbage objects stay). A notebook's
        # objects are the user's: not frozen.
        import gc
        gc.freeze()
    return {"python": sys.version.split()[0], "pid": os.getpid(), "fastPaths": fast_paths}
