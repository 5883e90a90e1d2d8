# CodeDance kernel prelude, part 1 of 7: the module's header, shared state and publishing.
#
# The prelude runs once in every ipykernel process (and again after a restart) as the module
# _codedance; it reproduces the executor of the seed's eval/eval.py:
#  - one persistent namespace per question (a plain dict, as in the seed: it holds
#    __builtins__, plt, input_image, input_image_path, input_images and what the code
#    defines; it is not IPython's user namespace);
#  - matplotlib Agg; plt.show() saves the current figure (only with axes; 150 dpi,
#    bbox_inches='tight'; skipped if aspect > 200 or a side < 28 px) and closes it;
#  - PIL Image.show() captured (aspect > 200 dropped; side < 56 -> LANCZOS upscale so the short
#    side is 112; non-RGB/RGBA -> RGB; PNG);
#  - the last statement, when it is an expression: PIL image or 2-D/3-D ndarray captured
#    (floats clipped to [0,1]*255, 3 channels BGR -> RGB; JPEG as in eval.py), other non-None
#    values printed; display(x) as the last statement is treated like x (training tool);
#  - exit()/quit()/sys.exit()/raise SystemExit end the cell, not the kernel, and append the
#    seed's NOTE to stdout; input() raises RuntimeError;
#  - stdout/stderr are capped per cell (maxOutputBytes) with a clear marker.
# Images are sent as display_data as soon as they are captured, tagged in metadata
# {"codedance": {"kind": "image", "source": ..., "seq": n}}; the client orders them as the seed
# does (last expression, then figures, then .show(), then other display() calls). At the end of
# each cell the result record (application/vnd.codedance.result+json) reports the outcome.
#
# The parts (this folder, in the order of index.ts) are concatenated into ONE module: a name
# defined in one part is used by the others. The bundles embed them as text (esbuild's text
# loader).

import base64
import struct
import sys
import threading
import time

EXIT_NOTE = "\nNOTE: Code execution was halted by a call to exit() or quit(). Do not use exit() or quit() in your code."
RESULT_MIME = "application/vnd.codedance.result+json"
PRELUDE_FILE = "<codedance-prelude>"

config = {}
ns = {}
_state = {"count": 0, "cell": None, "iopub_sent": 0, "reply_buffers": None, "replies_at_once": 0}
# the fast paths in use in this kernel (fastpaths.py decides at install)
_fast = set()
_np = None
_Image = None
_plt = None


# ----------------------------------------------------------------------------------------------
# parts compiled on first use
# ----------------------------------------------------------------------------------------------
# A part only some formats need (thyme.py) is not compiled with the module: index.ts appends it
# as _DEFERRED_PARTS = {name: base64 of its zlib-compressed source}, and the code that needs it
# calls _load_part(name) first, which runs it in this module (its names become the module's, as
# if it had been concatenated). A kernel that never uses it neither compiles it nor carries its
# text in the prelude's cell at full size.

_loaded_parts = set()


def _load_part(name):
    if name in _loaded_parts:
        return
    import zlib
    source = zlib.decompress(base64.b64decode(_DEFERRED_PARTS[name])).decode("utf-8")
    # the prelude's file name: its frames stay out of the code's tracebacks (executor.py)
    exec(compile(source, PRELUDE_FILE, "exec"), globals())
    _loaded_parts.add(name)


# ----------------------------------------------------------------------------------------------
# publishing to the client
# ----------------------------------------------------------------------------------------------

def _shell():
    from IPython import get_ipython
    return get_ipython()


def _publish(data, metadata):
    for s in (sys.stdout, sys.stderr):
        try:
            s.flush()
        except Exception:
            pass
    _shell().display_pub.publish(data=data, metadata=metadata)


def _png_size(raw):
    if raw[:8] == b"\x89PNG\r\n\x1a\n" and len(raw) >= 24:
        return struct.unpack(">II", raw[16:24])
    return (None, None)


def _publish_binary(raw, metadata):
    """display_data whose bytes travel as a binary buffer frame (no base64, no JSON of a large
    string, no HMAC over it: several ms less per image); metadata.codedance.buffer says which."""
    _publish_with_buffers({}, metadata, [raw])


def _publish_with_buffers(data, metadata, buffers):
    """display_data of `data` with `buffers` as its binary frames"""
    for s in (sys.stdout, sys.stderr):
        try:
            s.flush()
        except Exception:
            pass
    dp = _shell().display_pub
    content = {"data": data, "metadata": metadata, "transient": {}}
    dp.session.send(dp.pub_socket, "display_data", content=content, parent=dp.parent_header, ident=dp.topic, buffers=buffers)


