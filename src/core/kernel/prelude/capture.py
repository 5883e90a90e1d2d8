# CodeDance kernel prelude, part 2 of 7: capturing images the way eval.py does
# (plt.show(), Image.show(), display(), the last expression's value), within the cell's bounds
# (at most so many images; none over the model's pixel budget). See core.py.

import io
import math
import sys
import time

# ----------------------------------------------------------------------------------------------
# bounds: images per cell, the model's pixel budget
# ----------------------------------------------------------------------------------------------

# images one cell may return (sent or failed); the rest are neither encoded nor sent, only counted
DEFAULT_MAX_IMAGES = 16
# the model's pixel budget when none was given: the seed's for input images (eval.py)
DEFAULT_PIXELS = (4 * 28 * 28, 16384 * 28 * 28)


def _room_for_image():
    """False when the running cell has made its limit of images (returned or failed): the caller
    then neither encodes nor sends the image, and it is counted for the cell's record"""
    cell = _state["cell"]
    limit = _state.get("max_images")
    if cell is None or not limit:
        return True
    if cell.seq + len(cell.failures) < limit:
        return True
    _state["images_omitted"] += 1
    return False


def _pixel_budget():
    """(min_pixels, max_pixels): the input images' (set_inputs), else the seed's"""
    b = config.get("imagePixels") or DEFAULT_PIXELS
    return int(b[0]), int(b[1])


def _fit_budget(pil_image):
    """An image over the model's pixel budget made smaller the way the seed prepares an input
    image (smart resize: sides multiples of 28, bicubic); any other image unchanged. Returns
    (image, its original size when resized, else None)."""
    lo, hi = _pixel_budget()
    width, height = pil_image.size
    if hi <= 0 or width * height <= hi:
        return pil_image, None
    new_h, new_w = smart_resize(height, width, 28, lo, hi)
    return pil_image.resize((max(28, new_w), max(28, new_h)), resample=_Image.BICUBIC), (width, height)


def _save_figure(fig):
    """A figure as PNG the seed's way (150 dpi, tight box), at a lower dpi when 150 would go over
    the pixel budget (rendered smaller rather than rendered huge and resized), and resized if
    its tight box (or the lowest dpi) still is. Returns (png, width, height, size at 150 dpi when made smaller)."""
    _lo, hi = _pixel_budget()
    dpi = 150
    original = None
    try:
        w_in, h_in = fig.get_size_inches()
        full = (w_in * 150) * (h_in * 150)
        if hi > 0 and full > hi:
            # not below 10 dpi: FreeType refuses fonts of under a pixel or so
            dpi = max(10.0, 150 * math.sqrt(hi / full) * 0.98)
            original = (round(w_in * 150), round(h_in * 150))
    except Exception:
        pass
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", dpi=dpi)
    raw = buf.getvalue()
    w, h = _png_size(raw)
    if hi > 0 and w and h and w * h > hi:
        img, resized = _fit_budget(_Image.open(io.BytesIO(raw)))
        raw, (w, h) = _encode(img, "PNG")
        original = original or resized
    return raw, w, h, original


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
            if not _room_for_image():
                return
            raw, w, h, original = _save_figure(current_fig)
            _emit("figure", "PNG", raw, w, h, original)
        except Exception as e:
            print(f"ERROR [capture_plt_show:local]: Failed to save figure {current_fig.number}: {e}\n", file=sys.stderr)
            _image_failed("figure", _image_size(current_fig), e)
        finally:
            plt.close(current_fig)
    return


def _guarded_pil(pil_image, drop_at_200_inclusive):
    """The seed's PIL guards, and the pixel budget (before the mode conversion, which would make
    a huge image three times larger first). Returns (image to encode, original size when it was
    made smaller), or (None, None) to drop it."""
    width, height = pil_image.size
    aspect_ratio = max(height, width) / min(height, width)
    # eval.py: show() drops when aspect > 200; the last expression keeps it only when < 200
    if (aspect_ratio >= 200) if drop_at_200_inclusive else (aspect_ratio > 200):
        return None, None
    if width < 56 or height < 56:
        scale = 112 / min(width, height)
        new_w = int(width * scale)
        new_h = int(height * scale)
        pil_image = pil_image.resize((new_w, new_h), _Image.LANCZOS)
    pil_image, original = _fit_budget(pil_image)
    if pil_image.mode not in ["RGB", "RGBA"]:
        pil_image = pil_image.convert("RGB")
    return pil_image, original


def _encode(pil_image, fmt):
    """(bytes, size) of an image within the pixel budget (the callers made it fit)"""
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


def _emit_pil(source, fmt, pil_image, original):
    raw, (w, h) = _encode(pil_image, fmt)
    _emit(source, fmt, raw, w, h, original)


def _emit_array(source, fmt, image_array):
    pil_image, original = _fit_budget(_ndarray_to_pil(image_array))
    _emit_pil(source, fmt, pil_image, original)


def _captured_pil_show(self, *_args, **_kwargs):
    try:
        if not _room_for_image():
            return
        pil_image, original = _guarded_pil(self, False)
        if pil_image is None:
            return
        _emit_pil("show", "PNG", pil_image, original)
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
            if not _room_for_image():
                return
            pil_image, original = _guarded_pil(result_val, True)
            if pil_image is not None:
                _emit_pil(source, fmt, pil_image, original)
        except Exception as e:
            print(f"ERROR: Failed to display PIL Image: {e}\n", file=sys.stderr)
            _image_failed(source, _image_size(result_val), e)
    elif "numpy.ndarray" in type_str:
        try:
            if result_val.ndim in [2, 3] and result_val.size > 1:
                if _room_for_image():
                    _emit_array(source, fmt, result_val)
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
                if _room_for_image():
                    pil_image, original = _guarded_pil(obj, False)
                    if pil_image is not None:
                        _emit_pil("display", "PNG", pil_image, original)
            elif "numpy.ndarray" in type_str and obj.ndim in [2, 3] and obj.size > 1:
                if _room_for_image():
                    _emit_array("display", "PNG", obj)
            elif type(obj).__name__ == "Figure" and hasattr(obj, "savefig"):
                if obj.get_axes() and _room_for_image():
                    raw, w, h, original = _save_figure(obj)
                    _emit("display", "PNG", raw, w, h, original)
            else:
                print(obj)
        except Exception as e:
            print(f"ERROR: Failed to display {type(obj).__name__}: {e}\n", file=sys.stderr)
            _image_failed("display", _image_size(obj), e)
