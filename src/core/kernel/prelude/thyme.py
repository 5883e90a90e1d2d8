# CodeDance kernel prelude, a part of its own: the sandbox of the Thyme format (kernel/types.ts
# KernelTool 'thyme'), as yfzhang114/Thyme runs a model's code in its evaluation
# (eval/VLMEvalKit/vlmeval/vlm/thyme/sandbox.py at b9285b7; the calls in model.py). Written
# here after that file's behaviour, line by line (the numbers below are its lines); every rule
# and what differs is in docs/protocols.md ("## Thyme"). The model's code runs HERE, in the
# question's sandboxed kernel, never on the host: this part only rewrites it first, as the
# repository does, and then runs it the way the repository's exec() does (its own globals,
# locals and builtins), not in the kernel's namespace.
# Compiled on first use (index.ts `deferred`, core.py _load_part: inputs.py's _run_tool loads it
# before a Thyme cell), into the module _codedance like the other parts: a kernel of another
# format pays nothing for it.

import ast as _t_ast
import contextlib as _t_contextlib
import copy as _t_copy
import glob as _t_glob
import importlib as _t_importlib
import math as _t_math
import pickle as _t_pickle
import random as _t_random
import re as _t_re
import stat as _t_stat
import string as _t_string
import textwrap as _t_textwrap
import types as _t_types

# sandbox.py 36-50 (matched case-insensitively, 59)
THYME_DANGEROUS_PATTERNS = [
    r'\bsys\.',
    r'\bsocket\.',
    r'\bsubprocess\.',
    r'\bexec\(', r'\beval\(',
    r'\bcompile\(',
    r'\b__import__\(',
    r'\bos\.(remove|unlink|rmdir)\b',
    r'\bshutil\.rmtree\b',
    r'\bshutil\.move\b',
    r'\bos\.(rename|renames)\b',
]
THYME_EXEC_TIME_LIMIT = 10  # sandbox.py 64 (timeout_decorator, signals: 465)
THYME_TEMP_DIR = "./temp_processed_images/"  # sandbox.py 69 (model.py passes no other)
THYME_ORIGINAL_PREFIX = "/mnt/data/temp_processed_images/"  # sandbox.py 631
THYME_VALID_IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.gif', '.bmp', '.tiff', '.webp')  # 176
THYME_MIN_CROP_DIMENSION = 64  # 214
THYME_ITEM_ID = "N/A"  # execute_code_in_sandbox's default item_id (747): model.py passes none


class ThymeSandboxError(Exception):
    """the repository's sandbox gave no output for the code: its loop drops the reply and asks again"""


def _t_note(*parts):
    # the repository prints these on the console, not to the model: here they go to stderr
    print(*parts, file=sys.stderr)


def _t_dangerous(code):
    return any(_t_re.search(p, code, _t_re.IGNORECASE) for p in THYME_DANGEROUS_PATTERNS)


def _t_align_first_line(code):
    """sandbox.py 109-163: the first non-blank line takes the second's indentation (spaces)"""
    lines = code.splitlines()
    found = [i for i, line in enumerate(lines) if line.strip()][:2]
    if len(found) < 2:
        return code
    first, second = lines[found[0]], lines[found[1]]
    indent = ' ' * (len(second) - len(second.lstrip(' ')))
    if ' ' * (len(first) - len(first.lstrip(' '))) != indent:
        lines[found[0]] = indent + first.lstrip(' ')
    return "\n".join(lines)


def _t_number(node):
    """a number written as such (sandbox.py 243-248); anything else (a name, -5, 2*x) is None"""
    if isinstance(node, _t_ast.Constant) and isinstance(node.value, (int, float)):
        return node.value
    return None


