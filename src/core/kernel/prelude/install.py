# CodeDance kernel prelude, part 6 of 6: install() (memory limit, matplotlib on a thread, the
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


def _wrap_pyplot(plt):
    """pyplot was imported (by a cell, a library, or before the prelude): Agg, and its show()
    becomes the seed's capture while a cell runs (the original outside cells). Patched once, for
    good: a reference kept from an earlier cell (from matplotlib.pyplot import show) captures too."""
    global _plt
    if not getattr(plt.show, "_codedance", False):
        original = plt.show

        def show(*args, **kwargs):
            if _state["cell"] is not None:
                return _captured_plt_show(*args, **kwargs)
            return original(*args, **kwargs)

        show._codedance = True
        plt.show = show
    _plt = plt


class _PyplotFinder(object):
    """A sys.meta_path finder for matplotlib.pyplot only: imports it as usual (Agg first), then
    _wrap_pyplot, whoever imports it (our import thread, a cell, a library)."""

    def find_spec(self, name, path=None, target=None):
        if name != "matplotlib.pyplot":
            return None
        import importlib.machinery
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        exec_module = loader.exec_module

        def exec_and_wrap(module):
            import matplotlib
            # what matplotlib.use("Agg") does before pyplot exists (here pyplot is half made:
            # use() would call its switch_backend)
            matplotlib.rcParams["backend"] = "Agg"
            exec_module(module)
            _wrap_pyplot(module)

        loader.exec_module = exec_and_wrap
        return spec


def _watch_pyplot():
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        import matplotlib
        matplotlib.use("Agg")
        _wrap_pyplot(plt)
        return
    if not any(isinstance(f, _PyplotFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _PyplotFinder())


_pyplot_import = []


def _import_pyplot_soon():
    """imports pyplot on a thread of its own, so that the kernel is ready without waiting for it
    (it overlaps the input images, the model's first call); the first cell waits for it"""
    def work():
        try:
            import matplotlib.pyplot  # noqa: F401 - through _PyplotFinder
        except BaseException:
            pass  # the first cell imports it again and reports the error

    t = threading.Thread(target=work, name="codedance-pyplot-import", daemon=True)
    _pyplot_import[:] = [t]
    t.start()


def _ensure_pyplot():
    """the seed's namespace has plt in every cell, from the first one on"""
    if _plt is None:
        for t in _pyplot_import:
            t.join()
        if _plt is None:
            import matplotlib.pyplot  # noqa: F401 - raises here if matplotlib is broken
    ns["plt"] = _plt


def install(config_b64):
    global _np, _Image
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
    # matplotlib.pyplot (about 200 ms of the start) is imported on a thread: the kernel is ready
    # without it; the first cell waits for it (_ensure_pyplot), whoever imports it gets show()
    # captured (_PyplotFinder)
    _watch_pyplot()
    if _plt is None:
        _import_pyplot_soon()
    import numpy as np
    from PIL import Image
    _np, _Image = np, Image

    ns.clear()
    ns["__builtins__"] = builtins
    if _plt is not None:
        ns["plt"] = _plt

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
