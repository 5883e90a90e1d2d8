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