class _TImagePath(_t_ast.NodeTransformer):
    """sandbox.py 179-212: `image_path = "<str>"` that is not an existing image file becomes the input's path"""

    def __init__(self, replacement):
        self.replacement = replacement
        self.replaced = False

    def visit_Assign(self, node):
        if len(node.targets) == 1 and isinstance(node.targets[0], _t_ast.Name) and node.targets[0].id == 'image_path':
            value = node.value.value if isinstance(node.value, _t_ast.Constant) and isinstance(node.value.value, str) else None
            if value is not None:
                ok = (os.path.exists(value) and os.path.isfile(value)
                      and any(value.lower().endswith(ext) for ext in THYME_VALID_IMAGE_EXTENSIONS))
                if not ok:
                    node.value = _t_ast.Constant(value=self.replacement)
                    self.replaced = True
        return self.generic_visit(node)


def _t_clamp(w, h, x1, y1, x2, y2):
    """sandbox.py 257-306: a box ordered, clamped to the image, grown to 64 px a side"""
    img_w, img_h = float(w), float(h)
    cx1, cx2, cy1, cy2 = min(x1, x2), max(x1, x2), min(y1, y2), max(y1, y2)
    fx1 = min(max(0.0, cx1), img_w - 1.0 if img_w > 0 else 0.0)
    fx2 = min(max(0.0, cx2), img_w)
    if fx1 >= fx2 and img_w > 0:
        fx1 = max(0.0, fx2 - 1.0)
        if fx2 <= fx1:
            fx2 = min(img_w, fx1 + 1.0)
    fy1 = min(max(0.0, cy1), img_h - 1.0 if img_h > 0 else 0.0)
    fy2 = min(max(0.0, cy2), img_h)
    if fy1 >= fy2 and img_h > 0:
        fy1 = max(0.0, fy2 - 1.0)
        if fy2 <= fy1:
            fy2 = min(img_h, fy1 + 1.0)
    if img_w > 0 and fx2 - fx1 < THYME_MIN_CROP_DIMENSION:
        if img_w < THYME_MIN_CROP_DIMENSION:
            fx1, fx2 = 0.0, img_w
        else:
            fx2 = fx1 + THYME_MIN_CROP_DIMENSION
            if fx2 > img_w:
                fx2 = img_w
                fx1 = max(0.0, fx2 - THYME_MIN_CROP_DIMENSION)
    if img_h > 0 and fy2 - fy1 < THYME_MIN_CROP_DIMENSION:
        if img_h < THYME_MIN_CROP_DIMENSION:
            fy1, fy2 = 0.0, img_h
        else:
            fy2 = fy1 + THYME_MIN_CROP_DIMENSION
            if fy2 > img_h:
                fy2 = img_h
                fy1 = max(0.0, fy2 - THYME_MIN_CROP_DIMENSION)
    if img_w > 0 and fx1 >= fx2:
        fx2 = min(img_w, fx1 + 1.0)
    if img_h > 0 and fy1 >= fy2:
        fy2 = min(img_h, fy1 + 1.0)
    return [fx1, fy1, fx2, fy2]


_T_COORD_NAMES = ['crop_box', 'bbox', 'box', 'coordinates', 'coords', 'crop_coords',
                  'left_crop_coords', 'right_crop_coords', 'top_crop_coords', 'bottom_crop_coords']  # 237-241
_T_COORD_HINTS = ['x1', 'y1', 'x2', 'y2', 'left', 'top', 'right', 'bottom']  # 323


class _TCrop(_t_ast.NodeTransformer):
    """sandbox.py 230-419: four numbers assigned as a box are clamped (rounded to ints) when that changes them"""

    def __init__(self, w, h):
        self.w, self.h = w, h
        self.clamped = False

    def _apply(self, elts, numbers):
        box = _t_clamp(self.w, self.h, *numbers)
        if [int(round(c)) for c in box] != [int(round(c)) for c in numbers]:
            self.clamped = True
            for i in range(4):
                elts[i] = _t_ast.Constant(value=int(round(box[i])))

    def visit_Assign(self, node):
        one = len(node.targets) == 1
        target = node.targets[0] if one else None
        value = node.value
        # case 1 (314-342): a, b, c, d = (n, n, n, n) with a name like x1 or left among the four
        if (one and isinstance(target, _t_ast.Tuple) and len(target.elts) == 4
                and all(isinstance(t, _t_ast.Name) for t in target.elts)
                and isinstance(value, _t_ast.Tuple) and len(value.elts) == 4):
            if any(n in [t.id.lower() for t in target.elts] for n in _T_COORD_HINTS):
                numbers = [_t_number(v) for v in value.elts]
                if all(c is not None for c in numbers):
                    self._apply(value.elts, numbers)
        # case 2 (347-365): crop_box = (n, n, n, n) and the other names of 237-241 (a tuple, not a list)
        elif (one and isinstance(target, _t_ast.Name) and target.id in _T_COORD_NAMES
              and isinstance(value, _t_ast.Tuple) and len(value.elts) == 4):
            numbers = [_t_number(v) for v in value.elts]
            if all(c is not None for c in numbers):
                self._apply(value.elts, numbers)
        # case 3 (367-417), `crop = image[y1:y2, x1:x2]`, tests the subscript's slice against
        # ast.Index, which no slice is since Python 3.9 (ast.unparse, which every rewrite needs,
        # came with 3.9): it never applies, and is left out here.
        return self.generic_visit(node)


