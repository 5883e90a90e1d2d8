# CodeDance kernel prelude, part 5 of 7: the question's input images (eval.py's
# preparation, Qwen smart resize), and the formats' tools that work on them (DeepEyes' zoom).
# See core.py.

import base64
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
    working folder and binds input_image, input_image_path and input_images. Each PNG goes back
    as a binary frame of the result (prepared[i].pngBuffer) where frames reach the client (not
    base64 in JSON: for an 8K photo that is 11 MB less to encode, serialize, sign and parse)."""
    req = json.loads(base64.b64decode(payload_b64).decode("utf-8"))
    result = {"kind": "result", "op": "inputs", "status": "ok", "prepared": []}
    buffers = []
    binary = bool(config.get("binaryImages", True))
    opts = req.get("options") or {}
    if opts.get("maxPixels"):
        # the model's pixel budget, for output images too (capture.py _fit_budget)
        config["imagePixels"] = [opts.get("minPixels") or 4 * 28 * 28, opts["maxPixels"]]
    try:
        workdir = config["workdir"]
        images = []
        paths = []
        originals = []
        for i, path in enumerate(req["files"]):
            with open(path, "rb") as f:
                data = f.read()
            originals.append(data)
            try:
                img, ow, oh = _prepare_one(data, req["options"])
            except Exception as e:
                raise ValueError(f"input image #{i + 1} could not be read: {type(e).__name__}: {e}")
            name = "input_image.jpg" if i == 0 else f"input_image_{i + 1}.jpg"
            target = os.path.join(workdir, name)
            img.save(target)
            png = io.BytesIO()
            # 'original': the client sends the file's own bytes; modelImage false: it has the PNG already
            if opts.get("resize") != "original" and opts.get("modelImage", True) is not False:
                img.save(png, format="PNG")
            entry = {"width": img.size[0], "height": img.size[1], "originalWidth": ow, "originalHeight": oh}
            if binary and png.tell():
                entry["pngBuffer"] = len(buffers)
                buffers.append(png.getvalue())
            else:
                entry["pngBase64"] = base64.b64encode(png.getvalue()).decode("ascii")
            result["prepared"].append(entry)
            images.append(img)
            paths.append(target)
        # files of an earlier, longer list
        k = len(paths) + 1
        while os.path.exists(os.path.join(workdir, f"input_image_{k}.jpg")):
            os.remove(os.path.join(workdir, f"input_image_{k}.jpg"))
            k += 1
        for key in ("input_image", "input_image_path", "input_images"):
            ns.pop(key, None)
        # the files' own bytes, for the formats' tools that work on the original (DeepEyes' crop)
        _state["input_bytes"] = originals
        _state["zoom_image"] = None
        if images:
            ns["input_image"] = images[0]
            ns["input_image_path"] = paths[0]
            ns["input_images"] = images
        _bind_format_names(opts.get("namespace") or {}, images)
    except BaseException as e:
        result["status"] = "error"
        result["error"] = _describe_error(e)
        result["prepared"] = []
        buffers = []
        _state["input_bytes"] = []
        _state["zoom_image"] = None
    if buffers:
        _publish_with_buffers({RESULT_MIME: result}, {"codedance": {"kind": "result"}}, buffers)
    else:
        _publish({RESULT_MIME: result}, {"codedance": {"kind": "result"}})


def _bind_format_names(spec, images):
    """A format's own names (kernel/types.ts FormatNamespace), those of an earlier binding gone
    first: its modules imported, then each image, as a plain RGB copy (convert("RGB"), as PyVision's
    base64_to_image makes it), as spec["imageName"].format(i=i): PyVision's ImageRuntime's
    image_clue_0, image_clue_1, ... and its HEADERS' imports."""
    import importlib
    for key in _state.get("format_names") or []:
        ns.pop(key, None)
    names = []
    for name, module in (spec.get("modules") or {}).items():
        ns[name] = importlib.import_module(module)
        names.append(name)
    pattern = spec.get("imageName")
    if pattern:
        for i, img in enumerate(images):
            name = pattern.format(i=i)
            ns[name] = img.convert("RGB")
            names.append(name)
    _state["format_names"] = names


# ----------------------------------------------------------------------------------------------
# the formats' own tools (kernel/types.ts KernelTool): run as their repositories run them
# ----------------------------------------------------------------------------------------------

def _run_tool(tool, code=""):
    """runs a format's tool inside the cell (run() in executor.py): its errors are the cell's"""
    if tool.get("kind") == "deepeyes-zoom":
        _deepeyes_zoom(tool["bbox"])
    elif tool.get("kind") == "thyme":
        _load_part("thyme.py")  # compiled on first use (core.py)
        _thyme_run(tool, code)  # thyme.py: the cell's code, in Thyme's sandbox
    else:
        raise ValueError(f"unknown tool kind {tool.get('kind')!r}")


def _deepeyes_zoom(bbox_src):
    """Visual-Agent/DeepEyes eval/eval_vstar.py, process(): the original image as opened from its
    file (line 136, once per question), cropped to the box and smart-resized (lines 199-205), as a
    PNG (encode_pil_image_to_base64, lines 87-91). The box is the literal the model wrote: the
    repository reads it with eval(); ast.literal_eval gives the same value for a literal and runs
    nothing. Every error (a box of the wrong length, right < left, a zero-size side) is the cell's,
    as it was the repository's loop's."""
    import ast
    originals = _state.get("input_bytes") or []
    if not originals:
        raise ValueError("image_zoom_in_tool: the question has no image to zoom in on")
    pil_img = _state.get("zoom_image")
    if pil_img is None:
        pil_img = _Image.open(io.BytesIO(originals[0]))
        _state["zoom_image"] = pil_img
    bbox = ast.literal_eval(bbox_src)
    # eval_vstar.py lines 200-204, as written there
    left, top, right, bottom = bbox
    cropped_image = pil_img.crop((left, top, right, bottom))
    new_w, new_h = smart_resize((right - left), (bottom - top), factor=28)
    cropped_image = cropped_image.resize((new_w, new_h), resample=_Image.BICUBIC)
    buffered = io.BytesIO()
    cropped_image.save(buffered, format="PNG")
    _emit("tool", "PNG", buffered.getvalue(), cropped_image.size[0], cropped_image.size[1])
