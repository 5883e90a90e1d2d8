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