class _TOpenCV(_t_ast.NodeTransformer):
    """sandbox.py 421-453: cv.x, cv3.x, cv4.x and CV.x become cv2.x"""

    def __init__(self):
        self.updated = False

    def visit_Attribute(self, node):
        if isinstance(node.value, _t_ast.Name) and node.value.id in ["cv", "cv4", "cv3", 'CV']:
            node.value.id = "cv2"
            self.updated = True
        return self.generic_visit(node)


def thyme_rewrite(code, input_image_path):
    """The code as the repository's sandbox runs it (sandbox.py 534-621, then 631-654): its first
    line aligned, dedented, formatted by autopep8 (aggressive 2) where autopep8 is installed, the
    image path and crop boxes fixed, cv2's name fixed, /mnt/data/temp_processed_images/ pointed
    at the output folder, one-digit float formats widened. Returns (code, notes)."""
    notes = []
    code = _t_align_first_line(code)
    try:
        import autopep8
    except ImportError:
        autopep8 = None
        notes.append("autopep8 is not installed in this kernel: the code was not formatted with "
                     "autopep8.fix_code(aggressive=2) as Thyme's sandbox formats it (docs/protocols.md)")
    code = _t_textwrap.dedent(code).strip()
    if autopep8 is not None:
        try:
            code = autopep8.fix_code(code, options={'aggressive': 2})
        except Exception:
            pass
    if input_image_path and isinstance(input_image_path, str):
        try:
            tree = _t_ast.parse(code)
            t = _TImagePath(input_image_path)
            tree = t.visit(tree)
            if t.replaced:
                code = _t_ast.unparse(tree)
        except SyntaxError as e:
            notes.append(f"Syntax error when parsing code for image_path replacement: {e}")
        except Exception as e:
            notes.append(f"An error occurred during image_path AST transformation: {e}")
    size = None
    if input_image_path and os.path.isfile(input_image_path):
        try:
            with _Image.open(input_image_path) as img:
                size = img.size
        except Exception as e:
            notes.append(f"WARNING: Could not read image dimensions from '{input_image_path}' using PIL: {e}")
    if size is not None:
        try:
            tree = _t_ast.parse(code)
            t = _TCrop(size[0], size[1])
            tree = t.visit(tree)
            if t.clamped:
                code = _t_ast.unparse(tree)
        except SyntaxError:
            pass
        except Exception as e:
            notes.append(f"ERROR: An error occurred during crop coordinate AST transformation: {e}")
    try:
        tree = _t_ast.parse(code)
        t = _TOpenCV()
        tree = t.visit(tree)
        if t.updated:
            code = _t_ast.unparse(tree)
            notes.append("OpenCV namespace references were updated.")
    except SyntaxError as e:
        notes.append(f"ERROR: Syntax error when parsing code for OpenCV namespace transformation: {e}.")
    except Exception as e:
        notes.append(f"ERROR: An error occurred during OpenCV namespace AST transformation: {e}")
    return code, notes


