# CodeDance kernel prelude, part 4 of 7: running one cell (eval.py's executor), its error
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
    # how many images the cell may return (capture.py _room_for_image; 0: no limit)
    max_images = req.get("maxImages", config.get("maxImagesPerCell", DEFAULT_MAX_IMAGES))
    _state["max_images"] = max_images
    _state["images_omitted"] = 0
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
            if req.get("tool"):
                _run_tool(req["tool"], code)  # a format's own tool (inputs.py), or its own sandbox for the code (Thyme)
            else:
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
            if _state["images_omitted"]:
                # the client says so in the cell's output (classify.ts)
                result["imagesOmitted"] = _state["images_omitted"]
                result["maxImages"] = max_images
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
    meanwhile, and that request would wait unread until something else woke the stream.
    A fast path (fastpaths.py: reply_at_once): None unless it is on."""
    if "reply_at_once" not in _fast:
        return None
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
