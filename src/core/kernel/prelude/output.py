# CodeDance kernel prelude, part 3 of 7: what a cell may not do (exit(), input()) and its
# capped, briefly held stdout/stderr. See core.py.

import threading

# ----------------------------------------------------------------------------------------------
# sandbox patches (active only while a cell runs, as in the seed)
# ----------------------------------------------------------------------------------------------

class _SandboxExit(Exception):
    def __init__(self, code=0):
        self.code = code
        super().__init__(f"Sandboxed exit with code {code}")


def _patched_exit(code=0):
    raise _SandboxExit(code)


def _blocked_input(*_args, **_kwargs):
    raise RuntimeError("input() is disabled inside the sandbox.")


_MISSING = object()


HOLD_SECONDS = 0.05


class _Limited(object):
    """The cell's sys.stdout / sys.stderr.

    - A per-cell cap: the first limit bytes reach the client, the rest are counted and a
      marker says so at the end.
    - Short cells print without a round of stream messages: text is held while the cell is
      younger than HOLD_SECONDS and returned with the execute_reply (take_held); a held text
      is released to the real stream after HOLD_SECONDS (from ipykernel's IO thread), when
      it grows past 64 KiB, or when the code flushes, so long cells still stream live.
    """

    def __init__(self, target, name, limit, hold):
        self._target = target
        self._name = name
        self._limit = limit
        self._used = 0
        self.dropped = 0
        self._hold = hold
        self._held = []
        self._held_n = 0
        self._timer_set = False
        self._lock = threading.Lock()

    def _emit(self, s):
        with self._lock:
            if self._hold:
                self._held.append(s)
                self._held_n += len(s)
                if self._held_n <= 65536:
                    if self._timer_set:
                        return
                    self._timer_set = True
                    if _release_later(self):
                        return
                self._release_locked()
                return
        self._target.write(s)

    def _release_locked(self):
        self._hold = False
        if self._held:
            text = "".join(self._held)
            self._held = []
            self._held_n = 0
            self._target.write(text)

    def release(self):
        with self._lock:
            self._release_locked()

    def take_held(self):
        """stops holding; returns what was held (for the reply)"""
        with self._lock:
            self._hold = False
            text = "".join(self._held)
            self._held = []
            self._held_n = 0
            return text

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        if self._limit is None:
            self._emit(s)
            return len(s)
        n = len(s) if s.isascii() else len(s.encode("utf-8", "surrogatepass"))
        room = self._limit - self._used
        if room <= 0:
            self.dropped += n
        elif n <= room:
            self._used += n
            self._emit(s)
        else:
            self._emit(s[:room])
            self._used = self._limit
            self.dropped += n - room
        return len(s)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        self.release()
        self._target.flush()

    def isatty(self):
        return False

    def marker(self):
        if not self.dropped:
            return ""
        return (f"\n[output truncated: {self.dropped:,} more bytes of {self._name} were not shown "
                f"(limit: {self._limit:,} bytes per cell)]\n")

    def __getattr__(self, name):
        return getattr(self._target, name)


def _release_later(stream):
    """calls stream.release() after HOLD_SECONDS, from ipykernel's IO thread (no thread of our
    own); False when that is not possible (then the caller does not hold). stream: a held
    _Limited, or a _Cell holding images"""
    try:
        target = getattr(stream, "_target", None)
        pub = getattr(target, "pub_thread", None) if target is not None else getattr(_shell().kernel, "iopub_thread", None)
        if pub is None or pub.thread is None or not pub.thread.is_alive():
            return False
        loop = pub.io_loop
        pub.schedule(lambda: loop.call_later(HOLD_SECONDS, stream.release))
        return True
    except Exception:
        return False