def _t_output_paths(code, temp_dir):
    """sandbox.py 631-654 (inside the captured stdout): folders under the prefix are made, the
    prefix replaced by the output folder, `:.Nf}` formats widened to `:.8f}`"""
    target = temp_dir if temp_dir.endswith('/') else temp_dir + '/'
    pattern = _t_re.compile(r"(['\"])(" + _t_re.escape(THYME_ORIGINAL_PREFIX) + r"[^'\"]*)\1")
    for full in {m.group(2) for m in pattern.finditer(code)}:
        suffix = full[len(THYME_ORIGINAL_PREFIX):].replace(' ', '')
        if suffix and os.path.dirname(suffix):
            os.makedirs(os.path.join(temp_dir, os.path.dirname(suffix)), exist_ok=True)
    code = code.replace(THYME_ORIGINAL_PREFIX, target)
    return _t_re.sub(r':\.\d{1}f}', ':.8f}', code)


def _t_globals():
    """sandbox.py 476-512: the builtins and names the code is given"""
    import json as _json
    allowed = {
        "print": print, "len": len, "str": str, "int": int, "float": float,
        "list": list, "dict": dict, "tuple": tuple, "range": range, "round": round,
        "abs": abs, "min": min, "max": max, "sum": sum, "sorted": sorted,
        "any": any, "all": all, "zip": zip, "map": map, "filter": filter,
        "True": True, "False": False, "None": None, "isinstance": isinstance,
        "issubclass": issubclass, "Exception": Exception, "ValueError": ValueError,
        "TypeError": TypeError, "AttributeError": AttributeError, "IndexError": IndexError,
        "KeyError": KeyError, "NotImplementedError": NotImplementedError,
        "enumerate": enumerate, "pow": pow, "divmod": divmod, "bin": bin,
        "oct": oct, "hex": hex, "complex": complex, "__import__": __import__,
        "globals": globals, "locals": locals, "open": open,
        "os": os, "shutil": __import__('shutil'),
        "itertools": __import__('itertools'), "re": _t_re, "time": __import__('time'),
        "datetime": __import__('datetime'), "math": _t_math, "cmath": __import__('cmath'),
        "collections": __import__('collections'), "json": _json, "PIL": __import__('PIL'),
        "random": _t_random, "UnidentifiedImageError": _Image.UnidentifiedImageError,
    }
    g = {
        "__builtins__": allowed, "os": os, "random": _t_random, "string": _t_string, "math": _t_math,
        "Image": _Image, "UnidentifiedImageError": _Image.UnidentifiedImageError,
        "numpy": _np, "np": _np, "json": _json, "re": _t_re,
    }
    try:
        import cv2  # optional there too (28-32)
        g["cv2"] = cv2
    except ImportError:
        pass
    return g


def _t_image_files(temp_dir):
    """sandbox.py 166-174"""
    out = []
    for ext in ['jpg', 'jpeg', 'png', 'bmp', 'gif', 'tiff']:
        out.extend(_t_glob.glob(os.path.join(temp_dir, f'*.{ext}')))
    return out


def _t_collect(sandbox_locals, previous, printed, code, temp_dir, paths, error):
    """sandbox.py 659-703: the images the code made (processed_path, paths it printed), else what it printed"""
    if "processed_path" in sandbox_locals and (not previous or "processed_path" not in previous.get('locals', {})):
        p = sandbox_locals["processed_path"]
        if isinstance(p, str) and p.startswith(temp_dir) and os.path.isfile(p):
            paths.append(p)
        elif isinstance(p, str) and p.startswith(temp_dir) and not os.path.exists(p):
            error = f"Sandbox for {THYME_ITEM_ID}: 'processed_path' variable set to '{p}', but file does not exist."
        elif p is not None:
            error = f"Sandbox for {THYME_ITEM_ID}: 'processed_path' variable was '{p}', which is not a valid file path in {temp_dir}."
    if printed:
        pattern = rf"({_t_re.escape(temp_dir)}[^\s\'\"]+\.(?:jpg|jpeg|png|bmp|gif|tiff))"
        on_disk = _t_image_files(temp_dir)
        maybe_error = ""
        found = 0
        for m in _t_re.finditer(pattern, printed):
            found += 1
            if os.path.isfile(m.group(1)):
                if m.group(1) not in paths:
                    paths.append(m.group(1))
            elif not error:
                maybe_error = f"Sandbox for {THYME_ITEM_ID}: Path '{m.group(1)}' found in print, but file does not exist or is not a file."
        if len(paths) == 0:
            if found == len(on_disk):
                paths[:] = on_disk
            elif len(_t_re.findall(r"([^\s\'\"]+\.(?:jpg|jpeg|png|bmp|gif|tiff))", printed)) == len(on_disk):
                paths[:] = on_disk
            else:
                error = maybe_error
        if not paths and temp_dir not in code:
            paths.append(printed)
    return error