# images a short cell makes ride its execute_reply (shell: one recipient) instead of iopub (which a
# Jupyter Server also feeds to its activity watcher): up to this many bytes in all
REPLY_IMAGE_BYTES = 64 * 1024 * 1024


class _Cell(object):
    def __init__(self, n, hold=False):
        self.n = n
        self.seq = 0
        # hold: images go with the reply while the cell is younger than HOLD_SECONDS (see
        # output.py); later ones, and the held ones then, are published as they come
        self._hold = hold and bool(config.get("binaryImages", True))
        self._held = []
        self._held_bytes = 0
        self._t0 = time.monotonic()
        self._lock = threading.Lock()
        self._timer_set = False
        # images the code made that could not be encoded or sent: {source, width, height, reason}
        self.failures = []
        # bench --profile (config["profile"]): seconds spent encoding and sending images
        self.t_exec = 0.0
        self.t_encode = 0.0
        self.t_send = 0.0

    def emit(self, source, fmt, raw, width, height, original=None):
        limit = config.get("maxImageBytes")
        if limit and len(raw) > limit:
            self.failures.append({"source": source, "width": width, "height": height,
                                  "reason": f"its {fmt} is {len(raw):,} bytes, over the limit of {limit:,} bytes per image"})
            return
        self.seq += 1
        mime = "image/png" if fmt == "PNG" else "image/jpeg"
        tag = {"kind": "image", "source": source, "seq": self.seq, "cell": self.n, "width": width, "height": height}
        if original:
            # made smaller to fit the model's pixel budget (capture.py _fit_budget)
            tag["originalWidth"], tag["originalHeight"] = int(original[0]), int(original[1])
        t0 = time.perf_counter()
        try:
            if not self._hold_image(tag, mime, raw):
                _publish_image(tag, mime, raw)
        finally:
            self.t_send += time.perf_counter() - t0


    def _hold_image(self, tag, mime, raw):
        """keeps the image for the reply; False when the caller must publish it now (the held ones
        are published first). Publishing happens outside the lock: a flush of stdout inside it
        could wait on the IO thread while the IO thread's timer waits for the lock."""
        with self._lock:
            if not self._hold:
                return False
            kept = time.monotonic() - self._t0 < HOLD_SECONDS and self._held_bytes + len(raw) <= REPLY_IMAGE_BYTES
            if kept:
                self._held.append((tag, mime, raw))
                self._held_bytes += len(raw)
                if self._timer_set or _release_later(self):
                    self._timer_set = True
                    return True
            held = self._take_locked()  # with this image when no timer could be set
        _publish_images(held)
        return kept

    def _take_locked(self):
        self._hold = False
        held, self._held, self._held_bytes = self._held, [], 0
        return held

    def release(self):
        """a long cell: its held images are published (HOLD_SECONDS after the first, from
        ipykernel's IO thread)"""
        with self._lock:
            held = self._take_locked()
        _publish_images(held)

    def take_images(self):
        """stops holding; returns the held images as (tag, mime, bytes) for the reply"""
        with self._lock:
            return self._take_locked()


def _publish_image(tag, mime, raw):
    """one image as display_data: its bytes as a binary buffer, else base64"""
    if config.get("binaryImages", True):
        try:
            _publish_binary(raw, {"codedance": dict(tag, buffer=0, mime=mime)})
            return
        except Exception:
            pass
    _publish({mime: base64.b64encode(raw).decode("ascii")}, {"codedance": tag})


def _publish_images(held):
    for tag, mime, raw in held:
        _publish_image(tag, mime, raw)


def _emit(source, fmt, raw, width, height, original=None):
    cell = _state["cell"]
    if cell is not None:
        cell.emit(source, fmt, raw, width, height, original)


def _image_failed(source, size, e):
    """records an image the code made that could not be encoded (the seed only prints to stderr;
    the client also tells the model which image, and why)"""
    cell = _state["cell"]
    if cell is None:
        return
    try:
        w, h = (int(size[0]), int(size[1])) if size else (None, None)
    except Exception:
        w, h = None, None
    reason = e if isinstance(e, str) else (str(e).strip() or type(e).__name__)
    cell.failures.append({"source": source, "width": w, "height": h, "reason": reason})


def _image_size(obj):
    """(width, height) of a PIL image, an ndarray or a figure (as saved, at 150 dpi); None if unknown"""
    try:
        if hasattr(obj, "get_size_inches"):
            w_in, h_in = obj.get_size_inches()
            return (round(w_in * 150), round(h_in * 150))
        if hasattr(obj, "shape") and len(obj.shape) >= 2:
            return (obj.shape[1], obj.shape[0])
        if hasattr(obj, "size") and isinstance(obj.size, tuple):
            return obj.size
    except Exception:
        pass
    return None
