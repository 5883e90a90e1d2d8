/**
 * GENERATED from prelude/*.py by embed-prelude.mjs — do not edit here; edit the parts in
 * prelude/ and run `node src/core/kernel/embed-prelude.mjs`. The Python source of the kernel
 * prelude: the parts concatenated in this order into one module (see prelude/core.py).
 */
export const PRELUDE_PARTS: readonly string[] = ["core.py","capture.py","output.py","executor.py","inputs.py","install.py"];

export const PRELUDE_PY: string = String.raw`# CodeDance kernel prelude, part 1 of 6: the module's header, shared state and publishing.
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
# The parts (this folder, in the order of PRELUDE_PARTS in embed-prelude.mjs) are concatenated
# into ONE module: a name defined in one part is used by the others. prelude.ts embeds them
# (a unit test checks it matches). Keep them free of backticks and dollar-brace sequences so
# they embed in a TS template literal.

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
_np = None
_Image = None
_plt = None


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
    for s in (sys.stdout, sys.stderr):
        try:
            s.flush()
        except Exception:
            pass
    dp = _shell().display_pub
    content = {"data": {}, "metadata": metadata, "transient": {}}
    dp.session.send(dp.pub_socket, "display_data", content=content, parent=dp.parent_header, ident=dp.topic, buffers=[raw])


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

    def emit(self, source, fmt, raw, width, height):
        limit = config.get("maxImageBytes")
        if limit and len(raw) > limit:
            self.failures.append({"source": source, "width": width, "height": height,
                                  "reason": f"its {fmt} is {len(raw):,} bytes, over the limit of {limit:,} bytes per image"})
            return
        self.seq += 1
        mime = "image/png" if fmt == "PNG" else "image/jpeg"
        tag = {"kind": "image", "source": source, "seq": self.seq, "cell": self.n, "width": width, "height": height}
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


def _emit(source, fmt, raw, width, height):
    cell = _state["cell"]
    if cell is not None:
        cell.emit(source, fmt, raw, width, height)


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


# CodeDance kernel prelude, part 2 of 6: capturing images the way eval.py does
# (plt.show(), Image.show(), display(), the last expression's value). See core.py.

import io
import sys
import time

# ----------------------------------------------------------------------------------------------
# capture: plt.show(), Image.show(), display(), last expression (eval.py semantics)
# ----------------------------------------------------------------------------------------------

def _captured_plt_show(*_args, **_kwargs):
    plt = _plt
    current_fig = plt.gcf()
    if current_fig and current_fig.get_axes():
        try:
            try:
                w_in, h_in = current_fig.get_size_inches()
                dpi_val = current_fig.get_dpi() or 72
                width_px, height_px = w_in * dpi_val, h_in * dpi_val
                if min(width_px, height_px) == 0:
                    aspect_ratio = float("inf")
                else:
                    aspect_ratio = max(width_px, height_px) / min(width_px, height_px)
                if aspect_ratio > 200 or width_px < 28 or height_px < 28:
                    plt.close(current_fig)
                    return
            except Exception:
                pass
            img_buffer = io.BytesIO()
            current_fig.savefig(img_buffer, format="png", bbox_inches="tight", dpi=150)
            raw = img_buffer.getvalue()
            w, h = _png_size(raw)
            _emit("figure", "PNG", raw, w, h)
        except Exception as e:
            print(f"ERROR [capture_plt_show:local]: Failed to save figure {current_fig.number}: {e}\n", file=sys.stderr)
            _image_failed("figure", _image_size(current_fig), e)
        finally:
            plt.close(current_fig)
    return


def _guarded_pil(pil_image, drop_at_200_inclusive):
    """The seed's PIL guards. Returns the image to encode, or None to drop it."""
    width, height = pil_image.size
    aspect_ratio = max(height, width) / min(height, width)
    # eval.py: show() drops when aspect > 200; the last expression keeps it only when < 200
    if (aspect_ratio >= 200) if drop_at_200_inclusive else (aspect_ratio > 200):
        return None
    if width < 56 or height < 56:
        scale = 112 / min(width, height)
        new_w = int(width * scale)
        new_h = int(height * scale)
        pil_image = pil_image.resize((new_w, new_h), _Image.LANCZOS)
    if pil_image.mode not in ["RGB", "RGBA"]:
        pil_image = pil_image.convert("RGB")
    return pil_image


def _encode(pil_image, fmt):
    t0 = time.perf_counter()
    if fmt == "JPEG" and pil_image.mode == "RGBA":
        # eval.py would fail here ("cannot write mode RGBA as JPEG"); keep the image instead
        pil_image = pil_image.convert("RGB")
    buf = io.BytesIO()
    pil_image.save(buf, format=fmt)
    cell = _state["cell"]
    if cell is not None:
        cell.t_encode += time.perf_counter() - t0
    return buf.getvalue(), pil_image.size


def _captured_pil_show(self, *_args, **_kwargs):
    try:
        pil_image = _guarded_pil(self, False)
        if pil_image is None:
            return
        raw, (w, h) = _encode(pil_image, "PNG")
        _emit("show", "PNG", raw, w, h)
    except Exception as e:
        print(f"ERROR [capture_pil_show]: Failed to save figure via show(): {e}\n", file=sys.stderr)
        _image_failed("show", _image_size(self), e)


def _ndarray_to_pil(image_array):
    np = _np
    if image_array.dtype != np.uint8:
        if np.issubdtype(image_array.dtype, np.floating):
            image_array = (image_array.clip(0, 1) * 255).astype(np.uint8)
        else:
            image_array = image_array.astype(np.uint8)
    if image_array.ndim == 3 and image_array.shape[2] == 3:
        image_array = image_array[:, :, ::-1]
    pil_image = _Image.fromarray(image_array)
    if pil_image.mode not in ["RGB", "RGBA"]:
        pil_image = pil_image.convert("RGB")
    return pil_image


def _capture_value(result_val, source):
    """eval.py's handling of the last expression's value."""
    fmt = config.get("expressionImageFormat", "JPEG")
    type_str = str(type(result_val))
    if "PIL" in type_str:
        try:
            pil_image = _guarded_pil(result_val, True)
            if pil_image is not None:
                raw, (w, h) = _encode(pil_image, fmt)
                _emit(source, fmt, raw, w, h)
        except Exception as e:
            print(f"ERROR: Failed to display PIL Image: {e}\n", file=sys.stderr)
            _image_failed(source, _image_size(result_val), e)
    elif "numpy.ndarray" in type_str:
        try:
            if result_val.ndim in [2, 3] and result_val.size > 1:
                raw, (w, h) = _encode(_ndarray_to_pil(result_val), fmt)
                _emit(source, fmt, raw, w, h)
            else:
                print(result_val)
        except Exception as e:
            print(f"ERROR: Failed to display numpy.ndarray as Image: {e}\n", file=sys.stderr)
            _image_failed(source, _image_size(result_val), e)
    elif result_val is not None:
        print(result_val)


def _display(*objs, **_kwargs):
    """display(x) anywhere in the code: images are captured (PNG, the show() guards), figures
    saved like plt.show() (not closed), anything else printed."""
    for obj in objs:
        type_str = str(type(obj))
        try:
            if "PIL" in type_str and hasattr(obj, "size") and hasattr(obj, "save"):
                pil_image = _guarded_pil(obj, False)
                if pil_image is not None:
                    raw, (w, h) = _encode(pil_image, "PNG")
                    _emit("display", "PNG", raw, w, h)
            elif "numpy.ndarray" in type_str and obj.ndim in [2, 3] and obj.size > 1:
                raw, (w, h) = _encode(_ndarray_to_pil(obj), "PNG")
                _emit("display", "PNG", raw, w, h)
            elif type(obj).__name__ == "Figure" and hasattr(obj, "savefig"):
                if obj.get_axes():
                    buf = io.BytesIO()
                    obj.savefig(buf, format="png", bbox_inches="tight", dpi=150)
                    raw = buf.getvalue()
                    w, h = _png_size(raw)
                    _emit("display", "PNG", raw, w, h)
            else:
                print(obj)
        except Exception as e:
            print(f"ERROR: Failed to display {type(obj).__name__}: {e}\n", file=sys.stderr)
            _image_failed("display", _image_size(obj), e)


# CodeDance kernel prelude, part 3 of 6: what a cell may not do (exit(), input()) and its
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


# CodeDance kernel prelude, part 4 of 6: running one cell (eval.py's executor), its error
# report, and the do_execute hook that skips IPython's run_cell for our cells. See core.py.

import ast
import base64
import builtins
import json
import linecache
import os
import signal
import sys
import time
import traceback

def _clean_tb(te):
    """drops the prelude's own frames from a TracebackException (and its chain)"""
    seen = set()
    while te is not None and id(te) not in seen:
        seen.add(id(te))
        te.stack = traceback.StackSummary.from_list([f for f in te.stack if f.filename != PRELUDE_FILE])
        if te.__cause__ is not None:
            _clean_tb(te.__cause__)
        te = te.__context__


def _describe_error(e):
    try:
        te = traceback.TracebackException(type(e), e, e.__traceback__)
        _clean_tb(te)
        lines = list(te.format())
    except Exception:
        lines = [f"{type(e).__name__}: {e}\n"]
    lineno = getattr(e, "lineno", None) if isinstance(e, SyntaxError) else None
    return {"ename": type(e).__name__, "evalue": str(e), "lineno": lineno, "traceback": lines}


def _register_source(code):
    lines = code.splitlines(True)
    for name in ("<ast>", "<string>"):
        linecache.cache[name] = (len(code), None, lines, name)


def _exec_cell(code):
    """eval.py: the last statement, if an expression, is evaluated and its value captured."""
    try:
        node = ast.parse(code, mode="exec")
    except SyntaxError:
        node = None
    if node is None:
        # the seed falls back to exec(code), which reports '(<string>, line N)'
        exec(code, ns, ns)
        return
    if node.body and isinstance(node.body[-1], ast.Expr):
        if len(node.body) > 1:
            module_body = ast.Module(body=node.body[:-1], type_ignores=[])
            exec(compile(module_body, filename="<ast>", mode="exec"), ns, ns)
        last = node.body[-1].value
        source = "expression"
        if (isinstance(last, ast.Call) and getattr(last.func, "id", None) == "display"
                and len(last.args) == 1 and not last.keywords and ns.get("display", _display) is _display):
            last = last.args[0]  # the training tool's display(x) special case
        result_val = eval(compile(ast.Expression(body=last), filename="<ast>", mode="eval"), ns, ns)
        _capture_value(result_val, source)
    else:
        exec(code, ns, ns)


def run(payload_b64, publish=True):
    """Runs one cell. The client sends _codedance_run("<base64 json>") as an execute_request;
    the do_execute hook (see install) calls this directly and puts the result record in the
    execute_reply; through IPython's run_cell (hook absent) it is published as display_data."""
    prof = config.get("profile")
    t_start = time.perf_counter() if prof else 0.0
    req = json.loads(base64.b64decode(payload_b64).decode("utf-8"))
    code = req["code"]
    limit = req.get("maxOutputBytes", config.get("maxOutputBytes"))
    _state["count"] += 1
    cell = _Cell(_state["count"], hold=not publish)
    _state["reply_buffers"] = None
    _state["iopub_sent"] = 0
    _state["cell"] = cell
    result = {"kind": "result", "op": "run", "count": cell.n, "status": "ok"}

    real_out, real_err = sys.stdout, sys.stderr
    # hold short cells' output for the reply only when the reply carries it (do_execute hook)
    out = _Limited(real_out, "stdout", limit, not publish)
    err = _Limited(real_err, "stderr", limit, not publish)
    saved_builtins = {k: builtins.__dict__.get(k, _MISSING) for k in ("exit", "quit", "input", "display")}
    saved_sys_exit = sys.exit
    saved_plt_show = _plt.show
    saved_pil_show = _Image.Image.show
    saved_cwd = None
    try:
        saved_cwd = os.getcwd()
    except Exception:
        pass
    prev_sigint = None
    try:
        try:
            builtins.exit = _patched_exit
            builtins.quit = _patched_exit
            builtins.input = _blocked_input
            builtins.display = _display
            sys.exit = _patched_exit
            _plt.show = _captured_plt_show
            _Image.Image.show = _captured_pil_show
            ns["plt"] = _plt
            ns["__builtins__"] = builtins
            os.chdir(config["workdir"])
            _register_source(code)
            sys.stdout, sys.stderr = out, err
            if prof:
                cell.t_exec = time.perf_counter()
            _exec_cell(code)
        except (_SandboxExit, SystemExit):
            result["status"] = "exit"
        except KeyboardInterrupt as e:
            result["status"] = "interrupted"
            result["error"] = _describe_error(e)
        except BaseException as e:  # noqa: B902 - everything the code raises is reported
            result["status"] = "error"
            result["error"] = _describe_error(e)
    finally:
        t_exec_end = time.perf_counter() if prof else 0.0
        # from here on a late interrupt (timeout racing the end of the cell) is ignored
        try:
            prev_sigint = signal.signal(signal.SIGINT, signal.SIG_IGN)
        except Exception:
            prev_sigint = None
        sys.stdout, sys.stderr = real_out, real_err
        for k, v in saved_builtins.items():
            if v is _MISSING:
                builtins.__dict__.pop(k, None)
            else:
                builtins.__dict__[k] = v
        sys.exit = saved_sys_exit
        _plt.show = saved_plt_show
        _Image.Image.show = saved_pil_show
        if saved_cwd is not None:
            try:
                os.chdir(saved_cwd)
            except Exception:
                pass
        _state["cell"] = None
        try:
            tails = {}
            for stream, target in ((out, real_out), (err, real_err)):
                tail = stream.take_held() + stream.marker()
                if stream is out and result["status"] == "exit":
                    tail += EXIT_NOTE
                if publish:
                    if tail:
                        target.write(tail)
                else:
                    tails[stream._name] = tail
            if tails:
                result["stdout"] = tails.get("stdout", "")
                result["stderr"] = tails.get("stderr", "")
            # only a cell run for the reply (publish=False) holds images: they ride the
            # execute_reply as its buffers (_attach_reply_buffers)
            held = cell.take_images()
            if held:
                result["images"] = [dict(tag, buffer=i, mime=mime) for i, (tag, mime, _raw) in enumerate(held)]
                _state["reply_buffers"] = [raw for (_tag, _mime, raw) in held]
            result["truncated"] = {"stdout": out.dropped, "stderr": err.dropped}
            if cell.failures:
                result["imageFailures"] = cell.failures
            if prof:
                # bench --profile: where the kernel-side time of this cell went, ms
                t_exec = cell.t_exec or t_exec_end
                result["profile"] = {"setup": (t_exec - t_start) * 1e3, "exec": (t_exec_end - t_exec) * 1e3,
                                     "encode": cell.t_encode * 1e3, "send": cell.t_send * 1e3,
                                     "teardown": (time.perf_counter() - t_exec_end) * 1e3}
            if publish:
                _publish({RESULT_MIME: result}, {"codedance": {"kind": "result"}})
        finally:
            if prev_sigint is not None:
                signal.signal(signal.SIGINT, prev_sigint)
    # through IPython (publish=True) a returned value would be displayed: return nothing there
    return None if publish else result


RUN_PREFIX = '_codedance_run("'


def _hook_do_execute(kernel):
    """Cells of ours skip IPython's run_cell (input transforms, async detection, compile,
    history, display traps): about a millisecond per cell. The message flow stays standard:
    execute_request -> busy, execute_input, outputs, execute_reply (with our record under
    'codedance'), idle. Anything else (e.g. our own setup code) goes the usual way."""
    original = kernel.do_execute
    _attach_reply_buffers(kernel)

    def do_execute(code, silent, store_history=True, user_expressions=None, allow_stdin=False, **kwargs):
        if isinstance(code, str) and code.startswith(RUN_PREFIX) and code.endswith('")'):
            result = run(code[len(RUN_PREFIX):-2], publish=False)
            return {"status": "ok", "execution_count": result.get("count", 0), "user_expressions": {},
                    "payload": [], "codedance": result}
        return original(code, silent, store_history, user_expressions, allow_stdin, **kwargs)

    kernel.do_execute = do_execute


_QUIET_TYPES = ("status", "execute_input")


def _socket_now(stream):
    """The socket to send our cell's reply on at once, or None to leave it to the stream.
    ipykernel 6's shell stream (a ZMQStream) only queues what it is given; the queue is sent when
    the kernel's event loop comes round again, after the kernel has published 'idle' and ended
    the request: ~0.5 ms later, and a Jupyter Server then relays the reply behind that 'idle'.
    With nothing queued before it, the stream's own socket sends the reply now, in the same order
    and from the same thread. The caller then has the stream look at its socket again
    (_rebuild_io_state, as the stream does after each of its own sends): a send lets ZeroMQ
    process what came in, which can use up the edge-triggered wake-up of a request that arrived
    meanwhile, and that request would wait unread until something else woke the stream."""
    sock = getattr(stream, "socket", None)
    sending = getattr(stream, "sending", None)
    closed = getattr(stream, "closed", None)
    rebuild = getattr(stream, "_rebuild_io_state", None)
    if sock is None or not all(callable(f) for f in (sending, closed, rebuild)) or not hasattr(sock, "send_multipart"):
        return None
    if sending() or closed():
        return None
    return sock


def _attach_reply_buffers(kernel):
    """The execute_reply of one of our cells carries the images it held (result["images"] says
    which buffer is which) and how many iopub messages the cell sent besides its status
    (record["iopub"]; 0 lets the client finish at the reply instead of waiting for 'idle').
    Every message of the kernel goes through session.send (streams, displays, comms, replies);
    ipykernel sends the reply right after do_execute returns, in the same thread, after it has
    flushed stdout and stderr; it goes out at once (_socket_now)."""
    session = kernel.session
    if getattr(session.send, "_codedance_reply_buffers", False):
        return
    original = session.send

    def send(stream, msg_or_type, content=None, parent=None, ident=None, buffers=None, track=False, header=None, metadata=None):
        kind = msg_or_type if isinstance(msg_or_type, str) else msg_or_type.get("header", {}).get("msg_type", "")
        if kind == "execute_reply" and isinstance(content, dict):
            record = content.get("codedance")
            if isinstance(record, dict) and record.get("count") == _state["count"]:
                record["iopub"] = _state["iopub_sent"]
                # this cell's (reset when a cell starts)
                pending, _state["reply_buffers"] = _state["reply_buffers"], None
                if pending:
                    buffers = list(buffers or []) + pending
                sock = _socket_now(stream)
                if sock is not None:
                    try:
                        sent = original(sock, msg_or_type, content, parent, ident, buffers, track, header, metadata)
                    finally:
                        stream._rebuild_io_state()
                    _state["replies_at_once"] += 1
                    return sent
        elif kind not in _QUIET_TYPES and not kind.endswith("_reply"):
            _state["iopub_sent"] += 1
        return original(stream, msg_or_type, content, parent, ident, buffers, track, header, metadata)

    send._codedance_reply_buffers = True
    session.send = send


# CodeDance kernel prelude, part 5 of 6: the question's input images (eval.py's
# preparation, Qwen smart resize) and resetting a kernel for the next question. See core.py.

import base64
import builtins
import io
import json
import os

# ----------------------------------------------------------------------------------------------
# input images (eval.py's preparation, Qwen smart resize)
# ----------------------------------------------------------------------------------------------

def _round_by_factor(number, factor):
    return round(number / factor) * factor


def _ceil_by_factor(number, factor):
    import math
    return math.ceil(number / factor) * factor


def _floor_by_factor(number, factor):
    import math
    return math.floor(number / factor) * factor


def smart_resize(height, width, factor=28, min_pixels=4 * 28 * 28, max_pixels=16384 * 28 * 28):
    """eval.py's smart_resize (qwen_vl_utils): returns (height, width), multiples of factor."""
    import math
    h_bar = max(factor, _round_by_factor(height, factor))
    w_bar = max(factor, _round_by_factor(width, factor))
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = _floor_by_factor(height / beta, factor)
        w_bar = _floor_by_factor(width / beta, factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = _ceil_by_factor(height * beta, factor)
        w_bar = _ceil_by_factor(width * beta, factor)
    return h_bar, w_bar


def _prepare_one(data, opts):
    img = _Image.open(io.BytesIO(data))
    ori_width, ori_height = img.size
    if img.mode == "P":
        if "transparency" in img.info:
            img = img.convert("RGBA")
        img = img.convert("RGB")
    elif img.mode != "RGB":
        img = img.convert("RGB")
    if opts.get("resize") == "qwen-smart":
        resize_h, resize_w = smart_resize(ori_height, ori_width, 28,
                                          opts.get("minPixels", 4 * 28 * 28), opts.get("maxPixels", 16384 * 28 * 28))
        img = img.resize((resize_w, resize_h), resample=_Image.BICUBIC)
    else:
        img.load()
    return img, ori_width, ori_height


def set_inputs(payload_b64):
    """Prepares the question's images, saves input_image.jpg (input_image_2.jpg, ...) in the
    working folder and binds input_image, input_image_path and input_images."""
    req = json.loads(base64.b64decode(payload_b64).decode("utf-8"))
    result = {"kind": "result", "op": "inputs", "status": "ok", "prepared": []}
    try:
        workdir = config["workdir"]
        images = []
        paths = []
        for i, path in enumerate(req["files"]):
            with open(path, "rb") as f:
                data = f.read()
            try:
                img, ow, oh = _prepare_one(data, req["options"])
            except Exception as e:
                raise ValueError(f"input image #{i + 1} could not be read: {type(e).__name__}: {e}")
            name = "input_image.jpg" if i == 0 else f"input_image_{i + 1}.jpg"
            target = os.path.join(workdir, name)
            img.save(target)
            png = io.BytesIO()
            img.save(png, format="PNG")
            result["prepared"].append({
                "pngBase64": base64.b64encode(png.getvalue()).decode("ascii"),
                "width": img.size[0], "height": img.size[1],
                "originalWidth": ow, "originalHeight": oh,
            })
            images.append(img)
            paths.append(target)
        # files of an earlier, longer list
        k = len(paths) + 1
        while os.path.exists(os.path.join(workdir, f"input_image_{k}.jpg")):
            os.remove(os.path.join(workdir, f"input_image_{k}.jpg"))
            k += 1
        for key in ("input_image", "input_image_path", "input_images"):
            ns.pop(key, None)
        if images:
            ns["input_image"] = images[0]
            ns["input_image_path"] = paths[0]
            ns["input_images"] = images
    except BaseException as e:
        result["status"] = "error"
        result["error"] = _describe_error(e)
        result["prepared"] = []
    _publish({RESULT_MIME: result}, {"codedance": {"kind": "result"}})


def reset(payload_b64):
    """Makes this kernel a fresh session for the next question (KernelPool.release): the code's
    namespace emptied to what install() left, figures closed, matplotlib's rc settings back to
    their defaults, the cell count at 0, and a new working folder (made by Node; the old one is
    Node's to remove). Imported modules stay imported (that is the point: no new process)."""
    req = json.loads(base64.b64decode(payload_b64).decode("utf-8"))
    result = {"kind": "result", "op": "reset", "status": "ok"}
    try:
        try:
            _plt.close("all")
            import matplotlib
            matplotlib.rcdefaults()
            matplotlib.use("Agg")
        except Exception:
            pass
        ns.clear()
        ns["__builtins__"] = builtins
        ns["plt"] = _plt
        _state["count"] = 0
        _state["cell"] = None
        config["workdir"] = req["workdir"]
        _orphans[:] = list(req.get("orphanCleanup", []))
        os.chdir(req["workdir"])
        import gc
        # the young generations only: a full collection walks numpy's and matplotlib's objects
        # (about 60 ms); reference counting already freed what the namespace held
        gc.collect(1)
    except BaseException as e:
        result["status"] = "error"
        result["error"] = _describe_error(e)
    _publish({RESULT_MIME: result}, {"codedance": {"kind": "result"}})


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
`;