def _t_context(sandbox_locals, sandbox_globals):
    """sandbox.py 723-743: what the next step of the same generation starts from"""
    imports, variables = {}, {}
    for name, value in sandbox_locals.items():
        if name == "__builtins__" or name in sandbox_globals:
            continue
        if isinstance(value, _t_types.ModuleType):
            imports[name] = value.__name__
        else:
            variables[name] = value
    return {'globals': imports, 'locals': variables}


def _t_target(code, input_image_path, temp_dir, previous):
    """sandbox.py 466-744, _sandboxed_execution_target"""
    sandbox_globals = _t_globals()
    sandbox_locals = {"image_path": input_image_path, "temp_output_dir": temp_dir}
    if previous:
        sandbox_locals.update(previous.get('locals', {}))
        for alias, module_name in previous.get('globals', {}).items():
            try:
                sandbox_locals[alias] = _t_importlib.import_module(module_name)
            except ImportError:
                _t_note(f"Warning: Could not re-import module '{module_name}' (as '{alias}') from previous step.")
    code, notes = thyme_rewrite(code, input_image_path)
    for n in notes:
        _t_note(n)
    captured = io.StringIO()
    printed, paths, error = None, [], None
    try:
        with _t_contextlib.redirect_stdout(captured):
            code = _t_output_paths(code, temp_dir)
            exec(code, sandbox_globals, sandbox_locals)
        printed = captured.getvalue().strip()
        error = _t_collect(sandbox_locals, previous, printed, code, temp_dir, paths, error)
    except ImportError as e:
        error = f"Sandbox for {THYME_ITEM_ID}: Code execution failed due to ImportError. Ensure all required modules are available and correctly named: {e}"
    except MemoryError as e:
        error = f"Sandbox for {THYME_ITEM_ID}: Code execution failed due to MemoryError. The operation likely consumed too much memory: {e}"
    except SyntaxError as e:
        error = f"Sandbox for {THYME_ITEM_ID}: Code execution failed due to SyntaxError: {e}"
    except Exception as e:
        error = f"Sandbox for {THYME_ITEM_ID}: Code execution failed: {e}"
    return paths, printed, error, _t_context(sandbox_locals, sandbox_globals), code


class _TTimeout(Exception):
    """timeout_decorator's TimeoutError('Timed Out') (an Exception: the code's own `except Exception` catches it too)"""

    def __str__(self):
        return repr("Timed Out")


def _t_execute(code, input_image_path, temp_dir, previous):
    """sandbox.py 747-793, execute_code_in_sandbox: the dangerous-code check, the output folder,
    the input image read-only, 10 seconds"""
    import signal as _signal
    if _t_dangerous(code):
        return [], "", f"Sandbox for {THYME_ITEM_ID}: Code contains potentially dangerous system operations such as remove. Execution denied.", None, code
    os.makedirs(temp_dir, exist_ok=True)
    if not os.access(temp_dir, os.W_OK):
        raise PermissionError(f"Temporary directory {temp_dir} is not writable.")
    mode = None
    if input_image_path and os.path.isfile(input_image_path):
        try:
            mode = os.stat(input_image_path).st_mode
            ro = mode & ~(_t_stat.S_IWUSR | _t_stat.S_IWGRP | _t_stat.S_IWOTH)
            if ro != mode:
                os.chmod(input_image_path, ro)
        except OSError as e:
            _t_note(f"Warning: Could not make '{input_image_path}' read-only: {e}")
            mode = None

    def on_alarm(_signum, _frame):
        raise _TTimeout()

    old = _signal.signal(_signal.SIGALRM, on_alarm)
    _signal.setitimer(_signal.ITIMER_REAL, THYME_EXEC_TIME_LIMIT)
    try:
        return _t_target(code, input_image_path, temp_dir, previous)
    except _TTimeout:
        error = f"Sandbox for {THYME_ITEM_ID}: Execution timed out after {THYME_EXEC_TIME_LIMIT} seconds."
        _t_note(error)
        return [], "", error, None, code
    finally:
        _signal.setitimer(_signal.ITIMER_REAL, 0)
        _signal.signal(_signal.SIGALRM, old)
        if mode is not None and os.path.isfile(input_image_path):
            try:
                os.chmod(input_image_path, mode)
            except OSError as e:
                _t_note(f"Warning: Could not restore original permissions for '{input_image_path}': {e}")


def _t_drop_unpicklable(d):
    """model.py 223-241, in place (the context the next step starts from loses them too)"""
    remove = []
    for key, value in d.items():
        if isinstance(value, dict):
            _t_drop_unpicklable(value)
        else:
            try:
                _t_pickle.dumps(value)
            except (_t_pickle.PicklingError, TypeError, AttributeError):
                remove.append(key)
    for key in remove:
        del d[key]
    return d


def _t_fetch_image(path):
    """qwen_vl_utils fetch_image, as the repository's process_vision_info reads a sandbox image
    (model.py 295): RGB, smart-resized (28, 4*28*28 .. 16384*28*28, aspect at most 200), PNG"""
    image = _Image.open(path).convert("RGB")
    width, height = image.size
    if max(height, width) / min(height, width) > 200:
        raise ValueError(f"absolute aspect ratio must be smaller than 200, got {max(height, width) / min(height, width)}")
    h, w = smart_resize(height, width, 28, 4 * 28 * 28, 16384 * 28 * 28)
    image = image.resize((w, h))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue(), w, h


def _t_input_file(path):
    """the question's first image, its file's own bytes, where the prompt says it is"""
    originals = _state.get("input_bytes") or []
    if not path or not originals:
        return
    if os.path.isfile(path):
        with open(path, "rb") as f:
            if f.read() == originals[0]:
                return
        os.chmod(path, 0o644)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "wb") as f:
        f.write(originals[0])


def _thyme_run(tool, code):
    """One code block of a Thyme reply (model.py 329-362): runs it in the generation's context,
    returns what goes between <sandbox_output> and </sandbox_output> (its images, as cell
    images; else its printed text, as the cell's stdout), or raises ThymeSandboxError when the
    sandbox gave nothing (the repository then drops the reply and the context goes back)."""
    image_path = tool.get("imagePath") or ""
    _t_input_file(image_path)
    st = _state.get("thyme")
    key = [tool.get("run"), tool.get("generation")]
    if st is None or st["key"] != key:
        # a new generation (model.py 268-273): a fresh context
        st = _state["thyme"] = {"key": key, "context": {}}
    previous = st["context"]
    backup = _t_copy.deepcopy(_t_drop_unpicklable(previous)) if previous is not None else None
    saved_show, saved_plt_show = _Image.Image.show, _plt.show
    # Image.show()/plt.show() show nothing there (a headless server), and are not images of the cell
    _Image.Image.show = lambda self, *a, **k: None
    _plt.show = lambda *a, **k: None
    try:
        paths, printed, error, current, ran = _t_execute(code, image_path, THYME_TEMP_DIR, previous)
    finally:
        _Image.Image.show, _plt.show = saved_show, saved_plt_show
    if ran != code:
        _t_note("Thyme's sandbox ran this code as rewritten:\n" + ran)
    st["context"] = current
    if not paths:
        st["context"] = backup
        raise ThymeSandboxError(f"{error}")
    if os.path.exists(paths[0]):
        for p in paths:
            if os.path.exists(p) and _room_for_image():
                raw, w, h = _t_fetch_image(p)
                _emit("tool", "PNG", raw, w, h)
    else:
        sys.stdout.write(paths[0])
